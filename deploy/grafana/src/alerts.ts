// alerts.ts: Grafana-managed alert rules mirroring the daemon's own, their Slack contact point
// and notification policy, in Grafana's file-provisioning format (provisioning/alerting/).
//
// The SDK's alerting types are those of Grafana's HTTP provisioning API (folderUID, ruleGroup
// and orgID on every rule, group interval in seconds, keep_firing_for...). The provisioning file
// has its own envelope and spellings (Grafana's AlertRuleGroupV1 / AlertRuleV1: group `name`,
// `folder` and `interval: 1m`; `keepFiringFor`), so rules are built with the SDK and then
// mapped field by field into the typed File* shapes below.
import * as alerting from '@grafana/grafana-foundation-sdk/alerting';
import * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as expr from '@grafana/grafana-foundation-sdk/expr';

import { DS, SqlQueryBuilder } from './panels';
import { CRIT_MS, T, WARN_MS } from './sql';

/** `${NAME}`: expanded by Grafana from its environment when it reads the file. */
export type EnvRef = `\${${string}}`;

export interface FileQuery {
  refId: string;
  relativeTimeRange: { from: number; to: number };
  datasourceUid: string;
  model: cog.Dataquery;
}

export interface FileRule {
  uid: string;
  title: string;
  condition: string;
  for: string;
  noDataState: alerting.Rule['noDataState'];
  execErrState: alerting.Rule['execErrState'];
  isPaused: boolean | EnvRef;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  data: FileQuery[];
}

export interface FileGroup {
  orgId: number;
  name: string;
  folder: string;
  interval: string;
  rules: FileRule[];
}

/** Grafana's Slack notifier settings (the SDK types them as `any`). */
export interface SlackSettings {
  url: EnvRef;
  recipient: string;
  username: string;
  title: string;
  text: string;
}

export interface FileReceiver {
  uid: string;
  type: alerting.ContactPoint['type'];
  disableResolveMessage: boolean;
  settings: SlackSettings;
}

export interface FileContactPoint {
  orgId: number;
  name: string;
  receivers: FileReceiver[];
}

export type FilePolicy = { orgId: number } & alerting.NotificationPolicy;

export interface AlertingFile {
  apiVersion: 1;
  groups: FileGroup[];
  contactPoints: FileContactPoint[];
  policies: FilePolicy[];
}

const ORG = 1;
const FOLDER = 'httplat';
const RECEIVER = 'httplat slack';
const PAUSED: EnvRef = '${HTTPLAT_GRAFANA_ALERTS_PAUSED}';
const WINDOW_S = 300;
const EXPR_DS = { type: '__expr__', uid: '__expr__' };

// Each rule's query A reads the last WINDOW_S seconds; the group evaluates every minute.
const P95_SQL =
  'SELECT api, percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_ms\n' +
  `FROM ${T.requests}\n` +
  'WHERE $__timeFilter(ts) AND status <> 0\n' +
  'GROUP BY api\n' +
  'HAVING count(*) >= 5';

const HTTP_500_SQL =
  'SELECT api, route, count(*) AS http_500\n' +
  `FROM ${T.requests}\n` +
  'WHERE $__timeFilter(ts) AND status = 500\n' +
  'GROUP BY api, route';

/** Query A: SQL over the last 5 minutes, one row per alert instance (text columns = labels). */
function sqlQuery(sql: string): alerting.QueryBuilder {
  return new alerting.QueryBuilder('A').datasourceUid(DS.uid ?? '')
    .relativeTimeRange({ from: WINDOW_S, to: 0 })
    .model(new SqlQueryBuilder(sql, 'table', 'A').intervalMs(60000).maxDataPoints(43200));
}

/** Expression C on A: the rule's condition. */
function condition(model: cog.Builder<cog.Dataquery>): alerting.QueryBuilder {
  return new alerting.QueryBuilder('C').datasourceUid('__expr__')
    .relativeTimeRange({ from: 0, to: 0 }).model(model);
}

function rule(uid: string, title: string, severity: string, summary: string,
  forDuration: string, data: alerting.QueryBuilder[]): alerting.RuleBuilder {
  return new alerting.RuleBuilder(title).uid(uid).condition('C').queries(data)
    .forDuration(forDuration).noDataState('OK').execErrState('Error').isPaused(true)
    .labels({ severity, source: 'httplat' })
    .annotations({ summary, dashboard: '/d/httplat-overview' })
    .folderUID(FOLDER).ruleGroup('httplat').orgID(ORG);
}

const p95Summary = (level: string, ms: number) =>
  `{{ $labels.api }} API: p95 response time {{ printf "%.0f" $values.A.Value }} ms over 5 min ` +
  `(${level} above ${ms} ms)`;

