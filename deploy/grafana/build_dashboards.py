#!/usr/bin/python3
"""build_dashboards.py: writes the Grafana dashboards in deploy/grafana/dashboards/ (stdlib only).

The JSON files are the product (Grafana reads them); this script keeps their panels, data
source references and SQL consistent. Edit here, run it, commit both:
    /usr/bin/python3 deploy/grafana/build_dashboards.py
tests/e2e/test_deploy.py fails when the committed JSON differs from what this writes.

SQL conventions (see docs/deploy.md): time series read raw rows (http_requests) while
Grafana's interval is under a minute and the per-minute rollup (http_requests_1m) from one
minute up, so long ranges stay cheap and outlive raw retention; stats, tables and heatmaps
read the rollup. Status 0 (no response) is never a latency sample.
"""
import json
import os
import sys

DS = {"type": "grafana-postgresql-datasource", "uid": "httplat-pg"}
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "dashboards")
WARN_MS, CRIT_MS = 500, 1000
STATUSES = (200, 201, 301, 400, 401, 403, 404, 500, 502, 503)
TAGS = ["httplat"]

# Template variables are multi-value: Grafana expands $api to 'a','b', hence IN (...).
MODEL_WHERE = "host IN ($host) AND api = 'model' AND route IN ($route)"

LAT_THRESHOLDS = {"mode": "absolute", "steps": [
    {"color": "green", "value": None},
    {"color": "orange", "value": WARN_MS},
    {"color": "red", "value": CRIT_MS}]}


def split_source(raw_select, rollup_select, raw_where, rollup_where, tail="GROUP BY 1"):
    """One query, two sources: raw rows below a one-minute interval, the rollup from there."""
    return (f"SELECT {raw_select}\nFROM httplat.http_requests\n"
            f"WHERE $__timeFilter(ts) AND {raw_where} AND $__interval_ms < 60000\n{tail}\n"
            f"UNION ALL\n"
            f"SELECT {rollup_select}\nFROM httplat.http_requests_1m\n"
            f"WHERE $__timeFilter(minute) AND {rollup_where} AND $__interval_ms >= 60000\n{tail}\n"
            f"ORDER BY 1")


def latency_sql(where, quantiles=(("p50", 0.5), ("p95", 0.95), ("p99", 0.99))):
    raw = ", ".join(f"percentile_cont({q}) WITHIN GROUP (ORDER BY duration_ms) AS {n}"
                    for n, q in quantiles)
    roll = ", ".join(f"httplat.httplat_quantile(httplat.httplat_hist_sum(hist), {q}, max(max_ms)) AS {n}"
                     for n, q in quantiles)
    return split_source(f"$__timeGroupAlias(ts, $__interval), {raw}",
                        f"$__timeGroupAlias(minute, $__interval), {roll}",
                        where + " AND status <> 0", where + " AND status <> 0")


def rate_sql(where):
    return split_source(
        "$__timeGroupAlias(ts, $__interval), count(*) / ($__interval_ms / 1000.0) AS \"req/s\"",
        "$__timeGroupAlias(minute, $__interval), sum(count) / ($__interval_ms / 1000.0) "
        "AS \"req/s\"",
        where, where)


def status_label(codes):
    listed = ", ".join(str(c) for c in codes)
    return (f"CASE WHEN status IN ({listed}) THEN status::text "
            f"WHEN status = 0 THEN 'no response' ELSE 'other' END")


def status_sql(where):
    lab = status_label(STATUSES)
    return split_source(
        f"$__timeGroupAlias(ts, $__interval), {lab} AS metric, count(*) AS requests",
        f"$__timeGroupAlias(minute, $__interval), {lab} AS metric, sum(count) AS requests",
        where, where, tail="GROUP BY 1, 2")


def status_class_sql(where):
    lab = ("CASE WHEN status = 0 THEN 'no response' WHEN status >= 500 THEN '5xx' "
           "WHEN status >= 400 THEN '4xx' WHEN status >= 300 THEN '3xx' ELSE '2xx' END")
    return split_source(
        f"$__timeGroupAlias(ts, $__interval), {lab} AS metric, count(*) AS requests",
        f"$__timeGroupAlias(minute, $__interval), {lab} AS metric, sum(count) AS requests",
        where, where, tail="GROUP BY 1, 2")


# Errors = server errors (5xx) and requests that got no response at all.
FAILED = "(status >= 500 OR status = 0)"


