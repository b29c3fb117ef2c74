"""https.py: HTTPS served by uvicorn itself (--ssl-keyfile/--ssl-certfile): what tracing it costs.

A self-signed certificate is made for the run (openssl req -x509). Per round and
loop flavour, in a rotated order, a fresh TLS uvicorn runs bare, under `httplat
trace` and under `httplat run`; wrk (https, keep-alive: one handshake per
connection) measures it at saturation while the app's CPU is read around the
run. How many requests httplat reported per request served says whether this
build traces TLS at all. Then, with BPF statistics on, one `httplat trace` run
per loop counts its uprobe hits and BPF time per request.
"""
import os

import kernel
import lib

CONFIGS = ["bare", "trace", "httplat"]
PATH = "/items/1"


def make_cert(d):
    key, cert = os.path.join(d, "tls-key.pem"), os.path.join(d, "tls-cert.pem")
    lib.run_cmd(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                 "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                 "-addext", "subjectAltName=IP:127.0.0.1"])
    os.chmod(key, 0o644)
    return ("--ssl-keyfile", key, "--ssl-certfile", cert)


def start_tracer(cfg, app, pg, opts):
    if cfg == "trace":
        return lib.tracer("trace", app.proc.pid)
    if cfg == "httplat":
        spool = os.path.join(pg.dir, "spool")
        return lib.httplat(*[a.format(pid=app.proc.pid, port=app.port, db=pg.conninfo,
                                      spool=spool) for a in opts.run_args])
    return None


def measure(cfg, loop, http, tls, pg, opts):
    foreign = lib.foreign_hooks() if opts.quiet.wait() else {}
    app = lib.uvicorn(loop, http, extra=tls)
    tracer = None
    try:
        tracer = start_tracer(cfg, app, pg, opts)
        own = tracer.proc.pid if tracer else None
        warm = lib.wrk(app.port, PATH, opts.warmup, scheme="https")
        c0 = lib.task_cpu_ns(app.proc.pid)
        sat = lib.wrk(app.port, PATH, opts.duration, scheme="https")
        sat["app_cpu_ns"] = lib.task_cpu_ns(app.proc.pid) - c0
        for tp, n in lib.foreign_hooks(own).items():
            foreign[tp] = max(foreign.get(tp, 0), n)
        res = {"cfg": cfg, "loop": loop, "sat": sat, "served": warm["requests"] + sat["requests"],
               "foreign_bpf": sum(foreign.values()), "foreign_hooks": foreign,
               "load": lib.loadavg()}
        if tracer:
            res["httplat_rc"] = tracer.stop()
            res["seen"] = lib.seen(tracer)
            res["httplat_stderr"] = tracer.stderr()[-1500:]
        return res
    finally:
        lib.stop(tracer)
        lib.stop(app)


def stored(pg, opts):
    rows = pg.sql(f"SELECT count(*) FROM {opts.httplat_table}", check=False)
    pg.sql(f"TRUNCATE {opts.httplat_table}", check=False)
    return int(rows[0][0]) if rows else None


def run(pg, opts, results):
    out = results.setdefault("https", {"runs": [], "bpf": []})
    tls = make_cert(pg.dir)
    configs = [c for c in CONFIGS if c in opts.https_configs]
    for rnd, loop, http, cfg in lib.schedule(opts.https_rounds, opts.loops, configs):
        lib.log(f"https round {rnd + 1}/{opts.https_rounds} {loop}+{http} {cfg}")
        pg.sql(f"TRUNCATE {opts.httplat_table}", check=False)
        r = measure(cfg, loop, http, tls, pg, opts)
        r["round"] = rnd
        if cfg == "httplat":
            r["stored"] = stored(pg, opts)
        out["runs"].append(r)
        lib.log(f"  {r['sat']['req_s']:.0f} req/s, app CPU "
                f"{r['sat']['app_cpu_ns'] / max(1, r['sat']['requests']) / 1000:.1f} "
                f"us/request, seen {r.get('seen')}, stored {r.get('stored')}, "
                f"served {r['served']}, wrk errors {r['sat']['errors']}")
    if "trace" not in configs:
        return
    with kernel.BpfStats():
        for loop, http in lib.LOOPS:
            if loop in opts.loops:
                lib.log(f"https: uprobe hits and BPF time, {loop}+{http}")
                r = kernel.bpf_run_stats(loop, http, "trace", opts, PATH, tls, "https")
                out["bpf"].append(r)
                lib.log(f"  {kernel.per_request_ns(r):.0f} ns of BPF time per request, "
                        f"uprobe hits per request {uprobe_hits(r):.2f}, seen {r['seen']}")


def uprobe_hits(r):
    """Runs of the tracer's uprobe programs (type kprobe) per request of the targeted load."""
    n = sum(v[1] for v in r["targeted"].values() if v[2] == "kprobe")
    return n / r["requests"] if r["requests"] else 0.0

