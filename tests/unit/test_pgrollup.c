/* test_pgrollup.c: per-batch 1-minute rollup groups and their COPY lines. */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "pgrollup.h"

#define MIN_NS 60000000000LL

static struct record rec(int64_t ts_ns, const char *route, uint16_t status, double ms)
{
	struct record r = {
	    .ts_ns = ts_ns, .status = status, .duration_ms = ms, .queue_ms = -1, .wait_ms = -1};

	strcpy(r.api, "model");
	snprintf(r.route, sizeof(r.route), "%s", route);
	return r;
}

static void test_groups_by_minute_route_status(void)
{
	struct pgrollup *ru = pgrollup__new();
	int64_t t0 = 1709210040LL * 1000000000; /* 12:34:00 */
	struct record r;
	int64_t first, last;

	r = rec(t0 + 1, "/a", 200, 1);
	pgrollup__add(ru, &r);
	r = rec(t0 + MIN_NS - 1, "/a", 200, 3); /* same minute */
	pgrollup__add(ru, &r);
	r = rec(t0 + MIN_NS, "/a", 200, 5); /* next minute */
	pgrollup__add(ru, &r);
	r = rec(t0 + 2, "/b", 200, 1);
	pgrollup__add(ru, &r);
	r = rec(t0 + 3, "/a", 500, 1);
	pgrollup__add(ru, &r);
	CHECK_INT(pgrollup__groups(ru), 4);
	pgrollup__span(ru, &first, &last);
	CHECK_INT(first, t0);
	CHECK_INT(last, t0 + MIN_NS);
	pgrollup__reset(ru);
	CHECK_INT(pgrollup__groups(ru), 0);
	pgrollup__free(ru);
}

static void test_copy_lines(void)
{
	struct pgrollup *ru = pgrollup__new();
	int64_t t0 = 1709210040LL * 1000000000;
	struct pgbuf b = {};
	struct record r;
	struct hist h;
	char want[512], *p;
	int n;

	hist__reset(&h);
	r = rec(t0 + 5, "/m/{id}\tx", 200, 1.0);
	pgrollup__add(ru, &r);
	hist__add(&h, 1.0);
	r = rec(t0 + 6, "/m/{id}\tx", 200, 250.0);
	pgrollup__add(ru, &r);
	hist__add(&h, 250.0);
	r = rec(t0 + 7, "/m/{id}\tx", 0, 30000.0); /* no response: counted, no latency */
	pgrollup__add(ru, &r);
	CHECK_INT(pgrollup__copy(ru, &b, "h1"), 0);
	/* first line: the 200 group, histogram in hist.h's buckets, trimmed */
	n = snprintf(want, sizeof(want),
		     "2024-02-29 12:34:00.000000+00\th1\tmodel\t/m/{id}\\tx\t200\tf\t2\t251.000000\t"
		     "250.000000\t{");
	for (int i = 0; i <= hist__bucket(250.0); i++)
		n +=
		    snprintf(want + n, sizeof(want) - (size_t)n, "%s%u", i ? "," : "", h.bucket[i]);
	snprintf(want + n, sizeof(want) - (size_t)n, "}\t\\N\t\\N\t\\N\n"); /* no wait known */
	p = memchr(b.data, '\n', b.len);
	CHECK(p != NULL);
	if (p) {
		*p = 0;
		want[strlen(want) - 1] = 0;
		CHECK_STR(b.data, want);
		CHECK_STR(
		    p + 1,
		    "2024-02-29 12:34:00.000000+00\th1\tmodel\t/m/{id}\\tx\t0\tf\t1\t\\N\t\\N\t\\N\t\\N\t"
		    "\\N\t\\N\n");
	}
	pgbuf__free(&b);
	pgrollup__free(ru);
}

