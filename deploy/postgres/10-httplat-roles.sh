#!/bin/sh
# 10-httplat-roles.sh: creates Grafana's read-only role in the httplat database.
# Run once by the postgres image (/docker-entrypoint-initdb.d) or by hand with PG* variables set:
#   POSTGRES_USER=httplat POSTGRES_DB=httplat HTTPLAT_GRAFANA_USER=httplat_grafana \
#   HTTPLAT_GRAFANA_PASSWORD=... sh deploy/postgres/10-httplat-roles.sh
# The owner (POSTGRES_USER) is the role `httplat run` writes as: it creates the tables, and the
# default privileges below give the reader SELECT on each of them, partitions included.
set -eu
: "${POSTGRES_USER:?owner role}" "${POSTGRES_DB:?database}"
: "${HTTPLAT_GRAFANA_USER:?read-only role name}" "${HTTPLAT_GRAFANA_PASSWORD:?its password}"

psql -X -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" \
	-v owner="$POSTGRES_USER" -v db="$POSTGRES_DB" \
	-v reader="$HTTPLAT_GRAFANA_USER" -v reader_pw="$HTTPLAT_GRAFANA_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'reader')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'reader') \gexec
ALTER ROLE :"reader" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'reader_pw';
-- Dashboards scan at most a day of rows per panel; a runaway query is cut after 30 s.
ALTER ROLE :"reader" SET statement_timeout = '30s';
ALTER ROLE :"reader" SET default_transaction_read_only = on;
GRANT CONNECT ON DATABASE :"db" TO :"reader";
GRANT USAGE ON SCHEMA public TO :"reader";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"reader";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT ON TABLES TO :"reader";
SQL
