/* test_topfmt.c: cell text, colour levels, sorting, filtering and the batch text of `httplat top`.
 */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "topfmt.h"

static const struct top_thresholds thr = {500, 1000};

/* A row whose last interval and window both saw these latencies and statuses. */
static void mkrow(struct agg_row *r, const char *api, const char *route, const double *ms, int n,
		  const uint16_t *st, int nst)
{
	struct agg *a = agg__new(4);
	struct record x;

	memset(&x, 0, sizeof(x));
	x.queue_ms = x.wait_ms = -1; /* unknown, as decode leaves them */
	snprintf(x.api, sizeof(x.api), "%s", api);
	snprintf(x.route, sizeof(x.route), "%s", route);
	for (int i = 0; i < n || i < nst; i++) {
		x.status = i < nst ? st[i] : 200;
		x.duration_ms = i < n ? ms[i] : 1;
		agg__add(a, &x);
	}
	agg__tick(a, 1.0);
	agg__rows(a, route[0] != '\0', r, 1);
	agg__free(a);
}

static void test_ms_text(void)
{
	char b[16];

	topfmt__ms(0, 0, b, sizeof(b));
	CHECK_STR(b, "-");
	topfmt__ms(0.4249, 1, b, sizeof(b));
	CHECK_STR(b, "0.42");
	topfmt__ms(12.34, 1, b, sizeof(b));
	CHECK_STR(b, "12.3");
	topfmt__ms(512.4, 1, b, sizeof(b));
	CHECK_STR(b, "512");
	topfmt__ms(123456, 1, b, sizeof(b));
	CHECK_STR(b, "123456");
}

static void test_levels_follow_thresholds(void)
{
	const double ms[] = {499.9};
	const double slow[] = {700};
	const double crit[] = {1000.5};
	const struct top_thresholds low = {100, 600};
	struct agg_row r;
	char b[32];

	mkrow(&r, "data", "", ms, 1, NULL, 0);
	CHECK_INT(topfmt__cell(&r, TOP_COL_MAX, &thr, b, sizeof(b)), TOP_NORMAL);
	CHECK_STR(b, "500"); /* 499.9 rounds for display, but is not above 500 */
	mkrow(&r, "data", "", slow, 1, NULL, 0);
	CHECK_INT(topfmt__cell(&r, TOP_COL_P95, &thr, b, sizeof(b)), TOP_WARN);
	CHECK_INT(topfmt__cell(&r, TOP_COL_WMAX, &thr, b, sizeof(b)), TOP_WARN);
	CHECK_INT(topfmt__cell(&r, TOP_COL_MAX, &low, b, sizeof(b)), TOP_CRIT);
	mkrow(&r, "data", "", crit, 1, NULL, 0);
	CHECK_INT(topfmt__cell(&r, TOP_COL_MAX, &thr, b, sizeof(b)), TOP_CRIT);
	CHECK_INT(topfmt__cell(&r, TOP_COL_RPS, &thr, b, sizeof(b)), TOP_NORMAL);
	CHECK_STR(b, "1.00");
}

/* Per-API values as the alerts' [alerts.model] section would give them. */
static void model_limits(const void *ctx, const char *api, double *warn, double *crit)
{
	(void)ctx;
	if (!strcmp(api, "model")) {
		*warn = 2000;
		*crit = 0; /* no critical level */
	}
}

