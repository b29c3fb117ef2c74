#!/bin/sh
# pg-roles.sh: applies httplat's schema and creates its least-privilege roles (run as a DB owner/superuser).
#
# Usage: scripts/pg-roles.sh [CONNINFO]     (default: libpq's PG* variables / ~/.pgpass)
# Env:   HTTPLAT_SCHEMA           httplat's schema (default httplat; as `httplat run --schema`)
#        HTTPLAT_WRITER_PASSWORD  password for httplat_writer (LOGIN; none set when empty)
#        HTTPLAT_READER_PASSWORD  password for httplat_reader (LOGIN; none set when empty)
#
# Everything lives in the schema: tables, partitions, functions. The schema files are applied
# as `httplat run` applies them (000_prepare.sql: the schema made, a table in the way refused,
# httplat's version-1 tables moved from public; then the migrations and functions.sql), in one
# transaction under the same advisory lock. Nothing else in the database is touched.
# httplat_writer: what `httplat run` needs and nothing more: USAGE on the schema; INSERT into
#   http_requests, alerts, httplat_health, httplat_batches; SELECT/INSERT/UPDATE of
#   http_requests_1m (rollup merge); SELECT of httplat_schema; calling the partition,
#   retention, re-roll and health-column functions (they run as the schema owner); TEMP tables.
# httplat_reader: USAGE on the schema and SELECT on its tables (for Grafana and people).
# Idempotent: safe to run again after an upgrade. Passwords are passed to psql as variables
# and never printed.
set -eu
here=$(dirname "$0")
conn=${1:-}
schema=${HTTPLAT_SCHEMA:-httplat}
case $schema in
pg_* | [!a-z_]* | *[!a-z0-9_]*)
	echo "pg-roles: invalid HTTPLAT_SCHEMA '$schema': want a lowercase name of letters, digits and _" >&2
	exit 2
	;;
esac
if [ ${#schema} -gt 63 ]; then
	echo "pg-roles: HTTPLAT_SCHEMA longer than 63 bytes" >&2
	exit 2
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
{
	echo "SELECT pg_advisory_xact_lock(hashtext('httplat schema $schema'));"
	for f in "$here"/../schema/[0-9][0-9][0-9]_*.sql "$here"/../schema/functions.sql; do
		sed "s/@schema@/$schema/g" "$f"
	done
} | psql -X -q -1 -v ON_ERROR_STOP=1 -f - ${conn:+"$conn"} >"$out" 2>&1 || status=$?
# httplat's own notices (a move from public) and errors; not "already exists, skipping"
sed -n '/NOTICE:.*skipping/d; s/^.*NOTICE:  httplat: /pg-roles: /p; /ERROR\|HINT\|FATAL\|DETAIL/p' "$out" >&2
if [ "$status" != 0 ]; then
	echo "pg-roles: schema $schema not applied: nothing was changed" >&2
	exit 1
fi
psql -X -q -v ON_ERROR_STOP=1 -v schema="$schema" \
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
GRANT USAGE ON SCHEMA :"schema" TO httplat_writer, httplat_reader;
GRANT SELECT ON :"schema".httplat_schema TO httplat_writer;
GRANT INSERT ON :"schema".http_requests, :"schema".alerts, :"schema".httplat_health,
	:"schema".httplat_batches TO httplat_writer;
GRANT SELECT, INSERT, UPDATE ON :"schema".http_requests_1m TO httplat_writer;
GRANT EXECUTE ON FUNCTION :"schema".httplat_ensure_partitions(date, integer),
	:"schema".httplat_retention(integer, integer),
	:"schema".httplat_reroll(text, timestamptz, timestamptz),
	:"schema".httplat_health_columns(text[]) TO httplat_writer;
GRANT SELECT ON :"schema".httplat_schema, :"schema".http_requests, :"schema".http_requests_1m,
	:"schema".alerts, :"schema".httplat_health, :"schema".httplat_batches TO httplat_reader;
SQL
echo "pg-roles: schema $schema applied; roles httplat_writer and httplat_reader ready" >&2
