"""soak_report.py: the accounting, the verdict and build/soak/report.md of scripts/soak.py.

Every figure and every verdict here is computed from what the soak measured (samples.json);
`soak_report.py DIR` renders DIR/report.md (and DIR/benchmarks.md, the part for BENCHMARKS.md)
again from DIR/samples.json; `--into BENCHMARKS.md` puts that part in.
"""
import collections
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests", "e2e"))
import harness as h  # noqa: E402

RSS_GROWTH_MAX = 0.05  # RSS at the end of the load within 5 % of RSS at the reference minute
FD_SLACK = 2           # open fds may differ by this much (a database reconnect, a spool file)
CONN_SLACK = 2         # connection entries left after the load, above the baseline
RESTART_NEAR_S = 3.0   # an unanswered request this close to a worker restart: cut by it


def account(res):
    """Client's requests against the stored rows, one by one (by the request's sid)."""
    rows = collections.defaultdict(list)
    unknown = 0
    for sid, status, flags, _pid in res["rows"]:
        if sid:
            rows[int(sid)].append((int(status), int(flags)))
        else:
            unknown += 1
    sent = {d[0]: d for d in res["done"]}
    unknown += sum(len(v) for k, v in rows.items() if k not in sent)
    a = collections.Counter()
    by_status = collections.defaultdict(lambda: [0, 0])  # status -> [client, rows]
    by_kind = collections.defaultdict(lambda: [0, 0, 0])  # kind -> [sent, answered, stored]
    examples = collections.defaultdict(list)
    near = 0  # errors within RESTART_NEAR_S of a gunicorn worker restart being seen
    restarts = res.get("restart_times", [])
    for sid, target, kind, status, err, t in res["done"]:
        got = rows.get(sid, [])
        by_status[status][0] += 1
        by_kind[kind][0] += 1
        by_kind[kind][1] += bool(status)
        by_kind[kind][2] += bool(got)
        if len(got) > 1:
            a["duplicates"] += 1
        if not status and any(abs(r - t) <= RESTART_NEAR_S for r in restarts):
            near += 1
        if status:
            if not got:
                what = "missing"
            elif got[0][0] != status:
                what = "wrong_status"
            else:
                what = "matched"
        elif not got:
            what = "error_no_row"  # the app never read it (a connection the server closed)
        elif got[0][0] == 0:
            what = "error_row_no_response"
        else:
            what = "error_row_answered"  # the server wrote a response the client did not get
        a[what] += 1
        if what != "matched" and len(examples[what]) < 5:
            examples[what].append(f"sid {sid} {target} {kind} client {status or err} rows {got}")
    for got in rows.values():
        for status, _ in got:
            by_status[status][1] += 1
    return dict(sent=len(sent), answered=sum(1 for d in res["done"] if d[3]),
                rows=len(res["rows"]), unknown_rows=unknown, counts=dict(a), near_restart=near,
                by_status={str(k): v for k, v in sorted(by_status.items())},
                by_kind=dict(by_kind), examples=dict(examples))


def loss_counters(res):
    """{name: value} of every loss counter httplat has: kernel ones from its last health row,
    the writer's from its exit line."""
    hl = res["health"]
    out = {}
    for _name, col, kind, _doc in h.kernel_counters():
        if kind == "loss":
            out[f"kernel {col}"] = hl.get(f"kernel_{col}", hl.get(f"drop_{col}"))
    out["kernel dropped (sum)"] = hl.get("kernel_dropped")
    ex = res["exit"]
    for k in ("dropped", "rejected", "queued_rows", "spooled"):
        out[f"rows {k} at exit"] = int(ex[k]) if k in ex else None
    out["decode errors"] = hl.get("decode_errors")
    return out


def fit_slope(xs, ys):
    """Least-squares slope of ys over xs (0 for fewer than two points)."""
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var if var else 0.0


