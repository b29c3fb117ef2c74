"""report.py: renders BENCHMARKS.md from the raw results of bench.py (medians, spreads, aims)."""
import time

import cost
import lib
from table import INFO, Rounds, cell, disturbed, err, fmt, run_val, verdict

CFG_NAMES = {
    "bare": "no instrumentation",
    "httplat": "`httplat run` → PostgreSQL",
    "trace": "`httplat trace` → file (no database)",
    "trace_syscall": "`httplat trace --hooks syscall` (fallback path) → file",
    "min_socket": "minimal BPF program, socket tracepoints",
    "min_syscall": "minimal BPF program, raw_syscalls:sys_exit",
    "batched": "in-app middleware, batched COPY thread",
    "naive": "in-app middleware, INSERT per request",
}
# Issue 8's reference points (uvloop, wrk -c32, req/s as a ratio to bare), measured elsewhere.
REFERENCES = [
    ("Starlette `@app.middleware(\"http\")` storing nothing", 0.20),
    ("naive INSERT per request", 0.08),
    ("batched in a plain ASGI middleware", 0.88),
    ("minimal 16-tracepoint BPF program, ring-buffer wake-up per event", 0.87),
    ("the same with batched draining", 0.96),
]
AIM_RATIO = 0.98  # at most 2 % of throughput
AIM_P99_US = 20.0
AIM_CPU_MS_PER_10K = 20.0  # 2 % of a core per 10,000 req/s = 20 ms CPU per 10,000 requests
AIM_INGEST = 500_000
AIM_APP_US = {"uvloop": 1.0, "asyncio": 2.5}  # issue 12: app CPU added per traced request


def cpu_per_10k(r, tree):
    """CPU milliseconds a process tree used per 10,000 requests of the saturation run."""
    cpu = r["cpu"].get(tree)
    n = r["sat"]["requests"]
    return None if cpu is None or not n else cpu / n * 10_000 * 1000


