"""harness.py: end-to-end test helpers: servers on loopback started and stopped by PID.

Starts real uvicorn apps, a throwaway PostgreSQL (initdb into a temp dir, unix
socket only) and httplat itself; prints one "PASS name"/"FAIL name" line per test.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HTTPLAT = os.path.join(ROOT, "httplat")
PY = "/usr/bin/python3"
APPS = os.path.join(ROOT, "tests", "apps")
PG_BIN = "/usr/lib/postgresql/15/bin"
# Wall-clock bounds, waits and scheduling allowances are multiplied by this on a slow host,
# e.g. in the emulated test VM (tests/vm/kernel_tests.py sets it).
SLOWDOWN = float(os.environ.get("HTTPLAT_TEST_SLOWDOWN", "1"))
# HTTPLAT_TEST_HOOKS=syscall runs a suite on the fallback data path (tests/e2e/test_*_fallback.py)
HOOKS = os.environ.get("HTTPLAT_TEST_HOOKS", "")

# One request of every kind the tracing issues name: HEAD, 204, 304, chunked, 100 kB bodies,
# errors (a handled 500: an unhandled exception makes uvicorn close the connection).
MIXED_KINDS = [("GET", "/data/items/7", 200), ("HEAD", "/data/head", 200),
               ("GET", "/status/204", 204), ("GET", "/data/stream?chunks=3&ms=1", 200),
               ("GET", "/data/big?kb=100", 200), ("POST", "/user/signup", 201),
               ("GET", "/user/profile/2000", 404), ("GET", "/user/old-profile", 301),
               ("DELETE", "/data/items/3", 204), ("GET", "/status/500", 500),
               ("GET", "/user/admin", 403), ("GET", "/status/304", 304)]

_tests = []
_cleanups = []


def test(fn):
    """Registers a test function; run_tests() runs them in order."""
    _tests.append(fn)
    return fn


def at_exit(fn):
    _cleanups.append(fn)
    return fn


class CheckFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CheckFailed(what)


def realtime_client():
    """The client measures what a client waits: run it above the machine's other load
    (SCHED_FIFO; the servers and httplat it starts are reset to normal at fork), so that its
    own scheduling delays are not counted against httplat."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(10))
    except (AttributeError, PermissionError, OSError):
        pass


def run_tests():
    """Runs registered tests (or those named in argv); prints PASS/FAIL; returns exit code."""
    failed = 0
    only = sys.argv[1:]
    tag = f" [hooks={HOOKS}]" if HOOKS else ""
    try:
        for fn in _tests:
            if only and fn.__name__ not in only:
                continue
            t0 = time.monotonic()
            try:
                fn()
                print(f"PASS {fn.__name__}{tag} ({time.monotonic() - t0:.1f}s)", flush=True)
            except CheckFailed as e:
                failed += 1
                print(f"FAIL {fn.__name__}{tag}: {e}", flush=True)
            except Exception:
                failed += 1
                print(f"FAIL {fn.__name__}{tag}: exception", flush=True)
                traceback.print_exc(file=sys.stdout)
    finally:
        for fn in reversed(_cleanups):
            try:
                fn()
            except Exception:
                traceback.print_exc(file=sys.stdout)
    return 1 if failed else 0


def kernel_counters(header=None):
    """[(NAME, column, kind, meaning)] of HTTPLAT_COUNTERS in bpf/httplat.h, in table order;
    kind without its HTTPLAT_CK_ prefix, lowercase ('loss', 'giveup', 'oddity', 'info')."""
    with open(header or os.path.join(ROOT, "bpf", "httplat.h")) as f:
        text = f.read()
    block = text[text.index("#define HTTPLAT_COUNTERS(X)"):]
    block = block[:block.index("\n\n")]
    out = [(n, c, k.lower(), m) for n, c, k, m in re.findall(
        r'X\(\s*(\w+)\s*,\s*(\w+)\s*,\s*HTTPLAT_CK_(\w+)\s*,\s*"((?:[^"\\]|\\.)*)"\s*\)',
        block)]
    check(out and len(out) == block.count("X("), f"parsed {out} from HTTPLAT_COUNTERS")
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20.0, proc=None):
    deadline = time.monotonic() + timeout * SLOWDOWN
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on port {port} after {timeout}s")