static void test_per_api_limits(void)
{
	const struct top_thresholds t = {500, 1000, model_limits, NULL};
	const struct top_thresholds none = {500, 0, NULL, NULL};
	const double ms[] = {1500};
	const double huge[] = {1e7};
	struct agg_row r;
	double warn, crit;
	char b[32];

	mkrow(&r, "model", "", ms, 1, NULL, 0);
	CHECK_INT(topfmt__cell(&r, TOP_COL_MAX, &t, b, sizeof(b)), TOP_NORMAL);
	mkrow(&r, "model", "", huge, 1, NULL, 0);
	CHECK_INT(topfmt__cell(&r, TOP_COL_MAX, &t, b, sizeof(b)), TOP_WARN);
	mkrow(&r, "data", "/data/x", ms, 1, NULL, 0); /* other APIs keep the defaults */
	CHECK_INT(topfmt__cell(&r, TOP_COL_MAX, &t, b, sizeof(b)), TOP_CRIT);
	CHECK_INT(topfmt__cell(&r, TOP_COL_MAX, &none, b, sizeof(b)), TOP_WARN);
	topfmt__limits(&t, "model", &warn, &crit);
	CHECK(warn == 2000 && isinf(crit));
	topfmt__limits(&t, "user", &warn, &crit);
	CHECK(warn == 500 && crit == 1000);
	CHECK_INT(topfmt__level(&t, "user", 1000), TOP_WARN); /* above, not at */
	CHECK_INT(topfmt__level(&t, "user", 1000.01), TOP_CRIT);
}

static void test_status_cells(void)
{
	const uint16_t st[] = {200, 500, 500, 503, 401, 0, 504};
	struct agg_row r;
	char b[32];

	mkrow(&r, "model", "", NULL, 0, st, 7);
	CHECK_INT(topfmt__cell(&r, TOP_COL_CODE + 7, &thr, b, sizeof(b)), TOP_CRIT);
	CHECK_STR(b, "2");
	CHECK_INT(topfmt__cell(&r, TOP_COL_CODE + 9, &thr, b, sizeof(b)), TOP_CRIT);
	CHECK_INT(topfmt__cell(&r, TOP_COL_CODE + 8, &thr, b, sizeof(b)), TOP_NORMAL); /* 502: 0 */
	CHECK_STR(b, "0");
	CHECK_INT(topfmt__cell(&r, TOP_COL_CODE + 4, &thr, b, sizeof(b)), TOP_NORMAL); /* 401 */
	CHECK_INT(topfmt__cell(&r, TOP_COL_CODE + AGG_ST_NORESP, &thr, b, sizeof(b)), TOP_WARN);
	CHECK_STR(b, "1");
	topfmt__cell(&r, TOP_COL_CODE + AGG_ST_OTHER, &thr, b, sizeof(b));
	CHECK_STR(b, "1");
	topfmt__cell(&r, TOP_COL_ERR, &thr, b, sizeof(b)); /* 500 500 503 504 no-response */
	CHECK_STR(b, "71.4");
	topfmt__cell(&r, TOP_COL_REQS, &thr, b, sizeof(b));
	CHECK_STR(b, "7");
}

/* WAIT: p95 of queue_ms + wait_ms, "-" while the kernel does not report them. */
static void test_wait_cell(void)
{
	struct agg *a = agg__new(4);
	struct agg_row r;
	struct record x;
	char b[32];

	memset(&x, 0, sizeof(x));
	snprintf(x.api, sizeof(x.api), "model");
	x.status = 200;
	x.duration_ms = 5;
	x.queue_ms = x.wait_ms = -1;
	agg__add(a, &x);
	agg__tick(a, 1.0);
	agg__rows(a, 0, &r, 1);
	CHECK_INT(topfmt__cell(&r, TOP_COL_WAIT, &thr, b, sizeof(b)), TOP_NORMAL);
	CHECK_STR(b, "-");
	for (int i = 0; i < 20; i++) {
		x.queue_ms = i == 19 ? 700 : -1; /* one accept-queue wait, on the first request */
		x.wait_ms = 10;
		agg__add(a, &x);
	}
	agg__tick(a, 1.0);
	agg__rows(a, 0, &r, 1);
	CHECK_INT(r.p[AGG_LAST].waited, 20);
	CHECK_INT(topfmt__cell(&r, TOP_COL_WAIT, &thr, b, sizeof(b)), TOP_NORMAL);
	CHECK_STR(b, "10.3"); /* p95 of nineteen 10 ms and one 710 ms (a bucket middle) */
	CHECK_INT(r.p[AGG_WINDOW].waited, 20);
	for (int i = 0; i < 5; i++) {
		x.queue_ms = 600;
		agg__add(a, &x);
	}
	agg__tick(a, 1.0);
	agg__rows(a, 0, &r, 1);
	CHECK_INT(topfmt__cell(&r, TOP_COL_WAIT, &thr, b, sizeof(b)), TOP_WARN);
	CHECK_STR(b, "605");
	CHECK(topfmt__value(&r, TOP_COL_WAIT) > 600);
	agg__free(a);
}