def overhead_section(res, out, aims):
    rows = res.get("overhead", [])
    if not rows:
        out.append("Not measured in this run" + err(res, "overhead") + ".\n")
        return
    ov = Rounds(rows)
    rounds = len({r["round"] for r in rows})
    out.append(f"{rounds} rounds; in each round every configuration ran on a fresh uvicorn "
               "(1 worker) in a rotated order, so configurations alternate A B C D, B C D A, …. "
               "Cells are *median (min–max)* over the rounds; ratios and added latencies are "
               "paired with the bare run of the same round before taking the median. *Undisturbed "
               "rounds* leaves out the pairs in which another tracer (other people's httplat "
               "tests on this machine) had programs on the syscall or socket tracepoints, which "
               "slows every syscall or socket operation of every process. The minimal BPF "
               "programs (scripts/bench/minimal.bpf.c) do on each data path the least a tracer "
               "must: a PID-bitmap test, the syscall's buffer from its registers, 8 bytes read, "
               "one ring record per response; what they cost is the floor of that path.\n")
    for loop in ov.loops:
        http = "httptools" if loop == "uvloop" else "h11"
        out.append(f"### {loop} + {http}\n")
        out.append("| configuration | req/s (-c32) | ratio to bare | ratio, undisturbed rounds "
                   "| p50 µs | p99 µs "
                   "| added p99 µs | -c1 p50 µs | -c1 p99 µs | -c1 added p99 µs "
                   "| rows stored or requests seen / requests served |")
        out.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for cfg in CFG_NAMES:
            rs = ov.of(loop, cfg)
            if not rs:
                continue
            stored = [f"{r['stored'] if r.get('stored') is not None else r['seen']}/{r['served']}"
                      for r in rs if r.get("stored") is not None or r.get("seen") is not None]
            out.append(" | ".join([
                f"| {CFG_NAMES[cfg]}",
                cell(ov.series(loop, cfg, lambda r: r["sat"]["req_s"])),
                cell(ov.ratio(loop, cfg), ".3f"),
                f"{cell(ov.ratio(loop, cfg, clean=True), '.3f')} "
                f"(n={len(ov.ratio(loop, cfg, clean=True))})",
                cell(ov.series(loop, cfg, lambda r: r["sat"]["p50_us"])),
                cell(ov.series(loop, cfg, lambda r: r["sat"]["p99_us"])),
                "—" if cfg == "bare" else cell(ov.added(loop, cfg, "sat", "p99_us")),
                cell(ov.series(loop, cfg, lambda r: run_val(r, "c1", "p50_us"))),
                cell(ov.series(loop, cfg, lambda r: run_val(r, "c1", "p99_us"))),
                "—" if cfg == "bare" else cell(ov.added(loop, cfg, "c1", "p99_us")),
                (", ".join(stored) if stored else "—") + " |"]))
        out.append("")
        out.append("CPU per 10,000 requests of the saturation run, in ms (median (min–max)); "
                   "*other* is CPU the rest of the machine used meanwhile, in cores:\n")
        out.append("| configuration | httplat | PostgreSQL | app (uvicorn) | other (cores) "
                   "| runs with other tracers loaded | wrk errors |")
        out.append("|---|---|---|---|---|---|---|")
        for cfg in CFG_NAMES:
            rs = ov.of(loop, cfg)
            if not rs:
                continue
            out.append(" | ".join([
                f"| {CFG_NAMES[cfg]}",
                cell([cpu_per_10k(r, "httplat") for r in rs], ".1f")
                if cfg in ("httplat", "trace", "trace_syscall") else "—",
                cell([cpu_per_10k(r, "postgres") for r in rs], ".1f"),
                cell([cpu_per_10k(r, "app") for r in rs], ".1f"),
                cell([r["cpu"]["other_cores"] for r in rs], ".2f"),
                disturbed(rs),
                str(sum(r["sat"]["errors"] + (run_val(r, "c1", "errors") or 0) for r in rs))
                + " |"]))
        out.append("")
        app_cpu_table(ov, loop, out)
        for cfg in ("httplat", "trace"):  # judged on `httplat run`; on trace only without it
            if ov.of(loop, cfg):
                aims += overhead_aims(ov, loop, cfg)
                break
    bare_c1 = {q: lib.median(ov.series(ov.loops[0], "bare", lambda r: run_val(r, "c1", q)))
               for q in ("p50_us", "p99_us")}
    tick_bound = bare_c1["p99_us"]
    if tick_bound is not None and tick_bound > 1000:
        out.append(f"Note: with one connection and no instrumentation, p99 was already "
                   f"{tick_bound:.0f} µs against a p50 of "
                   f"{fmt(bare_c1['p50_us'])}"
                   " µs. On this kernel (CONFIG_HZ=250, no preemption) a request that finds "
                   "another task on the app's core can wait for a 4 ms tick; on a shared machine "
                   "that sets the p99, so differences of a few µs at p99 cannot be resolved "
                   "here: p50 and p90 (in the aims table) can.\n")
    out.append("Reference points from issue 8 (uvloop, wrk -c32, ratio to bare, measured "
               "before this suite existed, not by it):\n")
    for name, ratio in REFERENCES:
        out.append(f"- {name}: {ratio:.2f}")
    out.append("")


def app_cpu_table(ov, loop, out):
    """App CPU per request, and what each configuration adds to it (issue 12's measure)."""
    out.append("App CPU per request, µs: the uvicorn worker's CPU time (the sum of its threads' "
               "`/proc/PID/task/TID/schedstat`, the utime+stime of `/proc/PID/stat` in ns rather "
               "than 10 ms ticks) over the requests of the run; *added* is paired with the same "
               "round's bare run. It counts what the tracing costs inside the app (BPF programs, "
               "the hooks' entry, in-app middleware) and not time the app waited for a CPU, so "
               "it is steadier than throughput on a shared machine:\n")
    out.append("| configuration | -c32 µs/request | added (paired) | added, undisturbed rounds "
               "| -c1 µs/request | -c1 added (paired) |")
    out.append("|---|---|---|---|---|---|")
    for cfg in CFG_NAMES:
        if not ov.of(loop, cfg):
            continue
        bare = cfg == "bare"
        clean = ov.app_added_us(loop, cfg, clean=True)
        out.append(" | ".join([
            f"| {CFG_NAMES[cfg]}", cell(ov.app_us(loop, cfg), ".2f"),
            "—" if bare else cell(ov.app_added_us(loop, cfg), "+.2f"),
            "—" if bare else f"{cell(clean, '+.2f')} (n={len(clean)})",
            cell(ov.app_us(loop, cfg, "c1"), ".2f"),
            ("—" if bare else cell(ov.app_added_us(loop, cfg, "c1"), "+.2f")) + " |"]))
    out.append("")


