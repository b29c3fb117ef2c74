/* test_agg.c: aggregation against exactly computed values: percentiles, windows, status codes. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "agg.h"

static struct agg_row rows[AGG_MAX_ROUTES + 8];

static void rec(struct record *r, const char *api, const char *route, uint16_t status, double ms)
{
	memset(r, 0, sizeof(*r));
	r->queue_ms = r->wait_ms = -1; /* unknown, as decode leaves them */
	snprintf(r->api, sizeof(r->api), "%s", api);
	snprintf(r->route, sizeof(r->route), "%s", route);
	snprintf(r->path, sizeof(r->path), "%s", route);
	r->status = status;
	r->duration_ms = ms;
	r->lport = 8000;
}

static void add(struct agg *a, const char *api, const char *route, uint16_t status, double ms)
{
	struct record r;

	rec(&r, api, route, status, ms);
	agg__add(a, &r);
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

/* Nearest-rank quantile of sorted v[n], as hist__quantile defines it. */
static double exact_q(const double *v, int n, double q)
{
	int rank = (int)ceil(q * n);

	return v[rank < 1 ? 0 : rank - 1];
}

static int near(double got, double want, double rel)
{
	return fabs(got - want) <= rel * want;
}

static const struct agg_row *find(int n, const char *api, const char *route)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(rows[i].api, api) && !strcmp(rows[i].route, route))
			return &rows[i];
	return NULL;
}

static void test_percentiles_exact(void)
{
	static double v[5000];
	struct agg *a = agg__new(10);
	const struct agg_row *r;
	int n;

	srand(11);
	for (int i = 0; i < 5000; i++) {
		/* log-uniform 0.3 ms .. 3 s, like a mix of cache hits and model generation */
		v[i] = 0.3 * exp(((double)rand() / RAND_MAX) * log(10000.0));
		add(a, "model", "/model/{id}/mesh", 200, v[i]);
	}
	agg__tick(a, 2.0);
	qsort(v, 5000, sizeof(v[0]), cmp_double);
	n = agg__rows(a, 0, rows, 8);
	CHECK_INT(n, 1);
	r = find(n, "model", "");
	CHECK(r != NULL);
	if (!r)
		goto cleanup;
	CHECK(near(r->p[AGG_LAST].p50, exact_q(v, 5000, 0.50), 0.045));
	CHECK(near(r->p[AGG_LAST].p95, exact_q(v, 5000, 0.95), 0.045));
	CHECK(near(r->p[AGG_LAST].p99, exact_q(v, 5000, 0.99), 0.045));
	CHECK(r->p[AGG_LAST].max == v[4999]);
	CHECK_INT(r->p[AGG_LAST].requests, 5000);
	CHECK(r->p[AGG_LAST].rps == 2500.0);
	/* one interval closed: window and total say the same */
	CHECK(r->p[AGG_WINDOW].p95 == r->p[AGG_LAST].p95);
	CHECK(r->p[AGG_TOTAL].p99 == r->p[AGG_LAST].p99);
cleanup:
	agg__free(a);
}

static void test_small_sample_exact(void)
{
	/* 1..100 ms: nearest rank p50 = 50, p95 = 95, p99 = 99, max = 100 */
	struct agg *a = agg__new(5);
	struct agg_row t;

	for (int i = 100; i >= 1; i--)
		add(a, "data", "/data/items/{id}", 200, i);
	agg__tick(a, 1.0);
	agg__total(a, &t);
	CHECK(near(t.p[AGG_LAST].p50, 50, 0.045));
	CHECK(near(t.p[AGG_LAST].p95, 95, 0.045));
	CHECK(near(t.p[AGG_LAST].p99, 99, 0.045));
	CHECK(t.p[AGG_LAST].max == 100);
	CHECK(t.p[AGG_LAST].mean == 50.5);
	agg__free(a);
}

