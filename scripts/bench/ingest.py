"""ingest.py: the writer's ceiling: `httplat bench-ingest N` pushes synthetic records through the
real PostgreSQL writer path; rows/s sustained, alternating with a plain COPY of the same rows
(pre-made, by psql) into the same table, which is PostgreSQL's own ceiling on this machine."""
import os
import re
import time

import lib

# bench-ingest prints: "rows N, T s, R rows/s; httplat CPU C s (P rows per CPU-second);
# batches B, producer waits W, dropped D, rejected J"
FIELDS = {
    "rows per httplat CPU-second (one core)": r"\(([\d.]+) rows per CPU-second\)",
    "httplat CPU s": r"httplat CPU ([\d.]+) s",
    "seconds": r"rows \d+, ([\d.]+) s",
    "COPY batches": r"batches (\d+)",
    "producer waits (writer full)": r"producer waits (\d+)",
    "dropped": r"dropped (\d+)",
    "rejected": r"rejected (\d+)",
}
TABLE = "httplat.http_requests"


def parse(text):
    """(rows/s, {name: number}) from bench-ingest's summary line; rows/s None if absent."""
    m = re.search(r"([\d.]+) rows/s", text)
    extra = {}
    for name, rx in FIELDS.items():
        f = re.search(rx, text)
        if f:
            extra[name] = float(f.group(1))
    return (float(m.group(1)) if m else None), extra


def psql(pg, cmd):
    return lib.run_cmd(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", cmd, pg.conninfo],
                       timeout=600)


def metered(pg, cmd):
    """Runs cmd; returns (its stdout, seconds, PostgreSQL CPU s, other cores)."""
    meter = lib.CpuMeter({"postgres": pg.proc.pid})
    before = lib.descendants(lib.all_procs(), pg.proc.pid)
    meter.start()
    t0 = time.monotonic()
    out = lib.run_cmd(cmd, timeout=600)
    dt = time.monotonic() - t0
    # the client's backend ends just after the client: its CPU counts once the postmaster
    # has reaped it (cutime), so wait for that, briefly
    deadline = time.monotonic() + 2
    while (lib.descendants(lib.all_procs(), pg.proc.pid) - before
           and time.monotonic() < deadline):
        time.sleep(0.02)
    cpu = meter.stop()
    return out, dt, cpu["postgres"], cpu["other_cores"]


def run(pg, opts, results):
    ing = {"rows": opts.ingest_rows, "runs": [], "copy": []}
    results["ingest"] = ing
    rows_file = os.path.join(pg.dir, "premade.copy")
    for rnd in range(opts.rounds):
        lib.log(f"ingest round {rnd + 1}/{opts.rounds}: {opts.ingest_rows} rows")
        opts.quiet.wait()
        psql(pg, f"TRUNCATE {TABLE}") if rnd else None  # the table exists once httplat made it
        out, _, pg_cpu, other = metered(pg, [lib.HTTPLAT, "bench-ingest", str(opts.ingest_rows),
                                             "--db", pg.conninfo])
        rate, extra = parse(out)
        if rate is None:
            raise RuntimeError(f"no rows/s in bench-ingest output: {out[-500:]}")
        extra["PostgreSQL CPU s"] = pg_cpu
        extra["other load (cores)"] = other
        ing["runs"].append({"rows_s": rate, "extra": extra})
        ing["sample"] = out[-3000:]
        if rnd == 0:
            psql(pg, f"\\copy (SELECT * FROM {TABLE}) TO '{rows_file}'")
        psql(pg, f"TRUNCATE {TABLE}")
        _, dt, pg_cpu, other = metered(pg, ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                                            f"\\copy {TABLE} FROM '{rows_file}'", pg.conninfo])
        ing["copy"].append({"rows_s": opts.ingest_rows / dt, "pg_cpu_s": pg_cpu,
                            "other_cores": other})
        lib.log(f"  bench-ingest {rate:.0f} rows/s, plain COPY {opts.ingest_rows / dt:.0f} rows/s")