def summary(res, out):
    """A few sentences of the headline figures (medians), from whatever sections ran."""
    lines = []
    rows = res.get("overhead", [])
    if rows:
        ov = Rounds(rows)
        for loop in ov.loops:
            parts = [f"{CFG_NAMES[c].split(' →')[0]} {fmt(lib.median(ov.ratio(loop, c)), '.3f')}"
                     for c in CFG_NAMES if c != "bare" and ov.of(loop, c)]
            lines.append(f"- {loop}, throughput at saturation as a fraction of bare (median of "
                         "all rounds): "
                         + "; ".join(parts) + ".")
        for cfg in ("httplat", "trace"):
            rs = [r for r in rows if r["cfg"] == cfg]
            if rs:
                lines.append(f"- httplat's own CPU ({CFG_NAMES[cfg].split(' →')[0]}): "
                             f"{fmt(lib.median([cpu_per_10k(r, 'httplat') for r in rs]), '.1f')}"
                             " ms per 10,000 requests (aim < 20); PostgreSQL's for its rows: "
                             f"{fmt(lib.median([cpu_per_10k(r, 'postgres') for r in rs]), '.1f')}"
                             " ms.")
        for loop in ov.loops:
            parts = [f"{CFG_NAMES[c].split(' →')[0]} "
                     f"{fmt(lib.median(ov.app_added_us(loop, c)), '+.2f')}"
                     for c in CFG_NAMES if c != "bare" and ov.of(loop, c)]
            lines.append(f"- {loop}, app CPU added per request at saturation, µs (paired with "
                         f"bare; aim ≤ {AIM_APP_US.get(loop, 0):.1f} traced): "
                         + "; ".join(parts) + ".")
    lines += cost.summary_lines(res)
    for a in res.get("accuracy", []):
        e = a["vs_client"]
        lines.append(f"- Accuracy ({a['loop']}): {a['matched']}/{a['sent']} requests seen; "
                     f"httplat's duration vs the client's latency: median "
                     f"{fmt(e['median_abs'], '.3f')} ms, p99 {fmt(e['p99_abs'], '.3f')} ms.")
    ing = res.get("ingest")
    if ing and ing.get("runs"):
        lines.append(f"- Ingest: {fmt(lib.median([r['rows_s'] for r in ing['runs']]), ',.0f')} "
                     "rows/s through httplat's writer; plain COPY of pre-made rows: "
                     f"{fmt(lib.median([c['rows_s'] for c in ing.get('copy', [])]), ',.0f')}.")
    if lines:
        out += ["## In short\n"] + lines + [""]


def standing(res, out):
    """The one-glance table: each way of measuring against bare, per loop flavour."""
    rows = res.get("overhead", [])
    if not rows:
        return
    ov = Rounds(rows)
    out.append("## Where httplat stands against the in-app approach\n")
    out.append("Medians over the rounds (min–max); throughput is paired with the same round's "
               "bare run. *CPU outside the app* is httplat's plus PostgreSQL's, per 10,000 "
               "requests; *app CPU* is the uvicorn worker's own per request at saturation, in "
               "which in-app instrumentation spends its time, and which includes the kernel time "
               "of the worker's syscalls, so httplat's BPF programs show up there too; *added* "
               "is paired with the same round's bare run.\n")
    out.append("| loop | configuration | req/s vs bare | added p50 at -c1, µs "
               "| CPU outside the app, ms/10k req | app CPU, µs/request | app CPU added, µs |")
    out.append("|---|---|---|---|---|---|---|")
    for loop in ov.loops:
        for cfg in CFG_NAMES:
            rs = ov.of(loop, cfg)
            if not rs:
                continue
            outside = [(cpu_per_10k(r, "httplat") or 0) + (cpu_per_10k(r, "postgres") or 0)
                       for r in rs]
            out.append(f"| {loop} | {CFG_NAMES[cfg]} | {cell(ov.ratio(loop, cfg), '.3f')} | "
                       f"{'—' if cfg == 'bare' else cell(ov.added(loop, cfg, 'c1', 'p50_us'))} | "
                       f"{cell(outside, '.1f')} | {cell(ov.app_us(loop, cfg), '.1f')} | "
                       f"{'—' if cfg == 'bare' else cell(ov.app_added_us(loop, cfg), '+.2f')} |")
    out.append("")


