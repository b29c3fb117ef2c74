#!/bin/sh
# 10-httplat-roles.sh: first-start init of the Compose PostgreSQL: httplat schema + least-privilege roles.
# The postgres image runs it once, from /docker-entrypoint-initdb.d, against an empty database.
# It applies scripts/pg-roles.sh (schema/*.sql, roles httplat_writer for the agent and
# httplat_reader for Grafana) and then locks the reader down further. By hand:
#   POSTGRES_USER=postgres POSTGRES_DB=httplat HTTPLAT_HOME=. HTTPLAT_WRITER_PASSWORD=... \
#   HTTPLAT_READER_PASSWORD=... sh deploy/postgres/10-httplat-roles.sh
set -eu
: "${POSTGRES_USER:?superuser/owner role}" "${POSTGRES_DB:?database}"
: "${HTTPLAT_WRITER_PASSWORD:?password of httplat_writer (the agent)}"
: "${HTTPLAT_READER_PASSWORD:?password of httplat_reader (Grafana)}"
home=${HTTPLAT_HOME:-/httplat}
conn="user=$POSTGRES_USER dbname=$POSTGRES_DB"

sh "$home/scripts/pg-roles.sh" "$conn"
psql -X -q -v ON_ERROR_STOP=1 "$conn" <<'SQL'
-- Grafana only reads; a runaway dashboard query is cut after 30 s.
ALTER ROLE httplat_reader SET default_transaction_read_only = on;
ALTER ROLE httplat_reader SET statement_timeout = '30s';
SQL
echo "10-httplat-roles: httplat schema and roles ready in $POSTGRES_DB" >&2
