#!/usr/bin/python3
"""test_alerts.py: Slack alerting end to end: `httplat alert test`, the config file, and (with
`httplat run`) alerts from a traced uvicorn app delivered to a Slack stand-in.
"""
import os
import subprocess
import tempfile
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
    check("other users can read it" in r.stderr and "chmod 600" in r.stderr, r.stderr)
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


if __name__ == "__main__":
    raise SystemExit(harness.run_tests())
