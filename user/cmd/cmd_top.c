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
#include "topfmt.h"
#include "tracer.h"

#define TOP_ROWS (AGG_MAX_ROUTES + 2)
#define TOP_PIDS 64
#define KEY_POLL_MS 50 /* how long keys may wait while the tracer has nothing */

enum { OPT_BATCH = 'b', OPT_DELAY = 'd', OPT_ONCE = 1000 };

struct top_env {
	struct selection sel;
	struct httplat_config cfg; /* thresholds, window and [select] shared with the alerts */
	double interval_s;
	int batch, once;
};

static const struct argp_option options[] = {
	{"delay", OPT_DELAY, "SECONDS", 0, "Refresh interval (default 1; 0.1 to 3600)", 0},
	{"batch", OPT_BATCH, NULL, 0,
     "Plain-text snapshots every interval (also when stdout is not a terminal)", 0},
	{"once", OPT_ONCE, NULL, 0, "Print one snapshot after one interval and exit", 0},
	{},
};

static const char doc[] =
	"Live latency of the traced uvicorn processes, per API and per route.\v"
	"Latency cells are yellow above --warn-ms and red above --crit-ms, per API as the alerts "
	"(config file, then flags); REQS..ERR% cover the alerts' --window.\n\n"
	"Keys: < > sort column, r reverse, / filter by api or path, t per-route view, "
	"p pause, up/down select, Enter latency histogram and sparklines, q quit.\n\n"
	"EXAMPLES:\n"
	"  httplat top                        # every uvicorn process, full screen\n"
	"  httplat top -d 5 --api gen=/model  # refresh every 5 s, label /model as gen\n"
	"  httplat top --batch --pid 1234     # text snapshots, like top -b\n"
	"  httplat top --once --port 8000     # one snapshot after one interval";

