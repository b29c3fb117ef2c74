"""grafana_sql.py: expands dashboard/alert SQL the way Grafana does before PostgreSQL sees it.

Three layers, applied in Grafana's order:
  1. provisioning_env(): env interpolation of provisioning YAML values ($VAR, ${VAR};
     "$$" is a literal "$"). Alert rule `model`s are exempt (Grafana uses the raw value).
  2. template_vars(): the dashboard's template variables ($api, ${api}, [[api]]) as the
     PostgreSQL data source formats them: multi-value/include-All variables become quoted
     literals joined by commas ('a','b', quotes doubled), other variables are inserted raw.
  3. macros(): the backend's macro engine: comments stripped, then the global
     substitutions ($__interval_ms, $__interval, $__unixEpochFrom(), $__unixEpochTo()),
     then every $__name(args) matched by \\$([_a-zA-Z0-9]+)\\(([^\\)]*)\\).
"""
import datetime as dt
import os
import re

MACRO_RE = re.compile(r"\$([_a-zA-Z0-9]+)\(([^\)]*)\)")
VAR_RE = re.compile(r"\$(\w+)|\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)\]\]")
ENV_RE = re.compile(r"\$(\w+)|\$\{([^}]*)\}")
UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


class MacroError(ValueError):
    pass


def provisioning_env(value, env=None):
    """Grafana's interpolateValue: split on "$$", os.ExpandEnv each part, join with "$"."""
    env = os.environ if env is None else env

    def one(m):
        return env.get(m.group(1) or m.group(2), "")
    return "$".join(ENV_RE.sub(one, part) for part in value.split("$$"))


def parse_interval(text):
    """'1m' -> 60.0, '500ms' -> 0.5, '90' -> 90.0 (seconds), as gtime.ParseInterval."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w|y)?\s*", text.strip("'\""))
    if not m:
        raise MacroError(f"invalid interval {text!r}")
    return float(m.group(1)) * UNITS[m.group(2) or "s"]


def format_interval(seconds):
    """Grafana's gtime.FormatInterval: the largest unit that fits, truncated (90 s -> '1m')."""
    ms = int(round(seconds * 1000))
    for unit, size in (("y", 31536000000), ("d", 86400000), ("h", 3600000), ("m", 60000),
                       ("s", 1000), ("ms", 1)):
        if ms >= size:
            return f"{ms // size}{unit}"
    return "1ms"


def _num(x):
    """Go's %v of a float64: 60 -> '60', 0.5 -> '0.5'."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _ts(t):
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _strip_comments(sql):
    sql = re.sub(r"/\*.*?\*/", " ", sql, flags=re.S)
    return re.sub(r"--[^\n]*", "", sql)


def macros(sql, time_from, time_to, interval_s):
    """Expands Grafana's PostgreSQL macros for the time range [time_from, time_to]."""
    sql = _strip_comments(sql)
    sql = sql.replace("$__interval_ms", str(round(interval_s * 1000)))
    sql = sql.replace("$__interval", format_interval(interval_s))
    sql = sql.replace("$__unixEpochFrom()", str(int(time_from.timestamp())))
    sql = sql.replace("$__unixEpochTo()", str(int(time_to.timestamp())))
    frm, to = _ts(time_from), _ts(time_to)

    def expand(m):
        name = m.group(1)
        args = [a.strip() for a in m.group(2).split(",")] if m.group(2).strip() else []

        def need(n):
            if len(args) < n:
                raise MacroError(f"macro {name} needs {n} argument(s), got {args}")
        if name == "__time":
            need(1)
            return f'{args[0]} AS "time"'
        if name == "__timeEpoch":
            need(1)
            return f'extract(epoch from {args[0]}) as "time"'
        if name == "__timeFilter":
            need(1)
            return f"{args[0]} BETWEEN '{frm}' AND '{to}'"
        if name == "__timeFrom":
            return f"'{frm}'"
        if name == "__timeTo":
            return f"'{to}'"
        if name in ("__timeGroup", "__timeGroupAlias"):
            need(2)
            s = _num(parse_interval(args[1]))
            out = f"floor(extract(epoch from {args[0]})/{s})*{s}"
            return out + ' AS "time"' if name == "__timeGroupAlias" else out
        if name == "__unixEpochFilter":
            need(1)
            return (f"{args[0]} >= {int(time_from.timestamp())} AND "
                    f"{args[0]} <= {int(time_to.timestamp())}")
        if name in ("__unixEpochGroup", "__unixEpochGroupAlias"):
            need(2)
            s = _num(parse_interval(args[1]))
            out = f"floor(({args[0]})/{s})*{s}"
            return out + ' AS "time"' if name == "__unixEpochGroupAlias" else out
        raise MacroError(f"unknown macro ${name}")

    out = MACRO_RE.sub(expand, sql)
    if "$" in out.replace("$$", ""):
        left = re.findall(r"\$\S+", out)
        raise MacroError(f"unexpanded $ left in query: {left}")
    return out


def quote_literal(value):
    return "'" + str(value).replace("'", "''") + "'"


def template_vars(sql, values, multi=None):
    """Replaces $name / ${name} / [[name]] with values[name] (a list).

    multi: set of names declared multi or includeAll (quoted, comma-joined); others raw.
    Names not in values are left alone (they may be macros such as $__timeFilter).
    """
    multi = set(values) if multi is None else set(multi)

    def one(m):
        name = m.group(1) or m.group(2) or m.group(4)
        if name not in values:
            return m.group(0)
        v = values[name]
        vs = v if isinstance(v, (list, tuple)) else [v]
        if name in multi:
            return ",".join(quote_literal(x) for x in vs)
        return ",".join(str(x) for x in vs)
    return VAR_RE.sub(one, sql)


def expand(sql, time_from, time_to, interval_s, values=None, multi=None):
    """Template variables, then macros: the text PostgreSQL receives from Grafana."""
    return macros(template_vars(sql, values or {}, multi), time_from, time_to, interval_s)
