// panels.ts: httplat's panel kinds, variables and layout on Grafana's Foundation SDK builders.
import * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as barchart from '@grafana/grafana-foundation-sdk/barchart';
import * as heatmap from '@grafana/grafana-foundation-sdk/heatmap';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

import { CRIT_MS, WARN_MS } from './sql';

/** The provisioned data source (provisioning/datasources/httplat.yaml). */
export const DS: common.DataSourceRef = { type: 'grafana-postgresql-datasource', uid: 'httplat-pg' };
export const TAGS = ['httplat'];

// ------------------------------------------------------------------ the PostgreSQL query

export type SqlFormat = 'time_series' | 'table';

/** A query of Grafana's PostgreSQL data source, as its code editor saves it (grafana-sql's
 * SQLQuery: refId, format, rawSql, editorMode, rawQuery). The SDK has builders for the core
 * data sources' queries but not this one, so it is declared here as a Dataquery variant, the
 * SDK's way for plugins it does not know (its "custom query type" how-to). */
export interface SqlQuery {
  refId: string;
  datasource: common.DataSourceRef;
  rawSql: string;
  format: SqlFormat;
  editorMode: 'code';
  rawQuery: true;
  // alert rule models only: the evaluation's interval and points
  intervalMs?: number;
  maxDataPoints?: number;
  _implementsDataqueryVariant(): void;
}

export class SqlQueryBuilder implements cog.Builder<cog.Dataquery> {
  private readonly internal: SqlQuery;

  constructor(rawSql: string, format: SqlFormat = 'time_series', refId = 'A') {
    this.internal = {
      refId, datasource: DS, rawSql, format, editorMode: 'code', rawQuery: true,
      _implementsDataqueryVariant() {},
    };
  }

  build(): SqlQuery {
    return this.internal;
  }

  intervalMs(ms: number): this {
    this.internal.intervalMs = ms;
    return this;
  }

  maxDataPoints(n: number): this {
    this.internal.maxDataPoints = n;
    return this;
  }
}

// ------------------------------------------------------------------ colours and thresholds

export type Steps = ReadonlyArray<readonly [color: string, from: number | null]>;

export function thresholds(steps: Steps): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute)
    .steps(steps.map(([color, value]) => ({ color, value })));
}

export const LATENCY_STEPS: Steps = [['green', null], ['orange', WARN_MS], ['red', CRIT_MS]];
export const RED_ABOVE_0: Steps = [['green', null], ['red', 1]];
const GREEN: Steps = [['green', null]];

// ------------------------------------------------------------------ panel kinds

export interface SeriesOptions {
  steps?: Steps; // threshold lines
  stack?: boolean;
  bars?: boolean;
  min?: number;
}

export function timeseriesPanel(title: string, sql: string, unit: string, desc: string,
  o: SeriesOptions = {}): timeseries.PanelBuilder {
  const p = new timeseries.PanelBuilder().title(title).description(desc).datasource(DS)
    .withTarget(new SqlQueryBuilder(sql)).unit(unit)
    .drawStyle(o.bars ? common.GraphDrawStyle.Bars : common.GraphDrawStyle.Line)
    .lineWidth(1).fillOpacity(o.bars ? 60 : 10).showPoints(common.VisibilityMode.Never)
    .spanNulls(false)
    .stacking(new common.StackingConfigBuilder().group('A')
      .mode(o.stack ? common.StackingMode.Normal : common.StackingMode.None))
    .thresholds(thresholds(o.steps ?? GREEN))
    .legend(new common.VizLegendOptionsBuilder().showLegend(true)
      .displayMode(common.LegendDisplayMode.Table).placement(common.LegendPlacement.Right)
      .calcs(['mean', 'max', 'lastNotNull']))
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi)
      .sort(common.SortOrder.Descending));
  if (o.steps) {
    p.thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder()
      .mode(common.GraphThresholdsStyleMode.Line));
  }
  if (o.min !== undefined) p.min(o.min);
  return p;
}

