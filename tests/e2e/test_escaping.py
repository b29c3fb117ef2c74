#!/usr/bin/python3
"""test_escaping.py: request bytes never reach an operator's terminal raw.

Clients send paths and Host headers holding ESC sequences (an OSC that retitles the terminal,
a screen clear), C1 controls (U+009B CSI as UTF-8, and as a bare 0x9b byte), invalid UTF-8 and
a right-to-left override, to a real uvicorn app. The routes come from the paths (no OpenAPI
document), so the route columns carry the same bytes. Then the bytes that `trace` (text),
`top --batch`, `top --once` and the interactive `top` (under tmux, every byte it wrote to the
terminal) and `alert check` / `alert test` put out are inspected: valid UTF-8, no control
character but the terminal handling ncurses itself does, and each hostile byte shown escaped.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (HTTPLAT, Httplat, Tmux, Uvicorn, at_exit, check, run_tests,  # noqa: E402
                     test)
from slack_standin import SlackStandin  # noqa: E402

# request targets as raw bytes (each a separate API row: the first segment decides the API)
HOSTILE = [
    b"/osc\x1b]0;PWNED\x07/x",
    b"/clear\x1b[2J\x1b[H/x",
    b"/csi\xc2\x9b31m/x",
    b"/bare\x9b31m\xff\xfe/x",
    b"/bidi\xe2\x80\xaetxt.exe/x",
    b"/zw\xe2\x80\x8bsp/x",
]
# what each shows as, in every output (the escaped path or route segment)
SHOWN = ["\\x1b]0;PWNED\\x07", "\\x1b[2J\\x1b[H", "\\u009b31m", "\\x9b31m\\xff\\xfe",
         "\\u202etxt.exe", "\\u200bsp"]
# what must never appear: the raw sequences a terminal would act on
RAW = [b"\x1b]0;PWNED", b"\x1b[2J", b"\xc2\x9b", b"\x9b31m", b"\xe2\x80\xae", b"\xe2\x80\x8b",
       b"\xff\xfe"]
HOST = b"evil\x1b]0;HOSTPWN\x07\xc2\x9b"


def send(port, target, host=HOST):
    """One raw request (any bytes in the target and Host); returns the status (0: none)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0


def send_all(port, rounds=1):
    for _ in range(rounds):
        for t in HOSTILE:
            send(port, t)


