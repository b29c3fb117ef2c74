#!/usr/bin/python3
"""test_run.py: `httplat run` end to end: real uvicorn traced into a real PostgreSQL.

Rows must match what the client sent and saw; a PostgreSQL outage under load must lose
nothing and store nothing twice; hostile paths must be stored without harming neighbours.
"""
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

_pg = None


def pg():
    """One PostgreSQL for the whole file; each test writes under its own host name."""
    global _pg
    if _pg is None:
        _pg = h.Postgres()
    return _pg


def run_httplat(app, host, *extra):
    spool = tempfile.mkdtemp(prefix="httplat-spool-")
    h.at_exit(lambda: subprocess.run(["rm", "-rf", spool]))
    hl = h.Httplat("run", "--pid", str(app.proc.pid), "--db", pg().conninfo, "--host", host,
                   "--spool-dir", spool, "--stats-interval", "1", *extra)
    return hl, spool


def rows(host, cols="method, path, query, route, status, duration_ms, ttfb_ms, api, bytes_in, "
                    "flags"):
    """Rows of one host, text columns hex-encoded (psql's output is tab separated)."""
    hexed = []
    for c in cols.split(", "):
        if c in ("path", "query", "route"):
            hexed.append(f"encode(convert_to({c}, 'UTF8'), 'hex')")
        else:
            hexed.append(f"coalesce({c}::text, 'NULL')")
    out = []
    for r in pg().sql(f"SELECT {', '.join(hexed)} FROM httplat.http_requests WHERE host = '{host}' "
                      "ORDER BY ts"):
        d = {}
        for name, v in zip(cols.split(", "), r):
            d[name] = bytes.fromhex(v).decode("utf-8") if name in ("path", "query", "route") else v
        out.append(d)
    return out


def count(host, table="httplat.http_requests"):
    return int(pg().sql(f"SELECT count(*) FROM {table} WHERE host = '{host}'")[0][0])


def wait_count(host, want, timeout=20.0):
    """Polls until host has want rows; returns (count, seconds waited)."""
    t0 = time.monotonic()
    n = count(host)
    while n < want and time.monotonic() - t0 < timeout:
        time.sleep(0.05)
        n = count(host)
    return n, time.monotonic() - t0


