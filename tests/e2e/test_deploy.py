#!/usr/bin/python3
"""test_deploy.py: deploy/ (Grafana, Compose, systemd), checked as far as this host allows.

Grafana and Docker do not run here. What is checked instead:
  - structure: JSON/YAML parse, unique uids and ids, every data source reference is the
    provisioned one, alert conditions and expressions name existing refIds, every $VAR the
    provisioning files need is set by docker-compose.yml; the generator (deploy/grafana/src,
    TypeScript on Grafana's Foundation SDK) type-checks under tsc --strict and the committed
    dashboards and alert rules are exactly what it writes;
  - every SQL query of every panel, template variable, annotation and alert rule, expanded as
    Grafana expands it (tests/e2e/grafana_sql.py), run as Grafana's read-only role against the
    real schema in a real PostgreSQL holding known rows: it must succeed, return the columns
    the panel needs (`time` first for time series) and the values the rows imply;
  - the alert rules evaluated on those rows fire for exactly the APIs and routes they should;
  - after a real traced load (./httplat run on a uvicorn app), every query returns rows;
  - `docker-compose config` (Debian's docker-compose 1.29) accepts the Compose file, and
    `systemd-analyze verify` the unit.
"""
import csv
import datetime as dt
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import grafana_sql as gs  # noqa: E402
import harness as h  # noqa: E402

DEPLOY = os.path.join(h.ROOT, "deploy")
GRAFANA = os.path.join(DEPLOY, "grafana")
PROV = os.path.join(GRAFANA, "provisioning")
try:
    import yaml
except ImportError:  # python3-yaml comes with scripts/install-deps.sh
    yaml = None

HOST = "test-host"
WAIT_TITLE = "Time waiting before the app read the request (event loop blocked, workers busy)"
READER = "httplat_reader"
APIS = ("data", "model", "user")


def load_yaml(rel):
    with open(os.path.join(PROV, rel)) as f:
        return yaml.safe_load(f)


def dashboards():
    out = {}
    d = os.path.join(GRAFANA, "dashboards")
    for name in sorted(os.listdir(d)):
        if name.endswith(".json"):
            with open(os.path.join(d, name)) as f:
                out[name] = json.load(f)
    return out


def datasource():
    ds = load_yaml("datasources/httplat.yaml")["datasources"]
    h.check(len(ds) == 1, f"one data source expected, got {len(ds)}")
    return ds[0]


def panels(dash):
    """Every panel with the `repeat` of the row it sits in (rows are not collapsed)."""
    repeat = None
    for p in dash["panels"]:
        if p["type"] == "row":
            repeat = p.get("repeat")
            h.check(not p.get("panels"), f"row {p['title']!r} is collapsed; keep rows open")
            continue
        yield p, repeat


def queries(dash):
    """(where, sql, format, panel or None, repeat) for every SQL the dashboard sends."""
    for p, repeat in panels(dash):
        for t in p.get("targets", []):
            yield f"panel {p['title']!r} {t['refId']}", t["rawSql"], t["format"], p, repeat
    for v in dash["templating"]["list"]:
        if v["type"] == "query":
            yield f"variable {v['name']}", v["query"], "table", None, None
    for a in dash["annotations"]["list"]:
        if a.get("target"):
            yield f"annotation {a['name']!r}", a["target"]["rawSql"], "table", None, None


def custom_options(query):
    """(text, value) of a custom variable's `text : value, ...` as Grafana's CustomVariable
    reads it (commas split unless escaped as \\,; ' : ' separates text from value)."""
    out = []
    for part in re.findall(r"(?:\\,|[^,])+", query):
        part = part.replace("\\,", ",")
        m = re.match(r"^\s*(.+)\s:\s(.+)$", part)
        out.append((m.group(1).strip(), m.group(2).strip()) if m else (part.strip(), part.strip()))
    return out


def alert_file():
    return load_yaml("alerting/httplat.yaml")


def compose_env():
    """Environment docker-compose.yml gives Grafana, with deploy/.env.example as .env."""
    cfg = compose_config(os.path.join(DEPLOY, ".env.example"))
    return {k: str(v) for k, v in cfg["services"]["grafana"]["environment"].items()}


def compose_config(env_file, profile="demo"):
    r = subprocess.run(["docker-compose", "--env-file", env_file, "-f",
                        os.path.join(DEPLOY, "docker-compose.yml"), "--profile", profile,
                        "config"], capture_output=True, text=True, cwd=DEPLOY)
    if r.returncode != 0:
        raise h.CheckFailed(f"docker-compose config failed: {r.stderr.strip()}")
    return yaml.safe_load(r.stdout)


# ---------------------------------------------------------------------------- structure


@h.test
def test_macro_expansion_matches_grafana():
    """grafana_sql.py against the expansions Grafana's PostgreSQL macro engine documents."""
    frm = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.timezone.utc)
    to = dt.datetime(2026, 11, 25, 11, 0, tzinfo=dt.timezone.utc)
    cases = [
        ("$__timeFilter(ts)", 60, "ts BETWEEN '2026-11-25T10:00:00Z' AND '2026-11-25T11:00:00Z'"),
        ("$__timeGroupAlias(ts, $__interval)", 60, 'floor(extract(epoch from ts)/60)*60 AS "time"'),
        ("$__timeGroup(minute, '5m')", 1, "floor(extract(epoch from minute)/300)*300"),
        ("$__timeGroup(ts, 500ms)", 1, "floor(extract(epoch from ts)/0.5)*0.5"),
        ("$__interval_ms / $__interval", 90, "90000 / 1m"),
        ("$__interval", 0.5, "500ms"),
        ("$__time(ts), $__timeEpoch(ts)", 1, 'ts AS "time", extract(epoch from ts) as "time"'),
        ("$__timeFrom() $__timeTo()", 1, "'2026-11-25T10:00:00Z' '2026-11-25T11:00:00Z'"),
        ("$__unixEpochFilter(t)", 1, "t >= 1795600800 AND t <= 1795604400"),
        ("$__unixEpochFrom() -- comment $__bogus(x)\n", 1, "1795600800 \n"),
    ]
    for sql, iv, want in cases:
        got = gs.macros(sql, frm, to, iv)
        h.check(got == want, f"{sql!r} -> {got!r}, Grafana gives {want!r}")
    for bad in ("$__nosuch(ts)", "$__timeGroup(ts)", "$api"):
        try:
            gs.macros(bad, frm, to, 60)
            raise h.CheckFailed(f"{bad!r} expanded without error")
        except gs.MacroError:
            pass
    v = gs.template_vars("a IN ($api) AND r IN (${route}) AND h = [[host]] AND $__x(1)",
                         {"api": ["data", "o'k"], "route": ["/x"], "host": ["web"]},
                         multi={"api", "route"})
    h.check(v == "a IN ('data','o''k') AND r IN ('/x') AND h = web AND $__x(1)", v)
    env = {"PW": "s3cr$t", "EMPTY": ""}
    h.check(gs.provisioning_env("$PW ${PW} $$PW $EMPTY$NONE x", env) == "s3cr$t s3cr$t $PW  x",
            "provisioning env expansion")


@h.test
def test_generated_files_match_generator():
    """`make grafana-check`: tsc --strict type-checks the generator against the Foundation
    SDK's types, then the generator compares its output with the committed files."""
    r = subprocess.run(["make", "-s", "--no-print-directory", "-C", h.ROOT, "grafana-check"],
                       capture_output=True, text=True, timeout=600)
    h.check(r.returncode == 0, f"make grafana-check failed:\n{r.stdout}{r.stderr}")


