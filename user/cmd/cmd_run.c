/* cmd_run.c: `httplat run`, the daemon: traces uvicorn, writes every request to PostgreSQL. */
#include <argp.h>
#include <errno.h>
#include <linux/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alerter.h"
#include "cli.h"
#include "clock.h"
#include "commands.h"
#include "config.h"
#include "httplat.h"
#include "parse.h"
#include "pgcli.h"
#include "pgschema.h"
#include "pgwriter.h"
#include "runner.h"

#define HEALTH_EVERY_MS 10000
#define ALERT_FLUSH_MS 5000 /* at exit, time left to deliver queued alerts */
#define TICK_S 0.1
#define SPOOL_DIR "/var/spool/httplat"

struct run_env {
	struct httplat_config cfg; /* --config file, [database], flags, HTTPLAT_* variables */
	long stats_s;
};

/* Everything the callbacks share; extend here (alerting, ...). */
struct run_ctx {
	struct run_env *env;
	struct runner *runner;
	struct pgcli pgc; /* the writer's options, from [database] */
	struct pgwriter *writer;
	struct alerter *alerter; /* created after the writer, freed before it */
	int64_t started_ns;
	int64_t next_stats_ms;
	int64_t next_health_ms;
	int fatal; /* the writer gave up: exit status 2 */
};

enum {
	OPT_SPOOL_DIR = 2000,
	OPT_SPOOL_MAX,
	OPT_NO_SPOOL,
	OPT_RETENTION,
	OPT_ROLLUP_DAYS,
	OPT_STATS
};

/* Each flag but --no-spool and --stats-interval is the [database] key of the same name. */
static const struct argp_option options[] = {
    {"spool-dir", OPT_SPOOL_DIR, "DIR", 0,
     "Keep batches here while the database is away (default " SPOOL_DIR ")", 0},
    {"spool-max", OPT_SPOOL_MAX, "SIZE", 0, "Spool size bound, e.g. 512M, 2G (default 1G)", 0},
    {"no-spool", OPT_NO_SPOOL, NULL, 0, "No spool: rows beyond --mem-max are dropped", 0},
    {"retention-days", OPT_RETENTION, "DAYS", 0,
     "Drop raw daily partitions older than this (default 14; 0 keeps them)", 0},
    {"rollup-days", OPT_ROLLUP_DAYS, "DAYS", 0,
     "Keep per-minute rollup, alerts and health rows this long (default 90)", 0},
    {"stats-interval", OPT_STATS, "SECONDS", 0, "Log counters this often (default 60; 0 = off)", 0},
    {},
};

static error_t run_parse(int key, char *arg, struct argp_state *state)
{
	struct run_env *env = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = state->child_inputs[1] = &env->cfg;
		break;
	case OPT_NO_SPOOL:
		if (config__override(&env->cfg, "database", "spool_dir", "none", "no-spool"))
			argp_error(state, "too many options");
		break;
	case OPT_STATS:
		if (parse__long(arg, 0, 86400, &env->stats_s))
			argp_error(state, "invalid --stats-interval '%s': want 0-86400", arg);
		break;
	default:
		return config__argp_override(state, &env->cfg, "database", options, key, arg);
	}
	return 0;
}

/* pgcli's flags (the table bench-ingest uses), as overrides of the [database] keys. */
static error_t run_db_parse(int key, char *arg, struct argp_state *state)
{
	return config__argp_override(state, state->input, "database", pgcli_argp.options, key, arg);
}

static const char run_doc[] =
    "Trace uvicorn processes and write one row per HTTP request to PostgreSQL; alert "
    "to Slack when response times degrade or requests fail (docs/alerts.md).\v"
    "Runs in the foreground, logs to stderr, stops cleanly on SIGINT/SIGTERM after "
    "writing (or spooling) every queued row. Applies the schema on start. Every database "
    "flag is also a [database] key of the config file (--mem-max is mem_max).\n\n"
    "EXAMPLES:\n"
    "  httplat run --db 'postgresql://httplat_writer@localhost/metrics'\n"
    "  HTTPLAT_DB='host=/run/postgresql dbname=metrics' httplat run --pid 1234\n"
    "  httplat run --spool-dir /var/spool/httplat --spool-max 4G --retention-days 30\n"
    "  HTTPLAT_SLACK_WEBHOOK=https://hooks.slack.com/services/... httplat run "
    "--warn-ms 300 --stat p99";

/* Alert history: every settled alert state change becomes a row of the alerts table. */
static void on_alert_row(void *arg, const struct alert_row *row)
{
	pgwriter__push_alert(arg, row);
}

