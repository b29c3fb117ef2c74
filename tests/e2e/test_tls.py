#!/usr/bin/python3
"""test_tls.py: HTTPS served by uvicorn itself, traced through libssl (issue 14).

A self-signed certificate made here; uvicorn with --ssl-keyfile/--ssl-certfile on
asyncio+h11, uvloop+httptools, --workers 2, and gunicorn's UvicornWorker with
--certfile/--keyfile. The client is Python's ssl module; raw TLS sockets control the record
boundaries (one sendall = one SSL_write = records of at most 16 KiB). The same request mix as
the plaintext tests (keep-alive, pipelines of 5, 50 and 200 in one TLS write, a head split
over several TLS records and one sent a record per byte, a 2 MB upload, chunked streaming,
HEAD, HTTP/1.0, every status the app returns, a client gone mid-request): each request has
exactly one record, with its method, path, status, "tls": true, and a duration within 2 ms
above and 25 ms below what the client measured. TLS handshakes are not requests: connections
that only handshake, send garbage instead of a ClientHello (or plaintext HTTP), or abort the
handshake give no record, and httplat survives them. Also: a TLS connection opened before
httplat, a TLS server started after it, the app killed mid-request, plaintext and TLS
servers traced at once (tls right on each), and rows with tls = true from `httplat run`.
"""
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

ABOVE_MS = 2.0 * h.SLOWDOWN   # the kernel's duration may exceed the client's by this...
BELOW_MS = 25.0 * h.SLOWDOWN  # ...and fall short of it by at most this (issue 14's contract)
SLEEP_SLACK_MS = 2  # a known sleep: the duration is at least the sleep less this

_ids = iter(range(1, 10**9))
_certs = None
_pg = None


def uid():
    return next(_ids)


def certs():
    """(certfile, keyfile): a self-signed certificate for 127.0.0.1, made once per run."""
    global _certs
    if _certs is None:
        d = tempfile.mkdtemp(prefix="httplat-tls-")
        h.at_exit(lambda: shutil.rmtree(d, ignore_errors=True))
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                            "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                            "-keyout", key, "-out", cert], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("openssl req failed: " + r.stderr)
        _certs = (cert, key)
    return _certs


def client_ctx():
    """Verifies the server against the test's certificate (and its IP address)."""
    return ssl.create_default_context(cafile=certs()[0])


def tls_server(**kw):
    cert, key = certs()
    if kw.get("gunicorn"):
        tls_args = ("--certfile", cert, "--keyfile", key)
    else:
        tls_args = ("--ssl-keyfile", key, "--ssl-certfile", cert)
    kw["extra"] = tuple(kw.get("extra", ())) + tls_args
    return h.Uvicorn(**kw)


def tls_connect(port, timeout=60):
    """A TLS connection, its handshake done."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return client_ctx().wrap_socket(raw, server_hostname="127.0.0.1")


def pg():
    global _pg
    if _pg is None:
        _pg = h.Postgres()
    return _pg


class Req:
    """One request: its bytes, and what the client then saw (status, ms from its first send)."""

    def __init__(self, method, path, status=None, body=b"", version="1.1", close=False,
                 sleep_ms=None, answered=True, headers=None):
        self.id = uid()
        self.method, self.want = method, status
        self.path, _, q = path.partition("?")
        self.query = (q + "&" if q else "") + f"id={self.id}"
        self.version = version
        self.bytes = h.build_request(method, f"{self.path}?{self.query}", body, headers,
                                     version, close)
        self.body_len = len(body)
        self.sleep_ms, self.answered = sleep_ms, answered
        self.status = None
        self.client_ms = self.head_ms = None
        self.conn = None  # which client connection (a tag) and its order there, for seq checks
        self.order = None
        self.lead = self  # the first request of the same send: its wait is this one's too

    @property
    def name(self):
        return f"{self.method} {self.path}?{self.query}"


class Reader:
    """A client's receive side: bytes, and when each arrived (the time its recv returned)."""

    def __init__(self, s):
        self.s = s
        self.buf = bytearray()
        self.pos = 0
        self.marks = []  # (end offset, time) per recv

    def fill(self, what):
        d = self.s.recv(1 << 20)
        if not d:
            raise RuntimeError(f"closed in {what}")
        self.buf += d
        self.marks.append((len(self.buf), time.monotonic()))

    def upto(self, sep, what):
        """The bytes up to sep (consumed with it) and the arrival time of its last byte."""
        while True:
            i = self.buf.find(sep, self.pos)
            if i >= 0:
                out = bytes(self.buf[self.pos:i])
                self.pos = i + len(sep)
                return out, self.at(self.pos)
            self.fill(what)

    def skip(self, n, what):
        while len(self.buf) - self.pos < n:
            self.fill(what)
        self.pos += n
        return self.at(self.pos)

    def at(self, end):
        """When the byte before offset end arrived."""
        for off, t in self.marks:
            if off >= end:
                return t
        return time.monotonic()


