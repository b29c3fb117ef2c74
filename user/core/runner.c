/* runner.c: the one tracing loop: config layering, tracer, poll/tick, drain, loss summary. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/types.h>

#include "clock.h"
#include "counters.h"
#include "httplat.h"
#include "routes.h"
#include "runner.h"

#define DEFAULT_WAIT_MS 100
#define BANNER_MAX 16 /* pids and ports named on the "tracing" line */

struct runner {
	const struct runner_ops *ops;
	void *ctx;
	struct selection sel;
	struct tracer *tracer;
	struct routes *routes; /* the route of every record */
	int max_wait_ms;
	long seen;
	int stop; /* 0 go on, > 0 done, < 0 failed */
	double start_s;
};

static error_t runner_parse(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case ARGP_KEY_INIT:
		for (int i = 0; i < 2; i++) /* both children lists have two */
			state->child_inputs[i] = state->input;
		break;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s'", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child runner_children[] = {
	{&selection_argp, 0, "Process selection and labels:", 1},
	{&config_argp, 0, "The config file:", 2},
	{},
};

static const struct argp_child runner_alerts_children[] = {
	{&selection_argp, 0, "Process selection and labels:", 1},
	{&config_alerts_argp, 0, "Alert thresholds and window, and the config file:", 2},
	{},
};

const struct argp runner_argp = {.parser = runner_parse, .children = runner_children};
const struct argp runner_alerts_argp = {.parser = runner_parse,
					.children = runner_alerts_children};

int runner__tracing(const struct runner *r)
{
	return r->tracer != NULL;
}

void runner__stats(struct runner *r, struct tracer_stats *out)
{
	struct routes_stats rs;

	memset(out, 0, sizeof(*out));
	if (r->tracer)
		tracer__stats(r->tracer, out);
	/* httplat's own document requests are not the app's: no sink saw them */
	routes__stats(r->routes, &rs);
	out->requests -= rs.probes < out->requests ? rs.probes : out->requests;
}

int runner__pids(struct runner *r, int *pids, int max)
{
	return r->tracer ? tracer__pids(r->tracer, pids, max) : 0;
}

int runner__ports(struct runner *r, unsigned short *ports, int max)
{
	return r->tracer ? tracer__ports(r->tracer, ports, max) : 0;
}

void runner__occupancy(struct runner *r, struct tracer_occupancy *out)
{
	memset(out, 0, sizeof(*out));
	if (r->tracer)
		tracer__occupancy(r->tracer, out);
}

const char *runner__hooks(const struct runner *r)
{
	return r->tracer ? tracer__hooks_name(r->tracer) : "";
}

double runner__uptime_s(const struct runner *r)
{
	return clock__mono_s() - r->start_s;
}

void runner__set_max_wait(struct runner *r, int ms)
{
	r->max_wait_ms = ms > 0 ? ms : DEFAULT_WAIT_MS;
}

void runner__print_summary(FILE *f, const char *name, const struct tracer_stats *st,
			   const char *extra)
{
	fprintf(f, "%s: %llu requests, %llu lost (", name, (unsigned long long)st->requests,
		(unsigned long long)st->dropped);
	for (int i = 0, n = 0; i < HTTPLAT_C__COUNT; i++)
		if (counter__is_loss(i))
			fprintf(f, "%s%s %llu", n++ ? ", " : "", counter__name(i),
				(unsigned long long)st->kernel[i]);
	fprintf(f, "), %llu undecodable%s\n  kernel:", (unsigned long long)st->decode_errors,
		extra ? extra : "");
	for (int i = 0; i < HTTPLAT_C__COUNT; i++)
		fprintf(f, " %s=%llu", counter__name(i), (unsigned long long)st->kernel[i]);
	fprintf(f, "\n");
}

static void runner__record(void *vr, const struct record *rec)
{
	struct runner *r = vr;
	struct record named;

	if (r->ops->count && r->seen >= r->ops->count)
		return;
	named = *rec;
	if (routes__classify(r->routes, &named, clock__mono_ms()))
		return; /* httplat's own request for the app's document */
	r->seen++;
	if (r->ops->on_record)
		r->ops->on_record(r->ctx, &named);
	if (r->ops->count && r->seen >= r->ops->count && !r->stop)
		r->stop = 1;
}

