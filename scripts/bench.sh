#!/bin/sh
# bench.sh: the body of `make bench`: overhead, ingest, accuracy, kernel cost -> BENCHMARKS.md.
# Arguments go to scripts/bench/bench.py (--help lists them), e.g. `scripts/bench.sh --rounds 3`;
# BENCH_ARGS does the same through make: `make bench BENCH_ARGS="--sections accuracy"`.
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "bench: run as root (BPF programs, bpf_stats sysctl, PostgreSQL as user postgres)" >&2
	exit 1
fi
scripts/install-deps.sh
for tool in wrk bpftool dd psql; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 1; }
done
/usr/bin/python3 -c 'import psycopg2' 2>/dev/null || {
	echo "bench: python3-psycopg2 is missing (scripts/install-deps.sh installs it)" >&2
	exit 1
}
# shellcheck disable=SC2086
exec /usr/bin/python3 scripts/bench/bench.py ${BENCH_ARGS:-} "$@"
