#!/bin/bash
# demo.sh: the body of `make demo`: a throwaway PostgreSQL, the demo app, traffic, `httplat run`, `httplat top`.
#
# Everything it starts runs in its own session, is recorded in $DEMO_DIR/pids and is stopped
# by PID on exit (q in top, Ctrl-C, an error, or the end of DEMO_SECONDS). The data stays in
# $DEMO_DIR; the last lines say how to query it.
#
# Env: DEMO_SECONDS  run this long without the full-screen view (plain `top --batch` output);
#                    default: interactive `httplat top` on a terminal, else 20 seconds
#      DEMO_RATE     requests per second of the traffic generator (default 20)
#      DEMO_DIR      where everything goes (default: a new /var/tmp/httplat-demo.XXXXXX)
#      DEMO_KEEP=0   delete DEMO_DIR (the database) on exit
#      HTTPLAT_SLACK_WEBHOOK  a real Slack webhook; unset: a local stand-in records the messages
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
HTTPLAT=$ROOT/httplat
PY=/usr/bin/python3
PG_BIN=/usr/lib/postgresql/15/bin
RATE=${DEMO_RATE:-20}

say() { printf 'demo: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (loading eBPF programs needs it): sudo make demo"
[ -x "$HTTPLAT" ] || die "$HTTPLAT is not built: run make"
[ -x "$PG_BIN/initdb" ] || die "PostgreSQL 15 server missing: run scripts/install-deps.sh"

DIR=${DEMO_DIR:-$(mktemp -d /var/tmp/httplat-demo.XXXXXX)}
mkdir -p "$DIR"
chmod 0755 "$DIR"
: >"$DIR/pids"

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start NAME CMD...: runs CMD in a new session (its own process group), logs to $DIR/NAME.log.
start() {
	local name=$1
	shift
	setsid "$@" >"$DIR/$name.log" 2>&1 </dev/null &
	echo "$! $name" >>"$DIR/pids"
}

pid_of() { awk -v n="$1" '$2 == n { print $1 }' "$DIR/pids"; }

# stop NAME SIGNAL SECONDS: signals NAME's process group, waits, then kills what is left.
stop() {
	local name=$1 sig=$2 secs=$3 pid
	pid=$(pid_of "$name")
	[ -n "$pid" ] || return 0
	kill -"$sig" -- "-$pid" 2>/dev/null || return 0
	for _ in $(seq $((secs * 10))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		say "$name did not stop within ${secs}s; killing it"
		kill -KILL -- "-$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	# the rest of its process group (uvicorn workers, ...) goes too
	kill -KILL -- "-$pid" 2>/dev/null || true
}

# wait_gone PID SECONDS: until PID has exited (a zombie awaiting its parent counts as exited).
wait_gone() {
	for _ in $(seq $(($2 * 10))); do
		case $(ps -o stat= -p "$1" 2>/dev/null) in '' | Z*) return 0 ;; esac
		sleep 0.1
	done
	say "process $1 still running"
}

wait_for() { # wait_for SECONDS PID DESCRIPTION CMD...: until CMD succeeds or PID dies
	local secs=$1 pid=$2 what=$3
	shift 3
	for _ in $(seq $((secs * 10))); do
		"$@" >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || die "$what exited early; see $DIR/*.log"
		sleep 0.1
	done
	die "$what not ready after ${secs}s; see $DIR/*.log"
}

PG_PORT=$(free_port)
CONN="host=$DIR port=$PG_PORT user=postgres dbname=httplat"
pg() { runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$DIR/pg" "$@"; }
psql_demo() { psql -X -q -v ON_ERROR_STOP=1 "$CONN" "$@"; }

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	stop traffic TERM 10
	stop httplat-run INT 30 # flushes queued rows to PostgreSQL first
	if [ -f "$DIR/pg/postmaster.pid" ]; then
		summary
	fi
	stop app TERM 10
	stop slack TERM 5
	if [ -f "$DIR/pg/postmaster.pid" ]; then
		pg stop -m fast -t 30 >/dev/null 2>&1 || say "PostgreSQL did not stop cleanly"
		# pg_ctl returns once the pid file is gone; the postmaster exits just after
		wait_gone "$(pid_of postgres)" 10
	fi
	say "stopped everything it started (pids in $DIR/pids)"
	if [ "${DEMO_KEEP:-1}" = 0 ]; then
		rm -rf "$DIR"
		say "removed $DIR"
	elif [ -d "$DIR/pg" ]; then
		where
	fi
	exit "$rc"
}

summary() {
	local rows
	echo
	rows=$(psql_demo -At -c "SELECT count(*) FROM httplat.http_requests" 2>/dev/null || echo 0)
	say "$rows requests stored in PostgreSQL (table httplat.http_requests)"
	psql_demo -P footer=off -c "
		SELECT api, count(*) AS requests,
		       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms)::numeric, 1) AS p50_ms,
		       round(percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms)::numeric, 1) AS p95_ms,
		       count(*) FILTER (WHERE status >= 500) AS \"5xx\",
		       count(*) FILTER (WHERE status = 0) AS no_response
		FROM httplat.http_requests GROUP BY api ORDER BY api" 2>/dev/null || true
	psql_demo -P footer=off -c "
		SELECT to_char(ts, 'HH24:MI:SS') AS time, rule, api, route, severity, state,
		       round(value::numeric, 1) AS value, delivered
		FROM httplat.alerts ORDER BY ts LIMIT 20" 2>/dev/null || true
	if [ -n "${SLACK_LOG:-}" ]; then
		local n
		n=$(wc -l <"$SLACK_LOG" 2>/dev/null || echo 0)
		say "$n message(s) reached the Slack stand-in ($SLACK_LOG):"
		"$PY" -c 'import json, sys
