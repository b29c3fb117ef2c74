#!/usr/bin/python3
"""test_trace.py: `httplat trace --json` against real uvicorn servers in four configurations.

Each test drives a known mix of requests (keep-alive, pipelined, split headers, large
upload, streaming and multi-write responses, HTTP/1.0, HEAD, client gone, garbage) and
checks that every request is captured exactly once with the right method, path and
status, and a duration consistent with what the client saw.
"""
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (SLOWDOWN, Httplat, Uvicorn, build_request, check, http,  # noqa: E402
                     read_response, recv_all, run_tests, test)

# kernel duration may not exceed the client's by more than this: the end is stamped after the
# send returned, and the client may finish first if the server is descheduled in between (ms
# under emulation, hence the slowdown factor)
MARGIN_MS = 2.0 * SLOWDOWN
CLIENT_GAP_MS = 10 * SLOWDOWN  # ...or, if the app ran late, within this of the client's time
# (the client's own overhead: more on a slow host)
SLEEP_SLACK_MS = 25  # slow endpoints: within this above the known sleep (2 ms below: uvloop timers
# have 1 ms resolution and may fire early)

_ids = iter(range(1, 10**9))


def uid():
    return next(_ids)


class Expect:
    """One request the client made and what it saw."""

    def __init__(self, method, path, query, status, client_s, sleep_ms=None, answered=True,
                 version="1.1"):
        self.method, self.path, self.query, self.status = method, path, query, status
        self.client_ms = client_s * 1000.0
        self.sleep_ms = sleep_ms
        self.answered = answered
        self.version = version


def one(port, method, path, query="", body=b"", status=None, sleep_ms=None, version="1.1"):
    target = path + ("?" + query if query else "")
    st, _, dt = http(port, method, target, body=body, version=version)
    if status is not None:
        check(st == status, f"{method} {target}: server answered {st}, test expected {status}")
    return Expect(method, path, query, st, dt, sleep_ms, version=version)


def keepalive(port, n=5):
    res = []
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        for _ in range(n):
            i = uid()
            t0 = time.monotonic()
            s.sendall(build_request("GET", f"/data/items/{i}"))
            st, _, rest = read_response(s)
            res.append(Expect("GET", f"/data/items/{i}", "", st, time.monotonic() - t0))
            check(rest == b"", "keep-alive: unexpected extra bytes")
    return res


def pipelined(port, n=3):
    ids = [uid() for _ in range(n)]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        t0 = time.monotonic()
        s.sendall(b"".join(build_request("GET", f"/user/profile/{i}") for i in ids))
        got, buf = [], b""
        for _ in ids:
            s_, body, buf = _read_response_buffered(s, buf)
            got.append(s_)
        dt = time.monotonic() - t0
    return [Expect("GET", f"/user/profile/{i}", "", st, dt) for i, st in zip(ids, got)]


def _read_response_buffered(s, buf):
    """Like harness.read_response, but starting from bytes already received."""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise RuntimeError("closed in headers")
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ")[1])
    n = 0
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v)
    while len(rest) < n:
        rest += s.recv(65536)
    return status, rest[:n], rest[n:]


def split_headers(port):
    i = uid()
    req = build_request("GET", f"/data/items/{i}", headers={"X-Padding": "p" * 300})
    cuts = [10, 40, 120, len(req) - 2]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        t0 = time.monotonic()
        prev = 0
        for c in cuts + [len(req)]:
            s.sendall(req[prev:c])
            prev = c
            time.sleep(0.03)
        st, _, _ = read_response(s)
        dt = time.monotonic() - t0
    return Expect("GET", f"/data/items/{i}", "", st, dt)


def upload(port, size=2 * 1024 * 1024):
    i = uid()
    body = os.urandom(size)
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        t0 = time.monotonic()
        s.sendall(build_request("POST", f"/data/upload?id={i}", body=body))
        st, resp, _ = read_response(s)
        dt = time.monotonic() - t0
    check(str(size).encode() in resp, f"upload: app did not receive {size} bytes: {resp[:80]!r}")
    e = Expect("POST", "/data/upload", f"id={i}", st, dt)
    e.bytes_in_min = size
    return e


def client_gone(port):
    """The client sends a request to a slow endpoint and leaves after 50 ms."""
    i = uid()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        t0 = time.monotonic()
        s.sendall(build_request("GET", f"/data/sleep?ms=400&id={i}"))
        time.sleep(0.05)
    e = Expect("GET", "/data/sleep", f"ms=400&id={i}", 0, time.monotonic() - t0, answered=False)
    return e