def verdicts(res, acc, losses):
    s = [x for x in res["samples"] if x.get("conns") is not None]
    base, last, after = s[0], s[-1], res["after_load"]
    ref_min = max(1, min(5, len(s) // 2))
    ref = next(x for x in s if x["minute"] >= ref_min)
    growth = (last["rss_kib"] - ref["rss_kib"]) / ref["rss_kib"]
    tail = [x for x in s if x["minute"] >= ref["minute"]]
    slope = fit_slope([x["minute"] for x in tail], [x["rss_kib"] for x in tail])
    out = []
    out.append(("RSS flat", growth < RSS_GROWTH_MAX,
                f"RSS {ref['rss_kib']} KiB at minute {ref['minute']}, {last['rss_kib']} KiB at "
                f"minute {last['minute']}: {growth * 100:+.1f} % (criterion < "
                f"{RSS_GROWTH_MAX * 100:.0f} %); {after['rss_kib']} KiB after the load; least-squares "
                f"slope from minute {ref['minute']} on {slope:+.1f} KiB/minute"))
    fd_ok = (after["fds"] <= base["fds"] + FD_SLACK and last["fds"] <= ref["fds"] + FD_SLACK)
    out.append(("open fds flat", fd_ok,
                f"{base['fds']} before the load, {ref['fds']} at minute {ref['minute']}, "
                f"{last['fds']} at the end, {after['fds']} after (criterion: within "
                f"{FD_SLACK} of before and of minute {ref['minute']})"))
    conns_during = [x["conns"] for x in s if x["minute"] >= ref["minute"]]
    occ_ok = (after["conns"] <= base["conns"] + CONN_SLACK and after["queued"] == 0
              and last["conns"] <= 1.5 * ref["conns"] + 8)
    out.append(("map occupancy flat", occ_ok,
                f"conns {base['conns']} before the load, {min(conns_during)}-{max(conns_during)}"
                f" during it (of {base['conns_max']}), {after['conns']} after; pipelined queue "
                f"{after['queued']} after (criterion: back to the baseline + {CONN_SLACK}, "
                f"queue empty, no creep: end <= 1.5 x minute {ref['minute']} + 8)"))
    peak = max(x["ring_peak_kib"] for x in s + [after])
    out.append(("ring buffer never full", (losses.get("kernel ringbuf_full") or 0) == 0,
                f"peak {peak} KiB of {base['ring_size_kib']} KiB; ringbuf_full "
                f"{losses.get('kernel ringbuf_full')}"))
    c = acc["counts"]
    lost = {k: v for k, v in losses.items() if v}
    bad = {k: c.get(k, 0) for k in ("missing", "wrong_status", "duplicates") if c.get(k)}
    ok = not lost and not bad and not acc["unknown_rows"] and res["httplat_rc"] == 0
    out.append(("nothing lost", ok,
                f"{acc['answered']} answered requests, {c.get('matched', 0)} stored exactly once "
                f"with the status the client saw; missing {c.get('missing', 0)}, wrong status "
                f"{c.get('wrong_status', 0)}, duplicates {c.get('duplicates', 0)}, rows of no "
                f"request {acc['unknown_rows']}; loss counters "
                f"{'all 0' if not lost else lost}; httplat exit status {res['httplat_rc']}"))
    return out


def chart(title, series, height=8):
    """ASCII chart, one column per sample, y from 0: [(label, char, values)]."""
    top = max(max(v) for _, _, v in series) or 1
    n = max(len(v) for _, _, v in series)
    grid = [[" "] * n for _ in range(height)]
    for _, ch, vals in series:
        for i, v in enumerate(vals):
            row = min(height - 1, int(round(v / top * (height - 1))))
            grid[height - 1 - row][i] = ch
    lines = [title]
    for r, cells in enumerate(grid):
        y = top * (height - 1 - r) / (height - 1)
        lines.append(f"{y:>9.0f} |" + " ".join(cells))
    lines.append(" " * 10 + "+" + "-" * (2 * n - 1))
    lines.append(" " * 11 + "".join(f"{i:<10}" for i in range(0, n, 5)) + "(minute)")
    lines.append(" " * 11 + ", ".join(f"{ch} {label}" for label, ch, _ in series))
    return "\n".join(lines)


def png(res, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    s = res["samples"]
    m = [x["minute"] for x in s]
    fig, ax = plt.subplots(3, 1, figsize=(8, 8), sharex=True)
    ax[0].plot(m, [x["rss_kib"] for x in s], label="RSS KiB")
    ax[1].plot(m, [x["fds"] for x in s], label="open fds")
    ax[1].plot(m, [x["conns"] for x in s], label="conns")
    ax[1].plot(m, [x["queued"] for x in s], label="pipelined queued")
    ax[2].plot(m, [x["ring_kib"] for x in s], label="ring KiB now")
    ax[2].plot(m, [x["ring_peak_kib"] for x in s], label="ring KiB peak")
    ax[2].plot(m, [x["spool_bytes"] / 1024 for x in s], label="spool KiB")
    for a in ax:
        a.legend()
        a.set_ylim(bottom=0)
    ax[2].set_xlabel("minute")
    fig.savefig(path, dpi=90)
    return True


def render(res, acc, losses, verdict, has_png):
    p = res["params"]
    s = res["samples"]
    ok = all(v[1] for v in verdict)
    out = [f"# Soak: {'PASS' if ok else 'FAIL'}", ""]
    out.append(f"Started {res['started']}, {res['load_s'] / 60:.1f} minutes of load; kernel "
               f"{res['kernel']}, {res['nproc']} cores; load average at the end "
               f"{' '.join(f'{x:.2f}' for x in res['loadavg'])}.")
    out.append("")
    out.append(f"Parameters: {p['rate']:g} requests/s (open loop, {p['threads']} client "
               f"threads, seed {p['seed']}): 75 % to gunicorn ({p['workers']} UvicornWorker "
               f"workers, --max-requests {p['max_requests']} with jitter "
               f"{p['max_requests'] // 4}), 25 % to uvicorn (uvloop, httptools); 62 % on "
               "keep-alive connections, 30 % on fresh ones, 8 % of jobs pipelined bursts of 3; "
               "statuses 200, 201, 204, 301, 400, 401, 403, 404, 418, 500, 502, 503. "
               f"`httplat run --mem-max {p['mem_max']} --stats-interval {p['stats_interval']}`"
               f" into a throwaway PostgreSQL, stopped for {p['pg_down']} s in the middle.")
    out.append("")
    o = res["outage"]
    if o:
        out.append(f"PostgreSQL outage: stopped at minute {o['minute']}, {o['seconds']} s, "
                   f"{o['sent_during']} requests meanwhile; spool peaked at "
                   f"{o['spool_peak_bytes'] / 1024:.0f} KiB.")
    out.append(f"Gunicorn worker restarts seen: {res['restarts']}. Client: largest backlog "
               f"{res['client']['max_backlog']} jobs, at most {res['client']['late_max_s']:.2f} s "
               "behind schedule.")
    out.append("")
    out.append("## Verdict")
    out.append("")
    for name, good, why in verdict:
        out.append(f"- **{name}: {'yes' if good else 'NO'}**: {why}")
    out.append("")
    out.append("## Every minute")
    out.append("")
    out.append("httplat's RSS and open fds from /proc; the rest from its counters line (the last "
               "one before the sample). *lost*: rows dropped / kernel dropped.")
    out.append("")
    out.append("| minute | requests sent | RSS KiB | fds | conns | pipelined queued | ring KiB "
               "now / peak | rows written | rows queued | spooled (rows / KiB) | db | lost |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = s + [dict(res["after_load"], minute="after", sent=acc["sent"])]
    for x in rows:
        out.append(f"| {x['minute']} | {x['sent']} | {x['rss_kib']} | {x['fds']} | {x['conns']} "
                   f"| {x['queued']} | {x['ring_kib']} / {x['ring_peak_kib']} | {x['written']} "
                   f"| {x['queued_rows']} | {x['spooled']} / {x['spool_bytes'] // 1024} | "
                   f"{x['db']} | {x['dropped']} / {x['kernel_dropped']} |")
    out.append("")
    out.append("```")
    out.append(chart("httplat RSS (KiB)", [("RSS", "*", [x["rss_kib"] for x in s])]))
    out.append("")
    out.append(chart("kernel tables and fds", [("fds", "f", [x["fds"] for x in s]),
                                               ("conns", "c", [x["conns"] for x in s]),
                                               ("pipelined queued", "q",
                                                [x["queued"] for x in s])]))
    out.append("```")
    out.append("")
    out.append("![soak](soak.png)" if has_png else
               "(no soak.png: matplotlib is not installed for /usr/bin/python3)")
    out.append("")
    out.append("## Requests sent against rows stored")
    out.append("")
    c = acc["counts"]
    out.append(f"{acc['sent']} requests sent, {acc['answered']} answered; {acc['rows']} rows "
               f"stored.")
    out.append("")
    out.append("| outcome | requests |")
    out.append("|---|---|")
    for k, why in (("matched", "answered, one row, same status"),
                   ("missing", "answered, no row"),
                   ("wrong_status", "answered, the row has another status"),
                   ("duplicates", "more than one row"),
                   ("error_no_row", "no response (connection closed or reset); no row: "
                                    "the app never read the request"),
                   ("error_row_no_response", "no response; a row with status 0 (no_response)"),
                   ("error_row_answered", "no response seen by the client; a row with a status")):
        out.append(f"| {k}: {why} | {c.get(k, 0)} |")
    out.append(f"| rows of no request sent | {acc['unknown_rows']} |")
    out.append("")
    out.append(f"Of the {acc['sent'] - acc['answered']} requests without a response, "
               f"{acc['near_restart']} failed within {RESTART_NEAR_S:g} s of a gunicorn worker "
               f"restart being seen (the process tree is polled every second; "
               f"{len(res.get('restart_times', []))} restarts).")
    out.append("")
    out.append("| status | client | rows |")
    out.append("|---|---|---|")
    for st, (cl, rw) in acc["by_status"].items():
        out.append(f"| {st if st != '0' else '0 (no response)'} | {cl} | {rw} |")
    out.append("")
    out.append("| connection kind | sent | answered | with a row |")
    out.append("|---|---|---|---|")
    for k, (a, b, r) in sorted(acc["by_kind"].items()):
        out.append(f"| {k} | {a} | {b} | {r} |")
    out.append("")
    if acc["examples"]:
        out.append("Examples of what did not match:")
        out.append("")
        for k, ex in acc["examples"].items():
            for e in ex:
                out.append(f"- {k}: {e}")
        out.append("")
    out.append("## Loss counters")
    out.append("")
    out.append("| counter | value |")
    out.append("|---|---|")
    for k, v in losses.items():
        out.append(f"| {k} | {v} |")
    out.append("")
    out.append("## httplat's last lines")
    out.append("")
    out.append("```")
    out.extend(res["stderr_tail"].strip().splitlines()[-8:])
    out.append("```")
    return "\n".join(out) + "\n", ok


MARK = "<!-- soak: written by `make soak` (scripts/soak_report.py --into); make bench keeps it -->"


def benchmarks_section(res, verdict, note=""):
    """The Soak part of BENCHMARKS.md: parameters, every 5th minute, the verdict."""
    acc = account(res)
    p, o = res["params"], res["outage"]
    ok = all(v[1] for v in verdict)
    out = [MARK, "## Soak\n",
           f"`make soak` (scripts/soak.py, [docs/bench.md](docs/bench.md#soak-make-soak)) on "
           f"{res['started']}: {res['load_s'] / 60:.0f} minutes at {p['rate']:g} requests/s "
           f"(open loop) against the test app under gunicorn ({p['workers']} UvicornWorker "
           f"workers, --max-requests {p['max_requests']}: {res['restarts']} worker restarts) and "
           "under uvicorn (uvloop), keep-alive and fresh connections and pipelined bursts, "
           f"`httplat run --mem-max {p['mem_max']}` into PostgreSQL, which was stopped for "
           f"{o.get('seconds', 0)} s at minute {o.get('minute', '-')} (spool peak "
           f"{o.get('spool_peak_bytes', 0) / 1024:.0f} KiB). Kernel {res['kernel']}, "
           f"{res['nproc']} cores.\n"]
    if note:
        out.append(f"**{note}**\n")
    out.append(f"**Verdict: {'PASS' if ok else 'FAIL'}**\n")
    for name, good, why in verdict:
        out.append(f"- {name}: **{'yes' if good else 'NO'}**: {why}")
    c = acc["counts"]
    out.append("")
    out.append(f"Requests sent {acc['sent']}, answered {acc['answered']}, rows stored "
               f"{acc['rows']}: {c.get('matched', 0)} answered requests stored exactly once with "
               f"their status; {acc['sent'] - acc['answered']} got no response (the server closed "
               f"the connection under them: {c.get('error_no_row', 0)} never read by the app and "
               f"so without a row, {c.get('error_row_no_response', 0)} stored with status 0, "
               f"{c.get('error_row_answered', 0)} stored with a status the client never saw; "
               f"{acc['near_restart']} of them within {RESTART_NEAR_S:g} s of a gunicorn worker "
               "restart).\n")
    out.append("| minute | requests sent | RSS KiB | open fds | conns | pipelined queued | ring KiB "
               "now / peak | rows spooled | lost (rows / kernel) |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    s = res["samples"]
    last = s[-1]["minute"]
    for x in s + [dict(res["after_load"], minute="after load", sent=acc["sent"])]:
        outage = x.get("spooled") or x.get("db") != "connected"
        if x["minute"] != "after load" and x["minute"] % 5 and x["minute"] not in (1, last) \
                and not outage:
            continue
        out.append(f"| {x['minute']} | {x['sent']} | {x['rss_kib']} | {x['fds']} | {x['conns']} "
                   f"| {x['queued']} | {x['ring_kib']} / {x['ring_peak_kib']} | {x['spooled']} | "
                   f"{x['dropped']} / {x['kernel_dropped']} |")
    out.append("")
    out.append("Every minute, the charts, the accounting by status: build/soak/report.md of the "
               "run.")
    return "\n".join(out) + "\n"


def into(path, section):
    """Replaces BENCHMARKS.md's soak part (from MARK to the end) or appends it."""
    with open(path) as f:
        text = f.read()
    if MARK in text:
        text = text[:text.index(MARK)]
    with open(path, "w") as f:
        f.write(text.rstrip() + "\n\n" + section)


def write(res, out_dir):
    """Writes samples.json, report.md (and soak.png); returns a one-line verdict."""
    with open(os.path.join(out_dir, "samples.json"), "w") as f:
        json.dump(res, f)
    acc = account(res)
    losses = loss_counters(res)
    verdict = verdicts(res, acc, losses)
    has_png = png(res, os.path.join(out_dir, "soak.png"))
    text, ok = render(res, acc, losses, verdict, has_png)
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write(text)
    with open(os.path.join(out_dir, "benchmarks.md"), "w") as f:
        f.write(benchmarks_section(res, verdict, res["params"].get("note", "")))
    return ("PASS" if ok else "FAIL") + ": " + ", ".join(
        f"{n} {'yes' if g else 'NO'}" for n, g, _ in verdict)


def main():
    import argparse
    ap = argparse.ArgumentParser(description="Renders a soak's report again from samples.json")
    ap.add_argument("dir", nargs="?", default=os.path.join(h.ROOT, "build", "soak"))
    ap.add_argument("--into", metavar="BENCHMARKS.md",
                    help="also put the soak part into this file (replacing the one there)")
    ap.add_argument("--note", help="a bold line in that part (e.g. the machine was shared)")
    a = ap.parse_args()
    with open(os.path.join(a.dir, "samples.json")) as f:
        res = json.load(f)
    if a.note is not None:
        res["params"]["note"] = a.note
    print(write(res, a.dir))
    if a.into:
        with open(os.path.join(a.dir, "benchmarks.md")) as f:
            into(a.into, f.read())


if __name__ == "__main__":
    main()