for line in list(open(sys.argv[1]))[:10]:
    print("  " + json.loads(line)["payload"]["text"].replace("\n", " ")[:150])' "$SLACK_LOG" 2>/dev/null || true
	fi
}

where() {
	cat >&2 <<EOF

demo: the data is in $DIR/pg (PostgreSQL 15, database httplat). To query it again:
  runuser -u postgres -- $PG_BIN/pg_ctl -D $DIR/pg -l $DIR/pg.log \\
      -o "-p $PG_PORT -c listen_addresses= -c unix_socket_directories=$DIR" start
  psql "$CONN" -c 'SELECT api, route, status, count(*), avg(duration_ms) FROM httplat.http_requests GROUP BY 1, 2, 3 ORDER BY 1, 2, 3'
  psql "$CONN" -c 'SELECT minute, api, httplat.httplat_quantile(httplat.httplat_hist_sum(hist), 0.95) AS p95 FROM httplat.http_requests_1m GROUP BY 1, 2 ORDER BY 1, 2'
  runuser -u postgres -- $PG_BIN/pg_ctl -D $DIR/pg stop     # when done; then: rm -rf $DIR
Logs: $DIR/*.log. Grafana: point deploy/grafana at this database (docs/deploy.md).
EOF
}

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "working directory $DIR"
chown postgres:postgres "$DIR"
runuser -u postgres -- "$PG_BIN/initdb" -D "$DIR/pg" -U postgres --auth=trust -E UTF8 \
	--locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 || die "initdb failed: see $DIR/initdb.log"
pg -l "$DIR/pg.log" -w -t 60 \
	-o "-p $PG_PORT -c listen_addresses= -c unix_socket_directories=$DIR" start >/dev/null ||
	die "PostgreSQL did not start: see $DIR/pg.log"
echo "$(head -1 "$DIR/pg/postmaster.pid") postgres" >>"$DIR/pids"
psql -X -q -c "CREATE DATABASE httplat" "host=$DIR port=$PG_PORT user=postgres dbname=postgres"
say "PostgreSQL on $DIR/.s.PGSQL.$PG_PORT (unix socket only), database httplat"

SLACK_LOG=
if [ -n "${HTTPLAT_SLACK_WEBHOOK:-}" ]; then
	say "Slack: using HTTPLAT_SLACK_WEBHOOK"
else
	SLACK_LOG=$DIR/slack.jsonl
	: >"$SLACK_LOG"
	start slack "$PY" "$ROOT/scripts/demo_slack.py" --log "$SLACK_LOG" --url-file "$DIR/slack.url"
	wait_for 10 "$(pid_of slack)" "Slack stand-in" test -s "$DIR/slack.url"
	HTTPLAT_SLACK_WEBHOOK=$(cat "$DIR/slack.url")
	export HTTPLAT_SLACK_WEBHOOK
	say "Slack: no HTTPLAT_SLACK_WEBHOOK, messages go to a local stand-in ($SLACK_LOG)"
fi

APP_PORT=$(free_port)
start app env -C "$ROOT/tests/apps" "$PY" -m uvicorn app:app --host 127.0.0.1 \
	--port "$APP_PORT" --no-access-log --log-level warning
APP_PID=$(pid_of app)
wait_for 30 "$APP_PID" "demo app" "$PY" -c "import socket, sys
socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1)" "$APP_PORT"
say "demo app (data, model, user APIs) on http://127.0.0.1:$APP_PORT, uvicorn pid $APP_PID"

start httplat-run "$HTTPLAT" run --db "$CONN" --pid "$APP_PID" --spool-dir "$DIR/spool" \
	--stats-interval 10
wait_for 30 "$(pid_of httplat-run)" "httplat run" grep -q tracing "$DIR/httplat-run.log"
say "httplat run is tracing pid $APP_PID and writing to PostgreSQL (log $DIR/httplat-run.log)"

start traffic "$PY" "$ROOT/scripts/traffic.py" --url "http://127.0.0.1:$APP_PORT" --rate "$RATE"
say "traffic: $RATE requests/s over the three APIs (slow model generation, 4xx, 500, 502, 503, 301)"

if ! "$HTTPLAT" top --help >/dev/null 2>&1; then
	secs=${DEMO_SECONDS:-20}
	say "this build has no 'httplat top'; collecting for $secs s"
	sleep "$secs"
elif [ -z "${DEMO_SECONDS:-}" ] && [ -t 0 ] && [ -t 1 ]; then
	say "starting httplat top: press q to quit (t: per route, h: help)"
	sleep 2
	"$HTTPLAT" top --pid "$APP_PID" || true
else
	secs=${DEMO_SECONDS:-20}
	case $secs in '' | *[!0-9]*) die "DEMO_SECONDS must be a whole number of seconds" ;; esac
	say "running for $secs s (httplat top --batch every 5 s)"
	timeout -s INT "$secs" "$HTTPLAT" top --batch -d 5 --pid "$APP_PID" || true
fi
