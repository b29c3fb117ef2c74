#!/usr/bin/python3
"""test_pipeline.py: every request exactly once however its bytes arrive (issue 13).

Pipelines of 5, 2 x 200 and 300 mixed requests in one send, a request sent a byte at a time,
a request head that arrives with the previous request's body tail: each request has exactly
one record in `httplat trace --json` and one row in http_requests (`httplat run`, both
tracing at once), with its status and a duration no longer than the client saw. With the
pipeline limit set small, the excess is counted exactly and reported.
"""
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

MARGIN_MS = 2.0
_ids = iter(range(1, 10**9))
_pg = None


def pg():
    global _pg
    if _pg is None:
        _pg = h.Postgres()
    return _pg


class Req:
    """One request to send: its bytes, and what the client then saw."""

    def __init__(self, method, path, status, body=b"", headers=None):
        self.id = next(_ids)
        self.method, self.status = method, status
        self.path, _, q = path.partition("?")
        self.query = (q + "&" if q else "") + f"id={self.id}"
        self.bytes = h.build_request(method, f"{self.path}?{self.query}", body, headers)
        self.seen_status = None
        self.client_ms = None


def read_one(s, buf, method):
    """One response from buf + the socket, framed as a client must (HEAD, 204, 304, chunked)."""
    while b"\r\n\r\n" not in buf:
        d = s.recv(1 << 20)
        if not d:
            raise RuntimeError("closed in a response head")
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    status, hdrs = h.parse_head(head)
    if 100 <= status < 200:
        return read_one(s, rest, method)
    if method == "HEAD" or status in (204, 304):
        return status, rest
    if hdrs.get(b"transfer-encoding") == b"chunked":
        while True:
            while b"\r\n" not in rest:
                rest += s.recv(1 << 20)
            size_line, tail = rest.split(b"\r\n", 1)
            n = int(size_line.split(b";")[0], 16)
            while len(tail) < n + 2:
                tail += s.recv(1 << 20)
            rest = tail[n + 2:]
            if n == 0:
                return status, rest  # no trailers from uvicorn
    n = int(hdrs.get(b"content-length", b"0"))
    while len(rest) < n:
        d = s.recv(1 << 20)
        if not d:
            raise RuntimeError("closed in a response body")
        rest += d
    return status, rest[n:]


def send_pipeline(port, reqs, chunks=None):
    """Sends all requests in one send (or in the given byte chunks); reads every response."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        data = b"".join(r.bytes for r in reqs)
        t0 = time.monotonic()
        if chunks is None:
            s.sendall(data)
        else:
            for c in chunks:
                s.sendall(c)
        buf = b""
        for r in reqs:
            r.seen_status, buf = read_one(s, buf, r.method)
            r.client_ms = (time.monotonic() - t0) * 1000
    return reqs


def mixed(n):
    """n requests of every kind the issue names: HEAD, 204, chunked, 100 kB bodies, errors
    (a handled 500: an unhandled exception makes uvicorn close the connection)."""
    kinds = h.MIXED_KINDS
    out = []
    for i in range(n):
        m, p, st = kinds[i % len(kinds)]
        out.append(Req(m, p, st, body=b'{"x":1}' if m == "POST" else b""))
    return out


def check_records(reqs, recs, label, rows=None):
    """Each request exactly once, status exact, duration <= client + 2 ms (trace and the DB)."""
    problems = []
    for source, got in (("trace", recs), ("http_requests", rows)):
        if got is None:
            continue
        by = {}
        for r in got:
            by.setdefault((r["method"], r["query"]), []).append(r)
        for q in reqs:
            mine = by.pop((q.method, q.query), [])
            name = f"{source}: {q.method} {q.path}?{q.query}"
            if len(mine) != 1:
                problems.append(f"{name}: {len(mine)} records")
                continue
            r = mine[0]
            if r["status"] != q.seen_status or q.seen_status != q.status:
                problems.append(f"{name}: status {r['status']}, client saw {q.seen_status} "
                                f"(expected {q.status})")
            if r["duration_ms"] is None or r["duration_ms"] > q.client_ms + MARGIN_MS:
                problems.append(f"{name}: duration {r['duration_ms']} > client "
                                f"{q.client_ms:.3f} + {MARGIN_MS}")
        for k, rs in by.items():
            problems.append(f"{source}: unexpected {k}: {len(rs)}")
    h.check(not problems, f"{label}: " + "; ".join(problems[:6]) +
            (f" (+{len(problems) - 6} more)" if len(problems) > 6 else ""))


def q(sql):
    """SQL on httplat's own schema."""
    rows = pg().sql("SET search_path = httplat; " + sql)
    return rows[1:] if rows and rows[0] == ["SET"] else rows