@h.test
def test_grafana_diff_names_ui_changes():
    """scripts/grafana-diff.py (bringing a dashboard edited in Grafana back): nothing for the
    same file or Grafana's save noise, one line per real change, panels matched by title."""
    src = os.path.join(GRAFANA, "dashboards", "overview.json")
    tool = os.path.join(h.ROOT, "scripts", "grafana-diff.py")
    with open(src) as f:
        dash = json.load(f)
    dash.update(id=17, version=9, iteration=1700000000000)
    for p in dash["panels"]:
        p["pluginVersion"] = "12.2.0"
    moved = next(p for p in dash["panels"] if p["title"] == "Request rate")
    moved["fieldConfig"]["defaults"]["custom"]["lineWidth"] = 2
    dash["panels"].remove(moved)
    dash["panels"].append(moved)
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(dash, f)
        f.flush()
        r = subprocess.run([h.PY, tool, src, src], capture_output=True, text=True)
        h.check(r.returncode == 0 and "(no differences)" in r.stdout, r.stdout + r.stderr)
        r = subprocess.run([h.PY, tool, f.name, src], capture_output=True, text=True)
        lines = r.stdout.splitlines()[2:]
        h.check(r.returncode == 1, f"exit status {r.returncode}: {r.stderr}")
        want = '~ panels["Request rate"].fieldConfig.defaults.custom.lineWidth: 2 -> 1'
        h.check(want in lines, f"{want!r} not in {lines}")
        h.check(len(lines) == 2 and lines[1].startswith("~ panels: order"), f"{lines}")