def stop_pid(proc, sig=signal.SIGTERM, timeout=10.0):
    """Stops a process we started (and its process group) by PID."""
    if proc is None or proc.poll() is not None:
        return proc.returncode if proc else None
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return proc.wait(5)


class Uvicorn:
    """A uvicorn (or gunicorn) server on 127.0.0.1 running tests/apps/<module>."""

    def __init__(self, loop="asyncio", http="h11", workers=1, gunicorn=False,
                 module="app:app", port=None, extra=(), env=None):
        self.port = port or free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="uvicorn-", suffix=".log", delete=False)
        if gunicorn:
            cmd = ["/usr/bin/gunicorn", "-k", "uvicorn.workers.UvicornWorker",
                   "-w", str(workers), "-b", f"127.0.0.1:{self.port}", module]
        else:
            cmd = [PY, "-m", "uvicorn", module, "--host", "127.0.0.1",
                   "--port", str(self.port), "--loop", loop, "--http", http,
                   "--log-level", "warning", "--no-access-log"]
            if workers > 1:
                cmd += ["--workers", str(workers)]
        cmd += list(extra)
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.Popen(cmd, cwd=APPS, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True, env=e)
        at_exit(self.stop)
        wait_port(self.port, proc=self.proc)
        if workers > 1:
            self.wait_workers(workers)

    def children(self):
        """PIDs of all descendants."""
        out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
        kids = {}
        for line in out.split("\n"):
            if line.strip():
                pid, ppid = map(int, line.split())
                kids.setdefault(ppid, []).append(pid)
        res, todo = [], [self.proc.pid]
        while todo:
            p = todo.pop()
            for c in kids.get(p, []):
                res.append(c)
                todo.append(c)
        return res

    def wait_workers(self, n, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len([p for p in self.children() if _listens(p, self.port)]) >= n:
                return
            time.sleep(0.2)

    def pids(self):
        return [self.proc.pid] + self.children()

    def stop(self):
        stop_pid(self.proc)


def _listens(pid, port):
    try:
        return any(True for _ in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


class Postgres:
    """Throwaway PostgreSQL 15: initdb in a temp dir, unix socket only, its own port."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="httplat-pg-")
        os.chmod(self.dir, 0o755)
        shutil.chown(self.dir, "postgres", "postgres")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.proc = None
        r = subprocess.run(["runuser", "-u", "postgres", "--", f"{PG_BIN}/initdb", "-D", self.data,
                            "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("initdb failed: " + r.stderr)
        at_exit(self.destroy)
        self.start()

    @property
    def conninfo(self):
        return f"host={self.dir} port={self.port} user=postgres dbname=postgres"

    def start(self):
        self.proc = subprocess.Popen(
            ["runuser", "-u", "postgres", "--", f"{PG_BIN}/postgres", "-D", self.data,
             "-p", str(self.port), "-c", "listen_addresses=", "-c",
             f"unix_socket_directories={self.dir}", "-c", "fsync=off"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "log"), "a"),
            start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            r = subprocess.run(["psql", "-X", "-At", "-c", "select 1", self.conninfo],
                               capture_output=True, text=True)
            if r.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("postgres did not start")

    def stop(self, fast=True):
        """Stops the server by PID (SIGINT = fast shutdown; SIGKILL when fast=False... see kill)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            self.proc.wait(30)
        self.proc = None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)
        self.proc = None

    def sql(self, query, check=True):
        """Runs SQL with psql; returns rows as lists of strings (unaligned, tab separated)."""
        r = subprocess.run(["psql", "-X", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                            "-c", query, self.conninfo], capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError(f"psql failed: {r.stderr.strip()}\nquery: {query}")
        return [line.split("\t") for line in r.stdout.splitlines() if line != ""]

    def destroy(self):
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class Httplat:
    """./httplat <args> in the background; output kept in files."""

    def __init__(self, *args, env=None, ready="tracing", prefix=()):
        """prefix: a command httplat runs under (setpriv ... for reduced privileges)."""
        self.out = tempfile.NamedTemporaryFile(prefix="httplat-out-", delete=False)
        self.err = tempfile.NamedTemporaryFile(prefix="httplat-err-", delete=False)
        e = dict(os.environ)
        e.update(env or {})
        args = list(args)
        if HOOKS and args and args[0] in ("trace", "run", "top"):
            args[1:1] = ["--hooks", HOOKS]  # the whole suite again on the other data path
        self.proc = subprocess.Popen(list(prefix) + [HTTPLAT] + args, stdout=self.out,
                                     stderr=self.err, env=e, start_new_session=True)
        at_exit(self.stop)
        if ready:
            self.wait_stderr(ready)

    def stderr(self):
        with open(self.err.name, errors="replace") as f:
            return f.read()

    def stdout(self):
        with open(self.out.name, errors="replace") as f:
            return f.read()

    def wait_stderr(self, text, timeout=30):
        deadline = time.monotonic() + timeout * SLOWDOWN
        while time.monotonic() < deadline:
            if text in self.stderr():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"httplat exited ({self.proc.returncode}): {self.stderr()}")
            time.sleep(0.05)
        raise RuntimeError(f"httplat did not say {text!r}: {self.stderr()}")

    def stop(self, sig=signal.SIGINT, timeout=30):
        return stop_pid(self.proc, sig, timeout)

    def json_lines(self):
        """The JSON records written so far (a line still being written is not one yet)."""
        res = []
        out = self.stdout()
        for line in out[:out.rfind("\n") + 1].splitlines():
            line = line.strip()
            if line.startswith("{"):
                res.append(json.loads(line))
        return res


class Tmux:
    """A private tmux server (own socket) running one command in a wide window.

    pipe: also keep every byte the command writes to the terminal (tmux pipe-pane) in
    self.raw, for tests that look at what reaches the terminal, not what it shows."""

    def __init__(self, cmd, width=230, height=45, pipe=False):
        self.sock = f"httplat-test-{os.getpid()}"
        self.dir = tempfile.mkdtemp(prefix="httplat-tmux-")
        self.rc_file = os.path.join(self.dir, "rc")
        shell = f"{cmd}; echo $? > {self.rc_file}; sleep 30"
        self.tmux("new-session", "-d", "-s", "top", "-x", str(width), "-y", str(height),
                  "/bin/sh", "-c", shell)
        self.path = self.tmux("display-message", "-p", "#{socket_path}").stdout.strip()
        self.raw = os.path.join(self.dir, "raw")
        if pipe:
            self.tmux("pipe-pane", "-o", "-t", "top", f"cat >> {self.raw}")
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

    def raw_bytes(self):
        try:
            with open(self.raw, "rb") as f:
                return f.read()
        except OSError:
            return b""

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


def http(port, method="GET", path="/", body=b"", headers=None, timeout=30, version="1.1"):
    """One request on a fresh connection; returns (status, body, seconds)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        t0 = time.monotonic()
        s.sendall(build_request(method, path, body, headers, version, close=True))
        data = recv_all(s)
        dt = time.monotonic() - t0
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data.split(b"\r\n\r\n", 1)[-1], dt


def build_request(method, path, body=b"", headers=None, version="1.1", close=False):
    h = {"Host": "127.0.0.1"}
    if body or method in ("POST", "PUT", "PATCH"):
        h["Content-Length"] = str(len(body))
    if close:
        h["Connection"] = "close"
    h.update(headers or {})
    head = f"{method} {path} HTTP/{version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items())
    return head.encode("latin-1") + b"\r\n" + body


def recv_all(s):
    chunks = []
    while True:
        d = s.recv(65536)
        if not d:
            break
        chunks.append(d)
    return b"".join(chunks)


def parse_head(head):
    """A response head (without its blank line): (status, {lower-case name: lower-case value})."""
    lines = head.split(b"\r\n")
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        hdrs[k.strip().lower()] = v.strip().lower()
    return int(lines[0].split(b" ")[1]), hdrs


def read_response(s):
    """Reads exactly one HTTP/1.1 response from a keep-alive socket; returns (status, body)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise RuntimeError("connection closed in headers")
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ")[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        hdrs[k.strip().lower()] = v.strip()
    if b"content-length" in hdrs:
        n = int(hdrs[b"content-length"])
        while len(rest) < n:
            rest += s.recv(65536)
        return status, rest[:n], rest[n:]
    if hdrs.get(b"transfer-encoding", b"").lower() == b"chunked":
        while not rest.endswith(b"0\r\n\r\n"):
            rest += s.recv(65536)
        return status, rest, b""
    return status, rest, b""