static void test_line_layout(void)
{
	const double ms[] = {1, 2, 3, 4};
	struct agg_row r;
	char b[512];

	topfmt__line(NULL, 0, 0, &thr, b, sizeof(b));
	CHECK_STR(b,
		  "API          REQ/S    P50    P95    P99    MAX   WAIT    REQS  W.P50  W.P95  W.P99  "
		  "W.MAX   200   201   301   400   401   403   404   500   502   503 OTHER NORSP  "
		  "ERR%");
	mkrow(&r, "data", "", ms, 4, NULL, 0);
	topfmt__line(&r, 0, 0, &thr, b, sizeof(b));
	/* 1 2 3 4 ms: p50 and p95 are bucket middles (within 4.4 %), max is exact */
	CHECK_STR(b,
		  "data          4.00   1.99   3.97   3.97   4.00      -       4   1.99   3.97   3.97   "
		  "4.00     4     0     0     0     0     0     0     0     0     0     0     0   "
		  "0.0");
	mkrow(&r, "data", "/data/a-very-long-route-name/{id}/with/more/segments/than/fit", ms, 1,
	      NULL, 0);
	topfmt__line(&r, 1, 16, &thr, b, sizeof(b));
	CHECK(!strncmp(b, "data       /data/a-very-lo~    1.00", 35));
}

static void test_sort_and_filter(void)
{
	const double fast[] = {5}, mid[] = {50}, slow[] = {900};
	struct agg_row rows[4];
	int n;

	mkrow(&rows[0], "user", "/user/login", mid, 1, NULL, 0);
	mkrow(&rows[1], "data", "/data/items/{id}", fast, 1, NULL, 0);
	mkrow(&rows[2], "model", "/model/generate", slow, 1, NULL, 0);
	mkrow(&rows[3], "data", "/data/sleep", slow, 1, NULL, 0);
	topfmt__sort(rows, 4, TOP_COL_P95, 0);
	CHECK_STR(rows[0].route, "/data/sleep"); /* tie at 900: by api then route */
	CHECK_STR(rows[1].route, "/model/generate");
	CHECK_STR(rows[2].route, "/user/login");
	CHECK_STR(rows[3].route, "/data/items/{id}");
	topfmt__sort(rows, 4, TOP_COL_P95, 1);
	CHECK_STR(rows[0].route, "/data/items/{id}");
	topfmt__sort(rows, 4, TOP_COL_API, 0);
	CHECK_STR(rows[0].route, "/data/items/{id}");
	CHECK_STR(rows[1].route, "/data/sleep");
	CHECK_STR(rows[3].api, "user");
	topfmt__sort(rows, 4, TOP_COL_ROUTE, 1);
	CHECK_STR(rows[0].route, "/user/login");
	n = topfmt__filter(rows, 4, "DATA");
	CHECK_INT(n, 2);
	CHECK_STR(rows[0].route, "/data/sleep");
	CHECK_STR(rows[1].route, "/data/items/{id}");
	n = topfmt__filter(rows, n, "{id}");
	CHECK_INT(n, 1);
	CHECK_INT(topfmt__filter(rows, n, ""), 1);
	CHECK_INT(topfmt__filter(rows, n, "nothing"), 0);
}