export function statPanel(title: string, sql: string, unit: string, desc: string,
  steps: Steps, decimals?: number): stat.PanelBuilder {
  const p = new stat.PanelBuilder().title(title).description(desc).datasource(DS)
    .withTarget(new SqlQueryBuilder(sql, 'table')).unit(unit).thresholds(thresholds(steps))
    .colorScheme(new dashboard.FieldColorBuilder().mode(dashboard.FieldColorModeId.Thresholds))
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).fields('')
      .values(false))
    .colorMode(common.BigValueColorMode.Background).graphMode(common.BigValueGraphMode.None)
    .textMode(common.BigValueTextMode.Value);
  if (decimals !== undefined) p.decimals(decimals);
  return p;
}

/** A table; columns in `units` get that unit, and latency columns (ms) latency colours. */
export function tablePanel(title: string, sql: string, desc: string,
  units: Readonly<Record<string, string>>): table.PanelBuilder {
  const p = new table.PanelBuilder().title(title).description(desc).datasource(DS)
    .withTarget(new SqlQueryBuilder(sql, 'table')).align(common.FieldTextAlignment.Auto)
    .showHeader(true).cellHeight(common.TableCellHeight.Sm);
  const colored: common.TableCellOptions = { type: common.TableCellDisplayMode.ColorBackground };
  for (const [col, unit] of Object.entries(units)) {
    const props: dashboard.DynamicConfigValue[] = [{ id: 'unit', value: unit }];
    if (unit === 'ms') {
      props.push({ id: 'thresholds', value: thresholds(LATENCY_STEPS).build() },
        { id: 'custom.cellOptions', value: colored });
    }
    p.overrideByName(col, props);
  }
  return p;
}

export function heatmapPanel(title: string, sql: string, desc: string): heatmap.PanelBuilder {
  return new heatmap.PanelBuilder().title(title).description(desc).datasource(DS)
    .interval('1m').withTarget(new SqlQueryBuilder(sql))
    .calculate(false).cellGap(1)
    .yAxis(new heatmap.YAxisConfigBuilder().axisPlacement(common.AxisPlacement.Left).unit('ms'))
    .rowsFrame(new heatmap.RowsHeatmapOptionsBuilder().layout(common.HeatmapCellLayout.Le))
    .color(new heatmap.HeatmapColorOptionsBuilder().mode(heatmap.HeatmapColorMode.Scheme)
      .scheme('Oranges').scale(heatmap.HeatmapColorScale.Exponential).exponent(0.5)
      .fill('dark-orange').steps(64))
    .tooltip(new heatmap.HeatmapTooltipBuilder().mode(common.TooltipDisplayMode.Single)
      .yHistogram(true))
    .showLegend();
}

export function barchartPanel(title: string, sql: string, xField: string,
  desc: string): barchart.PanelBuilder {
  return new barchart.PanelBuilder().title(title).description(desc).datasource(DS)
    .withTarget(new SqlQueryBuilder(sql, 'table')).unit('short').fillOpacity(80)
    .xField(xField).orientation(common.VizOrientation.Vertical)
    .showValue(common.VisibilityMode.Auto)
    .legend(new common.VizLegendOptionsBuilder().showLegend(false)
      .displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom)
      .calcs([]));
}

// ------------------------------------------------------------------ variables

/** A multi-value query variable, default All, refreshed with the time range. */
export function queryVariable(name: string, label: string, sql: string):
  dashboard.QueryVariableBuilder {
  return new dashboard.QueryVariableBuilder(name).label(label).datasource(DS).query(sql)
    .definition(sql).refresh(dashboard.VariableRefresh.OnTimeRangeChanged).multi(true)
    .includeAll(true).current({ selected: true, text: ['All'], value: ['$__all'] })
    .sort(dashboard.VariableSort.AlphabeticalAsc).hide(dashboard.VariableHide.DontHide)
    .options([]).regex('');
}

/** A variable with fixed choices (`text : value, ...`, Grafana's custom-variable syntax),
 * one at a time or All (every value), default All. */