def read_one(rd, method):
    """One response, framed as a client must (HEAD, 204, 304, chunked): (status, when its
    head had arrived, when its last byte had)."""
    head, head_t = rd.upto(b"\r\n\r\n", "a response head")
    status, hdrs = h.parse_head(head)
    if 100 <= status < 200:
        return read_one(rd, method)
    if method == "HEAD" or status in (204, 304):
        return status, head_t, head_t
    if hdrs.get(b"transfer-encoding") == b"chunked":
        while True:
            size_line, _ = rd.upto(b"\r\n", "a chunk size")
            n = int(size_line.split(b";")[0], 16)
            end_t = rd.skip(n + 2, "a chunk")
            if n == 0:
                return status, head_t, end_t  # no trailers from uvicorn
    return status, head_t, rd.skip(int(hdrs.get(b"content-length", b"0")), "a response body")


_batches = iter(range(1, 10**9))


def on_conn(s, reqs, chunks=None, pause=0.0, rd=None):
    """Sends reqs on s (all in one sendall = one SSL_write, or the given pieces, each its own
    sendall, with a pause between them); reads every response. The client's time of each runs
    from its first send to the arrival of that response's last byte (client_ms) and of its
    head (head_ms: a large body takes the client a while to receive and decrypt after the
    server's last write)."""
    batch = next(_batches)
    data = b"".join(r.bytes for r in reqs)
    rd = rd or Reader(s)
    t0 = time.monotonic()
    if chunks is None:
        s.sendall(data)
    else:
        for i, c in enumerate(chunks):
            if i and pause:
                time.sleep(pause)
            s.sendall(c)
    for i, r in enumerate(reqs):
        r.status, head_t, end_t = read_one(rd, r.method)
        r.client_ms, r.head_ms = (end_t - t0) * 1000, (head_t - t0) * 1000
        r.conn, r.order, r.lead = batch, i, reqs[0]
        if r.want is not None:
            h.check(r.status == r.want, f"{r.name}: server answered {r.status}, test expected "
                                        f"{r.want}")
    return reqs


def fresh(port, r):
    """One request on a new TLS connection (the clock starts after the handshake)."""
    with tls_connect(port) as s:
        on_conn(s, [r])
    return r


def keepalive(port, n=5):
    """n requests one after the other on one TLS connection."""
    out = []
    with tls_connect(port) as s:
        tag = None
        for i in range(n):
            r = on_conn(s, [Req("GET", f"/data/items/{uid()}", 200)])[0]
            tag = tag or r.conn
            r.conn, r.order = tag, i
            out.append(r)
    return out


def pipeline(port, reqs):
    with tls_connect(port) as s:
        return on_conn(s, reqs)


def mixed(n):
    """n pipelined requests of every kind: HEAD, 204, 304, chunked, 100 kB bodies, errors
    (a handled 500: an unhandled exception makes uvicorn close the connection)."""
    kinds = h.MIXED_KINDS
    out = []
    for i in range(n):
        m, p, st = kinds[i % len(kinds)]
        out.append(Req(m, p, st, body=b'{"x":1}' if m == "POST" else b""))
    return out


def split_head(port):
    """A request head sent in five pieces, each its own TLS record, 30 ms apart."""
    r = Req("GET", "/data/items/11", 200, headers={"X-Padding": "p" * 300})
    b = r.bytes
    cuts = [0, 10, 40, 120, len(b) - 2, len(b)]
    with tls_connect(port) as s:
        on_conn(s, [r], chunks=[b[x:y] for x, y in zip(cuts, cuts[1:])], pause=0.03)
    return r


def record_per_byte(port):
    """A request sent one TLS record per byte (about 0.5 s in all)."""
    r = Req("GET", "/data/items/12", 200)
    with tls_connect(port) as s:
        on_conn(s, [r], chunks=[r.bytes[i:i + 1] for i in range(len(r.bytes))], pause=0.01)
    return r


def body_tail_with_next_head(port):
    """A POST whose body's last bytes come in the same TLS record as the next request's head."""
    a = Req("POST", "/data/upload", 200, body=b"b" * 3000)
    b = Req("GET", "/data/items/9", 200)
    cut = len(a.bytes) - 500
    with tls_connect(port) as s:
        return on_conn(s, [a, b], chunks=[a.bytes[:cut], a.bytes[cut:] + b.bytes])


def tls12_keepalive(port, n=3):
    """Requests on a TLS 1.2 connection (its handshake ends with the server's Finished)."""
    ctx = client_ctx()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    raw = socket.create_connection(("127.0.0.1", port), timeout=60)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
        h.check(s.version() == "TLSv1.2", f"negotiated {s.version()}")
        out = []
        for i in range(n):
            out += on_conn(s, [Req("GET", "/data/items/13", 200)])
    for i, r in enumerate(out):
        r.conn, r.order = out[0].conn, i
    return out


