#!/usr/bin/python3
"""test_bench.py: the benchmark's own parts behave: the in-app middlewares store every request
once with its real path and status, and bench.py turns a small accuracy run into a report."""
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
def bench_reports_a_small_accuracy_run():
    with tempfile.TemporaryDirectory() as d:
        out, raw = os.path.join(d, "B.md"), os.path.join(d, "r.json")
        r = subprocess.run([harness.PY, os.path.join(ROOT, "scripts", "bench", "bench.py"),
                            "--sections", "accuracy", "--loops", "uvloop", "--requests", "200",
                            "--quiet-wait", "0", "--out", out, "--raw", raw],
                           capture_output=True, text=True, timeout=300)
        check(r.returncode == 0, f"bench.py failed: {r.stderr[-1500:]}")
        with open(out) as f:
            md = f.read()
    check("| uvloop | 200/200 | httplat vs client-observed |" in md,
          "report lacks the matched-request line:\n" + md[-1500:])
    check("## 1. Overhead at saturation\n\nNot measured in this run" in md,
          "skipped sections must say so")


if __name__ == "__main__":
    raise SystemExit(harness.run_tests())
