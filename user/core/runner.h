/*
 * runner.h: what every tracing command (trace, top, run) shares: the config layering, the
 * selection, the tracer, the poll and tick loop, the drain at exit and the loss summary.
 * Commands parse their options and supply callbacks.
 */
#ifndef HTTPLAT_RUNNER_H
#define HTTPLAT_RUNNER_H

#include <stddef.h>

#include "cli.h"
#include "config.h"
#include "record.h"
#include "tracer.h"

struct runner;

/* The stop flag, raised by SIGINT and SIGTERM: main.c owns it (a unit test brings its own). */
int httplat_exiting(void);

/*
 * Every callback is optional and gets runner__run's ctx. An int callback that returns
 * non-zero stops the loop: < 0 is a failure (exit status 1; say why on stderr), > 0 a
 * normal end. All run on the thread that called runner__run.
 */
struct runner_ops {
	const char *name;  /* prefix of the runner's messages: "httplat top" */
	double tick_s;	   /* on_tick every tick_s on a steady beat; 0 = never */
	int max_wait_ms;   /* longest wait for the kernel in one poll; 0 = 100 ms */
	long count;	   /* stop after this many records (no drain then); 0 = never */
	double duration_s; /* stop after this long; 0 = never */

	/* The config is final (file, environment, flags); the tracer is not open yet. */
	int (*on_config)(void *ctx, const struct httplat_config *c);
	void (*on_record)(void *ctx, const struct record *r);
	/* Process and port changes; at start, every traced process and port once (NEW). */
	void (*on_proc)(void *ctx, const struct tracer_proc *e);
	/* Appended to the "NAME: tracing ..." line that says tracing has started. */
	void (*describe)(void *ctx, struct runner *r, char *buf, size_t size);
	int (*on_start)(void *ctx, struct runner *r);
	int (*on_poll)(void *ctx, struct runner *r); /* after each drain */
	int (*on_tick)(void *ctx, struct runner *r, double elapsed_s);
	/*
	 * After the final drain, while runner__stats still works; also when on_config or the
	 * start failed (runner__tracing is 0 then), so a command tears down one way.
	 */
	void (*on_stop)(void *ctx, struct runner *r);
	/* Appended to the exit summary's first line: ", 3 counted in an overflow row". */
	void (*summary)(void *ctx, struct runner *r, char *buf, size_t size);
};

/*
 * The option groups every tracing command has, as one argp child (input: struct
 * httplat_config *): the selection (selection_argp), --config, and with runner_alerts_argp the
 * alert flags. Positional arguments are refused.
 */
extern const struct argp runner_argp;
extern const struct argp runner_alerts_argp;

/*
 * Call after argp_parse (with runner_argp or runner_alerts_argp as a child, input c):
 * config__finish, the selection, the route resolver ([routes], docs/routes.md), on_config,
 * the tracer, the apps' OpenAPI documents, the loop until a stop (signal, count, duration,
 * a callback), the drain, on_stop, the summary. Every record reaches on_record with its
 * route set to the app's template; httplat's own document requests never do.
 * Returns the exit status.
 */
int runner__run(struct httplat_config *c, const struct runner_ops *ops, void *ctx);

/*
 * For callbacks. Counters are zero, lists empty, before the tracer is open; requests leave
 * out httplat's own document requests.
 */
int runner__tracing(const struct runner *r);
void runner__stats(struct runner *r, struct tracer_stats *out);
/* How full the kernel's tables are (walks them: for periodic logs). Zero before the tracer. */
void runner__occupancy(struct runner *r, struct tracer_occupancy *out);
int runner__pids(struct runner *r, int *pids, int max);
int runner__ports(struct runner *r, unsigned short *ports, int max);
double runner__uptime_s(const struct runner *r);
/* The kernel data path in use (tracer__hooks_name), "" before the tracer is open. */
const char *runner__hooks(const struct runner *r);
void runner__set_max_wait(struct runner *r, int ms);

/*
 * The exit summary: "NAME: N requests, N lost (ringbuf_full 0, pipeline_full 0, ...), N
 * undecodable<extra>": every loss counter by name (requests or connections lost), and a line with
 * every kernel counter from bpf/httplat.h's table ("  kernel: ringbuf_full=0 ...").
 */
void runner__print_summary(FILE *f, const char *name, const struct tracer_stats *st,
			   const char *extra);

#endif
