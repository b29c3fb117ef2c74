// dashboards.ts: the three dashboards (overview, model, health), panel by panel.
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';

import { Counter, CounterKind } from './counters';
import {
  alertAnnotation, barchartPanel, Board, choiceVariable, heatmapPanel, LATENCY_STEPS,
  queryVariable, RED_ABOVE_0, statPanel, tablePanel, timeseriesPanel,
} from './panels';
import * as q from './sql';
import { CRIT_MS, FAILED, STATUSES, T, WARN_MS } from './sql';

const ROUTE_UNITS = {
  p50: 'ms', p95: 'ms', p99: 'ms', max: 'ms', 'wait p95': 'ms', 'error ratio': 'percentunit',
};

const LAT_DESC = 'Response time (first request byte read to last response byte written, from ' +
  `the kernel). Lines at ${WARN_MS} ms (warning) and ${CRIT_MS} ms (critical), the same ` +
  'thresholds as the alert rules. Requests without a response are excluded.';

const hostVar = () => queryVariable('host', 'Host', q.distinctSql('host', T.rollup, 'minute'));

/** http_requests.tls / the rollup's key: the plaintext came through libssl (HTTPS served by
 * uvicorn itself). */
const tlsVar = () => choiceVariable('tls', 'TLS', [['plaintext', 'false'], ['TLS', 'true']]);

const WAIT_TITLE =
  'Time waiting before the app read the request (event loop blocked, workers busy)';
const WAIT_DESC = 'How long requests waited before the app read them, from the kernel: the ' +
  "accept queue (a connection's first request: queue_ms) plus the time the request's first " +
  'byte sat in the socket (wait_ms). High when the event loop is blocked (CPU work in a ' +
  'handler) or every worker is busy (restarts, too few workers); queue + wait + response ' +
  'time is what the client waited, less the network. Requests whose wait the kernel did not ' +
  'see (connections older than httplat) are left out. Lines at ' +
  `${WARN_MS} ms and ${CRIT_MS} ms: the thresholds of the daemon's wait alert rule.`;

const waitPanel = (where: string) => timeseriesPanel(WAIT_TITLE, q.waitSql(where), 'ms',
  WAIT_DESC, { steps: LATENCY_STEPS, min: 0 });

const HTTP_500_DESC = 'Requests answered 500 in the time range. Red above 0.';

export function overview(): dashboard.Dashboard {
  const w = 'host IN ($host) AND tls IN ($tls) AND api IN ($api) AND route IN ($route)';
  return new Board({
    uid: 'httplat-overview', title: 'httplat / API overview',
    description: 'Per-API latency, traffic and errors of uvicorn services traced by httplat.',
    variables: [
      hostVar(),
      tlsVar(),
      queryVariable('api', 'API', q.distinctSql('api', T.rollup, 'minute',
        'host IN ($host) AND tls IN ($tls)')),
      queryVariable('route', 'Route', q.distinctSql('route', T.rollup, 'minute',
        'host IN ($host) AND tls IN ($tls) AND api IN ($api)')),
    ],
    annotations: [alertAnnotation(q.alertsAnnotationSql('host IN ($host) AND api IN ($api)'))],
  })
    .row('API $api', 'api')
    .add(timeseriesPanel('Response time p50 / p95 / p99', q.latencySql(w), 'ms', LAT_DESC,
      { steps: LATENCY_STEPS, min: 0 }), 12, 9)
    .add(timeseriesPanel('Request rate', q.rateSql(w), 'reqps',
      'Requests per second, all statuses (including no response).'), 6, 9)
    .add(statPanel('HTTP 500s', q.count1mSql(w, 'status = 500', '500s'), 'short',
      HTTP_500_DESC, RED_ABOVE_0), 6, 9)
    .add(timeseriesPanel('Status codes', q.statusSql(w), 'short',
      `Requests per status code per interval: ${STATUSES.join(' ')}; other codes and ` +
      "'no response' (status 0) grouped.", { stack: true, bars: true }), 12, 9)
    .add(timeseriesPanel('Error ratio', q.errorRatioSql(w), 'percentunit',
      'Share of requests answered 5xx or not answered at all.',
      { steps: [['green', null], ['red', 0.05]], min: 0 }), 12, 9)
    .add(waitPanel(w), 24, 8)
    .row('Routes')
    .add(tablePanel('Slowest routes (p95)', q.routesSql(w, 'ORDER BY p95 DESC NULLS LAST'),
      'Top 20 routes by p95 response time over the time range (rollup).', ROUTE_UNITS), 12, 10)
    .add(tablePanel('Most failing routes', q.routesSql(w,
      `HAVING ${q.countIf(FAILED)} > 0\nORDER BY failed DESC, "error ratio" DESC`),
    'Routes with 5xx or unanswered requests in the time range, most first.', ROUTE_UNITS),
    12, 10)
    .add(heatmapPanel('Latency heatmap', q.heatmapSql(w),
      'Requests per response-time band (powers of two) per interval.'), 24, 10)
    .build();
}

