// sql.ts: the SQL text every dashboard panel and alert rule sends to PostgreSQL.
//
// Conventions (docs/deploy.md): time series read raw rows (http_requests) while Grafana's
// interval is under a minute and the per-minute rollup (http_requests_1m) from one minute up,
// so long ranges stay cheap and outlive raw retention; stats, tables and heatmaps read the
// rollup. Status 0 (no response) is never a latency sample. Template variables are
// multi-value: Grafana expands $api to 'a','b', hence `api IN ($api)`.

export const WARN_MS = 500;
export const CRIT_MS = 1000;
export const STATUSES = [200, 201, 301, 400, 401, 403, 404, 500, 502, 503] as const;

/** The schema httplat's tables and functions live in, as a prefix ('' = the search_path).
 * Grafana's reader role has no search_path of its own, so every name is qualified with it. */
export const SCHEMA = 'httplat.';

/** httplat's tables (schema/*.sql), named once. */
export const T = {
  requests: `${SCHEMA}http_requests`,
  rollup: `${SCHEMA}http_requests_1m`,
  health: `${SCHEMA}httplat_health`,
  alerts: `${SCHEMA}alerts`,
} as const;

/** httplat's read functions (schema/functions.sql): a histogram's quantile, the histogram
 * aggregate, a raw row's wait (queue_ms + wait_ms as the rollup's wait_hist counts it). */
const QUANTILE = `${SCHEMA}httplat_quantile`;
const HIST_SUM = `${SCHEMA}httplat_hist_sum`;
const WAIT_MS = `${SCHEMA}httplat_wait_ms`;

// Errors = server errors (5xx) and requests that got no response at all.
export const FAILED = '(status >= 500 OR status = 0)';

export type Quantiles = ReadonlyArray<readonly [name: string, q: number]>;
export const P50_95_99: Quantiles = [['p50', 0.5], ['p95', 0.95], ['p99', 0.99]];

/** One query, two sources: raw rows below a one-minute interval, the rollup from there. */
export function splitSource(rawSelect: string, rollupSelect: string, rawWhere: string,
  rollupWhere: string, tail = 'GROUP BY 1'): string {
  return `SELECT ${rawSelect}\nFROM ${T.requests}\n` +
    `WHERE $__timeFilter(ts) AND ${rawWhere} AND $__interval_ms < 60000\n${tail}\n` +
    'UNION ALL\n' +
    `SELECT ${rollupSelect}\nFROM ${T.rollup}\n` +
    `WHERE $__timeFilter(minute) AND ${rollupWhere} AND $__interval_ms >= 60000\n${tail}\n` +
    'ORDER BY 1';
}

/** A quantile of the rollup's response-time histograms (hist.h buckets, within 4.4 %). */
export function rollupQuantile(q: number): string {
  return `${QUANTILE}(${HIST_SUM}(hist), ${q}, max(max_ms))`;
}

/** The same for the wait before the app read the request (wait_hist: queue_ms + wait_ms). */
export function rollupWaitQuantile(q: number): string {
  return `${QUANTILE}(${HIST_SUM}(wait_hist), ${q}, max(wait_max_ms))`;
}

export function latencySql(where: string, quantiles: Quantiles = P50_95_99): string {
  const raw = quantiles.map(([n, q]) =>
    `percentile_cont(${q}) WITHIN GROUP (ORDER BY duration_ms) AS ${n}`).join(', ');
  const roll = quantiles.map(([n, q]) => `${rollupQuantile(q)} AS ${n}`).join(', ');
  return splitSource(`$__timeGroupAlias(ts, $__interval), ${raw}`,
    `$__timeGroupAlias(minute, $__interval), ${roll}`,
    `${where} AND status <> 0`, `${where} AND status <> 0`);
}

/** Quantiles of how long requests waited before the app read them: the accept queue (first
 * request of a connection) plus the socket. Requests whose wait the kernel did not see (both
 * parts NULL) are not samples; status 0 ones are (they waited too), as in the rollup. */
