"""table.py: the cell formats and verdicts every part of BENCHMARKS.md uses (report.py, cost.py)."""
import lib

INFO = "info"  # an aims-table row shown for scale, with no aim to judge


def fmt(v, spec=".0f"):
    return "n/a" if v is None else format(v, spec)


def cell(xs, spec=".0f"):
    """'median (min–max)' of a list, or 'n/a'."""
    xs = [x for x in xs if x is not None]
    med, lo, hi = lib.spread(xs)
    if med is None:
        return "n/a"
    if len(xs) == 1 or lo == hi:
        return fmt(med, spec)
    return f"{fmt(med, spec)} ({fmt(lo, spec)}–{fmt(hi, spec)})"


def verdict(ok):
    if ok == INFO:
        return "(no aim)"
    if isinstance(ok, str):  # why it cannot be judged
        return ok
    return "n/a" if ok is None else ("**met**" if ok else "**not met**")


def disturbed(rows):
    """'k/n': runs during which BPF tracers other than the bench's own sat on hot hooks."""
    return f"{sum(1 for r in rows if r.get('foreign_bpf'))}/{len(rows)}"


def err(res, name):
    e = res.get("errors", {}).get(name)
    return f" (the section failed: `{e}`)" if e else ""


def not_measured(res, name, out):
    out.append("Not measured in this run" + err(res, name) + ".\n")


def run_val(r, run, key):
    """r[run][key], or None when that wrk run was not made (e.g. no -c1 run for r's config)."""
    return r[run].get(key) if r.get(run) else None


def per_request_us(run):
    """App CPU per request of a wrk run, in µs (None without the measurement)."""
    if not run or run.get("app_cpu_ns") is None or not run.get("requests"):
        return None
    return run["app_cpu_ns"] / run["requests"] / 1000.0


class Rounds:
    """Per-loop, per-configuration runs (overhead, https), paired with bare within each round."""

    def __init__(self, rows):
        self.rows = rows
        self.loops = sorted({r["loop"] for r in rows}, key=lambda x: x != "uvloop")
        self.bare = {(r["loop"], r["round"]): r for r in rows if r["cfg"] == "bare"}

    def of(self, loop, cfg):
        return [r for r in self.rows if r["loop"] == loop and r["cfg"] == cfg]

    def series(self, loop, cfg, fn):
        return [fn(r) for r in self.of(loop, cfg)]

    def paired(self, loop, cfg, fn, clean=False):
        """fn(r, bare r of the same round) for every round that has both (with clean: only
        rounds where neither run had other tracers loaded)."""
        res = []
        for r in self.of(loop, cfg):
            b = self.bare.get((loop, r["round"]))
            if b and not (clean and (r.get("foreign_bpf") or b.get("foreign_bpf"))):
                res.append(fn(r, b))
        return res

    def ratio(self, loop, cfg, clean=False):
        return self.paired(loop, cfg, lambda r, b: r["sat"]["req_s"] / b["sat"]["req_s"], clean)

    def added(self, loop, cfg, run, key, clean=False):
        def diff(r, b):
            a, z = run_val(r, run, key), run_val(b, run, key)
            return None if a is None or z is None else a - z
        return [d for d in self.paired(loop, cfg, diff, clean) if d is not None]

    def app_us(self, loop, cfg, run="sat"):
        """App CPU per request, µs, per run."""
        return self.series(loop, cfg, lambda r: per_request_us(r.get(run)))

    def app_added_us(self, loop, cfg, run="sat", clean=False):
        """App CPU per request added over the same round's bare run, µs."""
        def diff(r, b):
            a, z = per_request_us(r.get(run)), per_request_us(b.get(run))
            return None if a is None or z is None else a - z
        return [d for d in self.paired(loop, cfg, diff, clean) if d is not None]