export function choiceVariable(name: string, label: string,
  choices: ReadonlyArray<readonly [text: string, value: string]>):
  dashboard.CustomVariableBuilder {
  const query = choices.map(([text, value]) => {
    if (/[,:\\$]/.test(text + value)) {
      throw new Error(`variable ${name}: choice ${text} : ${value} holds , : \\ or $`);
    }
    return `${text} : ${value}`;
  }).join(', ');
  // no typed-in values: anything but the choices would make the SQL fail
  return new dashboard.CustomVariableBuilder(name).label(label).values(query).multi(false)
    .allowCustomValue(false).includeAll(true)
    .current({ selected: true, text: 'All', value: '$__all' }) // one value: strings, not lists
    .hide(dashboard.VariableHide.DontHide)
    .options(choices.map(([text, value]) => ({ selected: false, text, value })));
}

/** What every variable builder on these dashboards is. */
export type Variable = dashboard.QueryVariableBuilder | dashboard.CustomVariableBuilder;

// ------------------------------------------------------------------ the dashboard

/** What every panel builder has: an id and a place on the grid. */
interface Placeable extends cog.Builder<dashboard.Panel> {
  id(id: number): unknown;
  span(w: number): unknown;
  height(h: number): unknown;
}

export interface BoardSpec {
  uid: string;
  title: string;
  description: string;
  variables: Variable[];
  annotations?: dashboard.AnnotationQueryBuilder[];
}

/** A dashboard laid out left to right, top to bottom (the SDK places panels on the
 * 24-column grid in the order added); panel ids are given in the same order. */
export class Board {
  private readonly b: dashboard.DashboardBuilder;
  private nextId = 1;

  constructor(spec: BoardSpec) {
    this.b = new dashboard.DashboardBuilder(spec.title).uid(spec.uid)
      .description(spec.description).tags(TAGS).editable().version(1)
      .tooltip(dashboard.DashboardCursorSync.Crosshair).refresh('30s')
      .time({ from: 'now-1h', to: 'now' }).timezone('browser').fiscalYearStartMonth(0)
      .liveNow(false).weekStart('')
      .link(new dashboard.DashboardLinkBuilder('httplat').type(dashboard.DashboardLinkType.Dashboards)
        .tags(TAGS).asDropdown(true).includeVars(true).keepTime(true))
      .variables(spec.variables)
      .annotations([builtinAnnotation(), ...(spec.annotations ?? [])]);
  }

  add(panel: Placeable, w: number, h: number): this {
    panel.id(this.nextId++);
    panel.span(w);
    panel.height(h);
    this.b.withPanel(panel);
    return this;
  }

  row(title: string, repeat?: string): this {
    const r = new dashboard.RowBuilder(title).id(this.nextId++).collapsed(false);
    if (repeat) r.repeat(repeat);
    this.b.withRow(r);
    return this;
  }

  build(): dashboard.Dashboard {
    const d = this.b.build();
    // Grafana 12.x (deploy/docker-compose.yml) knows schema 41; the SDK writes 42, whose only
    // migration (hideFrom.tooltip follows hideFrom.viz) touches nothing these dashboards use.
    d.schemaVersion = 41;
    // The SDK puts every link and annotation toggle into the controls menu (it takes the only
    // value of the optional `placement` as default); Grafana's default is the dashboard's bar.
    for (const l of d.links ?? []) delete l.placement;
    for (const a of d.annotations.list ?? []) delete a.placement;
    return d;
  }
}

/** Grafana's own annotations (the default every dashboard has). */
function builtinAnnotation(): dashboard.AnnotationQueryBuilder {
  return new dashboard.AnnotationQueryBuilder().name('Annotations & Alerts').builtIn(1)
    .datasource({ type: 'grafana', uid: '-- Grafana --' }).enable(true).hide(true)
    .iconColor('rgba(0, 211, 255, 1)').type('dashboard');
}

/** The daemon's alert history (table alerts) as annotations. */
export function alertAnnotation(sql: string): dashboard.AnnotationQueryBuilder {
  return new dashboard.AnnotationQueryBuilder().name('httplat alerts').datasource(DS)
    .enable(true).iconColor('red').target(new SqlQueryBuilder(sql, 'table', 'Anno'));
}
