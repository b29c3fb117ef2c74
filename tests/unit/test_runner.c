/*
 * test_runner.c: the shared command loop against a stand-in tracer (this file defines the
 * tracer__* functions the runner calls; the real tracer.c is not in the library): stops on
 * count, duration, a callback, the stop flag; drains at exit; config [select] reaches the
 * tracer; process events; the loss summary from the counter table.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <linux/types.h>

#include "check.h"
#include "clock.h"
#include "httplat.h"
#include "counters.h"
#include "runner.h"

/* ---- the stand-in tracer ---- */

struct tracer {
	tracer_record_fn fn;
	void *ctx;
	tracer_proc_fn proc_fn;
	void *proc_ctx;
};

static struct {
	int fail_open;	  /* tracer__open fails with this errno */
	int fail_poll;	  /* the nth poll (1-based) returns -EIO */
	int per_poll;	  /* records delivered by each poll */
	int left;	  /* records still to deliver */
	int fork_at_poll; /* this poll reports a forked process */
	int polls, zero_polls, opened, freed;
	struct selection sel; /* what tracer__open was given */
	uint64_t requests;
} fake;

static char dir[] = "/tmp/httplat-test-runner-XXXXXX";
static char conf[600];

struct tracer *tracer__open(const struct selection *sel, tracer_record_fn fn, void *ctx)
{
	static struct tracer t;

	if (fake.fail_open) {
		errno = fake.fail_open;
		return NULL;
	}
	fake.opened++;
	fake.sel = *sel;
	t = (struct tracer){.fn = fn, .ctx = ctx};
	return &t;
}

int tracer__poll(struct tracer *t, int timeout_ms)
{
	struct record r = {.status = 200, .lport = 8000, .duration_ms = 1};
	int n = 0;

	fake.polls++;
	fake.zero_polls += timeout_ms == 0;
	if (fake.fail_poll && fake.polls == fake.fail_poll)
		return -EIO;
	if (fake.fork_at_poll && fake.polls == fake.fork_at_poll && t->proc_fn)
		t->proc_fn(t->proc_ctx, &(struct tracer_proc){TRACER_PROC_NEW, 12, 11, 0});
	for (; n < fake.per_poll && fake.left > 0; n++, fake.left--) {
		fake.requests++;
		t->fn(t->ctx, &r);
	}
	if (!n && timeout_ms > 0)
		usleep((useconds_t)timeout_ms * 1000);
	return n;
}

void tracer__stats(struct tracer *t, struct tracer_stats *out)
{
	(void)t;
	memset(out, 0, sizeof(*out));
	out->requests = fake.requests;
	out->ntargets = 2;
	out->kernel[HTTPLAT_C_RB_FULL] = 3;
	out->dropped = 3;
}

int tracer__pids(struct tracer *t, int *pids, int max)
{
	(void)t;
	if (max < 2)
		return 0;
	pids[0] = 10;
	pids[1] = 11;
	return 2;
}

int tracer__ports(struct tracer *t, unsigned short *ports, int max)
{
	(void)t;
	if (max < 1)
		return 0;
	ports[0] = 8000;
	return 1;
}

void tracer__set_proc_fn(struct tracer *t, tracer_proc_fn fn, void *ctx)
{
	t->proc_fn = fn;
	t->proc_ctx = ctx;
}

void tracer__free(struct tracer *t)
{
	fake.freed += t != NULL;
}

void tracer__occupancy(struct tracer *t, struct tracer_occupancy *out)
{
	(void)t;
	memset(out, 0, sizeof(*out));
}

const char *tracer__hooks_name(const struct tracer *t)
{
	(void)t;
	return "fake hooks";
}

/* ---- a command ---- */

struct cmd {
	int configs, records, ticks, polls, starts, stops, tracing_at_stop;
	int procs_new, procs_port, forked;
	double min_elapsed, max_elapsed;
	int stop_after_polls; /* on_poll returns 1 then */
	int fail_config, fail_tick;
	int raise_at_poll; /* on_poll raises the stop flag then */
	int exiting;
	struct httplat_config seen;
};

static struct cmd *cmd_now;

int httplat_exiting(void)
{
	return cmd_now->exiting;
}

static int on_config(void *ctx, const struct httplat_config *c)
{
	struct cmd *x = ctx;

	x->configs++;
	x->seen = *c;
	return x->fail_config ? -1 : 0;
}

static void on_record(void *ctx, const struct record *r)
{
	struct cmd *x = ctx;

	(void)r;
	x->records++;
}