static int parse_seconds(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static error_t top_parse(int key, char *arg, struct argp_state *state)
{
	struct top_env *env = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &env->sel;
		state->child_inputs[1] = &env->cfg;
		break;
	case OPT_DELAY:
		if (parse_seconds(arg, 0.1, 3600, &env->interval_s))
			argp_error(state, "invalid -d '%s': want seconds from 0.1 to 3600", arg);
		break;
	case OPT_BATCH:
		env->batch = 1;
		break;
	case OPT_ONCE:
		env->once = 1;
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
	{&selection_argp, 0, "Process selection and labels:", 1},
	{&config_argp, 0,
	 "Thresholds and window, as the alerts (top uses --config, --warn-ms, --crit-ms, --window):",
	 2},
	{},
};

static const struct argp top_argp = {
	.options = options,
	.parser = top_parse,
	.doc = doc,
	.children = children,
};

struct top {
	struct agg *agg;
	struct tracer *tracer;
	struct console *console;
	struct agg_row *apis, *routes;
	int pids[TOP_PIDS];
	uint16_t ports[AGG_MAX_PORTS];
	double start;
	struct top_thresholds thr;
	int slots;	  /* intervals in the window */
	int saved_stderr; /* the terminal's stderr while the console holds the screen, or -1 */
	FILE *held;	  /* what was written to stderr meanwhile */
};

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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

/* What was seen and what was lost, on stderr at exit. */
static void top__summary(struct top *t)
{
	struct tracer_stats st;

	tracer__stats(t->tracer, &st);
	fprintf(stderr,
		"httplat top: %llu requests, %llu events lost, %llu undecodable, "
		"%llu counted in an overflow row\n",
		(unsigned long long)st.requests, (unsigned long long)st.dropped,
		(unsigned long long)st.decode_errors, (unsigned long long)agg__overflowed(t->agg));
}

static void on_record(void *ctx, const struct record *r)
{
	struct top *t = ctx;

	agg__add(t->agg, r);
}

/* Ports the tracer follows, then any other port seen in records. */
static int top__ports(struct top *t)
{
	unsigned short traced[AGG_MAX_PORTS];
	uint16_t seen[AGG_MAX_PORTS];
	int n = 0, nt = tracer__ports(t->tracer, traced, AGG_MAX_PORTS);
	int ns = agg__ports(t->agg, seen, AGG_MAX_PORTS);

	for (int i = 0; i < nt + ns && n < AGG_MAX_PORTS; i++) {
		uint16_t p = i < nt ? traced[i] : seen[i - nt];
		int dup = 0;

		for (int j = 0; j < n; j++)
			dup |= t->ports[j] == p;
		if (!dup)
			t->ports[n++] = p;
	}
	return n;
}

static void top__header(struct top *t, const struct top_env *env, struct top_header *h)
{
	struct tracer_stats st;
	struct agg_row total;

	memset(h, 0, sizeof(*h));
	if (gethostname(h->host, sizeof(h->host) - 1))
		snprintf(h->host, sizeof(h->host), "?");
	tracer__stats(t->tracer, &st);
	agg__total(t->agg, &total);
	h->npids = tracer__pids(t->tracer, t->pids, TOP_PIDS);
	h->pids = t->pids;
	h->nports = top__ports(t);
	h->ports = t->ports;
	h->now = time(NULL);
	h->uptime_s = mono_now() - t->start;
	h->interval_s = env->interval_s;
	h->slots = agg__slots(t->agg);
	h->filled = agg__filled(t->agg);
	h->rps = total.p[AGG_LAST].rps;
	h->requests = total.p[AGG_TOTAL].requests;
	h->dropped = st.dropped + st.decode_errors;
	h->overflowed = agg__overflowed(t->agg);
}

static void top__print(struct top *t, const struct top_env *env)
{
	struct top_header h;
	int na, nr;

	top__header(t, env, &h);
	if (t->console) {
		console__update(t->console, t->agg, &h);
		return;
	}
	na = agg__rows(t->agg, 0, t->apis, TOP_ROWS);
	nr = agg__rows(t->agg, 1, t->routes, TOP_ROWS);
	topfmt__snapshot(stdout, &h, t->apis, na < TOP_ROWS ? na : TOP_ROWS, t->routes,
			 nr < TOP_ROWS ? nr : TOP_ROWS, &t->thr);
}

/* Polls records and keys until an interval ends; returns 1 to go on, 0 to stop, -errno. */
static int top__run(struct top *t, const struct top_env *env)
{
	double last = mono_now(), next = last + env->interval_s, now;
	int err;

	while (!httplat_exiting()) {
		int wait_ms = (int)ceil((next - mono_now()) * 1000);

		if (wait_ms < 0)
			wait_ms = 0;
		if (t->console && wait_ms > KEY_POLL_MS)
			wait_ms = KEY_POLL_MS;
		err = tracer__poll(t->tracer, wait_ms);
		if (err < 0 && err != -EINTR)
			return err;
		if (t->console && console__input(t->console, t->agg))
			return 0;
		now = mono_now();
		if (now < next)
			continue;
		agg__tick(t->agg, now - last);
		last = now;
		next += env->interval_s;
		if (next <= now) /* fell behind (suspended?): restart the beat */
			next = now + env->interval_s;
		top__print(t, env);
		if (env->once || ferror(stdout))
			return 0;
	}
	return 0;
}

static void top_limits(const void *ctx, const char *api, double *warn_ms, double *crit_ms)
{
	alert_config__limits(ctx, api, warn_ms, crit_ms);
}

/* The config file's [select], the alerts' thresholds, and their window in intervals. */
static int top__configure(struct top_env *env, struct top *t)
{
	const struct alert_config *al = &env->cfg.alerts;
	long slots = lround(al->window_s / env->interval_s);
	char err[512];

	if (config__apply_selection(&env->cfg, &env->sel, err, sizeof(err))) {
		fprintf(stderr, "httplat top: %s\n", err);
		return -EINVAL;
	}
	t->thr = (struct top_thresholds){al->warn_ms, al->crit_ms, top_limits, al};
	if (slots < 1)
		slots = 1;
	if (slots > AGG_MAX_SLOTS) {
		fprintf(stderr,
			"httplat top: the %ds window is %ld intervals of %gs; the window columns "
			"cover the last %d (%gs)\n",
			al->window_s, slots, env->interval_s, AGG_MAX_SLOTS,
			AGG_MAX_SLOTS * env->interval_s);
		slots = AGG_MAX_SLOTS;
	}
	t->slots = (int)slots;
	return 0;
}

int cmd_top(int argc, char **argv)
{
	struct top_env env = {.interval_s = 1};
	struct top t = {0};
	int err, ret = 1;

	if (argp_parse(&top_argp, argc, argv, 0, NULL, &env) || top__configure(&env, &t))
		goto cleanup;
	if (!isatty(STDOUT_FILENO) || env.once)
		env.batch = 1;
	t.agg = agg__new(t.slots);
	t.apis = calloc(TOP_ROWS, sizeof(*t.apis));
	t.routes = calloc(TOP_ROWS, sizeof(*t.routes));
	if (!t.agg || !t.apis || !t.routes) {
		fprintf(stderr, "httplat top: out of memory\n");
		goto cleanup;
	}
	t.start = mono_now();
	t.tracer = tracer__open(&env.sel, on_record, &t);
	if (!t.tracer) {
		fprintf(stderr, "httplat top: cannot start tracing: %s\n", strerror(errno));
		goto cleanup;
	}
	fprintf(stderr, "httplat top: tracing %d process(es); refresh every %gs, window %gs\n",
		tracer__pids(t.tracer, t.pids, TOP_PIDS), env.interval_s, env.interval_s * t.slots);
	if (!env.batch) {
		t.console = console__open(&t.thr);
		if (t.console)
			top__hold_stderr(&t);
		if (!t.console) {
			fprintf(stderr, "httplat top: no usable terminal (%s); use --batch\n",
				strerror(errno));
			goto cleanup;
		}
		top__print(&t, &env); /* the frame right away, numbers after one interval */
	}
	err = top__run(&t, &env);
	console__close(t.console);
	t.console = NULL;
	top__release_stderr(&t);
	top__summary(&t);
	if (err < 0) {
		fprintf(stderr, "httplat top: tracing failed: %s\n", strerror(-err));
		goto cleanup;
	}
	ret = 0;
cleanup:
	console__close(t.console);
	top__release_stderr(&t);
	tracer__free(t.tracer);
	agg__free(t.agg);
	free(t.apis);
	free(t.routes);
	selection__free(&env.sel);
	return ret;
}
