"""overhead.py: what each way of measuring costs a saturated uvicorn worker (A B A B rounds).

For every round, loop flavour and configuration, a fresh uvicorn runs
bench_app.py; wrk warms it up, then measures at saturation (-c32) and with a
single connection (-c1, latency without queueing). CPU of httplat, PostgreSQL,
the app and everything else on the machine is read around the -c32 run, and the
app's own CPU in ns (its threads' schedstat) around both runs: app CPU per
request, paired with the round's bare run, is what the tracing adds inside the app.
Besides httplat and the in-app middlewares, the minimal BPF programs of
scripts/bench/minimal.bpf.c run on the same app: the floor of each data path.
"""
import os

import lib

CONFIGS = ["bare", "httplat", "trace", "trace_syscall", "min_socket", "min_syscall", "batched",
           "naive"]  # the order of the first round (bench.py --configs picks; naive is opt-in)
PATH = "/items/1"


class Setup:
    """One configuration, started: the app, plus httplat or an in-app middleware."""

    def __init__(self, cfg, loop, http, pg, run_args):
        self.cfg = cfg
        self.pg = pg
        self.tracer = None
        self.stderr = ""
        self.seen = None  # requests the tracer reported (trace lines, minimal's records)
        mw = cfg if cfg in ("batched", "naive") else "none"
        self.app = lib.uvicorn(loop, http, mw=mw, pg=pg)
        if cfg == "httplat":
            spool = os.path.join(pg.dir, "spool")  # not the system's /var/spool/httplat
            args = [a.format(pid=self.app.proc.pid, port=self.app.port, db=pg.conninfo,
                             spool=spool) for a in run_args]
            self.tracer = lib.httplat(*args)
        elif cfg in lib.TRACERS:  # trace: the kernel side and decoding alone, lines to a file
            self.tracer = lib.tracer(cfg, self.app.proc.pid)

    def trees(self):
        t = {"app": self.app.proc.pid, "postgres": self.pg.proc.pid}
        if self.tracer:
            t["httplat"] = self.tracer.proc.pid
        return t

    def stop(self):
        """Stops httplat first (it flushes), then the app; returns httplat's exit status."""
        rc = self.tracer.proc.poll() if self.tracer else None
        if self.tracer and rc is None:
            rc = self.tracer.stop()  # it drains what the kernel submitted, then exits
            self.stderr = self.tracer.stderr()[-2000:]
            self.seen = lib.seen(self.tracer)
            lib.stop(self.tracer)
        if self.app.proc.poll() is None:
            lib.stop(self.app)
        return rc


def app_cpu_run(s, seconds, connections):
    """A wrk run with the app's CPU (ns, all its threads) read just around it."""
    pid = s.app.proc.pid
    c0 = lib.task_cpu_ns(pid)
    w = lib.wrk(s.app.port, PATH, seconds, connections=connections)
    w["app_cpu_ns"] = lib.task_cpu_ns(pid) - c0
    return w


def measure(cfg, loop, http, pg, opts):
    foreign = lib.foreign_hooks() if opts.quiet.wait() else {}
    s = Setup(cfg, loop, http, pg, opts.run_args)
    own = s.tracer.proc.pid if s.tracer else None
    try:
        warm = lib.wrk(s.app.port, PATH, opts.warmup, connections=32)
        meter = lib.CpuMeter(s.trees())
        meter.start()
        sat = app_cpu_run(s, opts.duration, 32)
        cpu = meter.stop()
        one = app_cpu_run(s, opts.duration_c1, 1) if cfg in opts.c1_configs else None
        for tp, n in lib.foreign_hooks(own).items():
            foreign[tp] = max(foreign.get(tp, 0), n)
        rc = s.stop()
        res = {"cfg": cfg, "loop": loop, "sat": sat, "c1": one, "cpu": cpu, "load": lib.loadavg(),
               "served": warm["requests"] + sat["requests"] + (one["requests"] if one else 0),
               "foreign_bpf": sum(foreign.values()), "foreign_hooks": foreign}
        if s.tracer:
            res["httplat_rc"] = rc
            res["httplat_stderr"] = s.stderr
            res["seen"] = s.seen
        return res
    finally:
        s.stop()


def run(pg, opts, results):
    """Appends one dict per measurement to results["overhead"]; rotates the order every round."""
    out = results.setdefault("overhead", [])
    configs = [c for c in CONFIGS if c in opts.configs]
    for rnd, loop, http, cfg in lib.schedule(opts.rounds, opts.loops, configs):
        lib.log(f"overhead round {rnd + 1}/{opts.rounds} {loop}+{http} {cfg}")
        for table in (opts.httplat_table, "inapp_requests"):  # e.g. bench-ingest rows
            pg.sql(f"TRUNCATE {table}", check=False)
        r = measure(cfg, loop, http, pg, opts)
        r["round"] = rnd
        r["stored"] = stored_rows(pg, cfg, opts)
        out.append(r)
        lib.log(f"  {r['sat']['req_s']:.0f} req/s, p99 {r['sat']['p99_us']} us, app CPU "
                f"{r['sat']['app_cpu_ns'] / max(1, r['sat']['requests']) / 1000:.1f} "
                f"us/request, "
                f"c1 p50 {(r['c1'] or {}).get('p50_us')} us, other load "
                f"{r['cpu']['other_cores']:.2f} cores, "
                f"stored {r['stored']}/{r['served']}, seen {r.get('seen')}, "
                f"other BPF programs {r['foreign_bpf']}")


def stored_rows(pg, cfg, opts):
    """Rows the configuration wrote to PostgreSQL (None for bare), then empties the table."""
    table = {"httplat": opts.httplat_table, "batched": "inapp_requests",
             "naive": "inapp_requests"}.get(cfg)
    if not table:
        return None
    rows = pg.sql(f"SELECT count(*) FROM {table}", check=False)
    pg.sql(f"TRUNCATE {table}", check=False)
    return int(rows[0][0]) if rows else None
