#!/usr/bin/python3
"""test_top.py: `httplat top` against a real uvicorn app: batch rows and counts, the live view under tmux.

A known mix of requests goes to tests/apps/app.py; the batch snapshots must show every
request in the right API and route row with the right status columns, and latencies within
what the app did (server sleep) and what the client measured. The interactive view runs in
tmux: keys are sent and the pane is read back as a person would see it.
"""
import concurrent.futures
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (HTTPLAT, Httplat, Postgres, Uvicorn, at_exit, check,  # noqa: E402
                     http, run_tests, stop_pid, test)

# (method, path, expected status, server-side minimum ms, api, route)
MIX = (
    [("GET", f"/data/items/{i}", 200, 0, "data", "/data/items/{item_id}") for i in range(1, 21)]
    + [("GET", "/data/sleep?ms=300", 200, 300, "data", "/data/sleep")] * 5
    + [("GET", "/model/crash", 500, 0, "model", "/model/crash")] * 3
    + [("POST", "/model/generate?ms=1200", 201, 1200, "model", "/model/generate")] * 2
    + [("GET", "/user/login", 401, 0, "user", "/user/login")] * 4
    + [("GET", "/user/profile/5000", 404, 0, "user", "/user/profile/{user_id}")] * 2
    + [("GET", "/user/old-profile", 301, 0, "user", "/user/old-profile")]
)


def drive(port, mix, parallel=8):
    """Sends every request of mix; returns [(request, status, seconds)]."""
    def one(req):
        status, _, dt = http(port, req[0], req[1])
        return req, status, dt
    with concurrent.futures.ThreadPoolExecutor(parallel) as ex:
        return list(ex.map(one, mix))


def snapshots(text):
    """Splits batch output into snapshots: {"header": str, "apis": {...}, "routes": {...}}."""
    res = []
    for block in text.split("httplat top - ")[1:]:
        lines = block.split("\n")
        snap = {"header": "httplat top - " + lines[0], "apis": {}, "routes": {}}
        table, cols = None, None
        for line in lines[1:]:
            if line.startswith("API "):
                cols = line.split()
                table = "routes" if cols[1] == "ROUTE" else "apis"
                continue
            if not line.strip():
                table = None
                continue
            if table is None:
                continue
            vals = line.split()
            if len(vals) != len(cols):
                continue  # a partly written last line
            row = dict(zip(cols, vals))
            key = (row["API"], row["ROUTE"]) if table == "routes" else row["API"]
            snap[table][key] = row
        res.append(snap)
    return res


def num(v):
    return None if v == "-" else float(v)