static void runner__proc(void *vr, const struct tracer_proc *e)
{
	struct runner *r = vr;
	int64_t now = clock__mono_ms();

	switch (e->kind) {
	case TRACER_PORT_NEW:
		routes__port(r->routes, e->port, e->pid, now);
		break;
	case TRACER_PROC_NEW: /* a (re)started worker or a new server: read its document again */
	case TRACER_PROC_EXEC:
		routes__proc_event(r->routes, e->pid, now, -1);
		break;
	default:
		break;
	}
	if (r->ops->on_proc)
		r->ops->on_proc(r->ctx, e);
}

/* Every traced process and port once, as if each had just appeared. */
static void runner__replay(struct runner *r)
{
	int pids[HTTPLAT_MAX_TARGETS];
	unsigned short ports[TRACER_MAX_PORTS];
	int np = tracer__pids(r->tracer, pids, HTTPLAT_MAX_TARGETS);
	int nport = tracer__ports(r->tracer, ports, TRACER_MAX_PORTS);

	for (int i = 0; i < np; i++) {
		/* the documents of the servers running now, before the first record */
		routes__proc_event(r->routes, pids[i], clock__mono_ms(), 0);
		if (r->ops->on_proc)
			r->ops->on_proc(r->ctx, &(struct tracer_proc){TRACER_PROC_NEW, pids[i], 0, 0});
	}
	for (int i = 0; i < nport; i++)
		runner__proc(r, &(struct tracer_proc){TRACER_PORT_NEW, 0, 0, ports[i]});
}

/* "NAME: tracing 2 processes (pids 10,11); ports 8000<describe>" */
static void runner__banner(struct runner *r)
{
	int pids[BANNER_MAX], np = tracer__pids(r->tracer, pids, BANNER_MAX);
	unsigned short ports[BANNER_MAX];
	int nport = tracer__ports(r->tracer, ports, BANNER_MAX);
	struct tracer_stats st;
	char extra[512] = "";

	tracer__stats(r->tracer, &st);
	if (r->ops->describe)
		r->ops->describe(r->ctx, r, extra, sizeof(extra));
	fprintf(stderr, "%s: tracing %d process%s", r->ops->name, st.ntargets,
		st.ntargets == 1 ? "" : "es");
	for (int i = 0; i < np; i++)
		fprintf(stderr, "%s%d", i ? "," : " (pids ", pids[i]);
	if (np)
		fprintf(stderr, "%s", np < st.ntargets ? ",...)" : ")");
	fprintf(stderr, "; ports");
	for (int i = 0; i < nport; i++)
		fprintf(stderr, " %u", ports[i]);
	fprintf(stderr, "%s%s\n", nport ? "" : " none yet", extra);
}

/* How long the next poll may wait: up to max_wait, the next tick or the end. */
static int runner__wait_ms(const struct runner *r, double now, double next_tick)
{
	double until = r->max_wait_ms / 1000.0;

	if (r->ops->tick_s > 0 && next_tick - now < until)
		until = next_tick - now;
	if (r->ops->duration_s > 0 && r->start_s + r->ops->duration_s - now < until)
		until = r->start_s + r->ops->duration_s - now;
	return until > 0 ? (int)ceil(until * 1000) : 0;
}

