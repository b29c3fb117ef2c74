"""kernel.py: httplat's kernel-side cost: BPF time per traced request, per program and data path.

With kernel.bpf_stats_enabled=1 (restored afterwards), the run_time_ns and
run_cnt that `bpftool prog show` reports for a tracer's programs are read around
a wrk run against the traced app, then around a syscall-heavy untraced process
(dd with 1-byte reads and writes) and an untraced echo pair. Tracers: httplat trace on the socket path and
on the fallback (--hooks syscall), and the minimal programs of both paths
(scripts/bench/minimal.bpf.c), on every loop flavour. What untraced processes
pay without the statistics' own cost is untraced.py's part.
"""
import json
import os

import lib

DD_BYTES = 1_000_000  # dd bs=1: one read and one write syscall per byte
ECHO_ROUND_TRIPS = 50_000  # the untraced echo pair: four socket calls each


def prog_stats(pid):
    """{prog name#id: (run_time_ns, run_cnt, type)} of the BPF programs held open by pid."""
    progs = json.loads(lib.run_cmd(["bpftool", "-j", "prog", "show"]))
    ids = lib.prog_ids(pid)
    res = {}
    for p in progs:
        if p["id"] in ids:
            name = f"{p.get('name', '?')}#{p['id']}"
            res[name] = (p.get("run_time_ns", 0), p.get("run_cnt", 0), p.get("type", "?"))
    return res


def delta(before, after):
    return {k: (after[k][0] - before.get(k, (0, 0))[0], after[k][1] - before.get(k, (0, 0))[1],
                after[k][2])
            for k in after}


def dd_run():
    lib.run_cmd(["dd", "if=/dev/zero", "of=/dev/null", "bs=1", f"count={DD_BYTES}",
                 "status=none"])


def echo_run():
    """The untraced echo pair; returns its socket operations."""
    out = lib.run_cmd([os.path.join(lib.TOOLS, "echo_pair"), str(ECHO_ROUND_TRIPS), "64"])
    return json.loads(out)["ops"]


class BpfStats:
    """kernel.bpf_stats_enabled=1 inside the with-block; the previous value comes back after."""

    def __enter__(self):
        self.old = lib.run_cmd(["sysctl", "-n", "kernel.bpf_stats_enabled"]).strip()
        lib.run_cmd(["sysctl", "-qw", "kernel.bpf_stats_enabled=1"])
        return self

    def __exit__(self, *exc):
        lib.run_cmd(["sysctl", "-qw", f"kernel.bpf_stats_enabled={self.old}"])


def bpf_run_stats(loop, http, kind, opts, path="/items/1", app_extra=(), scheme="http"):
    """Per-program cost of one tracer under a targeted load, then under an untargeted dd loop."""
    app = tracer = None
    try:
        foreign = lib.foreign_hooks() if opts.quiet.wait() else {}
        app = lib.uvicorn(loop, http, extra=app_extra)
        tracer = lib.tracer(kind, app.proc.pid)
        pid = tracer.proc.pid
        lib.wrk(app.port, path, 1, scheme=scheme)
        s0 = prog_stats(pid)
        load = lib.wrk(app.port, path, opts.kernel_duration, scheme=scheme)
        s1 = prog_stats(pid)
        dd_run()
        s2 = prog_stats(pid)
        echo_ops = echo_run()
        s3 = prog_stats(pid)
        for tp, n in lib.foreign_hooks(pid).items():
            foreign[tp] = max(foreign.get(tp, 0), n)
        tracer.stop()
        return {"loop": loop, "tracer": kind, "foreign_bpf": sum(foreign.values()),
                "foreign_hooks": foreign, "targeted": delta(s0, s1),
                "requests": load["requests"], "req_s": load["req_s"],
                "untargeted": delta(s1, s2), "dd_syscalls": 2 * DD_BYTES,
                "untargeted_echo": delta(s2, s3), "echo_ops": echo_ops,
                "seen": lib.seen(tracer)}
    finally:
        lib.stop(tracer)
        lib.stop(app)


def run(pg, opts, results):
    del pg
    out = results.setdefault("kernel", {}).setdefault("bpf", [])
    kinds = [k for k in opts.kernel_tracers
             if lib.has_socket_path() or k not in ("trace", "min_socket")]
    with BpfStats():
        for loop, http in lib.LOOPS:
            if loop not in opts.loops:
                continue
            for kind in kinds:
                lib.log(f"kernel: BPF run time, {loop}+{http}, {kind}")
                r = bpf_run_stats(loop, http, kind, opts)
                out.append(r)
                lib.log(f"  {per_request_ns(r):.0f} ns of BPF time per request, "
                        f"{r['requests']} requests, seen {r['seen']}, "
                        f"other BPF programs {r['foreign_bpf']}")


def per_request_ns(r):
    """BPF run time of all the tracer's programs over the targeted load, per request."""
    return sum(v[0] for v in r["targeted"].values()) / r["requests"] if r["requests"] else 0
