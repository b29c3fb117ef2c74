"""ingest.py: the writer's ceiling: `httplat bench-ingest N` pushes synthetic records through
the real PostgreSQL writer path; rows/s sustained, over several runs."""
import re

import lib


# bench-ingest prints: "rows N, T s, R rows/s; httplat CPU C s (P rows per CPU-second);
# batches B, producer waits W, dropped D, rejected J"
FIELDS = {
    "rows per CPU-second (one core)": r"\(([\d.]+) rows per CPU-second\)",
    "httplat CPU s": r"httplat CPU ([\d.]+) s",
    "seconds": r"rows \d+, ([\d.]+) s",
    "COPY batches": r"batches (\d+)",
    "producer waits (writer full)": r"producer waits (\d+)",
    "dropped": r"dropped (\d+)",
    "rejected": r"rejected (\d+)",
}


def parse(text):
    """(rows/s, {name: number}) from bench-ingest's summary line; rows/s None if absent."""
    m = re.search(r"([\d.]+) rows/s", text)
    extra = {}
    for name, rx in FIELDS.items():
        f = re.search(rx, text)
        if f:
            extra[name] = float(f.group(1))
    return (float(m.group(1)) if m else None), extra


def run(pg, opts, results):
    ing = {"rows": opts.ingest_rows, "runs": []}
    results["ingest"] = ing
    for rnd in range(opts.rounds):
        lib.log(f"ingest run {rnd + 1}/{opts.rounds}: {opts.ingest_rows} rows")
        meter = lib.CpuMeter({"postgres": pg.proc.pid})
        meter.start()
        out = lib.run_cmd([lib.HTTPLAT, "bench-ingest", str(opts.ingest_rows),
                           "--db", pg.conninfo], timeout=600)
        cpu = meter.stop()
        rate, extra = parse(out)
        extra["PostgreSQL CPU s"] = cpu["postgres"]
        extra["other load (cores)"] = cpu["other_cores"]
        if rate is None:
            raise RuntimeError(f"no rows/s in bench-ingest output: {out[-500:]}")
        ing["runs"].append({"rows_s": rate, "extra": extra})
        ing["sample"] = out[-3000:]
        lib.log(f"  {rate:.0f} rows/s")
