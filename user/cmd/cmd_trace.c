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
#include "decode.h"
#include "record.h"
#include "text.h"
#include "tracer.h"

struct trace_env {
	struct selection sel;
	int json;
	long count;	/* stop after this many requests, 0 = never */
	long duration;	/* stop after this many seconds, 0 = never */
	long seen;
	int header_done;
};

static const char doc[] =
	"Print one line per completed HTTP request served by uvicorn processes.\v"
	"Columns: start time, pid, api, method, status, duration and time to first byte (ms), "
	"bytes in and out, path. Status 0 means the request got no response (client gone, "
	"app died): its duration is the time until it was abandoned, not a latency.\n\n"
	"EXAMPLES:\n"
	"  httplat trace                     # every uvicorn server on this host\n"
	"  httplat trace --json | jq .       # one JSON object per request\n"
	"  httplat trace --port 8000 -c 100  # 100 requests to port 8000, then exit\n"
	"  httplat trace --pid 1234 --api gen=/v1/generate\n";

enum { OPT_JSON = 'j', OPT_COUNT = 'c', OPT_DURATION = 'd' };

static const struct argp_option options[] = {
	{"json", OPT_JSON, NULL, 0, "One JSON object per request", 0},
	{"count", OPT_COUNT, "N", 0, "Exit after N requests", 0},
	{"duration", OPT_DURATION, "SECONDS", 0, "Exit after SECONDS", 0},
	{},
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct trace_env *env = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &env->sel;
		break;
	case OPT_JSON:
		env->json = 1;
		break;
	case OPT_COUNT:
		if (cli__parse_long(arg, 1, 1L << 40, &env->count))
			argp_error(state, "invalid --count '%s'", arg);
		break;
	case OPT_DURATION:
		if (cli__parse_long(arg, 1, 1L << 31, &env->duration))
			argp_error(state, "invalid --duration '%s'", arg);
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
	{&selection_argp, 0, "Which processes and how to label them:", 1},
	{},
};

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
	o = json_pack("{s:s, s:I, s:i, s:i, s:s, s:s, s:s, s:s, s:s, s:i, s:f, s:o, s:I, s:I, "
		      "s:s, s:o}",
		      "ts", ts, "ts_ns", (json_int_t)r->ts_ns, "pid", (int)r->pid, "port",
		      (int)r->lport, "api", r->api, "method", method, "path", path, "query", query,
		      "route", route, "status", (int)r->status, "duration_ms", r->duration_ms,
		      "ttfb_ms", r->ttfb_ms >= 0 ? json_real(r->ttfb_ms) : json_null(), "bytes_in",
		      (json_int_t)r->bytes_in, "bytes_out", (json_int_t)r->bytes_out, "version",
		      r->version == 10 ? "1.0" : r->version == 11 ? "1.1" : "", "flags", flags);
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

static void print_line(struct trace_env *env, const struct record *r)
{
	char ts[32], path[RECORD_PATH_MAX * 4 + 1], method[RECORD_METHOD_MAX * 4];
	char ttfb[16];

	if (!env->header_done) {
		printf("%-15s %7s %-6s %-7s %6s %10s %10s %8s %9s %s\n", "TIME", "PID", "API",
		       "METHOD", "STATUS", "DUR(ms)", "TTFB(ms)", "IN", "OUT", "PATH");
		env->header_done = 1;
	}
	format_time(r->ts_ns, ts, sizeof(ts), 0);
	text__terminal_escape(r->path, path, sizeof(path));
	text__terminal_escape(r->method, method, sizeof(method));
	if (r->ttfb_ms >= 0)
		snprintf(ttfb, sizeof(ttfb), "%.3f", r->ttfb_ms);
	else
		snprintf(ttfb, sizeof(ttfb), "-");
	printf("%-15s %7u %-6s %-7s %6u %10.3f %10s %8llu %9llu %s%s%s\n", ts, r->pid, r->api,
	       method, r->status, r->duration_ms, ttfb, (unsigned long long)r->bytes_in,
	       (unsigned long long)r->bytes_out, path, r->flags & RECORD_F_PATH_TRUNCATED ? "..." : "",
	       r->status ? "" : "  (no response)");
}

static void on_record(void *ctx, const struct record *r)
{
	struct trace_env *env = ctx;

	if (env->count && env->seen >= env->count)
		return;
	env->seen++;
	if (env->json)
		print_json(r);
	else
		print_line(env, r);
	if (env->count && env->seen >= env->count)
		httplat_request_exit();
}

static void print_summary(struct tracer *t)
{
	struct tracer_stats st;

	tracer__stats(t, &st);
	fprintf(stderr, "\nhttplat: %llu requests, %llu events lost, %llu undecodable\n",
		(unsigned long long)st.requests, (unsigned long long)st.dropped,
		(unsigned long long)st.decode_errors);
	fprintf(stderr, "  kernel:");
	for (int i = 0; i < HTTPLAT_C__COUNT; i++)
		fprintf(stderr, " %s=%llu", tracer__counter_name(i),
			(unsigned long long)st.kernel[i]);
	fprintf(stderr, "\n");
}

int cmd_trace(int argc, char **argv)
{
	struct trace_env env = {};
	struct tracer *t = NULL;
	unsigned short ports[16];
	int pids[16], np, nport, err = 0;
	struct timespec start, now;

	err = argp_parse(&argp, argc, argv, 0, NULL, &env);
	if (err)
		goto cleanup;
	t = tracer__open(&env.sel, on_record, &env);
	if (!t) {
		err = errno ? errno : 1;
		goto cleanup;
	}
	np = tracer__pids(t, pids, 16);
	nport = tracer__ports(t, ports, 16);
	fprintf(stderr, "httplat: tracing %d process%s", np, np == 1 ? "" : "es");
	for (int i = 0; i < np; i++)
		fprintf(stderr, "%s%d", i ? "," : " (pids ", pids[i]);
	fprintf(stderr, "%s; ports", np ? ")" : "");
	for (int i = 0; i < nport; i++)
		fprintf(stderr, " %u", ports[i]);
	fprintf(stderr, "%s. Ctrl-C to stop.\n", nport ? "" : " none yet");
	/* a terminal sees each line at once; a pipe or file gets one write per drained batch */
	if (isatty(STDOUT_FILENO))
		setvbuf(stdout, NULL, _IOLBF, 0);
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!httplat_exiting()) {
		err = tracer__poll(t, 100);
		fflush(stdout);
		if (err < 0) {
			fprintf(stderr, "httplat: reading events: %s\n", strerror(-err));
			break;
		}
		err = 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (env.duration && now.tv_sec - start.tv_sec >= env.duration)
			break;
	}
	if (!env.count || env.seen < env.count)
		tracer__poll(t, 0); /* what was submitted before the stop */
	print_summary(t);
cleanup:
	tracer__free(t);
	selection__free(&env.sel);
	return err ? 1 : 0;
}
