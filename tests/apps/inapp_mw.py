"""inapp_mw.py: the in-app way to time requests: an ASGI middleware storing each one in PostgreSQL.

The two variants `make bench` compares httplat with:
- "batched", done well: the request path only appends a tuple to a deque; a
  background thread wakes every FLUSH_S and writes what piled up with one COPY
  (connection errors: kept and retried; a batch PostgreSQL rejects: dropped, counted).
- "naive": one INSERT (autocommit) per request, on the event loop.
Both are plain ASGI middlewares (no BaseHTTPMiddleware, which costs far more).
"""
import atexit
import collections
import io
import sys
import threading
import time

import psycopg2

TABLE = "inapp_requests"
COLUMNS = ("ts", "method", "path", "status", "duration_ms")
DDL = (f"CREATE TABLE IF NOT EXISTS {TABLE} (ts double precision NOT NULL, method text NOT NULL,"
       " path text NOT NULL, status integer NOT NULL, duration_ms double precision NOT NULL)")
FLUSH_S = 0.1
QUEUE_MAX = 200_000  # rows held while PostgreSQL is slow or down; beyond: dropped, counted
COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": ""})


class _Timer:
    """Times each HTTP request from the app call to its last body chunk; subclasses store it."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        wall = time.time()
        status = 0

        async def timed_send(msg):
            nonlocal status
            if msg["type"] == "http.response.start":
                status = msg["status"]
            await send(msg)
            if msg["type"] == "http.response.body" and not msg.get("more_body", False):
                self.store((wall, scope["method"], scope["path"], status,
                            (time.perf_counter() - t0) * 1000.0))

        await self.app(scope, receive, timed_send)

    def store(self, row):
        raise NotImplementedError


class NaiveTimer(_Timer):
    """INSERT per request on the event loop: every request waits for a database round trip."""

    def __init__(self, app, conninfo):
        super().__init__(app)
        self.conn = psycopg2.connect(conninfo)
        self.conn.autocommit = True
        self.cur = self.conn.cursor()

    def store(self, row):
        self.cur.execute(f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES (%s, %s, %s, %s, %s)",
                         row)


class BatchedTimer(_Timer):
    """Queue per request, COPY per batch from a background thread; losses are counted."""

    def __init__(self, app, conninfo):
        super().__init__(app)
        self.conninfo = conninfo
        self.rows = collections.deque()
        self.dropped = 0
        self.rejected = 0
        self.written = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="inapp-writer", daemon=True)
        self.thread.start()
        atexit.register(self.close)

    def store(self, row):
        if len(self.rows) >= QUEUE_MAX:
            self.dropped += 1
            return
        self.rows.append(row)

    def run(self):
        conn = None
        while True:
            stop = self.stopping.wait(FLUSH_S)
            try:
                conn = conn or psycopg2.connect(self.conninfo)
                self.flush(conn)
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as e:
                print(f"inapp_mw: database unreachable, will retry: {e}", file=sys.stderr)
                conn = None
                time.sleep(FLUSH_S)
            if stop:
                break
        if conn is not None:
            conn.close()

    def flush(self, conn):
        """Writes every queued row with one COPY; on error the batch goes back to the queue."""
        batch = []
        while self.rows:
            batch.append(self.rows.popleft())
        if not batch:
            return
        buf = io.StringIO()
        for ts, method, path, status, dur in batch:
            buf.write(f"{ts}\t{method}\t{path.translate(COPY_ESCAPES)}\t{status}\t{dur}\n")
        buf.seek(0)
        try:
            with conn.cursor() as cur:
                cur.copy_from(buf, TABLE, columns=COLUMNS)
            conn.commit()
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            self.rows.extendleft(reversed(batch))  # connection trouble: retry later
            raise
        except psycopg2.Error as e:  # the data itself: retrying would fail forever
            conn.rollback()
            self.rejected += len(batch)
            print(f"inapp_mw: batch of {len(batch)} rejected: {e}", file=sys.stderr)
            return
        self.written += len(batch)

    def close(self):
        self.stopping.set()
        self.thread.join(10)
        if self.rows or self.dropped or self.rejected:
            print(f"inapp_mw: {len(self.rows)} rows unwritten, {self.dropped} dropped "
                  f"(queue full), {self.rejected} rejected, {self.written} written",
                  file=sys.stderr)


def wrap(app, kind, conninfo):
    """Returns app wrapped in the middleware named by kind ("none", "batched", "naive")."""
    variants = {"batched": BatchedTimer, "naive": NaiveTimer}
    if kind == "none":
        return app
    if kind not in variants:
        raise ValueError(f"HTTPLAT_BENCH_MW must be none, batched or naive, not {kind!r}")
    conn = psycopg2.connect(conninfo)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(DDL)
    finally:
        conn.close()
    return variants[kind](app, conninfo)
