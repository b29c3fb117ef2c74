"""cost.py: the kernel-side parts of BENCHMARKS.md: BPF time per request and per program, what
untraced processes pay, HTTPS, and where the time a traced request costs goes."""
import lib
from table import INFO, Rounds, cell, disturbed, fmt, not_measured

# Issue 12's aims for untraced work (ns per operation) and traced requests (BPF ns per request)
AIM_SYSCALL_FALLBACK_NS = 80.0
AIM_SOCKET_OP_NS = 30.0
AIM_BPF_NS = 1000.0
AIM_TLS_RATIO = 0.95  # issue 14

TRACER_NAMES = {
    "trace": "`httplat trace`, socket path",
    "trace_syscall": "`httplat trace --hooks syscall` (fallback)",
    "min_socket": "minimal program, socket tracepoints",
    "min_syscall": "minimal program, raw_syscalls:sys_exit",
}
UNTRACED_NAMES = {
    "none": "nothing",
    "socket": "`httplat trace --hooks socket`",
    "syscall": "`httplat trace --hooks syscall` (fallback)",
    "min_socket": "minimal program, socket tracepoints",
    "min_syscall": "minimal program, raw_syscalls:sys_exit",
}
HTTPS_NAMES = {"bare": "no instrumentation", "trace": "`httplat trace` → file",
               "httplat": "`httplat run` → PostgreSQL"}
SYSCALL_HOOKS = ("sys_enter", "sys_exit")


# ---- BPF run time (kernel.py) -----------------------------------------------------------------

def bpf_rows(res):
    rows = res.get("kernel", {}).get("bpf", [])
    return rows if isinstance(rows, list) else []  # results of an older bench.py: not shown


def bpf_of(res, loop, tracer):
    return next((r for r in bpf_rows(res) if r["loop"] == loop and r["tracer"] == tracer), None)


def bpf_ns(r):
    """BPF run time of all of a tracer's programs per request of the targeted load."""
    if not r or not r.get("requests"):
        return None
    return sum(v[0] for v in r["targeted"].values()) / r["requests"]


def top_programs(r, n=3):
    """'name a ns, name b ns' for the programs that took most BPF time per request."""
    per = sorted(((v[0] / r["requests"], k.split("#")[0]) for k, v in r["targeted"].items()
                  if r["requests"]), reverse=True)
    return ", ".join(f"{name} {ns:.0f} ns" for ns, name in per[:n] if ns >= 1)


def loops_of(rows):
    return sorted({r["loop"] for r in rows}, key=lambda x: x != "uvloop")