@h.test
def test_rows_match_requests():
    app = h.Uvicorn()
    hl, _ = run_httplat(app, "e2e-match")
    sent = [  # method, path, query, body, want route, want api, want status, server sleep ms
        ("GET", "/data/items/1", "", b"", "/data/items/{item_id}", "data", 200, 0),
        ("GET", "/data/items/22", "", b"", "/data/items/{item_id}", "data", 200, 0),
        ("POST", "/data/upload", "", b"x" * 5000, "/data/upload", "data", 200, 0),
        ("GET", "/model/7/mesh", "ms=80", b"", "/model/{model_id}/mesh", "model", 200, 80),
        ("GET", "/model/crash", "", b"", "/model/crash", "model", 500, 0),
        ("GET", "/model/unavailable", "", b"", "/model/unavailable", "model", 503, 0),
        ("GET", "/user/login", "", b"", "/user/login", "user", 401, 0),
        ("GET", "/nope/3f2504e0-4f89-11d3-9a0c-0305e82c3301", "", b"",
         "unmatched", "other", 404, 0),
        ("GET", "/data/sleep", "ms=150", b"", "/data/sleep", "data", 200, 150),
    ]
    seen = []
    for method, path, query, body, *_ in sent:
        target = path + ("?" + query if query else "")
        status, _, secs = h.http(app.port, method, target, body)
        seen.append((status, secs, len(h.build_request(method, target, body, close=True))))
    last = time.monotonic()
    n, _ = wait_count("e2e-match", len(sent))
    visible_after = time.monotonic() - last
    h.check(n == len(sent), f"{n} rows, want {len(sent)}")
    h.check(visible_after < 1.0 * h.SLOWDOWN,
            f"rows visible {visible_after:.2f}s after the last response")
    print(f"  last row visible {visible_after * 1000:.0f} ms after its response", flush=True)
    got = rows("e2e-match")
    for (method, path, query, _, route, api, want_status, sleep_ms), (status, secs, nbytes), r \
            in zip(sent, seen, got):
        where = f"{method} {path}: {r}"
        h.check(status == want_status, f"client saw {status} for {path}")
        h.check((r["method"], r["path"], r["query"]) == (method, path, query), where)
        h.check((r["route"], r["api"], int(r["status"])) == (route, api, status), where)
        dur = float(r["duration_ms"])
        h.check(sleep_ms <= dur <= secs * 1000 + 5, f"duration {dur} ms, client {secs * 1000:.1f} ms "
                f"(server sleeps {sleep_ms} ms): {where}")
        h.check(0 <= float(r["ttfb_ms"]) <= dur, where)
        h.check(int(r["bytes_in"]) == nbytes, f"bytes_in {r['bytes_in']}, sent {nbytes}: {where}")
    # the rollup counts the same requests, per minute, with a histogram the SQL can read
    roll = pg().sql("SELECT sum(count), sum(count) FILTER (WHERE status = 500), "
                    "max(httplat.httplat_quantile(hist, 0.5, max_ms)) FILTER (WHERE route = '/data/sleep') "
                    "FROM httplat.http_requests_1m WHERE host = 'e2e-match'")[0]
    h.check(int(roll[0]) == len(sent), f"rollup counts {roll[0]} requests")
    h.check(int(roll[1]) == 1, f"rollup 500s: {roll[1]}")
    h.check(150 <= float(roll[2]) <= 400, f"rollup p50 of /data/sleep {roll[2]}")
    # the latency split as stored: queue + wait + duration within what the client waited; the
    # rollup's wait histogram counts exactly the rows whose wait is known; plaintext: tls false
    split = pg().sql("SELECT path, coalesce(queue_ms::text, 'NULL'), coalesce(wait_ms::text, "
                     "'NULL'), duration_ms, tls FROM httplat.http_requests "
                     "WHERE host = 'e2e-match' ORDER BY ts")
    known = 0
    for (path, q, w, d, tls), (status, secs, _) in zip(split, seen):
        h.check(tls == "f", f"{path}: tls {tls}")
        parts = [float(x) for x in (q, w) if x != "NULL"]
        h.check(all(x >= 0 for x in parts), f"{path}: queue {q} wait {w}")
        h.check(sum(parts) + float(d) <= secs * 1000 + 5,
                f"{path}: queue {q} + wait {w} + duration {d} > client {secs * 1000:.1f} ms")
        known += bool(parts)
    waits = pg().sql("SELECT coalesce(sum(httplat.httplat_hist_count(wait_hist)), 0) "
                     "FROM httplat.http_requests_1m WHERE host = 'e2e-match'")[0][0]
    h.check(int(waits) == known, f"rollup wait histogram counts {waits}, {known} rows have one")
    print(f"  {known} of {len(sent)} rows with a known wait", flush=True)
    h.check(hl.stop() == 0, "httplat run exit status")
    err = hl.stderr()
    h.check("exit: requests" in err and "dropped 0" in err, err)
    h.check(pg().conninfo not in err, "conninfo printed")
    health = pg().sql("SELECT max(rows_written), max(requests) FROM httplat.httplat_health "
                      "WHERE host = 'e2e-match'")[0]
    h.check(int(health[0]) >= len(sent) - 1 and int(health[1]) == len(sent), f"health {health}")


class Load(threading.Thread):
    """Sequential requests with unique paths until stopped; remembers what got answered."""

    def __init__(self, port, first_id):
        super().__init__(daemon=True)
        self.port, self.first, self.done, self.stop_flag = port, first_id, [], False

    def run(self):
        i = 0
        while not self.stop_flag:
            path = f"/data/items/{self.first + i}"
            status, _, _ = h.http(self.port, "GET", path)
            self.done.append((path, status))
            i += 1
            time.sleep(0.002)

    def finish(self):
        self.stop_flag = True
        self.join(30)
        return self.done


def check_exactly_once(host, done):
    n, _ = wait_count(host, len(done), timeout=60)
    paths = [r[0] for r in pg().sql(f"SELECT path FROM httplat.http_requests WHERE host = '{host}'")]
    want = {p for p, _ in done}
    h.check(len(want) == len(done), "load sent a path twice")
    h.check(n == len(done), f"{n} rows for {len(done)} requests")
    h.check(len(paths) == len(set(paths)), f"{len(paths) - len(set(paths))} rows stored twice")
    missing = want - set(paths)
    h.check(not missing, f"{len(missing)} requests missing, e.g. {sorted(missing)[:3]}")
    roll = int(pg().sql("SELECT coalesce(sum(count), 0) FROM httplat.http_requests_1m "
                        f"WHERE host = '{host}'")[0][0])
    h.check(roll == len(done), f"rollup counts {roll}, want {len(done)}")


