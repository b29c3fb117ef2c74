#!/usr/bin/python3
"""test_pg_schema.py: httplat's own schema beside an app's tables, migration, refusal, many hosts.

`httplat run` into a real PostgreSQL 15 (one server, a database per test):
- an app-owned public.http_requests stays byte-for-byte as it was; httplat's rows go to
  httplat.http_requests; nothing is created in public; no search_path is set;
- httplat's version-1 layout in public is moved into schema httplat with its rows;
- a table in httplat's way (httplat.http_requests made by hand), a role that may not create the
  schema, a writer without partition privileges: a clear message and exit status 2, never
  "connected";
- three daemons (--host a|b|c) into one database, started at once on an empty database, each
  restarted under load, retention and partition creation run concurrently: every request
  exactly once per host, rollups per host right, batch ids unique, no error;
- one httplat_health column per kernel counter of bpf/httplat.h, re-added when missing;
- --schema puts everything in another schema.
"""
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

V1_SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pg_v1_schema.sql")
ROLES = os.path.join(h.ROOT, "scripts", "pg-roles.sh")
_pg = None


def pg():
    global _pg
    if _pg is None:
        _pg = h.Postgres()
    return _pg


def conn(db, user="postgres"):
    return f"host={pg().dir} port={pg().port} user={user} dbname={db}"


def psql(db, query, user="postgres", check=True):
    """Rows (lists of strings) of the last statement in query, run in database db."""
    r = subprocess.run(["psql", "-X", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", query,
                        conn(db, user)], capture_output=True, text=True)
    if check and r.returncode:
        raise RuntimeError(f"psql failed: {r.stderr.strip()}\nquery: {query}")
    return [line.split("\t") for line in r.stdout.splitlines() if line != ""]


def one(db, query, user="postgres"):
    return psql(db, query, user)[0][0]


def new_db(name):
    pg().sql(f"CREATE DATABASE {name}")
    return name


def spool_dir():
    d = tempfile.mkdtemp(prefix="httplat-spool-")
    h.at_exit(lambda: subprocess.run(["rm", "-rf", d]))
    return d


def run(app, db, host, *extra, user="postgres", ready="tracing", spool=None):
    return h.Httplat("run", "--pid", str(app.proc.pid), "--db", conn(db, user), "--host", host,
                     "--spool-dir", spool or spool_dir(), "--stats-interval", "1", *extra,
                     ready=ready)


def count(db, host, schema="httplat"):
    return int(one(db, f"SELECT count(*) FROM {schema}.http_requests WHERE host = '{host}'"))


def wait_count(db, host, want, timeout=20.0, schema="httplat"):
    deadline = time.monotonic() + timeout
    n = count(db, host, schema)
    while n < want and time.monotonic() < deadline:
        time.sleep(0.1)
        n = count(db, host, schema)
    return n


def send(app, first, n):
    paths = [f"/data/items/{first + i}" for i in range(n)]
    for p in paths:
        h.check(h.http(app.port, "GET", p)[0] == 200, f"request {p} failed")
    return paths


def wait_exit(hl, timeout=30):
    try:
        return hl.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        raise h.CheckFailed(f"httplat run still running after {timeout}s: {hl.stderr()[-800:]}")