static void test_window_slides(void)
{
	struct agg *a = agg__new(3);
	struct agg_row t;

	/* interval k (1..5) has k requests of k*10 ms, lasting k/2 seconds */
	for (int k = 1; k <= 5; k++) {
		for (int i = 0; i < k; i++)
			add(a, "data", "/data/sleep", 200, k * 10.0);
		agg__tick(a, k / 2.0);
	}
	agg__total(a, &t);
	CHECK_INT(agg__filled(a), 3);
	/* last: interval 5 */
	CHECK_INT(t.p[AGG_LAST].requests, 5);
	CHECK(t.p[AGG_LAST].seconds == 2.5);
	CHECK(t.p[AGG_LAST].rps == 2.0);
	CHECK(near(t.p[AGG_LAST].p50, 50, 0.045));
	/* window: intervals 3, 4, 5 = 12 requests over 6 s; 1 and 2 fell out */
	CHECK_INT(t.p[AGG_WINDOW].requests, 12);
	CHECK(t.p[AGG_WINDOW].seconds == 6.0);
	CHECK(t.p[AGG_WINDOW].rps == 2.0);
	CHECK(t.p[AGG_WINDOW].max == 50);
	/* smallest in window is 30 ms: 3 of 12 are 30, so p25 = 30 and p50 = 40 */
	CHECK(near(t.p[AGG_WINDOW].p50, 40, 0.045));
	/* total: all 15 over 7.5 s */
	CHECK_INT(t.p[AGG_TOTAL].requests, 15);
	CHECK(t.p[AGG_TOTAL].seconds == 7.5);
	CHECK(t.p[AGG_TOTAL].rps == 2.0);
	CHECK(near(t.p[AGG_TOTAL].p50, 40, 0.045));
	/* empty intervals push everything out of the window but not the total */
	for (int i = 0; i < 3; i++)
		agg__tick(a, 1.0);
	agg__total(a, &t);
	CHECK_INT(t.p[AGG_WINDOW].requests, 0);
	CHECK(t.p[AGG_WINDOW].p99 == 0);
	CHECK(t.p[AGG_WINDOW].max == 0);
	CHECK_INT(t.p[AGG_TOTAL].requests, 15);
	agg__free(a);
}

static void test_open_interval_not_shown(void)
{
	struct agg *a = agg__new(2);
	struct agg_row t;

	add(a, "data", "/data/x", 200, 5);
	agg__total(a, &t);
	CHECK_INT(t.p[AGG_LAST].requests, 0);
	CHECK_INT(t.p[AGG_WINDOW].requests, 0);
	CHECK_INT(t.p[AGG_TOTAL].requests, 0);
	agg__tick(a, 1);
	agg__total(a, &t);
	CHECK_INT(t.p[AGG_LAST].requests, 1);
	agg__free(a);
}

static void test_status_buckets(void)
{
	static const uint16_t codes[] = {200, 200, 201, 301, 400, 401, 403, 404,
					 500, 502, 503, 418, 504, 204, 0,   0};
	struct agg *a = agg__new(4);
	struct agg_row t;
	const struct agg_row *r;
	int n;

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		add(a, "user", "/user/login", codes[i], codes[i] ? 10 : 99999);
	agg__tick(a, 1);
	agg__total(a, &t);
	CHECK_INT(t.p[AGG_LAST].requests, 16);
	CHECK_INT(t.p[AGG_LAST].answered, 14);
	CHECK_INT(t.p[AGG_LAST].status[0], 2); /* 200 */
	for (int i = 1; i < AGG_NCODES; i++)
		CHECK_INT(t.p[AGG_LAST].status[i], 1);
	CHECK_INT(t.p[AGG_LAST].status[AGG_ST_OTHER], 3); /* 418 504 204 */
	CHECK_INT(t.p[AGG_LAST].status[AGG_ST_NORESP], 2);
	/* errors: 500 502 503 504 and the two without a response */
	CHECK_INT(t.p[AGG_LAST].errors, 6);
	CHECK(t.p[AGG_LAST].err_pct == 100.0 * 6 / 16);
	/* an abandoned request's duration is not a latency */
	CHECK(t.p[AGG_LAST].max == 10);
	n = agg__rows(a, 1, rows, 8);
	r = find(n, "user", "/user/login");
	CHECK(r && r->p[AGG_LAST].status[AGG_ST_NORESP] == 2);
	CHECK_INT(agg__status_index(200), 0);
	CHECK_INT(agg__status_index(503), 9);
	CHECK_INT(agg__status_index(0), AGG_ST_NORESP);
	CHECK_INT(agg__status_index(302), AGG_ST_OTHER);
	agg__free(a);
}