def outage(host, first_id, take_down):
    app = h.Uvicorn()
    # a small memory bound makes the outage go through the spool files as well
    hl, spool = run_httplat(app, host, "--mem-max", "64K", "--flush-ms", "100")
    load = Load(app.port, first_id)
    load.start()
    time.sleep(1.0)
    take_down()
    down_from = len(load.done)
    time.sleep(4.0)  # down for a while, under load
    spooled = [f for f in os.listdir(spool) if f.endswith(".batch")]
    down_n = len(load.done) - down_from
    pg().start()
    time.sleep(1.5)
    done = load.finish()
    h.check(down_n > 100, f"only {down_n} requests while the database was down")
    h.check(spooled, "nothing was spooled while the database was down")
    check_exactly_once(host, done)
    h.check(all(s == 200 for _, s in done), "the app failed requests")  # it never needed the DB
    h.check(hl.stop() == 0, "httplat run exit status")
    err = hl.stderr()
    h.check("dropped 0," in err.split("exit:")[-1], err[-800:])


@h.test
def test_outage_loses_nothing():
    outage("e2e-outage", 100000, pg().stop)  # fast shutdown (SIGINT)


@h.test
def test_crash_loses_nothing():
    outage("e2e-crash", 300000, pg().kill)  # SIGKILL: connections cut mid-batch, crash recovery