def unsafe(data, allow=b"\n"):
    """The first byte offset where data stops being terminal-safe text, or -1."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start
    for i, ch in enumerate(text):
        cp = ord(ch)
        if ch.encode() in (bytes([b]) for b in allow):
            continue
        if cp < 0x20 or 0x7f <= cp <= 0x9f or 0x200b <= cp <= 0x200f or 0x202a <= cp <= 0x202e \
                or 0x2066 <= cp <= 0x2069 or cp == 0xfeff:
            return len(text[:i].encode())
    return -1


def check_output(what, data, need=SHOWN):
    pos = unsafe(data)
    check(pos < 0, f"{what}: unsafe byte at {pos}: {data[max(0, pos - 40):pos + 40]!r}")
    for raw in RAW:
        check(raw not in data, f"{what}: raw {raw!r} reached the output")
    text = data.decode()
    for s in need:
        check(s in text, f"{what}: {s!r} not shown: {text[-3000:]}")


def stdout_bytes(hl):
    with open(hl.out.name, "rb") as f:
        return f.read()


def stderr_bytes(hl):
    with open(hl.err.name, "rb") as f:
        return f.read()


@test
def test_trace_text_escapes_paths_routes_and_host():
    app = Uvicorn()
    hl = Httplat("trace", "--pid", str(app.proc.pid), "--openapi-path", "none")
    send_all(app.port)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and stdout_bytes(hl).count(b"\n") < 1 + len(HOSTILE):
        time.sleep(0.1)
    hl.stop()
    out = stdout_bytes(hl)
    check(out.count(b"\n") == 1 + len(HOSTILE), f"want {len(HOSTILE)} lines: {out!r}")
    check_output("trace", out)
    check_output("trace stderr", stderr_bytes(hl), need=[])
    # the route column carries the same bytes, escaped the same way
    line = [ln for ln in out.decode().splitlines() if "PWNED" in ln][0]
    check(line.count("/osc\\x1b]0;PWNED\\x07/x") == 2, f"route and path: {line!r}")
    app.stop()


@test
def test_top_batch_and_once_escape_routes():
    app = Uvicorn()
    top = Httplat("top", "--batch", "-d", "1", "--pid", str(app.proc.pid), "--openapi-path",
                  "none")
    once = Httplat("top", "--once", "-d", "3", "--pid", str(app.proc.pid), "--openapi-path",
                   "none")
    time.sleep(0.5)
    send_all(app.port, rounds=2)
    rc = once.proc.wait(20)
    check(rc == 0, f"--once exited {rc}: {once.stderr()}")
    time.sleep(1.5)
    top.stop()
    for what, hl in (("top --batch", top), ("top --once", once)):
        out = stdout_bytes(hl)
        check_output(what, out)
        check_output(what + " stderr", stderr_bytes(hl), need=[])
    app.stop()


@test
def test_top_interactive_terminal_gets_no_raw_bytes():
    if not shutil.which("tmux"):
        check(False, "tmux is not installed (scripts/install-deps.sh installs it)")
    app = Uvicorn()
    term = Tmux(f"TERM=xterm-256color LANG=C.UTF-8 {HTTPLAT} top -d 0.5 --pid {app.proc.pid} "
                "--openapi-path none", pipe=True)
    term.wait(lambda s: "q quit" in s, "the help line")
    send_all(app.port, rounds=2)
    term.keys("t")  # the per-route table: the route cells
    term.wait(lambda s: "PWNED" in s and "per route" in s, "the hostile routes")
    term.keys("Down", "Enter")  # the detail panel names the selected row's API and route
    time.sleep(1.5)
    screen = term.screen()
    raw = term.raw_bytes()
    for s in SHOWN[:4]:
        check(s in screen, f"{s!r} not on the screen:\n{screen}")
    for bad in RAW:
        if bad != b"\x1b[2J":  # ncurses clears the screen with it itself
            check(bad not in raw, f"raw {bad!r} reached the terminal")
    # ncurses' own control sequences aside, nothing but text: no OSC, no C1, valid UTF-8
    check(b"\x1b]" not in raw, "an OSC sequence reached the terminal")
    stripped = re.sub(rb"\x1b(\[[0-9;?]*[ -/]*[@-~]|[()][0-9A-Za-z]|[=>78M]|\]|)", b"", raw)
    pos = unsafe(stripped, allow=b"\n\r\x08\x07\x0f\x0e\t")
    check(pos < 0, f"unsafe bytes at {pos}: {stripped[max(0, pos - 40):pos + 40]!r}")
    term.keys("q")
    check(term.exit_status() == 0, "top did not quit cleanly")
    app.stop()


@test
def test_alert_commands_escape_what_they_echo():
    d = tempfile.mkdtemp(prefix="httplat-esc-")
    at_exit(lambda: shutil.rmtree(d, ignore_errors=True))
    conf = os.path.join(d, "httplat.conf")
    with open(conf, "wb") as f:
        f.write(b"[alerts.m\x1b[31mx]\nwarn_ms = 300\n[slack]\nchannel = #c\x1b]0;PWNED\x07"
                b"\xc2\x9b\xe2\x80\xae\n")
    os.chmod(conf, 0o600)
    env = {k: v for k, v in os.environ.items() if k != "HTTPLAT_SLACK_WEBHOOK"}
    r = subprocess.run([HTTPLAT, "alert", "check", "--config", conf], capture_output=True,
                       env=env, timeout=30)
    check(r.returncode == 0, f"alert check: {r.returncode} {r.stderr!r}")
    check_output("alert check", r.stdout, need=["m\\x1b[31mx"])
    slack = SlackStandin("evil")
    env["HTTPLAT_SLACK_WEBHOOK"] = slack.url
    r = subprocess.run([HTTPLAT, "alert", "test", "--config", conf], capture_output=True,
                       env=env, timeout=60)
    check(b"HTTP 500" in r.stdout, f"alert test: {r.stdout!r} {r.stderr!r}")
    check_output("alert test", r.stdout + r.stderr,
                 need=["oops\\x1b]0;PWNED\\x07\\x1b[2J\\u009b31m\\x9b\\xff\\u202eend"])


if __name__ == "__main__":
    sys.exit(run_tests())
