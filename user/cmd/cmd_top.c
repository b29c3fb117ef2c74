/* cmd_top.c: `httplat top`, live per-API and per-route latency in the console or as text snapshots.
 */
#include <argp.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agg.h"
#include "cli.h"
#include "commands.h"
#include "config.h"
#include "console.h"
#include "parse.h"
#include "runner.h"
#include "topfmt.h"

#define TOP_ROWS (AGG_MAX_ROUTES + 2)
#define TOP_PIDS 64
#define KEY_POLL_MS 50 /* how long keys may wait while the tracer has nothing */

enum { OPT_BATCH = 'b', OPT_DELAY = 'd', OPT_ONCE = 1000, OPT_TLS };

struct top_env {
	struct httplat_config cfg; /* thresholds, window and [select] shared with the alerts */
	double interval_s;
	int batch, once;
	int tls; /* enum console_tls: the requests counted at start (s switches) */
};

static const struct argp_option options[] = {
	{"delay", OPT_DELAY, "SECONDS", 0, "Refresh interval (default 1; 0.1 to 3600)", 0},
	{"batch", OPT_BATCH, NULL, 0,
     "Plain-text snapshots every interval (also when stdout is not a terminal)", 0},
	{"once", OPT_ONCE, NULL, 0, "Print one snapshot after one interval and exit", 0},
	{"tls", OPT_TLS, "WHICH", 0,
	 "Count all requests (default), only those over TLS (tls) or only plaintext ones (plain)",
	 0},
	{},
};

static const char doc[] =
	"Live latency of the traced uvicorn processes, per API and per route.\v"
	"Latency cells are yellow above --warn-ms and red above --crit-ms, per API as the alerts "
	"(config file, then flags); REQS..ERR% cover the alerts' --window.\n\n"
	"Keys: < > sort column, r reverse, / filter by api or path, t per-route view, "
	"s all / TLS / plaintext requests, p pause, up/down select, Enter latency histogram and "
	"sparklines, q quit.\n\n"
	"EXAMPLES:\n"
	"  httplat top                        # every uvicorn process, full screen\n"
	"  httplat top -d 5 --api gen=/model  # refresh every 5 s, label /model as gen\n"
	"  httplat top --batch --pid 1234     # text snapshots, like top -b\n"
	"  httplat top --once --port 8000     # one snapshot after one interval";