def count_if(cond):
    """Rollup requests matching cond; 0, not NULL, when none do."""
    return f"coalesce(sum(count) FILTER (WHERE {cond}), 0)"


def error_ratio_sql(where):
    return split_source(
        f"$__timeGroupAlias(ts, $__interval), avg(CASE WHEN {FAILED} THEN 1.0 ELSE 0.0 END) "
        "AS \"error ratio\"",
        f"$__timeGroupAlias(minute, $__interval), {count_if(FAILED)}::float8 / sum(count) "
        "AS \"error ratio\"",
        where, where)


def count_1m_sql(where, cond, name):
    return (f"SELECT coalesce(sum(count), 0) AS \"{name}\"\nFROM httplat.http_requests_1m\n"
            f"WHERE $__timeFilter(minute) AND {where} AND {cond}")


ROUTE_UNITS = {"p50": "ms", "p95": "ms", "p99": "ms", "max": "ms", "error ratio": "percentunit"}


def routes_sql(where, order):
    """Per-route table over the whole range, from the rollup."""
    return (
        "SELECT api, route, sum(count) AS requests,\n"
        "  httplat.httplat_quantile(httplat.httplat_hist_sum(hist), 0.5, max(max_ms)) AS p50,\n"
        "  httplat.httplat_quantile(httplat.httplat_hist_sum(hist), 0.95, max(max_ms)) AS p95,\n"
        "  httplat.httplat_quantile(httplat.httplat_hist_sum(hist), 0.99, max(max_ms)) AS p99,\n"
        "  max(max_ms) AS max,\n"
        f"  {count_if('status BETWEEN 400 AND 499')} AS \"4xx\",\n"
        f"  {count_if('status = 500')} AS \"500\",\n"
        f"  {count_if(FAILED)} AS failed,\n"
        f"  {count_if(FAILED)}::float8 / sum(count) AS \"error ratio\"\n"
        "FROM httplat.http_requests_1m\n"
        f"WHERE $__timeFilter(minute) AND {where}\n"
        f"GROUP BY api, route\n{order}\nLIMIT 20")


# Heatmap/histogram rows: one per power-of-two band of hist.h's buckets (8 per band).
# hist[k] (1-based) is bucket k-1, whose lower bound is 0.1 * 2^((k-2)/8) ms (k >= 2).
BAND_UPPER = ("round((0.1 * power(2, CASE WHEN h.k = 1 THEN 0 "
              "ELSE floor((h.k - 2) / 8.0) + 1 END))::numeric, 1)")


def heatmap_sql(where):
    return ("SELECT $__timeGroupAlias(minute, $__interval),\n"
            f"  {BAND_UPPER}::text AS metric, sum(h.n) AS requests\n"
            "FROM httplat.http_requests_1m, unnest(hist) WITH ORDINALITY AS h(n, k)\n"
            f"WHERE $__timeFilter(minute) AND {where} AND status <> 0 AND h.n > 0\n"
            "GROUP BY 1, 2\nORDER BY 1")


def distribution_sql(where):
    return ("SELECT '< ' || b.upper || ' ms' AS \"duration\", b.requests\nFROM (\n"
            f"  SELECT {BAND_UPPER} AS upper, sum(h.n) AS requests\n"
            "  FROM httplat.http_requests_1m, unnest(hist) WITH ORDINALITY AS h(n, k)\n"
            f"  WHERE $__timeFilter(minute) AND {where} AND status <> 0 AND h.n > 0\n"
            "  GROUP BY 1) AS b\nORDER BY b.upper")


def var(name, label, sql, hide=0):
    return {"name": name, "label": label, "type": "query", "datasource": DS,
            "query": sql, "definition": sql, "refresh": 2, "multi": True,
            "includeAll": True, "current": {"selected": True, "text": ["All"],
                                            "value": ["$__all"]},
            "sort": 1, "hide": hide, "options": [], "regex": ""}


HOST_VAR = var("host", "Host", "SELECT DISTINCT host FROM httplat.http_requests_1m "
               "WHERE $__timeFilter(minute) ORDER BY 1")
API_VAR = var("api", "API", "SELECT DISTINCT api FROM httplat.http_requests_1m "
              "WHERE $__timeFilter(minute) AND host IN ($host) ORDER BY 1")
ROUTE_VAR = var("route", "Route", "SELECT DISTINCT route FROM httplat.http_requests_1m "
                "WHERE $__timeFilter(minute) AND host IN ($host) AND api IN ($api) ORDER BY 1")
