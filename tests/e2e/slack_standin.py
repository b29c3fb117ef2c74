#!/usr/bin/python3
"""slack_standin.py: a stand-in for a Slack incoming webhook on 127.0.0.1, for the e2e tests.

Records every POST (time, path, body, answer) as one JSON line in --log and answers
from a schedule, one entry per POST, the last entry repeating:
  200        200 "ok" (400 "invalid_payload" / "no_text" when the body is not Slack JSON)
  429:N      429 "rate_limited" with "Retry-After: N"
  500        500 "rollup_error"
  404        404 "channel_not_found"
  hang       reads the request, never answers (until the client gives up)
  evil       500 with terminal escapes, C1 controls and invalid UTF-8 as the body (EVIL_BODY)
POST /_schedule with a body such as "500,200" replaces the schedule (and restarts it).

Run: slack_standin.py --port P --log FILE [--schedule 200]. As a module, SlackStandin
starts it in its own process group and stops it by PID.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
BODIES = {200: b"ok", 400: b"invalid_payload", 404: b"channel_not_found", 429: b"rate_limited",
          500: b"rollup_error"}
EVIL_BODY = b"oops\x1b]0;PWNED\x07\x1b[2J\xc2\x9b31m\x9b\xff\xe2\x80\xaeend"



class State:
    def __init__(self, schedule, log):
        self.lock = threading.Lock()
        self.schedule = schedule
        self.n = 0
        self.log = log

    def next_answer(self):
        with self.lock:
            a = self.schedule[min(self.n, len(self.schedule) - 1)]
            self.n += 1
            return a

    def record(self, entry):
        with self.lock, open(self.log, "a") as f:
            f.write(json.dumps(entry) + "\n")


def parse_schedule(text):
    res = []
    for item in text.split(","):
        item = item.strip()
        if item in ("hang", "evil") or item in ("200", "404", "500", "400"):
            res.append(item)
        elif item.startswith("429:") and item[4:].isdigit():
            res.append(item)
        else:
            raise ValueError(f"bad schedule entry {item!r}")
    if not res:
        raise ValueError("empty schedule")
    return res


def make_handler(state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def answer(self, code, body, headers=()):
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n)
            if self.path == "/_schedule":
                try:
                    sched = parse_schedule(raw.decode())
                except ValueError as e:
                    return self.answer(400, str(e).encode())
                with state.lock:
                    state.schedule, state.n = sched, 0
                return self.answer(200, b"ok")
            a = state.next_answer()
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            state.record({"t": time.time(), "path": self.path, "answer": a,
                          "content_type": self.headers.get("Content-Type"),
                          "body": body, "raw": None if body is not None else raw.decode("latin-1")})
            if a == "hang":
                time.sleep(120)
                return
            if a == "evil":
                return self.answer(500, EVIL_BODY)
            if a.startswith("429:"):
                return self.answer(429, BODIES[429], [("Retry-After", a[4:])])
            code = int(a)
            if code == 200 and not isinstance(body, dict):
                return self.answer(400, b"invalid_payload")
            if code == 200 and not body.get("text"):
                return self.answer(400, b"no_text")
            self.answer(code, BODIES[code])

    return Handler


class SlackStandin:
    """The stand-in in its own process; .url is the webhook, .posts() what it received."""

    def __init__(self, schedule="200"):
        import harness
        self.port = harness.free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="slack-standin-", suffix=".jsonl",
                                               delete=False).name
        self.proc = subprocess.Popen([harness.PY, os.path.abspath(__file__), "--port",
                                      str(self.port), "--log", self.log, "--schedule", schedule],
                                     start_new_session=True)
        harness.at_exit(self.stop)
        harness.wait_port(self.port, proc=self.proc)
        self.url = f"http://127.0.0.1:{self.port}/services/T0TEST/B0TEST/s3cr3tT0k3n"

    def set_schedule(self, schedule):
        import urllib.request
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/_schedule",
                                     data=schedule.encode(), method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.status == 200

    def posts(self):
        with open(self.log) as f:
            return [json.loads(line) for line in f if line.strip()]

    def accepted(self):
        """Bodies answered 200, in order."""
        return [p["body"] for p in self.posts() if p["answer"] == "200"]

    def wait_posts(self, pred, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            posts = self.posts()
            if pred(posts):
                return posts
            time.sleep(0.1)
        return self.posts()

    def stop(self):
        import harness
        harness.stop_pid(self.proc)
        try:
            os.unlink(self.log)
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser(description="Slack webhook stand-in on 127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--schedule", default="200")
    args = ap.parse_args()
    state = State(parse_schedule(args.schedule), args.log)
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(state))
    srv.daemon_threads = True
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
