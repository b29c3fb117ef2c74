#!/usr/bin/python3
"""soak.py: the body of `make soak`: `httplat run` for a long while at a fixed request rate.

Starts a throwaway PostgreSQL, the test app (tests/apps/app.py) under gunicorn with uvicorn
workers recycled by --max-requests and under a plain uvicorn (uvloop + httptools), and
`httplat run` tracing both into the database. An open-loop client sends --rate requests a
second with a unique id each (query `sid=N`): on keep-alive connections, on fresh ones, and in
pipelined bursts, over a mix of statuses. PostgreSQL is stopped in the middle for
--pg-down seconds. Every minute it samples httplat's RSS and open fds, its logged counters
(kernel tables, ring buffer, rows queued/spooled/dropped) and the spool's size. At the end
every answered request must have exactly one row with the status the client saw.

    /usr/bin/python3 scripts/soak.py --minutes 30 --rate 200      # what `make soak` runs

Writes build/soak/report.md (parameters, per-minute table, charts, accounting, verdict),
build/soak/samples.json (raw figures) and build/soak/soak.png when matplotlib is there.
Exits 0 when the soak ran (whatever its verdict), 2 when it could not run.
"""
import argparse
import json
import os
import queue
import random
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests", "e2e"))
import harness as h  # noqa: E402

HOST = "soak"

# (weight, method, path, body): {n} a random id, {big} one >= 1000 (404), {ms} a short sleep.
MIX = [
    (40, "GET", "/data/items/{n}", b""),
    (10, "GET", "/data/sleep?ms={ms}", b""),
    (6, "POST", "/data/upload", b"x" * 2048),
    (3, "GET", "/data/stream?chunks=3&ms=5", b""),
    (3, "DELETE", "/data/items/{n}", b""),
    (8, "GET", "/model/{n}/mesh?ms={ms}", b""),
    (1, "GET", "/model/crash", b""),
    (2, "GET", "/model/unavailable", b""),
    (1, "GET", "/model/gateway", b""),
    (4, "GET", "/user/login", b""),
    (2, "GET", "/user/admin", b""),
    (8, "GET", "/user/profile/{n}", b""),
    (3, "GET", "/user/profile/{big}", b""),
    (3, "POST", "/user/signup", b'{"name": "soak"}'),
    (1, "POST", "/user/signup", b""),
    (2, "GET", "/user/old-profile", b""),
    (2, "GET", "/nope/{n}", b""),
    (1, "GET", "/status/418", b""),
]
PIPELINE_OK = ("/data/items/", "/user/", "/model/unavailable")  # short, Content-Length replies

COUNTERS = re.compile(
    r"httplat: run: (?P<when>counters|exit): requests (?P<requests>\d+), rows written "
    r"(?P<written>\d+), queued (?P<queued_rows>\d+), spooled (?P<spooled>\d+), dropped "
    r"(?P<dropped>\d+), rejected (?P<rejected>\d+), duplicates skipped (?P<dups>\d+), kernel "
    r"dropped (?P<kernel_dropped>\d+), kernel tables: conns (?P<conns>\d+)/(?P<conns_max>\d+), "
    r"pipelined (?P<queued>\d+)/(?P<queued_max>\d+), ring (?P<ring_kib>\d+) KiB \(peak "
    r"(?P<ring_peak_kib>\d+) of (?P<ring_size_kib>\d+) KiB\), db (?P<db>\w+)")


def log(msg):
    print(f"soak: {time.strftime('%H:%M:%S')} {msg}", flush=True)