def fingerprint(db):
    """What must not change in the app's part of the database: the table's bytes on disk,
    its definition, every object in public, role and database settings."""
    psql(db, "CHECKPOINT")
    return {
        "file": one(db, "SELECT md5(pg_read_binary_file(pg_relation_filepath("
                        "'public.http_requests')))"),
        "class": psql(db, "SELECT relfilenode, relowner, relacl, relkind, relnatts, relhasindex, "
                          "relpages FROM pg_class WHERE oid = 'public.http_requests'::regclass"),
        "columns": psql(db, "SELECT attname, format_type(atttypid, atttypmod), attnotnull, "
                            "atthasdef FROM pg_attribute WHERE attrelid = "
                            "'public.http_requests'::regclass AND attnum > 0 ORDER BY attnum"),
        "indexes": psql(db, "SELECT pg_get_indexdef(indexrelid) FROM pg_index "
                            "WHERE indrelid = 'public.http_requests'::regclass ORDER BY 1"),
        "rows": psql(db, "SELECT md5(string_agg(t::text, '|' ORDER BY t.id)) "
                         "FROM public.http_requests t"),
        "public": psql(db, "SELECT relname, relkind FROM pg_class WHERE relnamespace = "
                           "'public'::regnamespace UNION ALL SELECT proname, 'f' FROM pg_proc "
                           "WHERE pronamespace = 'public'::regnamespace ORDER BY 1"),
        "settings": psql(db, "SELECT setdatabase, setrole, setconfig FROM pg_db_role_setting "
                             "ORDER BY 1, 2"),
        "search_path": psql(db, "SHOW search_path"),
    }


@h.test
def test_app_table_untouched():
    """An app that already has public.http_requests (the in-app middleware kind): httplat's
    rows go to httplat.http_requests and the app's table is byte-for-byte as it was."""
    db = new_db("app_owned")
    psql(db, "CREATE TABLE public.http_requests (id serial PRIMARY KEY, ts timestamptz NOT NULL "
             "DEFAULT now(), method text, path text, status integer, duration_ms double "
             "precision); INSERT INTO public.http_requests (method, path, status, duration_ms) "
             "VALUES ('GET', '/health', 200, 1.5)")
    psql(db, "VACUUM (FREEZE) public.http_requests")  # hint bits set: reads change no byte
    before = fingerprint(db)
    app = h.Uvicorn()
    hl = run(app, db, "e2e-app")
    paths = send(app, 1000, 20)
    h.check(wait_count(db, "e2e-app", 20) == 20, "rows not written to httplat.http_requests")
    h.check(hl.stop() == 0, "httplat run exit status")
    err = hl.stderr()
    h.check("connected to" in err and "error" not in err.lower(), err[-800:])
    after = fingerprint(db)
    for key in before:
        h.check(before[key] == after[key], f"app's {key} changed: {before[key]} -> {after[key]}")
    got = {r[0] for r in psql(db, "SELECT path FROM httplat.http_requests")}
    h.check(got == set(paths), "httplat's rows are not the requests sent")
    h.check(one(db, "SELECT count(*) FROM public.http_requests") == "1", "app rows changed")


