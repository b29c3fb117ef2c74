"""ingest.py: the writer's ceiling: `httplat bench-ingest N` pushes synthetic records through
the real PostgreSQL writer path; rows/s sustained, over several runs."""
import json
import re

import lib


def parse(text):
    """rows/s and any other numbers from bench-ingest's output (a JSON object or key: value lines)."""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            obj = json.loads(line)
            nums = {k: v for k, v in obj.items() if isinstance(v, (int, float))}
            rate = next((nums.pop(k) for k in ("rows_per_s", "rows_s", "rate") if k in nums), None)
            return rate, nums
    m = re.search(r"([\d.]+)\s*rows/s", text)
    return (float(m.group(1)) if m else None), {}


def run(pg, opts, results):
    ing = {"rows": opts.ingest_rows, "runs": []}
    results["ingest"] = ing
    for rnd in range(opts.rounds):
        lib.log(f"ingest run {rnd + 1}/{opts.rounds}: {opts.ingest_rows} rows")
        out = lib.run_cmd([lib.HTTPLAT, "bench-ingest", str(opts.ingest_rows),
                           "--db", pg.conninfo], timeout=600)
        rate, extra = parse(out)
        if rate is None:
            raise RuntimeError(f"no rows/s in bench-ingest output: {out[-500:]}")
        ing["runs"].append({"rows_s": rate, "extra": extra})
        ing["sample"] = out[-3000:]
        lib.log(f"  {rate:.0f} rows/s")
