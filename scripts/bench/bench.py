#!/usr/bin/python3
"""bench.py: runs httplat's benchmarks and writes BENCHMARKS.md (the body of `make bench`).

Sections: overhead (A B A B rounds against bare and in-app middlewares), ingest
ceiling (httplat bench-ingest), accuracy (known sleeps) and kernel-side cost
(BPF run-time statistics, untargeted processes). Raw data goes to
build/bench/results.json; `--report-only` re-renders BENCHMARKS.md from it.
"""
import argparse
import json
import os
import sys
import time

import lib

SECTIONS = ["overhead", "ingest", "accuracy", "kernel"]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sections", default=",".join(SECTIONS),
                   help="comma-separated subset of " + ",".join(SECTIONS))
    p.add_argument("--rounds", type=int, default=5, help="A B A B rounds (default 5)")
    p.add_argument("--duration", type=int, default=6, help="seconds per saturation run")
    p.add_argument("--duration-c1", type=int, default=3, help="seconds per 1-connection run")
    p.add_argument("--warmup", type=int, default=1, help="seconds of wrk before measuring")
    p.add_argument("--loops", default="uvloop,asyncio", help="uvloop and/or asyncio")
    p.add_argument("--configs", default="bare,httplat,trace,batched,naive",
                   help="overhead configurations")
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
    p.add_argument("--no-pin", action="store_true",
                   help="let the scheduler place the app and wrk (default: app CPU 0, wrk CPU 1)")
    p.add_argument("--out", default=os.path.join(lib.ROOT, "BENCHMARKS.md"))
    p.add_argument("--raw", default=os.path.join(lib.ROOT, "build", "bench", "results.json"))
    p.add_argument("--report-only", action="store_true", help="re-render from --raw")
    opts = p.parse_args()
    opts.sections = opts.sections.split(",")
    opts.loops = opts.loops.split(",")
    opts.configs = opts.configs.split(",")
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
