"""untraced.py: what processes httplat does not trace pay while it is loaded, per operation.

Untraced work, timed with nothing loaded and with each tracer loaded (tracing an
idle uvicorn, so its PID bitmap is not empty), in rounds whose order rotates:
- `dd bs=1`: one read and one write syscall per byte, no socket: what every
  syscall of every process pays;
- build/bench/echo_pair: a TCP client/server pair on loopback doing small
  round trips: what every socket operation of every process pays;
- an untraced uvicorn under wrk (httplat's two paths only): what that adds up to.
dd and the echo pair are timed by their CPU time (rusage from wait4, so time spent
waiting for a CPU does not count) and pinned to the app's CPU. Nothing loaded runs
twice per round; the difference between those two runs is the noise floor.
"""
import json
import os
import subprocess
import time

import lib

# "none" twice per round: the A/A difference says how far two identical runs differ
CONFIGS = ["none", "socket", "syscall", "min_socket", "min_syscall", "none_again"]
SOCKET_CONFIGS = ("socket", "min_socket")
APP_CONFIGS = ("none", "socket", "syscall", "none_again")  # the untraced uvicorn under wrk


def timed(cmd):
    """Runs cmd pinned to the app's CPU; returns (CPU ns from its rusage, wall ns, stdout)."""
    if lib.PIN:
        cmd = ["taskset", "-c", str(lib.APP_CPU)] + cmd
    t0 = time.monotonic_ns()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = p.stdout.read()  # a line at most: no pipe can fill up meanwhile
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)  # not p.wait(): wait4 gives its rusage
    p.stdout.close()
    p.stderr.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic_ns() - t0
    if p.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {err.decode()[-500:]}")
    return int((ru.ru_utime + ru.ru_stime) * 1e9), wall, out.decode()


def dd(n):
    """dd bs=1 count=n: 2n syscalls (read from /dev/zero, write to /dev/null)."""
    cpu, wall, _ = timed(["dd", "if=/dev/zero", "of=/dev/null", "bs=1", f"count={n}",
                          "status=none"])
    return {"ops": 2 * n, "cpu_ns": cpu, "wall_ns": wall}


def echo(round_trips):
    """The echo pair: its own count of send/recv calls and its CPU (client and server)."""
    _, _, out = timed([os.path.join(lib.TOOLS, "echo_pair"), str(round_trips), "64"])
    return json.loads(out)


def configs(opts):
    res = [c for c in CONFIGS if c in opts.untraced_configs or c.startswith("none")]
    if not lib.has_socket_path():
        res = [c for c in res if c not in SOCKET_CONFIGS]
    return res


def measure(cfg, target, other, opts):
    foreign = lib.foreign_hooks() if opts.quiet.wait() else {}
    tracer = None if cfg.startswith("none") else lib.tracer(cfg, target.proc.pid)
    own = tracer.proc.pid if tracer else None
    try:
        res = {"cfg": cfg, "dd": dd(opts.dd_count), "echo": echo(opts.echo_round_trips)}
        if cfg in APP_CONFIGS and opts.untraced_app:
            c0 = lib.task_cpu_ns(other.proc.pid)
            w = lib.wrk(other.port, "/items/1", opts.untraced_app)
            res["app"] = {"req_s": w["req_s"], "requests": w["requests"],
                          "cpu_ns": lib.task_cpu_ns(other.proc.pid) - c0}
        for tp, n in lib.foreign_hooks(own).items():
            foreign[tp] = max(foreign.get(tp, 0), n)
        res["foreign_bpf"] = sum(foreign.values())
        res["foreign_hooks"] = foreign
        res["load"] = lib.loadavg()
        if tracer and tracer.proc.poll() is not None:
            raise RuntimeError(f"{cfg} exited early: {tracer.stderr()[-500:]}")
        return res
    finally:
        lib.stop(tracer)


def run(pg, opts, results):
    del pg
    out = results.setdefault("untraced", [])
    cfgs = configs(opts)
    target = lib.uvicorn("uvloop", "httptools")  # the one the tracers trace; stays idle
    other = lib.uvicorn("uvloop", "httptools")  # not selected: an untraced app
    try:
        for rnd, _, _, cfg in lib.schedule(opts.rounds, ["uvloop"], cfgs):
            r = measure(cfg, target, other, opts)
            r["round"] = rnd
            out.append(r)
            lib.log(f"untraced round {rnd + 1}/{opts.rounds} {cfg}: dd "
                    f"{r['dd']['cpu_ns'] / r['dd']['ops']:.1f} ns/syscall, echo "
                    f"{r['echo']['cpu_ns'] / r['echo']['ops']:.1f} ns/op"
                    + (f", untraced app {r['app']['req_s']:.0f} req/s" if "app" in r else "")
                    + f", other BPF programs {r['foreign_bpf']}")
    finally:
        lib.stop(other)
        lib.stop(target)