def wait_snapshot(top, pred, timeout=20):
    """Waits for a complete snapshot satisfying pred; returns it (or the last complete one)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        text = top.stdout()
        snaps = snapshots(text)
        if snaps and not text.endswith("\n\n"):
            snaps.pop()  # still being written
        if snaps:
            last = snaps[-1]
            if pred(last):
                return last
        if top.proc.poll() is not None:
            break
        time.sleep(0.2)
    return last


def expect_counts(mix):
    apis, routes = {}, {}
    for (_, _, status, _, api, route) in mix:
        for d, k in ((apis, api), (routes, (api, route))):
            d.setdefault(k, {}).setdefault(str(status), 0)
            d[k][str(status)] += 1
    return apis, routes


@test
def test_batch_rows_counts_and_latency():
    app = Uvicorn()
    top = Httplat("top", "--batch", "-d", "1", "--pid", str(app.proc.pid))
    results = drive(app.port, MIX)
    for req, status, _ in results:
        check(status == req[2], f"app answered {req[1]} with {status}, want {req[2]}")
    apis, routes = expect_counts(MIX)
    total = {k: sum(v.values()) for k, v in apis.items()}
    snap = wait_snapshot(top, lambda s: all(
        s["apis"].get(a, {}).get("REQS") == str(n) for a, n in total.items()))
    check(snap is not None, f"no snapshot printed: {top.stderr()}")
    for api, n in total.items():
        row = snap["apis"].get(api)
        check(row is not None, f"no row for API {api}: {snap}")
        check(row["REQS"] == str(n), f"{api} REQS {row['REQS']}, want {n}")
        for code, cnt in apis[api].items():
            check(row[code] == str(cnt), f"{api} {code}: {row[code]}, want {cnt}")
        check(row["NORSP"] == "0", f"{api} NORSP {row['NORSP']}")
    for (api, route), codes in routes.items():
        row = snap["routes"].get((api, route))
        check(row is not None, f"no row for {api} {route}: {sorted(snap['routes'])}")
        n = sum(codes.values())
        check(row["REQS"] == str(n), f"{route} REQS {row['REQS']}, want {n}")
        for code, cnt in codes.items():
            check(row[code] == str(cnt), f"{route} {code}: {row[code]}, want {cnt}")
    # errors: 3 of the 5 model requests were 500
    check(snap["apis"]["model"]["ERR%"] == "60.0", f"model ERR% {snap['apis']['model']['ERR%']}")
    check(snap["apis"]["data"]["ERR%"] == "0.0", "data ERR%")
    # latencies: at least what the app slept, at most what the client waited (+4.4 % buckets)
    for route, slept in (("/data/sleep", 300), ("/model/generate", 1200)):
        api = route.split("/")[1]
        client_max = max(dt for req, _, dt in results if req[5] == route) * 1000
        row = snap["routes"][(api, route)]
        wmax, wp50 = num(row["W.MAX"]), num(row["W.P50"])
        check(slept <= wmax <= client_max + 1, f"{route} W.MAX {wmax}, want {slept}..{client_max:.0f}")
        check(slept * 0.95 <= wp50 <= client_max * 1.05, f"{route} W.P50 {wp50}")
    fast = snap["routes"][("data", "/data/items/{item_id}")]
    check(num(fast["W.P99"]) < 200, f"/data/items W.P99 {fast['W.P99']} ms for a fast endpoint")
    # the API row's median is a fast request (20 of 25), its max a slow one
    check(num(snap["apis"]["data"]["W.P50"]) < 200, "data W.P50")
    check(num(snap["apis"]["data"]["W.MAX"]) >= 300, "data W.MAX")
    check(re.search(rf"pids [\d,]*\b{app.proc.pid}\b", snap["header"]), f"header: {snap['header']}")
    check(re.search(rf"ports [\d,]*\b{app.port}\b", snap["header"]), f"header: {snap['header']}")
    check(re.search(r"dropped 0\b", snap["header"]), f"header: {snap['header']}")
    rc = top.stop()
    check(rc == 0, f"top exited {rc} on SIGINT")
    check(f"httplat top: {len(MIX)} requests, 0 lost (" in top.stderr(),
          f"exit summary: {top.stderr()}")


@test
def test_counts_under_load_match_the_client():
    """wrk at full speed: top counts every response wrk got (plus at most the ones in flight)."""
    if not shutil.which("wrk"):
        check(False, "wrk is not installed (scripts/install-deps.sh installs it)")
    app = Uvicorn(loop="uvloop", http="httptools")
    top = Httplat("top", "--batch", "-d", "1", "--pid", str(app.proc.pid))
    conns = 16
    w = subprocess.run(["wrk", "-t2", f"-c{conns}", "-d2s", f"http://127.0.0.1:{app.port}/data/items/1"],
                       capture_output=True, text=True, timeout=60)
    m = re.search(r"(\d+) requests in", w.stdout)
    check(m, f"wrk output: {w.stdout} {w.stderr}")
    sent = int(m.group(1))
    # wait until two snapshots in a row show the same count: the tracer has drained
    counts = {}

    def settled(s):
        counts[s["header"]] = s["apis"].get("data", {}).get("REQS")
        last = list(counts.values())[-3:]
        return len(last) == 3 and last[0] == last[1] == last[2] is not None
    snap = wait_snapshot(top, settled, timeout=30)
    row = snap["apis"]["data"]
    got = int(row["200"]) + int(row["NORSP"])
    check(re.search(r"dropped 0\b", snap["header"]), f"events lost: {snap['header']}")
    check(sent <= got <= sent + conns, f"wrk got {sent} responses, top counted {got}: {row}")
    check(num(row["W.P99"]) < 1000, f"W.P99 {row['W.P99']} ms for /data/items")


@test
def test_no_response_is_counted_but_not_a_latency():
    """The app dies while answering: NORSP and ERR% count it, the latency columns do not."""
    app = Uvicorn()
    top = Httplat("top", "--batch", "-d", "1", "--pid", str(app.proc.pid))
    status, _, _ = http(app.port, "GET", "/data/items/1")
    check(status == 200, f"status {status}")

    def doomed():
        try:
            http(app.port, "GET", "/data/sleep?ms=5000", timeout=10)
        except OSError:
            pass
    t = threading.Thread(target=doomed)
    t.start()
    time.sleep(0.7)  # let the request reach the app before it dies
    stop_pid(app.proc, signal.SIGKILL)
    t.join(15)
    snap = wait_snapshot(top, lambda s: s["apis"].get("data", {}).get("NORSP") == "1")
    row = snap and snap["routes"].get(("data", "/data/sleep"))
    check(row is not None, f"no /data/sleep row: {snap}")
    check(row["REQS"] == "1" and row["NORSP"] == "1", f"/data/sleep {row}")
    check(row["W.P50"] == "-" and row["W.MAX"] == "-", f"abandoned request used as latency: {row}")
    check(row["ERR%"] == "100.0", f"ERR% {row['ERR%']}")
    api = snap["apis"]["data"]
    check(api["REQS"] == "2" and api["200"] == "1", f"data {api}")
    check(num(api["W.MAX"]) < 500, f"data W.MAX {api['W.MAX']}: the abandoned request counted")


@test
def test_once_prints_one_snapshot_and_exits_with_api_labels():
    app = Uvicorn()
    top = Httplat("top", "--once", "-d", "2", "--api", "store=/data", "--pid", str(app.proc.pid))
    deadline = time.monotonic() + 1.5
    sent = 0
    while time.monotonic() < deadline:
        http(app.port, "GET", "/data/items/7")
        sent += 1
    rc = top.proc.wait(15)
    snaps = snapshots(top.stdout())
    check(rc == 0, f"--once exited {rc}: {top.stderr()}")
    check(len(snaps) == 1, f"{len(snaps)} snapshots")
    row = snaps[0]["apis"].get("store")  # --api relabels /data
    check(row is not None and 0 < int(row["REQS"]) <= sent, f"store row {row}, sent {sent}")
    check(list(snaps[0]["apis"]) == ["store"], f"API rows {list(snaps[0]['apis'])}")
    check(("store", "/data/items/{item_id}") in snaps[0]["routes"],
          f"routes {list(snaps[0]['routes'])}")


@test
def test_wait_column_shows_a_blocked_event_loop():
    """A handler blocks the event loop for 700 ms; a request sent meanwhile waits to be read:
    WAIT (p95 of queue + wait, last interval) shows it, yellow-level; fast rows show ~0."""
    app = Uvicorn()
    top = Httplat("top", "--batch", "-d", "2", "--pid", str(app.proc.pid))
    blocker = threading.Thread(target=lambda: http(app.port, "GET", "/data/block?ms=700"))
    blocker.start()
    time.sleep(0.2)
    http(app.port, "GET", "/data/items/1")
    blocker.join(10)
    snap = wait_snapshot(top, lambda s: s["routes"].get(("data", "/data/items/{item_id}"), {})
                         .get("WAIT", "-") not in ("-", None))
    row = snap and snap["routes"].get(("data", "/data/items/{item_id}"))
    check(row and 450 <= num(row["WAIT"]) <= 720, f"WAIT of the waiting request: {row}")
    block = snap["routes"].get(("data", "/data/block"))
    check(block and num(block["WAIT"]) < 50, f"the blocking request itself waited: {block}")
    top.stop()


@test
def test_tls_filter_counts_only_the_requests_asked_for():
    """--tls tls / plain: only requests over TLS, only plaintext ones (this app is plaintext)."""
    app = Uvicorn()
    tls = Httplat("top", "--batch", "-d", "0.5", "--tls", "tls", "--pid", str(app.proc.pid))
    plain = Httplat("top", "--batch", "-d", "0.5", "--tls", "plain", "--pid", str(app.proc.pid))
    for i in range(6):
        http(app.port, "GET", f"/data/items/{i}")
    snap = wait_snapshot(plain, lambda s: s["apis"].get("data", {}).get("REQS") == "6")
    check(snap and snap["apis"].get("data", {}).get("REQS") == "6", f"plaintext: {snap}")
    time.sleep(0.6)
    last = snapshots(tls.stdout())[-1]
    check(last["apis"] == {} and last["routes"] == {}, f"TLS only: {last}")
    check("TLS requests only" in tls.stdout() and "plaintext requests only" in plain.stdout(),
          "the header does not say which requests are counted")
    tls.stop()
    plain.stop()
    r = subprocess.run([HTTPLAT, "top", "--once", "--tls", "https"], capture_output=True,
                       text=True, timeout=30)
    check(r.returncode == 64 and "invalid --tls 'https'" in r.stderr, r.stderr)


@test
def test_bad_options_are_refused():
    for args, text in ((["-d", "0"], "invalid -d"),
                       (["--warn-ms", "900", "--crit-ms", "100"], "must be above the warning"),
                       (["--window", "soon"], "invalid --window"),
                       (["--config", "/nonexistent/httplat.conf"], "No such file"),
                       (["--pid", "abc"], "invalid --pid")):
        r = subprocess.run([HTTPLAT, "top", "--once"] + args, capture_output=True, text=True,
                           timeout=10)
        check(r.returncode != 0, f"{args} accepted")
        check(text in r.stderr, f"{args}: stderr {r.stderr!r}")
        check(r.stdout == "", f"{args}: printed {r.stdout!r}")


class Tmux:
    """A private tmux server (own socket) running one command in a wide window."""

    def __init__(self, cmd, width=230, height=45):
        self.sock = f"httplat-test-{os.getpid()}"
        self.dir = tempfile.mkdtemp(prefix="httplat-tmux-")
        self.rc_file = os.path.join(self.dir, "rc")
        shell = f"{cmd}; echo $? > {self.rc_file}; sleep 30"
        self.tmux("new-session", "-d", "-s", "top", "-x", str(width), "-y", str(height),
                  "/bin/sh", "-c", shell)
        self.path = self.tmux("display-message", "-p", "#{socket_path}").stdout.strip()
        at_exit(self.stop)

    def tmux(self, *args):
        return subprocess.run(["tmux", "-L", self.sock] + list(args), capture_output=True,
                              text=True, timeout=10)

    def keys(self, *keys):
        self.tmux("send-keys", "-t", "top", *keys)

    def screen(self, escapes=False):
        return self.tmux("capture-pane", "-p", "-t", "top", *(["-e"] if escapes else [])).stdout

    def wait(self, pred, what, timeout=15):
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if pred(text):
                return text
            time.sleep(0.1)
        check(False, f"screen never showed {what}:\n{text}")

    def exit_status(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(self.rc_file):
                with open(self.rc_file) as f:
                    return int(f.read().strip() or "-1")
            time.sleep(0.1)
        return None

    def stop(self):
        """SIGINT to the processes of our pane (by PID), then ends our tmux server."""
        pane = self.tmux("display-message", "-p", "-t", "top", "#{pane_pid}").stdout.strip()
        if pane.isdigit():
            out = subprocess.run(["ps", "-o", "pid=", "--ppid", pane], capture_output=True,
                                 text=True).stdout
            for pid in out.split():
                try:
                    os.kill(int(pid), signal.SIGINT)
                except ProcessLookupError:
                    pass
        self.tmux("kill-server")
        if self.path.endswith(self.sock):
            try:
                os.unlink(self.path)  # the server leaves its socket file behind
            except OSError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


def table_rows(screen):
    """API names of the table rows, top to bottom, as on screen."""
    rows, seen_title = [], False
    for line in screen.split("\n"):
        if line.startswith("API"):
            seen_title = True
            continue
        if seen_title:
            if not line.strip() or line.startswith("──") or line.startswith("q quit"):
                break
            rows.append(line.split()[0])
    return rows


def line_of(screen, first_word):
    for line in screen.split("\n"):
        if re.sub(r"\x1b\[[0-9;]*m", "", line).split()[:1] == [first_word]:
            return line
    return ""


def reqs(screen, route):
    """The REQS cell of a route row in the per-route view (title line gives the column)."""
    cols = None
    for line in screen.split("\n"):
        if line.startswith("API"):
            cols = [c.rstrip("v^") for c in line.split()]
        elif cols and len(line.split()) > 1 and line.split()[1] == route:
            return dict(zip(cols, line.split())).get("REQS")
    return None


def colours(line):
    """Foreground colours used on a captured line: {'red', 'yellow'}."""
    found = set()
    for params in re.findall(r"\x1b\[([0-9;]*)m", line):
        codes = params.split(";")
        if "31" in codes:
            found.add("red")
        if "33" in codes:
            found.add("yellow")
    return found


@test
def test_console_colours_sort_filter_quit():
    if not shutil.which("tmux"):
        check(False, "tmux is not installed (scripts/install-deps.sh installs it)")
    app = Uvicorn()
    # thresholds as the alerts take them: flags over the file, per-API sections in the file
    conf = tempfile.NamedTemporaryFile("w", prefix="httplat-conf-", suffix=".conf", delete=False)
    at_exit(lambda: os.unlink(conf.name))
    conf.write("[alerts]\nwarn_ms = 900\n[alerts.model]\nwarn_ms = 300\ncrit_ms = 0\n")
    conf.close()
    term = Tmux(f"TERM=xterm-256color {HTTPLAT} top --pid {app.proc.pid} --config {conf.name} "
                "--warn-ms 100 --crit-ms 250")
    term.wait(lambda s: "q quit" in s and "httplat top -" in s, "the header and help line")
    # data 150 ms: yellow (100 < 150 < 250); user fast: no colour; model 400 ms: yellow by its
    # own warn_ms 300 and no critical level, while its 500 count is red
    mix = ([("GET", "/model/3/mesh?ms=400")] * 3 + [("GET", "/model/crash")]
           + [("GET", "/data/sleep?ms=150")] * 3 + [("GET", "/user/profile/1")] * 6)
    drive(app.port, [(m, p, 0, 0, "", "") for m, p in mix], parallel=13)
    s = term.wait(lambda s: {"model", "data", "user"} <= set(table_rows(s)), "three API rows")
    check(table_rows(s) == ["data", "model", "user"], f"default order by API: {table_rows(s)}")
    esc = term.screen(escapes=True)
    check(colours(line_of(esc, "model")) == {"red", "yellow"}, f"model: {line_of(esc, 'model')!r}")
    check(colours(line_of(esc, "data")) == {"yellow"}, f"data: {line_of(esc, 'data')!r}")
    check(colours(line_of(esc, "user")) == set(), f"user coloured: {line_of(esc, 'user')!r}")
    # sort by the window P95: biggest first, then reversed
    for _ in range(9):
        if "sort: W.P95" in term.screen():
            break
        term.keys(">")
        time.sleep(0.15)
    s = term.wait(lambda s: "sort: W.P95 " in s, "sort by W.P95")
    check(table_rows(s) == ["model", "data", "user"], f"by W.P95: {table_rows(s)}")
    term.keys("r")
    s = term.wait(lambda s: "reversed" in s, "reversed sort")
    check(table_rows(s) == ["user", "data", "model"], f"reversed: {table_rows(s)}")
    # filter by path substring in the per-route view
    term.keys("t")
    term.wait(lambda s: "view: per route" in s, "the per-route view")
    term.keys("/", "p", "r", "o", "f", "Enter")
    s = term.wait(lambda s: 'filter: "prof"' in s, "the filter")
    check(table_rows(s) == ["user"], f"filtered rows: {table_rows(s)}")
    check("/user/profile/{user_id}" in s, "the route of the filtered row")
    check("/model/{model_id}/mesh" not in s, "a filtered-out route is shown")
    # histogram of the selected row
    term.keys("Enter")
    s = term.wait(lambda s: "latency in the window" in s, "the histogram panel")
    check("user /user/profile/{user_id}" in s, "panel names the selected row")
    check("(6 requests with a response)" in s, "histogram counts the row's 6 requests")
    # pause: the table stops changing, nothing is lost, and it catches up on resume
    term.keys("p")
    term.wait(lambda s: "PAUSED" in s, "PAUSED")
    drive(app.port, [("GET", "/user/profile/2", 0, 0, "", "")] * 4)
    time.sleep(2.5)  # two refresh intervals pass while paused
    check(reqs(term.screen(), "/user/profile/{user_id}") == "6", "the paused table changed")
    term.keys("p")
    term.wait(lambda s: reqs(s, "/user/profile/{user_id}") == "10",
              "the 4 requests sent while paused")
    term.keys("q")
    rc = term.exit_status()
    check(rc == 0, f"top exited with {rc} after q")


@test
def test_top_beside_run_and_trace():
    """Three tracers at once: `top`, `run` (into PostgreSQL) and `trace` all see every request."""
    app = Uvicorn()
    pg = Postgres()
    spool = tempfile.mkdtemp(prefix="httplat-spool-")
    at_exit(lambda: shutil.rmtree(spool, ignore_errors=True))
    run = Httplat("run", "--db", pg.conninfo, "--spool-dir", spool, "--pid", str(app.proc.pid))
    trace = Httplat("trace", "--pid", str(app.proc.pid))
    top = Httplat("top", "-d", "1", "--pid", str(app.proc.pid))  # no --batch: stdout is a file
    drive(app.port, [("GET", f"/data/items/{i}", 200, 0, "data", "/data/items/{item_id}")
                     for i in range(12)])
    snap = wait_snapshot(top, lambda s: s["apis"].get("data", {}).get("REQS") == "12")
    check(snap and snap["apis"].get("data", {}).get("REQS") == "12",
          f"top saw {snap and snap['apis'].get('data')}")
    deadline = time.monotonic() + 10
    def traced():
        return sum("/data/items/" in line for line in trace.stdout().splitlines())
    while time.monotonic() < deadline and traced() < 12:
        time.sleep(0.1)
    check(traced() == 12, f"trace saw {traced()} of 12")
    check(run.stop() == 0, f"run exit status: {run.stderr()}")
    rows = pg.sql("select count(*) from httplat.http_requests where path like '/data/items/%'")
    check(rows == [["12"]], f"run wrote {rows} rows")
    check(top.stop() == 0, "top exit status")


if __name__ == "__main__":
    sys.exit(run_tests())
