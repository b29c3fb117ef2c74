#!/usr/bin/python3
"""test_alerts.py: Slack alerting end to end: `httplat alert test`, the config file, and (with
`httplat run`) alerts from a traced uvicorn app delivered to a Slack stand-in.
"""
import os
import re
import signal
import subprocess
import tempfile
import threading
import time

import harness
from harness import check, test
from slack_standin import SlackStandin

SECRET = "s3cr3tT0k3n"


def conf_file(text, mode=0o600):
    fd, path = tempfile.mkstemp(prefix="httplat-conf-", suffix=".conf")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    harness.at_exit(lambda: os.unlink(path))
    return path


def httplat(*args, env=None, timeout=60):
    e = {k: v for k, v in os.environ.items() if k != "HTTPLAT_SLACK_WEBHOOK"}
    e.update(env or {})
    return subprocess.run([harness.HTTPLAT] + list(args), capture_output=True, text=True,
                          env=e, timeout=timeout)


def alert_test(slack, conf="", env=None):
    e = {"HTTPLAT_SLACK_WEBHOOK": slack.url} if slack else {}
    e.update(env or {})
    return httplat("alert", "test", "--config", conf_file(conf), env=e)


def no_secret(r, what):
    check(SECRET not in r.stdout + r.stderr, f"{what}: the webhook was printed in full")


@test
def alert_test_accepted():
    slack = SlackStandin("200")
    r = alert_test(slack)
    check(r.returncode == 0, f"exit {r.returncode}: {r.stdout}{r.stderr}")
    check("Slack accepted the test message" in r.stdout, r.stdout)
    no_secret(r, "accepted")
    posts = slack.posts()
    check(len(posts) == 1, f"{len(posts)} posts")
    check(posts[0]["path"] == "/services/T0TEST/B0TEST/" + SECRET, posts[0]["path"])
    check(posts[0]["content_type"].startswith("application/json"), posts[0]["content_type"])
    text = posts[0]["body"]["text"]
    check("test message" in text and "#3d-model-generation" in text, text)


@test
def alert_test_refused_is_configuration_error():
    slack = SlackStandin("404")
    r = alert_test(slack)
    check(r.returncode == 1, f"exit {r.returncode}")
    check("REFUSED" in r.stdout and "404 channel_not_found" in r.stdout, r.stdout)
    check("webhook URL" in r.stdout, r.stdout)
    no_secret(r, "refused")
    check(len(slack.posts()) == 1, "posted more than once")


@test
def alert_test_rate_limited_and_server_error():
    slack = SlackStandin("429:30")
    r = alert_test(slack)
    check(r.returncode == 1, f"429: exit {r.returncode}")
    check("rate limited" in r.stdout and "30 s" in r.stdout, r.stdout)
    slack.set_schedule("500")
    r = alert_test(slack)
    check(r.returncode == 1, f"500: exit {r.returncode}")
    check("did NOT accept" in r.stdout and "500 rollup_error" in r.stdout, r.stdout)
    no_secret(r, "500")


@test
def alert_test_hang_times_out():
    slack = SlackStandin("hang")
    t0 = time.monotonic()
    r = alert_test(slack, "[slack]\ntimeout = 1s\n")
    dt = time.monotonic() - t0
    check(r.returncode == 1, f"exit {r.returncode}")
    check("could not reach" in r.stdout and "127.0.0.1" in r.stdout, r.stdout)
    check(dt < 10, f"took {dt:.1f}s with a 1 s timeout")
    no_secret(r, "hang")


@test
def alert_test_without_webhook():
    r = alert_test(None)
    check(r.returncode == 1, f"exit {r.returncode}")
    check("no Slack webhook configured" in r.stderr, r.stderr)


@test
def readable_config_with_webhook_refused():
    slack = SlackStandin("200")
    path = conf_file(f"[slack]\nwebhook = {slack.url}\n", 0o644)
    r = httplat("alert", "test", "--config", path)
    check(r.returncode != 0, f"exit {r.returncode}")
    check("other users can read or change it" in r.stderr and "chmod 600" in r.stderr,
          r.stderr)
    no_secret(r, "refusal")
    check(slack.posts() == [], "posted with a refused config")
    os.chmod(path, 0o600)
    r = httplat("alert", "test", "--config", path)
    check(r.returncode == 0, f"0600: exit {r.returncode}: {r.stdout}{r.stderr}")