static void on_proc(void *ctx, const struct tracer_proc *e)
{
	struct cmd *x = ctx;

	x->procs_new += e->kind == TRACER_PROC_NEW;
	x->procs_port += e->kind == TRACER_PORT_NEW && e->port == 8000;
	x->forked += e->kind == TRACER_PROC_NEW && e->pid == 12 && e->ppid == 11;
}

static int on_start(void *ctx, struct runner *r)
{
	struct cmd *x = ctx;

	(void)r;
	x->starts++;
	return 0;
}

static int on_poll(void *ctx, struct runner *r)
{
	struct cmd *x = ctx;

	(void)r;
	x->polls++;
	if (x->stop_after_polls && x->polls >= x->stop_after_polls)
		return 1;
	if (x->raise_at_poll && x->polls >= x->raise_at_poll)
		x->exiting = 1; /* as SIGTERM would */
	return 0;
}

static int on_tick(void *ctx, struct runner *r, double elapsed_s)
{
	struct cmd *x = ctx;

	(void)r;
	if (!x->ticks++ || elapsed_s < x->min_elapsed)
		x->min_elapsed = elapsed_s;
	if (elapsed_s > x->max_elapsed)
		x->max_elapsed = elapsed_s;
	return x->fail_tick ? -1 : 0;
}

static void on_stop(void *ctx, struct runner *r)
{
	struct cmd *x = ctx;
	struct tracer_stats st;

	x->stops++;
	x->tracing_at_stop = runner__tracing(r);
	runner__stats(r, &st); /* works in either case */
}

static const struct runner_ops base = {
    .name = "test",
    .on_config = on_config,
    .on_record = on_record,
    .on_proc = on_proc,
    .on_start = on_start,
    .on_poll = on_poll,
    .on_tick = on_tick,
    .on_stop = on_stop,
};

/* The runner on a config made from conf's text (and overrides) with fresh fakes. */
static int run(struct cmd *x, const struct runner_ops *ops, const char *text,
	       struct httplat_config *c)
{
	FILE *f = fopen(conf, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
	snprintf(c->path, sizeof(c->path), "%s", conf);
	c->path_given = 1;
	cmd_now = x;
	return runner__run(c, ops, x);
}

static struct httplat_config *config(void)
{
	static struct httplat_config c;