def pg_processes():
    """The test PostgreSQL's processes, parents first (backends run in their own sessions)."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    kids = {}
    for line in out.splitlines():
        pid, ppid = map(int, line.split())
        kids.setdefault(ppid, []).append(pid)
    res, todo = [], [pg().proc.pid]
    while todo:
        p = todo.pop(0)
        res.append(p)
        todo.extend(kids.get(p, []))
    return res[1:]  # not runuser itself


@h.test
def test_hung_database_loses_nothing():
    """PostgreSQL frozen (SIGSTOP) under load: the connection is dropped after --db-timeout,
    rows go to the spool meanwhile, and all arrive exactly once after SIGCONT."""
    app = h.Uvicorn()
    hl, spool = run_httplat(app, "e2e-hung", "--mem-max", "64K", "--flush-ms", "100",
                            "--db-timeout", "2")
    load = Load(app.port, 400000)
    load.start()
    time.sleep(1.0)
    frozen = pg_processes()
    for pid in frozen:  # the postmaster first, so it starts no new backend
        os.kill(pid, signal.SIGSTOP)
    try:
        hl.wait_stderr("did not answer", timeout=15)
        deadline = time.monotonic() + 10
        while not any(f.endswith(".batch") for f in os.listdir(spool)) and \
                time.monotonic() < deadline:
            time.sleep(0.1)
        spooled = any(f.endswith(".batch") for f in os.listdir(spool))
    finally:
        # runuser stops itself when its child (the postmaster) stops: continue it too
        for pid in [pg().proc.pid] + frozen:
            os.kill(pid, signal.SIGCONT)
    time.sleep(2.0)
    done = load.finish()
    h.check(spooled, "nothing spooled while the database hung")
    check_exactly_once("e2e-hung", done)
    h.check(hl.stop() == 0, "httplat run exit status")
    h.check("dropped 0," in hl.stderr().split("exit:")[-1], hl.stderr()[-800:])


@h.test
def test_spool_replayed_after_restart():
    app = h.Uvicorn()
    hl, spool = run_httplat(app, "e2e-restart")
    pg().stop()
    done = []
    for i in range(50):
        path = f"/data/items/{200000 + i}"
        done.append((path, h.http(app.port, "GET", path)[0]))
    # stopped while the database is away: the queued rows go to the spool, not lost
    h.check(hl.stop() == 0, "httplat run exit status")
    files = [f for f in os.listdir(spool) if f.endswith(".batch")]
    h.check(files, "no spool file after stopping with the database down")
    copies = {f: open(os.path.join(spool, f), "rb").read() for f in files}
    pg().start()

    def replay():
        hl2 = h.Httplat("run", "--pid", str(app.proc.pid), "--db", pg().conninfo, "--host",
                        "e2e-restart", "--spool-dir", spool)
        deadline = time.monotonic() + 10
        while any(f.endswith(".batch") for f in os.listdir(spool)) and time.monotonic() < deadline:
            time.sleep(0.05)
        h.check(not any(f.endswith(".batch") for f in os.listdir(spool)), "spool not emptied")
        h.check(hl2.stop() == 0, "exit status")
        return hl2.stderr()

    err = replay()
    check_exactly_once("e2e-restart", done)
    h.check("spool replayed: 50 rows" in err, err[-600:])
    # the same batches again, as after a COMMIT whose answer was lost: recognised, not stored
    for f, data in copies.items():
        with open(os.path.join(spool, f), "wb") as out:
            out.write(data)
    err = replay()
    check_exactly_once("e2e-restart", done)
    h.check("duplicates skipped 50" in err.split("exit:")[-1], err[-600:])


@h.test
def test_hostile_paths_stored():
    app = h.Uvicorn()
    hl, _ = run_httplat(app, "e2e-hostile")
    hostile = [  # request target (latin-1 chars = raw bytes), stored path, stored query
        ("/data/q'uo\"te", "/data/q'uo\"te", ""),
        ("/data/back\\slash\\", "/data/back\\slash\\", ""),
        ("/data/\xff\xfe/x", "/data/\ufffd\ufffd/x", ""),
        ("/data/caf\xc3\xa9", "/data/café", ""),
        ("/data/a\tb", "/data/a\tb", ""),
        ("/data/a\rb", "/data/a\rb", ""),
        ("/data/nul\x00x", "/data/nul?x", ""),
        ("/data/items/5?x=\t\\y", "/data/items/5", "x=\t\\y"),
        ("/data/" + "L" * 2000, None, ""),  # truncated by the tracer: a prefix, flagged
        ("/data/\\.", "/data/\\.", ""),
    ]
    sent = []
    for i, (target, path, query) in enumerate(hostile):
        sent.append((f"/data/items/n{i}", ""))  # a neighbour before each hostile one
        h.http(app.port, "GET", f"/data/items/n{i}")
        h.http(app.port, "GET", target)
        sent.append((path, query))
    sent.append(("/data/items/last", ""))
    h.http(app.port, "GET", "/data/items/last")
    n, _ = wait_count("e2e-hostile", len(sent))
    h.check(n == len(sent), f"{n} rows, want {len(sent)}")
    got = [(r["path"], r["query"], int(r["flags"])) for r in rows("e2e-hostile")]
    for (path, query), (gpath, gquery, flags) in zip(sent, got):
        if path is None:
            h.check(len(gpath) >= 200 and ("/data/" + "L" * 2000).startswith(gpath),
                    f"long path stored as {gpath!r}")
            h.check(flags & (1 << 16), f"long path: truncated flag not set ({flags})")
            continue
        h.check((gpath, gquery) == (path, query), f"stored {gpath!r} {gquery!r}, want {path!r} {query!r}")
        if "\ufffd" in path or "nul" in path:
            h.check(flags & (1 << 17), f"{path!r}: path_invalid flag not set ({flags})")
    err = hl.stderr()
    h.check("rejected 0" in err or "rejected" not in err, err[-500:])
    h.check(hl.stop() == 0, "httplat run exit status")
    rejected = pg().sql("SELECT max(rows_rejected) FROM httplat.httplat_health WHERE host = 'e2e-hostile'")
    h.check(rejected[0][0] == "0", f"rows rejected: {rejected}")


@h.test
def test_bad_options_and_database():
    r = subprocess.run([h.HTTPLAT, "run", "--mem-max", "12Q"], capture_output=True, text=True)
    h.check(r.returncode != 0 and "invalid --mem-max" in r.stderr, r.stderr)
    r = subprocess.run([h.HTTPLAT, "run", "--retention-days", "-3"], capture_output=True, text=True)
    h.check(r.returncode != 0 and "invalid --retention-days" in r.stderr, r.stderr)
    # a wrong password is reported without printing it, and tracing goes on (rows spooled)
    app = h.Uvicorn()
    secret = "hunter2-not-printed"
    spool = tempfile.mkdtemp(prefix="httplat-spool-")
    h.at_exit(lambda: subprocess.run(["rm", "-rf", spool]))
    url = f"postgresql://nobody:{secret}@127.0.0.1:1/none?connect_timeout=1"
    hl = h.Httplat("run", "--pid", str(app.proc.pid), "--db", url, "--host", "e2e-bad",
                   "--spool-dir", spool)
    h.http(app.port, "GET", "/data/items/1")
    hl.wait_stderr("cannot connect")
    h.check(hl.stop(signal.SIGTERM) == 0, "exit status on SIGTERM")
    err = hl.stderr()
    h.check(secret not in err, "password printed")
    h.check("spooled 1" in err.split("exit:")[-1] or
            any(f.endswith(".batch") for f in os.listdir(spool)), err[-600:])


@h.test
def test_bench_ingest_writes_every_row():
    r = subprocess.run([h.HTTPLAT, "bench-ingest", "50000", "--db", pg().conninfo,
                        "--host", "e2e-bench"], capture_output=True, text=True, timeout=300)
    h.check(r.returncode == 0, r.stdout + r.stderr)
    h.check("verified: 50000 rows" in r.stdout, r.stdout)
    h.check(count("e2e-bench") == 50000, "bench rows")
    print("  " + r.stdout.splitlines()[0], flush=True)


@h.test
def test_bad_rows_isolated():
    """Rows the database refuses are rejected one by one; their batch neighbours are stored."""
    r = subprocess.run([h.HTTPLAT, "bench-ingest", "30000", "--bad-every", "7000", "--db",
                        pg().conninfo, "--host", "e2e-bad-rows"], capture_output=True, text=True,
                       timeout=300)
    h.check(r.returncode == 0, r.stdout + r.stderr[-1000:])
    h.check("rejected 4" in r.stdout, r.stdout)
    h.check(r.stderr.count("row rejected (23514") == 4, r.stderr[-1000:])
    h.check(count("e2e-bad-rows") == 30000 - 4, "neighbours of bad rows lost")
    roll = int(pg().sql("SELECT sum(count) FROM httplat.http_requests_1m WHERE host = 'e2e-bad-rows'")[0][0])
    h.check(roll == 30000 - 4, f"rollup counts {roll} (re-rolled without the rejected rows)")
    far = pg().sql("SELECT count(*) FROM pg_class WHERE relname LIKE 'http_requests_p22%'")
    h.check(far[0][0] == "0", "a bad timestamp created partitions")


@h.test
def test_least_privilege_writer_and_retention():
    """scripts/pg-roles.sh roles suffice for `httplat run`; retention drops whole partitions."""
    db = pg()
    db.sql("CREATE DATABASE roles_test")
    admin = db.conninfo.replace("dbname=postgres", "dbname=roles_test")
    r = subprocess.run([os.path.join(h.ROOT, "scripts", "pg-roles.sh"), admin],
                       capture_output=True, text=True)
    h.check(r.returncode == 0, r.stderr)
    r = subprocess.run([os.path.join(h.ROOT, "scripts", "pg-roles.sh"), admin],
                       capture_output=True, text=True)
    h.check(r.returncode == 0, "second run: " + r.stderr)  # idempotent

    def sql(q, conn=admin, check=True):
        p = subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", q, conn],
                           capture_output=True, text=True)
        if check and p.returncode:
            raise RuntimeError(p.stderr)
        return p

    # an old day of data, as if left from weeks ago
    sql("SELECT httplat.httplat_ensure_partitions(current_date - 30, 1)")
    sql("INSERT INTO httplat.http_requests_1m (minute, host, api, route, status, count) "
        "VALUES (now() - interval '100 days', 'old', 'data', '/x', 200, 1)")
    writer = admin.replace("user=postgres", "user=httplat_writer")
    reader = admin.replace("user=postgres", "user=httplat_reader")
    h.check(sql("DELETE FROM httplat.alerts", writer, check=False).returncode != 0, "writer may delete")
    h.check(sql("INSERT INTO httplat.alerts (ts, host, rule, api, severity, state, delivered) VALUES "
                "(now(), 'x', 'r', 'a', 's', 'firing', 0)", reader, check=False).returncode != 0,
            "reader may insert")
    app = h.Uvicorn()
    spool = tempfile.mkdtemp(prefix="httplat-spool-")
    h.at_exit(lambda: subprocess.run(["rm", "-rf", spool]))
    hl = h.Httplat("run", "--pid", str(app.proc.pid), "--db", writer, "--host", "e2e-roles",
                   "--spool-dir", spool, "--retention-days", "7", "--rollup-days", "90")
    for i in range(20):
        h.http(app.port, "GET", f"/data/items/{i}")
    deadline = time.monotonic() + 10
    n = 0
    while n < 20 and time.monotonic() < deadline:
        n = int(sql("SELECT count(*) FROM httplat.http_requests WHERE host = 'e2e-roles'", reader)
                .stdout.strip())
        time.sleep(0.05)
    h.check(n == 20, f"{n} rows written by httplat_writer")
    h.check("permission denied" not in hl.stderr(), hl.stderr())
    old = sql("SELECT count(*) FROM pg_class WHERE relname = 'http_requests_p' || "
              "to_char(current_date - 30, 'YYYYMMDD')").stdout.strip()
    h.check(old == "0", "partition older than --retention-days not dropped")
    h.check(sql("SELECT count(*) FROM httplat.http_requests_1m WHERE host = 'old'").stdout.strip() == "0",
            "rollup older than --rollup-days not deleted")
    roll = sql("SELECT sum(count) FROM httplat.http_requests_1m WHERE host = 'e2e-roles'", reader)
    h.check(roll.stdout.strip() == "20", f"rollup via the writer role: {roll.stdout}")
    h.check(hl.stop() == 0, "exit status")


if __name__ == "__main__":
    sys.exit(h.run_tests())
