"""lib.py: shared pieces of `make bench`: servers, wrk, CPU accounting, statistics.

Servers come from tests/e2e/harness.py (PostgreSQL initdb'd into a temp dir on a
unix socket, uvicorn on 127.0.0.1, httplat), all started and stopped by PID.
"""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

import harness  # noqa: E402  (after the path tweak on purpose)

WRK_LUA = os.path.join(HERE, "wrk_report.lua")
TOOLS = os.path.join(ROOT, "build", "bench")  # make bench-tools: minimal, echo_pair
CLK_TCK = os.sysconf("SC_CLK_TCK")
HTTPLAT = harness.HTTPLAT
# The app is pinned to CPU 0 and wrk to CPU 1, so runs do not differ by where the scheduler put
# them; httplat and PostgreSQL float, as they would next to a real app. bench.py may clear PIN.
PIN = True
APP_CPU = 0
WRK_CPU = "1"


# uvicorn flavours: (event loop, HTTP parser)
LOOPS = [("uvloop", "httptools"), ("asyncio", "h11")]


def schedule(rounds, loops, configs):
    """(round, loop, http, config) in run order: per round and loop flavour every config once,
    the order rotated by one each round (A B C, B C A, ...) so none always runs first."""
    for rnd in range(rounds):
        for loop, http in LOOPS:
            if loop in loops:
                shift = rnd % len(configs)
                for cfg in configs[shift:] + configs[:shift]:
                    yield rnd, loop, http, cfg


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def cleanup_all():
    """Stops everything harness-started, newest first (servers are stopped by PID)."""
    while harness._cleanups:
        fn = harness._cleanups.pop()
        try:
            fn()
        except Exception as e:  # keep stopping the rest
            log(f"cleanup: {e!r}")


# ---- statistics -------------------------------------------------------------------------------

