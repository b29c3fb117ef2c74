#!/usr/bin/python3
"""traffic.py: steady, known traffic for the demo app (tests/apps/app.py); stdlib only.

Sends a weighted mix over the data, model and user APIs at a fixed arrival rate (open loop:
a slow response does not slow the schedule down while a worker is free). The mix makes the
demo light up every alert: data p95 ~600 ms (warning), model generation ~1200 ms
(critical), HTTP 500/502/503 from model, 301/400/401/403/404 from user.

    /usr/bin/python3 scripts/traffic.py --url http://127.0.0.1:8000 --rate 20 --seconds 60

Stops on SIGINT/SIGTERM or after --seconds; prints one summary line (requests per status)
on stderr and, with --json, a JSON object on stdout.
"""
import argparse
import http.client
import json
import random
import signal
import sys
import threading
import time
import urllib.parse

# (weight, method, path template, body); {n} is a random id, {big} an id >= 1000 (404).
MIX = [
    (30, "GET", "/data/items/{n}", b""),
    (10, "GET", "/data/sleep?ms={short}", b""),
    (4, "GET", "/data/sleep?ms=600", b""),
    (5, "POST", "/data/upload", b"x" * 1024),
    (2, "GET", "/data/stream?chunks=3&ms=5", b""),
    (3, "POST", "/model/generate?ms=1200", b"{}"),
    (4, "GET", "/model/{n}/mesh?ms=40", b""),
    (1, "GET", "/model/crash", b""),
    (1, "GET", "/model/unavailable", b""),
    (1, "GET", "/model/gateway", b""),
    (3, "GET", "/user/login", b""),
    (2, "GET", "/user/admin", b""),
    (9, "GET", "/user/profile/{n}", b""),
    (1, "GET", "/user/profile/{big}", b""),
    (2, "POST", "/user/signup", b'{"name": "demo"}'),
    (1, "POST", "/user/signup", b""),
    (2, "GET", "/user/old-profile", b""),
]


def pick(rng):
    """One request of the mix: (method, path, body)."""
    total = sum(w for w, *_ in MIX)
    x = rng.uniform(0, total)
    for w, method, path, body in MIX:
        x -= w
        if x <= 0:
            break
    path = path.format(n=rng.randint(1, 999), big=rng.randint(1000, 9999),
                       short=rng.randint(5, 80))
    return method, path, body


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.by_status = {}
        self.errors = 0

    def add(self, status):
        with self.lock:
            if status is None:
                self.errors += 1
            else:
                self.by_status[status] = self.by_status.get(status, 0) + 1

    def summary(self):
        with self.lock:
            return {"requests": sum(self.by_status.values()), "errors": self.errors,
                    "by_status": {str(k): v for k, v in sorted(self.by_status.items())}}


class Schedule:
    """Hands out send times at a fixed rate; None once stopped or past the end."""

    def __init__(self, rate, seconds):
        self.lock = threading.Lock()
        self.step = 1.0 / rate
        self.next = time.monotonic()
        self.end = self.next + seconds if seconds > 0 else None
        self.stop = threading.Event()

    def take(self):
        with self.lock:
            t = self.next
            self.next += self.step
        if self.end is not None and t >= self.end:
            return None
        return t


def send(conn, method, path, body):
    headers = {"Content-Type": "application/json"} if body else {}
    conn.request(method, path, body=body or None, headers=headers)
    resp = conn.getresponse()
    resp.read()
    return resp


def worker(url, sched, stats, seed, timeout):
    rng = random.Random(seed)
    conn, reused = None, False
    while not sched.stop.is_set():
        t = sched.take()
        if t is None:
            break
        delay = t - time.monotonic()
        if delay > 0 and sched.stop.wait(delay):
            break
        method, path, body = pick(rng)
        for attempt in (1, 2):
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(url.hostname, url.port or 80,
                                                      timeout=timeout)
                    reused = False
                resp = send(conn, method, path, body)
                stats.add(resp.status)
                reused = True
                if resp.will_close:
                    conn.close()
                    conn = None
                break
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                conn = None
                # A kept-alive connection the server closed meanwhile (uvicorn does after
                # a 500) is not a failure of this request: retry once on a new one.
                stale = reused and isinstance(e, (http.client.RemoteDisconnected,
                                                  ConnectionResetError, BrokenPipeError))
                if attempt == 2 or not stale:
                    stats.add(None)
                    break
    if conn is not None:
        conn.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8000", help="demo app base URL")
    ap.add_argument("--rate", type=float, default=20.0, help="requests per second (default 20)")
    ap.add_argument("--seconds", type=float, default=0, help="stop after this long (0: never)")
    ap.add_argument("--workers", type=int, default=32,
                    help="concurrent connections (default 32; slow requests hold one)")
    ap.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, seconds")
    ap.add_argument("--seed", type=int, default=1, help="random seed of the mix")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    args = ap.parse_args()
    url = urllib.parse.urlsplit(args.url)
    if url.scheme != "http" or not url.hostname:
        ap.error(f"--url must be http://host[:port], got {args.url!r}")
    if not 0 < args.rate <= 100000 or not 1 <= args.workers <= 1024:
        ap.error("--rate must be in (0, 100000] and --workers in [1, 1024]")

    sched, stats = Schedule(args.rate, args.seconds), Stats()
    signal.signal(signal.SIGTERM, lambda *_: sched.stop.set())
    signal.signal(signal.SIGINT, lambda *_: sched.stop.set())
    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, daemon=True,
                                args=(url, sched, stats, args.seed * 1000 + i, args.timeout))
               for i in range(args.workers)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        for t in threads:
            t.join(0.2)
    s = stats.summary()
    s["seconds"] = round(time.monotonic() - t0, 1)
    codes = " ".join(f"{k}={v}" for k, v in s["by_status"].items())
    print(f"traffic: {s['requests']} responses in {s['seconds']} s ({codes}), "
          f"{s['errors']} failed to connect or timed out", file=sys.stderr)
    if args.json:
        print(json.dumps(s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