@h.test
def test_v1_layout_migrates_with_rows():
    """httplat's version-1 tables in public (before schemas) move into schema httplat: the rows,
    the rollup, health and alert rows are kept; the app's own table in public stays."""
    db = new_db("v1_layout")
    r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", V1_SCHEMA, conn(db)],
                       capture_output=True, text=True)
    h.check(r.returncode == 0, r.stderr)
    psql(db, "SELECT httplat_ensure_partitions(current_date - 1, 3)")
    psql(db, "INSERT INTO http_requests (ts, host, api, method, route, path, status, duration_ms, "
             "bytes_in, bytes_out, pid) SELECT now() - i * interval '1 s', 'old-host', 'data', "
             "'GET', '/data/items/{id}', '/data/items/' || i, 200, i, 10, 20, 1 "
             "FROM generate_series(1, 50) AS i")
    psql(db, "SELECT httplat_reroll('old-host', now() - interval '1 hour', now() + "
             "interval '1 minute')")
    psql(db, "INSERT INTO httplat_health SELECT now(), 'old-host', now(), 1, 1, 100, 50, 0, "
             "7, 0, 0, 0, 3, 0, 0, 7, 50, 0, 0, 0, 0, 0, 0, 0, 0, ''")
    psql(db, "INSERT INTO alerts (ts, host, rule, api, severity, state, delivered) VALUES "
             "(now(), 'old-host', 'latency', 'data', 'warning', 'firing', 1)")
    psql(db, "CREATE TABLE public.users (id integer PRIMARY KEY); INSERT INTO public.users "
             "VALUES (1), (2)")
    old = one(db, "SELECT md5(string_agg(concat_ws(',', ts, path, duration_ms), '|' ORDER BY "
                  "path)) FROM http_requests")
    app = h.Uvicorn()
    hl = run(app, db, "e2e-v1")
    err = hl.stderr()
    h.check("moved httplat's version-1 tables from public to schema httplat (6 tables, 3 daily "
            "partitions, about 50 request rows kept)" in err, err[-800:])
    h.check("002_split_tls_counters.sql in schema httplat (version 2)" in err, err[-800:])
    send(app, 5000, 10)
    h.check(wait_count(db, "e2e-v1", 10) == 10, "new rows not written")
    moved = one(db, "SELECT md5(string_agg(concat_ws(',', ts, path, duration_ms), '|' ORDER BY "
                    "path)) FROM httplat.http_requests WHERE host = 'old-host'")
    h.check(moved == old, "the version-1 rows changed in the move")
    h.check(one(db, "SELECT sum(count) FROM httplat.http_requests_1m WHERE host = 'old-host'")
            == "50", "old rollup rows")
    h.check(psql(db, "SELECT kernel_ringbuf_full, kernel_parse_giveup, kernel_dropped, "
                     "kernel_conn_evicted IS NULL FROM httplat.httplat_health "
                     "WHERE host = 'old-host'") == [["7", "3", "7", "t"]],
            "health counters not renamed with their values")
    h.check(one(db, "SELECT count(*) FROM httplat.alerts") == "1", "alert rows")
    left = psql(db, "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
                    "AND relkind IN ('r', 'p') ORDER BY 1")
    h.check(left == [["users"]], f"left in public: {left}")
    h.check(one(db, "SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace "
                    "AND proname LIKE 'httplat%'") == "0", "functions left in public")
    h.check(one(db, "SELECT count(*) FROM public.users") == "2", "the app's table changed")
    h.check(hl.stop() == 0, "exit status")
    hl2 = run(app, db, "e2e-v1")  # again: nothing more to move or apply
    send(app, 6000, 5)
    h.check(wait_count(db, "e2e-v1", 15) == 15, "rows after restart")
    h.check(hl2.stop() == 0, "exit status after restart")
    h.check(int(one(db, "SELECT count(*) FROM httplat.httplat_health WHERE host = 'e2e-v1' "
                        "AND kernel_requests IS NOT NULL")) >= 2,
            "health rows of the migrated layout (a counter gone from the table must not "
            "make them fail)")
    h.check("moved" not in hl2.stderr() and "applied" not in hl2.stderr(), hl2.stderr()[-500:])


@h.test
def test_conflicting_table_refused():
    """A user's own httplat.http_requests: exit 2 at start with the table and what to do;
    nothing created beside it. Renamed out of the way, the next start works."""
    db = new_db("conflict")
    psql(db, "CREATE SCHEMA httplat; CREATE TABLE httplat.http_requests (ts timestamptz, "
             "path text); INSERT INTO httplat.http_requests VALUES (now(), '/mine')")
    app = h.Uvicorn()
    spool = spool_dir()
    t0 = time.monotonic()
    hl = run(app, db, "e2e-conflict", ready=None, spool=spool)
    h.check(wait_exit(hl) == 2, f"exit status {hl.proc.returncode}: {hl.stderr()[-800:]}")
    took = time.monotonic() - t0
    err = hl.stderr()
    h.check("table httplat.http_requests exists but was not created by httplat" in err, err)
    h.check("rename or drop httplat.http_requests" in err and "--schema" in err, err)
    h.check("connected to" not in err, "said connected")
    h.check(took < 15, f"took {took:.1f}s to refuse")
    h.check(psql(db, "SELECT relname FROM pg_class WHERE relnamespace = 'httplat'::regnamespace")
            == [["http_requests"]], "httplat created something beside the conflict")
    h.check(one(db, "SELECT path FROM httplat.http_requests") == "/mine", "user's table changed")
    psql(db, "ALTER TABLE httplat.http_requests RENAME TO my_requests")
    hl = run(app, db, "e2e-conflict", spool=spool)
    send(app, 7000, 5)
    h.check(wait_count(db, "e2e-conflict", 5) == 5, "rows after the conflict was removed")
    h.check(hl.stop() == 0, "exit status")