static error_t top_parse(int key, char *arg, struct argp_state *state)
{
	struct top_env *env = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &env->cfg;
		break;
	case OPT_DELAY:
		if (parse__seconds(arg, 0.1, 3600, &env->interval_s))
			argp_error(state, "invalid -d '%s': want seconds from 0.1 to 3600", arg);
		break;
	case OPT_BATCH:
		env->batch = 1;
		break;
	case OPT_ONCE:
		env->once = 1;
		break;
	case OPT_TLS:
		if (console_tls__parse(arg, &env->tls))
			argp_error(state, "invalid --tls '%s': want all, tls or plain", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* top uses --config, --warn-ms, --crit-ms and --window of the alert group */
static const struct argp_child children[] = {{&runner_alerts_argp, 0, NULL, 0}, {}};

static const struct argp top_argp = {
	.options = options,
	.parser = top_parse,
	.doc = doc,
	.children = children,
};

struct top {
	const struct top_env *env;
	/*
	 * [CONSOLE_TLS_ALL] counts every request; the TLS and plaintext ones exist from the
	 * first TLS request (or the first time the view asks for them): the plaintext one
	 * starts as a copy of everything before, which was all plaintext.
	 */
	struct agg *aggs[CONSOLE_TLS_N];
	struct agg *agg; /* the one shown */
	struct console *console;
	struct agg_row *apis, *routes;
	int pids[TOP_PIDS];
	uint16_t ports[TOP_MAX_PORTS];
	struct top_thresholds thr;
	int slots;	  /* intervals in the window */
	int saved_stderr; /* the terminal's stderr while the console holds the screen, or -1 */
	FILE *held;	  /* what was written to stderr meanwhile */
};

/*
 * While the console draws, messages on the terminal's stderr (tracer warnings,
 * -v) would tear the screen: keep them in a temporary file and print them
 * once the terminal is back.
 */
static void top__hold_stderr(struct top *t)
{
	t->saved_stderr = -1;
	if (!isatty(STDERR_FILENO))
		return;
	t->held = tmpfile();
	if (!t->held)
		return;
	fflush(stderr);
	t->saved_stderr = dup(STDERR_FILENO);
	if (t->saved_stderr < 0 || dup2(fileno(t->held), STDERR_FILENO) < 0) {
		fclose(t->held);
		t->held = NULL;
	}
}

static void top__release_stderr(struct top *t)
{
	char buf[4096];
	size_t n;

	if (!t->held)
		return;
	fflush(stderr);
	dup2(t->saved_stderr, STDERR_FILENO);
	close(t->saved_stderr);
	rewind(t->held);
	while ((n = fread(buf, 1, sizeof(buf), t->held)) > 0)
		fwrite(buf, 1, n, stderr);
	fclose(t->held);
	t->held = NULL;
}

/* The TLS / plaintext aggregations, made on demand; 0, or -ENOMEM (then only ALL). */
static int top__split(struct top *t)
{
	if (t->aggs[CONSOLE_TLS_ONLY])
		return 0;
	t->aggs[CONSOLE_TLS_NONE] = agg__clone(t->aggs[CONSOLE_TLS_ALL]);
	t->aggs[CONSOLE_TLS_ONLY] = agg__new(t->slots);
	if (t->aggs[CONSOLE_TLS_NONE] && t->aggs[CONSOLE_TLS_ONLY])
		return 0;
	agg__free(t->aggs[CONSOLE_TLS_NONE]);
	agg__free(t->aggs[CONSOLE_TLS_ONLY]);
	t->aggs[CONSOLE_TLS_NONE] = t->aggs[CONSOLE_TLS_ONLY] = NULL;
	return -ENOMEM;
}

/* Points t->agg at what the view (or --tls in batch mode) asks for. */
static void top__choose(struct top *t)
{
	int tls = t->console ? console__view(t->console)->tls : t->env->tls;

	if (tls != CONSOLE_TLS_ALL && top__split(t))
		tls = CONSOLE_TLS_ALL;
	t->agg = t->aggs[tls];
}

static void top__header(struct top *t, struct runner *r, struct top_header *h)
{
	struct tracer_stats st;
	struct agg_row total;

	memset(h, 0, sizeof(*h));
	if (gethostname(h->host, sizeof(h->host) - 1))
		snprintf(h->host, sizeof(h->host), "?");
	runner__stats(r, &st);
	agg__total(t->agg, &total);
	h->npids = runner__pids(r, t->pids, TOP_PIDS);
	h->pids = t->pids;
	h->nports = runner__ports(r, t->ports, TOP_MAX_PORTS);
	h->ports = t->ports;
	h->now = time(NULL);
	h->uptime_s = runner__uptime_s(r);
	h->interval_s = t->env->interval_s;
	h->slots = agg__slots(t->agg);
	h->filled = agg__filled(t->agg);
	h->rps = total.p[AGG_LAST].rps;
	h->requests = total.p[AGG_TOTAL].requests;
	h->dropped = st.dropped + st.decode_errors;
	h->overflowed = agg__overflowed(t->agg);
	if (t->agg == t->aggs[CONSOLE_TLS_ONLY])
		h->only = "TLS";
	else if (t->agg == t->aggs[CONSOLE_TLS_NONE])
		h->only = "plaintext";
}

static void top__print(struct top *t, struct runner *r)
{
	struct top_header h;
	int na, nr;

	top__choose(t);
	top__header(t, r, &h);
	if (t->console) {
		console__update(t->console, t->agg, &h);
		return;
	}
	na = agg__rows(t->agg, 0, t->apis, TOP_ROWS);
	nr = agg__rows(t->agg, 1, t->routes, TOP_ROWS);
	topfmt__snapshot(stdout, &h, t->apis, na < TOP_ROWS ? na : TOP_ROWS, t->routes,
			 nr < TOP_ROWS ? nr : TOP_ROWS, &t->thr);
}

static void top_limits(const void *ctx, const char *api, double *warn_ms, double *crit_ms)
{
	alert_config__limits(ctx, api, warn_ms, crit_ms);
}

/* The alerts' thresholds, and their window in intervals; the aggregation to fill. */
static int top_config(void *ctx, const struct httplat_config *cfg)
{
	struct top *t = ctx;
	const struct alert_config *al = &cfg->alerts;
	double interval_s = t->env->interval_s;
	long slots = lround(al->window_s / interval_s);

	t->thr = (struct top_thresholds){al->warn_ms, al->crit_ms, top_limits, al};
	if (slots < 1)
		slots = 1;
	if (slots > AGG_MAX_SLOTS) {
		fprintf(stderr,
			"httplat top: the %ds window is %ld intervals of %gs; the window columns "
			"cover the last %d (%gs)\n",
			al->window_s, slots, interval_s, AGG_MAX_SLOTS, AGG_MAX_SLOTS * interval_s);
		slots = AGG_MAX_SLOTS;
	}
	t->slots = (int)slots;
	t->agg = t->aggs[CONSOLE_TLS_ALL] = agg__new(t->slots);
	t->apis = calloc(TOP_ROWS, sizeof(*t->apis));
	t->routes = calloc(TOP_ROWS, sizeof(*t->routes));
	if (!t->agg || !t->apis || !t->routes) {
		fprintf(stderr, "httplat top: out of memory\n");
		return -ENOMEM;
	}
	return 0;
}

static void top_record(void *ctx, const struct record *r)
{
	struct top *t = ctx;

	if (r->tls)
		top__split(t); /* the first TLS request: from now on they are told apart */
	agg__add(t->aggs[CONSOLE_TLS_ALL], r);
	if (t->aggs[CONSOLE_TLS_ONLY])
		agg__add(t->aggs[r->tls ? CONSOLE_TLS_ONLY : CONSOLE_TLS_NONE], r);
}

static void top_describe(void *ctx, struct runner *r, char *buf, size_t size)
{
	struct top *t = ctx;

	(void)r;
	snprintf(buf, size, "; refresh every %gs, window %gs", t->env->interval_s,
		 t->env->interval_s * t->slots);
}

static int top_start(void *ctx, struct runner *r)
{
	struct top *t = ctx;

	if (t->env->batch) {
		runner__set_max_wait(r, (int)ceil(t->env->interval_s * 1000));
		return 0;
	}
	t->console = console__open(&t->thr);
	if (!t->console) {
		fprintf(stderr, "httplat top: no usable terminal (%s); use --batch\n",
			strerror(errno));
		return -1;
	}
	console__set_tls(t->console, t->env->tls);
	top__hold_stderr(t);
	runner__set_max_wait(r, KEY_POLL_MS); /* keys must not wait for the kernel */
	top__print(t, r);		      /* the frame right away, numbers after one interval */
	return 0;
}

static int top_poll(void *ctx, struct runner *r)
{
	struct top *t = ctx;

	int quit, tls;

	(void)r;
	if (!t->console)
		return 0;
	tls = console__view(t->console)->tls;
	quit = console__input(t->console, t->agg);
	if (!quit && console__view(t->console)->tls != tls)
		top__print(t, r); /* s: show the other requests at once */
	return quit;
}

static int top_tick(void *ctx, struct runner *r, double elapsed_s)
{
	struct top *t = ctx;

	for (int i = 0; i < CONSOLE_TLS_N; i++)
		if (t->aggs[i])
			agg__tick(t->aggs[i], elapsed_s);
	top__print(t, r);
	return t->env->once || ferror(stdout) ? 1 : 0;
}

static void top_stop(void *ctx, struct runner *r)
{
	struct top *t = ctx;

	(void)r;
	console__close(t->console);
	t->console = NULL;
	top__release_stderr(t);
}

static void top_summary(void *ctx, struct runner *r, char *buf, size_t size)
{
	struct top *t = ctx;

	(void)r;
	snprintf(buf, size, ", %llu counted in an overflow row",
		 (unsigned long long)agg__overflowed(t->aggs[CONSOLE_TLS_ALL]));
}

int cmd_top(int argc, char **argv)
{
	struct top_env env = {.interval_s = 1};
	struct top t = {.env = &env, .saved_stderr = -1};
	struct runner_ops ops = {
		.name = "httplat top",
		.on_config = top_config,
		.on_record = top_record,
		.describe = top_describe,
		.on_start = top_start,
		.on_poll = top_poll,
		.on_tick = top_tick,
		.on_stop = top_stop,
		.summary = top_summary,
	};
	int ret;

	if (argp_parse(&top_argp, argc, argv, 0, NULL, &env))
		return 1;
	if (!isatty(STDOUT_FILENO) || env.once)
		env.batch = 1;
	ops.tick_s = env.interval_s;
	ret = runner__run(&env.cfg, &ops, &t);
	for (int i = 0; i < CONSOLE_TLS_N; i++)
		agg__free(t.aggs[i]);
	free(t.apis);
	free(t.routes);
	return ret;
}