MODEL_ROUTE_VAR = var("route", "Route", "SELECT DISTINCT route FROM httplat.http_requests_1m "
                      "WHERE $__timeFilter(minute) AND host IN ($host) AND api = 'model' "
                      "ORDER BY 1")
HEALTH_HOST_VAR = var("host", "Host", "SELECT DISTINCT host FROM httplat.httplat_health "
                      "WHERE $__timeFilter(ts) ORDER BY 1")


class Layout:
    """Assigns ids and grid positions left to right, top to bottom (24 columns)."""

    def __init__(self):
        self.panels, self.x, self.y, self.row_h, self.next_id = [], 0, 0, 0, 1

    def add(self, panel, w, h):
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        panel["id"] = self.next_id
        self.next_id += 1
        panel["gridPos"] = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.x += w
        self.row_h = max(self.row_h, h)
        self.panels.append(panel)
        return panel

    def row(self, title, repeat=None):
        self.x, self.y = 0, self.y + self.row_h
        p = {"type": "row", "title": title, "collapsed": False, "panels": []}
        if repeat:
            p["repeat"] = repeat
        self.add(p, 24, 1)
        self.x, self.y, self.row_h = 0, self.y + 1, 0


def target(sql, fmt="time_series", ref="A"):
    return {"refId": ref, "datasource": DS, "rawSql": sql, "format": fmt,
            "editorMode": "code", "rawQuery": True}


def timeseries(title, sql, unit, desc, thresholds=None, stack=False, bars=False, minv=None):
    custom = {"drawStyle": "bars" if bars else "line", "lineWidth": 1,
              "fillOpacity": 60 if bars else 10,
              "showPoints": "never", "spanNulls": False,
              "stacking": {"mode": "normal" if stack else "none", "group": "A"}}
    defaults = {"unit": unit, "custom": custom}
    if thresholds:
        defaults["thresholds"] = thresholds
        custom["thresholdsStyle"] = {"mode": "line"}
    else:
        defaults["thresholds"] = {"mode": "absolute", "steps": [{"color": "green", "value": None}]}
    if minv is not None:
        defaults["min"] = minv
    return {"type": "timeseries", "title": title, "description": desc, "datasource": DS,
            "targets": [target(sql)], "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": {"legend": {"displayMode": "table", "placement": "right",
                                   "calcs": ["mean", "max", "lastNotNull"]},
                        "tooltip": {"mode": "multi", "sort": "desc"}}}


def stat(title, sql, unit, desc, steps, decimals=None):
    defaults = {"unit": unit, "thresholds": {"mode": "absolute", "steps": steps},
                "color": {"mode": "thresholds"}}
    if decimals is not None:
        defaults["decimals"] = decimals
    return {"type": "stat", "title": title, "description": desc, "datasource": DS,
            "targets": [target(sql, "table")],
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "background", "graphMode": "none", "textMode": "value"}}


RED_ABOVE_0 = [{"color": "green", "value": None}, {"color": "red", "value": 1}]


def table(title, sql, desc, units):
    overrides = [{"matcher": {"id": "byName", "options": col},
                  "properties": [{"id": "unit", "value": unit}] +
                  ([{"id": "thresholds", "value": LAT_THRESHOLDS},
                    {"id": "custom.cellOptions", "value": {"type": "color-background"}}]
                   if unit == "ms" else [])}
                 for col, unit in units.items()]
    return {"type": "table", "title": title, "description": desc, "datasource": DS,
            "targets": [target(sql, "table")],
            "fieldConfig": {"defaults": {"custom": {"align": "auto"}}, "overrides": overrides},
            "options": {"showHeader": True, "cellHeight": "sm"}}


def heatmap(title, sql, desc):
    return {"type": "heatmap", "title": title, "description": desc, "datasource": DS,
            "interval": "1m", "targets": [target(sql)],
            "options": {"calculate": False, "cellGap": 1,
                        "yAxis": {"axisPlacement": "left", "unit": "ms"},
                        "rowsFrame": {"layout": "le"},
                        "color": {"mode": "scheme", "scheme": "Oranges", "scale": "exponential",
                                  "exponent": 0.5, "fill": "dark-orange", "steps": 64},
                        "tooltip": {"mode": "single", "yHistogram": True},
                        "legend": {"show": True}},
            "fieldConfig": {"defaults": {}, "overrides": []}}


