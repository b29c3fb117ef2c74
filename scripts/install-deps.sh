#!/bin/sh
# install-deps.sh: installs the Debian 12 packages httplat builds, tests and demos with (only the missing ones).
set -eu
PKGS="make gcc clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev pkg-config libpq-dev
libcurl4-openssl-dev libjansson-dev libinih-dev libncurses-dev postgresql postgresql-client
python3-uvicorn python3-fastapi python3-uvloop python3-httptools python3-yaml gunicorn wrk tmux
procps iproute2 curl"
# docker-compose: validates deploy/docker-compose.yml in tests (no Docker engine needed)
PKGS="$PKGS docker-compose"
# python3-psycopg2: the in-app middlewares that `make bench` compares httplat with
PKGS="$PKGS python3-psycopg2"
# libclang-rt-14-dev: libFuzzer and clang's ASan/UBSan runtimes (make fuzz, make test's fuzz runs)
PKGS="$PKGS libclang-rt-14-dev"
# node + npm: deploy/grafana's dashboard generator (`make grafana`, checked by `make test`).
# A Node.js that is already there (e.g. NodeSource's nodejs, which bundles npm and conflicts
# with Debian's npm) is kept; otherwise Debian 12's nodejs 18 and npm 9.
if ! command -v npm >/dev/null 2>&1; then
	PKGS="$PKGS nodejs npm"
fi
# qemu-system-x86, busybox-static: the test VM on Debian's kernels (make test-kernels, tests/vm/)
PKGS="$PKGS qemu-system-x86 busybox-static"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "install-deps: missing packages:$missing (run as root to install them)" >&2
		exit 1
	fi
	echo "install-deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 $missing >/dev/null
fi
# libbpf attaches tracepoints through tracefs
if [ ! -d /sys/kernel/tracing/events ] && [ "$(id -u)" = 0 ]; then
	mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
fi
