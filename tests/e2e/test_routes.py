#!/usr/bin/python3
"""test_routes.py: route templates end to end, against Starlette's own routing.

tests/apps/routes_app.py (string ids, a {name:path} route, two methods on one path, a shadowed
route, an int convertor, a trailing-slash route, root_path) under uvicorn or gunicorn, traced by
`httplat trace --json` (and `run` into PostgreSQL): every record's route must be the template
the installed Starlette's Router picks for that request (tests/e2e/starlette_routes.py), or
`unmatched` where it routes nothing; httplat's own document request must not appear.
"""
import json
import os
import random
import string
import subprocess
import sys
import tempfile
import time

import harness
from harness import check, test
import starlette_routes

sys.path.insert(0, harness.APPS)
import routes_app  # noqa: E402  (the same app, to ask its router)

ROUTER = routes_app.app.router

# (method, target): every template, 405s, a handler's 404, routing 404s, a redirect, percent
# escapes, the root path prefix (a 404 under this Starlette), a shadowed route.
MIX = [
    ("GET", "/model/jobs/q1a00007"), ("GET", "/model/jobs/a8f3k2?ms=5"),
    ("DELETE", "/model/jobs/q1a00007"), ("PUT", "/model/jobs/x1"),
    ("POST", "/model/render/j1"), ("GET", "/model/render/j1"),
    ("GET", "/user/profile/me"), ("GET", "/user/profile/a8f3k2"),
    ("GET", "/user/profile/special"), ("GET", "/user/profile/gone1"),
    ("GET", "/files/a.txt"), ("GET", "/files/dir/sub/b.txt"), ("GET", "/files/"),
    ("GET", "/files/x%2Fy.txt"),
    ("GET", "/data/items/42"), ("GET", "/data/items/abc"), ("GET", "/data/items/abc/meta"),
    ("GET", "/data/items/42/meta"), ("GET", "/data/list/"), ("GET", "/data/list"),
    ("GET", "/data/sleep?ms=1"), ("HEAD", "/data/sleep"), ("GET", "/data/echo"),
    ("POST", "/data/echo"),
    ("GET", "/api/model/jobs/x"), ("GET", "/nope"), ("GET", "/wp-login.php"),
    ("GET", "/model/jobs/"), ("GET", "/model/jobs/a%2Fb"),
]


def expected(method, target):
    kind, fmt, status = starlette_routes.route_of(ROUTER, method, target,
                                                  root_path=routes_app.ROOT_PATH)
    return (fmt if kind != "none" else "unmatched"), status


def doc_templates(openapi=True):
    return [p for p in routes_app.app.openapi()["paths"]]


def server(openapi=True, gunicorn=False, extra=(), env=None, port=None):
    e = {"ROUTES_APP_OPENAPI": "1" if openapi else "0"}
    e.update(env or {})
    return harness.Uvicorn(module="routes_app:app", gunicorn=gunicorn, extra=extra, env=e,
                           port=port)


def send(port, reqs):
    """Each request on its own connection, in order; returns the statuses."""
    out = []
    for method, target in reqs:
        body = b"{}" if method in ("POST", "PUT") else b""
        status, _, _ = harness.http(port, method=method, path=target, body=body)
        out.append(status)
    return out