@h.test
def test_missing_privileges_refused():
    """A role that may not create the schema, and a writer whose partition function grant was
    revoked: each stops with exit 2, the privilege named and scripts/pg-roles.sh as the fix."""
    db = new_db("noperm")
    psql(db, "CREATE ROLE nobody_writer LOGIN")
    app = h.Uvicorn()
    hl = run(app, db, "e2e-noperm", user="nobody_writer", ready=None)
    h.check(wait_exit(hl) == 2, f"exit status {hl.proc.returncode}: {hl.stderr()[-800:]}")
    err = hl.stderr()
    h.check("42501" in err and "permission denied" in err and "pg-roles.sh" in err, err[-800:])
    h.check("connected to" not in err, "said connected")
    db = new_db("partperm")
    r = subprocess.run([ROLES, conn(db)], capture_output=True, text=True)
    h.check(r.returncode == 0, r.stderr)
    psql(db, "REVOKE EXECUTE ON FUNCTION httplat.httplat_ensure_partitions(date, integer) "
             "FROM httplat_writer")
    hl = run(app, db, "e2e-partperm", user="httplat_writer", ready=None)
    h.check(wait_exit(hl) == 2, f"exit status {hl.proc.returncode}: {hl.stderr()[-800:]}")
    err = hl.stderr()
    h.check("httplat_ensure_partitions" in err and "pg-roles.sh" in err, err[-800:])
    h.check("connected to" not in err, "said connected")


class Load(threading.Thread):
    """Sequential requests with unique paths to one app; pausable; remembers what was served."""

    def __init__(self, app, first):
        super().__init__(daemon=True)
        self.app, self.next, self.done = app, first, []
        self.go = threading.Event()
        self.idle = threading.Event()
        self.stop_flag = False
        self.error = None
        self.go.set()

    def run(self):
        while not self.stop_flag:
            if not self.go.is_set():
                self.idle.set()
                self.go.wait(0.05)
                continue
            self.idle.clear()
            path = f"/data/items/{self.next}"
            self.next += 1
            try:
                status, _, _ = h.http(self.app.port, "GET", path)
            except OSError as e:
                self.error = e
                continue
            self.done.append((path, status))
            time.sleep(0.003)
        self.idle.set()

    def pause(self):
        self.go.clear()
        self.idle.wait(10)

    def finish(self):
        self.stop_flag = True
        self.go.set()
        self.join(30)
        return self.done


