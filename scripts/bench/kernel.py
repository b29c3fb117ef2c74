"""kernel.py: httplat's kernel-side cost: ns per BPF program run, and what untargeted work pays.

1. With kernel.bpf_stats_enabled=1 (restored afterwards), the run_time_ns and
   run_cnt that `bpftool prog show` reports for httplat's programs are read
   around a wrk run against the traced app, then around a syscall-heavy
   untargeted process (dd with 1-byte reads and writes).
2. With the statistics off, untargeted work is timed with and without httplat
   loaded, alternating: the dd loop, and a second, untraced uvicorn under wrk.
"""
import json
import time

import lib

DD_BYTES = 1_000_000  # dd bs=1: one read and one write syscall per byte


def prog_stats(pid):
    """{prog name: (run_time_ns, run_cnt)} of the BPF programs held open by pid."""
    progs = json.loads(lib.run_cmd(["bpftool", "-j", "prog", "show"]))
    ids = lib.prog_ids(pid)
    res = {}
    for p in progs:
        if p["id"] in ids:
            name = f"{p.get('name', '?')}#{p['id']}"
            res[name] = (p.get("run_time_ns", 0), p.get("run_cnt", 0))
    return res


def delta(before, after):
    return {k: (after[k][0] - before.get(k, (0, 0))[0], after[k][1] - before.get(k, (0, 0))[1])
            for k in after}


def dd_seconds():
    t0 = time.perf_counter()
    lib.run_cmd(["dd", "if=/dev/zero", "of=/dev/null", "bs=1", f"count={DD_BYTES}",
                 "status=none"])
    return time.perf_counter() - t0


def bpf_run_stats(opts):
    """Per-program cost under a targeted load and under an untargeted syscall loop."""
    old = lib.run_cmd(["sysctl", "-n", "kernel.bpf_stats_enabled"]).strip()
    lib.run_cmd(["sysctl", "-qw", "kernel.bpf_stats_enabled=1"])
    app = tracer = None
    try:
        foreign = opts.quiet.wait()
        app = lib.uvicorn("uvloop", "httptools")
        tracer = lib.httplat("trace", "--pid", str(app.proc.pid))
        pid = tracer.proc.pid
        lib.wrk(app.port, "/items/1", 1)
        s0 = prog_stats(pid)
        load = lib.wrk(app.port, "/items/1", opts.duration)
        s1 = prog_stats(pid)
        dd_s = dd_seconds()
        s2 = prog_stats(pid)
        foreign = max(foreign, lib.foreign_tracers(pid))
        return {"foreign_bpf": foreign, "targeted": delta(s0, s1), "requests": load["requests"],
                "req_s": load["req_s"], "untargeted": delta(s1, s2),
                "dd_syscalls": 2 * DD_BYTES, "dd_s": dd_s}
    finally:
        lib.stop(tracer)
        lib.stop(app)
        lib.run_cmd(["sysctl", "-qw", f"kernel.bpf_stats_enabled={old}"])


def untargeted_ab(opts):
    """Rounds of (dd seconds, untraced app req/s) without and with httplat, order alternating."""
    target = lib.uvicorn("uvloop", "httptools")  # the one httplat traces; stays idle
    other = lib.uvicorn("uvloop", "httptools")  # not selected: pays only the filtering
    rows = []
    try:
        for rnd in range(opts.rounds):
            for traced in ([False, True] if rnd % 2 == 0 else [True, False]):
                foreign = opts.quiet.wait()
                tracer = lib.httplat("trace", "--pid", str(target.proc.pid)) if traced else None
                try:
                    dd_s = dd_seconds()
                    w = lib.wrk(other.port, "/items/1", max(2, opts.duration // 2))
                    own = tracer.proc.pid if tracer else None
                    foreign = max(foreign, lib.foreign_tracers(own))
                finally:
                    lib.stop(tracer)
                rows.append({"round": rnd, "httplat": traced, "dd_s": dd_s,
                             "dd_syscalls": 2 * DD_BYTES, "req_s": w["req_s"],
                             "p99_us": w["p99_us"], "load": lib.loadavg(),
                             "foreign_bpf": foreign})
                lib.log(f"  untargeted round {rnd + 1} httplat={traced}: dd {dd_s:.3f}s, "
                        f"other app {w['req_s']:.0f} req/s, other BPF programs {foreign}")
    finally:
        lib.stop(other)
        lib.stop(target)
    return rows


def run(pg, opts, results):
    del pg
    lib.log("kernel: BPF run-time statistics")
    res = {"bpf": bpf_run_stats(opts)}
    results["kernel"] = res
    lib.log("kernel: untargeted processes, with and without httplat")
    res["untargeted"] = untargeted_ab(opts)