class Conn:
    """One client connection; reads responses one by one (pipelining keeps the rest)."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""

    def _more(self):
        d = self.s.recv(65536)
        if not d:
            raise ConnectionError("closed by the server")
        self.buf += d

    def response(self):
        """Reads one response; returns (status, server wants to close)."""
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status, hdrs = h.parse_head(head)
        if b"content-length" in hdrs:
            n = int(hdrs[b"content-length"])
            while len(self.buf) < n:
                self._more()
            self.buf = self.buf[n:]
        elif hdrs.get(b"transfer-encoding") == b"chunked":
            while b"0\r\n\r\n" not in self.buf:  # the app's chunks never contain it
                self._more()
            self.buf = self.buf.split(b"0\r\n\r\n", 1)[1]
        return status, hdrs.get(b"connection") == b"close"

    def close(self):
        self.s.close()


class Client:
    """Open loop: a pacer puts jobs on a queue at --rate requests/s, workers send them."""

    def __init__(self, targets, rate, threads, seed):
        self.targets = targets  # [(name, port, share)]
        self.rate = rate
        self.rng = random.Random(seed)
        self.jobs = queue.Queue()
        self.done = []  # (sid, target, kind, status; 0 = no response, error, seconds in)
        self.t0 = time.monotonic()
        self.sid = 0
        self.stop_flag = threading.Event()
        self.max_backlog = 0
        self.late_max_s = 0.0
        self.pacer = threading.Thread(target=self._pace, daemon=True)
        self.workers = [threading.Thread(target=self._work, daemon=True) for _ in range(threads)]

    def start(self):
        self.t0 = time.monotonic()
        for w in self.workers:
            w.start()
        self.pacer.start()

    def _request(self):
        total = sum(w for w, *_ in MIX)
        x = self.rng.uniform(0, total)
        for w, method, path, body in MIX:
            x -= w
            if x <= 0:
                break
        path = path.format(n=self.rng.randint(1, 999), big=self.rng.randint(1000, 9999),
                           ms=self.rng.randint(1, 40))
        self.sid += 1
        return self.sid, method, path + ("&" if "?" in path else "?") + f"sid={self.sid}", body

    def _job(self):
        x = self.rng.random()
        name, port = self._target()
        if x < 0.08:
            reqs = []
            while len(reqs) < 3:
                r = self._request()
                if r[2].startswith(PIPELINE_OK):
                    reqs.append(r)
                else:
                    self.sid -= 1  # not sent: its id goes to the next one
            return "pipelined", name, port, reqs
        return ("fresh" if x < 0.38 else "keepalive"), name, port, [self._request()]

    def _target(self):
        x = self.rng.random()
        for name, port, share in self.targets:
            x -= share
            if x <= 0:
                return name, port
        return self.targets[-1][:2]

    def _pace(self):
        t = time.monotonic()
        while not self.stop_flag.is_set():
            kind, name, port, reqs = self._job()
            self.jobs.put((kind, name, port, reqs))
            self.max_backlog = max(self.max_backlog, self.jobs.qsize())
            t += len(reqs) / self.rate
            delay = t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                self.late_max_s = max(self.late_max_s, -delay)
        for _ in self.workers:
            self.jobs.put(None)

    def _work(self):
        conns = {}
        while True:
            job = self.jobs.get()
            if job is None:
                break
            kind, name, port, reqs = job
            conn = None
            try:
                if kind == "fresh":
                    conn = Conn(port)
                else:
                    conn = conns.get(port) or Conn(port)
                    conns[port] = conn
            except OSError:
                for sid, *_ in reqs:
                    self.done.append((sid, name, kind, 0, "connect", self._now()))
                continue
            data = b"".join(h.build_request(m, p, b, close=(kind == "fresh"))
                            for _, m, p, b in reqs)
            answered = 0
            try:
                conn.s.sendall(data)
                for sid, *_ in reqs:
                    status, close = conn.response()
                    self.done.append((sid, name, kind, status, "", 0))
                    answered += 1
                    # uvicorn closes the connection after an unhandled exception's 500
                    # without saying so: a request sent after it would find it closed
                    if (close or status == 500) and kind != "fresh":
                        for sid2, *_ in reqs[answered:]:  # pipelined after it: not answered
                            self.done.append((sid2, name, kind, 0, "closed", self._now()))
                        conns.pop(port, None)
                        conn.close()
                        break
            except (OSError, ValueError, IndexError) as e:
                for sid, *_ in reqs[answered:]:
                    self.done.append((sid, name, kind, 0, type(e).__name__, self._now()))
                conns.pop(port, None)
                conn.close()
                continue
            if kind == "fresh":
                conn.close()
        for c in conns.values():
            c.close()

    def _now(self):
        return round(time.monotonic() - self.t0, 2)

    def finish(self):
        self.stop_flag.set()
        self.pacer.join(30)
        for w in self.workers:
            w.join(60)
        return self.done


def counters_lines(hl):
    return [m.groupdict() for m in COUNTERS.finditer(hl.stderr())]


def last_counters(hl, after=0):
    """The latest counters line, waiting for one past the first `after` lines."""
    deadline = time.monotonic() + 30
    while True:
        lines = counters_lines(hl)
        if len(lines) > after or time.monotonic() > deadline:
            return ({k: (int(v) if v.isdigit() else v) for k, v in lines[-1].items()}
                    if lines else {}), len(lines)
        time.sleep(0.5)


def proc_sample(pid):
    with open(f"/proc/{pid}/status") as f:
        rss = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def dir_bytes(path):
    total = 0
    for name in os.listdir(path):
        try:
            total += os.path.getsize(os.path.join(path, name))
        except OSError:
            pass
    return total


class Restarts(threading.Thread):
    """Counts gunicorn workers that came and went (polls the process tree): when each new
    one was first seen, in seconds since t0."""

    def __init__(self, app):
        super().__init__(daemon=True)
        self.app, self.seen, self.stop_flag = app, set(), threading.Event()
        self.t0, self.times = time.monotonic(), []

    def run(self):
        while not self.stop_flag.wait(1.0):
            new = set(self.app.children()) - self.seen
            if new:
                self.times.append(round(time.monotonic() - self.t0, 1))
                self.seen.update(new)

    def restarts(self, workers):
        return max(0, len(self.seen) - workers)


def soak(opts, out):
    pg = h.Postgres()
    gun = h.Uvicorn(gunicorn=True, workers=opts.workers,
                    extra=("--max-requests", str(opts.max_requests), "--max-requests-jitter",
                           str(opts.max_requests // 4)))
    uvl = h.Uvicorn(loop="uvloop", http="httptools")
    spool = tempfile.mkdtemp(prefix="httplat-soak-spool-")
    h.at_exit(lambda: shutil.rmtree(spool, ignore_errors=True))
    hl = h.Httplat("run", "--pid", str(gun.proc.pid), "--pid", str(uvl.proc.pid),
                   "--db", pg.conninfo, "--host", HOST, "--spool-dir", spool,
                   "--mem-max", opts.mem_max, "--stats-interval", str(opts.stats_interval))
    log(f"httplat pid {hl.proc.pid}; gunicorn {gun.proc.pid} (port {gun.port}, {opts.workers} "
        f"workers), uvicorn uvloop {uvl.proc.pid} (port {uvl.port}); pg {pg.dir}")
    restarts = Restarts(gun)
    restarts.seen.update(gun.children())
    restarts.start()
    base, nlines = last_counters(hl, after=0)  # one line before any load: the baseline
    rss, fds = proc_sample(hl.proc.pid)
    samples = [dict(minute=0, sent=0, answered=0, rss_kib=rss, fds=fds, spool_bytes=0,
                    **base)]
    log(f"baseline: RSS {rss} KiB, {fds} fds, conns {base.get('conns')}")
    client = Client([("gunicorn", gun.port, 0.75), ("uvicorn", uvl.port, 0.25)], opts.rate,
                    opts.threads, opts.seed)
    t0 = time.monotonic()
    client.start()
    restarts.t0 = client.t0
    pg_minute = opts.minutes // 2
    outage = {}
    for minute in range(1, opts.minutes + 1):
        if minute == pg_minute + 1 and opts.pg_down > 0:  # at half time, +30 s
            time.sleep(max(0.0, t0 + (minute - 1) * 60 + 30 - time.monotonic()))
            log("stopping PostgreSQL (fast shutdown, by PID)")
            pg.stop()
            down_t, sent_before = time.monotonic(), len(client.done)
            peak = 0
            while time.monotonic() - down_t < opts.pg_down:
                peak = max(peak, dir_bytes(spool))
                time.sleep(1.0)
            pg.start()
            outage = dict(minute=round((down_t - t0) / 60, 2), seconds=opts.pg_down,
                          spool_peak_bytes=peak,
                          sent_during=len(client.done) - sent_before)
            log(f"PostgreSQL back; spool peaked at {peak} bytes")
        time.sleep(max(0.0, t0 + minute * 60 - time.monotonic()))
        c, nlines = last_counters(hl, after=nlines)
        rss, fds = proc_sample(hl.proc.pid)
        done = client.done
        s = dict(minute=minute, sent=len(done), answered=sum(1 for d in done if d[3]),
                 rss_kib=rss, fds=fds, spool_bytes=dir_bytes(spool), **c)
        samples.append(s)
        log(f"minute {minute}: sent {s['sent']}, RSS {rss} KiB, fds {fds}, conns "
            f"{c.get('conns')}, queued {c.get('queued')}, ring {c.get('ring_kib')}/"
            f"{c.get('ring_peak_kib')} KiB, rows written {c.get('written')}, spooled "
            f"{c.get('spooled')}, dropped {c.get('dropped')}/{c.get('kernel_dropped')}")
    done = client.finish()
    load_s = time.monotonic() - t0
    log(f"load stopped after {load_s:.0f} s: {len(done)} requests; waiting for the rows")
    want = sum(1 for d in done if d[3])
    deadline = time.monotonic() + 300
    stored = -1
    while time.monotonic() < deadline:
        n = int(pg.sql(f"SELECT count(*) FROM httplat.http_requests WHERE host = '{HOST}'")[0][0])
        if n == stored and n >= want:
            break
        stored = n
        time.sleep(3.0)
    after, nlines = last_counters(hl, after=nlines)  # a line with every connection closed
    after, nlines = last_counters(hl, after=nlines)
    rss, fds = proc_sample(hl.proc.pid)
    after_load = dict(rss_kib=rss, fds=fds, spool_bytes=dir_bytes(spool), **after)
    restarts.stop_flag.set()
    rc = hl.stop()
    err = hl.stderr()
    exits = [d for d in counters_lines(hl) if d["when"] == "exit"]
    health = pg.sql("SELECT row_to_json(x) FROM httplat.httplat_health x "
                    f"WHERE host = '{HOST}' ORDER BY ts DESC LIMIT 1")
    rows = pg.sql("SELECT coalesce(substring(query from '(?:^|&)sid=([0-9]+)'), ''), status, "
                  f"flags, pid FROM httplat.http_requests WHERE host = '{HOST}'")
    return dict(
        params=vars(opts), started=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(
            time.time() - load_s)), load_s=load_s, samples=samples, after_load=after_load,
        outage=outage, restarts=restarts.restarts(opts.workers), restart_times=restarts.times,
        client=dict(
            max_backlog=client.max_backlog, late_max_s=client.late_max_s),
        done=done, rows=rows, health=json.loads(health[0][0]) if health else {},
        exit=exits[-1] if exits else {}, httplat_rc=rc,
        stderr_tail=err[-3000:], loadavg=os.getloadavg(), nproc=os.cpu_count(),
        kernel=os.uname().release)


def cleanup():
    """Stops what harness started (by PID), newest first."""
    for fn in reversed(h._cleanups):
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            log(f"cleanup: {e!r}")
    h._cleanups.clear()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=int, default=30)
    ap.add_argument("--rate", type=float, default=200.0, help="requests/s, both apps together")
    ap.add_argument("--threads", type=int, default=16, help="client threads")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    ap.add_argument("--max-requests", type=int, default=4000, help="gunicorn --max-requests")
    ap.add_argument("--pg-down", type=int, default=20, help="seconds PostgreSQL is stopped")
    ap.add_argument("--mem-max", default="256K", help="httplat --mem-max (small: the outage "
                    "goes through the spool)")
    ap.add_argument("--stats-interval", type=int, default=10, help="httplat --stats-interval")
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--note", default="", help="a bold line in the BENCHMARKS.md part")
    ap.add_argument("--out", default=os.path.join(h.ROOT, "build", "soak"))
    opts = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("soak: run as root (BPF, PostgreSQL as user postgres)")
    os.makedirs(opts.out, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(2))
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import soak_report  # noqa: E402
    try:
        res = soak(opts, opts.out)
    except Exception as e:  # noqa: BLE001 -- the report says why; servers are stopped below
        log(f"could not run: {e!r}")
        cleanup()
        raise SystemExit(2)
    cleanup()
    verdict = soak_report.write(res, opts.out)
    log(f"report in {opts.out}/report.md: {verdict}")


if __name__ == "__main__":
    main()