def records(h, n, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        recs = h.json_lines()
        if len(recs) >= n:
            break
        time.sleep(0.1)
    time.sleep(0.3)  # anything beyond n would be a bug: let it arrive
    return h.json_lines()


def target_of(rec):
    return rec["path"] + ("?" + rec["query"] if rec["query"] else "")


def compare_routes(recs, reqs, statuses, what):
    check(len(recs) == len(reqs),
          f"{what}: {len(recs)} records for {len(reqs)} requests: "
          f"{[target_of(r) for r in recs]}")
    check(not any("httplat-probe" in r["query"] for r in recs),
          f"{what}: httplat's own request was recorded")
    bad = []
    for rec, (method, target), status in zip(recs, reqs, statuses):
        want, _ = expected(method, target)
        if rec["method"] != method or target_of(rec) != target:
            bad.append(f"order: {rec['method']} {target_of(rec)} for {method} {target}")
        elif rec["route"] != want or rec["status"] != status:
            bad.append(f"{method} {target} -> {status}: route {rec['route']!r}, "
                       f"Starlette {want!r} (status {rec['status']})")
    check(not bad, f"{what}: " + "; ".join(bad))


def check_distinct(recs, what):
    """Distinct routes = the templates the mix reaches + unmatched (all but the shadowed one)."""
    got = {r["route"] for r in recs}
    want = set(doc_templates()) - {"/user/profile/special"} | {"unmatched"}
    check(got == want, f"{what}: distinct routes {sorted(got)}, want {sorted(want)}")


@test
def templates_from_the_apps_document():
    srv = server()
    h = harness.Httplat("trace", "--json", "--port", str(srv.port))
    check(f"routes for port {srv.port}: {len(doc_templates())} templates" in h.stderr(),
          f"document not read at start: {h.stderr()}")
    statuses = send(srv.port, MIX)
    recs = records(h, len(MIX))
    h.stop()
    compare_routes(recs, MIX, statuses, "document")
    check_distinct(recs, "document")
    err = h.stderr()
    check("1 document request" in err, f"the probe is not counted in the summary: {err}")


@test
def templates_from_a_routes_file_when_the_document_is_disabled():
    srv = server(openapi=False)
    check(harness.http(srv.port, path="/openapi.json")[0] == 404, "the document is served")
    fd, path = tempfile.mkstemp(prefix="httplat-routes-", suffix=".json")
    os.close(fd)
    harness.at_exit(lambda: os.unlink(path))
    env = dict(os.environ, ROUTES_APP_OPENAPI="0")
    r = subprocess.run([harness.PY, "-W", "ignore", "-c",
                        "import json, routes_app; print(json.dumps(routes_app.app.openapi()))"],
                       cwd=harness.APPS, env=env, capture_output=True, text=True)
    check(r.returncode == 0, r.stderr)
    with open(path, "w") as f:
        f.write(r.stdout)
    h = harness.Httplat("trace", "--json", "--port", str(srv.port), "--routes", path)
    statuses = send(srv.port, MIX)
    recs = records(h, len(MIX))
    h.stop()
    compare_routes(recs, MIX, statuses, "--routes")
    check_distinct(recs, "--routes")
    check("httplat-probe" not in h.stderr() and "cannot read" not in h.stderr(),
          f"fetched a document although --routes covers every port: {h.stderr()}")
    r = subprocess.run([harness.HTTPLAT, "trace", "--routes", "/nonexistent.json", "-c", "1"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode != 0 and "/nonexistent.json" in r.stderr, r.stderr)


def slug(rng, n=7):
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(n))


@test
def guard_bounds_routes_without_a_document():
    srv = server(openapi=False)
    h = harness.Httplat("trace", "--json", "--port", str(srv.port))
    rng = random.Random(15)
    reqs = []
    for i in range(400):  # string ids as the app has them
        reqs.append(("GET", f"/model/jobs/q{i % 10}a{i:05d}"))
    for i in range(400):  # ids that look like words: only the guard can tell
        reqs.append(("GET", f"/user/profile/{slug(rng)}"))
    for i in range(200):
        reqs.append(("GET", f"/data/items/{1000 + i}"))
    reqs += [("GET", "/wp-login.php"), ("GET", "/.env"), ("GET", "/nope/" + slug(rng))]
    statuses = send(srv.port, reqs)
    recs = records(h, len(reqs), timeout=60)
    h.stop()
    check(len(recs) == len(reqs), f"{len(recs)} records for {len(reqs)} requests")
    routes = {}
    for r in recs:
        routes[r["route"]] = routes.get(r["route"], 0) + 1
    # 3 templates, up to 10 literal values before /user/profile/{param}, and unmatched
    check(len(routes) <= 3 + 10 + 1, f"{len(routes)} distinct routes: {sorted(routes)}")
    check(routes.get("/model/jobs/{id}", 0) == 400, f"string ids: {sorted(routes)}")
    check(routes.get("/user/profile/{param}", 0) >= 390, f"word ids: {sorted(routes)}")
    check(routes.get("/data/items/{id}", 0) == 200, f"numbers: {sorted(routes)}")
    check(routes.get("unmatched", 0) == 3, f"404s: {sorted(routes)}")
    check(statuses.count(404) == 3, f"statuses {set(statuses)}")
    check(f"routes for port {srv.port}: no OpenAPI document" in h.stderr(), h.stderr())


@test
def worker_restart_under_gunicorn_reads_the_document_again():
    fd, extra = tempfile.mkstemp(prefix="httplat-extra-routes-")
    os.close(fd)
    harness.at_exit(lambda: os.unlink(extra))
    srv = server(gunicorn=True, extra=["--max-requests", "20"], env={"ROUTES_APP_EXTRA": extra})
    h = harness.Httplat("trace", "--json", "--port", str(srv.port))
    n = len(doc_templates())
    check(f"routes for port {srv.port}: {n} templates" in h.stderr(), h.stderr())
    check(send(srv.port, [("GET", "/v2/things/t1")]) == [404], "the new route exists already")
    with open(extra, "w") as f:
        f.write("GET /v2/things/{thing_id}\n")
    before = set(srv.children())
    send(srv.port, [("GET", "/data/sleep")] * 25)  # the worker restarts after 20
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (set(srv.children()) - before):
        time.sleep(0.2)
    check(set(srv.children()) - before, "gunicorn did not restart its worker")
    route = None
    while time.monotonic() < deadline:
        send(srv.port, [("GET", "/v2/things/t2")])
        recs = [r for r in h.json_lines() if r["path"] == "/v2/things/t2"]
        route = recs[-1]["route"] if recs else None
        if route == "/v2/things/{thing_id}":
            break
        time.sleep(0.5)
    h.stop()
    first = [r for r in h.json_lines() if r["path"] == "/v2/things/t1"]
    check(first and first[0]["route"] == "unmatched", f"before the restart: {first}")
    check(route == "/v2/things/{thing_id}", f"after the restart: {route}; {h.stderr()}")
    check(f"routes for port {srv.port}: {n + 1} templates" in h.stderr(), h.stderr())


@test
def restarted_server_on_the_same_port_brings_its_new_routes():
    """A new version replaces the server on the same port and takes 2 s to import: once it
    listens, its document (with a route the old one lacked) is read again."""
    fd, extra = tempfile.mkstemp(prefix="httplat-extra-routes-")
    os.close(fd)
    harness.at_exit(lambda: os.unlink(extra))
    old = server()
    h = harness.Httplat("trace", "--json", "--port", str(old.port))
    n = len(doc_templates())
    check(send(old.port, [("GET", "/v3/items/i1")]) == [404], "the new route exists already")
    old.stop()
    with open(extra, "w") as f:
        f.write("GET /v3/items/{item_ref}\n")
    new = server(env={"ROUTES_APP_EXTRA": extra, "ROUTES_APP_IMPORT_S": "2"}, port=old.port)
    deadline = time.monotonic() + 20
    route = None
    while time.monotonic() < deadline:
        send(new.port, [("GET", "/v3/items/i2")])
        recs = [r for r in h.json_lines() if r["path"] == "/v3/items/i2"]
        route = recs[-1]["route"] if recs else None
        if route == "/v3/items/{item_ref}":
            break
        time.sleep(0.5)
    h.stop()
    check(route == "/v3/items/{item_ref}", f"after the restart: {route}; {h.stderr()}")
    check(f"routes for port {new.port}: {n + 1} templates" in h.stderr(), h.stderr())


@test
def document_from_a_server_in_its_own_network_namespace():
    """A container-like server (its own network namespace, its own loopback): the document is
    fetched from inside that namespace, not from the host's 127.0.0.1 (nothing listens there)."""
    port = harness.free_port()
    log = tempfile.NamedTemporaryFile(prefix="uvicorn-netns-", suffix=".log", delete=False)
    proc = subprocess.Popen(
        ["unshare", "--net", "--fork", "sh", "-c",
         f"ip link set lo up && exec {harness.PY} -m uvicorn routes_app:app --host 127.0.0.1 "
         f"--port {port} --log-level warning"],
        cwd=harness.APPS, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    harness.at_exit(lambda: harness.stop_pid(proc))

    def inside(path):
        pid = app_pid()
        return subprocess.run(["nsenter", "-t", str(pid), "-n", "curl", "-s", "-o", "/dev/null",
                               "-w", "%{http_code}", f"http://127.0.0.1:{port}{path}"],
                              capture_output=True, text=True, timeout=10).stdout

    def app_pid():
        out = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,args="], capture_output=True,
                             text=True).stdout
        for line in out.splitlines():
            pid, ppid, args = line.split(None, 2)
            if "uvicorn routes_app:app" in args and f"--port {port}" in args and \
                    not args.startswith("unshare"):
                return int(pid)
        return None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (app_pid() and inside("/data/list/") == "200"):
        time.sleep(0.2)
    check(inside("/data/list/") == "200", "the server in its namespace did not start")
    h = harness.Httplat("trace", "--json", "--pid", str(app_pid()))
    check(f"routes for port {port}: {len(doc_templates())} templates" in h.stderr(),
          f"document not read from the server's namespace: {h.stderr()}")
    statuses = [inside("/model/jobs/q1a00009"), inside("/files/a/b/c.txt")]
    recs = records(h, 2)
    h.stop()
    check(statuses == ["200", "200"], f"statuses {statuses}")
    check([r["route"] for r in recs] == ["/model/jobs/{tok}", "/files/{file_path}"],
          f"routes {[r['route'] for r in recs]}")


@test
def run_writes_templates_to_postgres():
    pg = harness.Postgres()
    srv = server()
    h = harness.Httplat("run", "--db", pg.conninfo, "--no-spool", "--port", str(srv.port),
                        "--host", "e2e-routes", "--config", "/dev/null")
    statuses = send(srv.port, MIX)
    deadline = time.monotonic() + 20
    rows = []
    while time.monotonic() < deadline:
        rows = pg.sql("SELECT method, path, query, route FROM httplat.http_requests "
                      "WHERE host = 'e2e-routes' ORDER BY ts")
        if len(rows) >= len(MIX):
            break
        time.sleep(0.3)
    h.stop()
    check(len(rows) == len(MIX), f"{len(rows)} rows for {len(MIX)} requests")
    bad = []
    for (method, path, query, route), (m, target), status in zip(rows, MIX, statuses):
        want, _ = expected(m, target)
        if (path + ("?" + query if query else "")) != target or route != want:
            bad.append(f"{method} {path}?{query}: {route!r}, Starlette {want!r}")
    check(not bad, "; ".join(bad))
    rolled = {r[0] for r in pg.sql("SELECT DISTINCT route FROM httplat.http_requests_1m "
                                   "WHERE host = 'e2e-routes'")}
    want = set(doc_templates()) - {"/user/profile/special"} | {"unmatched"}
    check(not rolled or rolled == want, f"rollup routes {sorted(rolled)}")


if __name__ == "__main__":
    sys.exit(harness.run_tests())