def db_rows(host):
    out = q(f"SELECT method, query, status, duration_ms FROM http_requests WHERE host = '{host}'")
    return [{"method": m, "query": q, "status": int(s),
             "duration_ms": float(d) if d else None} for m, q, s, d in out]


def db_wait(host, want, timeout=20):
    deadline = time.monotonic() + timeout
    n = -1
    while time.monotonic() < deadline:
        n = int(q(f"SELECT count(*) FROM http_requests WHERE host = '{host}'")[0][0])
        if n >= want:
            return n
        time.sleep(0.2)
    return n


def traced(server, host, extra=()):
    """trace --json and run into PostgreSQL, both on the server at once."""
    pid = str(server.proc.pid)
    tr = h.Httplat("trace", "--json", "--pid", pid, *extra)
    spool = tempfile.mkdtemp(prefix="httplat-spool-")
    h.at_exit(lambda: subprocess.run(["rm", "-rf", spool]))
    rn = h.Httplat("run", "--pid", pid, "--db", pg().conninfo, "--host", host, "--spool-dir",
                   spool, "--stats-interval", "0", *extra)
    time.sleep(0.3)
    return tr, rn


def stop_both(tr, rn):
    time.sleep(0.3)
    tr.stop()
    rn.stop()


def byte_at_a_time(port, seconds=3.0):
    """One request sent a byte per send over several seconds."""
    r = Req("GET", "/data/items/5", 200)
    gap = seconds / len(r.bytes)
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t0 = time.monotonic()
        for i in range(len(r.bytes)):
            s.send(r.bytes[i:i + 1])
            time.sleep(gap)
        r.seen_status, _ = read_one(s, b"", "GET")
        r.client_ms = (time.monotonic() - t0) * 1000
    return r


def body_tail_with_next_head(port):
    """A POST whose body's last bytes come in the same send as the next request's head."""
    body = b"b" * 3000
    a = Req("POST", "/data/upload", 200, body=body)
    b = Req("GET", "/data/items/9", 200)
    cut = len(a.bytes) - 500
    return send_pipeline(port, [a, b], chunks=[a.bytes[:cut], a.bytes[cut:] + b.bytes])