def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def percentile(xs, q):
    """Nearest-rank percentile, q in [0, 100]."""
    xs = sorted(xs)
    if not xs:
        return None
    k = max(0, min(len(xs) - 1, int(round(q / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


def spread(xs):
    """(median, min, max) of the non-None values, or (None, None, None)."""
    xs = [x for x in xs if x is not None]
    if not xs:
        return (None, None, None)
    return (statistics.median(xs), min(xs), max(xs))


# ---- CPU accounting ---------------------------------------------------------------------------

def all_procs():
    """{pid: (ppid, cpu seconds of the process and of its children it has waited for)}."""
    res = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        res[int(d)] = (int(fields[1]), sum(int(x) for x in fields[11:15]) / CLK_TCK)
    return res


def descendants(procs, root):
    kids = {}
    for pid, (ppid, _) in procs.items():
        kids.setdefault(ppid, []).append(pid)
    res, todo = set(), [root]
    while todo:
        for c in kids.get(todo.pop(), []):
            res.add(c)
            todo.append(c)
    return res


def tree_cpu_s(procs, root):
    """CPU of a process tree, including its exited members (they count in their parent's
    cutime/cstime once waited for, so PostgreSQL backends that ended are not lost)."""
    return sum(procs[p][1] for p in {root} | descendants(procs, root) if p in procs)


def system_busy_s():
    """CPU seconds spent in user+nice+system over all cores since boot (irq time excluded)."""
    with open("/proc/stat") as f:
        parts = f.readline().split()
    return (int(parts[1]) + int(parts[2]) + int(parts[3])) / CLK_TCK


class CpuMeter:
    """CPU used between start() and stop() by chosen process trees, by us, and by everyone else."""

    def __init__(self, trees):
        self.trees = dict(trees, ours=os.getpid())  # name -> root pid

    def sample(self):
        procs = all_procs()
        return {name: tree_cpu_s(procs, root) for name, root in self.trees.items()}

    def start(self):
        self.t0 = time.monotonic()
        self.busy0 = system_busy_s()
        self.cpu0 = self.sample()

    def stop(self):
        """{tree name: cpu s, "other_cores": cores busy with processes not ours, "wall_s"}."""
        cpu = self.sample()
        wall = time.monotonic() - self.t0
        busy = system_busy_s() - self.busy0
        res = {name: cpu[name] - self.cpu0[name] for name in self.trees}
        res["wall_s"] = wall
        res["other_cores"] = max(0.0, busy - res.pop("ours")) / wall if wall > 0 else None
        return res


def prog_ids(pid):
    """Ids of the BPF programs a process holds open (from /proc/<pid>/fdinfo: this bpftool
    build lists no owning pids)."""
    ids = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return ids
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:bpf-prog":
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                ids.update(int(ln.split()[1]) for ln in f if ln.startswith("prog_id:"))
        except OSError:
            continue
    return ids


# Hooks another tracer slows untraced work on: every syscall, or every socket operation.
HOT_HOOKS = ("sys_enter", "sys_exit", "sock_recv_length", "sock_send_length")


def foreign_hooks(*own_pids):
    """{tracepoint: links} of BPF programs on HOT_HOOKS that none of own_pids holds (other
    httplat instances, e.g. other people's tests): each slows the work of every process."""
    links = json.loads(run_cmd(["bpftool", "-j", "link", "show"]))
    own = set()
    for pid in own_pids:
        if pid:
            own |= prog_ids(pid)
    res = {}
    for ln in links:
        tp = ln.get("tp_name")
        if tp in HOT_HOOKS and ln.get("prog_id") not in own:
            res[tp] = res.get(tp, 0) + 1
    return res


def foreign_tracers(*own_pids):
    """How many foreign programs sit on hot hooks (0: the run was not disturbed)."""
    return sum(foreign_hooks(*own_pids).values())


class Quiet:
    """Waits before a run for other tracers to unload: up to each_s per run, and at most
    budget_s over the whole benchmark, so a busy machine slows it down only so much."""

    def __init__(self, each_s, budget_s):
        self.each_s = each_s
        self.left_s = budget_s

    def wait(self):
        """Returns how many foreign tracing programs are still loaded."""
        t0 = time.monotonic()
        deadline = t0 + min(self.each_s, self.left_s)
        n = foreign_tracers()
        while n and time.monotonic() < deadline:
            time.sleep(1)
            n = foreign_tracers()
        self.left_s = max(0.0, self.left_s - (time.monotonic() - t0))
        return n


def task_cpu_ns(pid):
    """CPU time of a process's live threads in ns (the first field of
    /proc/PID/task/TID/schedstat: the utime+stime of /proc/PID/stat, without its 10 ms ticks)."""
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


# ---- load generators --------------------------------------------------------------------------

def wrk(port, path, seconds, connections=32, threads=1, scheme="http"):
    """Runs wrk --latency; returns its BENCH_JSON summary (latencies in µs) plus req_s."""
    cmd = ["taskset", "-c", WRK_CPU] if PIN else []
    cmd += ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
           "-s", WRK_LUA, f"{scheme}://127.0.0.1:{port}{path}"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    out, err = p.stdout, p.stderr
    line = next((ln for ln in out.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if p.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({p.returncode}): {err.strip()} {out[-500:]}")
    res = json.loads(line.split(" ", 1)[1])
    res["req_s"] = res["requests"] / (res["duration_us"] / 1e6)
    res["errors"] = sum(res[k] for k in res if k.startswith("err_"))
    return res


def run_cmd(cmd, **kw):
    """Runs a short command; returns stdout; raises with its stderr on failure."""
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()[-800:]}")
    return r.stdout


class Env:
    """Sets environment variables for the processes started inside the with-block."""

    def __init__(self, **kv):
        self.kv = kv

    def __enter__(self):
        self.old = {k: os.environ.get(k) for k in self.kv}
        os.environ.update(self.kv)

    def __exit__(self, *exc):
        for k, v in self.old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def uvicorn(loop, http, mw="none", pg=None, extra=()):
    """Starts tests/apps/bench_app.py on uvicorn (1 worker) with the given in-app middleware
    (extra: more uvicorn options, e.g. --ssl-keyfile/--ssl-certfile)."""
    with Env(HTTPLAT_BENCH_MW=mw, HTTPLAT_BENCH_PG=pg.conninfo if pg else ""):
        app = harness.Uvicorn(loop=loop, http=http, module="bench_app:app", extra=extra)
    if PIN:
        for tid in os.listdir(f"/proc/{app.proc.pid}/task"):
            os.sched_setaffinity(int(tid), {APP_CPU})
    return app


def httplat(*args, ready="tracing"):
    return harness.Httplat(*args, ready=ready)


def build_tools():
    """Builds the bench's own programs (the minimal BPF program per data path, the echo pair)."""
    run_cmd(["make", "-s", "--no-print-directory", "-C", ROOT, "bench-tools"])


def has_socket_path():
    """Does this kernel have sock:sock_recv_length / sock_send_length (Linux 6.3+)?"""
    return any(os.path.exists(f"{d}/events/sock/sock_send_length")
               for d in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"))


class Minimal(harness.Httplat):
    """build/bench/minimal on one data path ("socket" or "syscall") tracing pids, by PID."""

    def __init__(self, path, *pids):  # pylint: disable=super-init-not-called
        self.out = tempfile.NamedTemporaryFile(prefix="minimal-out-", delete=False)
        self.err = tempfile.NamedTemporaryFile(prefix="minimal-err-", delete=False)
        self.proc = subprocess.Popen([os.path.join(TOOLS, "minimal"), path] +
                                     [str(p) for p in pids], stdout=self.out, stderr=self.err,
                                     start_new_session=True)
        harness.at_exit(self.stop)
        self.wait_stderr("tracing")

    def records(self):
        """Records drained, once stopped (None if it did not say)."""
        m = re.search(r"records (\d+) lost (\d+)", self.stdout())
        return int(m.group(1)) if m else None


# How each tracing configuration starts, for a target PID: (minimal path) or httplat's arguments.
TRACERS = {
    "trace": ["trace", "--pid", "{pid}"],
    "trace_syscall": ["trace", "--hooks", "syscall", "--pid", "{pid}"],
    "socket": ["trace", "--hooks", "socket", "--pid", "{pid}"],
    "syscall": ["trace", "--hooks", "syscall", "--pid", "{pid}"],
    "min_socket": "socket",
    "min_syscall": "syscall",
}


def tracer(kind, pid):
    """Starts the tracer of a configuration (TRACERS) on pid."""
    how = TRACERS[kind]
    if isinstance(how, str):
        return Minimal(how, pid)
    return httplat(*[a.format(pid=pid) for a in how])


def seen(server):
    """Requests a stopped tracer reported: minimal's records, the lines `httplat trace` printed
    (one per request); read before stop() deletes the output. None for `httplat run`."""
    if isinstance(server, Minimal):
        return server.records()
    if server.proc.args[1:2] != ["trace"]:
        return None
    with open(server.out.name, "rb") as f:
        return sum(1 for line in f if line[:1].isdigit())


def stop(server):
    """Stops a harness server (None is fine) by PID and removes its output files, which for
    `httplat trace` under load grow by megabytes a run; returns its exit status."""
    if server is None:
        return None
    rc = server.stop()
    for f in ("out", "err", "log"):
        if hasattr(server, f):
            try:
                os.unlink(getattr(server, f).name)
            except OSError:
                pass
    return rc


def machine_info():
    def first(cmd):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True).stdout
            return out.strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"

    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    py = harness.PY
    mods = first([py, "-c", "import fastapi, uvicorn, uvloop, httptools, h11, starlette, "
                  "psycopg2; print(f'fastapi {fastapi.__version__}, "
                  "starlette {starlette.__version__}, "
                  "uvicorn {uvicorn.__version__}, uvloop {uvloop.__version__}, "
                  "httptools {httptools.__version__}, h11 {h11.__version__}, "
                  "psycopg2 {psycopg2.__version__.split()[0]}')"])
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "kernel": os.uname().release,
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "memory": f"{mem_kb / 1048576:.0f} GiB",
        "os": first(["sh", "-c", ". /etc/os-release; echo $PRETTY_NAME"]),
        "python": first([py, "--version"]) + ": " + mods,
        "postgres": first([os.path.join(harness.PG_BIN, "postgres"), "--version"]),
        "wrk": first(["sh", "-c", "wrk -v 2>&1"]),
        "httplat": first(["git", "-C", ROOT, "log", "-1", "--format=%h %s"]),
    }