def resumed(port, check_reused=True):
    """A second connection resuming the first one's session (an abbreviated handshake; with
    several workers it may reach another one, whose ticket keys differ: a full handshake)."""
    ctx = client_ctx()
    out = []
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=60),
                         server_hostname="127.0.0.1") as s:
        out += on_conn(s, [Req("GET", "/data/items/14", 200)])  # the tickets come with it
        sess = s.session
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=60),
                         server_hostname="127.0.0.1", session=sess) as s:
        h.check(s.session_reused or not check_reused, "the TLS session was not resumed")
        out += on_conn(s, [Req("GET", "/data/items/15", 200)])
    return out


def expect_continue(port):
    """A POST with Expect: 100-continue: its head, the server's 100, then its body."""
    body = b"c" * 5000
    r = Req("POST", "/data/upload", 200, body=body, headers={"Expect": "100-continue"})
    head = r.bytes[:-len(body)]
    with tls_connect(port) as s:
        rd = Reader(s)
        t0 = time.monotonic()
        s.sendall(head)
        interim, _ = rd.upto(b"\r\n\r\n", "the 100 Continue")
        h.check(interim.startswith(b"HTTP/1.1 100"), f"want 100 Continue: {interim[:40]!r}")
        s.sendall(body)
        r.status, head_t, end_t = read_one(rd, "POST")
        r.client_ms, r.head_ms = (end_t - t0) * 1000, (head_t - t0) * 1000
    h.check(r.status == 200, f"{r.name}: {r.status}")
    return r


def upload(port, size=2 * 1024 * 1024):
    r = Req("POST", "/data/upload", 200, body=os.urandom(size))
    with tls_connect(port) as s:
        on_conn(s, [r])
    r.bytes_in_min = size
    return r


def client_gone(port):
    """The client sends a request to a slow endpoint and leaves after 50 ms."""
    r = Req("GET", "/data/sleep?ms=400", answered=False)
    with tls_connect(port) as s:
        s.sendall(r.bytes)
        time.sleep(0.05)
    return r


def client_hello():
    """The bytes of a real ClientHello (TLS 1.2 and 1.3 offered)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def drain(s, timeout=1.0):
    s.settimeout(timeout)
    try:
        while s.recv(65536):
            pass
    except OSError:
        pass


class NoRequest:
    """Connections to a TLS port that carry no request, counted for tls_no_plaintext: conns
    all of them, hello those that began a real handshake (a ClientHello, or part of one)."""

    def __init__(self):
        self.conns = 0
        self.hello = 0


def handshake_only(port, nr, n=1):
    """Handshakes, then closes: no request."""
    for _ in range(n):
        s = tls_connect(port)
        s.close()
        nr.conns += 1
        nr.hello += 1


def handshake_then_close_notify(port, nr):
    """Handshakes and shuts TLS down properly (close_notify both ways): no request."""
    s = tls_connect(port)
    try:
        s.unwrap().close()
    except (OSError, ssl.SSLError):
        s.close()
    nr.conns += 1
    nr.hello += 1


def garbage_hello(port, nr):
    """Random bytes instead of a ClientHello."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"\x16\x03\x01\x00\x20" + os.urandom(32) + b"not a hello at all\r\n\r\n")
        drain(s)
    nr.conns += 1


def plaintext_http_to_tls(port, nr):
    """A plaintext HTTP request to the TLS port (http:// for https://): no request was served,
    the app never saw it; returns its path, which must be in no record."""
    i = uid()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(h.build_request("GET", f"/data/items/{i}?plaintext-to-tls={i}"))
        drain(s)
    nr.conns += 1
    return f"/data/items/{i}"