	config__defaults(&c);
	return &c;
}

static void fresh(int left, int per_poll)
{
	memset(&fake, 0, sizeof(fake));
	fake.left = left;
	fake.per_poll = per_poll;
}

static void test_count_stops_without_drain(void)
{
	struct runner_ops ops = base;
	struct cmd x = {0};

	fresh(10, 2);
	ops.count = 3;
	CHECK_INT(run(&x, &ops, "", config()), 0);
	CHECK_INT(x.records, 3);       /* the 4th of the second batch is not delivered */
	CHECK_INT(fake.zero_polls, 0); /* --count has what it wants: no drain */
	CHECK_INT(x.starts, 1);
	CHECK_INT(x.stops, 1);
	CHECK_INT(x.tracing_at_stop, 1);
	CHECK_INT(fake.freed, 1);
}

static void test_signal_then_drain(void)
{
	struct runner_ops ops = base;
	struct cmd x = {.raise_at_poll = 3};

	fresh(100, 1);
	CHECK_INT(run(&x, &ops, "", config()), 0);
	CHECK_INT(x.polls, 3);	       /* the flag, raised during poll 3, ends the loop */
	CHECK_INT(fake.zero_polls, 1); /* then one drain */
	CHECK_INT(x.records, 4);
}

static void test_duration_and_ticks(void)
{
	struct runner_ops ops = base;
	struct cmd x = {0};
	int64_t t0 = clock__mono_ms(), dt;

	fresh(0, 0);
	ops.duration_s = 0.35;
	ops.tick_s = 0.1;
	CHECK_INT(run(&x, &ops, "", config()), 0);
	dt = clock__mono_ms() - t0;
	CHECK(dt >= 340 && dt < 1500);
	CHECK(x.ticks >= 2 && x.ticks <= 4);
	CHECK(x.min_elapsed > 0.05 && x.max_elapsed < 0.5);
	CHECK_INT(fake.zero_polls, 1);
}

static void test_callbacks_stop(void)
{
	struct runner_ops ops = base;
	struct cmd x = {.stop_after_polls = 2}, y = {.fail_tick = 1};

	fresh(0, 0);
	CHECK_INT(run(&x, &ops, "", config()), 0); /* > 0: a normal end */
	CHECK_INT(x.polls, 2);
	fresh(0, 0);
	ops.tick_s = 0.01;
	CHECK_INT(run(&y, &ops, "", config()), 1); /* < 0: a failure */
	CHECK_INT(y.ticks, 1);
	CHECK_INT(y.stops, 1);
}

static void test_poll_error(void)
{
	struct runner_ops ops = base;
	struct cmd x = {0};

	fresh(0, 0);
	fake.fail_poll = 2;
	CHECK_INT(run(&x, &ops, "", config()), 1);
	CHECK_INT(x.polls, 1);
	CHECK_INT(x.stops, 1);
}

/* [select] of the file, with a flag over it, is what the tracer gets. */
static void test_config_select_reaches_tracer(void)
{
	struct httplat_config *c = config();
	struct runner_ops ops = base;
	struct cmd x = {.stop_after_polls = 1};

	fresh(0, 0);
	c->verbose = 2;
	config__override(c, "select", "ports", "9000", "port");
	CHECK_INT(
	    run(&x, &ops, "[select]\npids = 10, 11\nports = 8000\n[alerts]\nwarn_ms = 42\n", c), 0);
	CHECK_INT(fake.sel.npids, 2);
	CHECK_INT(fake.sel.pids[1], 11);
	CHECK_INT(fake.sel.nports, 1);
	CHECK_INT(fake.sel.ports[0], 9000);
	CHECK_INT(fake.sel.verbose, 2);
	CHECK(fake.sel.classifier != NULL);
	CHECK(x.seen.alerts.warn_ms == 42); /* on_config sees the layered config */
}

static void test_failures_before_the_loop(void)
{
	struct runner_ops ops = base;
	struct cmd bad_file = {0}, bad_config = {.fail_config = 1}, no_tracer = {0};

	fresh(0, 0);
	CHECK_INT(run(&bad_file, &ops, "[alerts]\nwarn = 1\n", config()), 1);
	CHECK_INT(bad_file.configs, 0); /* a config error stops before anything starts */
	CHECK_INT(bad_file.stops, 0);
	CHECK_INT(fake.opened, 0);
	CHECK_INT(run(&bad_config, &ops, "", config()), 1);
	CHECK_INT(bad_config.stops, 1); /* on_stop tears down what on_config made */
	CHECK_INT(fake.opened, 0);
	fake.fail_open = EPERM;
	CHECK_INT(run(&no_tracer, &ops, "", config()), 1);
	CHECK_INT(no_tracer.starts, 0);
	CHECK_INT(no_tracer.stops, 1);
	CHECK_INT(no_tracer.tracing_at_stop, 0);
}

static void test_process_events(void)
{
	struct runner_ops ops = base;
	struct cmd x = {.stop_after_polls = 3};

	fresh(0, 0);
	fake.fork_at_poll = 2;
	CHECK_INT(run(&x, &ops, "", config()), 0);
	CHECK_INT(x.procs_port, 1); /* the replay: every port once */
	CHECK_INT(x.procs_new, 3);  /* every process once, then the fork */
	CHECK_INT(x.forked, 1);
}

static void test_summary_from_the_table(void)
{
	struct tracer_stats st = {.requests = 7, .decode_errors = 1, .dropped = 5};
	char *buf = NULL, want[64];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	st.kernel[HTTPLAT_C_RB_FULL] = 5;
	runner__print_summary(f, "httplat top", &st, ", 2 counted in an overflow row");
	fclose(f);
	CHECK(strstr(buf, "httplat top: 7 requests, 5 lost (ringbuf_full 5, ") == buf);
	CHECK(strstr(buf, "pipeline_full 0") && strstr(buf, "conn_evicted 0"));
	CHECK(strstr(buf, "), 1 undecodable, 2 counted in an overflow row\n  kernel: "));
	/* every counter of bpf/httplat.h, by its column name */
	for (int i = 0; i < HTTPLAT_C__COUNT; i++) {
		snprintf(want, sizeof(want), " %s=%d", counter__name(i), i == HTTPLAT_C_RB_FULL ? 5 : 0);
		CHECK(strstr(buf, want) != NULL);
	}
	free(buf);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	snprintf(conf, sizeof(conf), "%s/httplat.conf", dir);
	setenv("HTTPLAT_SLACK_WEBHOOK", "", 1);
	RUN(test_count_stops_without_drain);
	RUN(test_signal_then_drain);
	RUN(test_duration_and_ticks);
	RUN(test_callbacks_stop);
	RUN(test_poll_error);
	RUN(test_config_select_reaches_tracer);
	RUN(test_failures_before_the_loop);
	RUN(test_process_events);
	RUN(test_summary_from_the_table);
	unlink(conf);
	rmdir(dir);
	return CHECK_DONE();
}
