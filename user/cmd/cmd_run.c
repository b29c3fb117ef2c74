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
#include "config.h"
#include "commands.h"
#include "httplat.h"
#include "pgcli.h"
#include "pgwriter.h"
#include "tracer.h"

#define HEALTH_EVERY_MS 10000
#define ALERT_FLUSH_MS 5000 /* at exit, time left to deliver queued alerts */

struct run_env {
	struct selection sel;
	struct pgcli pgc; /* --db, --host, --mem-max, --batch-rows, --flush-ms */
	long stats_s;
	struct httplat_config cfg; /* --config file, alert flags, HTTPLAT_SLACK_WEBHOOK */
};

/* Everything the loop and the record callback share; extend here (alerting, ...). */
struct run_ctx {
	struct run_env *env;
	struct tracer *tracer;
	struct pgwriter *writer;
	struct alerter *alerter; /* created after the writer, freed before it */
	int64_t started_ns;
	int64_t next_stats_ms;
	int64_t next_health_ms;
};

enum {
	OPT_SPOOL_DIR = 2000,
	OPT_SPOOL_MAX,
	OPT_NO_SPOOL,
	OPT_RETENTION,
	OPT_ROLLUP_DAYS,
	OPT_STATS
};

static const struct argp_option options[] = {
    {"spool-dir", OPT_SPOOL_DIR, "DIR", 0,
     "Keep batches here while the database is away (default /var/spool/httplat)", 0},
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
	struct pgwriter_opts *pg = &env->pgc.pg;
	uint64_t size;
	long v;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &env->sel;
		state->child_inputs[1] = &env->pgc;
		state->child_inputs[2] = &env->cfg;
		break;
	case OPT_SPOOL_DIR:
		pg->spool_dir = arg;
		break;
	case OPT_NO_SPOOL:
		pg->spool_dir = "";
		break;
	case OPT_SPOOL_MAX:
		if (pgwriter__parse_size(arg, &size) || size < 65536)
			argp_error(state,
				   "invalid --spool-max '%s': want bytes with an optional K, M "
				   "or G suffix, at least 64K",
				   arg);
		pg->spool_max = size;
		break;
	case OPT_RETENTION:
		if (cli__parse_long(arg, 0, 36500, &v))
			argp_error(state, "invalid --retention-days '%s': want 0-36500", arg);
		pg->retention_days = v ? (int)v : -1;
		break;
	case OPT_ROLLUP_DAYS:
		if (cli__parse_long(arg, 1, 36500, &v))
			argp_error(state, "invalid --rollup-days '%s': want 1-36500", arg);
		pg->rollup_days = (int)v;
		break;
	case OPT_STATS:
		if (cli__parse_long(arg, 0, 86400, &v))
			argp_error(state, "invalid --stats-interval '%s': want 0-86400", arg);
		env->stats_s = v;
		break;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s'", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child children[] = {
    {&selection_argp, 0, "Process selection and labelling:", 1},
    {&pgcli_argp, 0, "Database:", 2},
    {&config_argp, 0, "Alerting and the config file:", 3},
    {},
};