def p99_aim(ov, loop, cfg, run):
    """(median added p99 µs, verdict): judged on undisturbed rounds only, and not at all when the
    bare runs' own p99 is set by the scheduler's 4 ms ticks (another task on the app's core)."""
    clean = ov.added(loop, cfg, run, "p99_us", clean=True)
    med = lib.median(clean if len(clean) >= 2 else ov.added(loop, cfg, run, "p99_us"))
    bare = lib.median(ov.series(loop, "bare", lambda r: run_val(r, run, "p99_us")))
    if med is None:
        return None, None
    if len(clean) < 2:
        return med, f"n/a: {len(clean)} undisturbed rounds"
    if run == "c1" and bare is not None and bare > 1000:
        return med, f"n/a: bare p99 is {bare:.0f} µs (scheduler ticks)"
    return med, med < AIM_P99_US


def overhead_aims(ov, loop, cfg):
    """Issue 8's and 12's aims for one loop flavour, judged on one httplat configuration."""
    clean = ov.ratio(loop, cfg, clean=True)
    ratios, which = (clean, "undisturbed rounds") if len(clean) >= 2 else (ov.ratio(loop, cfg),
                                                                           "all rounds")
    ratio = lib.median(ratios)
    p99c1, p99c1_ok = p99_aim(ov, loop, cfg, "c1")
    p50c1 = lib.median(ov.added(loop, cfg, "c1", "p50_us"))
    p90c1 = lib.median(ov.added(loop, cfg, "c1", "p90_us"))
    p99sat, p99sat_ok = p99_aim(ov, loop, cfg, "sat")
    cpu = lib.median([cpu_per_10k(r, "httplat") for r in ov.of(loop, cfg)])
    batched = lib.median(ov.ratio(loop, "batched"))
    clean_app = ov.app_added_us(loop, cfg, clean=True)
    apps, app_which = ((clean_app, "undisturbed rounds") if len(clean_app) >= 2
                       else (ov.app_added_us(loop, cfg), "all rounds"))
    app = lib.median(apps)
    app_aim = AIM_APP_US.get(loop)
    shaky = any(r.get("foreign_bpf") for r in ov.of(loop, cfg) + ov.of(loop, "bare"))

    def judged(ok, which):  # a verdict from disturbed rounds is shown as such
        if ok is None or which == "undisturbed rounds" or not shaky:
            return ok
        return f"{verdict(ok)} (from disturbed rounds)"

    name = f"{loop}, {'`httplat run`' if cfg == 'httplat' else '`httplat trace`'}"
    return [
        (f"{name}: app CPU added per request ≤ {fmt(app_aim, '.1f')} µs (issue 12; paired "
         "with bare, -c32)", f"{fmt(app, '+.2f')} µs ({app_which}, n={len(apps)})",
         judged(None if app is None or app_aim is None else app <= app_aim, app_which)),
        (f"{name}: httplat costs the app ≤ 2 % of throughput (ratio ≥ {AIM_RATIO}; issues 8 "
         "and 12)",
         f"{fmt(ratio, '.3f')} ({which}, n={len(ratios)})",
         judged(None if ratio is None else ratio >= AIM_RATIO, which)),
        (f"{name}: better than the minimal BPF program with batched draining (0.96)",
         fmt(ratio, ".3f"), judged(None if ratio is None else ratio > 0.96, which)),
        (f"{name}: better than the batched in-app middleware measured here",
         f"{fmt(ratio, '.3f')} vs {fmt(batched, '.3f')}",
         judged(None if ratio is None or batched is None else ratio > batched, "all rounds")),
        (f"{name}: adds < {AIM_P99_US:.0f} µs at p99, one connection (no queueing)",
         f"{fmt(p99c1)} µs", p99c1_ok),
        (f"{name}: added at p50 / p90, one connection", f"{fmt(p50c1)} / {fmt(p90c1)} µs",
         INFO),
        (f"{name}: adds < {AIM_P99_US:.0f} µs at p99, saturated (-c32, queueing included)",
         f"{fmt(p99sat)} µs", p99sat_ok),
        (f"{name}: httplat's CPU < 2 % of a core per 10,000 req/s "
         f"(< {AIM_CPU_MS_PER_10K:.0f} ms CPU per 10,000 requests)",
         f"{fmt(cpu, '.1f')} ms", None if cpu is None else cpu < AIM_CPU_MS_PER_10K),
    ]