static void runner__loop(struct runner *r)
{
	const struct runner_ops *ops = r->ops;
	double last = clock__mono_s(), next = last + ops->tick_s, now;
	int err;

	while (!r->stop && !httplat_exiting()) {
		err = tracer__poll(r->tracer, runner__wait_ms(r, clock__mono_s(), next));
		fflush(stdout); /* what on_record printed: one write per drained batch */
		if (err < 0) {
			fprintf(stderr, "%s: reading events: %s\n", ops->name, strerror(-err));
			r->stop = -1;
			break;
		}
		routes__poll(r->routes, clock__mono_ms()); /* documents fetched meanwhile */
		if (ops->on_poll && !r->stop)
			r->stop = ops->on_poll(r->ctx, r);
		if (r->stop)
			break;
		now = clock__mono_s();
		if (ops->tick_s > 0 && now >= next) {
			double elapsed = now - last;

			last = now;
			next += ops->tick_s;
			if (next <= now) /* fell behind (suspended?): restart the beat */
				next = now + ops->tick_s;
			if (ops->on_tick)
				r->stop = ops->on_tick(r->ctx, r, elapsed);
		}
		if (ops->duration_s > 0 && now - r->start_s >= ops->duration_s && !r->stop)
			r->stop = 1;
	}
}

static void runner__summary(struct runner *r)
{
	struct tracer_stats st;
	char extra[512] = "";
	size_t n;

	runner__stats(r, &st);
	routes__summary(r->routes, extra, sizeof(extra));
	n = strlen(extra);
	if (r->ops->summary)
		r->ops->summary(r->ctx, r, extra + n, sizeof(extra) - n);
	if (isatty(STDERR_FILENO))
		fputc('\n', stderr); /* past the ^C */
	runner__print_summary(stderr, r->ops->name, &st, extra);
}

/* The route resolver from [routes], the --route patterns and the selection's classifier. */
static int runner__routes(struct runner *r, const struct httplat_config *c, char *err,
			  size_t errsz)
{
	struct routes_config *rc = malloc(sizeof(*rc));

	if (!rc) {
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	*rc = c->routes;
	rc->verbose = c->verbose;
	rc->npattern = 0;
	for (int i = 0; i < c->select.nroute && i < ROUTES_MAX_PATTERNS; i++)
		snprintf(rc->pattern[rc->npattern++], sizeof(rc->pattern[0]), "%s",
			 c->select.route[i]);
	rc->nonly_ports = 0;
	for (int i = 0; i < c->select.nports && i < ROUTES_MAX_PORTS; i++)
		rc->only_ports[rc->nonly_ports++] = c->select.ports[i];
	r->routes = routes__new(rc, r->sel.classifier, err, errsz);
	free(rc);
	return r->routes ? 0 : -EINVAL;
}

int runner__run(struct httplat_config *c, const struct runner_ops *ops, void *ctx)
{
	struct runner r = {.ops = ops, .ctx = ctx, .start_s = clock__mono_s()};
	char err[512];
	int configured = 0;

	runner__set_max_wait(&r, ops->max_wait_ms);
	if (config__finish(c, err, sizeof(err)) ||
	    selection__from_config(&r.sel, c, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", ops->name, err);
		r.stop = -1;
		goto cleanup;
	}
	configured = 1;
	if (runner__routes(&r, c, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", ops->name, err);
		r.stop = -1;
		goto cleanup;
	}
	if (ops->on_config && ops->on_config(ctx, c)) {
		r.stop = -1;
		goto cleanup;
	}
	r.tracer = tracer__open(&r.sel, runner__record, &r);
	if (!r.tracer) {
		fprintf(stderr, "%s: cannot start tracing: %s\n", ops->name, strerror(errno));
		r.stop = -1;
		goto cleanup;
	}
	runner__replay(&r);
	tracer__set_proc_fn(r.tracer, runner__proc, &r);
	routes__settle(r.routes, -1, clock__mono_ms()); /* the documents, before the first record */
	runner__banner(&r);
	if (ops->on_start)
		r.stop = ops->on_start(ctx, &r);
	r.start_s = clock__mono_s();
	runner__loop(&r);
	/* what the kernel handed over before the stop, unless --count has what it wants */
	if (!ops->count || r.seen < ops->count)
		tracer__poll(r.tracer, 0);
	fflush(stdout);
cleanup:
	if (configured && ops->on_stop)
		ops->on_stop(ctx, &r);
	if (r.tracer)
		runner__summary(&r);
	tracer__free(r.tracer);
	routes__free(r.routes);
	selection__free(&r.sel);
	return r.stop < 0 ? 1 : 0;
}