static const struct argp run_argp = {
    .options = options,
    .parser = run_parse,
    .doc = "Trace uvicorn processes and write one row per HTTP request to PostgreSQL; alert "
	   "to Slack when response times degrade or requests fail (docs/alerts.md).\v"
	   "Runs in the foreground, logs to stderr, stops cleanly on SIGINT/SIGTERM after "
	   "writing (or spooling) every queued row. Applies the schema on start.\n\n"
	   "EXAMPLES:\n"
	   "  httplat run --db 'postgresql://httplat_writer@localhost/metrics'\n"
	   "  HTTPLAT_DB='host=/run/postgresql dbname=metrics' httplat run --pid 1234\n"
	   "  httplat run --spool-dir /var/spool/httplat --spool-max 4G --retention-days 30\n"
	   "  HTTPLAT_SLACK_WEBHOOK=https://hooks.slack.com/services/... httplat run "
	   "--warn-ms 300 --stat p99",
    .children = children,
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Alert history: every settled alert state change becomes a row of the alerts table. */
static void on_alert_row(void *arg, const struct alert_row *row)
{
	pgwriter__push_alert(arg, row);
}

/* [database] and [select] of the config file, for what no flag (or HTTPLAT_DB) set. */
static int run_apply_config(struct run_env *env)
{
	const struct config_database *d = &env->cfg.database;
	struct pgwriter_opts *pg = &env->pgc.pg;
	const char *db_env = getenv("HTTPLAT_DB");
	char err[256];

	if (config__apply_selection(&env->cfg, &env->sel, err, sizeof(err)))
		goto fail;
	if (!env->pgc.db && (!db_env || !*db_env) && d->db[0])
		env->pgc.db = d->db;
	if (!*env->pgc.host && d->host[0])
		snprintf(env->pgc.host, sizeof(env->pgc.host), "%s", d->host);
	if (!pg->spool_dir)
		pg->spool_dir = !d->spool_dir[0]	       ? "/var/spool/httplat"
				: strcmp(d->spool_dir, "none") ? d->spool_dir
							       : "";
	if ((!pg->spool_max && d->spool_max[0] &&
	     pgwriter__parse_size(d->spool_max, &pg->spool_max)) ||
	    (!pg->mem_max && d->mem_max[0] && pgwriter__parse_size(d->mem_max, &pg->mem_max))) {
		snprintf(err, sizeof(err), "[database] spool_max/mem_max: want a size such as 64M");
		goto fail;
	}
	/* retention: a flag or file 0 means keep (-1 here); unset means 14 days */
	if (!pg->retention_days && d->retention_days < 0)
		pg->retention_days = 14;
	else if (!pg->retention_days)
		pg->retention_days = d->retention_days ? d->retention_days : -1;
	if (!pg->rollup_days && d->rollup_days > 0)
		pg->rollup_days = d->rollup_days;
	if (!pg->batch_rows && d->batch_rows > 0)
		pg->batch_rows = (uint32_t)d->batch_rows;
	if (!pg->flush_ms && d->flush_ms > 0)
		pg->flush_ms = (uint32_t)d->flush_ms;
	return 0;
fail:
	fprintf(stderr, "httplat: run: %s\n", err);
	return -EINVAL;
}

/* Called by the tracer for every completed request, on the polling thread. */
static void on_record(void *arg, const struct record *r)
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
	h->ts_ns = real_ns();
	h->started_ns = ctx->started_ns;
	h->daemon_pid = (int32_t)getpid();
	h->targets = ts->ntargets;
	h->events = ts->events;
	h->requests = ts->requests;
	h->decode_errors = ts->decode_errors;
	h->drop_ringbuf_full = ts->kernel[HTTPLAT_C_RB_FULL];
	h->drop_conn_full = ts->kernel[HTTPLAT_C_CONN_FULL];
	h->drop_inflight_full = ts->kernel[HTTPLAT_C_INFLIGHT_FULL];
	h->drop_pipe_full = ts->kernel[HTTPLAT_C_PIPE_FULL];
	h->parse_giveup = ts->kernel[HTTPLAT_C_PARSE_GIVEUP];
	h->non_http = ts->kernel[HTTPLAT_C_NON_HTTP];
	h->orphan_response = ts->kernel[HTTPLAT_C_ORPHAN_RESPONSE];
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
	struct tracer_stats ts = {};
	struct pgwriter_stats ws;

	if (ctx->tracer)
		tracer__stats(ctx->tracer, &ts);
	pgwriter__stats(ctx->writer, &ws);
	fprintf(stderr,
		"httplat: run: %s: requests %llu, rows written %llu, queued %llu, spooled %llu, "
		"dropped %llu, rejected %llu, duplicates skipped %llu, kernel dropped %llu, "
		"db %s%s%s\n",
		when, (unsigned long long)ts.requests, (unsigned long long)ws.rows_written,
		(unsigned long long)ws.rows_queued, (unsigned long long)ws.rows_spooled,
		(unsigned long long)ws.rows_dropped, (unsigned long long)ws.rows_rejected,
		(unsigned long long)ws.rows_dup, (unsigned long long)ts.dropped,
		ws.connected ? "connected" : "disconnected", *ws.last_error ? ", last error: " : "",
		ws.last_error);
}