export function waitSql(where: string, quantiles: Quantiles = P50_95_99): string {
  const w = `${WAIT_MS}(queue_ms, wait_ms)`;
  const raw = quantiles.map(([n, q]) =>
    `percentile_cont(${q}) WITHIN GROUP (ORDER BY ${w}) AS ${n}`).join(', ');
  const roll = quantiles.map(([n, q]) => `${rollupWaitQuantile(q)} AS ${n}`).join(', ');
  return splitSource(`$__timeGroupAlias(ts, $__interval), ${raw}`,
    `$__timeGroupAlias(minute, $__interval), ${roll}`,
    `${where} AND (queue_ms IS NOT NULL OR wait_ms IS NOT NULL)`,
    `${where} AND wait_hist IS NOT NULL`);
}

export function rateSql(where: string): string {
  return splitSource(
    '$__timeGroupAlias(ts, $__interval), count(*) / ($__interval_ms / 1000.0) AS "req/s"',
    '$__timeGroupAlias(minute, $__interval), sum(count) / ($__interval_ms / 1000.0) ' +
    'AS "req/s"',
    where, where);
}

function statusLabel(codes: readonly number[]): string {
  return `CASE WHEN status IN (${codes.join(', ')}) THEN status::text ` +
    "WHEN status = 0 THEN 'no response' ELSE 'other' END";
}

/** Requests per interval and label (a CASE over status), as `metric` series. */
function perLabelSql(where: string, label: string, value: string): string {
  return splitSource(
    `$__timeGroupAlias(ts, $__interval), ${label} AS metric, count(*) AS ${value}`,
    `$__timeGroupAlias(minute, $__interval), ${label} AS metric, sum(count) AS ${value}`,
    where, where, 'GROUP BY 1, 2');
}

export function statusSql(where: string): string {
  return perLabelSql(where, statusLabel(STATUSES), 'requests');
}

export function statusClassSql(where: string): string {
  return perLabelSql(where,
    "CASE WHEN status = 0 THEN 'no response' WHEN status >= 500 THEN '5xx' " +
    "WHEN status >= 400 THEN '4xx' WHEN status >= 300 THEN '3xx' ELSE '2xx' END",
    'requests');
}

export function failuresSql(where: string): string {
  return perLabelSql(`${where} AND ${FAILED}`, "route || ' ' || status", 'failed');
}

/** Rollup requests matching cond; 0, not NULL, when none do. */
export function countIf(cond: string): string {
  return `coalesce(sum(count) FILTER (WHERE ${cond}), 0)`;
}

export function errorRatioSql(where: string): string {
  return splitSource(
    `$__timeGroupAlias(ts, $__interval), avg(CASE WHEN ${FAILED} THEN 1.0 ELSE 0.0 END) ` +
    'AS "error ratio"',
    `$__timeGroupAlias(minute, $__interval), ${countIf(FAILED)}::float8 / sum(count) ` +
    'AS "error ratio"',
    where, where);
}

export function count1mSql(where: string, cond: string, name: string): string {
  return `SELECT coalesce(sum(count), 0) AS "${name}"\nFROM ${T.rollup}\n` +
    `WHERE $__timeFilter(minute) AND ${where} AND ${cond}`;
}

export function p95Sql(where: string): string {
  return `SELECT ${rollupQuantile(0.95)} AS p95\n` +
    `FROM ${T.rollup}\nWHERE $__timeFilter(minute) AND ${where} AND status <> 0`;
}