static void test_rows_per_api_and_route(void)
{
	struct agg *a = agg__new(4);
	const struct agg_row *r;
	struct record x;
	int n;

	add(a, "data", "/data/items/{id}", 200, 1);
	add(a, "data", "/data/items/{id}", 200, 3);
	add(a, "data", "/data/sleep", 200, 100);
	add(a, "model", "/model/crash", 500, 7);
	rec(&x, "", "", 200, 2); /* unlabelled: api "other", route = path */
	snprintf(x.path, sizeof(x.path), "/health");
	x.lport = 9000;
	agg__add(a, &x);
	agg__tick(a, 1);
	n = agg__rows(a, 0, rows, AGG_MAX_ROUTES);
	CHECK_INT(n, 3);
	CHECK_STR(rows[0].api, "data"); /* first-seen order */
	CHECK_STR(rows[1].api, "model");
	CHECK_STR(rows[2].api, "other");
	CHECK_INT(rows[0].p[AGG_LAST].requests, 3);
	CHECK(rows[0].p[AGG_LAST].max == 100);
	n = agg__rows(a, 1, rows, AGG_MAX_ROUTES);
	CHECK_INT(n, 4);
	r = find(n, "data", "/data/items/{id}");
	CHECK(r && r->p[AGG_LAST].requests == 2 && r->p[AGG_LAST].max == 3);
	r = find(n, "other", "/health");
	CHECK(r && r->p[AGG_LAST].requests == 1);
	/* rows larger than max are counted, not written */
	CHECK_INT(agg__rows(a, 1, rows, 1), 4);
	agg__free(a);
}

static void test_route_overflow_counted(void)
{
	struct agg *a = agg__new(1);
	const struct agg_row *r;
	char route[64];
	int n;

	for (int i = 0; i < AGG_MAX_ROUTES + 10; i++) {
		snprintf(route, sizeof(route), "/data/page-%d", i);
		add(a, "data", route, 200, 1);
	}
	add(a, "data", "/data/page-0", 200, 1); /* an existing row still takes records */
	agg__tick(a, 1);
	n = agg__rows(a, 1, rows, AGG_MAX_ROUTES + 8);
	CHECK_INT(n, AGG_MAX_ROUTES + 1);
	CHECK_INT(agg__overflowed(a), 10);
	r = find(n, AGG_OVERFLOW_API, AGG_OVERFLOW_ROUTE);
	CHECK(r && r->p[AGG_LAST].requests == 10);
	r = find(n, "data", "/data/page-0");
	CHECK(r && r->p[AGG_LAST].requests == 2);
	/* the API row saw everything */
	n = agg__rows(a, 0, rows, 8);
	CHECK_INT(n, 1);
	CHECK_INT(rows[0].p[AGG_LAST].requests, AGG_MAX_ROUTES + 11);
	agg__free(a);
}

static void test_series_and_hist(void)
{
	struct agg *a = agg__new(3);
	struct agg_point pts[8];
	struct hist h;
	int n, id;

	for (int k = 1; k <= 4; k++) {
		for (int i = 0; i < k * 2; i++)
			add(a, "model", "/model/generate", 201, k * 100.0);
		agg__tick(a, 2.0);
	}
	n = agg__rows(a, 0, rows, 8);
	CHECK_INT(n, 1);
	id = rows[0].id;
	n = agg__series(a, id, pts, 8);
	CHECK_INT(n, 3); /* the window holds intervals 2..4, oldest first */
	CHECK_INT(pts[0].requests, 4);
	CHECK(pts[0].rps == 2.0);
	CHECK(pts[2].rps == 4.0);
	CHECK(pts[2].max == 400);
	CHECK(near(pts[1].p95, 300, 0.045));
	CHECK_INT(agg__series(a, id, pts, 2), 2);
	CHECK_INT(pts[0].requests, 6); /* the newest two */
	CHECK_INT(agg__hist(a, id, &h), 0);
	CHECK_INT(h.count, 4 + 6 + 8);
	CHECK(h.max_ms == 400);
	CHECK_INT(agg__hist(a, 999, &h), -ENOENT);
	CHECK_INT(agg__hist(a, -1, &h), 0);
	CHECK_INT(h.count, 18);
	agg__free(a);
}

