#!/usr/bin/python3
"""bench.py: runs httplat's benchmarks and writes BENCHMARKS.md (the body of `make bench`).

Sections: overhead (A B A B rounds against bare, in-app middlewares and minimal
BPF programs), ingest ceiling (httplat bench-ingest), accuracy (known sleeps),
kernel-side cost (BPF run-time statistics per program), the cost for processes
httplat does not trace (dd, an echo pair, an untraced app), and HTTPS served by
uvicorn. Raw data goes to build/bench/results.json; `--report-only` re-renders
BENCHMARKS.md from it.
"""
import argparse
import json
import os
import sys
import time

import lib

SECTIONS = ["overhead", "ingest", "accuracy", "kernel", "untraced", "https"]
# --quick: a smoke run of every part of the harness in about a minute (tests/e2e/test_bench.py)
QUICK = {"rounds": 1, "duration": 1, "duration_c1": 1, "warmup": 1, "loops": "uvloop",
         "configs": "bare,trace,min_socket,min_syscall", "c1_configs": "bare,trace",
         "requests": 200, "ingest_rows": 20000, "kernel_duration": 1,
         "kernel_tracers": "trace,min_socket", "dd_count": 100_000, "echo_round_trips": 10_000,
         "untraced_app": 1, "https_rounds": 1, "https_configs": "bare,trace", "quiet_wait": 0}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sections", default=",".join(SECTIONS),
                   help="comma-separated subset of " + ",".join(SECTIONS))
    p.add_argument("--rounds", type=int, default=5, help="A B A B rounds (default 5)")
    p.add_argument("--duration", type=int, default=4, help="seconds per saturation run")
    p.add_argument("--duration-c1", type=int, default=2, help="seconds per 1-connection run")
    p.add_argument("--warmup", type=int, default=1, help="seconds of wrk before measuring")
    p.add_argument("--loops", default="uvloop,asyncio", help="uvloop and/or asyncio")
    p.add_argument("--configs",
                   default="bare,httplat,trace,trace_syscall,min_socket,min_syscall,batched",
                   help="overhead configurations (also: naive, the INSERT-per-request middleware)")
    p.add_argument("--c1-configs", default="bare,httplat,trace,batched,naive",
                   help="overhead configurations that also get a one-connection (-c1) run")
    p.add_argument("--requests", type=int, default=3000, help="accuracy: requests per loop")
    p.add_argument("--ingest-rows", type=int, default=2_000_000, help="rows per bench-ingest run")
    p.add_argument("--run-args", default="run --db {db} --pid {pid} --spool-dir {spool}",
                   help="httplat arguments for the traced configuration ({db} {pid} {port} "
                   "{spool}: a directory in the benchmark's temp dir)")
    p.add_argument("--httplat-table", default="httplat.http_requests",
                   help="table `httplat run` writes requests to (rows are counted)")
    p.add_argument("--quiet-wait", type=int, default=10,
                   help="seconds to wait before each run for other tracers (other httplat "
                   "instances) to unload; runs they disturb are counted in the report")
    p.add_argument("--quiet-budget", type=int, default=300,
                   help="seconds of such waiting over the whole benchmark at most")
    p.add_argument("--kernel-duration", type=int, default=4,
                   help="kernel: seconds of wrk per tracer with BPF statistics on")
    p.add_argument("--kernel-tracers", default="trace,trace_syscall,min_socket,min_syscall",
                   help="kernel: tracers whose BPF run time is measured")
    p.add_argument("--untraced-configs", default="socket,syscall,min_socket,min_syscall",
                   help="untraced: what is loaded besides nothing (socket/syscall: httplat "
                   "trace --hooks ...; min_*: the minimal programs)")
    p.add_argument("--dd-count", type=int, default=2_000_000,
                   help="untraced: dd bs=1 count (two syscalls each)")
    p.add_argument("--echo-round-trips", type=int, default=200_000,
                   help="untraced: round trips of the echo pair (four socket calls each)")
    p.add_argument("--untraced-app", type=int, default=2,
                   help="untraced: seconds of wrk on an untraced uvicorn (0: skip)")
    p.add_argument("--https-rounds", type=int, default=2, help="https: rounds")
    p.add_argument("--https-configs", default="bare,trace,httplat",
                   help="https: configurations (bare, trace, httplat = httplat run)")
    p.add_argument("--quick", action="store_true",
                   help="a short smoke run of every section (1 round, 1 s runs, uvloop only); "
                   "its figures mean nothing")
    p.add_argument("--no-pin", action="store_true",
                   help="let the scheduler place the app and wrk (default: app CPU 0, wrk CPU 1)")
    p.add_argument("--note", default="",
                   help="a line printed in bold under the title, e.g. that the machine was "
                   "shared while this run was taken")
    p.add_argument("--out", default=os.path.join(lib.ROOT, "BENCHMARKS.md"))
    p.add_argument("--raw", default=os.path.join(lib.ROOT, "build", "bench", "results.json"))
    p.add_argument("--report-only", action="store_true", help="re-render from --raw")
    opts = p.parse_args()
    if opts.quick:  # only what was not given on the command line
        given = {a.split("=")[0].lstrip("-").replace("-", "_") for a in sys.argv[1:]}
        for k, v in QUICK.items():
            if k not in given:
                setattr(opts, k, v)
    opts.sections = opts.sections.split(",")
    for name in opts.sections:
        if name not in SECTIONS:
            p.error(f"unknown section {name!r} (known: {', '.join(SECTIONS)})")
    opts.kernel_tracers = opts.kernel_tracers.split(",")
    opts.untraced_configs = opts.untraced_configs.split(",")
    opts.https_configs = opts.https_configs.split(",")
    opts.loops = opts.loops.split(",")
    opts.configs = opts.configs.split(",")
    opts.c1_configs = opts.c1_configs.split(",")
    opts.run_args = opts.run_args.split()
    lib.PIN = not opts.no_pin
    opts.quiet = lib.Quiet(opts.quiet_wait, opts.quiet_budget)
    return opts


def save(opts, results):
    os.makedirs(os.path.dirname(opts.raw), exist_ok=True)
    with open(opts.raw + ".tmp", "w") as f:
        json.dump(results, f, indent=1)
    os.replace(opts.raw + ".tmp", opts.raw)


def main():
    opts = parse_args()
    import report  # noqa: E402  (only needed once there are results)

    if opts.report_only:
        with open(opts.raw) as f:
            results = json.load(f)
        report.write(opts.out, results)
        return 0
    if os.geteuid() != 0:
        print("bench: needs root (BPF, sysctl, PostgreSQL as the postgres user)", file=sys.stderr)
        return 1
    results = {"machine": lib.machine_info(), "started": time.time(),
               "opts": {k: v for k, v in vars(opts).items() if k != "quiet"},
               "load_start": lib.loadavg(), "errors": {}}
    try:
        lib.build_tools()
        pg = lib.harness.Postgres()
        for name in opts.sections:
            mod = __import__(name)
            lib.log(f"== {name}")
            try:
                mod.run(pg, opts, results)
            except Exception as e:  # one section failing must not lose the others
                lib.log(f"{name} failed: {e!r}")
                results["errors"][name] = repr(e)[:2000]
            save(opts, results)
    finally:
        lib.cleanup_all()
    results["finished"] = time.time()
    results["load_end"] = lib.loadavg()
    save(opts, results)
    report.write(opts.out, results)
    lib.log(f"wrote {opts.out} and {opts.raw}")
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
