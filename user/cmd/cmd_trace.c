/* cmd_trace.c: `httplat trace`: one line (or JSON object) per completed request, live. */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "commands.h"
#include "config.h"
#include "decode.h"
#include "parse.h"
#include "record.h"
#include "runner.h"
#include "text.h"

struct trace_env {
	struct httplat_config cfg; /* [select] of the config file, then the flags */
	int json;
	long count;	   /* stop after this many requests, 0 = never */
	double duration_s; /* stop after this long, 0 = never */
	int header_done;
};

static const char doc[] =
	"Print one line per completed HTTP request served by uvicorn processes.\v"
	"Columns: start time, pid, api, method, status, duration and time to first byte (ms), "
	"accept-queue and socket wait before the app read the request (ms; - unknown), bytes in "
	"and out, route (the app's template), path. Status 0 means the request got no "
	"response (client gone, app died): its duration is the time until it was abandoned, not a "
	"latency.\n\n"
	"EXAMPLES:\n"
	"  httplat trace                     # every uvicorn server on this host\n"
	"  httplat trace --json | jq .       # one JSON object per request\n"
	"  httplat trace --port 8000 -c 100  # 100 requests to port 8000, then exit\n"
	"  httplat trace --pid 1234 --api gen=/v1/generate\n"
	"  httplat trace --config /etc/httplat.conf -d 30s  # its [select], for 30 seconds\n";

enum { OPT_JSON = 'j', OPT_COUNT = 'c', OPT_DURATION = 'd' };