def barchart(title, sql, desc):
    return {"type": "barchart", "title": title, "description": desc, "datasource": DS,
            "targets": [target(sql, "table")],
            "fieldConfig": {"defaults": {"unit": "short", "custom": {"fillOpacity": 80}},
                            "overrides": []},
            "options": {"xField": "duration", "orientation": "vertical", "showValue": "auto",
                        "legend": {"showLegend": False}}}


LAT_DESC = (f"Response time (first request byte read to last response byte written, from the "
            f"kernel). Lines at {WARN_MS} ms (warning) and {CRIT_MS} ms (critical), the same "
            f"thresholds as the alert rules. Requests without a response are excluded.")


BUILTIN_ANNOTATION = {"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                      "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
                      "name": "Annotations & Alerts", "type": "dashboard"}


def dashboard(uid, title, desc, layout, variables, annotations=()):
    return {"uid": uid, "title": title, "description": desc, "tags": TAGS,
            "editable": True, "schemaVersion": 39, "version": 1, "graphTooltip": 1,
            "refresh": "30s", "time": {"from": "now-1h", "to": "now"},
            "timepicker": {}, "timezone": "browser", "fiscalYearStartMonth": 0,
            "liveNow": False, "weekStart": "",
            "links": [{"type": "dashboards", "tags": TAGS, "asDropdown": True,
                       "title": "httplat", "includeVars": True, "keepTime": True}],
            "templating": {"list": list(variables)},
            "annotations": {"list": [BUILTIN_ANNOTATION] + list(annotations)},
            "panels": layout.panels}


def alert_annotation(where):
    sql = ("SELECT ts AS time, severity || ' ' || state || ': ' || message AS text,\n"
           "  rule || ',' || api AS tags\nFROM httplat.alerts\n"
           f"WHERE $__timeFilter(ts) AND {where}\nORDER BY ts")
    return {"name": "httplat alerts", "datasource": DS, "enable": True, "iconColor": "red",
            "rawQuery": sql, "target": target(sql, "table", "Anno")}


def overview():
    lay = Layout()
    lay.row("API $api", repeat="api")
    w = "host IN ($host) AND api IN ($api) AND route IN ($route)"
    lay.add(timeseries("Response time p50 / p95 / p99", latency_sql(w), "ms", LAT_DESC,
                       LAT_THRESHOLDS, minv=0), 12, 9)
    lay.add(timeseries("Request rate", rate_sql(w), "reqps",
                       "Requests per second, all statuses (including no response)."), 6, 9)
    lay.add(stat("HTTP 500s", count_1m_sql(w, "status = 500", "500s"), "short",
                 "Requests answered 500 in the time range. Red above 0.", RED_ABOVE_0), 6, 9)
    lay.add(timeseries("Status codes", status_sql(w), "short",
                       "Requests per status code per interval: "
                       + " ".join(str(s) for s in STATUSES)
                       + "; other codes and 'no response' (status 0) grouped.",
                       stack=True, bars=True), 12, 9)
    lay.add(timeseries("Error ratio", error_ratio_sql(w), "percentunit",
                       "Share of requests answered 5xx or not answered at all.",
                       {"mode": "absolute", "steps": [{"color": "green", "value": None},
                                                      {"color": "red", "value": 0.05}]},
                       minv=0), 12, 9)
    lay.row("Routes")
    lay.add(table("Slowest routes (p95)", routes_sql(w, "ORDER BY p95 DESC NULLS LAST"),
                  "Top 20 routes by p95 response time over the time range (rollup).",
                  ROUTE_UNITS), 12, 10)
    lay.add(table("Most failing routes",
                  routes_sql(w, f"HAVING {count_if(FAILED)} > 0\n"
                             "ORDER BY failed DESC, \"error ratio\" DESC"),
                  "Routes with 5xx or unanswered requests in the time range, most first.",
                  ROUTE_UNITS), 12, 10)
    lay.add(heatmap("Latency heatmap", heatmap_sql(w),
                    "Requests per response-time band (powers of two) per interval."), 24, 10)
    return dashboard("httplat-overview", "httplat / API overview",
                     "Per-API latency, traffic and errors of uvicorn services traced by httplat.",
                     lay, [HOST_VAR, API_VAR, ROUTE_VAR], [alert_annotation(
                         "host IN ($host) AND api IN ($api)")])