@test
def config_errors_are_clear():
    r = httplat("alert", "check", "--config", conf_file("[alerts]\nwarn_ms = 300\nwran = 1\n"))
    check(r.returncode != 0 and ":3: unknown key 'wran' in [alerts]" in r.stderr, r.stderr)
    r = httplat("alert", "check", "--config", conf_file(""), "--stat", "p42")
    check(r.returncode != 0 and "invalid --stat 'p42'" in r.stderr, r.stderr)
    r = httplat("alert", "check", "--config", conf_file("[alerts]\ncrit_ms = 800\n"),
                "--warn-ms", "900")
    check(r.returncode != 0 and "must be above the warning" in r.stderr, r.stderr)
    r = httplat("alert", "check", "--config", "/nonexistent/httplat.conf")
    check(r.returncode != 0 and "/nonexistent/httplat.conf" in r.stderr, r.stderr)
    r = httplat("alert", "check", "--config", conf_file("[alerts]\nwarn_ms = 300\n"),
                "--crit-ms", "700")
    check(r.returncode == 0 and "p95 > 300/700 ms" in r.stdout, r.stdout + r.stderr)


# ---- httplat run: a traced uvicorn app, alerts to the stand-in, history in PostgreSQL ----

FAST = """[alerts]
window = 4s
hold = 3s
min_samples = 3
repeat = 0
[slack]
gather = 250ms
backoff_min = 500ms
backoff_max = 2s
timeout = 2s
"""

_shared = {}


def app():
    if "app" not in _shared:
        _shared["app"] = harness.Uvicorn()
    return _shared["app"]


def pg():
    if "pg" not in _shared:
        _shared["pg"] = harness.Postgres()
    return _shared["pg"]


def run(slack, conf=FAST, target=None):
    a = target or app()
    env = {"HTTPLAT_SLACK_WEBHOOK": slack.url if slack else ""}
    return harness.Httplat("run", "--db", pg().conninfo, "--no-spool", "--stats-interval", "0",
                           "--pid", str(a.proc.pid), "--port", str(a.port),
                           "--config", conf_file(conf), env=env)


def get(path, n=1):
    for _ in range(n):
        status, _, _ = harness.http(app().port, path=path)
    return status


def texts(bodies):
    """Titles of every alert update in the bodies, in order."""
    return [att.get("title", "") for b in bodies for att in b.get("attachments", [])]


def wait_text(slack, needle, timeout=20, traffic=None):
    """Waits for an accepted update whose title contains needle, sending traffic meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(needle in t for t in texts(slack.accepted())):
            return True
        if traffic:
            get(traffic)
        time.sleep(0.2)
    return False


def db_now():
    """The database's clock now: rows of this test are those at or after it."""
    return pg().sql("select now()")[0][0]


def alert_rows(where):
    return pg().sql("select rule, api, route, severity, state, delivered, value, message "
                    f"from httplat.alerts where {where} order by ts")