/* The writer's options from [database] (the file, HTTPLAT_DB, the flags: one layering). */
static void run_db_options(struct run_ctx *ctx, const struct config_database *d)
{
	struct pgwriter_opts *pg = &ctx->pgc.pg;

	ctx->pgc.db = d->db[0] ? d->db : NULL;
	snprintf(ctx->pgc.host, sizeof(ctx->pgc.host), "%s", d->host);
	if (!d->spool_dir[0])
		pg->spool_dir = SPOOL_DIR;
	else
		pg->spool_dir = strcmp(d->spool_dir, "none") ? d->spool_dir : ""; /* "": no spool */
	pg->spool_max = d->spool_max;
	pg->mem_max = d->mem_max;
	pg->retention_days = d->retention_days;
	pg->rollup_days = d->rollup_days;
	pg->batch_rows = (uint32_t)d->batch_rows;
	pg->flush_ms = (uint32_t)d->flush_ms;
	pg->db_timeout_ms = d->db_timeout_s * 1000;
	pgcli__finish(&ctx->pgc, NULL, d->schema);
	pg->rollup_only = d->rollup_only;
}

/* Every completed request, on the polling thread. */
static void run_record(void *arg, const struct record *r)
{
	struct run_ctx *ctx = arg;

	pgwriter__push(ctx->writer, r); /* a refused row is counted in rows_dropped */
	alerter__observe(ctx->alerter, r);
}

static void fill_health(struct run_ctx *ctx, const struct tracer_stats *ts,
			const struct pgwriter_stats *ws, struct health_row *h)
{
	struct alerter_stats as;

	memset(h, 0, sizeof(*h));
	h->ts_ns = clock__real_ns();
	h->started_ns = ctx->started_ns;
	h->daemon_pid = (int32_t)getpid();
	h->targets = ts->ntargets;
	h->events = ts->events;
	h->requests = ts->requests;
	h->decode_errors = ts->decode_errors;
	for (int i = 0; i < HTTPLAT_C__COUNT; i++)
		h->kernel[i] = ts->kernel[i]; /* one httplat_health column each */
	h->kernel_dropped = ts->dropped;
	h->rows_written = ws->rows_written;
	h->rows_queued = ws->rows_queued;
	h->rows_spooled = ws->rows_spooled;
	h->rows_dropped = ws->rows_dropped;
	h->rows_rejected = ws->rows_rejected;
	h->spool_bytes = ws->spool_bytes;
	h->db_errors = ws->db_errors;
	alerter__stats(ctx->alerter, &as);
	h->alerts_sent = as.delivery.delivered;
	h->alerts_failed = as.delivery.rejected + as.delivery.dropped + as.delivery.undelivered;
	snprintf(h->last_error, sizeof(h->last_error), "%s", ws->last_error);
}

static void log_counters(struct run_ctx *ctx, const char *when)
{
	struct tracer_occupancy occ;
	struct tracer_stats ts;
	struct pgwriter_stats ws;

	runner__stats(ctx->runner, &ts);
	runner__occupancy(ctx->runner, &occ);
	pgwriter__stats(ctx->writer, &ws);
	fprintf(stderr,
		"httplat: run: %s: requests %llu, rows written %llu, queued %llu, spooled %llu, "
		"dropped %llu, rejected %llu, duplicates skipped %llu, kernel dropped %llu, "
		"kernel tables: conns %llu/%llu, pipelined %llu/%llu, ring %llu KiB (peak %llu "
		"of %llu KiB), db %s%s%s\n",
		when, (unsigned long long)ts.requests, (unsigned long long)ws.rows_written,
		(unsigned long long)ws.rows_queued, (unsigned long long)ws.rows_spooled,
		(unsigned long long)ws.rows_dropped, (unsigned long long)ws.rows_rejected,
		(unsigned long long)ws.rows_dup, (unsigned long long)ts.dropped,
		(unsigned long long)occ.conns, (unsigned long long)occ.conns_max,
		(unsigned long long)occ.queued, (unsigned long long)occ.queued_max,
		(unsigned long long)ts.ring_bytes >> 10, (unsigned long long)ts.ring_peak >> 10,
		(unsigned long long)occ.ring_size >> 10,
		ws.connected ? "connected" : "disconnected",
		!*ws.last_error ? ""
		: ws.connected	? ", last error (before it reconnected): "
				: ", last error: ",
		ws.last_error);
}

/* One httplat_health row with the counters as they are now. */
static void push_health(struct run_ctx *ctx)
{
	struct tracer_stats ts;
	struct pgwriter_stats ws;
	struct health_row h;

	runner__stats(ctx->runner, &ts);
	pgwriter__stats(ctx->writer, &ws);
	fill_health(ctx, &ts, &ws, &h);
	pgwriter__push_health(ctx->writer, &h);
}