@h.test
def test_three_hosts_one_database():
    """Three daemons started at once on an empty database (schema made once, under the lock),
    each restarted under load; retention and partition creation hammered from three sessions
    meanwhile: every request exactly once per host, rollups per host right, ids unique."""
    db = new_db("fleet")
    hosts = ["a", "b", "c"]
    apps = {x: h.Uvicorn() for x in hosts}
    spools = {x: spool_dir() for x in hosts}
    start = ["run", "--db", conn(db), "--spool-dir", "{spool}", "--stats-interval", "1",
             "--retention-days", "7", "--flush-ms", "100"]

    def daemon(x, ready="tracing"):
        args = [a.replace("{spool}", spools[x]) for a in start]
        return h.Httplat(*args, "--pid", str(apps[x].proc.pid), "--host", x, ready=ready)

    daemons = {x: daemon(x, ready=None) for x in hosts}  # all at once
    for x in hosts:
        daemons[x].wait_stderr("tracing")
    applied = sum("schema: applied" in daemons[x].stderr() for x in hosts)
    h.check(applied == 1, f"{applied} daemons applied the schema")
    psql(db, "SELECT httplat.httplat_ensure_partitions(current_date - 30, 1)")  # an old day

    errors = []

    def hammer():
        for _ in range(15):
            for q in ("SELECT httplat.httplat_retention(7, 90)",
                      "SELECT httplat.httplat_ensure_partitions(current_date - 1, 4)"):
                r = subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", q,
                                    conn(db)], capture_output=True, text=True)
                if r.returncode:
                    errors.append(r.stderr.strip())
            time.sleep(0.05)

    loads = {x: Load(apps[x], 100000 * (i + 1)) for i, x in enumerate(hosts)}
    for ld in loads.values():
        ld.start()
    hammers = [threading.Thread(target=hammer, daemon=True) for _ in range(3)]
    for t in hammers:
        t.start()
    time.sleep(2.0)
    pids = {}
    for x in hosts:  # each restarted while the others keep writing
        loads[x].pause()
        pids[x] = daemons[x].proc.pid
        h.check(daemons[x].stop() == 0, f"host {x}: exit status")
        h.check("dropped 0," in daemons[x].stderr().split("exit:")[-1],
                daemons[x].stderr()[-500:])
        daemons[x] = daemon(x)
        loads[x].go.set()
        time.sleep(0.7)
    time.sleep(1.5)
    for t in hammers:
        t.join(60)
    done = {x: loads[x].finish() for x in hosts}
    h.check(not errors, f"retention/partitions failed concurrently: {errors[:3]}")
    for x in hosts:
        h.check(loads[x].error is None, f"host {x}: load failed: {loads[x].error}")
        h.check(all(s == 200 for _, s in done[x]), f"host {x}: the app failed requests")
        want = {p for p, _ in done[x]}
        h.check(len(want) > 100, f"host {x}: only {len(want)} requests")
        n = wait_count(db, x, len(want), timeout=30)
        paths = [r[0] for r in psql(db, f"SELECT path FROM httplat.http_requests "
                                        f"WHERE host = '{x}'")]
        h.check(n == len(want) and len(paths) == len(set(paths)),
                f"host {x}: {n} rows ({len(paths) - len(set(paths))} twice) for "
                f"{len(want)} requests")
        h.check(set(paths) == want, f"host {x}: {len(want - set(paths))} requests missing")
        roll = one(db, f"SELECT sum(count) FROM httplat.http_requests_1m WHERE host = '{x}'")
        h.check(int(roll) == len(want), f"host {x}: rollup counts {roll}, want {len(want)}")
    for x in hosts:
        h.check(daemons[x].stop() == 0, f"host {x}: exit status after restart")
        err = daemons[x].stderr()
        h.check("maintenance failed" not in err and "write failed" not in err, err[-600:])
    writers = psql(db, "SELECT host, count(DISTINCT writer) FROM httplat.httplat_batches "
                       "GROUP BY host ORDER BY host")
    h.check(writers == [[x, "2"] for x in hosts], f"writer ids per host: {writers}")
    shared = one(db, "SELECT count(*) FROM (SELECT writer, seq, sub FROM httplat.httplat_batches "
                     "GROUP BY 1, 2, 3 HAVING count(*) > 1) AS d")
    h.check(shared == "0", f"{shared} batch ids used by two hosts")
    pids_seen = psql(db, "SELECT host, count(DISTINCT daemon_pid) FROM httplat.httplat_health "
                         "GROUP BY host ORDER BY host")
    h.check(pids_seen == [[x, "2"] for x in hosts], f"health rows per host: {pids_seen}")
    old = one(db, "SELECT count(*) FROM pg_class WHERE relname = 'http_requests_p' || "
                  "to_char(current_date - 30, 'YYYYMMDD')")
    h.check(old == "0", "the old partition was not dropped")
    print(f"  rows per host: {', '.join(f'{x} {len(done[x])}' for x in hosts)}", flush=True)


def counter_columns():
    """kernel_<column> for every X(NAME, column, kind, meaning) of HTTPLAT_COUNTERS."""
    cols = [c for _, c, _, _ in h.kernel_counters()]
    h.check(len(cols) >= 9, f"parsed {cols} from HTTPLAT_COUNTERS")
    return ["kernel_" + c for c in cols]