def wait_rows(where, n, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = alert_rows(where)
        if len(rows) >= n:
            return rows
        time.sleep(0.2)
    return alert_rows(where)


def sample_field(attachment):
    """The "Sample requests" field of an attachment, as a list of 0 or 1 values."""
    return [f["value"] for f in attachment["fields"] if f["title"] == "Sample requests"]


def count(titles, needle):
    return sum(needle in t for t in titles)


@test
def run_slow_endpoint_warns_once_then_resolves():
    slack = SlackStandin("200")
    since = db_now()
    h = run(slack)
    check("Slack #3d-model-generation" in h.stderr(), h.stderr())
    get("/data/sleep?ms=600", 4)
    check(wait_text(slack, "WARNING firing: data response time"), f"no warning: {slack.posts()}")
    check(wait_text(slack, "RESOLVED warning: data", traffic="/data/sleep?ms=1", timeout=30),
          f"no resolved: {texts(slack.accepted())}")
    h.stop()
    titles = texts(slack.accepted())
    check(count(titles, "WARNING firing: data") == 1, f"warnings: {titles}")
    check(count(titles, "CRITICAL") == 0, f"critical for a 600 ms endpoint: {titles}")
    fire = [b for b in slack.accepted() if "WARNING firing: data" in texts([b])[0]][0]
    att = fire["attachments"][0]
    check(att["color"] == "#e8a317", att["color"])
    check("#3d-model-generation" in att["footer"], att["footer"])
    # the first slow request already warns (fewer than min_samples: judged on the slowest)
    value = float(re.search(r"(\d+) ms > 500 ms", att["title"]).group(1))
    check(570 <= value <= 680, f"{value} ms for 600 ms requests: {att['title']}")
    samples = sample_field(att)
    check(samples and "GET /data/sleep → 200 in 6" in samples[0], f"samples {samples}")
    check(SECRET not in h.stderr(), "webhook printed in full")
    rows = wait_rows(f"api = 'data' and rule = 'latency' and ts >= '{since}'", 2)
    check([r[3:6] for r in rows] == [["warning", "firing", "1"], ["warning", "resolved", "1"]],
          f"alerts table: {rows}")


@test
def run_very_slow_endpoint_is_critical_at_once():
    slack = SlackStandin("200")
    h = run(slack)
    get("/model/7/mesh?ms=1200", 4)
    check(wait_text(slack, "CRITICAL firing: model response time"), f"no critical: {slack.posts()}")
    h.stop()
    titles = texts(slack.accepted())
    check(count(titles, "CRITICAL firing: model response time") == 1, f"{titles}")
    check(count(titles, "WARNING") == 0, f"warning before critical: {titles}")
    check(any("on /model/{model_id}/mesh" in t for t in titles), f"route not named: {titles}")
    att = slack.accepted()[0]["attachments"][0]
    check(att["color"] == "#d40e0d", att["color"])


@test
def run_http_500_critical_once_counted_then_resolved():
    slack = SlackStandin("200")
    h = run(slack)
    t0 = time.monotonic()
    check(get("/model/crash") == 500, "the app did not answer 500")
    check(wait_text(slack, "CRITICAL firing: model HTTP 500 x1 on /model/crash", timeout=10),
          f"no 500 alert: {slack.posts()}")
    check(time.monotonic() - t0 < 5, "the 500 alert was not sent at once")
    get("/model/crash", 3)
    check(wait_text(slack, "RESOLVED critical: model HTTP 500 x4", timeout=20),
          f"no resolved with the count: {texts(slack.accepted())}")
    h.stop()
    titles = texts(slack.accepted())
    check(count(titles, "HTTP 500") == 2, f"500s sent one by one: {titles}")
    samples = sample_field(slack.accepted()[0]["attachments"][0])
    check(samples and "GET /model/crash → 500" in samples[0], f"samples {samples}")
    check("CRITICAL firing: model HTTP 500" in h.stderr(), "not logged on stderr")


@test
def run_slack_429_then_200_delivers_once_after_the_wait():
    slack = SlackStandin("429:2,200")
    h = run(slack)
    get("/model/crash")
    posts = slack.wait_posts(lambda p: len(p) >= 2, timeout=20)
    check(len(posts) >= 2, f"posts: {posts}")
    check(posts[0]["answer"] == "429:2" and posts[1]["answer"] == "200", f"{posts}")
    check(posts[1]["t"] - posts[0]["t"] >= 2.0, f"retried after {posts[1]['t'] - posts[0]['t']:.2f}s")
    check(texts([posts[0]["body"]]) == texts([posts[1]["body"]]), "retry changed the message")
    h.stop()
    titles = texts(slack.accepted())
    check(count(titles, "CRITICAL firing: model HTTP 500") == 1, f"{titles}")
    check("429" in h.stderr() and SECRET not in h.stderr(), h.stderr())


@test
def run_slack_hanging_times_out_then_retries():
    slack = SlackStandin("hang,200")
    h = run(slack)
    get("/model/crash")
    posts = slack.wait_posts(lambda p: len(p) >= 2, timeout=20)
    check(len(posts) >= 2 and posts[0]["answer"] == "hang" and posts[1]["answer"] == "200",
          f"{posts}")
    check(posts[1]["t"] - posts[0]["t"] >= 2.0, "retried before the 2 s timeout")
    h.stop()
    check(count(texts(slack.accepted()), "CRITICAL firing: model HTTP 500") == 1,
          f"{texts(slack.accepted())}")
    check("timed out" in h.stderr(), h.stderr())


@test
def run_slack_down_delivers_in_order_when_back_none_twice():
    slack = SlackStandin("500")
    since = db_now()
    h = run(slack)
    get("/model/crash")
    slack.wait_posts(lambda p: len(p) >= 2, timeout=20)
    get("/data/sleep?ms=600", 4)
    slack.wait_posts(lambda p: len(p) >= 4, timeout=20)
    check(slack.accepted() == [], "accepted while down")
    slack.set_schedule("200")
    check(wait_text(slack, "WARNING firing: data", timeout=20), f"{slack.posts()}")
    h.stop()
    titles = texts(slack.accepted())
    first = [t for t in titles if "firing" in t]
    check(len(first) >= 2 and "HTTP 500" in first[0] and "WARNING firing: data" in first[1],
          f"order: {titles}")
    check(count(titles, "CRITICAL firing: model HTTP 500") == 1, f"twice: {titles}")
    check(count(titles, "WARNING firing: data") == 1, f"twice: {titles}")
    first_ok = slack.accepted()[0]
    check(len(first_ok["attachments"]) >= 2 and "alert updates" in first_ok["text"],
          f"the backlog was not coalesced into one message: {first_ok['text']}")
    rows = wait_rows("rule in ('http_500', 'latency') and state = 'firing' "
                     f"and ts >= '{since}'", 2)
    check([r[0] for r in rows] == ["http_500", "latency"] and all(r[5] == "1" for r in rows),
          f"alerts table: {rows}")


QUIET = FAST.replace("window = 4s", "window = 30s").replace("hold = 3s", "hold = 60s") \
    .replace("min_samples = 3", "min_samples = 5") + "[grafana]\nurl = http://grafana.example:3000/\n"


@test
def run_quiet_api_alerts_on_single_requests():
    """An otherwise busy app; its model API sees one request now and then: a lone 600 ms
    request warns, naming the route template, a lone 1200 ms one escalates to critical, a lone
    500 fires the 500 alert. The busy data API, fast, raises nothing."""
    quiet_app = harness.Uvicorn(module="routes_app:app")
    slack = SlackStandin("200")
    h = run(slack, QUIET, target=quiet_app)
    stop = threading.Event()

    def busy():
        while not stop.is_set():
            harness.http(quiet_app.port, path="/data/sleep?ms=2")
            time.sleep(0.02)
    t = threading.Thread(target=busy)
    t.start()
    try:
        time.sleep(1)
        check(harness.http(quiet_app.port, "POST", "/model/render/q1a00007?ms=600")[0] == 201,
              "the render did not answer 201")
        check(wait_text(slack, "WARNING firing: model response time 1 request in 30 s: 6"),
              f"no warning for one slow request: {texts(slack.accepted())}")
        harness.http(quiet_app.port, "POST", "/model/render/a8f3k2?ms=1200")
        check(wait_text(slack, "CRITICAL firing (escalated from warning): model response time "
                        "slowest of 2 requests in 30 s: 12"),
              f"no escalation: {texts(slack.accepted())}")
        check(harness.http(quiet_app.port, "POST", "/model/render/zz9k1?fail=1")[0] == 500,
              "the render did not fail")
        check(wait_text(slack, "CRITICAL firing: model HTTP 500 x1 on /model/render/{job_id}"),
              f"no 500 alert: {texts(slack.accepted())}")
    finally:
        stop.set()
        t.join(10)
    h.stop()
    titles = texts(slack.accepted())
    check(count(titles, "firing") == 3, f"want 3 alerts: {titles}")
    check(count(titles, "data") == 0, f"the busy API alerted: {titles}")
    check(all("on /model/render/{job_id}" in x for x in titles), f"route template: {titles}")
    atts = [a for b in slack.accepted() for a in b["attachments"]]
    link = atts[0].get("title_link", "")
    check(link.startswith("http://grafana.example:3000/d/httplat-overview/?var-api=model&"
                          "var-route=%2Fmodel%2Frender%2F%7Bjob_id%7D&var-host="),
          f"Grafana link: {link!r}")
    samples = sample_field(atts[1])
    check(samples and "POST /model/render/a8f3k2 → 201 in 12" in samples[0], f"{samples}")


@test
def run_wait_rule_fires_when_the_event_loop_is_blocked():
    """The app blocks its event loop for 900 ms: a request sent meanwhile waits to be read;
    the wait rule (on queue_ms + wait_ms) warns, naming it; its handler time is not counted."""
    slack = SlackStandin("200")
    h = run(slack, FAST + "[alerts]\nrules = wait\n")
    blocker = threading.Thread(target=lambda: get("/data/block?ms=900"))
    blocker.start()
    time.sleep(0.25)
    get("/data/items/1")
    blocker.join(10)
    # two requests in the window (the blocking one waited ~0): judged on the slower
    check(wait_text(slack, "WARNING firing: data time waiting to be read slowest of 2 "
                    "requests in 4 s: "), f"no wait alert: {texts(slack.accepted())}")
    h.stop()
    titles = texts(slack.accepted())
    check(count(titles, "response time") == 0, f"the latency rule is off: {titles}")
    value = float(re.search(r"(\d+) ms > 500 ms", titles[0]).group(1))
    check(500 < value < 900, f"waited {value} ms behind a 900 ms block")
    check("on /data/items/{item_id}" in titles[0], f"route: {titles[0]}")
    samples = sample_field(slack.accepted()[0]["attachments"][0])
    check(samples and "GET /data/items/1 waited" in samples[0], f"samples {samples}")


@test
def run_without_webhook_logs_to_stderr():
    h = run(None)
    check("no Slack webhook configured" in h.stderr(), h.stderr())
    since = db_now()
    get("/model/crash")
    h.wait_stderr("httplat: alert: CRITICAL firing: model HTTP 500", timeout=10)
    rows = wait_rows(f"ts >= '{since}'", 1)
    check(len(rows) == 1 and rows[0][:6] == ["http_500", "model", "/model/crash", "critical",
                                             "firing", "-1"], f"{rows}")
    h.stop()


@test
def run_slack_404_reported_as_configuration_error():
    slack = SlackStandin("404")
    h = run(slack)
    get("/model/crash")
    h.wait_stderr("configuration error", timeout=10)
    h.stop()
    check(len(slack.posts()) >= 1 and all(p["answer"] == "404" for p in slack.posts()),
          f"{slack.posts()}")
    check(SECRET not in h.stderr(), "webhook printed in full")


@test
def run_error_ratio_and_reminder():
    slack = SlackStandin("200")
    h = run(slack, FAST.replace("repeat = 0", "repeat = 2s").replace("hold = 3s", "hold = 30s")
            + "[alerts]\nrules = error_ratio\n")
    get("/model/unavailable", 3)  # 503s: not the http_500 rule, but 100 % 5xx
    check(wait_text(slack, "CRITICAL firing: model 5xx ratio 100.0 % 5xx > 25.0 %"),
          f"no error ratio alert: {texts(slack.accepted())}")
    check(wait_text(slack, "CRITICAL reminder: model 5xx ratio", timeout=10),
          f"no reminder: {texts(slack.accepted())}")
    h.stop()
    titles = texts(slack.accepted())
    check(count(titles, "HTTP 500") == 0, f"http_500 is off: {titles}")
    samples = sample_field(slack.accepted()[0]["attachments"][0])
    check(samples and "GET /model/unavailable → 503" in samples[0], f"samples {samples}")


@test
def run_no_response_rule_and_not_a_latency():
    """The app dies while answering: a no_response alert, and no latency alert from it."""
    doomed_app = harness.Uvicorn()
    slack = SlackStandin("200")
    h = run(slack, FAST + "[alerts]\nrules = latency, no_response\nstat = max\n"
            "min_samples = 1\n", target=doomed_app)
    check(harness.http(doomed_app.port, path="/data/items/1")[0] == 200, "app not answering")

    def doomed():
        try:
            harness.http(doomed_app.port, path="/data/sleep?ms=5000", timeout=10)
        except OSError:
            pass
    t = threading.Thread(target=doomed)
    t.start()
    time.sleep(0.7)  # let the request reach the app before it dies
    harness.stop_pid(doomed_app.proc, signal.SIGKILL)
    t.join(15)
    check(wait_text(slack, "WARNING firing: data requests without response 1"),
          f"no no_response alert: {texts(slack.accepted())}")
    h.stop()
    titles = texts(slack.accepted())
    check(count(titles, "response time") == 0, f"abandoned request used as latency: {titles}")
    samples = sample_field(slack.accepted()[0]["attachments"][0])
    check(samples and "GET /data/sleep → no response after" in samples[0], f"samples {samples}")


@test
def run_takes_database_and_selection_from_config_file():
    a = app()
    conf = FAST + f"[database]\ndb = {pg().conninfo}\n[select]\npids = {a.proc.pid}\n" \
        f"ports = {a.port}\n"
    since = db_now()
    h = harness.Httplat("run", "--no-spool", "--stats-interval", "0", "--config",
                        conf_file(conf), env={"HTTPLAT_SLACK_WEBHOOK": "", "HTTPLAT_DB": ""})
    get("/model/crash")
    h.wait_stderr("httplat: alert: CRITICAL firing: model HTTP 500", timeout=10)
    rows = wait_rows(f"rule = 'http_500' and ts >= '{since}'", 1)
    h.stop()
    check(len(rows) == 1, f"no row through the config's database: {rows}")


if __name__ == "__main__":
    raise SystemExit(harness.run_tests())
