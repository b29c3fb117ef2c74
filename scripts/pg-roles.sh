#!/bin/sh
# pg-roles.sh: applies httplat's schema and creates its least-privilege roles (run as a DB owner/superuser).
#
# Usage: scripts/pg-roles.sh [CONNINFO]     (default: libpq's PG* variables / ~/.pgpass)
# Env:   HTTPLAT_WRITER_PASSWORD  password for httplat_writer (LOGIN; none set when empty)
#        HTTPLAT_READER_PASSWORD  password for httplat_reader (LOGIN; none set when empty)
#
# httplat_writer: what `httplat run` needs and nothing more: INSERT into http_requests, alerts,
#   httplat_health, httplat_batches; INSERT/UPDATE of http_requests_1m (rollup merge); calling
#   the partition/retention/re-roll functions (they run as the schema owner); TEMP tables.
# httplat_reader: SELECT on every httplat table (for Grafana and people).
# Idempotent: safe to run again after an upgrade. Passwords are passed to psql as variables
# and never printed.
set -eu
here=$(dirname "$0")
conn=${1:-}
for f in "$here"/../schema/[0-9]*.sql; do
	psql -X -q -v ON_ERROR_STOP=1 -f "$f" ${conn:+"$conn"} 2>&1 | grep -v 'NOTICE:.*skipping' >&2 || true
done
psql -X -q -v ON_ERROR_STOP=1 \
	-v writer_pw="${HTTPLAT_WRITER_PASSWORD:-}" -v reader_pw="${HTTPLAT_READER_PASSWORD:-}" \
	${conn:+"$conn"} <<'SQL'
SELECT 'CREATE ROLE httplat_writer LOGIN'
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'httplat_writer') \gexec
SELECT 'CREATE ROLE httplat_reader LOGIN'
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'httplat_reader') \gexec
SELECT format('ALTER ROLE httplat_writer PASSWORD %L', :'writer_pw') WHERE :'writer_pw' <> '' \gexec
SELECT format('ALTER ROLE httplat_reader PASSWORD %L', :'reader_pw') WHERE :'reader_pw' <> '' \gexec
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO httplat_writer', current_database()) \gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO httplat_reader', current_database()) \gexec
SELECT format('GRANT USAGE ON SCHEMA %I TO httplat_writer, httplat_reader', current_schema()) \gexec
GRANT SELECT ON httplat_schema TO httplat_writer;
GRANT INSERT ON http_requests, alerts, httplat_health, httplat_batches TO httplat_writer;
GRANT SELECT, INSERT, UPDATE ON http_requests_1m TO httplat_writer;
GRANT EXECUTE ON FUNCTION httplat_ensure_partitions(date, integer),
	httplat_retention(integer, integer),
	httplat_reroll(text, timestamptz, timestamptz) TO httplat_writer;
GRANT SELECT ON httplat_schema, http_requests, http_requests_1m, alerts, httplat_health,
	httplat_batches TO httplat_reader;
SQL
echo "pg-roles: schema applied; roles httplat_writer and httplat_reader ready" >&2
