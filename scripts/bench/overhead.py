"""overhead.py: what each way of measuring costs a saturated uvicorn worker (A B A B rounds).

For every round, loop flavour and configuration, a fresh uvicorn runs
bench_app.py; wrk warms it up, then measures at saturation (-c32) and with a
single connection (-c1, latency without queueing). CPU of httplat, PostgreSQL,
the app and everything else on the machine is read around the -c32 run.
"""
import os

import lib

LOOPS = [("uvloop", "httptools"), ("asyncio", "h11")]
CONFIGS = ["bare", "httplat", "trace", "batched", "naive"]
PATH = "/items/1"


class Setup:
    """One configuration, started: the app, plus httplat or an in-app middleware."""

    def __init__(self, cfg, loop, http, pg, run_args):
        self.cfg = cfg
        self.pg = pg
        self.tracer = None
        self.stderr = ""
        mw = cfg if cfg in ("batched", "naive") else "none"
        self.app = lib.uvicorn(loop, http, mw=mw, pg=pg)
        if cfg == "httplat":
            spool = os.path.join(pg.dir, "spool")  # not the system's /var/spool/httplat
            args = [a.format(pid=self.app.proc.pid, port=self.app.port, db=pg.conninfo,
                             spool=spool) for a in run_args]
            self.tracer = lib.httplat(*args)
        elif cfg == "trace":  # the kernel side and decoding alone, lines to a file
            self.tracer = lib.httplat("trace", "--pid", str(self.app.proc.pid))

    def trees(self):
        t = {"app": self.app.proc.pid, "postgres": self.pg.proc.pid}
        if self.tracer:
            t["httplat"] = self.tracer.proc.pid
        return t

    def stop(self):
        """Stops httplat first (it flushes), then the app; returns httplat's exit status."""
        rc = self.tracer.proc.poll() if self.tracer else None
        if self.tracer and rc is None:
            self.stderr = self.tracer.stderr()[-2000:]
            rc = lib.stop(self.tracer)
        if self.app.proc.poll() is None:
            lib.stop(self.app)
        return rc


def measure(cfg, loop, http, pg, opts):
    foreign = opts.quiet.wait()
    s = Setup(cfg, loop, http, pg, opts.run_args)
    try:
        warm = lib.wrk(s.app.port, PATH, opts.warmup, connections=32)
        meter = lib.CpuMeter(s.trees())
        meter.start()
        sat = lib.wrk(s.app.port, PATH, opts.duration, connections=32)
        cpu = meter.stop()
        foreign = max(foreign, lib.foreign_tracers(s.tracer.proc.pid if s.tracer else None))
        one = lib.wrk(s.app.port, PATH, opts.duration_c1, connections=1)
        rc = s.stop()
        res = {"cfg": cfg, "loop": loop, "sat": sat, "c1": one, "cpu": cpu, "load": lib.loadavg(),
               "served": warm["requests"] + sat["requests"] + one["requests"],
               "foreign_bpf": foreign}
        if s.tracer:
            res["httplat_rc"] = rc
            res["httplat_stderr"] = s.stderr
        return res
    finally:
        s.stop()


def run(pg, opts, results):
    """Appends one dict per measurement to results["overhead"]; rotates the order every round."""
    out = results.setdefault("overhead", [])
    configs = [c for c in CONFIGS if c in opts.configs]
    for rnd in range(opts.rounds):
        for loop, http in LOOPS:
            if loop not in opts.loops:
                continue
            shift = rnd % len(configs)
            for cfg in configs[shift:] + configs[:shift]:
                lib.log(f"overhead round {rnd + 1}/{opts.rounds} {loop}+{http} {cfg}")
                for table in (opts.httplat_table, "inapp_requests"):  # e.g. bench-ingest rows
                    pg.sql(f"TRUNCATE {table}", check=False)
                r = measure(cfg, loop, http, pg, opts)
                r["round"] = rnd
                r["stored"] = stored_rows(pg, cfg, opts)
                out.append(r)
                lib.log(f"  {r['sat']['req_s']:.0f} req/s, p99 {r['sat']['p99_us']} us, "
                        f"c1 p50 {r['c1']['p50_us']} us, other load "
                        f"{r['cpu']['other_cores']:.2f} cores, "
                        f"stored {r['stored']}/{r['served']}, "
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