export function model(): dashboard.Dashboard {
  const w = "host IN ($host) AND tls IN ($tls) AND api = 'model' AND route IN ($route)";
  return new Board({
    uid: 'httplat-model', title: 'httplat / 3D model generation',
    description: 'The model API: generation time, throughput and failures.',
    variables: [
      hostVar(),
      tlsVar(),
      queryVariable('route', 'Route', q.distinctSql('route', T.rollup, 'minute',
        "host IN ($host) AND tls IN ($tls) AND api = 'model'")),
    ],
    annotations: [alertAnnotation(q.alertsAnnotationSql("host IN ($host) AND api = 'model'"))],
  })
    .add(statPanel('Requests', q.count1mSql(w, 'TRUE', 'requests'), 'short',
      'Requests to the model API in the time range.', [['blue', null]]), 6, 5)
    .add(statPanel('Failed', q.count1mSql(w, FAILED, 'failed'), 'short',
      '5xx answers and requests without a response. Red above 0.', RED_ABOVE_0), 6, 5)
    .add(statPanel('p95 generation time', q.p95Sql(w), 'ms', 'p95 response time over the range.',
      LATENCY_STEPS, 0), 6, 5)
    .add(statPanel('HTTP 500s', q.count1mSql(w, 'status = 500', '500s'), 'short', HTTP_500_DESC,
      RED_ABOVE_0), 6, 5)
    .add(timeseriesPanel('Generation time p50 / p95 / p99 / max',
      q.latencySql(w, [...q.P50_95_99, ['max', 1.0]]), 'ms', LAT_DESC,
      { steps: LATENCY_STEPS, min: 0 }), 16, 9)
    .add(barchartPanel('Generation time distribution', q.distributionSql(w), 'duration',
      'Answered requests per response-time band over the range.'), 8, 9)
    .add(timeseriesPanel('Throughput by outcome', q.statusClassSql(w), 'short',
      'Completed requests per interval by status class.', { stack: true, bars: true }), 12, 9)
    .add(timeseriesPanel('Failures', q.failuresSql(w), 'short',
      '5xx and unanswered requests per route and status.', { stack: true, bars: true }), 12, 9)
    .add(waitPanel(w), 24, 8)
    .add(tablePanel('Model routes', q.routesSql(w, 'ORDER BY requests DESC'),
      'Every model route over the range (rollup).', ROUTE_UNITS), 24, 8)
    .add(heatmapPanel('Generation time heatmap', q.heatmapSql(w),
      'Requests per response-time band per interval.'), 24, 9)
    .build();
}

const KIND_NAMES: Readonly<Record<CounterKind, string>> = {
  loss: 'loss', giveup: 'give-up', oddity: 'oddity', info: 'info',
};

/** "kernel_x: meaning; kernel_y: meaning" for a panel's description. */
const listed = (cs: readonly Counter[]) =>
  cs.map((c) => `${q.kernelColumn(c.column)}: ${c.meaning}`).join('; ');
const columns = (cs: readonly Counter[]) => cs.map((c) => q.kernelColumn(c.column));

/** The health dashboard; its kernel panels list the counters of HTTPLAT_COUNTERS
 * (bpf/httplat.h) by kind: losses (requests without a record), give-ups and oddities, info. */