def partial_hello(port, nr):
    """Half a ClientHello, then the client goes."""
    hello = client_hello()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(hello[:len(hello) // 2])
        time.sleep(0.05)
    nr.conns += 1
    nr.hello += 1


def abort_after_server_hello(port, nr):
    """A whole ClientHello; the client reads the server's first flight and leaves."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(client_hello())
        s.settimeout(5)
        try:
            s.recv(65536)
        except OSError:
            pass
    nr.conns += 1
    nr.hello += 1


def untrusted_client(port, nr):
    """A client that does not trust the certificate: it aborts the handshake (an alert)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        ssl.create_default_context().wrap_socket(raw, server_hostname="127.0.0.1").close()
        h.check(False, "the client accepted an untrusted certificate")
    except ssl.SSLCertVerificationError:
        pass
    finally:
        raw.close()
    nr.conns += 1
    nr.hello += 1


def tcp_only(port, nr):
    """Connect and close: not even a ClientHello."""
    socket.create_connection(("127.0.0.1", port), timeout=30).close()
    nr.conns += 1


def mix(port, nr, workers=1):
    """The known mix on a TLS port; returns the Req list (nr counts the no-request
    connections it made)."""
    ex = []
    for method, path, status, body, sleep_ms in (
            ("GET", "/data/items/1", 200, b"", None),
            ("POST", "/model/generate?ms=150", 201, b"", 150),
            ("GET", "/user/old-profile", 301, b"", None),
            ("POST", "/user/signup", 400, b"", None),
            ("POST", "/user/signup", 201, b'{"a":1}', None),
            ("GET", "/user/login", 401, b"", None),
            ("GET", "/user/admin", 403, b"", None),
            ("GET", "/user/profile/2001", 404, b"", None),
            ("GET", "/model/crash", 500, b"", None),
            ("GET", "/model/gateway", 502, b"", None),
            ("GET", "/model/unavailable", 503, b"", None),
            ("GET", "/status/204", 204, b"", None),
            ("DELETE", "/data/items/5", 204, b"", None),
            ("GET", "/data/sleep?ms=200", 200, b"", 200),
            ("GET", "/data/sync?ms=60", 200, b"", 60),
            ("GET", "/data/big?kb=700", 200, b"", None),
            ("HEAD", "/data/head", 200, b"", None)):
        ex.append(fresh(port, Req(method, path, status, body=body, close=True,
                                  sleep_ms=sleep_ms)))
    stream = fresh(port, Req("GET", "/data/stream?chunks=6&ms=20", 200, close=True))
    stream.at_least_ms = 120  # six sleeps of 20 ms between the chunks
    ex.append(stream)
    ex.append(fresh(port, Req("GET", "/data/items/2", 200, version="1.0")))
    ex += keepalive(port)
    ex += pipeline(port, [Req("GET", f"/user/profile/{i}", 200) for i in range(5)])
    ex += pipeline(port, mixed(50))
    # 200 requests (~20 KB) in one SSL_write: two TLS records, a request cut between them
    ex += pipeline(port, [Req("GET", "/data/items/3", 200, headers={"X-Pad": "p" * 40})
                          for _ in range(200)])
    ex.append(split_head(port))
    ex.append(record_per_byte(port))
    ex += body_tail_with_next_head(port)
    ex.append(upload(port))
    ex.append(expect_continue(port))
    ex += tls12_keepalive(port)
    ex += resumed(port, check_reused=workers == 1)
    ex.append(client_gone(port))
    handshake_only(port, nr)
    garbage_hello(port, nr)
    ex.append(fresh(port, Req("GET", "/data/items/4", 200, close=True)))  # after the garbage
    return ex


def compare(reqs, recs, label, tls=True):
    """Every request exactly once, nothing else on the port; fields, tls and timing."""
    by = {}
    for r in recs:
        by.setdefault((r["method"], r["path"], r["query"]), []).append(r)
    problems = []
    mine = {}
    for q in reqs:
        got = by.pop((q.method, q.path, q.query), [])
        if len(got) != 1:
            problems.append(f"{q.name}: captured {len(got)} times")
        else:
            mine[q.id] = got[0]
    for q in reqs:
        r = mine.get(q.id)
        if r is None:
            continue
        if r.get("tls") is not tls:
            problems.append(f"{q.name}: tls {r.get('tls')!r}, want {tls}")
        if not q.answered:
            if r["status"] != 0 or "no_response" not in r["flags"]:
                problems.append(f"{q.name}: client left, want status 0/no_response, got "
                                f"{r['status']} {r['flags']}")
            continue
        if r["status"] != q.status:
            problems.append(f"{q.name}: status {r['status']}, client saw {q.status}")
        d = r["duration_ms"]
        # the server may have been late to read the send's first bytes (its wait, not part of
        # the duration; the same for every request of that send)
        late = (mine.get(q.lead.id) or {}).get("wait_ms") or 0
        if d is None or d > q.client_ms + ABOVE_MS or d + late < q.head_ms - BELOW_MS:
            problems.append(f"{q.name}: duration {d} ms, client {q.client_ms:.3f} ms (head "
                            f"{q.head_ms:.3f}; allowed +{ABOVE_MS:g} over the end, "
                            f"-{BELOW_MS:g} under the head less the wait {late}; ttfb "
                            f"{r['ttfb_ms']}, seq {r['seq']})")
            continue
        if r["ttfb_ms"] is None or r["ttfb_ms"] > d + 1e-6 or r["ttfb_ms"] < 0:
            problems.append(f"{q.name}: ttfb {r['ttfb_ms']} vs duration {d}")
        if q.sleep_ms is not None and d < q.sleep_ms - SLEEP_SLACK_MS:
            problems.append(f"{q.name}: duration {d:.3f} ms < its sleep {q.sleep_ms} ms")
        if d < getattr(q, "at_least_ms", 0) - SLEEP_SLACK_MS:
            problems.append(f"{q.name}: duration {d:.3f} ms < {q.at_least_ms} ms")
        if r["version"] != q.version:
            problems.append(f"{q.name}: version {r['version']}, sent {q.version}")
        if r["bytes_in"] < getattr(q, "bytes_in_min", 0):
            problems.append(f"{q.name}: bytes_in {r['bytes_in']} < body {q.bytes_in_min}")
        for k in ("queue_ms", "wait_ms"):
            if r.get(k) is not None and r[k] < 0:
                problems.append(f"{q.name}: {k} {r[k]}")
    # requests on one client connection: one connection id, seq in the order sent
    conns = {}
    for q in reqs:
        if q.conn is not None and q.id in mine:
            conns.setdefault(q.conn, []).append((q.order, mine[q.id]))
    for tag, rs in conns.items():
        if len(rs) < 2:
            continue
        rs.sort(key=lambda x: x[0])
        ids = {r["conn"] for _, r in rs}
        seqs = [r["seq"] for _, r in rs]
        first = seqs[0]
        if len(ids) != 1 or seqs != list(range(first, first + len(rs))):
            problems.append(f"{len(rs)} requests on one connection ({rs[0][1]['path']}?"
                            f"{rs[0][1]['query']}...): conn ids {sorted(ids)[:4]}, seq "
                            f"{seqs[:8]}{'...' if len(seqs) > 8 else ''}")
    for k, rs in by.items():
        problems.append(f"unexpected record(s) {k}: {len(rs)} (status "
                        f"{[r['status'] for r in rs][:3]}, tls {[r.get('tls') for r in rs][:3]})")
    h.check(not problems, f"{label}: " + "; ".join(problems[:8]) +
            (f" (+{len(problems) - 8} more)" if len(problems) > 8 else ""))


def kernel_line(err):
    lines = [ln for ln in err.splitlines() if ln.strip().startswith("kernel:")]
    h.check(lines, f"no kernel counter line in the summary: {err[-400:]!r}")
    return lines[-1]


def counter(err, name):
    line = kernel_line(err)
    for word in line.split():
        if word.startswith(name + "="):
            return int(word.split("=", 1)[1])
    h.check(False, f"no {name} in the kernel line: {line.strip()!r}")


def check_summary(tr, label, tls_conns_min, no_plaintext=None):
    """No loss; tls_unbound 0; tls_conns at least the connections that carried requests;
    tls_no_plaintext between the connections that began a handshake but carried no request
    and all connections without a request (no_plaintext = (low, high))."""
    err = tr.stderr()
    h.check("requests, 0 lost (" in err, f"{label}: losses reported: {err[-500:]!r}")
    h.check(counter(err, "tls_unbound") == 0, f"{label}: tls_unbound: {kernel_line(err)}")
    n = counter(err, "tls_conns")
    h.check(n >= tls_conns_min, f"{label}: tls_conns {n} < {tls_conns_min} TLS connections that "
                                "carried requests")
    if no_plaintext is not None:
        lo, hi = no_plaintext
        n = counter(err, "tls_no_plaintext")
        h.check(lo <= n <= hi, f"{label}: tls_no_plaintext {n}, want {lo}..{hi} (connections "
                               "without a request)")


def port_records(tr, port, pids=None):
    recs = [r for r in tr.json_lines() if r["port"] == port]
    if pids is not None:
        recs = [r for r in recs if r["pid"] in pids]
    return recs


def alive(tr, label):
    h.check(tr.proc.poll() is None, f"{label}: httplat exited ({tr.proc.returncode}): "
                                    f"{tr.stderr()[-400:]!r}")


def conns_of(reqs):
    """How many client connections carried these requests."""
    return len({q.conn for q in reqs if q.conn is not None})


def documents_read(tr, *servers, timeout=10):
    """Waits until httplat has read each server's OpenAPI document (its first request to a
    worker makes FastAPI build the schema, tens of ms of the worker's time): a request of the
    test that coincides with it has been seen to reach the client 35-47 ms after its SSL_write
    on uvloop workers, a delay neither in its duration nor in its wait (reported to the lead;
    kept out of the timing checks of the other tests)."""
    deadline = time.monotonic() + timeout * h.SLOWDOWN
    for srv in servers:
        while f"routes for port {srv.port}:" not in tr.stderr() and time.monotonic() < deadline:
            time.sleep(0.05)
    time.sleep(0.1)


def trace(*servers):
    """httplat trace --json on these servers (by PID), once it has read their documents."""
    args = []
    for srv in servers:
        args += ["--pid", str(srv.proc.pid)]
    tr = h.Httplat("trace", "--json", *args)
    documents_read(tr, *servers)
    return tr


def traced_mix(srv, label, workers=1):
    tr = trace(srv)
    nr = NoRequest()
    reqs = mix(srv.port, nr, workers)
    time.sleep(0.6)  # the client that left: its connection closes a little later
    alive(tr, label)
    tr.stop()
    compare(reqs, port_records(tr, srv.port), label)
    check_summary(tr, label, conns_of(reqs), (nr.hello, nr.conns))
    return tr


@h.test
def asyncio_h11():
    srv = tls_server(loop="asyncio", http="h11")
    traced_mix(srv, "TLS asyncio+h11")
    srv.stop()


@h.test
def uvloop_httptools():
    srv = tls_server(loop="uvloop", http="httptools")
    traced_mix(srv, "TLS uvloop+httptools")
    srv.stop()


@h.test
def workers_2():
    srv = tls_server(loop="uvloop", http="httptools", workers=2)
    tr = traced_mix(srv, "TLS --workers 2", workers=2)
    pids = {r["pid"] for r in port_records(tr, srv.port)}
    h.check(srv.proc.pid not in pids, "the supervisor itself should not serve requests")
    srv.stop()


@h.test
def gunicorn_uvicorn_worker():
    srv = tls_server(gunicorn=True, workers=2)
    traced_mix(srv, "TLS gunicorn UvicornWorker", workers=2)
    srv.stop()


@h.test
def concurrent_connections():
    """12 TLS connections at once on one uvloop worker, each with keep-alive requests and
    small pipelines of every kind interleaved with the others': each request once, its own
    status (ciphertext reads of one connection never credited to another)."""
    srv = tls_server(loop="uvloop", http="httptools")
    tr = trace(srv)
    out, errs = [], []
    lock = threading.Lock()

    def client(k):
        try:
            mine = []
            with tls_connect(srv.port) as s:
                for j in range(6):
                    if j % 2:
                        batch = mixed(12)[k % 12:] + mixed(12)[:k % 12][:4]
                    else:
                        batch = [Req("GET", f"/data/sleep?ms={k % 4 * 5}", 200)]
                    mine += on_conn(s, batch)
            for i, r in enumerate(mine):
                r.conn, r.order = mine[0].conn, i
            with lock:
                out.extend(mine)
        except Exception as e:  # noqa: BLE001
            errs.append(repr(e))

    ts = [threading.Thread(target=client, args=(k,)) for k in range(12)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    h.check(not errs, f"client errors: {errs[:3]}")
    time.sleep(0.3)
    tr.stop()
    # the threads share two cores: a request's client time includes the other threads' turns,
    # so only the upper bound (and exactness, status, tls, seq) is meaningful here
    for r in out:
        r.head_ms = 0
    compare(out, port_records(tr, srv.port), "12 concurrent TLS connections")
    check_summary(tr, "12 concurrent TLS connections", 12)
    srv.stop()


@h.test
def handshakes_are_not_requests():
    """Connections that only handshake, send garbage instead of a ClientHello, or abort the
    handshake (half a hello, gone after the server's flight, an untrusted
    certificate, no bytes at all): no record, httplat keeps running and traces the next
    request; tls_no_plaintext counts every connection that began a handshake (a garbage one
    may count too, a bare TCP connect need not)."""
    srv = tls_server(loop="asyncio", http="h11")
    tr = trace(srv)
    nr = NoRequest()
    handshake_only(srv.port, nr, n=3)
    handshake_then_close_notify(srv.port, nr)
    garbage_hello(srv.port, nr)
    partial_hello(srv.port, nr)
    abort_after_server_hello(srv.port, nr)
    untrusted_client(srv.port, nr)
    tcp_only(srv.port, nr)
    time.sleep(0.5)
    alive(tr, "after the failed handshakes")
    after = [fresh(srv.port, Req("GET", "/data/items/1", 200)) for _ in range(2)]
    time.sleep(0.3)
    tr.stop()
    compare(after, port_records(tr, srv.port), "handshakes only")
    check_summary(tr, "handshakes only", 2, (nr.hello, nr.conns))
    err = tr.stderr()
    print(f"  {nr.conns} connections without a request ({nr.hello} began a handshake): "
          f"tls_conns={counter(err, 'tls_conns')} "
          f"tls_no_plaintext={counter(err, 'tls_no_plaintext')}", flush=True)
    srv.stop()


@h.test
def plaintext_http_to_tls_port():
    """http:// to an https:// port: a plaintext request where a ClientHello belongs is garbage
    to the TLS server (it never reaches the app, nothing answers it): no record, while a TLS
    request on the same port before and after it is traced."""
    srv = tls_server(loop="asyncio", http="h11")
    tr = trace(srv)
    nr = NoRequest()
    reqs = [fresh(srv.port, Req("GET", "/data/items/1", 200))]
    plain_path = plaintext_http_to_tls(srv.port, nr)
    reqs.append(fresh(srv.port, Req("GET", "/data/items/1", 200)))
    time.sleep(0.3)
    alive(tr, "after plaintext HTTP on the TLS port")
    tr.stop()
    recs = port_records(tr, srv.port)
    bad = [r for r in recs if r["path"] == plain_path]
    h.check(not bad, f"plaintext HTTP sent to the TLS port has a record: {bad}")
    compare(reqs, recs, "plaintext HTTP to the TLS port")
    srv.stop()


@h.test
def preexisting_tls_connection():
    """A TLS connection handshaken and used before httplat started: later requests on it
    get records (tls true, preexisting)."""
    # the connection idles while httplat loads: more than uvicorn's 5 s keep-alive on a slow host
    srv = tls_server(loop="asyncio", http="h11", extra=("--timeout-keep-alive", "60"))
    s = tls_connect(srv.port)
    before = on_conn(s, [Req("GET", "/data/items/1", 200)])
    tr = trace(srv)
    reqs = []
    for i in range(3):
        reqs += on_conn(s, [Req("GET", f"/data/items/{uid()}", 200)])
    reqs += on_conn(s, [Req("GET", "/data/items/2", 200) for _ in range(5)])  # a pipeline too
    for i, r in enumerate(reqs):
        r.conn, r.order = "pre", i
    s.close()
    time.sleep(0.3)
    tr.stop()
    recs = port_records(tr, srv.port)
    h.check(not [r for r in recs if r["query"] == before[0].query],
            "a record for the request served before httplat started")
    compare(reqs, recs, "pre-existing TLS connection")
    h.check(all("preexisting" in r["flags"] for r in recs),
            f"preexisting flag missing: {[r['flags'] for r in recs]}")
    check_summary(tr, "pre-existing TLS connection", 1)
    srv.stop()


@h.test
def tls_server_started_after_httplat():
    """Default discovery: a TLS uvicorn started after httplat (libssl loaded after its exec)
    is traced; the harness's own port probe (a TCP connect, no hello) gives no record."""
    tr = h.Httplat("trace", "--json")
    srv = tls_server(loop="uvloop", http="httptools")
    documents_read(tr, srv)
    reqs = [fresh(srv.port, Req("GET", "/data/items/1", 200)) for _ in range(3)]
    with tls_connect(srv.port) as s:
        reqs += on_conn(s, [Req("GET", "/data/items/2", 200) for _ in range(3)])
    time.sleep(0.3)
    tr.stop()
    compare(reqs, port_records(tr, srv.port), "TLS server started after httplat")
    srv.stop()


@h.test
def app_killed_mid_request():
    """The worker is SIGKILLed with a TLS request in flight: status 0, no_response, proc_exit,
    tls true."""
    srv = tls_server(loop="asyncio", http="h11")
    tr = trace(srv)
    r = Req("GET", "/data/sleep?ms=3000")
    s = tls_connect(srv.port)
    s.sendall(r.bytes)
    time.sleep(0.3)
    os.kill(srv.proc.pid, signal.SIGKILL)
    srv.proc.wait(10)
    s.close()
    time.sleep(0.3)
    tr.stop()
    recs = [x for x in tr.json_lines() if x["query"] == r.query]
    h.check(len(recs) == 1, f"want one record of the killed request, got {len(recs)}")
    x = recs[0]
    h.check(x["status"] == 0 and "no_response" in x["flags"] and "proc_exit" in x["flags"],
            f"want status 0, no_response, proc_exit: {x}")
    h.check(x.get("tls") is True, f"tls {x.get('tls')!r}: {x}")
    h.check(250 <= x["duration_ms"] <= 3000, f"abandoned after {x['duration_ms']} ms")


def plain_fresh(port, r):
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        on_conn(s, [r])
    return r


@h.test
def plaintext_and_tls_at_once():
    """A plaintext and a TLS server traced together, requests on both interleaved and
    concurrent: tls false on one, true on the other, each request once."""
    plain = h.Uvicorn(loop="uvloop", http="httptools")
    tls = tls_server(loop="uvloop", http="httptools")
    tr = trace(plain, tls)
    p_reqs, t_reqs = [], []
    for _ in range(5):
        p_reqs.append(plain_fresh(plain.port, Req("GET", "/data/items/1", 200, close=True)))
        t_reqs.append(fresh(tls.port, Req("GET", "/data/items/1", 200, close=True)))
    with socket.create_connection(("127.0.0.1", plain.port), timeout=30) as s:
        p_reqs += on_conn(s, mixed(24))
    t_reqs += pipeline(tls.port, mixed(24))
    # both at once, from two threads: keep-alive connections of each kind
    errs = []

    def loop(fn, out):
        try:
            for _ in range(10):
                out.append(fn(Req("GET", "/data/sleep?ms=5", 200, close=True)))
        except Exception as e:  # noqa: BLE001
            errs.append(repr(e))

    a, b = [], []
    ts = [threading.Thread(target=loop, args=(lambda r: plain_fresh(plain.port, r), a)),
          threading.Thread(target=loop, args=(lambda r: fresh(tls.port, r), b))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    h.check(not errs, f"client errors: {errs}")
    p_reqs += a
    t_reqs += b
    time.sleep(0.3)
    tr.stop()
    compare(p_reqs, port_records(tr, plain.port), "plaintext beside TLS", tls=False)
    compare(t_reqs, port_records(tr, tls.port), "TLS beside plaintext", tls=True)
    check_summary(tr, "plaintext and TLS", conns_of(t_reqs))
    plain.stop()
    tls.stop()


@h.test
def run_rows_tls():
    """`httplat run`: TLS requests are rows with tls = true (plaintext ones beside them false),
    exactly once, right status and duration; httplat_health has the kernel_tls_* columns."""
    tls = tls_server(loop="asyncio", http="h11")
    plain = h.Uvicorn(loop="asyncio", http="h11")
    host = "e2e-tls-run"
    spool = tempfile.mkdtemp(prefix="httplat-spool-")
    h.at_exit(lambda: shutil.rmtree(spool, ignore_errors=True))
    rn = h.Httplat("run", "--pid", str(tls.proc.pid), "--pid", str(plain.proc.pid), "--db",
                   pg().conninfo, "--host", host, "--spool-dir", spool, "--stats-interval", "1")
    documents_read(rn, tls, plain)
    t_reqs = [fresh(tls.port, Req("GET", p, st, close=True)) for p, st in
              (("/data/items/1", 200), ("/user/login", 401), ("/model/unavailable", 503),
               ("/status/204", 204), ("/data/sleep?ms=50", 200))]
    t_reqs += pipeline(tls.port, mixed(12))
    p_reqs = [plain_fresh(plain.port, Req("GET", "/data/items/2", 200, close=True))
              for _ in range(3)]
    want = len(t_reqs) + len(p_reqs)
    deadline = time.monotonic() + 20 * h.SLOWDOWN
    n = 0
    while time.monotonic() < deadline:
        n = int(pg().sql(f"SELECT count(*) FROM httplat.http_requests WHERE host = '{host}'")
                [0][0])
        if n >= want:
            break
        time.sleep(0.2)
    time.sleep(1.2)  # one more health row after the last request
    h.check(rn.stop() == 0, f"httplat run exit status: {rn.stderr()[-400:]!r}")
    rows = pg().sql("SELECT method, query, status, coalesce(duration_ms::text, 'NULL'), "
                    "coalesce(wait_ms, 0), tls FROM httplat.http_requests WHERE host = "
                    f"'{host}'")
    by = {}
    for m, q, st, d, w, t in rows:
        by.setdefault((m, q), []).append((int(st), d, float(w), t))
    waits = {k: v[0][2] for k, v in by.items()}
    problems = []
    for reqs, want_tls in ((t_reqs, "t"), (p_reqs, "f")):
        for q in reqs:
            got = by.pop((q.method, q.query), [])
            if len(got) != 1:
                problems.append(f"{q.name}: {len(got)} rows")
                continue
            st, d, _, t = got[0]
            if t != want_tls:
                problems.append(f"{q.name}: tls {t}, want {want_tls}")
            if st != q.status:
                problems.append(f"{q.name}: status {st}, client saw {q.status}")
            late = waits.get((q.lead.method, q.lead.query), 0)
            if d == "NULL" or not (q.head_ms - BELOW_MS <= float(d) + late and
                                   float(d) <= q.client_ms + ABOVE_MS):
                problems.append(f"{q.name}: duration {d}, client {q.client_ms:.3f} ms (head "
                                f"{q.head_ms:.3f}, wait {late})")
    for k, v in by.items():
        problems.append(f"unexpected rows {k}: {v}")
    h.check(not problems, f"{n} rows for {want} requests: " + "; ".join(problems[:8]))
    cols = {c for (c,) in pg().sql(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'httplat' "
        "AND table_name = 'httplat_health'")}
    need = {"kernel_tls_conns", "kernel_tls_unbound", "kernel_tls_no_plaintext"}
    h.check(need <= cols, f"httplat_health lacks {sorted(need - cols)}")
    got = pg().sql("SELECT max(kernel_tls_conns), max(kernel_tls_unbound) FROM "
                   f"httplat.httplat_health WHERE host = '{host}'")[0]
    h.check(got[0] and int(got[0]) >= conns_of(t_reqs) and int(got[1]) == 0,
            f"httplat_health kernel_tls_conns {got[0]} (>= {conns_of(t_reqs)} wanted), "
            f"kernel_tls_unbound {got[1]} (0 wanted)")
    tls.stop()
    plain.stop()


if __name__ == "__main__":
    h.realtime_client()
    sys.exit(h.run_tests())
