// dashboards.ts: the three dashboards (overview, model, health), panel by panel.
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';

import {
  alertAnnotation, barchartPanel, Board, heatmapPanel, LATENCY_STEPS, queryVariable,
  RED_ABOVE_0, statPanel, tablePanel, timeseriesPanel,
} from './panels';
import * as q from './sql';
import { CRIT_MS, FAILED, STATUSES, T, WARN_MS } from './sql';

const ROUTE_UNITS = { p50: 'ms', p95: 'ms', p99: 'ms', max: 'ms', 'error ratio': 'percentunit' };

const LAT_DESC = 'Response time (first request byte read to last response byte written, from ' +
  `the kernel). Lines at ${WARN_MS} ms (warning) and ${CRIT_MS} ms (critical), the same ` +
  'thresholds as the alert rules. Requests without a response are excluded.';

const hostVar = () => queryVariable('host', 'Host', q.distinctSql('host', T.rollup, 'minute'));

const HTTP_500_DESC = 'Requests answered 500 in the time range. Red above 0.';

export function overview(): dashboard.Dashboard {
  const w = 'host IN ($host) AND api IN ($api) AND route IN ($route)';
  return new Board({
    uid: 'httplat-overview', title: 'httplat / API overview',
    description: 'Per-API latency, traffic and errors of uvicorn services traced by httplat.',
    variables: [
      hostVar(),
      queryVariable('api', 'API', q.distinctSql('api', T.rollup, 'minute', 'host IN ($host)')),
      queryVariable('route', 'Route', q.distinctSql('route', T.rollup, 'minute',
        'host IN ($host) AND api IN ($api)')),
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
  const w = "host IN ($host) AND api = 'model' AND route IN ($route)";
  return new Board({
    uid: 'httplat-model', title: 'httplat / 3D model generation',
    description: 'The model API: generation time, throughput and failures.',
    variables: [
      hostVar(),
      queryVariable('route', 'Route', q.distinctSql('route', T.rollup, 'minute',
        "host IN ($host) AND api = 'model'")),
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
    .add(tablePanel('Model routes', q.routesSql(w, 'ORDER BY requests DESC'),
      'Every model route over the range (rollup).', ROUTE_UNITS), 24, 8)
    .add(heatmapPanel('Generation time heatmap', q.heatmapSql(w),
      'Requests per response-time band per interval.'), 24, 9)
    .build();
}

const KERNEL_DROPS = ['kernel_ringbuf_full', 'kernel_conn_table_full', 'kernel_inflight_full',
  'kernel_pipeline_full'];

export function health(): dashboard.Dashboard {
  return new Board({
    uid: 'httplat-health', title: 'httplat / health',
    description: 'Is httplat itself keeping up: kernel drops, database queue and spool, ' +
      'alert delivery.',
    variables: [queryVariable('host', 'Host', q.distinctSql('host', T.health, 'ts'))],
  })
    .add(statPanel('Seconds since last report',
      `SELECT extract(epoch from now() - max(ts)) AS age\nFROM ${T.health}\n` +
      'WHERE host IN ($host)', 's',
      'The daemon writes a health row every ~10 s; red when silent for 60 s.',
      [['green', null], ['orange', 30], ['red', 60]], 0), 6, 5)
    .add(statPanel('Events lost in the kernel', q.healthTotal(KERNEL_DROPS, 'lost'), 'short',
      'Kernel drops in the range (ring buffer, connection and in-flight tables full). ' +
      'Red above 0.', RED_ABOVE_0), 6, 5)
    .add(statPanel('Rows lost', q.healthTotal(['rows_dropped', 'rows_rejected'], 'lost'),
      'short', 'Rows dropped (memory and spool full) or rejected by the database in the ' +
      'range. Red above 0.', RED_ABOVE_0), 6, 5)
    .add(statPanel('Alerts not delivered', q.healthTotal(['alerts_failed'], 'failed'), 'short',
      'Slack deliveries that failed in the range. Red above 0.', RED_ABOVE_0), 6, 5)
    .add(timeseriesPanel('Events and requests per second',
      q.healthSeries(['events', 'requests'], true), 'short',
      'Ring-buffer records read and requests decoded, per second.'), 12, 8)
    .add(timeseriesPanel('Kernel drops', q.healthSeries([...KERNEL_DROPS, 'decode_errors'],
      false), 'short', 'Events lost per interval, by reason.', { stack: true, bars: true }),
    12, 8)
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

export const DASHBOARDS: Readonly<Record<string, () => dashboard.Dashboard>> = {
  'overview.json': overview,
  'model.json': model,
  'health.json': health,
};