function rules(): alerting.RuleBuilder[] {
  return [
    rule('httplat-p95-warning', `httplat p95 response time above ${WARN_MS} ms`, 'warning',
      p95Summary('warning', WARN_MS), '1m', [
        sqlQuery(P95_SQL),
        // critical supersedes warning: only WARN < p95 <= CRIT is a warning
        condition(new expr.TypeMathBuilder().refId('C').datasource(EXPR_DS)
          .expression(`$A > ${WARN_MS} && $A <= ${CRIT_MS}`)),
      ]),
    rule('httplat-p95-critical', `httplat p95 response time above ${CRIT_MS} ms`, 'critical',
      p95Summary('critical', CRIT_MS), '1m', [
        sqlQuery(P95_SQL),
        condition(new expr.TypeThresholdBuilder().refId('C').datasource(EXPR_DS)
          .expression('A').conditions([{ evaluator: { type: 'gt', params: [CRIT_MS] } }])),
      ]),
    rule('httplat-http-500', 'httplat HTTP 500 answered', 'critical',
      '{{ $labels.api }} API: {{ printf "%.0f" $values.A.Value }} HTTP 500 on ' +
      '{{ $labels.route }} in the last 5 min', '0s', [
        sqlQuery(HTTP_500_SQL),
        condition(new expr.TypeThresholdBuilder().refId('C').datasource(EXPR_DS)
          .expression('A').conditions([{ evaluator: { type: 'gt', params: [0] } }])),
      ]),
  ];
}

function need<V>(v: V | undefined, what: string): V {
  if (v === undefined) throw new Error(`alert rule: ${what} not set`);
  return v;
}

function fileQuery(q: alerting.Query): FileQuery {
  const range = need(q.relativeTimeRange, 'relativeTimeRange');
  return {
    refId: need(q.refId, 'refId'),
    relativeTimeRange: { from: need(range.from, 'from'), to: need(range.to, 'to') },
    datasourceUid: need(q.datasourceUid, 'datasourceUid'),
    model: need(q.model, 'model'),
  };
}

function fileRule(r: alerting.Rule): FileRule {
  return {
    uid: need(r.uid, 'uid'),
    title: r.title,
    condition: r.condition,
    for: r.for,
    noDataState: r.noDataState,
    execErrState: r.execErrState,
    // the daemon alerts by default; HTTPLAT_GRAFANA_ALERTS_PAUSED=false hands over to Grafana
    isPaused: r.isPaused === true ? PAUSED : false,
    labels: need(r.labels, 'labels'),
    annotations: need(r.annotations, 'annotations'),
    data: r.data.map(fileQuery),
  };
}

function fileGroup(g: alerting.RuleGroup): FileGroup {
  const s = need(g.interval, 'interval');
  return {
    orgId: ORG,
    name: need(g.title, 'title'),
    folder: FOLDER,
    interval: s % 60 === 0 ? `${s / 60}m` : `${s}s`,
    rules: need(g.rules, 'rules').map(fileRule),
  };
}

function contactPoint(): FileContactPoint {
  const cp = new alerting.ContactPointBuilder().uid('httplat-slack').name(RECEIVER)
    .type('slack').disableResolveMessage(false).build();
  const settings: SlackSettings = {
    url: '${HTTPLAT_GRAFANA_SLACK_WEBHOOK}',
    recipient: '#3d-model-generation',
    username: 'httplat',
    title: '[{{ .Status | toUpper }}] {{ .CommonLabels.severity }}: ' +
      '{{ .CommonLabels.alertname }}',
    text: '{{ range .Alerts }}{{ .Annotations.summary }}\n{{ end }}',
  };
  return {
    orgId: ORG,
    name: need(cp.name, 'name'),
    receivers: [{
      uid: need(cp.uid, 'uid'), type: cp.type,
      disableResolveMessage: cp.disableResolveMessage ?? false, settings,
    }],
  };
}

function policy(): FilePolicy {
  const p = new alerting.NotificationPolicyBuilder().receiver(RECEIVER)
    .groupBy(['grafana_folder', 'alertname', 'api']).groupWait('30s').groupInterval('5m')
    .repeatInterval('4h')
    .routes([new alerting.NotificationPolicyBuilder().receiver(RECEIVER)
      .objectMatchers([['source', '=', 'httplat']]).groupBy(['alertname', 'api', 'route'])
      .groupWait('10s').groupInterval('1m').repeatInterval('1h')])
    .build();
  return { orgId: ORG, ...p };
}

export function alertingFile(): AlertingFile {
  const group = new alerting.RuleGroupBuilder('httplat').folderUid(FOLDER).interval(60)
    .rules(rules()).build();
  return {
    apiVersion: 1,
    groups: [fileGroup(group)],
    contactPoints: [contactPoint()],
    policies: [policy()],
  };
}

export const ALERTING_HEADER = `httplat.yaml: Grafana-managed alert rules mirroring the httplat daemon's own, their Slack
contact point and notification policy. Use these OR the daemon's alerts, not both (docs/deploy.md).
Written by deploy/grafana/src/alerts.ts (\`make grafana\`): edit that, not this file.

Grafana expands $VARS from its environment in this file except inside rule \`model\`s and
\`annotations\`, which it keeps raw (so $__timeFilter and {{ $labels }} survive):
  HTTPLAT_GRAFANA_ALERTS_PAUSED  true (default in docker-compose.yml: the daemon alerts) or false
  HTTPLAT_GRAFANA_SLACK_WEBHOOK  Slack incoming-webhook URL of #3d-model-generation (NPAIR);
                                 docker-compose.yml puts a harmless dead address when unset
The notification policy replaces the organisation's whole policy tree (docs/deploy.md).`;