@h.test
def test_uids_and_datasource_references():
    ds = datasource()
    h.check(ds["type"] == "grafana-postgresql-datasource", f"data source type {ds['type']}")
    h.check("database" in ds["jsonData"], "database must sit under jsonData")
    h.check("$" in ds["secureJsonData"]["password"], "password must come from the environment")
    uids = set()
    for name, dash in dashboards().items():
        h.check(dash["uid"] not in uids, f"duplicate dashboard uid {dash['uid']}")
        uids.add(dash["uid"])
        h.check(re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", dash["uid"]), f"bad uid {dash['uid']}")
        h.check(39 <= dash["schemaVersion"] <= 41, f"{name}: schemaVersion")
        ids = [p["id"] for p in dash["panels"]]
        h.check(len(ids) == len(set(ids)), f"{name}: duplicate panel ids")
        names = [v["name"] for v in dash["templating"]["list"]]
        h.check(len(names) == len(set(names)), f"{name}: duplicate variables")
        refs = []
        for p, _ in panels(dash):
            refs.append((f"panel {p['title']}", p.get("datasource")))
            h.check(p.get("targets"), f"{name}: panel {p['title']!r} has no query")
            for t in p["targets"]:
                refs.append((f"target of {p['title']}", t.get("datasource")))
                h.check(t["format"] in ("time_series", "table"), f"{p['title']}: format")
                h.check(t.get("rawQuery") and t.get("editorMode") == "code", "raw SQL mode")
        for v in dash["templating"]["list"]:
            h.check(v["type"] in ("query", "custom"), f"{name}: variable type {v['type']}")
            if v["type"] == "query":
                refs.append((f"variable {v['name']}", v.get("datasource")))
            else:
                opts = custom_options(v["query"])
                h.check([(o["text"], o["value"]) for o in v["options"]] == opts,
                        f"{name}: variable {v['name']} options {v['options']} vs {opts}")
                h.check(v.get("allowCustomValue") is False,
                        f"{name}: variable {v['name']} accepts typed-in values")
        refs += [(f"annotation {a['name']}", a.get("datasource"))
                 for a in dash["annotations"]["list"] if not a.get("builtIn")]
        for where, ref in refs:
            h.check(ref == {"type": ds["type"], "uid": ds["uid"]},
                    f"{name}: {where} uses data source {ref}, not {ds['uid']}")
        for p, repeat in panels(dash):
            if repeat:
                h.check(repeat in names, f"{name}: row repeats unknown variable {repeat}")
            for t in p["targets"]:
                for var in re.findall(r"\$(\w+)", t["rawSql"]):
                    h.check(var.startswith("__") or var in names,
                            f"{name}: {p['title']} uses undefined ${var}")
    h.check({"httplat-overview", "httplat-model", "httplat-health"} <= uids, f"uids {uids}")
    for name, dash in dashboards().items():
        h.check(dash["templating"]["list"][0]["name"] == "host", f"{name}: no host variable")
    over = dashboards()["overview.json"]
    h.check({"api", "route", "tls"} <= {v["name"] for v in over["templating"]["list"]},
            "overview needs api, route and tls variables")


@h.test
def test_slack_link_opens_the_overview():
    """The daemon's alert messages link /d/<SLACKMSG_GRAFANA_DASHBOARD>/?var-...: that uid
    and every variable the link sets must exist (user/alert/slackmsg.[ch])."""
    with open(os.path.join(h.ROOT, "user", "alert", "slackmsg.h")) as f:
        uid = re.search(r'#define SLACKMSG_GRAFANA_DASHBOARD "([^"]+)"', f.read()).group(1)
    with open(os.path.join(h.ROOT, "user", "alert", "slackmsg.c")) as f:
        linked = set(re.findall(r"var-(\w+)=", f.read()))
    h.check(linked >= {"api", "route", "host"}, f"link variables {linked}")
    dash = next((d for d in dashboards().values() if d["uid"] == uid), None)
    h.check(dash, f"no dashboard with uid {uid}")
    have = {v["name"] for v in dash["templating"]["list"]}
    h.check(linked <= have, f"{uid} lacks variables {linked - have} the Slack link sets")


@h.test
def test_overview_has_the_panels_the_team_asked_for():
    dash = dashboards()["overview.json"]
    by_title = {p["title"]: p for p, _ in panels(dash)}
    lat = by_title["Response time p50 / p95 / p99"]
    steps = lat["fieldConfig"]["defaults"]["thresholds"]["steps"]
    h.check([s["value"] for s in steps] == [None, 500, 1000], f"threshold steps {steps}")
    h.check(lat["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "line",
            "threshold lines shown")
    h.check(lat["fieldConfig"]["defaults"]["unit"] == "ms", "latency unit ms")
    stat500 = by_title["HTTP 500s"]
    h.check(stat500["type"] == "stat", "500s is a stat")
    h.check(stat500["fieldConfig"]["defaults"]["thresholds"]["steps"][1] ==
            {"color": "red", "value": 1}, "500s red from 1")
    sql = by_title["Status codes"]["targets"][0]["rawSql"]
    for code in (200, 201, 301, 400, 401, 403, 404, 500, 502, 503):
        h.check(str(code) in sql, f"status {code} missing from the distribution")
    types = {p["type"] for p, _ in panels(dash)}
    h.check({"timeseries", "stat", "table", "heatmap"} <= types, f"panel types {types}")
    for t in ("Request rate", "Error ratio", "Slowest routes (p95)", "Most failing routes",
              "Latency heatmap", WAIT_TITLE):
        h.check(t in by_title, f"panel {t!r} missing")
    wait = by_title[WAIT_TITLE]
    h.check(wait["fieldConfig"]["defaults"]["unit"] == "ms", "wait unit ms")
    sql = wait["targets"][0]["rawSql"]
    for part in ("httplat.httplat_wait_ms(queue_ms, wait_ms)",
                 "httplat.httplat_quantile(httplat.httplat_hist_sum(wait_hist), 0.95, "
                 "max(wait_max_ms))"):
        h.check(part in sql, f"wait panel SQL lacks {part}")
    for name in ("overview.json", "model.json"):
        for p, _ in panels(dashboards()[name]):
            for t in p["targets"]:
                h.check("tls IN ($tls)" in t["rawSql"], f"{name}: {p['title']}: no TLS filter")


@h.test
def test_alert_rules_structure():
    ds = datasource()
    f = alert_file()
    uids = set()
    titles = set()
    for group in f["groups"]:
        h.check(group["folder"] and group["interval"], "group needs folder and interval")
        for rule in group["rules"]:
            h.check(rule["uid"] not in uids, f"duplicate rule uid {rule['uid']}")
            uids.add(rule["uid"])
            titles.add(rule["title"])
            refs = [d["refId"] for d in rule["data"]]
            h.check(len(refs) == len(set(refs)), f"{rule['uid']}: duplicate refIds")
            h.check(rule["condition"] in refs, f"{rule['uid']}: condition {rule['condition']}")
            h.check(rule["noDataState"] in ("NoData", "Alerting", "OK"), "noDataState")
            h.check(rule["execErrState"] in ("Error", "Alerting", "OK"), "execErrState")
            h.check(rule["labels"]["severity"] in ("warning", "critical"), "severity label")
            for d in rule["data"]:
                m = d["model"]
                h.check(m["refId"] == d["refId"], f"{rule['uid']}: model refId")
                if d["datasourceUid"] == "__expr__":
                    used = re.findall(r"\$(\w+)", m["expression"]) if m["type"] == "math" \
                        else [m["expression"]]
                    for u in used:
                        h.check(u in refs and u != d["refId"],
                                f"{rule['uid']}: {d['refId']} reads unknown refId {u}")
                else:
                    h.check(d["datasourceUid"] == ds["uid"], f"{rule['uid']}: data source")
                    h.check(m["datasource"]["uid"] == ds["uid"], "model data source")
                    h.check(m["format"] == "table", "alert SQL returns a table")
                    h.check(d["relativeTimeRange"]["from"] == 300, "5-minute window")
    h.check({"httplat-p95-warning", "httplat-p95-critical", "httplat-http-500"} <= uids,
            f"rule uids {uids}")
    cps = f["contactPoints"]
    receivers = [r for cp in cps for r in cp["receivers"]]
    h.check([r["type"] for r in receivers] == ["slack"], "one Slack receiver")
    h.check(receivers[0]["settings"]["recipient"] == "#3d-model-generation", "channel")
    h.check(receivers[0]["settings"]["url"].startswith("${"), "webhook URL from environment")
    names = {cp["name"] for cp in cps}
    for pol in f["policies"]:
        h.check(pol["receiver"] in names, f"policy receiver {pol['receiver']}")
        for r in pol.get("routes", []):
            h.check(r["receiver"] in names, f"route receiver {r['receiver']}")


def kernel_columns_in(sql):
    return set(re.findall(r"\bkernel_\w+", sql)) - {"kernel_dropped"}


def health_panels():
    return {p["title"]: p for p, _ in panels(dashboards()["health.json"])}


@h.test
def test_health_lists_every_kernel_counter():
    """The health dashboard shows exactly the counters of HTTPLAT_COUNTERS (bpf/httplat.h),
    each where its kind belongs: losses in the lost stat and the losses panel, give-ups and
    oddities in theirs, info counters with the rates; all in the counters table, in order."""
    counters = h.kernel_counters()
    col = {c: "kernel_" + c for _, c, _, _ in counters}
    of = lambda *kinds: {col[c] for _, c, k, _ in counters if k in kinds}  # noqa: E731
    ps = health_panels()
    every = set()
    for p in ps.values():
        every |= kernel_columns_in(p["targets"][0]["rawSql"])
    h.check(every == set(col.values()), f"health dashboard reads {sorted(every)}, the table has "
            f"{sorted(col.values())}")
    where = {"Requests lost in the kernel": of("loss"), "Kernel losses": of("loss"),
             "Give-ups, oddities and decode errors": of("giveup", "oddity"),
             "Events and requests per second": of("info"), "Kernel counters": set(col.values())}
    for title, want in where.items():
        h.check(title in ps, f"health panel {title!r} missing")
        got = kernel_columns_in(ps[title]["targets"][0]["rawSql"])
        h.check(got == want, f"{title}: {sorted(got)}, expected {sorted(want)}")
    h.check(ps["Requests lost in the kernel"]["fieldConfig"]["defaults"]["thresholds"]["steps"]
            [1] == {"color": "red", "value": 1}, "losses red from 1")
    sql = ps["Kernel counters"]["targets"][0]["rawSql"]
    kinds = {"loss": "loss", "giveup": "give-up", "oddity": "oddity", "info": "info"}
    entries = re.findall(r"\((\d+), '(kernel_\w+)', '([\w-]+)', d\.(\w+), '((?:[^']|'')*)'\)", sql)
    h.check([(int(i), c, k, n, m.replace("''", "'")) for i, c, k, n, m in entries] ==
            [(i + 1, col[c], kinds[k], col[c], m) for i, (_, c, k, m) in enumerate(counters)],
            f"counters table rows {entries}")
    text = " ".join(p.get("description", "") for p in ps.values())
    for _, c, _, meaning in counters:
        h.check(f"{col[c]}: {meaning}" in text, f"no panel describes {col[c]} ({meaning})")


def header_with(edit):
    """bpf/httplat.h with its HTTPLAT_COUNTERS block passed through edit(list of X lines)."""
    with open(os.path.join(h.ROOT, "bpf", "httplat.h")) as f:
        text = f.read()
    start = text.index("#define HTTPLAT_COUNTERS(X)")
    end = text.index("\n\n", start)
    lines = [ln.rstrip(" \t\\").strip() for ln in text[start:end].split("\n")[1:]]
    lines = edit(lines)
    block = "#define HTTPLAT_COUNTERS(X) \\\n" + " \\\n".join("\t" + ln for ln in lines)
    return text[:start] + block + text[end:]


@h.test
def test_generator_follows_the_counter_table():
    """A counter added to (or removed from) HTTPLAT_COUNTERS changes the health dashboard at
    the next `make grafana` with no other edit, and `make grafana-check` (make test) fails
    until the regenerated files are committed; a malformed entry stops the generator."""
    r = subprocess.run(["make", "-s", "--no-print-directory", "-C", h.ROOT, "grafana-build"],
                       capture_output=True, text=True, timeout=600)
    h.check(r.returncode == 0, f"make grafana-build: {r.stdout}{r.stderr}")
    new = 'X(TLS_FAIL, tls_handshake_failed, HTTPLAT_CK_LOSS, "TLS handshakes that failed")'
    gen = ["node", os.path.join(GRAFANA, "build", "main.js")]
    with tempfile.TemporaryDirectory(prefix="httplat-grafana-") as tmp:
        hdr = os.path.join(tmp, "httplat.h")
        with open(hdr, "w") as f:
            f.write(header_with(lambda xs: [x for x in xs if "ORPHAN_RESPONSE" not in x] + [new]))
        counters = h.kernel_counters(hdr)
        h.check(("TLS_FAIL", "tls_handshake_failed", "loss", "TLS handshakes that failed")
                in counters and not any(n == "ORPHAN_RESPONSE" for n, _, _, _ in counters),
                f"edited header: {counters}")
        r = subprocess.run(gen + ["--check", "--counters", hdr], capture_output=True, text=True)
        h.check(r.returncode == 1 and "dashboards/health.json" in r.stderr and
                "overview.json" not in r.stderr, f"--check with a new counter: {r.returncode} "
                f"{r.stderr}")
        out = os.path.join(tmp, "out")
        r = subprocess.run(gen + ["--counters", hdr, "--out", out], capture_output=True,
                           text=True)
        h.check(r.returncode == 0, f"generator: {r.stderr}")
        with open(os.path.join(out, "dashboards", "health.json")) as f:
            dash = json.load(f)
        ps = {p["title"]: p for p in dash["panels"]}
        every = set()
        for p in ps.values():
            every |= kernel_columns_in(p["targets"][0]["rawSql"])
        h.check(every == {"kernel_" + c for _, c, _, _ in counters}, f"read {sorted(every)}")
        for title in ("Requests lost in the kernel", "Kernel losses", "Kernel counters"):
            h.check("kernel_tls_handshake_failed" in ps[title]["targets"][0]["rawSql"],
                    f"{title} lacks the new loss counter")
        for name in ("overview.json", "model.json"):
            with open(os.path.join(out, "dashboards", name)) as a, \
                    open(os.path.join(GRAFANA, "dashboards", name)) as b:
                h.check(a.read() == b.read(), f"{name} changed with the counters")
        for bad, why in (
                ('X(BOGUS, bogus, HTTPLAT_CK_MAYBE, "no such kind")', "BOGUS"),
                ('X(TWICE, requests, HTTPLAT_CK_INFO, "same column")', "duplicate"),
                ('X(BROKEN, broken, HTTPLAT_CK_LOSS)', "entries")):
            with open(hdr, "w") as f:
                f.write(header_with(lambda xs, b=bad: xs + [b]))
            r = subprocess.run(gen + ["--counters", hdr, "--out", out], capture_output=True,
                               text=True)
            h.check(r.returncode == 2 and why in r.stderr, f"{bad}: exit {r.returncode}, "
                    f"{r.stderr.strip()}")


def walk_strings(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk_strings(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk_strings(v, path + (i,))
    elif isinstance(node, str):
        yield path, node


@h.test
def test_provisioning_environment():
    """Grafana expands $VAR in provisioning values; every one must be set by Compose, and
    nothing meant literally (SQL macros, templates) may sit where it would be expanded."""
    env = compose_env()
    for rel in ("datasources/httplat.yaml", "dashboards/httplat.yaml", "alerting/httplat.yaml"):
        doc = load_yaml(rel)
        for path, value in walk_strings(doc):
            # Grafana keeps rule models and annotations raw (rules_types.go: .Raw).
            raw = "model" in path or "annotations" in path
            if raw or "$" not in value:
                continue
            names = re.findall(r"\$\{?(\w+)\}?", value.replace("$$", ""))
            for n in names:
                h.check(env.get(n), f"{rel} {'.'.join(map(str, path))}: ${n} is not set "
                        "(or empty) in docker-compose.yml's grafana environment")
            out = gs.provisioning_env(value, env)
            h.check(out.strip(), f"{rel}: {path} expands to nothing")
            if path[-1] == "isPaused":
                h.check(out in ("true", "false"), f"isPaused expands to {out!r}")
    # the rule models do use macros: they must reach Grafana unexpanded
    sqls = [v for p, v in walk_strings(alert_file()) if p[-1] == "rawSql"]
    h.check(sqls and all("$__timeFilter" in s for s in sqls), "rule SQL uses $__timeFilter")


@h.test
def test_compose_file():
    cfg = compose_config(os.path.join(DEPLOY, ".env.example"))
    s = cfg["services"]
    h.check({"postgres", "grafana", "httplat", "demo-app", "traffic"} <= set(s), f"{set(s)}")
    agent = s["httplat"]
    h.check(agent["pid"] == "host", "agent needs pid: host")
    h.check(agent.get("privileged") or {"BPF", "PERFMON", "SYS_ADMIN"} <= set(agent["cap_add"]),
            "agent needs BPF capabilities")
    mounts = {v.split(":")[1] if isinstance(v, str) else v["target"] for v in agent["volumes"]}
    for m in ("/sys/kernel/btf", "/sys/fs/bpf", "/sys/kernel/tracing", "/etc/httplat.conf"):
        h.check(m in mounts, f"agent lacks mount {m}")
    h.check(agent["build"]["dockerfile"] == "deploy/Dockerfile", "agent built from Dockerfile")
    for name in ("demo-app", "traffic"):
        h.check(s[name].get("profiles") == ["demo"], f"{name} must be under the demo profile")
    for name, svc in s.items():
        img = svc.get("image", "")
        if "build" not in svc and not img.endswith(":local"):
            tag = img.rpartition(":")[2]
            h.check(":" in img and re.fullmatch(r"\d+(\.\d+)+(-\w+)?", tag),
                    f"{name}: image {img!r} is not pinned to a version")
    h.check(s["grafana"]["image"].startswith("grafana/grafana:"), "Grafana image")
    for v in s["grafana"]["volumes"] + s["postgres"]["volumes"] + agent["volumes"]:
        src = v.split(":")[0] if isinstance(v, str) else v["source"]
        if src.startswith(h.ROOT):
            h.check(os.path.exists(src), f"mounted path {src} does not exist in the repo")
    # Dockerfile stages the Compose targets name, and files it copies
    with open(os.path.join(DEPLOY, "Dockerfile")) as f:
        docker = f.read()
    stages = set(re.findall(r"^FROM \S+ AS (\S+)", docker, re.M))
    for name in ("httplat", "demo-app"):
        h.check(s[name]["build"]["target"] in stages, f"{name}: no stage {s[name]['build']}")
    for src in re.findall(r"^COPY (?!--)(\S+)", docker, re.M):
        h.check(os.path.exists(os.path.join(h.ROOT, src)), f"Dockerfile copies missing {src}")
    # a missing secret is a clear error, not an empty password
    with tempfile.NamedTemporaryFile("w", suffix=".env") as bad:
        with open(os.path.join(DEPLOY, ".env.example")) as f:
            bad.write("".join(line for line in f if not line.startswith("HTTPLAT_READER_")))
        bad.flush()
        try:
            compose_config(bad.name)
            raise h.CheckFailed("compose accepted an .env without HTTPLAT_READER_PASSWORD")
        except h.CheckFailed as e:
            h.check("HTTPLAT_READER_PASSWORD" in str(e), f"unclear error: {e}")


def dockerfile_stages():
    """{stage: [Debian packages its apt-get install names]} from deploy/Dockerfile."""
    with open(os.path.join(DEPLOY, "Dockerfile")) as f:
        text = f.read().replace("\\\n", " ")
    stages, name = {}, None
    for line in text.splitlines():
        m = re.match(r"FROM \S+(?: AS (\S+))?", line)
        if m:
            name = m.group(1)
            stages.setdefault(name, [])
        m = re.search(r"apt-get install -y --no-install-recommends ([^&]+)", line)
        if m:
            stages[name] += m.group(1).split()
    return stages


def dpkg_field(pkg, field):
    r = subprocess.run(["dpkg-query", "-W", "-f", "${" + field + "}", pkg],
                       capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else None


def closure(pkgs):
    """The packages apt installs for pkgs: them and their Depends/Pre-Depends, recursively."""
    seen, todo = set(), list(pkgs)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        deps = (dpkg_field(p, "Depends") or "") + "," + (dpkg_field(p, "Pre-Depends") or "")
        for alt in deps.split(","):
            for choice in alt.split("|"):
                dep = choice.strip().split(" ")[0].split(":")[0]
                if dep and dpkg_field(dep, "Status") and "installed" in dpkg_field(dep, "Status"):
                    todo.append(dep)
                    break
    return seen


@h.test
def test_dockerfile_packages():
    """The image is Debian 12 like this host: every package the Dockerfile installs is one
    this host has installed for the same job, and the agent stage provides every shared
    library ./httplat links (or the base image does: priority required)."""
    stages = dockerfile_stages()
    h.check({"build", "agent", "demo-app"} <= set(stages), f"stages {set(stages)}")
    for stage, pkgs in stages.items():
        for p in pkgs:
            st = dpkg_field(p, "Status") or ""
            h.check("install ok installed" in st, f"{stage}: package {p} unknown here ({st!r})")
    h.check(os.path.exists(h.HTTPLAT), "httplat is not built")
    ldd = subprocess.run(["ldd", h.HTTPLAT], capture_output=True, text=True).stdout
    libs = re.findall(r"=> (/\S+)", ldd)
    have = closure(stages["agent"])
    for lib in libs:
        r = subprocess.run(["dpkg", "-S", os.path.realpath(lib)], capture_output=True, text=True)
        if r.returncode != 0:
            r = subprocess.run(["dpkg", "-S", lib], capture_output=True, text=True)
        h.check(r.returncode == 0, f"no package owns {lib}")
        pkg = r.stdout.split(":")[0]
        h.check(pkg in have or dpkg_field(pkg, "Priority") == "required",
                f"{lib} ({pkg}) is not installed by the agent stage")


@h.test
def test_systemd_unit():
    src = os.path.join(DEPLOY, "systemd", "httplat.service")
    with open(src) as f:
        unit = f.read()
    h.check("ExecStart=/usr/local/sbin/httplat run --config /etc/httplat.conf" in unit,
            "runs httplat run with /etc/httplat.conf")
    h.check(re.search(r"^Restart=on-failure$", unit, re.M), "restarts on failure")
    d = tempfile.mkdtemp(prefix="httplat-unit-")
    try:
        # verify needs the binary to exist: point it at one that does
        path = os.path.join(d, "httplat.service")
        with open(path, "w") as f:
            f.write(unit.replace("/usr/local/sbin/httplat", "/bin/true"))
        r = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True)
        h.check(r.returncode == 0 and not r.stderr.strip(),
                f"systemd-analyze verify: {r.stderr.strip()}")
        # not root, and only the capabilities docs/deploy.md names (test_privileges.py runs
        # httplat with exactly these)
        caps = "CAP_BPF CAP_PERFMON CAP_SYS_PTRACE CAP_DAC_READ_SEARCH"
        h.check(re.search(r"^User=httplat$", unit, re.M), "runs as user httplat")
        for key in ("AmbientCapabilities", "CapabilityBoundingSet"):
            h.check(re.search(rf"^{key}={caps}$", unit, re.M), f"{key} is not {caps}")
        # the exposure docs/deploy.md quotes (systemd-analyze security; lower is better)
        r = subprocess.run(["systemd-analyze", "security", "--offline=yes", path],
                           capture_output=True, text=True)
        m = re.search(r"Overall exposure level for httplat.service: ([0-9.]+)", r.stdout)
        h.check(m and float(m.group(1)) <= 2.5, f"systemd-analyze security: {r.stdout[-300:]}")
        # the uprobes drop-in, applied to the unit, still verifies
        drop = os.path.join(d, "httplat.service.d")
        os.mkdir(drop)
        shutil.copy(os.path.join(DEPLOY, "systemd", "uprobes.conf"), drop)
        r = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True)
        h.check(r.returncode == 0 and not r.stderr.strip(),
                f"systemd-analyze verify with uprobes.conf: {r.stderr.strip()}")
    finally:
        shutil.rmtree(d)


# ------------------------------------------------------------------ SQL against the schema


class Db:
    """A throwaway PostgreSQL with the schema and roles made as in Compose."""

    def __init__(self):
        self.pg = h.Postgres()
        env = dict(os.environ, PGHOST=self.pg.dir, PGPORT=str(self.pg.port),
                   POSTGRES_USER="postgres", POSTGRES_DB="postgres", HTTPLAT_HOME=h.ROOT,
                   HTTPLAT_WRITER_PASSWORD="writer-pw", HTTPLAT_READER_PASSWORD="reader-pw")
        r = subprocess.run(["sh", os.path.join(DEPLOY, "postgres", "10-httplat-roles.sh")],
                           env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"10-httplat-roles.sh failed: {r.stderr}")

    def query(self, sql, user=READER, before=()):
        """(columns, rows) of one statement, as `user`; rows are lists of strings (NULL '').
        before: statements run first as postgres in one transaction, rolled back after (the
        query then runs as `user` inside it)."""
        args = ["-c", sql]
        if before:
            args = ["-c", "BEGIN", *(a for b in before for a in ("-c", b)),
                    "-c", f"SET LOCAL ROLE {user}", "-c", sql, "-c", "ROLLBACK"]
            user = "postgres"
        conn = f"host={self.pg.dir} port={self.pg.port} user={user} dbname=postgres"
        r = subprocess.run(["psql", "-X", "-q", "--csv", "-v", "ON_ERROR_STOP=1", *args,
                            conn], capture_output=True, text=True)
        if r.returncode != 0:
            raise h.CheckFailed(f"query failed as {user}: {r.stderr.strip()}\n{sql}")
        rows = list(csv.reader(io.StringIO(r.stdout)))
        return (rows[0], rows[1:]) if rows else ([], [])


_db = None
_t1 = None


def db():
    global _db
    if _db is None:
        _db = Db()
    return _db


def end_of_data():
    """The test's time range ends at the next whole minute; data lies before it."""
    global _t1
    if _t1 is None:
        now = dt.datetime.now(dt.timezone.utc)
        _t1 = now.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    return _t1


SEED_SQL = """
SELECT httplat.httplat_ensure_partitions((TIMESTAMPTZ '{t0}' AT TIME ZONE 'UTC')::date - 1, 3);
-- data: 40/min, 3 of them ~600 ms (7.5 %: p95 ~600 -> warning), one 404; read at once
-- (wait < 0.2 ms, a new connection's queue 2 ms every 10th), the 404's wait unknown
INSERT INTO httplat.http_requests (ts, host, api, method, route, path, status, duration_ms, ttfb_ms,
                           bytes_in, bytes_out, pid, queue_ms, wait_ms)
SELECT m + i * interval '1.5 s', '{host}', 'data', 'GET',
       CASE WHEN i <= 3 THEN '/data/sleep' ELSE '/data/items/{{id}}' END,
       CASE WHEN i <= 3 THEN '/data/sleep' ELSE '/data/items/' || i END,
       CASE WHEN i = 39 THEN 404 ELSE 200 END,
       CASE WHEN i <= 3 THEN 600 + i ELSE 10 + (i * 7) % 70 END,
       CASE WHEN i <= 3 THEN 599 ELSE 9 END, 120, 300, 101,
       CASE WHEN i % 10 = 0 THEN 2 END,
       CASE WHEN i <> 39 THEN 0.05 + (i % 5) * 0.02 END
FROM generate_series(TIMESTAMPTZ '{t0}', TIMESTAMPTZ '{t1}' - interval '1 minute',
                     interval '1 minute') AS m,
     generate_series(0, 39) AS i;
-- model: 10/min: 6 generations ~1250 ms (p95 -> critical), 2 meshes, one 500, one 503;
-- the first two generations wait ~300 ms to be read (event loop blocked: wait p95 ~300 ms)
INSERT INTO httplat.http_requests (ts, host, api, method, route, path, status, duration_ms, ttfb_ms,
                           bytes_in, bytes_out, pid, queue_ms, wait_ms)
SELECT m + i * interval '6 s', '{host}', 'model',
       CASE WHEN i < 6 THEN 'POST' ELSE 'GET' END,
       (ARRAY['/model/generate','/model/generate','/model/generate','/model/generate',
              '/model/generate','/model/generate','/model/{{id}}/mesh','/model/{{id}}/mesh',
              '/model/crash','/model/unavailable'])[i + 1],
       (ARRAY['/model/generate','/model/generate','/model/generate','/model/generate',
              '/model/generate','/model/generate','/model/7/mesh','/model/8/mesh',
              '/model/crash','/model/unavailable'])[i + 1],
       (ARRAY[201,201,201,201,201,201,200,200,500,503])[i + 1],
       (ARRAY[1210,1220,1230,1240,1250,1260,40,41,5,3])[i + 1],
       1, 2048, 4096, 102, CASE WHEN i = 6 THEN 5 END, CASE WHEN i < 2 THEN 300 + i ELSE 0.1 END
FROM generate_series(TIMESTAMPTZ '{t0}', TIMESTAMPTZ '{t1}' - interval '1 minute',
                     interval '1 minute') AS m,
     generate_series(0, 9) AS i;
-- model: a generation abandoned every 10 minutes (status 0: no latency)
INSERT INTO httplat.http_requests (ts, host, api, method, route, path, status, duration_ms, ttfb_ms,
                           bytes_in, bytes_out, pid, queue_ms, wait_ms)
SELECT m + interval '59 s', '{host}', 'model', 'POST', '/model/generate', '/model/generate',
       0, NULL, NULL, 2048, 0, 102, NULL, 0.2
FROM generate_series(TIMESTAMPTZ '{t0}', TIMESTAMPTZ '{t1}' - interval '1 minute',
                     interval '10 minutes') AS m;
-- user: 20/min, fast, with 201 301 400 401 403 404; HTTPS (tls), waits 1-2 ms
INSERT INTO httplat.http_requests (ts, host, api, method, route, path, status, duration_ms, ttfb_ms,
                           bytes_in, bytes_out, pid, tls, wait_ms)
SELECT m + i * interval '3 s', '{host}', 'user', 'GET', '/user/x' || (i % 10),
       '/user/x' || (i % 10),
       (ARRAY[200,200,200,201,301,400,401,403,404,200])[i % 10 + 1], 2 + i, 1 + i, 80, 90, 103,
       true, 1 + (i % 3) * 0.5
FROM generate_series(TIMESTAMPTZ '{t0}', TIMESTAMPTZ '{t1}' - interval '1 minute',
                     interval '1 minute') AS m,
     generate_series(0, 19) AS i;
SELECT httplat.httplat_reroll('{host}', TIMESTAMPTZ '{t0}', TIMESTAMPTZ '{t1}');
{health}
INSERT INTO httplat.alerts (ts, host, rule, api, route, severity, state, value, threshold, delivered,
                    message)
VALUES (TIMESTAMPTZ '{mid}', '{host}', 'latency', 'model', '', 'critical', 'firing', 1250, 1000,
        1, 'model p95 1250 ms > 1000 ms'),
       (TIMESTAMPTZ '{mid}' + interval '1 minute', '{host}', 'http_500', 'model',
        '/model/crash', 'critical', 'firing', 1, 0, -1, '500 on /model/crash');
"""

SPAN_MIN = 90  # minutes of data before the end of the range
HEALTH_STEP_S = 10


def kernel_seed(k, n):
    """Seeded value of the k-th kernel counter (table order) in the n-th health row since
    the daemon started: every counter grows, each at its own rate."""
    return n * (k + 1) // 40


def health_sql():
    """Health rows every 10 s, the daemon restarting halfway (counters start again from 0),
    one kernel_<column> per HTTPLAT_COUNTERS entry: the columns made as the daemon makes them
    at connect (httplat_health_columns), the INSERT with a column list (kernel_* columns are
    appended to the table and grow with the counters; a counter that left the table, such as
    inflight_full, keeps its column, NULL here as in a new daemon's rows)."""
    counters = h.kernel_counters()
    cols = ["kernel_" + c for _, c, _, _ in counters]
    kernel = [f"n * {k + 1} / 40" for k in range(len(cols))]
    lost = " + ".join(v for v, (_, _, kind, _) in zip(kernel, counters) if kind == "loss")
    return f"""SELECT httplat.httplat_health_columns(ARRAY[{', '.join(f"'{c}'" for c in cols)}]);
INSERT INTO httplat.httplat_health (ts, host, started, daemon_pid, targets, events, requests,
    decode_errors, kernel_dropped, rows_written, rows_queued, rows_spooled, rows_dropped,
    rows_rejected, spool_bytes, db_errors, alerts_sent, alerts_failed, last_error,
    {', '.join(cols)})
SELECT ts, '{{host}}', s, 4242, 1, n * 70, n * 70, 0, {lost}, n * 70, 5, (n % 7) * 10, 0, 0, 0,
       0, n / 30, 0, '', {', '.join(kernel)}
FROM (SELECT ts,
             CASE WHEN ts < TIMESTAMPTZ '{{mid}}' THEN TIMESTAMPTZ '{{t0}}'
                  ELSE TIMESTAMPTZ '{{mid}}' END AS s,
             (extract(epoch from ts - CASE WHEN ts < TIMESTAMPTZ '{{mid}}' THEN TIMESTAMPTZ '{{t0}}'
                                        ELSE TIMESTAMPTZ '{{mid}}' END) / {HEALTH_STEP_S})::bigint AS n
      FROM generate_series(TIMESTAMPTZ '{{t0}}', TIMESTAMPTZ '{{t1}}' - interval '10 s',
                           interval '{HEALTH_STEP_S} s') AS ts) AS g;"""


def seed_times():
    t1 = end_of_data()
    t0 = t1 - dt.timedelta(minutes=SPAN_MIN)
    return t0, t0 + dt.timedelta(minutes=SPAN_MIN // 2), t1


def seed():
    t0, mid, t1 = seed_times()
    fmt = gs._ts
    sql = SEED_SQL.replace("{health}", health_sql())
    db().query(sql.format(t0=fmt(t0), t1=fmt(t1), mid=fmt(mid), host=HOST), user="postgres")


def kernel_increase(k, frm, to):
    """What the health dashboard must show for the k-th counter over [frm, to]: per row in
    the range, the increase since the row before (the row itself after a restart)."""
    t0, mid, t1 = seed_times()
    total, prev, ts = 0, None, t0
    while ts < t1:
        start = t0 if ts < mid else mid
        n = int((ts - start).total_seconds()) // HEALTH_STEP_S
        v = kernel_seed(k, n)
        if frm <= ts <= to:
            total += max(v - prev[1], 0) if prev and prev[0] == start else v
        prev = (start, v)
        ts += dt.timedelta(seconds=HEALTH_STEP_S)
    return total


def numeric(s):
    try:
        return float(s)
    except ValueError:
        return None


class Grafana:
    """Runs a dashboard's SQL the way Grafana would for a given time range and interval."""

    def __init__(self, dash, frm, to, chosen=None):
        """chosen: {variable: [values]} picked instead of All (the variables after it follow)."""
        self.dash, self.frm, self.to = dash, frm, to
        self.multi = {v["name"] for v in dash["templating"]["list"]
                      if v.get("multi") or v.get("includeAll")}
        self.values = {}
        chosen = chosen or {}
        # variables in order, each may use the ones before it; "All" selects every option
        # (a query's __value column when it has one, else its first)
        for v in dash["templating"]["list"]:
            if v["name"] in chosen:
                self.values[v["name"]] = chosen[v["name"]]
                continue
            if v["type"] == "custom":
                self.values[v["name"]] = [value for _, value in custom_options(v["query"])]
                continue
            cols, rows = self.run(v["query"], 60)
            i = cols.index("__value") if "__value" in cols else 0
            self.values[v["name"]] = [r[i] for r in rows]

    def run(self, sql, interval_s, overrides=None):
        vals = dict(self.values, **(overrides or {}))
        text = gs.expand(sql, self.frm, self.to, interval_s, vals, self.multi)
        return db().query(text)


def check_series(where, cols, rows, frm, to, interval_s):
    h.check(cols and cols[0] == "time", f"{where}: first column {cols[:1]} is not time")
    times = [float(r[0]) for r in rows]
    h.check(times == sorted(times), f"{where}: rows not sorted by time")
    lo = frm.timestamp() - interval_s
    h.check(all(lo <= t <= to.timestamp() for t in times),
            f"{where}: times outside the range: {times[:3]}...")
    value_cols = [i for i, c in enumerate(cols) if c not in ("time", "metric")]
    h.check(value_cols, f"{where}: no value column")
    for r in rows:
        for i in value_cols:
            h.check(r[i] == "" or numeric(r[i]) is not None, f"{where}: {cols[i]}={r[i]!r}")


def check_plausible(title, cols, rows, api, interval_s):
    """Values the seeded rows imply, per panel (api is the repeated value or None = all).

    Per-API figures are checked on buckets of a minute or more: each seeded minute holds
    the same mix, a 10 s bucket only part of it."""
    col = {c: i for i, c in enumerate(cols)}
    whole = interval_s >= 60
    if title.startswith(("Response time", "Generation time p50")):
        for r in rows:
            q = [float(r[col[c]]) for c in ("p50", "p95", "p99")]
            h.check(q == sorted(q), f"{title}: quantiles out of order {q}")
            h.check(0 < q[0] and q[2] < 1400, f"{title}: implausible {q}")
        if api == "model" and whole:
            p95 = [float(r[col["p95"]]) for r in rows]
            h.check(all(1150 < p < 1320 for p in p95), f"model p95 {p95[:5]} not ~1250 ms")
        if api == "user":
            h.check(all(float(r[col["p99"]]) < 25 for r in rows), "user p99 not < 25 ms")
    if title == WAIT_TITLE:
        for r in rows:
            q = [float(r[col[c]]) for c in ("p50", "p95", "p99")]
            h.check(q == sorted(q) and 0 <= q[0] and q[2] < 320, f"{title}: implausible {q}")
        if api == "model" and whole:
            p95 = [float(r[col["p95"]]) for r in rows]
            h.check(all(280 < p < 320 for p in p95), f"model wait p95 {p95[:5]} not ~300 ms")
        if api in ("data", "user"):
            h.check(all(float(r[col["p99"]]) < 3 for r in rows), f"{api} wait p99 not < 3 ms")
    if title == "Error ratio":
        vals = [float(r[1]) for r in rows]
        h.check(all(0 <= v <= 1 for v in vals), f"error ratio {vals[:5]}")
        if api == "user":
            h.check(max(vals) == 0, "user API has no 5xx")
        if api == "model" and whole:
            h.check(all(0.15 <= v <= 0.35 for v in vals), f"model error ratio {vals[:5]}")
    if title == "Status codes":
        labels = {r[col["metric"]] for r in rows}
        expect = {"data": {"200", "404"}, "model": {"200", "201", "500", "503", "no response"},
                  "user": {"200", "201", "301", "400", "401", "403", "404"}}
        if api:
            h.check(labels == expect[api], f"{api} status labels {labels}")
    if title in ("Latency heatmap", "Generation time heatmap"):
        h.check(all(numeric(r[col["metric"]]) for r in rows), "heatmap bands must be numbers")


EXPECTED_500 = {"data": 0, "model": 60, "user": 0, None: 60}  # one per minute of model


@h.test
def test_every_dashboard_query_on_seeded_rows():
    seed()
    t1 = end_of_data()
    frm, to = t1 - dt.timedelta(hours=1), t1
    n = 0
    for name, dash in dashboards().items():
        g = Grafana(dash, frm, to)
        if name != "health.json":
            h.check(set(g.values["api"] if "api" in g.values else ["model"]) <= set(APIS),
                    f"{name}: api options {g.values.get('api')}")
            h.check(g.values["host"] == [HOST], f"{name}: host options {g.values['host']}")
        for where, sql, fmt, panel, repeat in queries(dash):
            for interval_s in (10, 300):  # raw rows below one minute, the rollup from there
                iv = interval_s
                if panel and panel.get("interval"):
                    iv = max(iv, gs.parse_interval(panel["interval"]))
                repeats = [(a, {"api": [a]}) for a in g.values["api"]] if repeat else [(None, {})]
                for api, over in repeats:
                    cols, rows = g.run(sql, iv, over)
                    n += 1
                    label = f"{name} {where} (interval {iv}s, api {api})"
                    h.check(rows, f"{label}: no rows")
                    if fmt == "time_series":
                        check_series(label, cols, rows, frm, to, iv)
                    if panel:
                        check_plausible(panel["title"], cols, rows, api or
                                        ("model" if name == "model.json" else None), iv)
                        if panel["title"] == "HTTP 500s":
                            want = EXPECTED_500[api or ("model" if name == "model.json" else None)]
                            h.check(float(rows[0][0]) == want,
                                    f"{label}: {rows[0][0]} 500s, expected {want}")
    print(f"   {n} dashboard queries ran", flush=True)


@h.test
def test_health_counters_on_seeded_rows():
    """Each kernel counter's increase over the range (one daemon restart in it) is what the
    seeded rows imply, in the counters table and the losses panel; the lost stat is the sum
    of the loss counters."""
    t1 = end_of_data()
    frm, to = t1 - dt.timedelta(hours=1), t1
    counters = h.kernel_counters()
    want = {"kernel_" + c: kernel_increase(k, frm, to) for k, (_, c, _, _) in enumerate(counters)}
    lost = sum(want["kernel_" + c] for _, c, kind, _ in counters if kind == "loss")
    h.check(all(want.values()) and lost, f"seeded increases {want}")
    dash = dashboards()["health.json"]
    ps = health_panels()
    g = Grafana(dash, frm, to)
    cols, rows = g.run(ps["Kernel counters"]["targets"][0]["rawSql"], 60)
    h.check(cols == ["host", "counter", "kind", "in range", "meaning"], f"columns {cols}")
    got = [(r[0], r[1], int(r[3])) for r in rows]
    h.check(got == [(HOST, c, v) for c, v in want.items()], f"counters table {got}, want {want}")
    _, rows = g.run(ps["Requests lost in the kernel"]["targets"][0]["rawSql"], 60)
    h.check(int(rows[0][0]) == lost, f"lost stat {rows[0][0]}, want {lost}")
    for iv in (10, 300):
        cols, rows = g.run(ps["Kernel losses"]["targets"][0]["rawSql"], iv)
        for i, c in enumerate(cols[2:], 2):
            total = sum(int(r[i]) for r in rows if r[i])
            h.check(total == want[c], f"Kernel losses {c} at {iv} s: {total}, want {want[c]}")


@h.test
def test_health_panels_without_kernel_columns():
    """A database whose httplat_health lacks kernel_<counter> columns (no daemon built with
    those counters has connected yet: a fresh deployment, hosts not upgraded): every health
    query still runs as the reader; the lost stat says 0 and the counters are empty."""
    before = [f"ALTER TABLE httplat.httplat_health DROP COLUMN kernel_{c}"
              for _, c, _, _ in h.kernel_counters()]
    t1 = end_of_data()
    frm, to = t1 - dt.timedelta(hours=1), t1
    dash = dashboards()["health.json"]
    g = Grafana(dash, frm, to)
    n = 0
    for where, sql, fmt, panel, _ in queries(dash):
        for iv in (10, 300):
            text = gs.expand(sql, frm, to, iv, g.values, g.multi)
            cols, rows = db().query(text, before=before)
            n += 1
            h.check(rows, f"{where} at {iv} s without kernel columns: no rows")
            if panel and panel["title"] == "Requests lost in the kernel":
                h.check(rows[0][0] == "0", f"lost stat {rows[0][0]} without kernel columns")
            if panel and panel["title"] == "Kernel counters":
                h.check(all(r[3] == "" for r in rows), f"counters without columns: {rows[:3]}")
    # and the columns are back (the transaction was rolled back)
    cols, _ = db().query("SELECT * FROM httplat.httplat_health LIMIT 0")
    dropped = {b.split()[-1] for b in before}
    h.check(dropped <= set(cols), f"columns after rollback: {cols}")
    print(f"   {n} health queries without kernel_* columns", flush=True)


@h.test
def test_raw_and_rollup_branches_agree():
    """Time series switch from raw rows to the rollup at one minute: totals must agree."""
    t1 = end_of_data()
    frm, to = t1 - dt.timedelta(hours=1), t1
    dash = dashboards()["overview.json"]
    g = Grafana(dash, frm, to)
    rate = next(p for p, _ in panels(dash) if p["title"] == "Request rate")["targets"][0]
    lat = next(p for p, _ in panels(dash) if p["title"].startswith("Response"))["targets"][0]
    wait = next(p for p, _ in panels(dash) if p["title"] == WAIT_TITLE)["targets"][0]
    for api in APIS:
        want = int(db().query(f"SELECT count(*) FROM httplat.http_requests WHERE api = '{api}' AND ts "
                              f"BETWEEN '{gs._ts(frm)}' AND '{gs._ts(to)}'")[1][0][0])
        got = {}
        for iv in (10, 60, 300):
            _, rows = g.run(rate["rawSql"], iv, {"api": [api]})
            got[iv] = round(sum(float(r[1]) * iv for r in rows))
        h.check(set(got.values()) == {want}, f"{api}: request counts {got} != {want}")
        # rollup quantiles (hist.h buckets) against exact ones over the same hour buckets
        check_rollup_p95(g, lat, api, "duration_ms", "status <> 0", frm, to, 1.0)
        # the same for the wait (wait_hist against queue_ms + wait_ms of the raw rows)
        check_rollup_p95(g, wait, api, "httplat.httplat_wait_ms(queue_ms, wait_ms)",
                         "(queue_ms IS NOT NULL OR wait_ms IS NOT NULL)", frm, to, 0.1)


def check_rollup_p95(g, target, api, value, cond, frm, to, slack_ms):
    """The panel's p95 per hour (rollup branch) within 6 % (+ slack) of the exact one."""
    _, rows = g.run(target["rawSql"], 3600, {"api": [api]})
    exact = dict(db().query(
        "SELECT floor(extract(epoch from ts)/3600)*3600, percentile_cont(0.95) WITHIN "
        f"GROUP (ORDER BY {value}) FROM httplat.http_requests WHERE api = '{api}' AND "
        f"{cond} AND ts BETWEEN '{gs._ts(frm)}' AND '{gs._ts(to)}' GROUP BY 1")[1])
    h.check(len(rows) == len(exact), f"{api} {value}: {len(rows)} rollup buckets, "
            f"{len(exact)} raw")
    for r in rows:
        want = float(exact[str(int(float(r[0])))])
        h.check(abs(float(r[2]) - want) <= 0.06 * want + slack_ms,
                f"{api}: rollup p95 of {value} {r[2]} vs exact {want}")


@h.test
def test_tls_filter():
    """The TLS variable narrows raw rows and the rollup alike (tls is in the rollup's key):
    seeded, the user API is HTTPS and the others plaintext."""
    t1 = end_of_data()
    frm, to = t1 - dt.timedelta(hours=1), t1
    for name in ("overview.json", "model.json"):
        dash = dashboards()[name]
        tls = next(v for v in dash["templating"]["list"] if v["name"] == "tls")
        h.check(custom_options(tls["query"]) == [("plaintext", "false"), ("TLS", "true")],
                f"{name}: tls choices {tls['query']}")
        h.check(tls["includeAll"] and tls["current"]["value"] == "$__all" and not tls["multi"],
                f"{name}: tls defaults to All")
    dash = dashboards()["overview.json"]
    rate = next(p for p, _ in panels(dash) if p["title"] == "Request rate")["targets"][0]
    want = dict(db().query(
        "SELECT tls, count(*) FROM httplat.http_requests WHERE ts BETWEEN "
        f"'{gs._ts(frm)}' AND '{gs._ts(to)}' GROUP BY 1")[1])
    h.check(set(want) == {"t", "f"}, f"seeded tls values {want}")
    for value, apis in (("true", ["user"]), ("false", ["data", "model"])):
        g = Grafana(dash, frm, to, {"tls": [value]})
        h.check(sorted(g.values["api"]) == apis, f"tls {value}: api options {g.values['api']}")
        for iv in (10, 300):
            _, rows = g.run(rate["rawSql"], iv, {"api": list(APIS)})
            got = round(sum(float(r[1]) * iv for r in rows))
            h.check(got == int(want[value[0]]), f"tls {value}, {iv} s: {got} requests, "
                    f"{want[value[0]]} stored")


@h.test
def test_grafana_reader_is_read_only():
    _, rows = db().query("SELECT count(*) FROM httplat.http_requests")
    h.check(int(rows[0][0]) > 0, "reader cannot see rows")
    for sql in ("DELETE FROM httplat.http_requests", "INSERT INTO httplat.alerts (ts, host, "
                "rule, api, severity, state, delivered) VALUES (now(), 'h', 'r', 'a', 's', 's', 0)",
                "CREATE TABLE x (i int)", "CREATE TABLE httplat.x (i int)"):
        try:
            db().query(sql)
            raise h.CheckFailed(f"reader may run: {sql}")
        except h.CheckFailed as e:
            h.check("failed as" in str(e), str(e))


# ----------------------------------------------------------------- alert rules, evaluated


def evaluate(rule, frm, to):
    """Grafana's evaluation of one rule: instances (label dicts) whose condition is non-zero."""
    results = {}
    for d in rule["data"]:
        m = d["model"]
        if d["datasourceUid"] == "__expr__":
            continue
        start = to - dt.timedelta(seconds=d["relativeTimeRange"]["from"])
        end = to - dt.timedelta(seconds=d["relativeTimeRange"]["to"])
        sql = gs.expand(m["rawSql"], start, end, m.get("intervalMs", 1000) / 1000)
        cols, rows = db().query(sql)
        if not rows:  # no data: the rule's noDataState applies, no instance fires
            results[d["refId"]] = {}
            continue
        num = [i for i, c in enumerate(cols) if numeric(rows[0][i]) is not None]
        h.check(len(num) == 1, f"{rule['uid']}: one numeric column expected, got {cols}")
        results[d["refId"]] = {
            tuple((c, r[i]) for i, c in enumerate(cols) if i != num[0]): float(r[num[0]])
            for r in rows}

    def expr(ref):
        if ref in results:
            return results[ref]
        m = next(d["model"] for d in rule["data"] if d["refId"] == ref)
        if m["type"] == "threshold":
            ev = m["conditions"][0]["evaluator"]
            p = ev["params"]
            test = {"gt": lambda v: v > p[0], "lt": lambda v: v < p[0],
                    "within_range": lambda v: p[0] < v < p[1],
                    "outside_range": lambda v: v < p[0] or v > p[1]}[ev["type"]]
            return {k: float(test(v)) for k, v in expr(m["expression"]).items()}
        if m["type"] == "math":
            refs = re.findall(r"\$(\w+)", m["expression"])
            py = m["expression"].replace("&&", " and ").replace("||", " or ")
            py = re.sub(r"\$(\w+)", r"V['\1']", py)
            keys = set.intersection(*(set(expr(r)) for r in refs)) if refs else set()
            return {k: float(bool(eval(py, {}, {"V": {r: expr(r)[k] for r in refs}})))
                    for k in keys}
        raise h.CheckFailed(f"expression type {m['type']} not modelled")
    return sorted(dict(k) for k, v in expr(rule["condition"]).items() if v != 0)


@h.test
def test_alert_rules_fire_for_the_right_apis():
    now = dt.datetime.now(dt.timezone.utc)
    rules = {r["uid"]: r for g in alert_file()["groups"] for r in g["rules"]}
    fired = {uid: evaluate(r, now - dt.timedelta(minutes=5), now) for uid, r in rules.items()}
    h.check(fired["httplat-p95-warning"] == [{"api": "data"}],
            f"warning fired for {fired['httplat-p95-warning']}, expected data only")
    h.check(fired["httplat-p95-critical"] == [{"api": "model"}],
            f"critical fired for {fired['httplat-p95-critical']}, expected model only")
    h.check(fired["httplat-http-500"] == [{"api": "model", "route": "/model/crash"}],
            f"500 rule fired for {fired['httplat-http-500']}")


@h.test
def test_alert_rules_quiet_without_traffic():
    """An empty window gives no rows: noDataState OK keeps the rules quiet."""
    quiet = dt.datetime(2001, 1, 1, tzinfo=dt.timezone.utc)
    for g in alert_file()["groups"]:
        for r in g["rules"]:
            h.check(r["noDataState"] == "OK", f"{r['uid']}: noDataState")
            h.check(evaluate(r, quiet, quiet + dt.timedelta(minutes=5)) == [],
                    f"{r['uid']} fires on an empty window")


# --------------------------------------------------------------- after a real traced load


@h.test
def test_every_query_after_traced_load():
    """As in Compose: a database set up by deploy/postgres/10-httplat-roles.sh, `httplat run
    --config deploy/httplat.conf` as httplat_writer (HTTPLAT_DB) tracing the demo app under
    scripts/traffic.py. Then every dashboard and alert query, as httplat_reader, must succeed
    on what the daemon wrote and return rows (the daemon's own alerts fill the alerts table)."""
    h.check(os.path.exists(h.HTTPLAT), "httplat is not built")
    traced = Db()
    pg = traced.pg
    app = h.Uvicorn()
    t0 = dt.datetime.now(dt.timezone.utc)
    writer = f"host={pg.dir} port={pg.port} user=httplat_writer dbname=postgres"
    run = h.Httplat("run", "--config", os.path.join(DEPLOY, "httplat.conf"), "--pid",
                    str(app.proc.pid), "--spool-dir", tempfile.mkdtemp(prefix="httplat-spool-"),
                    "--host", "traced-host", env={"HTTPLAT_DB": writer,
                                                  "HTTPLAT_SLACK_WEBHOOK": ""})
    traffic = subprocess.run([h.PY, os.path.join(h.ROOT, "scripts", "traffic.py"), "--url",
                              f"http://127.0.0.1:{app.port}", "--rate", "30", "--seconds",
                              "25", "--json"], capture_output=True, text=True, timeout=120)
    sent = json.loads(traffic.stdout)
    h.check(run.stop() == 0, f"httplat run exit status: {run.stderr()[-2000:]}")
    h.check("rejected 0" in run.stderr() and "dropped 0" in run.stderr(),
            f"the writer role lost rows: {run.stderr()[-2000:]}")
    app.stop()
    t1 = dt.datetime.now(dt.timezone.utc)
    global _db
    saved, _db = _db, traced
    try:
        n = int(db().query("SELECT count(*) FROM httplat.http_requests")[1][0][0])
        h.check(n == sent["requests"], f"{n} rows stored, {sent['requests']} answered")
        frm, to = t0 - dt.timedelta(minutes=1), t1 + dt.timedelta(minutes=1)
        count = 0
        for name, dash in dashboards().items():
            g = Grafana(dash, frm, to)
            for where, sql, fmt, panel, repeat in queries(dash):
                for iv in (5, 60):
                    cols, rows = g.run(sql, iv)
                    count += 1
                    label = f"{name} {where} (interval {iv}s)"
                    h.check(rows, f"{label}: no rows")
                    if rows and fmt == "time_series":
                        check_series(label, cols, rows, frm, to, iv)
        rules = [r for grp in alert_file()["groups"] for r in grp["rules"]]
        fired = {r["uid"]: evaluate(r, t1 - dt.timedelta(minutes=5), t1) for r in rules}
        h.check(fired["httplat-p95-critical"] == [{"api": "model"}],
                f"critical rule on traced data: {fired['httplat-p95-critical']}")
        h.check({"api": "model", "route": "/model/crash"} in fired["httplat-http-500"],
                f"500 rule on traced data: {fired['httplat-http-500']}")
        print(f"   {count} queries on {n} traced rows", flush=True)
    finally:
        _db = saved


if __name__ == "__main__":
    if yaml is None:
        print("FAIL test_deploy: python3-yaml missing (scripts/install-deps.sh installs it)")
        sys.exit(1)
    sys.exit(h.run_tests())
