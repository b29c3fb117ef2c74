"""accuracy.py: httplat's duration against the client's observed latency and the known sleep.

Clients on keep-alive connections ask for /sleep/<seq>?ms=<known> (asyncio.sleep
in the app), timing each request from send to the last response byte, while
`httplat trace --json --pid P` prints one object per request. Requests are
matched by their unique path.
"""
import random
import socket
import threading
import time

import lib

SLEEPS_MS = [0, 1, 2, 5, 10, 20, 50]
CLIENTS = 4


def client(port, jobs, out):
    """Sends each (seq, ms) of jobs in turn on one keep-alive connection; records (seq, ms, s)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for seq, ms in jobs:
            req = lib.harness.build_request("GET", f"/sleep/{seq}?ms={ms}")
            t0 = time.perf_counter()
            s.sendall(req)
            status, _, rest = lib.harness.read_response(s)
            dt = time.perf_counter() - t0
            if status != 200 or rest:
                raise RuntimeError(f"unexpected response {status} to /sleep/{seq}")
            out.append((seq, ms, dt * 1000.0))


def drive(port, n, seed):
    rng = random.Random(seed)
    jobs = [(i, rng.choice(SLEEPS_MS)) for i in range(n)]
    outs = [[] for _ in range(CLIENTS)]
    threads = [threading.Thread(target=client, args=(port, jobs[i::CLIENTS], outs[i]))
               for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [r for o in outs for r in o]


def errors(pairs):
    """Median and p99 of |a - b|, and the median signed difference, over (a, b) pairs."""
    d = [a - b for a, b in pairs]
    absd = [abs(x) for x in d]
    return {"median_abs": lib.median(absd), "p99_abs": lib.percentile(absd, 99),
            "median_signed": lib.median(d), "n": len(d)}


def measure(loop, http, opts, seed):
    opts.quiet.wait()
    app = lib.uvicorn(loop, http)
    tracer = lib.httplat("trace", "--json", "--pid", str(app.proc.pid))
    try:
        lib.wrk(app.port, "/items/1", 1, connections=4)  # warm up the app and the tracer
        sent = drive(app.port, opts.requests, seed)
        tracer.stop()
        seen = {}
        for obj in tracer.json_lines():
            path = obj.get("path", "")
            if path.startswith("/sleep/"):
                seen.setdefault(int(path.split("/")[2]), []).append(obj)
    finally:
        lib.stop(tracer)
        lib.stop(app)
    matched = [(ms, client_ms, seen[seq][0]["duration_ms"])
               for seq, ms, client_ms in sent if len(seen.get(seq, [])) == 1]
    per_sleep = {}
    for ms, client_ms, dur in matched:
        per_sleep.setdefault(ms, []).append((client_ms, dur))
    return {
        "loop": loop, "sent": len(sent), "matched": len(matched),
        "duplicates": sum(1 for v in seen.values() if len(v) > 1),
        "vs_client": errors([(c, d) for _, c, d in matched]),
        "vs_sleep": errors([(d, ms) for ms, _, d in matched]),
        "client_vs_sleep": errors([(c, ms) for ms, c, _ in matched]),
        "per_sleep": {ms: {"client_ms": lib.median([c for c, _ in v]),
                           "httplat_ms": lib.median([d for _, d in v]), "n": len(v)}
                      for ms, v in sorted(per_sleep.items())},
    }


def run(pg, opts, results):
    del pg  # httplat trace needs no database
    out = results.setdefault("accuracy", [])
    for i, (loop, http) in enumerate(lib.LOOPS):
        if loop not in opts.loops:
            continue
        lib.log(f"accuracy {loop}+{http}: {opts.requests} requests")
        r = measure(loop, http, opts, seed=i)
        out.append(r)
        lib.log(f"  matched {r['matched']}/{r['sent']}, vs client {r['vs_client']}, "
                f"vs sleep {r['vs_sleep']}")