def ingest_section(res, out, aims):
    ing = res.get("ingest")
    if not ing or not ing.get("runs"):
        out.append("Not measured in this run" + err(res, "ingest") + ".\n")
        if "ingest" in res["opts"]["sections"]:
            aims.append(("ingest ≥ 500,000 rows/s on one core", "not measured", None))
        return
    rates = [r["rows_s"] for r in ing["runs"]]
    out.append(f"`httplat bench-ingest {ing['rows']}` (synthetic records through the real "
               f"writer: formatting, batching, COPY, rollup), {len(rates)} runs, into the "
               "benchmark's PostgreSQL (unix socket, fsync=off), each followed by a plain "
               "`psql \\copy` of the same rows, pre-made, into the same emptied table "
               "(same partitions and indexes): PostgreSQL's own ceiling on this machine. "
               "Rows start to queue in httplat's writer once requests arrive faster than the "
               "sustained rate; *producer waits* counts how often bench-ingest had to wait "
               "for the writer's queue.\n")
    out.append("| measure | median (min–max) |")
    out.append("|---|---|")
    out.append(f"| **rows/s sustained, httplat writer** | {cell(rates)} |")
    copy = ing.get("copy", [])
    out.append(f"| rows/s, plain COPY of pre-made rows | {cell([c['rows_s'] for c in copy])} |")
    out.append(f"| ratio writer / plain COPY, paired | "
               f"{cell([r['rows_s'] / c['rows_s'] for r, c in zip(ing['runs'], copy)], '.2f')} |")
    out.append(f"| PostgreSQL CPU s, plain COPY | {cell([c['pg_cpu_s'] for c in copy], '.2f')} |")
    for key in sorted({k for r in ing["runs"] for k in r.get("extra", {})}):
        vals = [r["extra"].get(key) for r in ing["runs"]]
        whole = all(float(v).is_integer() for v in vals if v is not None)
        spec = ",.0f" if whole or lib.median(vals) >= 1000 else ".2f"
        out.append(f"| {key} | {cell(vals, spec)} |")
    out.append("")
    if ing.get("sample"):
        out.append("Output of the last run:\n\n```\n" + ing["sample"].strip() + "\n```\n")
    med = lib.median(rates)
    aims.append(("ingest ≥ 500,000 rows/s on one core", f"{fmt(med)} rows/s",
                 None if med is None else med >= AIM_INGEST))


def accuracy_section(res, out, aims):
    acc = res.get("accuracy", [])
    if not acc:
        out.append("Not measured in this run" + err(res, "accuracy") + ".\n")
        return
    out.append("Known server-side sleeps (asyncio.sleep of 0, 1, 2, 5, 10, 20 or 50 ms, random), "
               "4 keep-alive client connections, each request's path unique so httplat's JSON "
               "line and the client's timing can be matched. Errors in ms; *signed* is the "
               "median of (first − second).\n")
    out.append("| loop | matched / sent | compared | median abs error | p99 abs error "
               "| median signed |")
    out.append("|---|---|---|---|---|---|")
    for a in acc:
        for key, name in [("vs_client", "httplat vs client-observed"),
                          ("vs_sleep", "httplat vs known sleep"),
                          ("client_vs_sleep", "client-observed vs known sleep (for scale)")]:
            e = a[key]
            out.append(f"| {a['loop']} | {a['matched']}/{a['sent']} | {name} | "
                       f"{fmt(e['median_abs'], '.3f')} | {fmt(e['p99_abs'], '.3f')} | "
                       f"{fmt(e['median_signed'], '.3f')} |")
    out.append("")
    out.append("Median per sleep value (ms):\n")
    out.append("| loop | sleep | n | client-observed | httplat duration |")
    out.append("|---|---|---|---|---|")
    for a in acc:
        for ms, v in a["per_sleep"].items():
            out.append(f"| {a['loop']} | {ms} | {v['n']} | {fmt(v['client_ms'], '.3f')} | "
                       f"{fmt(v['httplat_ms'], '.3f')} |")
    out.append("")
    for a in acc:
        aims.append((f"{a['loop']}: every request seen exactly once (accuracy run)",
                     f"{a['matched']}/{a['sent']}, {a['duplicates']} duplicated",
                     a["matched"] == a["sent"] and a["duplicates"] == 0))