def model():
    lay = Layout()
    w = MODEL_WHERE
    lay.add(stat("Requests", count_1m_sql(w, "TRUE", "requests"), "short",
                 "Requests to the model API in the time range.",
                 [{"color": "blue", "value": None}]), 6, 5)
    lay.add(stat("Failed", count_1m_sql(w, FAILED, "failed"), "short",
                 "5xx answers and requests without a response. Red above 0.",
                 RED_ABOVE_0), 6, 5)
    lay.add(stat("p95 generation time",
                 "SELECT httplat.httplat_quantile(httplat.httplat_hist_sum(hist), 0.95, max(max_ms)) AS p95\n"
                 f"FROM httplat.http_requests_1m\nWHERE $__timeFilter(minute) AND {w} AND status <> 0",
                 "ms", "p95 response time over the range.", LAT_THRESHOLDS["steps"], 0), 6, 5)
    lay.add(stat("HTTP 500s", count_1m_sql(w, "status = 500", "500s"), "short",
                 "Requests answered 500 in the time range. Red above 0.", RED_ABOVE_0), 6, 5)
    lay.add(timeseries("Generation time p50 / p95 / p99 / max",
                       latency_sql(w, (("p50", 0.5), ("p95", 0.95), ("p99", 0.99),
                                       ("max", 1.0))),
                       "ms", LAT_DESC, LAT_THRESHOLDS, minv=0), 16, 9)
    lay.add(barchart("Generation time distribution", distribution_sql(w),
                     "Answered requests per response-time band over the range."), 8, 9)
    lay.add(timeseries("Throughput by outcome", status_class_sql(w), "short",
                       "Completed requests per interval by status class.", stack=True,
                       bars=True), 12, 9)
    lay.add(timeseries("Failures", split_source(
        "$__timeGroupAlias(ts, $__interval), route || ' ' || status AS metric, count(*) AS failed",
        "$__timeGroupAlias(minute, $__interval), route || ' ' || status AS metric, "
        "sum(count) AS failed", f"{w} AND {FAILED}", f"{w} AND {FAILED}", "GROUP BY 1, 2"),
        "short", "5xx and unanswered requests per route and status.", stack=True,
        bars=True), 12, 9)
    lay.add(table("Model routes", routes_sql(w, "ORDER BY requests DESC"),
                  "Every model route over the range (rollup).",
                  ROUTE_UNITS), 24, 8)
    lay.add(heatmap("Generation time heatmap", heatmap_sql(w),
                    "Requests per response-time band per interval."), 24, 9)
    return dashboard("httplat-model", "httplat / 3D model generation",
                     "The model API: generation time, throughput and failures.",
                     lay, [HOST_VAR, MODEL_ROUTE_VAR], [alert_annotation(
                         "host IN ($host) AND api = 'model'")])


def increase(cols):
    """Per-row increase of cumulative counters; a daemon restart (new `started`) restarts at 0.

    Reads one extra minute before the range so the first row has a predecessor."""
    inc = ",\n    ".join(
        f"CASE WHEN lag(started) OVER w = started THEN greatest({c} - lag({c}) OVER w, 0) "
        f"ELSE {c} END AS {c}" for c in cols)
    return ("(SELECT ts, host, extract(epoch from ts - lag(ts) OVER w) AS secs,\n"
            f"    {inc}\n  FROM httplat.httplat_health\n"
            "  WHERE ts BETWEEN $__timeFrom()::timestamptz - interval '1 minute' "
            "AND $__timeTo()::timestamptz AND host IN ($host)\n"
            "  WINDOW w AS (PARTITION BY host ORDER BY ts)) AS d")


def health_series(cols, per_second):
    if per_second:
        vals = ", ".join(f"sum({c}) / nullif(sum(secs), 0) AS {c}" for c in cols)
    else:
        vals = ", ".join(f"sum({c}) AS {c}" for c in cols)
    return (f"SELECT $__timeGroupAlias(ts, $__interval), host AS metric, {vals}\n"
            f"FROM {increase(cols)}\nWHERE $__timeFilter(ts)\nGROUP BY 1, 2\nORDER BY 1")


def health_gauge(cols):
    vals = ", ".join(f"max({c}) AS {c}" for c in cols)
    return (f"SELECT $__timeGroupAlias(ts, $__interval), host AS metric, {vals}\n"
            "FROM httplat.httplat_health\nWHERE $__timeFilter(ts) AND host IN ($host)\n"
            "GROUP BY 1, 2\nORDER BY 1")