def kernel_section(res, out, aims):
    rows = bpf_rows(res)
    if not rows:
        not_measured(res, "kernel", out)
        return
    out.append("BPF's own run-time statistics (`kernel.bpf_stats_enabled=1` for this part only, "
               "restored after; `bpftool prog show` run_time_ns and run_cnt of the tracer's own "
               "programs, deltas over the load). Per tracer and loop flavour: a fresh uvicorn, "
               "a 1 s warm-up, then wrk -c32 for "
               f"{res['opts'].get('kernel_duration', '?')} s against the traced app; then `dd "
               f"bs=1` doing {rows[0]['dd_syscalls']:,} read/write syscalls in an untraced "
               "process, then the untraced echo pair of section 5 (*untraced runs*: what ran "
               "meanwhile, with the rest of the machine). The statistics count the programs' bodies only: the tracepoints' "
               "entry, the syscall slow path and the uprobes' traps are outside them, and show "
               "in the app CPU of section 1.\n")
    out.append("| loop | tracer | BPF ns per request | requests | req/s | requests seen "
               "| other tracers loaded |")
    out.append("|---|---|---|---|---|---|---|")
    for r in rows:
        out.append(f"| {r['loop']} | {TRACER_NAMES.get(r['tracer'], r['tracer'])} | "
                   f"**{fmt(bpf_ns(r))}** | {r['requests']} | {fmt(r['req_s'])} | "
                   f"{fmt(r.get('seen'))} | {r.get('foreign_bpf', '?')} |")
    out.append("")
    out.append("Per program (ns per request = runs per request × ns per run):\n")
    out.append("| loop | tracer | program | type | runs per request | ns/run | ns per request "
               "| untraced runs (dd) | ns/run | untraced runs per echo-pair op | ns per op |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        n = r["requests"] or None
        ops = r.get("echo_ops") or None
        for name in sorted(r["targeted"], key=lambda k: -r["targeted"][k][0]):
            ns, cnt, kind = r["targeted"][name]
            uns, ucnt, _ = r["untargeted"].get(name, (0, 0, kind))
            ens, ecnt, _ = r.get("untargeted_echo", {}).get(name, (0, 0, kind))
            out.append(f"| {r['loop']} | {r['tracer']} | {name.split('#')[0]} | {kind} | "
                       f"{fmt(cnt / n if n else None, '.2f')} | {fmt(ns / cnt if cnt else None)} "
                       f"| {fmt(ns / n if n else None)} | {ucnt} | "
                       f"{fmt(uns / ucnt if ucnt else None)} | "
                       f"{fmt(ecnt / ops if ops else None, '.2f')} | "
                       f"{fmt(ens / ops if ops else None, '.1f')} |")
    out.append("")
    floor = [v[0] / v[1] for r in rows for v in r["untargeted"].values() if v[1] >= 100_000]
    if floor:
        out.append(f"For scale: a syscall-exit program that returns after the PID-bitmap test "
                   f"(its runs for dd's syscalls) measured {min(floor):.0f} ns per run: that is "
                   "about what the statistics' own clock reads add to every run above, so BPF "
                   "time per request overstates the programs' cost by that much per run.\n")
    for loop in loops_of(rows):
        main, fallback = bpf_of(res, loop, "trace"), bpf_of(res, loop, "trace_syscall")
        if main:
            ns = bpf_ns(main)
            aims.append((f"{loop}: BPF time per traced request ≤ {AIM_BPF_NS:,.0f} ns, socket "
                         "path (issue 12)", f"{fmt(ns)} ns ({top_programs(main)})",
                         None if ns is None else ns <= AIM_BPF_NS))
        if fallback:
            aims.append((f"{loop}: BPF time per traced request, fallback path",
                         f"{fmt(bpf_ns(fallback))} ns ({top_programs(fallback)})", INFO))


# ---- processes httplat does not trace (untraced.py) -------------------------------------------

class Untraced:
    """Per round: each loaded configuration's cost per operation against nothing loaded."""

    def __init__(self, rows):
        self.rows = rows
        self.rounds = sorted({r["round"] for r in rows})

    def run(self, cfg, rnd):
        return next((r for r in self.rows if r["cfg"] == cfg and r["round"] == rnd), None)

    @staticmethod
    def per_op(r, what):
        return r[what]["cpu_ns"] / r[what]["ops"] if r and r.get(what) else None

    @staticmethod
    def clean(r, what):
        hooks = r.get("foreign_hooks", {})
        return not (set(hooks) & set(SYSCALL_HOOKS) if what == "dd" else hooks)

    def bare(self, rnd, what):
        """Nothing loaded: the runs of the round, per op."""
        return [r for r in (self.run("none", rnd), self.run("none_again", rnd))
                if r and r.get(what)]

    def effects(self, cfg, what, value=None, clean=False):
        """Per round: value(cfg run) − value(mean of the bare runs); default value: ns per op."""
        value = value or (lambda r: self.per_op(r, what))
        res = []
        for rnd in self.rounds:
            r, bare = self.run(cfg, rnd), self.bare(rnd, what)
            if not r or not r.get(what) or not bare:
                continue
            if clean and not all(self.clean(x, what) for x in [r] + bare):
                continue
            vals = [value(b) for b in bare]
            if value(r) is None or None in vals:
                continue
            res.append(value(r) - sum(vals) / len(vals))
        return res

    def best_effects(self, cfg, what, value=None):
        """Undisturbed pairs when at least two, else all: (values, 'which rounds')."""
        clean = self.effects(cfg, what, value, clean=True)
        if len(clean) >= 2:
            return clean, "undisturbed rounds"
        return self.effects(cfg, what, value), "all rounds"

    def noise(self, what, value=None):
        """|difference| between the two nothing-loaded runs of each round (A/A)."""
        value = value or (lambda r: self.per_op(r, what))
        res = []
        for rnd in self.rounds:
            a, b = self.run("none", rnd), self.run("none_again", rnd)
            if a and b and a.get(what) and b.get(what):
                res.append(abs(value(b) - value(a)))
        return res


def app_req_s(r):
    return r["app"]["req_s"] if r.get("app") else None


def app_cpu_us(r):
    return r["app"]["cpu_ns"] / r["app"]["requests"] / 1000 if r.get("app") else None


def untraced_section(res, out, aims):
    rows = res.get("untraced", [])
    if not rows:
        not_measured(res, "untraced", out)
        return
    u = Untraced(rows)
    first = rows[0]
    out.append(f"{len(u.rounds)} rounds; in each, every configuration below was loaded in turn "
               "(order rotated each round), tracing an idle uvicorn so that its PID bitmap is "
               "not empty, while processes it does not trace ran: `dd if=/dev/zero of=/dev/null "
               f"bs=1 count={first['dd']['ops'] // 2:,}` ({first['dd']['ops']:,} read/write "
               "syscalls, no socket) and build/bench/echo_pair (a TCP client and a forked "
               f"server on loopback doing {first['echo']['round_trips']:,} round trips of 64 "
               f"bytes: {first['echo']['ops']:,} send/recv calls), both pinned to the app's CPU "
               "and timed by their own CPU time (rusage: time spent waiting for a CPU does not "
               "count); and an untraced uvicorn under wrk -c32. *Added* is paired: the run minus "
               "the mean of the round's two nothing-loaded runs, whose difference from each "
               "other (A/A) is the noise floor. Pairs in which another tracer had programs on "
               "the hooks that slow that work (syscall tracepoints for dd; those or the socket "
               "tracepoints for the others) are left out when at least two clean pairs "
               "remain.\n")
    out.append("| loaded meanwhile | dd: CPU ns per syscall | added per syscall | echo pair: CPU "
               "ns per socket op | added per socket op | untraced uvicorn: req/s vs nothing "
               "| its CPU added, µs/request | disturbed runs |")
    out.append("|---|---|---|---|---|---|---|---|")
    for cfg, name in UNTRACED_NAMES.items():
        rs = [r for r in rows if r["cfg"] == cfg or (cfg == "none" and r["cfg"] == "none_again")]
        if not rs:
            continue
        if cfg == "none":
            dd_add = f"±{fmt(lib.median(u.noise('dd')), '.1f')} (A/A)"
            echo_add = f"±{fmt(lib.median(u.noise('echo')), '.1f')} (A/A)"
            ratio = "1.000"
            app_add = "—"
        else:
            dd_add = cell(u.best_effects(cfg, "dd")[0], "+.1f")
            echo_add = cell(u.best_effects(cfg, "echo")[0], "+.1f")
            ratio = cell(ratios(u, cfg), ".3f") if any(r.get("app") for r in rs) else "—"
            app_add = (cell(u.effects(cfg, "app", app_cpu_us), "+.2f")
                       if any(r.get("app") for r in rs) else "—")
        out.append(f"| {name} | {cell([u.per_op(r, 'dd') for r in rs], '.1f')} | {dd_add} | "
                   f"{cell([u.per_op(r, 'echo') for r in rs], '.1f')} | {echo_add} | {ratio} | "
                   f"{app_add} | {disturbed(rs)} |")
    out.append("")
    untraced_aims(u, aims)


def ratios(u, cfg):
    """Untraced app req/s with cfg loaded over the mean of the round's nothing-loaded runs."""
    res = []
    for rnd in u.rounds:
        r, bare = u.run(cfg, rnd), u.bare(rnd, "app")
        if r and r.get("app") and bare:
            res.append(app_req_s(r) / (sum(app_req_s(b) for b in bare) / len(bare)))
    return res


def untraced_aims(u, aims):
    noise = {w: lib.median(u.noise(w)) for w in ("dd", "echo")}
    for cfg, what, aim, label in [
            ("socket", "dd", None, "untraced syscalls, socket path: +0 ns within noise"),
            ("syscall", "dd", AIM_SYSCALL_FALLBACK_NS,
             f"untraced syscalls, fallback path: ≤ {AIM_SYSCALL_FALLBACK_NS:.0f} ns"),
            ("socket", "echo", AIM_SOCKET_OP_NS,
             f"untraced socket operations, socket path: ≤ {AIM_SOCKET_OP_NS:.0f} ns"),
            ("syscall", "echo", None, "untraced socket operations, fallback path"),
            ("min_socket", "echo", None, "untraced socket operations, minimal socket program"),
            ("min_syscall", "dd", None, "untraced syscalls, minimal sys_exit program")]:
        vals, which = u.best_effects(cfg, what)
        if not vals:
            continue
        med = lib.median(vals)
        measured = f"{med:+.1f} ns ({which}, n={len(vals)}; A/A noise ±{fmt(noise[what], '.1f')})"
        if aim is not None:
            ok = med <= aim
        elif cfg == "socket":  # +0 within noise: no larger than two identical runs differ
            ok = None if noise[what] is None else med <= noise[what]
        else:
            ok = INFO
        aims.append((label + " (issue 12)" if ok != INFO else label, measured, ok))


# ---- HTTPS (https.py) ------------------------------------------------------------------------

def https_section(res, out, aims):
    h = res.get("https") or {}
    rows = h.get("runs", [])
    if not rows:
        not_measured(res, "https", out)
        return
    ov = Rounds(rows)
    out.append(f"{len({r['round'] for r in rows})} rounds; uvicorn with `--ssl-keyfile "
               "--ssl-certfile` (a self-signed certificate made by the run with `openssl req "
               "-x509`), 1 worker, a fresh one per run in a rotated order; wrk -c32 over https "
               f"(keep-alive: one handshake per connection) for {res['opts'].get('duration')} s. "
               "*Seen* is how many requests httplat reported (`trace`: lines; `run`: rows "
               "stored) of those served: 0 means this build does not trace TLS, and then the "
               "cost is that of its hooks on ciphertext. *Uprobe hits* are the runs of "
               "httplat's uprobe programs per request (BPF statistics on, a separate `httplat "
               "trace` run).\n")
    out.append("| loop | configuration | req/s | ratio to bare | app CPU, µs/request "
               "| added (paired) | seen / served | uprobe hits per request "
               "| BPF ns per request | disturbed runs |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for loop in ov.loops:
        stats = next((r for r in h.get("bpf", []) if r["loop"] == loop), None)
        for cfg, name in HTTPS_NAMES.items():
            rs = ov.of(loop, cfg)
            if not rs:
                continue
            seen = [f"{r.get('stored', r.get('seen'))}/{r['served']}" for r in rs
                    if cfg != "bare"]
            traced = cfg == "trace" and stats
            out.append(" | ".join([
                f"| {loop} | {name}", cell(ov.series(loop, cfg, lambda r: r["sat"]["req_s"])),
                "1.000" if cfg == "bare" else cell(ov.ratio(loop, cfg), ".3f"),
                cell(ov.app_us(loop, cfg), ".1f"),
                "—" if cfg == "bare" else cell(ov.app_added_us(loop, cfg), "+.2f"),
                ", ".join(seen) or "—",
                fmt(uprobe_hits(stats), ".2f") if traced else "—",
                fmt(bpf_ns(stats)) if traced else "—", disturbed(rs) + " |"]))
    out.append("")
    for loop in ov.loops:
        for cfg in ("trace", "httplat"):
            rs = ov.of(loop, cfg)
            if not rs:
                continue
            ratio = lib.median(ov.ratio(loop, cfg))
            seen = sum((r.get("stored") if cfg == "httplat" else r.get("seen")) or 0 for r in rs)
            served = sum(r["served"] for r in rs)
            ok = None if ratio is None else ratio >= AIM_TLS_RATIO
            if served and seen < served / 2:
                ok = f"n/a: this build traced {seen} of {served} TLS requests"
            aims.append((f"{loop}, {HTTPS_NAMES[cfg].split(' →')[0]}: ≥ {AIM_TLS_RATIO} of bare "
                         "TLS throughput (issue 14)",
                         f"{fmt(ratio, '.3f')}; app CPU "
                         f"{fmt(lib.median(ov.app_added_us(loop, cfg)), '+.2f')} µs/request", ok))


def uprobe_hits(r):
    if not r or not r.get("requests"):
        return None
    return sum(v[1] for v in r["targeted"].values() if v[2] == "kprobe") / r["requests"]


# ---- summary lines and where the time goes ----------------------------------------------------

def disturbed_all(res):
    rows = list(res.get("overhead", [])) + list(res.get("untraced", [])) + bpf_rows(res) + \
        list((res.get("https") or {}).get("runs", []))
    return disturbed(rows) if rows else "n/a"


def summary_lines(res):
    lines = []
    for loop in loops_of(bpf_rows(res)):
        parts = [f"{TRACER_NAMES[t]} {fmt(bpf_ns(bpf_of(res, loop, t)))}"
                 for t in TRACER_NAMES if bpf_of(res, loop, t)]
        lines.append(f"- Kernel side, {loop}: ns of BPF run time per traced request: "
                     + "; ".join(parts) + f" (aim ≤ {AIM_BPF_NS:,.0f}).")
    rows = res.get("untraced", [])
    if rows:
        u = Untraced(rows)
        parts = []
        for cfg in ("socket", "syscall", "min_socket", "min_syscall"):
            dd, _ = u.best_effects(cfg, "dd")
            echo, _ = u.best_effects(cfg, "echo")
            if dd or echo:
                parts.append(f"{UNTRACED_NAMES[cfg]} {fmt(lib.median(dd), '+.1f')} ns per "
                             f"syscall, {fmt(lib.median(echo), '+.1f')} ns per socket op")
        lines.append("- Processes httplat does not trace pay, while it is loaded: "
                     + "; ".join(parts) + f" (A/A noise ±{fmt(lib.median(u.noise('dd')), '.1f')}"
                     f" / ±{fmt(lib.median(u.noise('echo')), '.1f')} ns).")
    runs = (res.get("https") or {}).get("runs", [])
    if runs:
        ov = Rounds(runs)
        for loop in ov.loops:
            parts = [f"{HTTPS_NAMES[c].split(' →')[0]} {fmt(lib.median(ov.ratio(loop, c)), '.3f')}"
                     for c in ("trace", "httplat") if ov.of(loop, c)]
            lines.append(f"- HTTPS, {loop}: throughput as a fraction of bare TLS: "
                         + "; ".join(parts) + ".")
    return lines


def where_time_goes(res, out):
    """For each loop and path: app CPU httplat adds per request, against the minimal program on
    the same hooks and against the BPF run time of its programs."""
    rows = res.get("overhead", [])
    ov = Rounds(rows)
    lines = []
    for loop in ov.loops:
        for cfg, floor, path in [("trace", "min_socket", "socket path"),
                                 ("trace_syscall", "min_syscall", "fallback path")]:
            if not ov.of(loop, cfg):
                continue
            added = lib.median(ov.app_added_us(loop, cfg))
            floor_added = lib.median(ov.app_added_us(loop, floor)) if ov.of(loop, floor) else None
            k, kf = bpf_of(res, loop, cfg), bpf_of(res, loop, floor)
            ns = bpf_ns(k)
            text = (f"- {loop}, {path}: `httplat trace` adds {fmt(added, '+.2f')} µs of app CPU "
                    "per request")
            if floor_added is not None:
                text += (f"; the minimal program on the same hooks adds "
                         f"{fmt(floor_added, '+.2f')} µs (the hooks plus the least work)")
            if ns is not None:
                text += (f". httplat's BPF programs run {ns:.0f} ns per request "
                         f"({top_programs(k, 4)})")
                if kf:
                    text += f", the minimal program's {fmt(bpf_ns(kf))} ns"
                rest = None if added is None else added * 1000 - ns
                if rest is not None and rest >= 0:
                    text += (f"; the other {rest:.0f} ns of added app CPU are outside the "
                             "programs' bodies: tracepoint entry and exit, the syscall slow "
                             "path (fallback), uprobe traps, cache effects")
                elif rest is not None:
                    text += ("; the app CPU added is below the programs' run time, which the "
                             "statistics inflate (their own clock reads) and the noise of "
                             "section 1 hides")
            lines.append(text + ".")
    lines += untraced_time_lines(res)
    if lines:
        out.append("### Where the time goes\n")
        out.append("App CPU added per request (section 1, paired medians at saturation) and "
                   "the cost for untraced work (section 5) against the BPF run time of the same "
                   "tracer's programs (section 4):\n")
        out += lines + [""]


def untraced_time_lines(res):
    """Untraced socket operations: what they pay against httplat's program runs per op."""
    rows = res.get("untraced", [])
    lines = []
    u = Untraced(rows) if rows else None
    for cfg, tracer, path in [("socket", "trace", "socket path"),
                              ("syscall", "trace_syscall", "fallback path")]:
        k = next((r for r in bpf_rows(res) if r["tracer"] == tracer and r.get("echo_ops")), None)
        if not k or not u:
            continue
        vals, _ = u.best_effects(cfg, "echo")
        ops = k["echo_ops"]
        per = sorted(((v[0] / ops, name.split("#")[0])
                      for name, v in k["untargeted_echo"].items()), reverse=True)
        total = sum(ns for ns, _ in per)
        parts = ", ".join(f"{name} {ns:.1f} ns" for ns, name in per if ns >= 0.5)
        lines.append(f"- Untraced socket operations, {path}: {fmt(lib.median(vals), '+.1f')} ns "
                     f"per op (section 5); httplat's programs ran {total:.1f} ns per echo-pair "
                     f"op with the statistics on ({parts or 'none'}).")
    return lines
