#!/usr/bin/python3
"""demo_slack.py: a local stand-in for a Slack incoming webhook, for `make demo` (stdlib only).

Listens on 127.0.0.1, answers every POST like Slack does (200, body "ok"), and appends each
message as one JSON line to --log, so the demo can show what would have reached Slack.

    /usr/bin/python3 scripts/demo_slack.py --port 0 --log /tmp/slack.jsonl --url-file /tmp/url
"""
import argparse
import http.server
import json
import os
import signal
import sys
import threading
import time


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n > 0 else b""
        try:
            msg = json.loads(body)
        except ValueError:
            self.reply(400, b"invalid_payload")
            return
        if not isinstance(msg, dict) or not msg.get("text"):
            self.reply(400, b"no_text")
            return
        line = json.dumps({"ts": time.time(), "path": self.path, "payload": msg})
        with self.server.lock, open(self.server.log, "a") as f:
            f.write(line + "\n")
        self.reply(200, b"ok")

    def reply(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    ap.add_argument("--log", required=True, help="file receiving one JSON line per message")
    ap.add_argument("--url-file", help="write the webhook URL here once listening")
    args = ap.parse_args()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    srv.lock, srv.log = threading.Lock(), args.log
    url = f"http://127.0.0.1:{srv.server_address[1]}/services/httplat-demo"
    if args.url_file:
        with open(args.url_file + ".tmp", "w") as f:
            f.write(url + "\n")
        os.replace(args.url_file + ".tmp", args.url_file)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    print(f"demo_slack: listening on {url}", file=sys.stderr, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