def scenario(server, label):
    host = f"e2e-pipe-{server.port}"
    tr, rn = traced(server, host)
    sent = []
    # the three 5-request pipelines of the issue
    sent += send_pipeline(server.port, [
        Req("GET", "/data/items/1", 200), Req("GET", "/data/items/2", 200),
        Req("GET", "/user/profile/2001", 404), Req("GET", "/data/sleep?ms=30", 200),
        Req("GET", "/data/items/4", 200)])
    sent += send_pipeline(server.port, [
        Req("POST", "/user/signup", 201, body=b'{"name":"a"}'), Req("GET", "/user/old-profile", 301),
        Req("HEAD", "/data/head", 200), Req("DELETE", "/data/items/8", 204),
        Req("GET", "/model/crash", 500)])
    sent += send_pipeline(server.port, [
        Req("GET", "/data/items/5", 200), Req("GET", "/data/items/6", 200),
        Req("GET", "/data/big?kb=100", 200), Req("GET", "/data/stream?chunks=3&ms=20", 200),
        Req("GET", "/user/admin", 403)])
    # 2 x 200 small GETs, each 200 in one send, on two connections at once
    import threading
    pipes = [[Req("GET", f"/data/items/{i}", 200) for i in range(200)] for _ in range(2)]
    ts = [threading.Thread(target=send_pipeline, args=(server.port, p)) for p in pipes]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    sent += pipes[0] + pipes[1]
    sent += send_pipeline(server.port, mixed(300))
    sent.append(byte_at_a_time(server.port))
    sent += body_tail_with_next_head(server.port)
    n = db_wait(host, len(sent))
    stop_both(tr, rn)
    recs = [r for r in tr.json_lines() if r["port"] == server.port]
    check_records(sent, recs, label, db_rows(host))
    h.check(n == len(sent), f"{label}: {n} rows for {len(sent)} requests")
    err = tr.stderr()
    h.check("pipeline_full=0" in err and "parse_giveup=0" in err,
            f"{label}: losses or give-ups reported: {err[-600:]}")


@h.test
def asyncio_h11():
    srv = h.Uvicorn(loop="asyncio", http="h11")
    scenario(srv, "asyncio+h11")
    srv.stop()


@h.test
def uvloop_httptools():
    srv = h.Uvicorn(loop="uvloop", http="httptools")
    scenario(srv, "uvloop+httptools")
    srv.stop()


@h.test
def gunicorn_two_workers():
    srv = h.Uvicorn(gunicorn=True, workers=2)
    scenario(srv, "gunicorn UvicornWorker x2")
    srv.stop()


def counter(text, name):
    for word in text.split():
        if word.startswith(name + "="):
            return int(word.split("=", 1)[1])
    raise AssertionError(f"no {name} in {text[-400:]!r}")


@h.test
def pipeline_limit_counted_exactly():
    """--pipeline-max 5: what is beyond is counted (lost = sent - recorded), in the summary
    and in httplat_health."""
    srv = h.Uvicorn(loop="uvloop", http="httptools")
    host = "e2e-pipe-limit"
    tr, rn = traced(srv, host, extra=("--pipeline-max", "5"))
    sent = []
    for _ in range(3):
        sent += send_pipeline(srv.port, mixed(40))
    rows = db_wait(host, 1, timeout=3)
    time.sleep(1.5)
    stop_both(tr, rn)
    recs = [r for r in tr.json_lines() if r["port"] == srv.port]
    lost = counter(tr.stderr(), "pipeline_full")
    h.check(0 < len(recs) < len(sent), f"{len(recs)} records of {len(sent)}: the limit did nothing")
    h.check(lost == len(sent) - len(recs), f"lost {lost} != sent {len(sent)} - recorded {len(recs)}")
    # every record still has the status of its own request (framing kept past the limit)
    want = {(q.method, q.query): q.seen_status for q in sent}
    bad = [r for r in recs if want.get((r["method"], r["query"])) != r["status"]]
    h.check(not bad, f"records with another request's status: {bad[:3]}")
    rows = int(q(f"SELECT count(*) FROM http_requests WHERE host = '{host}'")[0][0])
    h.check(rows == len(recs), f"{rows} rows for {len(recs)} trace records")
    cols = [c for (c,) in pg().sql("SELECT column_name FROM information_schema.columns WHERE "
                                   "table_schema = 'httplat' AND table_name = 'httplat_health' AND column_name LIKE "
                                   "'%pipe%'")]
    h.check(cols, "httplat_health has no pipeline column")
    got = q(f"SELECT {cols[0]} FROM httplat_health WHERE host = '{host}' ORDER BY ts DESC "
            "LIMIT 1")
    h.check(got and int(got[0][0]) == lost, f"httplat_health {cols[0]} = {got}, want {lost}")
    srv.stop()


if __name__ == "__main__":
    sys.exit(h.run_tests())
