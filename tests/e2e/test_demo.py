#!/usr/bin/python3
"""test_demo.py: `make demo` run as a user would, without a terminal (DEMO_SECONDS=20).

Checks that it exits 0, that traced requests of all three APIs reached PostgreSQL, that
nothing it started is still running afterwards, that the commands it prints to query the data
again work, and that alerts for the slow and failing model endpoints reached the local Slack
stand-in.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SECONDS, RATE = 20, 20
_run = {}


def demo():
    """Runs `make demo` once; returns (exit status, output, demo dir)."""
    if not _run:
        d = tempfile.mkdtemp(prefix="httplat-demo-test-", dir="/var/tmp")
        h.at_exit(lambda: cleanup(d))
        env = dict(os.environ, DEMO_SECONDS=str(SECONDS), DEMO_RATE=str(RATE), DEMO_DIR=d,
                   DEMO_KEEP="1")
        env.pop("HTTPLAT_SLACK_WEBHOOK", None)  # the stand-in, never a real channel
        r = subprocess.run(["make", "--no-print-directory", "demo"], cwd=h.ROOT, env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=600)
        _run.update(rc=r.returncode, out=r.stdout + r.stderr, dir=d)
    return _run["rc"], _run["out"], _run["dir"]


def cleanup(d):
    pg = "/usr/lib/postgresql/15/bin/pg_ctl"
    if os.path.exists(os.path.join(d, "pg", "postmaster.pid")):
        subprocess.run(["runuser", "-u", "postgres", "--", pg, "-D", os.path.join(d, "pg"),
                        "stop", "-m", "immediate"], capture_output=True)
    shutil.rmtree(d, ignore_errors=True)


def running(pid):
    """True while pid exists and is not a zombie (exited, its parent not yet told)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stored(out):
    m = re.search(r"demo: (\d+) requests stored in PostgreSQL", out)
    h.check(m, "demo did not report the rows it stored:\n" + out[-3000:])
    return int(m.group(1))


@h.test
def test_demo_runs_and_stores_rows():
    rc, out, _ = demo()
    h.check(rc == 0, f"make demo exited {rc}:\n{out[-3000:]}")
    n = stored(out)
    want = SECONDS * RATE
    h.check(0.5 * want <= n <= 1.2 * want, f"{n} rows stored, expected about {want}")
    for api in ("data", "model", "user"):
        h.check(re.search(rf"^\s*{api}\s+\|\s+\d+", out, re.M), f"no {api} row in the summary")
    h.check("httplat top" in out and re.search(r"^model\s+\S+\s+\S+\s+\S+", out, re.M),
            "no top output with a model row")


@h.test
def test_demo_leaves_nothing_running():
    _, out, d = demo()
    with open(os.path.join(d, "pids")) as f:
        started = {line.split()[1]: line.split()[0] for line in f if line.strip()}
    for name in ("postgres", "app", "httplat-run", "traffic", "slack"):
        h.check(name in started, f"demo did not record starting {name}: {started}")
    for name, pid in started.items():
        h.check(not running(pid), f"{name} (pid {pid}) still running")
    ps = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    left = [line for line in ps.splitlines() if d in line]
    h.check(not left, f"processes still using {d}: {left}")
    h.check("stopped everything it started" in out, "no final message")


@h.test
def test_demo_data_can_be_queried_afterwards():
    """Runs the commands the demo prints: start the database again, query it, stop it."""
    _, out, d = demo()
    n = stored(out)
    lines = out[out.index("To query it again:"):].splitlines()[1:]
    start = (lines[0].rstrip("\\") + lines[1]).strip()
    query = lines[2].strip()
    stop = lines[4].split("#")[0].strip()
    h.check("pg_ctl" in start and start.endswith("start"), f"start command: {start}")
    r = subprocess.run(["bash", "-c", start], capture_output=True, text=True)
    h.check(r.returncode == 0, f"printed start command failed: {r.stderr}")
    try:
        r = subprocess.run(["bash", "-c", query], capture_output=True, text=True)
        h.check(r.returncode == 0 and "/model/generate" in r.stdout,
                f"printed query failed: {r.stderr}{r.stdout[-500:]}")
        conn = re.search(r'psql "([^"]+)"', query).group(1)
        q = ("SELECT count(*), max(duration_ms) FILTER (WHERE route = '/model/generate'), "
             "count(DISTINCT api) FROM httplat.http_requests")
        r = subprocess.run(["psql", "-X", "-At", "-F", " ", "-c", q, conn],
                           capture_output=True, text=True)
        count, gen_max, apis = r.stdout.split()
        h.check(int(count) == n, f"{count} rows in the database, demo said {n}")
        h.check(1195 <= float(gen_max) <= 1500, f"model generation took {gen_max} ms, "
                "the app sleeps 1200 ms")
        h.check(int(apis) == 3, f"{apis} APIs stored")
    finally:
        r = subprocess.run(["bash", "-c", stop], capture_output=True, text=True)
    h.check(r.returncode == 0, f"printed stop command failed: {r.stderr}")


@h.test
def test_demo_alerts_reach_slack():
    """The slow generation (p95 ~1200 ms) and /model/crash (500) alert on the stand-in."""
    _, out, d = demo()
    with open(os.path.join(d, "slack.jsonl")) as f:
        msgs = [json.loads(line)["payload"] for line in f if line.strip()]
    texts = [json.dumps(m) for m in msgs]
    h.check(msgs, "no message reached the Slack stand-in; alerting log:\n" +
            "\n".join(line for line in out.splitlines() if "alert" in line.lower())[-2000:])
    h.check(any("model" in t and "1000" in t for t in texts),
            f"no critical latency alert for the model API in {texts[:3]}")
    h.check(any("500" in t and "/model/crash" in t for t in texts),
            f"no HTTP 500 alert naming /model/crash in {texts[:3]}")


if __name__ == "__main__":
    sys.exit(h.run_tests())