/* The wait histogram: queue_ms + wait_ms, a part unknown counted as 0, both unknown left out. */
static void test_wait_histogram(void)
{
	struct pgrollup *ru = pgrollup__new();
	int64_t t0 = 1709210040LL * 1000000000;
	struct pgbuf b = {};
	struct record r;
	struct hist w;
	char want[512], *f;
	int n = 0;

	hist__reset(&w);
	r = rec(t0, "/w", 200, 5.0);
	r.queue_ms = 200; /* first request of a connection: waited in the accept queue */
	r.wait_ms = 20;
	pgrollup__add(ru, &r);
	hist__add(&w, 220);
	r = rec(t0 + 1, "/w", 200, 5.0);
	r.wait_ms = 300; /* queue unknown (a later request): the wait alone */
	pgrollup__add(ru, &r);
	hist__add(&w, 300);
	r = rec(t0 + 2, "/w", 200, 5.0); /* both unknown: not in the wait histogram */
	pgrollup__add(ru, &r);
	r = rec(t0 + 3, "/w", 0, 0); /* no response, but it waited: counted */
	r.queue_ms = 0;
	r.wait_ms = 1.5;
	pgrollup__add(ru, &r);
	CHECK_INT(pgrollup__copy(ru, &b, "h"), 0);
	/* the 200 group: wait_sum_ms, wait_max_ms, wait_hist are its last three fields */
	f = b.data;
	for (int i = 0; i < 10 && f; i++)
		f = strchr(f, '\t') ? strchr(f, '\t') + 1 : NULL;
	CHECK(f != NULL);
	n = snprintf(want, sizeof(want), "520.000000\t300.000000\t{");
	for (int i = 0; i <= hist__bucket(300); i++)
		n += snprintf(want + n, sizeof(want) - (size_t)n, "%s%u", i ? "," : "", w.bucket[i]);
	snprintf(want + n, sizeof(want) - (size_t)n, "}\n");
	if (f) {
		CHECK(!strncmp(f, want, strlen(want)));
		f = strchr(f, '\n') + 1; /* the status 0 group: no latency, a wait of 1.5 ms */
		CHECK(strstr(f, "\t0\tf\t1\t\\N\t\\N\t\\N\t1.500000\t1.500000\t{") != NULL);
	}
	pgbuf__free(&b);
	pgrollup__free(ru);
}

/* TLS and plaintext requests of one route are separate groups (tls is in the rollup's key). */
static void test_tls_is_a_group(void)
{
	struct pgrollup *ru = pgrollup__new();
	struct pgbuf b = {};
	struct record r = rec(0, "/x", 200, 1);

	pgrollup__add(ru, &r);
	r.tls = 1;
	pgrollup__add(ru, &r);
	pgrollup__add(ru, &r);
	CHECK_INT(pgrollup__groups(ru), 2);
	CHECK_INT(pgrollup__copy(ru, &b, "h"), 0);
	CHECK(strstr(b.data, "\t200\tf\t1\t") != NULL);
	CHECK(strstr(b.data, "\t200\tt\t2\t") != NULL);
	pgbuf__free(&b);
	pgrollup__free(ru);
}

static void test_full_reports_enospc(void)
{
	struct pgrollup *ru = pgrollup__new();
	struct record r;
	char route[32];
	int err = 0, i;

	for (i = 0; i < PGROLLUP_MAX + 5 && !err; i++) {
		snprintf(route, sizeof(route), "/r%d", i);
		r = rec(0, route, 200, 1);
		err = pgrollup__add(ru, &r);
	}
	CHECK_INT(err, -ENOSPC);
	CHECK_INT(i, PGROLLUP_MAX + 1);
	r = rec(0, "/r0", 200, 1); /* an existing group still counts */
	CHECK_INT(pgrollup__add(ru, &r), 0);
	pgrollup__free(ru);
}

int main(void)
{
	RUN(test_groups_by_minute_route_status);
	RUN(test_copy_lines);
	RUN(test_wait_histogram);
	RUN(test_tls_is_a_group);
	RUN(test_full_reports_enospc);
	return CHECK_DONE();
}