/* Periodic work of the loop; extend here. */
static int run_tick(void *arg, struct runner *r, double elapsed_s)
{
	struct run_ctx *ctx = arg;
	int64_t now_ms = clock__mono_ms();
	char line[768];

	(void)elapsed_s;
	ctx->runner = r;
	alerter__tick(ctx->alerter, clock__real_ns());
	if (now_ms >= ctx->next_health_ms) {
		push_health(ctx);
		ctx->next_health_ms = now_ms + HEALTH_EVERY_MS;
	}
	if (ctx->env->stats_s && now_ms >= ctx->next_stats_ms) {
		log_counters(ctx, "counters");
		ctx->next_stats_ms = now_ms + ctx->env->stats_s * 1000;
	}
	if (pgwriter__fatal(ctx->writer, line, sizeof(line))) {
		/* no retry can fix it; what is queued goes to the spool at stop */
		fprintf(stderr, "httplat: run: cannot write to PostgreSQL: %s\n", line);
		ctx->fatal = 1;
		return 1;
	}
	return 0;
}

/* The writer, then alerting, before the tracer opens: no record finds them missing. */
static int run_config(void *arg, const struct httplat_config *cfg)
{
	struct run_ctx *ctx = arg;
	struct pgwriter_opts *pg = &ctx->pgc.pg;
	char line[512];

	if (cfg->database.schema[0] && !pgschema__valid_name(cfg->database.schema)) {
		fprintf(stderr,
			"httplat: run: invalid schema '%s' (--schema, [database] schema): want a "
			"lowercase name of letters, digits and _, at most 63, not starting with a "
			"digit or pg_\n",
			cfg->database.schema);
		return -1;
	}
	run_db_options(ctx, &cfg->database);
	ctx->started_ns = clock__real_ns();
	ctx->writer = pgwriter__new(pg);
	if (!ctx->writer) {
		fprintf(stderr, "httplat: run: cannot start the PostgreSQL writer: %s%s%s\n",
			strerror(errno), *pg->spool_dir ? " (spool directory " : "",
			*pg->spool_dir ? pg->spool_dir : "");
		if (*pg->spool_dir)
			fprintf(stderr, "httplat: run: use --spool-dir DIR or --no-spool\n");
		return -1;
	}
	ctx->alerter = alerter__new(cfg, on_alert_row, ctx->writer);
	if (!ctx->alerter) {
		fprintf(stderr, "httplat: run: cannot start alerting: %s\n", strerror(errno));
		return -1;
	}
	alerter__describe(ctx->alerter, line, sizeof(line));
	fprintf(stderr, "httplat: run: %s\n", line);
	return 0;
}

static void run_describe(void *arg, struct runner *r, char *buf, size_t size)
{
	struct run_ctx *ctx = arg;
	const char *spool = ctx->pgc.pg.spool_dir;

	snprintf(buf, size, "; writing %s as host '%s' into schema %s%s%s; hooks: %s",
		 ctx->pgc.pg.rollup_only ? "the per-minute rollup only" : "rows", ctx->pgc.host,
		 ctx->pgc.pg.schema, *spool ? ", spool " : ", no spool", spool, runner__hooks(r));
}

static int run_start(void *arg, struct runner *r)
{
	struct run_ctx *ctx = arg;

	ctx->runner = r;
	ctx->next_stats_ms = clock__mono_ms() + ctx->env->stats_s * 1000;
	ctx->next_health_ms = clock__mono_ms();
	return 0;
}

static void run_stop(void *arg, struct runner *r)
{
	struct run_ctx *ctx = arg;

	ctx->runner = r;
	if (runner__tracing(r)) {
		alerter__tick(ctx->alerter, clock__real_ns());
		push_health(ctx); /* the final counters */
	}
	alerter__free(ctx->alerter, ALERT_FLUSH_MS); /* before the writer: it pushes last rows */
	ctx->alerter = NULL;
	if (ctx->writer) {
		fprintf(stderr, "httplat: run: stopping: writing queued rows\n");
		pgwriter__stop(ctx->writer); /* writes, or spools when the database is away */
		log_counters(ctx, "exit");
	}
}

int cmd_run(int argc, char **argv)
{
	const struct argp db_argp = {.options = pgcli_argp.options, .parser = run_db_parse};
	const struct argp_child children[] = {
	    {&runner_alerts_argp, 0, NULL, 0},
	    {&db_argp, 0, "Database:", 2},
	    {},
	};
	const struct argp run_argp = {
	    .options = options, .parser = run_parse, .doc = run_doc, .children = children};
	struct run_env env = {.stats_s = 60};
	struct run_ctx ctx = {.env = &env};
	struct runner_ops ops = {
	    .name = "httplat: run",
	    .tick_s = TICK_S,
	    .on_config = run_config,
	    .on_record = run_record,
	    .describe = run_describe,
	    .on_start = run_start,
	    .on_tick = run_tick,
	    .on_stop = run_stop,
	};
	int ret;

	if (argp_parse(&run_argp, argc, argv, 0, NULL, &env))
		return 1;
	ret = runner__run(&env.cfg, &ops, &ctx);
	pgwriter__free(ctx.writer);
	return ctx.fatal ? 2 : ret;
}