/** Per-route table over the whole range, from the rollup. */
export function routesSql(where: string, order: string): string {
  return 'SELECT api, route, sum(count) AS requests,\n' +
    `  ${rollupQuantile(0.5)} AS p50,\n` +
    `  ${rollupQuantile(0.95)} AS p95,\n` +
    `  ${rollupQuantile(0.99)} AS p99,\n` +
    '  max(max_ms) AS max,\n' +
    `  ${rollupWaitQuantile(0.95)} AS "wait p95",\n` +
    `  ${countIf('status BETWEEN 400 AND 499')} AS "4xx",\n` +
    `  ${countIf('status = 500')} AS "500",\n` +
    `  ${countIf(FAILED)} AS failed,\n` +
    `  ${countIf(FAILED)}::float8 / sum(count) AS "error ratio"\n` +
    `FROM ${T.rollup}\n` +
    `WHERE $__timeFilter(minute) AND ${where}\n` +
    `GROUP BY api, route\n${order}\nLIMIT 20`;
}

// Heatmap/histogram rows: one per power-of-two band of hist.h's buckets (8 per band).
// hist[k] (1-based) is bucket k-1, whose lower bound is 0.1 * 2^((k-2)/8) ms (k >= 2).
const BAND_UPPER = 'round((0.1 * power(2, CASE WHEN h.k = 1 THEN 0 ' +
  'ELSE floor((h.k - 2) / 8.0) + 1 END))::numeric, 1)';

export function heatmapSql(where: string): string {
  return 'SELECT $__timeGroupAlias(minute, $__interval),\n' +
    `  ${BAND_UPPER}::text AS metric, sum(h.n) AS requests\n` +
    `FROM ${T.rollup}, unnest(hist) WITH ORDINALITY AS h(n, k)\n` +
    `WHERE $__timeFilter(minute) AND ${where} AND status <> 0 AND h.n > 0\n` +
    'GROUP BY 1, 2\nORDER BY 1';
}

export function distributionSql(where: string): string {
  return `SELECT '< ' || b.upper || ' ms' AS "duration", b.requests\nFROM (\n` +
    `  SELECT ${BAND_UPPER} AS upper, sum(h.n) AS requests\n` +
    `  FROM ${T.rollup}, unnest(hist) WITH ORDINALITY AS h(n, k)\n` +
    `  WHERE $__timeFilter(minute) AND ${where} AND status <> 0 AND h.n > 0\n` +
    '  GROUP BY 1) AS b\nORDER BY b.upper';
}

export function alertsAnnotationSql(where: string): string {
  return "SELECT ts AS time, severity || ' ' || state || ': ' || message AS text,\n" +
    `  rule || ',' || api AS tags\nFROM ${T.alerts}\n` +
    `WHERE $__timeFilter(ts) AND ${where}\nORDER BY ts`;
}

/** SELECT DISTINCT col for a variable, narrowed by the variables before it. */
export function distinctSql(col: string, table: string, timeCol: string, where = ''): string {
  return `SELECT DISTINCT ${col} FROM ${table} WHERE $__timeFilter(${timeCol})` +
    `${where ? ` AND ${where}` : ''} ORDER BY 1`;
}

// ---------------------------------------------------------------- health (httplat_health)

/** A kernel counter's column: one per HTTPLAT_COUNTERS entry, named kernel_<column>. */
export const kernelColumn = (column: string): string => `kernel_${column}`;
const isKernel = (c: string): boolean => c.startsWith('kernel_') && c !== 'kernel_dropped';

/** FROM the health rows of the range, with the columns `cols`. A kernel_<counter> column
 * exists once a daemon built with that counter has connected (it adds its columns with
 * httplat_health_columns()), so a dashboard generated from a newer bpf/httplat.h can meet a
 * database without some (a fresh deployment before the daemon's first connect, hosts not yet
 * upgraded): those are read from the row's JSON, NULL when absent, and the panel shows no
 * value for them instead of failing as a whole. Counters are NULL too in rows older than
 * their column. */
function healthFrom(cols: readonly string[], where: string, indent = ''): string {
  if (!cols.some(isKernel)) return `FROM ${T.health}\n${indent}WHERE ${where}`;
  const sel = cols.map((c) => (isKernel(c) ? `(to_jsonb(h) ->> '${c}')::bigint AS ${c}` : c));
  return `FROM (SELECT ts, host, started, ${sel.join(', ')}\n${indent}  FROM ${T.health} AS h\n` +
    `${indent}  WHERE ${where}) AS h`;
}