def health_total(cols, name):
    total = " + ".join(f"sum({c})" for c in cols)
    return (f"SELECT coalesce({total}, 0) AS \"{name}\"\nFROM {increase(cols)}\n"
            "WHERE $__timeFilter(ts)")


KERNEL_DROPS = ("kernel_ringbuf_full", "kernel_conn_table_full", "kernel_inflight_full",
                "kernel_pipeline_full")


def health():
    lay = Layout()
    lay.add(stat("Seconds since last report",
                 "SELECT extract(epoch from now() - max(ts)) AS age\nFROM httplat.httplat_health\n"
                 "WHERE host IN ($host)", "s",
                 "The daemon writes a health row every ~10 s; red when silent for 60 s.",
                 [{"color": "green", "value": None}, {"color": "orange", "value": 30},
                  {"color": "red", "value": 60}], 0), 6, 5)
    lay.add(stat("Events lost in the kernel", health_total(KERNEL_DROPS, "lost"), "short",
                 "Kernel drops in the range (ring buffer, connection and in-flight tables "
                 "full). Red above 0.", RED_ABOVE_0), 6, 5)
    lay.add(stat("Rows lost", health_total(("rows_dropped", "rows_rejected"), "lost"), "short",
                 "Rows dropped (memory and spool full) or rejected by the database in the "
                 "range. Red above 0.", RED_ABOVE_0), 6, 5)
    lay.add(stat("Alerts not delivered", health_total(("alerts_failed",), "failed"), "short",
                 "Slack deliveries that failed in the range. Red above 0.", RED_ABOVE_0), 6, 5)
    lay.add(timeseries("Events and requests per second",
                       health_series(("events", "requests"), True), "short",
                       "Ring-buffer records read and requests decoded, per second."), 12, 8)
    lay.add(timeseries("Kernel drops", health_series(KERNEL_DROPS + ("decode_errors",), False),
                       "short", "Events lost per interval, by reason.", stack=True,
                       bars=True), 12, 8)
    lay.add(timeseries("Rows queued and spooled",
                       health_gauge(("rows_queued", "rows_spooled")), "short",
                       "Rows waiting in memory and in spool files (database slow or down)."),
            12, 8)
    lay.add(timeseries("Rows written, dropped, rejected",
                       health_series(("rows_written", "rows_dropped", "rows_rejected"), False),
                       "short", "Rows per interval."), 12, 8)
    lay.add(timeseries("Alerts sent and failed",
                       health_series(("alerts_sent", "alerts_failed"), False), "short",
                       "Slack messages per interval."), 12, 8)
    lay.add(timeseries("Alert state changes",
                       "SELECT $__timeGroupAlias(ts, $__interval), severity || ' ' || state "
                       "AS metric, count(*) AS changes\nFROM httplat.alerts\n"
                       "WHERE $__timeFilter(ts) AND host IN ($host)\nGROUP BY 1, 2\nORDER BY 1",
                       "short", "Alert history rows (alerts table) per interval.", stack=True,
                       bars=True), 12, 8)
    lay.add(table("Recent alerts",
                  "SELECT ts AS \"time\", host, api, route, rule, severity, state, value,\n"
                  "  threshold, CASE delivered WHEN 1 THEN 'yes' WHEN 0 THEN 'NO' "
                  "ELSE 'no webhook' END AS delivered, message\nFROM httplat.alerts\n"
                  "WHERE $__timeFilter(ts) AND host IN ($host)\nORDER BY ts DESC\nLIMIT 100",
                  "The daemon's alert history.", {}), 24, 9)
    lay.add(table("Daemons",
                  "SELECT DISTINCT ON (host) host, ts AS \"last report\", started, daemon_pid,\n"
                  "  targets, rows_queued, rows_spooled, spool_bytes, db_errors, last_error\n"
                  "FROM httplat.httplat_health\nWHERE $__timeFilter(ts) AND host IN ($host)\n"
                  "ORDER BY host, ts DESC",
                  "Latest health row per host.", {"spool_bytes": "bytes"}), 24, 6)
    return dashboard("httplat-health", "httplat / health",
                     "Is httplat itself keeping up: kernel drops, database queue and spool, "
                     "alert delivery.", lay, [HEALTH_HOST_VAR])


DASHBOARDS = {"overview.json": overview, "model.json": model, "health.json": health}


def render():
    return {name: json.dumps(fn(), indent=2, sort_keys=True) + "\n"
            for name, fn in DASHBOARDS.items()}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, text in render().items():
        with open(os.path.join(OUT, name), "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