@h.test
def test_health_column_per_kernel_counter():
    """Every counter of HTTPLAT_COUNTERS has its httplat_health column (filled), and a column
    missing from an older database is added by the writer at connect."""
    db = new_db("counters")
    app = h.Uvicorn()
    hl = run(app, db, "e2e-counters")
    send(app, 9000, 3)
    h.check(wait_count(db, "e2e-counters", 3) == 3, "rows")
    h.check(hl.stop() == 0, "exit status")
    want = counter_columns()
    have = {r[0] for r in psql(db, "SELECT column_name FROM information_schema.columns WHERE "
                                   "table_schema = 'httplat' AND table_name = 'httplat_health'")}
    missing = [c for c in want if c not in have]
    h.check(not missing, f"httplat_health lacks {missing}")
    row = psql(db, f"SELECT {', '.join(want)} FROM httplat.httplat_health "
                   "WHERE host = 'e2e-counters' ORDER BY ts DESC LIMIT 1")[0]
    h.check(all(v != "" for v in row), f"NULL kernel counters in a new row: {row}")
    h.check(int(row[want.index("kernel_requests")]) >= 3, f"kernel_requests {row}")
    psql(db, "ALTER TABLE httplat.httplat_health DROP COLUMN kernel_conn_evicted")
    hl = run(app, db, "e2e-counters")
    h.check("schema: added {kernel_conn_evicted} to httplat.httplat_health" in hl.stderr(),
            hl.stderr()[-500:])
    h.check(hl.stop() == 0, "exit status")


@h.test
def test_other_schema_name():
    """--schema puts every table and function in that schema; schema httplat is not made."""
    db = new_db("named")
    app = h.Uvicorn()
    hl = run(app, db, "e2e-named", "--schema", "metrics_httplat")
    send(app, 9500, 4)
    h.check(wait_count(db, "e2e-named", 4, schema="metrics_httplat") == 4, "rows")
    h.check(hl.stop() == 0, "exit status")
    h.check(one(db, "SELECT count(*) FROM pg_namespace WHERE nspname = 'httplat'") == "0",
            "schema httplat made anyway")
    h.check(one(db, "SELECT metrics_httplat.httplat_quantile(metrics_httplat.httplat_hist_sum"
                    "(hist), 0.5) IS NOT NULL FROM metrics_httplat.http_requests_1m") == "t",
            "functions in the named schema")
    r = subprocess.run([h.HTTPLAT, "run", "--schema", "Bad-Name"], capture_output=True,
                       text=True)
    h.check(r.returncode == 1 and "invalid schema 'Bad-Name'" in r.stderr, r.stderr)


@h.test
def test_rollup_only():
    """--rollup-only: no row per request, every request counted in the per-minute rollup."""
    db = new_db("rollup_only")
    app = h.Uvicorn()
    hl = run(app, db, "e2e-rollup", "--rollup-only")
    h.check("writing the per-minute rollup only" in hl.stderr(), hl.stderr()[-300:])
    send(app, 9700, 12)
    deadline = time.monotonic() + 20
    n = 0
    while n < 12 and time.monotonic() < deadline:
        n = int(one(db, "SELECT coalesce(sum(count), 0) FROM httplat.http_requests_1m "
                        "WHERE host = 'e2e-rollup'"))
        time.sleep(0.1)
    h.check(n == 12, f"rollup counts {n} requests, want 12")
    h.check(count(db, "e2e-rollup") == 0, "request rows written in rollup-only mode")
    p50 = one(db, "SELECT httplat.httplat_quantile(httplat.httplat_hist_sum(hist), 0.5, "
                  "max(max_ms)) FROM httplat.http_requests_1m WHERE host = 'e2e-rollup'")
    h.check(0 < float(p50) < 1000, f"p50 {p50}")
    h.check(hl.stop() == 0, "exit status")
    h.check("rows written 12," in hl.stderr().split("exit:")[-1], hl.stderr()[-400:])


if __name__ == "__main__":
    sys.exit(h.run_tests())