/* One httplat_health row with the counters as they are now. */
static void push_health(struct run_ctx *ctx)
{
	struct tracer_stats ts;
	struct pgwriter_stats ws;
	struct health_row h;

	tracer__stats(ctx->tracer, &ts);
	pgwriter__stats(ctx->writer, &ws);
	fill_health(ctx, &ts, &ws, &h);
	pgwriter__push_health(ctx->writer, &h);
}

/* Periodic work of the loop; extend here. */
static void run_tick(struct run_ctx *ctx, int64_t now_ms)
{
	alerter__tick(ctx->alerter, real_ns());
	if (now_ms >= ctx->next_health_ms) {
		push_health(ctx);
		ctx->next_health_ms = now_ms + HEALTH_EVERY_MS;
	}
	if (ctx->env->stats_s && now_ms >= ctx->next_stats_ms) {
		log_counters(ctx, "counters");
		ctx->next_stats_ms = now_ms + ctx->env->stats_s * 1000;
	}
}

int cmd_run(int argc, char **argv)
{
	struct run_env env = {.stats_s = 60};
	struct run_ctx ctx = {.env = &env};
	struct pgwriter_opts *pg = &env.pgc.pg;
	char line[512];
	int err = 0, n;

	err = argp_parse(&run_argp, argc, argv, 0, NULL, &env);
	if (err || (err = run_apply_config(&env)))
		goto cleanup;
	if (pg->retention_days < 0)
		pg->retention_days = 0;
	pgcli__finish(&env.pgc, NULL);
	ctx.started_ns = real_ns();

	ctx.writer = pgwriter__new(pg);
	if (!ctx.writer) {
		err = -errno;
		fprintf(stderr, "httplat: run: cannot start the PostgreSQL writer: %s%s%s\n",
			strerror(errno), *pg->spool_dir ? " (spool directory " : "",
			*pg->spool_dir ? pg->spool_dir : "");
		if (*pg->spool_dir)
			fprintf(stderr, "httplat: run: use --spool-dir DIR or --no-spool\n");
		goto cleanup;
	}
	ctx.alerter = alerter__new(&env.cfg, on_alert_row, ctx.writer);
	if (!ctx.alerter) {
		err = -errno;
		fprintf(stderr, "httplat: run: cannot start alerting: %s\n", strerror(errno));
		goto cleanup;
	}
	alerter__describe(ctx.alerter, line, sizeof(line));
	fprintf(stderr, "httplat: run: %s\n", line);
	ctx.tracer = tracer__open(&env.sel, on_record, &ctx);
	if (!ctx.tracer) {
		err = -errno;
		fprintf(stderr, "httplat: run: cannot start tracing: %s\n", strerror(errno));
		goto cleanup;
	}
	fprintf(stderr, "httplat: run: tracing; writing rows as host '%s'%s%s\n", env.pgc.host,
		*pg->spool_dir ? ", spool " : ", no spool", pg->spool_dir);
	ctx.next_stats_ms = mono_ms() + env.stats_s * 1000;
	ctx.next_health_ms = mono_ms();
	while (!httplat_exiting()) {
		n = tracer__poll(ctx.tracer, 100);
		if (n < 0 && n != -EINTR) {
			err = n;
			fprintf(stderr, "httplat: run: polling failed: %s\n", strerror(-n));
			break;
		}
		run_tick(&ctx, mono_ms());
	}
cleanup:
	if (ctx.tracer) {
		tracer__poll(ctx.tracer, 0); /* what the kernel already handed over */
		alerter__tick(ctx.alerter, real_ns());
		push_health(&ctx); /* the final counters */
	}
	alerter__free(ctx.alerter, ALERT_FLUSH_MS); /* before the writer: it pushes last rows */
	if (ctx.writer) {
		fprintf(stderr, "httplat: run: stopping: writing queued rows\n");
		pgwriter__stop(ctx.writer); /* writes, or spools when the database is away */
		log_counters(&ctx, "exit");
	}
	tracer__free(ctx.tracer);
	pgwriter__free(ctx.writer);
	selection__free(&env.sel);
	return err ? 1 : 0;
}