static const struct argp_option options[] = {
	{"json", OPT_JSON, NULL, 0, "One JSON object per request", 0},
	{"count", OPT_COUNT, "N", 0, "Exit after N requests", 0},
	{"duration", OPT_DURATION, "DURATION", 0, "Exit after DURATION (seconds, or 500ms, 5m, 1h)",
	 0},
	{},
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct trace_env *env = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &env->cfg;
		break;
	case OPT_JSON:
		env->json = 1;
		break;
	case OPT_COUNT:
		if (parse__long(arg, 1, 1L << 40, &env->count))
			argp_error(state, "invalid --count '%s': want a number, at least 1", arg);
		break;
	case OPT_DURATION:
		if (parse__seconds(arg, 0.001, 1L << 31, &env->duration_s))
			argp_error(state, "invalid --duration '%s': want seconds, or 500ms, 5m, 1h",
				   arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child children[] = {{&runner_argp, 0, NULL, 0}, {}};

static const struct argp argp = {options, parse_opt, NULL, doc, children};

static void format_time(int64_t ts_ns, char *buf, size_t size, int iso)
{
	time_t sec = (time_t)(ts_ns / 1000000000);
	struct tm tm;
	size_t n;

	if (iso) {
		gmtime_r(&sec, &tm);
		n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(buf + n, size - n, ".%06ldZ", (long)(ts_ns % 1000000000 / 1000));
	} else {
		localtime_r(&sec, &tm);
		n = strftime(buf, size, "%H:%M:%S", &tm);
		snprintf(buf + n, size - n, ".%06ld", (long)(ts_ns % 1000000000 / 1000));
	}
}

static void print_json(const struct record *r)
{
	char ts[40], path[RECORD_PATH_MAX * 3 + 1], query[RECORD_PATH_MAX * 3 + 1];
	char route[RECORD_PATH_MAX * 3 + 1], method[RECORD_METHOD_MAX * 3];
	json_t *o, *flags = json_array();
	char *s;

	format_time(r->ts_ns, ts, sizeof(ts), 1);
	text__utf8_sanitize(r->path, path, sizeof(path));
	text__utf8_sanitize(r->query, query, sizeof(query));
	text__utf8_sanitize(r->route, route, sizeof(route));
	text__utf8_sanitize(r->method, method, sizeof(method));
	for (int bit = 0; bit < 32; bit++) {
		const char *name = decode__flag_name(bit);

		if ((r->flags & (1u << bit)) && name)
			json_array_append_new(flags, json_string(name));
	}
	o = json_pack("{s:s, s:I, s:i, s:i, s:s, s:s, s:s, s:s, s:s, s:i, s:f, s:o, s:o, s:o, s:I, "
		      "s:I, s:s, s:b, s:I, s:i, s:o}",
		      "ts", ts, "ts_ns", (json_int_t)r->ts_ns, "pid", (int)r->pid, "port",
		      (int)r->lport, "api", r->api, "method", method, "path", path, "query", query,
		      "route", route, "status", (int)r->status, "duration_ms", r->duration_ms,
		      "ttfb_ms", r->ttfb_ms >= 0 ? json_real(r->ttfb_ms) : json_null(), "queue_ms",
		      r->queue_ms >= 0 ? json_real(r->queue_ms) : json_null(), "wait_ms",
		      r->wait_ms >= 0 ? json_real(r->wait_ms) : json_null(), "bytes_in",
		      (json_int_t)r->bytes_in, "bytes_out", (json_int_t)r->bytes_out, "version",
		      r->version == 10 ? "1.0" : r->version == 11 ? "1.1" : "", "tls", r->tls,
		      "conn", (json_int_t)(r->conn_id & 0x7fffffffffffffffULL), "seq", (int)r->seq,
		      "flags", flags);
	if (!o) {
		fprintf(stderr, "httplat: cannot format a record as JSON\n");
		return;
	}
	s = json_dumps(o, JSON_COMPACT);
	if (s)
		puts(s);
	free(s);
	json_decref(o);
}

/* A millisecond value, "-" when unknown (< 0). */
static void format_ms(double ms, char *buf, size_t size)
{
	if (ms >= 0)
		snprintf(buf, size, "%.3f", ms);
	else
		snprintf(buf, size, "-");
}

static void print_line(struct trace_env *env, const struct record *r)
{
	char ts[32], path[RECORD_PATH_MAX * 4 + 1], method[RECORD_METHOD_MAX * 4];
	char route[RECORD_PATH_MAX * 4 + 1], ttfb[16], queue[16], wait[16];

	if (!env->header_done) {
		printf("%-15s %7s %-6s %-7s %6s %10s %10s %9s %9s %8s %9s %-24s %s\n", "TIME", "PID",
		       "API", "METHOD", "STATUS", "DUR(ms)", "TTFB(ms)", "QUEUE(ms)", "WAIT(ms)", "IN",
		       "OUT", "ROUTE", "PATH");
		env->header_done = 1;
	}
	format_time(r->ts_ns, ts, sizeof(ts), 0);
	text__terminal_escape(r->path, path, sizeof(path));
	text__terminal_escape(r->route, route, sizeof(route));
	text__terminal_escape(r->method, method, sizeof(method));
	format_ms(r->ttfb_ms, ttfb, sizeof(ttfb));
	format_ms(r->queue_ms, queue, sizeof(queue));
	format_ms(r->wait_ms, wait, sizeof(wait));
	printf("%-15s %7u %-6s %-7s %6u %10.3f %10s %9s %9s %8llu %9llu %-24s %s%s%s\n", ts, r->pid,
	       r->api, method, r->status, r->duration_ms, ttfb, queue, wait,
	       (unsigned long long)r->bytes_in, (unsigned long long)r->bytes_out, route, path,
	       r->flags & RECORD_F_PATH_TRUNCATED ? "..." : "", r->status ? "" : "  (no response)");
}

static void trace_record(void *ctx, const struct record *r)
{
	struct trace_env *env = ctx;

	if (env->json)
		print_json(r);
	else
		print_line(env, r);
}

static void trace_describe(void *ctx, struct runner *r, char *buf, size_t size)
{
	(void)ctx;
	(void)r;
	snprintf(buf, size, ". Ctrl-C to stop.");
}

static int trace_start(void *ctx, struct runner *r)
{
	(void)ctx;
	(void)r;
	/* a terminal sees each line at once; a pipe or file gets one write per drained batch */
	if (isatty(STDOUT_FILENO))
		setvbuf(stdout, NULL, _IOLBF, 0);
	return 0;
}

int cmd_trace(int argc, char **argv)
{
	struct trace_env env = {};
	struct runner_ops ops = {
		.name = "httplat trace",
		.on_record = trace_record,
		.describe = trace_describe,
		.on_start = trace_start,
	};

	if (argp_parse(&argp, argc, argv, 0, NULL, &env))
		return 1;
	ops.count = env.count;
	ops.duration_s = env.duration_s;
	return runner__run(&env.cfg, &ops, &env);
}
