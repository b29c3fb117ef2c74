/* cmd_bench_ingest.c: `httplat bench-ingest N`: synthetic requests through the real writer path. */
#include <argp.h>
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "commands.h"
#include "parse.h"
#include "pgcli.h"
#include "pgwriter.h"

#define TEMPLATES 64

struct bench_env {
	long n;
	struct pgcli pgc; /* --host defaults to bench-PID, --mem-max to 256M here */
	int verify;
	long bad_every;
};

enum { OPT_NO_VERIFY = 3000, OPT_BAD_EVERY };

static const struct argp_option options[] = {
    {"no-verify", OPT_NO_VERIFY, NULL, 0, "Do not count the rows in the database afterwards", 0},
    {"bad-every", OPT_BAD_EVERY, "K", 0,
     "Make every K-th row unstorable (a timestamp in 2200) to exercise row isolation", 0},
    {},
};

static error_t bench_parse(int key, char *arg, struct argp_state *state)
{
	struct bench_env *env = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &env->pgc;
		break;
	case OPT_NO_VERIFY:
		env->verify = 0;
		break;
	case OPT_BAD_EVERY:
		if (parse__long(arg, 2, 1000000000, &env->bad_every))
			argp_error(state, "invalid --bad-every '%s': want 2 or more", arg);
		break;
	case ARGP_KEY_ARG:
		if (state->arg_num || parse__long(arg, 1, 2000000000, &env->n))
			argp_error(state, "invalid N '%s': want a row count 1-2000000000", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child children[] = {
    {&pgcli_argp, 0, "Database:", 2},
    {},
};

static const struct argp bench_argp = {
    .children = children,
    .options = options,
    .parser = bench_parse,
    .args_doc = "[N]",
    .doc = "Push N synthetic requests (default 1000000) through the PostgreSQL writer "
	   "(formatting, batching, COPY, rollup) and report rows/s.\v"
	   "The rows go into the given database under their own host name; use a scratch "
	   "database.\n\nEXAMPLE:\n  httplat bench-ingest 2000000 --db 'host=/tmp dbname=bench'",
};

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

/* A spread of realistic rows: three APIs, ids in paths, a few statuses and queries. */
static void make_templates(struct record *t, int n)
{
	static const char *const apis[] = {"data", "model", "user"};
	static const char *const methods[] = {"GET", "GET", "POST", "PUT"};
	static const uint16_t statuses[] = {200, 200, 200, 201, 404, 500, 0};

	for (int i = 0; i < n; i++) {
		struct record *r = &t[i];
		const char *api = apis[i % 3];

		memset(r, 0, sizeof(*r));
		snprintf(r->api, sizeof(r->api), "%s", api);
		snprintf(r->method, sizeof(r->method), "%s", methods[i % 4]);
		snprintf(r->route, sizeof(r->route), "/%s/items/{id}/part%d", api, i % 8);
		r->path_len = (uint16_t)snprintf(r->path, sizeof(r->path), "/%s/items/%d/part%d",
						 api, 1000 + i * 7919, i % 8);
		if (i % 5 == 0)
			snprintf(r->query, sizeof(r->query), "ms=%d&q=x", i);
		r->status = statuses[i % 7];
		r->bytes_in = 120 + (uint64_t)i;
		r->bytes_out = 512 + (uint64_t)i * 31;
		r->pid = 4242;
		r->version = 11;
		r->lport = 8000;
		r->queue_ms = i % 4 ? -1 : 0.05 * i; /* the latency split: often unknown */
		r->wait_ms = i % 3 ? 0.01 * i : -1;
		r->tls = (uint8_t)(i % 2);
	}
}

/* Requests stored for host: rows of http_requests, or the rollup's count when rollup_only. */
static long count_rows(const char *db, const char *schema, const char *host, int rollup_only)
{
	const char *kw[] = {"dbname", NULL}, *val[] = {db, NULL}, *params[] = {host};
	PGconn *c = PQconnectdbParams(db ? kw : kw + 1, db ? val : val + 1, 1);
	PGresult *res = NULL;
	char sql[160];
	long n = -1;

	if (PQstatus(c) != CONNECTION_OK)
		goto cleanup;
	snprintf(sql, sizeof(sql),
		 rollup_only ? "SELECT coalesce(sum(count), 0) FROM %s.http_requests_1m WHERE host = $1"
			     : "SELECT count(*) FROM %s.http_requests WHERE host = $1",
		 schema);
	res = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		n = atol(PQgetvalue(res, 0, 0));
	else
		fprintf(stderr, "httplat: bench-ingest: count failed: %s", PQerrorMessage(c));
cleanup:
	PQclear(res);
	PQfinish(c);
	return n;
}

int cmd_bench_ingest(int argc, char **argv)
{
	struct bench_env env = {.n = 1000000, .verify = 1};
	struct record t[TEMPLATES];
	struct pgwriter_stats ws;
	struct pgwriter *w = NULL;
	double t0, c0, t1, c1;
	uint64_t waits = 0;
	long bad;
	int64_t base_ns;
	struct pgwriter_opts *pg = &env.pgc.pg;
	char host[64], fatal[768];
	long got;
	int err;

	pg->mem_max = 256ull << 20;
	err = argp_parse(&bench_argp, argc, argv, 0, NULL, &env);
	if (err)
		return 1;
	snprintf(host, sizeof(host), "bench-%d", (int)getpid());
	pgcli__finish(&env.pgc, host, NULL);
	pg->spool_dir = NULL; /* measure the database path only */
	make_templates(t, TEMPLATES);

	w = pgwriter__new(pg);
	if (!w) {
		fprintf(stderr, "httplat: bench-ingest: cannot start the writer: %s\n",
			strerror(errno));
		return 1;
	}
	/* connect and apply the schema before timing */
	for (int i = 0; i < 100; i++) {
		pgwriter__stats(w, &ws);
		if (ws.connected || pgwriter__fatal(w, fatal, sizeof(fatal)))
			break;
		usleep(50000);
	}
	if (pgwriter__fatal(w, fatal, sizeof(fatal))) {
		fprintf(stderr, "httplat: bench-ingest: cannot write to PostgreSQL: %s\n", fatal);
		pgwriter__free(w);
		return 2;
	}
	if (!ws.connected) {
		fprintf(stderr, "httplat: bench-ingest: no database connection: %s\n",
			ws.last_error);
		pgwriter__free(w);
		return 1;
	}
	base_ns = clock__real_ns();
	t0 = clock__mono_s();
	c0 = cpu_s();
	for (long i = 0; i < env.n; i++) {
		struct record *r = &t[i % TEMPLATES];

		r->ts_ns = base_ns + i * 1000; /* one request per microsecond */
		if (env.bad_every && i % env.bad_every == env.bad_every / 2)
			r->ts_ns = 7258118400LL * 1000000000; /* 2200-01-01: no partition */
		r->duration_ms = 0.2 + (double)((i * 2654435761u) % 50000) / 100.0;
		r->ttfb_ms = r->duration_ms * 0.9;
		while (pgwriter__pressure(w)) { /* the benchmark waits; the daemon would drop */
			waits++;
			usleep(200);
		}
		if (pgwriter__push(w, r)) {
			fprintf(stderr, "httplat: bench-ingest: push failed at row %ld\n", i);
			break;
		}
	}
	err = pgwriter__flush(w, 600000);
	t1 = clock__mono_s();
	c1 = cpu_s();
	pgwriter__stats(w, &ws);
	pgwriter__free(w);
	printf("rows %ld, %.2f s, %.0f rows/s; httplat CPU %.2f s (%.0f rows per CPU-second); "
	       "batches %llu, producer waits %llu, dropped %llu, rejected %llu\n",
	       env.n, t1 - t0, (double)env.n / (t1 - t0), c1 - c0, (double)env.n / (c1 - c0),
	       (unsigned long long)ws.batches, (unsigned long long)waits,
	       (unsigned long long)ws.rows_dropped, (unsigned long long)ws.rows_rejected);
	bad =
	    env.bad_every ? env.n / env.bad_every + (env.n % env.bad_every > env.bad_every / 2) : 0;
	if (err || ws.rows_written != (uint64_t)(env.n - bad) ||
	    ws.rows_rejected != (uint64_t)bad) {
		fprintf(stderr,
			"httplat: bench-ingest: wrote %llu of %ld rows, %llu rejected (%s)\n",
			(unsigned long long)ws.rows_written, env.n - bad,
			(unsigned long long)ws.rows_rejected, ws.last_error);
		return 1;
	}
	if (env.verify) {
		got = count_rows(pg->conninfo, pg->schema, pg->host, pg->rollup_only);
		printf("verified: %ld rows with host '%s' in %s.%s\n", got, pg->host, pg->schema,
		       pg->rollup_only ? "http_requests_1m (sum of count)" : "http_requests");
		if (got != env.n - bad)
			return 1;
	}
	return 0;
}