/** Per-row increase of cumulative counters; a daemon restart (new `started`) restarts at 0.
 * Reads one extra minute before the range so the first row has a predecessor. A counter the
 * row does not have (NULL) has no increase (NULL, not 0: "not reported" stays visible). */
function increase(cols: readonly string[]): string {
  const inc = cols.map((c) =>
    `CASE WHEN lag(started) OVER w = started THEN ${c} - least(lag(${c}) OVER w, ${c}) ` +
    `ELSE ${c} END AS ${c}`).join(',\n    ');
  return '(SELECT ts, host, extract(epoch from ts - lag(ts) OVER w) AS secs,\n' +
    `    ${inc}\n  ` +
    healthFrom(cols, "ts BETWEEN $__timeFrom()::timestamptz - interval '1 minute' " +
      'AND $__timeTo()::timestamptz AND host IN ($host)', '  ') +
    '\n  WINDOW w AS (PARTITION BY host ORDER BY ts)) AS d';
}

export function healthSeries(cols: readonly string[], perSecond: boolean): string {
  const vals = cols.map((c) => perSecond
    ? `sum(${c}) / nullif(sum(secs), 0) AS ${c}` : `sum(${c}) AS ${c}`).join(', ');
  return `SELECT $__timeGroupAlias(ts, $__interval), host AS metric, ${vals}\n` +
    `FROM ${increase(cols)}\nWHERE $__timeFilter(ts)\nGROUP BY 1, 2\nORDER BY 1`;
}

export function healthGauge(cols: readonly string[]): string {
  const vals = cols.map((c) => `max(${c}) AS ${c}`).join(', ');
  return `SELECT $__timeGroupAlias(ts, $__interval), host AS metric, ${vals}\n` +
    `${healthFrom(cols, '$__timeFilter(ts) AND host IN ($host)')}\n` +
    'GROUP BY 1, 2\nORDER BY 1';
}

/** The counters' total increase over the range (0 when none, or none reported). */
export function healthTotal(cols: readonly string[], name: string): string {
  const total = cols.map((c) => `coalesce(sum(${c}), 0)`).join(' + ');
  return `SELECT ${total} AS "${name}"\nFROM ${increase(cols)}\n` +
    'WHERE $__timeFilter(ts)';
}

/** A string constant in a panel's SQL. Grafana expands `$name` anywhere in the text, and
 * its macro engine strips comments, so text that would be read as either is refused. */
export function sqlString(text: string): string {
  if (/\$|--|\/\*|\[\[/.test(text)) {
    throw new Error(`text for a SQL literal holds $, --, /* or [[: ${JSON.stringify(text)}`);
  }
  return `'${text.replace(/'/g, "''")}'`;
}

export interface CounterRow {
  column: string; // kernel_<column>
  kind: string;
  meaning: string;
}

/** One row per host and counter, in the table's order: kind, increase over the range (empty
 * when the daemon did not report it), meaning. */
export function counterTableSql(counters: readonly CounterRow[]): string {
  const vals = counters.map((c, i) => `    (${i + 1}, ${sqlString(c.column)}, ` +
    `${sqlString(c.kind)}, d.${c.column}, ${sqlString(c.meaning)})`).join(',\n');
  return 'SELECT d.host, c.counter, c.kind, sum(c.n) AS "in range", c.meaning\n' +
    `FROM ${increase(counters.map((c) => c.column))}\n` +
    `  CROSS JOIN LATERAL (VALUES\n${vals}) AS c(ord, counter, kind, n, meaning)\n` +
    'WHERE $__timeFilter(d.ts)\n' +
    'GROUP BY d.host, c.ord, c.counter, c.kind, c.meaning\n' +
    'ORDER BY d.host, c.ord';
}