def garbage(port):
    """Non-HTTP bytes on a server socket: must not produce a record."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n")
        s.settimeout(2)
        try:
            recv_all(s)
        except OSError:
            pass


def mix(port):
    """The known mix; returns the Expect list."""
    ex = []
    ex.append(one(port, "GET", f"/data/items/{uid()}", status=200))
    ex.append(one(port, "GET", "/user/login", f"id={uid()}", status=401))
    ex.append(one(port, "GET", "/user/admin", f"id={uid()}", status=403))
    ex.append(one(port, "GET", f"/user/profile/{2000 + uid()}", status=404))
    ex.append(one(port, "GET", "/model/crash", f"id={uid()}", status=500))
    ex.append(one(port, "GET", "/model/gateway", f"id={uid()}", status=502))
    ex.append(one(port, "GET", "/model/unavailable", f"id={uid()}", status=503))
    ex.append(one(port, "GET", "/user/old-profile", f"id={uid()}", status=301))
    ex.append(one(port, "POST", "/model/generate", f"ms=150&id={uid()}", status=201, sleep_ms=150))
    ex.append(one(port, "POST", "/user/signup", f"id={uid()}", status=400))
    ex.append(one(port, "POST", "/user/signup", f"id={uid()}", body=b'{"a":1}', status=201))
    ex.append(one(port, "GET", "/data/sleep", f"ms=200&id={uid()}", status=200, sleep_ms=200))
    ex.append(one(port, "GET", "/data/sync", f"ms=60&id={uid()}", status=200, sleep_ms=60))
    stream = one(port, "GET", "/data/stream", f"chunks=6&ms=20&id={uid()}", status=200)
    stream.at_least_ms = 120  # six sleeps of 20 ms between chunks, plus the loop's own time
    ex.append(stream)
    ex.append(one(port, "GET", "/data/big", f"kb=700&id={uid()}", status=200))
    ex.append(one(port, "HEAD", "/data/head", f"id={uid()}", status=200))
    ex.append(one(port, "GET", f"/data/items/{uid()}", status=200, version="1.0"))
    ex += keepalive(port)
    ex += pipelined(port)
    ex.append(split_headers(port))
    ex.append(upload(port))
    ex.append(client_gone(port))
    garbage(port)
    ex.append(one(port, "GET", f"/data/items/{uid()}", status=200))  # after the garbage
    return ex


def key(method, path, query):
    return (method, path, query)


def records_for(h, pids=None, port=None):
    recs = h.json_lines()
    if pids is not None:
        recs = [r for r in recs if r["pid"] in pids]
    if port is not None:
        recs = [r for r in recs if r["port"] == port]
    return recs


def compare(expects, recs, label):
    """Every expected request exactly once, nothing else; checks fields and timing."""
    by = {}
    for r in recs:
        by.setdefault(key(r["method"], r["path"], r["query"]), []).append(r)
    problems = []
    for e in expects:
        got = by.pop(key(e.method, e.path, e.query), [])
        name = f"{e.method} {e.path}{'?' + e.query if e.query else ''}"
        if len(got) != 1:
            problems.append(f"{name}: captured {len(got)} times")
            continue
        r = got[0]
        if not e.answered:
            if r["status"] != 0 or "no_response" not in r["flags"]:
                problems.append(f"{name}: client left, want status 0/no_response, got "
                                f"{r['status']} {r['flags']}")
            continue
        if r["status"] != e.status:
            problems.append(f"{name}: status {r['status']}, client saw {e.status}")
        if r["duration_ms"] > e.client_ms + MARGIN_MS:
            problems.append(f"{name}: duration {r['duration_ms']:.3f} ms > client "
                            f"{e.client_ms:.3f} ms + {MARGIN_MS}")
        if r["ttfb_ms"] is None or r["ttfb_ms"] > r["duration_ms"] + 1e-6:
            problems.append(f"{name}: ttfb {r['ttfb_ms']} vs duration {r['duration_ms']}")
        if e.sleep_ms is not None:
            # within a few ms of the known sleep; when the machine is so loaded that the app
            # itself ran late, the client saw that lateness too (duration close to its time)
            d = r["duration_ms"]
            if d < e.sleep_ms - 2 or (d > e.sleep_ms + SLEEP_SLACK_MS and
                                      e.client_ms - d > CLIENT_GAP_MS):
                problems.append(f"{name}: duration {d:.3f} ms, sleep {e.sleep_ms}, client "
                                f"{e.client_ms:.3f} ms")
        if r["duration_ms"] < getattr(e, "at_least_ms", 0) - 2:
            problems.append(f"{name}: duration {r['duration_ms']:.3f} ms < {e.at_least_ms}")
        if r["version"] != e.version:
            problems.append(f"{name}: version {r['version']}, sent {e.version}")
        if getattr(e, "bytes_in_min", 0) > r["bytes_in"]:
            problems.append(f"{name}: bytes_in {r['bytes_in']} < body {e.bytes_in_min}")
        if r["api"] != (e.path.split("/")[1] if e.path.split("/")[1] in ("data", "model", "user")
                        else "other"):
            problems.append(f"{name}: api {r['api']}")
    for k, rs in by.items():
        problems.append(f"unexpected record(s) {k}: {len(rs)}")
    check(not problems, f"{label}: " + "; ".join(problems[:8]) +
          (f" (+{len(problems) - 8} more)" if len(problems) > 8 else ""))


def traced_run(server, label, pids=None):
    h = Httplat("trace", "--json", "--pid", str(server.proc.pid))
    time.sleep(0.3)
    expects = mix(server.port)
    time.sleep(0.6)  # the client leaving above closes its connection a little later
    h.stop()
    check("tracing" in h.stderr(), "no start line")
    compare(expects, records_for(h, port=server.port), label)
    check("requests, 0 lost (" in h.stderr(), f"{label}: losses reported: {h.stderr()[-400:]}")
    return h


@test
def asyncio_h11():
    srv = Uvicorn(loop="asyncio", http="h11")
    traced_run(srv, "asyncio+h11")
    srv.stop()


@test
def uvloop_httptools():
    srv = Uvicorn(loop="uvloop", http="httptools")
    traced_run(srv, "uvloop+httptools")
    srv.stop()


@test
def workers_3():
    srv = Uvicorn(loop="uvloop", http="httptools", workers=3)
    h = traced_run(srv, "--workers 3")
    pids = {r["pid"] for r in records_for(h, port=srv.port)}
    check(srv.proc.pid not in pids, "the supervisor itself should not serve requests")
    srv.stop()


@test
def gunicorn_uvicorn_worker():
    srv = Uvicorn(gunicorn=True, workers=2)
    traced_run(srv, "gunicorn UvicornWorker")
    srv.stop()


@test
def preexisting_keepalive_connection():
    """A connection accepted (and used) before httplat started is traced from then on."""
    # the connection idles while httplat loads: more than uvicorn's 5 s keep-alive on a slow host
    srv = Uvicorn(loop="asyncio", http="h11", extra=("--timeout-keep-alive", "60"))
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    s.sendall(build_request("GET", "/data/items/1"))
    read_response(s)
    h = Httplat("trace", "--json", "--pid", str(srv.proc.pid))
    expects = []
    for _ in range(3):
        i = uid()
        t0 = time.monotonic()
        s.sendall(build_request("GET", f"/data/items/{i}"))
        st, _, _ = read_response(s)
        expects.append(Expect("GET", f"/data/items/{i}", "", st, time.monotonic() - t0))
    s.close()
    time.sleep(0.3)
    h.stop()
    recs = records_for(h, port=srv.port)
    compare(expects, recs, "pre-existing connection")
    check(all("preexisting" in r["flags"] for r in recs), "preexisting flag missing")
    srv.stop()


@test
def server_started_after_httplat():
    """Default discovery: a uvicorn started after httplat is found and traced."""
    h = Httplat("trace", "--json")
    srv = Uvicorn(loop="uvloop", http="httptools")
    expects = [one(srv.port, "GET", f"/data/items/{uid()}", status=200) for _ in range(5)]
    time.sleep(0.3)
    h.stop()
    compare(expects, records_for(h, port=srv.port), "started after httplat")
    srv.stop()


@test
def app_dies_before_responding():
    """The worker is killed mid-request: the request is reported with status 0, not lost."""
    srv = Uvicorn(loop="asyncio", http="h11")
    h = Httplat("trace", "--json", "--pid", str(srv.proc.pid))
    i = uid()
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    s.sendall(build_request("GET", f"/data/sleep?ms=3000&id={i}"))
    time.sleep(0.3)
    os.kill(srv.proc.pid, signal.SIGKILL)
    srv.proc.wait(10)
    s.close()
    time.sleep(0.3)
    h.stop()
    recs = [r for r in records_for(h) if r["query"] == f"ms=3000&id={i}"]
    check(len(recs) == 1, f"want one record of the killed request, got {len(recs)}")
    r = recs[0]
    check(r["status"] == 0 and "no_response" in r["flags"] and "proc_exit" in r["flags"],
          f"want status 0, no_response, proc_exit: {r}")
    check(250 <= r["duration_ms"] <= 3000, f"abandoned after {r['duration_ms']} ms")


@test
def text_output_and_summary():
    """The human-readable form: header, one line per request, a summary on Ctrl-C."""
    srv = Uvicorn(loop="asyncio", http="h11")
    h = Httplat("trace", "--pid", str(srv.proc.pid))
    i = uid()
    http(srv.port, "GET", f"/model/{i}/mesh")
    http(srv.port, "GET", "/user/a\x1b[31mb")  # escape bytes must not reach the terminal raw
    time.sleep(0.3)
    h.stop()
    out = h.stdout()
    check(out.startswith("TIME"), f"no header: {out[:200]!r}")
    line = [ln for ln in out.splitlines() if f"/model/{i}/mesh" in ln]
    check(len(line) == 1, f"want one line for /model/{i}/mesh: {out!r}")
    f = line[0].split()
    check(f[1] == str(srv.proc.pid) and f[2] == "model" and f[3] == "GET" and f[4] == "200",
          f"columns: {line[0]!r}")
    check("\x1b" not in out and "\\x1b" in out, "terminal escape not neutralised")
    err = h.stderr()
    check("requests" in err and " lost (ringbuf_full 0" in err and "ringbuf_full=0" in err,
          f"summary missing: {err!r}")
    srv.stop()


@test
def config_file_select_section():
    """`trace` takes [select] from the config file as top and run do; flags override it."""
    import tempfile
    a = Uvicorn(loop="asyncio", http="h11")
    b = Uvicorn(loop="asyncio", http="h11")
    with tempfile.TemporaryDirectory() as d:
        conf = os.path.join(d, "httplat.conf")
        with open(conf, "w") as f:
            f.write(f"[select]\npids = {a.proc.pid}\napi = gen=/model\n")
        i = uid()
        h = Httplat("trace", "--json", "--config", conf)
        http(a.port, "GET", f"/model/{i}/mesh")
        http(b.port, "GET", f"/model/{i}/mesh")
        time.sleep(0.3)
        h.stop()
        recs = [r for r in h.json_lines() if r["path"] == f"/model/{i}/mesh"]
        check([(r["pid"], r["api"]) for r in recs] == [(a.proc.pid, "gen")],
              f"want only pid {a.proc.pid}'s request, labelled gen by [select]: {recs}")
        # --pid replaces the file's pids; --api goes before the file's rules, which stay
        h = Httplat("trace", "--json", "--config", conf, "--pid", str(b.proc.pid),
                    "--api", f"one=/model/{i}")
        http(a.port, "GET", f"/model/{i}/mesh")
        http(b.port, "GET", f"/model/{i}/mesh")
        http(b.port, "GET", f"/model/{i + 1}/mesh")
        time.sleep(0.3)
        h.stop()
        recs = [r for r in h.json_lines() if r["path"].startswith("/model/")]
        check(sorted((r["pid"], r["api"], r["path"]) for r in recs) ==
              sorted([(b.proc.pid, "one", f"/model/{i}/mesh"),
                      (b.proc.pid, "gen", f"/model/{i + 1}/mesh")]),
              f"flags over [select]: {recs}")
    a.stop()
    b.stop()


@test
def bad_options():
    for args, words in ((["--pid", "abc"], "invalid --pid"), (["--port", "70000"], "--port"),
                        (["--api", "nonsense"], "--api"), (["--bogus"], "unrecognized")):
        p = subprocess.run([os.path.join(os.path.dirname(__file__), "..", "..", "httplat"),
                            "trace"] + args, capture_output=True, text=True, timeout=10)
        check(p.returncode != 0 and words in p.stderr, f"{args}: rc={p.returncode} {p.stderr!r}")


@test
def make_install_destdir():
    """`make install` puts the binary in $(DESTDIR)/usr/local/sbin, and it runs from there."""
    import tempfile
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run(["make", "-s", "-C", root, "install", f"DESTDIR={d}"],
                           capture_output=True, text=True, timeout=300)
        check(r.returncode == 0, f"make install failed: {r.stderr[-400:]}")
        binary = os.path.join(d, "usr", "local", "sbin", "httplat")
        check(os.access(binary, os.X_OK), f"{binary} missing or not executable")
        r = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=10)
        check(r.returncode == 0 and "trace" in r.stdout, f"installed binary: {r.stdout!r}")


if __name__ == "__main__":
    sys.exit(run_tests())
