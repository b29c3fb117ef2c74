#!/usr/bin/python3
"""test_bench.py: the benchmark's own parts behave: the in-app middlewares store every request
once with its real path and status, and bench.py turns a small accuracy run into a report."""
import json
import os
import socket
import subprocess
import tempfile

import harness
from harness import check, test

ROOT = harness.ROOT
WEIRD = "/items/a%09b%5Cc%0Ad"  # tab, backslash, newline once decoded: COPY must escape them


def traffic(port, n):
    """n requests on one keep-alive connection: n-1 to /items/<i>, then the weird path."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        for i in range(n):
            path = WEIRD if i == n - 1 else f"/items/{i}"
            s.sendall(harness.build_request("GET", path))
            harness.read_response(s)


def middleware_stores_everything(kind):
    pg = harness.Postgres()
    os.environ.update(HTTPLAT_BENCH_MW=kind, HTTPLAT_BENCH_PG=pg.conninfo)
    try:
        app = harness.Uvicorn(module="bench_app:app", loop="uvloop", http="httptools")
    finally:
        del os.environ["HTTPLAT_BENCH_MW"], os.environ["HTTPLAT_BENCH_PG"]
    traffic(app.port, 300)
    app.stop()  # SIGTERM: uvicorn shuts down, the batched writer flushes at exit
    check(app.proc.returncode == 0, f"uvicorn with the {kind} middleware exited with "
          f"{app.proc.returncode}")
    rows = pg.sql("SELECT count(*), count(DISTINCT path), sum((status = 200)::int),"
                  " min(duration_ms) > 0 FROM inapp_requests")
    check(rows == [["300", "300", "299", "t"]], f"{kind}: rows in inapp_requests: {rows}")
    weird = pg.sql("SELECT status, path = E'/items/a\\tb\\\\c\\nd' FROM inapp_requests"
                   " WHERE path LIKE '/items/a%'")
    check(weird == [["422", "t"]], f"{kind}: the escaped path came back as {weird}")
    pg.destroy()


@test
def batched_middleware_stores_every_request_at_exit():
    middleware_stores_everything("batched")


@test
def naive_middleware_stores_every_request():
    middleware_stores_everything("naive")


@test
def bench_quick_runs_every_part_of_the_harness():
    """bench.py --quick (a smoke run, its figures mean nothing): every section but ingest runs
    and reports; the minimal BPF programs and httplat really see the requests; the untraced
    work, the TLS app and the BPF statistics work; the sysctl is restored."""
    sysctl = "/proc/sys/kernel/bpf_stats_enabled"
    with open(sysctl) as f:
        stats_before = f.read()
    with tempfile.TemporaryDirectory() as d:
        out, raw = os.path.join(d, "B.md"), os.path.join(d, "r.json")
        r = subprocess.run([harness.PY, os.path.join(ROOT, "scripts", "bench", "bench.py"),
                            "--quick", "--sections", "overhead,accuracy,kernel,untraced,https",
                            "--note", "smoke run", "--out", out, "--raw", raw],
                           capture_output=True, text=True, timeout=600)
        check(r.returncode == 0, f"bench.py failed: {r.stderr[-2500:]}")
        with open(out) as f:
            md = f.read()
        with open(raw) as f:
            res = json.load(f)
    with open(sysctl) as f:
        check(f.read() == stats_before, "kernel.bpf_stats_enabled was not restored")
    check("**smoke run**" in md, "the --note line is missing")
    check("| uvloop | 200/200 | httplat vs client-observed |" in md,
          "report lacks the matched-request line:\n" + md[-1500:])
    check("## 2. Ingest ceiling\n\nNot measured in this run" in md,
          "skipped sections must say so")
    for cfg in ("trace", "min_socket", "min_syscall"):  # requests in flight at a wrk stop: +32
        for run in (x for x in res["overhead"] if x["cfg"] == cfg):
            check(run["served"] <= run["seen"] <= run["served"] + 96,
                  f"{cfg} saw {run['seen']} of {run['served']} requests")
    for name in ("app CPU added per request ≤ 1.0 µs", "BPF time per traced request",
                 "untraced syscalls, socket path: +0 ns within noise",
                 "untraced syscalls, fallback path: ≤ 80 ns",
                 "untraced socket operations, socket path: ≤ 30 ns",
                 "≥ 0.95 of bare TLS throughput"):
        line = next((ln for ln in md.splitlines() if name in ln), "")
        verdict = line.rsplit("|", 2)[-2] if line else ""
        check("**met**" in verdict or "**not met**" in verdict or "this build traced" in verdict,
              f"aim {name!r} not judged: {line!r}")
    untraced = {x["cfg"] for x in res["untraced"]}
    check(untraced == {"none", "none_again", "socket", "syscall", "min_socket", "min_syscall"},
          f"untraced configurations run: {sorted(untraced)}")
    check(all(x["echo"]["ops"] >= 4 * x["echo"]["round_trips"] and x["dd"]["cpu_ns"] > 0
              for x in res["untraced"]), "echo pair or dd numbers missing")
    check(res["https"]["runs"] and all(x["sat"]["requests"] > 0 and not x["sat"]["errors"]
                                       for x in res["https"]["runs"]),
          "wrk could not talk to the TLS app")
    progs = {k.split("#")[0] for x in res["kernel"]["bpf"] for k in x["targeted"]}
    check({"httplat_sock_recv", "min_sock_send"} <= progs, f"BPF statistics of {progs}")


if __name__ == "__main__":
    raise SystemExit(harness.run_tests())
