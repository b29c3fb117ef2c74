#!/usr/bin/python3
"""test_split.py: the latency split (issue 12) and connections keyed by socket, not fd.

queue_ms (accept-queue wait of a connection's first request) + wait_ms (the request's first
byte sat unread) + duration_ms is what the client waited, less the network: never above the
client's latency and at most 5 ms below it, for requests held up by a blocked event loop and
by a gunicorn worker restarting (--max-requests). A connection whose fd is dup2()ed and the
original closed keeps being traced; an fd reused after close carries no phantom latency.
"""
import os
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

BELOW_MS = 5.0  # the sum may be this much below the client's latency (network, client code)
ABOVE_MS = 0.2  # ... and never above it (clock reads on both sides)
_ids = iter(range(1, 10**9))


def uid():
    return next(_ids)


class Timed:
    def __init__(self, path):
        self.path, _, self.query = path.partition("?")
        self.query = (self.query + "&" if self.query else "") + f"id={uid()}"
        self.target = f"{self.path}?{self.query}"
        self.client_ms = None
        self.status = None


SO_TIMESTAMPNS = 35  # <asm-generic/socket.h>; SCM_TIMESTAMPNS is the same number


def read_response_at(s):
    """One response, and the kernel's receive time (CLOCK_MONOTONIC s) of its last segment.

    The client's latency ends when the kernel received the response, not when this thread got
    to run again: on a loaded machine that can be milliseconds later, and would be counted
    against httplat.
    """
    off = time.clock_gettime(time.CLOCK_REALTIME) - time.monotonic()
    buf, at, want = b"", None, None
    while want is None or len(buf) < want:
        data, anc, _, _ = s.recvmsg(65536, 64)
        if not data:
            raise RuntimeError("closed in a response")
        for level, kind, val in anc:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", val[:16])
                at = sec + nsec / 1e9 - off
        buf += data
        if want is None and b"\r\n\r\n" in buf:
            head, _, _ = buf.partition(b"\r\n\r\n")
            n = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    n = int(v)
            want = len(head) + 4 + n
    return int(buf.split(b" ", 2)[1]), at if at is not None else time.monotonic()


def fresh(port, t):
    """A request on a new connection; the client's clock starts before connect()."""
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        s.sendall(h.build_request("GET", t.target, close=True))
        t.status, t1 = read_response_at(s)  # its end, not the server's close after it
        t.client_ms = (t1 - t0) * 1000
    return t


def on(s, t):
    """A request on an open keep-alive connection."""
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    t0 = time.monotonic()
    s.sendall(h.build_request("GET", t.target))
    t.status, t1 = read_response_at(s)
    t.client_ms = (t1 - t0) * 1000
    return t


def total(r):
    return (r["queue_ms"] or 0) + (r["wait_ms"] or 0) + r["duration_ms"]


def check_split(reqs, recs, label, min_wait_ms=None):
    by = {(r["path"], r["query"]): r for r in recs}
    problems = []
    waited = 0
    for t in reqs:
        r = by.get((t.path, t.query))
        if r is None:
            problems.append(f"{t.target}: no record")
            continue
        s = total(r)
        if s > t.client_ms + ABOVE_MS or s < t.client_ms - BELOW_MS:
            problems.append(f"{t.target}: queue {r['queue_ms']} + wait {r['wait_ms']} + "
                            f"duration {r['duration_ms']:.3f} = {s:.3f} ms, client "
                            f"{t.client_ms:.3f} ms")
        if min_wait_ms is not None and (r["queue_ms"] or 0) + (r["wait_ms"] or 0) >= min_wait_ms:
            waited += 1
    h.check(not problems, f"{label}: " + "; ".join(problems[:5]))
    return waited


def blocked_loop(loop, http_impl):
    srv = h.Uvicorn(loop=loop, http=http_impl)
    tr = h.Httplat("trace", "--json", "--pid", str(srv.proc.pid))
    # keep-alive connections opened (and used) before the loop blocks
    conns, warm = [], []
    for _ in range(3):
        t0 = time.monotonic()  # a connection's first request: the client waited from connect()
        conns.append(socket.create_connection(("127.0.0.1", srv.port), timeout=30))
        t1 = time.monotonic()
        warm.append(on(conns[-1], Timed("/data/items/1")))
        warm[-1].client_ms += (t1 - t0) * 1000  # the connect, before the request's own time
    blocker = Timed("/data/block?ms=300")
    bt = threading.Thread(target=fresh, args=(srv.port, blocker))
    bt.start()
    time.sleep(0.08)
    waiting = [Timed("/data/items/2") for _ in range(6)]
    ts = [threading.Thread(target=on, args=(conns[i], waiting[i])) for i in range(3)]
    ts += [threading.Thread(target=fresh, args=(srv.port, waiting[i])) for i in range(3, 6)]
    for t in ts:
        t.start()
    for t in ts + [bt]:
        t.join()
    for s in conns:
        s.close()
    time.sleep(0.3)
    tr.stop()
    recs = [r for r in tr.json_lines() if r["port"] == srv.port]
    label = f"{loop}+{http_impl} blocked 300 ms"
    check_split(warm + [blocker], recs, label)
    n = check_split(waiting, recs, label, min_wait_ms=150)
    h.check(n == len(waiting), f"{label}: only {n} of {len(waiting)} requests show the wait")
    by = {(r["path"], r["query"]): r for r in recs}
    fresh_recs = [by[(t.path, t.query)] for t in waiting[3:]]
    h.check(all(r["queue_ms"] is not None and r["queue_ms"] >= 150 for r in fresh_recs),
            f"{label}: new connections should show the accept-queue wait: "
            f"{[(r['queue_ms'], r['wait_ms']) for r in fresh_recs]}")
    kept = [by[(t.path, t.query)] for t in waiting[:3]]
    h.check(all(r["queue_ms"] is None and r["wait_ms"] >= 150 for r in kept),
            f"{label}: keep-alive requests should show wait_ms only: "
            f"{[(r['queue_ms'], r['wait_ms']) for r in kept]}")
    srv.stop()