static void test_header_and_snapshot(void)
{
	const int pids[] = {101, 102};
	const uint16_t ports[] = {8000};
	const double ms[] = {1200};
	struct top_header h = {.pids = pids,
			       .npids = 2,
			       .ports = ports,
			       .nports = 1,
			       .now = 3600 * 14 + 60 * 5 + 9,
			       .uptime_s = 3725.9,
			       .interval_s = 1,
			       .slots = 60,
			       .filled = 12,
			       .rps = 52.04,
			       .requests = 624,
			       .dropped = 3};
	struct agg_row api, route;
	char b[512], *text = NULL;
	size_t len = 0;
	FILE *f;

	setenv("TZ", "UTC", 1);
	tzset();
	snprintf(h.host, sizeof(h.host), "box");
	topfmt__header(&h, b, sizeof(b));
	CHECK_STR(b, "httplat top - 14:05:09  host box  up 1:02:05  pids 101,102  ports 8000  "
		     "req/s 52.0  requests 624  dropped 3");
	topfmt__periods(&h, b, sizeof(b));
	CHECK_STR(b, "latency ms; REQ/S..WAIT: last 1s; REQS..ERR%: last 60s (12s so far)");
	h.only = "TLS";
	topfmt__periods(&h, b, sizeof(b));
	CHECK_STR(b, "latency ms; REQ/S..WAIT: last 1s; REQS..ERR%: last 60s (12s so far); "
		     "TLS requests only");
	h.only = NULL;
	mkrow(&api, "model", "", ms, 1, NULL, 0);
	mkrow(&route, "model", "/model/generate", ms, 1, NULL, 0);
	f = open_memstream(&text, &len);
	CHECK(f != NULL);
	if (!f)
		return;
	topfmt__snapshot(f, &h, &api, 1, &route, 1, &thr);
	fclose(f);
	CHECK(strstr(text, "\nAPI          REQ/S") != NULL);
	CHECK(strstr(text, "\nmodel         1.00   1200") != NULL);
	CHECK(strstr(text, "\nAPI        ROUTE             REQ/S") != NULL);
	CHECK(strstr(text, "\nmodel      /model/generate    1.00   1200") != NULL);
	free(text);
}

static void test_sparkline(void)
{
	const double v[] = {0, 1, 2, 4, 8};
	const double flat[] = {0, 0};
	char b[64];

	CHECK_INT(topfmt__sparkline(v, 5, 0, b, sizeof(b)), 1 + 4 * 3);
	CHECK_STR(b, " ▂▃▅█");
	topfmt__sparkline(flat, 2, 0, b, sizeof(b));
	CHECK_STR(b, "  ");
	topfmt__sparkline(v, 5, 0, b, 7); /* never splits a character */
	CHECK_STR(b, " ▂");
	CHECK_INT(topfmt__sparkline(v, 5, 1, b, sizeof(b)), 5);
	CHECK_STR(b, " .-=#");
}

static void test_bins(void)
{
	struct top_bin bins[32];
	struct hist h;
	int n;

	hist__reset(&h);
	CHECK_INT(topfmt__bins(&h, bins, 32), 0);
	hist__add(&h, 0.15);
	hist__add(&h, 0.7);
	hist__add(&h, 0.75);
	n = topfmt__bins(&h, bins, 32);
	/* [0.1,0.2) [0.2,0.4) [0.4,0.8) */
	CHECK_INT(n, 3);
	CHECK(bins[0].lo == 0.1 && bins[0].hi == 0.2 && bins[0].count == 1);
	CHECK(bins[1].count == 0);
	CHECK(bins[2].lo == 0.4 && bins[2].count == 2);
	hist__add(&h, 1e9); /* lands in the open-ended last bucket */
	n = topfmt__bins(&h, bins, 32);
	CHECK(bins[n - 1].count == 1 && bins[n - 1].hi == 1e9);
	CHECK_INT(topfmt__bins(&h, bins, 2), 2);
}

int main(void)
{
	RUN(test_ms_text);
	RUN(test_levels_follow_thresholds);
	RUN(test_per_api_limits);
	RUN(test_status_cells);
	RUN(test_wait_cell);
	RUN(test_line_layout);
	RUN(test_sort_and_filter);
	RUN(test_header_and_snapshot);
	RUN(test_sparkline);
	RUN(test_bins);
	return CHECK_DONE();
}