def rounds_appendix(res, out):
    """Every saturation run's req/s, in run order, marked when other tracers were loaded."""
    rows = res.get("overhead", [])
    if not rows:
        return
    ov = Rounds(rows)
    n = max(r["round"] for r in rows) + 1
    out.append("## Appendix: every saturation run\n")
    out.append("req/s of each -c32 run by round; * = another httplat instance was loaded "
               "meanwhile; the figure after / is the other load on the machine, in cores.\n")
    out.append("| loop | configuration | " + " | ".join(f"round {i + 1}" for i in range(n)) + " |")
    out.append("|---|---|" + "---|" * n)
    for loop in ov.loops:
        for cfg in CFG_NAMES:
            by_round = {r["round"]: r for r in ov.of(loop, cfg)}
            if not by_round:
                continue
            cells = []
            for i in range(n):
                r = by_round.get(i)
                cells.append("—" if r is None else
                             f"{r['sat']['req_s']:.0f}{'*' if r.get('foreign_bpf') else ''} / "
                             f"{r['cpu']['other_cores']:.2f}")
            out.append(f"| {loop} | {CFG_NAMES[cfg]} | " + " | ".join(cells) + " |")
    out.append("")


SOAK_MARK = "<!-- soak: "  # scripts/soak_report.py's part of the file, from here to the end


def kept_soak(path):
    """The soak part of the file as it is (make soak writes it, make bench keeps it)."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return ""
    i = text.find(SOAK_MARK)
    return "\n" + text[i:] if i >= 0 else ""


def write(path, res):
    m = res["machine"]
    o = res["opts"]
    aims = []
    body = []
    for title, fn in [("1. Overhead at saturation", overhead_section),
                      ("2. Ingest ceiling", ingest_section),
                      ("3. Accuracy", accuracy_section),
                      ("4. Kernel-side cost", cost.kernel_section),
                      ("5. Cost for processes httplat does not trace", cost.untraced_section),
                      ("6. HTTPS served by uvicorn", cost.https_section)]:
        body.append(f"## {title}\n")
        fn(res, body, aims)
    took = (res.get("finished", time.time()) - res["started"]) / 60
    out = [
        "# httplat benchmarks\n",
        f"Generated by `make bench` (scripts/bench.sh → scripts/bench/bench.py) on {m['date']}, "
        f"{took:.0f} minutes. Raw per-round data: build/bench/results.json; "
        "`scripts/bench/bench.py --report-only` re-renders this file from it. "
        "How it measures: [docs/bench.md](docs/bench.md).\n",
        *([f"**{o['note']}**\n"] if o.get("note") else []),
        "| machine | |", "|---|---|",
        f"| CPU | {m['cpu']}, {m['memory']} |",
        f"| OS, kernel | {m['os']}, {m['kernel']} |",
        f"| Python stack | {m['python']} |",
        f"| PostgreSQL | {m['postgres']} (initdb'd by the bench, unix socket, fsync=off) |",
        f"| load generator | {m['wrk']} (1 thread) on the same 2 cores, loopback |",
        "| placement | " + ("app pinned to CPU 0, wrk to CPU 1, httplat and PostgreSQL unpinned"
                           if not o.get("no_pin") else "nothing pinned") + " |",
        f"| httplat | {m['httplat']} |",
        f"| settings | {o['rounds']} rounds, {o['duration']} s saturation runs (-c32), "
        f"{o['duration_c1']} s one-connection runs (-c1), {o['warmup']} s warm-up |",
        f"| load average | {res.get('load_start')} at start, {res.get('load_end', '?')} at end |",
        f"| disturbed runs | {cost.disturbed_all(res)} (another tracer's programs on the syscall "
        "or socket tracepoints during the run) |",
        "",
        "Everything (app, wrk, httplat, PostgreSQL) shares 2 cores, and other work may run on "
        "the machine: the *other (cores)* column says how much CPU the rest of the machine used "
        "during each run. Compare ratios, not absolute figures.\n",
    ]
    summary(res, out)
    standing(res, out)
    out += ["## Aims\n", "| aim | measured (median) | |", "|---|---|---|"]
    out += [f"| {a} | {v} | {verdict(ok)} |" for a, v, ok in aims]
    out.append("")
    cost.where_time_goes(res, out)
    if res.get("errors"):
        out.append("Sections that failed: " + ", ".join(
            f"{k} (`{v[:300]}`)" for k, v in res["errors"].items()) + "\n")
    out += body
    rounds_appendix(res, out)
    soak = kept_soak(path)  # before the file is truncated
    with open(path, "w") as f:
        f.write("\n".join(out).rstrip() + "\n" + soak)