export function health(counters: readonly Counter[]): dashboard.Dashboard {
  const of = (...kinds: CounterKind[]) => counters.filter((c) => kinds.includes(c.kind));
  const losses = of('loss');
  const odd = of('giveup', 'oddity');
  const info = of('info');
  if (!losses.length) throw new Error('HTTPLAT_COUNTERS has no HTTPLAT_CK_LOSS counter');
  return new Board({
    uid: 'httplat-health', title: 'httplat / health',
    description: 'Is httplat itself keeping up: requests lost in the kernel, every kernel ' +
      'counter, database queue and spool, alert delivery.',
    variables: [queryVariable('host', 'Host', q.distinctSql('host', T.health, 'ts'))],
  })
    .add(statPanel('Seconds since last report',
      `SELECT extract(epoch from now() - max(ts)) AS age\nFROM ${T.health}\n` +
      'WHERE host IN ($host)', 's',
      'The daemon writes a health row every ~10 s; red when silent for 60 s.',
      [['green', null], ['orange', 30], ['red', 60]], 0), 6, 5)
    .add(statPanel('Requests lost in the kernel', q.healthTotal(columns(losses), 'lost'),
      'short', `Requests that got no record in the range, all loss counters: ${listed(losses)}. ` +
      'Red above 0.', RED_ABOVE_0), 6, 5)
    .add(statPanel('Rows lost', q.healthTotal(['rows_dropped', 'rows_rejected'], 'lost'),
      'short', 'Rows dropped (memory and spool full) or rejected by the database in the ' +
      'range. Red above 0.', RED_ABOVE_0), 6, 5)
    .add(statPanel('Alerts not delivered', q.healthTotal(['alerts_failed'], 'failed'), 'short',
      'Slack deliveries that failed in the range. Red above 0.', RED_ABOVE_0), 6, 5)
    .add(timeseriesPanel('Events and requests per second',
      q.healthSeries(['events', 'requests', ...columns(info)], true), 'short',
      'Ring-buffer records read and requests decoded by the daemon, per second; and the ' +
      `kernel's own counts: ${listed(info)}.`), 12, 8)
    .add(timeseriesPanel('Kernel losses', q.healthSeries(columns(losses), false), 'short',
      `Requests lost per interval, by counter: ${listed(losses)}.`,
      { stack: true, bars: true }), 12, 8)
    .add(timeseriesPanel('Give-ups, oddities and decode errors',
      q.healthSeries([...columns(odd), 'decode_errors'], false), 'short',
      `Per interval. Not losses (the request still got a record, or was not HTTP): ${listed(odd)}; ` +
      'decode_errors: ring-buffer records the daemon could not decode.',
      { stack: true, bars: true }), 12, 8)
    .add(tablePanel('Kernel counters', q.counterTableSql(counters.map((c) => ({
      column: q.kernelColumn(c.column), kind: KIND_NAMES[c.kind], meaning: c.meaning,
    }))), 'Every kernel counter (HTTPLAT_COUNTERS in bpf/httplat.h) per host: its increase ' +
      'over the range (empty: not reported by this daemon). Losses are requests without a ' +
      'record.', {}), 12, 8)
    .add(timeseriesPanel('Rows queued and spooled', q.healthGauge(['rows_queued',
      'rows_spooled']), 'short',
    'Rows waiting in memory and in spool files (database slow or down).'), 12, 8)
    .add(timeseriesPanel('Rows written, dropped, rejected',
      q.healthSeries(['rows_written', 'rows_dropped', 'rows_rejected'], false), 'short',
      'Rows per interval.'), 12, 8)
    .add(timeseriesPanel('Alerts sent and failed',
      q.healthSeries(['alerts_sent', 'alerts_failed'], false), 'short',
      'Slack messages per interval.'), 12, 8)
    .add(timeseriesPanel('Alert state changes',
      "SELECT $__timeGroupAlias(ts, $__interval), severity || ' ' || state AS metric, " +
      `count(*) AS changes\nFROM ${T.alerts}\n` +
      'WHERE $__timeFilter(ts) AND host IN ($host)\nGROUP BY 1, 2\nORDER BY 1',
      'short', 'Alert history rows (alerts table) per interval.', { stack: true, bars: true }),
    12, 8)
    .add(tablePanel('Recent alerts',
      'SELECT ts AS "time", host, api, route, rule, severity, state, value,\n' +
      "  threshold, CASE delivered WHEN 1 THEN 'yes' WHEN 0 THEN 'NO' " +
      `ELSE 'no webhook' END AS delivered, message\nFROM ${T.alerts}\n` +
      'WHERE $__timeFilter(ts) AND host IN ($host)\nORDER BY ts DESC\nLIMIT 100',
      "The daemon's alert history.", {}), 24, 9)
    .add(tablePanel('Daemons',
      'SELECT DISTINCT ON (host) host, ts AS "last report", started, daemon_pid,\n' +
      '  targets, rows_queued, rows_spooled, spool_bytes, db_errors, last_error\n' +
      `FROM ${T.health}\nWHERE $__timeFilter(ts) AND host IN ($host)\n` +
      'ORDER BY host, ts DESC',
      'Latest health row per host.', { spool_bytes: 'bytes' }), 24, 6)
    .build();
}

/** Every dashboard by file name, the kernel counters read from bpf/httplat.h. */
export function dashboards(counters: readonly Counter[]): Map<string, dashboard.Dashboard> {
  return new Map([
    ['overview.json', overview()],
    ['model.json', model()],
    ['health.json', health(counters)],
  ]);
}