@h.test
def event_loop_blocked_asyncio():
    blocked_loop("asyncio", "h11")


@h.test
def event_loop_blocked_uvloop():
    blocked_loop("uvloop", "httptools")


@h.test
def gunicorn_worker_restart():
    """One worker recycled every 15 requests: requests queue while its successor starts."""
    srv = h.Uvicorn(gunicorn=True, workers=1, extra=("--max-requests", "15"))
    tr = h.Httplat("trace", "--json", "--pid", str(srv.proc.pid))
    reqs, reset = [], []
    stop = time.monotonic() + 6
    while time.monotonic() < stop:
        t = Timed("/data/items/3")
        try:
            reqs.append(fresh(srv.port, t))
        except ConnectionResetError:
            reset.append(t)  # accepted by the worker as it went away: gunicorn resets it
        time.sleep(0.02)
    time.sleep(0.3)
    tr.stop()
    recs = [r for r in tr.json_lines() if r["port"] == srv.port]
    h.check(all(t.status == 200 for t in reqs), "requests failed")
    by = {(r["path"], r["query"]): r for r in recs}
    h.check(all(by.get((t.path, t.query), {"status": 0})["status"] == 0 for t in reset),
            "a reset connection's request recorded as answered")
    n = check_split(reqs, recs, "gunicorn --max-requests", min_wait_ms=100)
    h.check(n >= 2, f"only {n} requests waited >= 100 ms: no restart seen "
                    f"(client max {max(t.client_ms for t in reqs):.0f} ms)")
    srv.stop()


def raw_server():
    port = h.free_port()
    proc = subprocess.Popen([h.PY, os.path.join(h.APPS, "rawserver.py"), str(port)],
                            start_new_session=True)
    h.at_exit(lambda: h.stop_pid(proc))
    h.wait_port(port, proc=proc)
    return proc, port


@h.test
def dup2_keeps_tracing():
    """dup2() the connection to another fd and close the original: still the same connection."""
    proc, port = raw_server()
    tr = h.Httplat("trace", "--json", "--pid", str(proc.pid), "--port", str(port))
    time.sleep(0.2)
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        t1 = time.monotonic()
        got = [on(s, Timed("/dup"))] + [on(s, Timed("/after")) for _ in range(3)]
    got[0].client_ms += (t1 - t0) * 1000  # the first request's wait began at connect()
    time.sleep(0.3)
    tr.stop()
    recs = [r for r in tr.json_lines() if r["port"] == port]
    check_split(got, recs, "dup2")
    h.check(len(recs) == 4 and len({r["conn"] for r in recs}) == 1,
            f"want 4 records on one connection: {[(r['path'], r['conn']) for r in recs]}")
    h.stop_pid(proc)


@h.test
def fd_reuse_no_phantom_latency():
    """A connection closed unanswered, then a new one on the same fd: no borrowed start time."""
    proc, port = raw_server()
    tr = h.Httplat("trace", "--json", "--pid", str(proc.pid), "--port", str(port))
    time.sleep(0.2)
    dropped = Timed("/drop")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(h.build_request("GET", dropped.target))
        h.recv_all(s)
    time.sleep(0.5)  # the dropped request's start is now long past
    later = [fresh(port, Timed("/fresh")) for _ in range(3)]
    time.sleep(0.3)
    tr.stop()
    recs = [r for r in tr.json_lines() if r["port"] == port]
    check_split(later, recs, "fd reuse")
    d = [r for r in recs if r["path"] == "/drop"]
    h.check(len(d) == 1 and d[0]["status"] == 0, f"the dropped request: {d}")
    h.stop_pid(proc)


if __name__ == "__main__":
    h.realtime_client()
    sys.exit(h.run_tests())