static void test_memory_does_not_grow(void)
{
	/* a million samples land in fixed buckets: counts stay exact, quantiles bounded */
	struct agg *a = agg__new(2);
	struct agg_row t;

	for (int i = 0; i < 1000000; i++)
		add(a, "data", "/data/items/{id}", 200, 1 + (i % 1000));
	agg__tick(a, 10);
	agg__total(a, &t);
	CHECK_INT(t.p[AGG_LAST].answered, 1000000);
	CHECK(near(t.p[AGG_LAST].p99, 990, 0.045));
	CHECK(t.p[AGG_LAST].rps == 100000.0);
	agg__free(a);
}

static void test_bad_arguments(void)
{
	CHECK(agg__new(0) == NULL);
	CHECK(agg__new(AGG_MAX_SLOTS + 1) == NULL);
	agg__free(NULL);
}

/* queue_ms + wait_ms per interval, window and total; rows without any stay at 0. */
static void test_wait(void)
{
	struct agg *a = agg__new(3);
	struct record r;
	int n;

	add(a, "data", "/d", 200, 5);
	rec(&r, "model", "/m", 200, 5);
	r.wait_ms = 100;
	agg__add(a, &r);
	agg__tick(a, 1);
	r.queue_ms = 300; /* both parts known: they add up */
	agg__add(a, &r);
	agg__add(a, &r);
	agg__tick(a, 1);
	n = agg__rows(a, 0, rows, 8);
	CHECK_INT(n, 2);
	CHECK_STR(rows[0].api, "data");
	CHECK_INT(rows[0].p[AGG_WINDOW].waited, 0);
	CHECK(rows[0].p[AGG_WINDOW].wait_p95 == 0);
	CHECK_INT(rows[1].p[AGG_LAST].waited, 2);
	CHECK(near(rows[1].p[AGG_LAST].wait_p95, 400, 0.045));
	CHECK_INT(rows[1].p[AGG_WINDOW].waited, 3);
	CHECK_INT(rows[1].p[AGG_TOTAL].waited, 3);
	agg__total(a, rows);
	CHECK_INT(rows[0].p[AGG_WINDOW].waited, 3);
	/* the interval leaves the window: its waits go too */
	for (int i = 0; i < 3; i++)
		agg__tick(a, 1);
	agg__rows(a, 1, rows, 8);
	CHECK_INT(rows[1].p[AGG_WINDOW].waited, 0);
	CHECK_INT(rows[1].p[AGG_TOTAL].waited, 3);
	agg__free(a);
}

/* A clone starts with everything counted so far, then goes its own way. */
static void test_clone(void)
{
	struct agg *a = agg__new(4), *c;
	struct record r;
	struct agg_row x[4];

	for (int i = 0; i < 10; i++)
		add(a, "data", "/d", 200, 1 + i);
	rec(&r, "model", "/m", 200, 5);
	r.wait_ms = 7;
	agg__add(a, &r);
	agg__tick(a, 1);
	add(a, "data", "/d", 500, 50); /* in the open interval */
	c = agg__clone(a);
	CHECK(c != NULL);
	if (!c)
		return;
	add(c, "user", "/u", 200, 1);
	add(a, "data", "/d", 200, 1);
	agg__tick(a, 1);
	agg__tick(c, 1);
	CHECK_INT(agg__rows(a, 0, x, 4), 2);
	CHECK_INT(x[0].p[AGG_WINDOW].requests, 12);
	CHECK_INT(agg__rows(c, 0, x, 4), 3);
	CHECK_INT(x[0].p[AGG_WINDOW].requests, 11);
	CHECK_INT(x[0].p[AGG_WINDOW].status[agg__status_index(500)], 1);
	CHECK_INT(x[1].p[AGG_WINDOW].waited, 1);
	CHECK_STR(x[2].api, "user");
	CHECK_INT(agg__filled(c), 2);
	agg__free(a);
	agg__free(c);
}

int main(void)
{
	RUN(test_percentiles_exact);
	RUN(test_small_sample_exact);
	RUN(test_window_slides);
	RUN(test_open_interval_not_shown);
	RUN(test_status_buckets);
	RUN(test_rows_per_api_and_route);
	RUN(test_route_overflow_counted);
	RUN(test_series_and_hist);
	RUN(test_memory_does_not_grow);
	RUN(test_bad_arguments);
	RUN(test_wait);
	RUN(test_clone);
	return CHECK_DONE();
}
