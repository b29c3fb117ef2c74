/* topfmt.c: column definitions, cell text, sorting and the plain-text snapshot of `httplat top`. */
#define _GNU_SOURCE /* strcasestr */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "topfmt.h"

#define ROUTE_MIN_W 12
#define ROUTE_MAX_W 48
#define BINS_MAX 32

enum col_kind { K_TEXT, K_RPS, K_MS, K_WAIT, K_COUNT, K_PCT };

static const struct {
	const char *title;
	int width;
	enum col_kind kind;
} cols[TOP_NCOLS] = {
	[TOP_COL_API] = {"API", 10, K_TEXT},
	[TOP_COL_ROUTE] = {"ROUTE", 0, K_TEXT},
	[TOP_COL_RPS] = {"REQ/S", 7, K_RPS},
	[TOP_COL_P50] = {"P50", 6, K_MS},
	[TOP_COL_P95] = {"P95", 6, K_MS},
	[TOP_COL_P99] = {"P99", 6, K_MS},
	[TOP_COL_MAX] = {"MAX", 6, K_MS},
	[TOP_COL_WAIT] = {"WAIT", 6, K_WAIT},
	[TOP_COL_REQS] = {"REQS", 7, K_COUNT},
	[TOP_COL_WP50] = {"W.P50", 6, K_MS},
	[TOP_COL_WP95] = {"W.P95", 6, K_MS},
	[TOP_COL_WP99] = {"W.P99", 6, K_MS},
	[TOP_COL_WMAX] = {"W.MAX", 6, K_MS},
	[TOP_COL_CODE + 0] = {"200", 5, K_COUNT},
	[TOP_COL_CODE + 1] = {"201", 5, K_COUNT},
	[TOP_COL_CODE + 2] = {"301", 5, K_COUNT},
	[TOP_COL_CODE + 3] = {"400", 5, K_COUNT},
	[TOP_COL_CODE + 4] = {"401", 5, K_COUNT},
	[TOP_COL_CODE + 5] = {"403", 5, K_COUNT},
	[TOP_COL_CODE + 6] = {"404", 5, K_COUNT},
	[TOP_COL_CODE + 7] = {"500", 5, K_COUNT},
	[TOP_COL_CODE + 8] = {"502", 5, K_COUNT},
	[TOP_COL_CODE + 9] = {"503", 5, K_COUNT},
	[TOP_COL_CODE + AGG_ST_OTHER] = {"OTHER", 5, K_COUNT},
	[TOP_COL_CODE + AGG_ST_NORESP] = {"NORSP", 5, K_COUNT},
	[TOP_COL_ERR] = {"ERR%", 5, K_PCT},
};

const char *topfmt__title(int col)
{
	return col >= 0 && col < TOP_NCOLS ? cols[col].title : "";
}

int topfmt__width(int col, int route_w)
{
	if (col == TOP_COL_ROUTE)
		return route_w;
	return col >= 0 && col < TOP_NCOLS ? cols[col].width : 0;
}

int topfmt__is_text(int col)
{
	return col >= 0 && col < TOP_NCOLS && cols[col].kind == K_TEXT;
}

int topfmt__route_width(const struct agg_row *rows, int n)
{
	int w = ROUTE_MIN_W;

	for (int i = 0; i < n; i++) {
		int len = (int)strlen(rows[i].route);

		if (len > w)
			w = len;
	}
	return w > ROUTE_MAX_W ? ROUTE_MAX_W : w;
}

/* The period a column reads and, for latency columns, whether it has samples. */
static const struct agg_period *col_period(const struct agg_row *r, int col)
{
	return col >= TOP_COL_WINDOW ? &r->p[AGG_WINDOW] : &r->p[AGG_LAST];
}

double topfmt__value(const struct agg_row *r, int col)
{
	const struct agg_period *p = col_period(r, col);

	switch (col) {
	case TOP_COL_RPS:
		return p->rps;
	case TOP_COL_P50:
	case TOP_COL_WP50:
		return p->p50;
	case TOP_COL_P95:
	case TOP_COL_WP95:
		return p->p95;
	case TOP_COL_P99:
	case TOP_COL_WP99:
		return p->p99;
	case TOP_COL_MAX:
	case TOP_COL_WMAX:
		return p->max;
	case TOP_COL_WAIT:
		return p->wait_p95;
	case TOP_COL_REQS:
		return (double)p->requests;
	case TOP_COL_ERR:
		return p->err_pct;
	default:
		if (col >= TOP_COL_CODE && col < TOP_COL_CODE + AGG_NST)
			return (double)p->status[col - TOP_COL_CODE];
		return 0;
	}
}

void topfmt__ms(double ms, int have, char *buf, size_t n)
{
	if (!have)
		snprintf(buf, n, "-");
	else if (ms < 10)
		snprintf(buf, n, "%.2f", ms);
	else if (ms < 100)
		snprintf(buf, n, "%.1f", ms);
	else
		snprintf(buf, n, "%.0f", ms);
}

static void fmt_count(uint64_t v, char *buf, size_t n)
{
	if (v < 100000)
		snprintf(buf, n, "%llu", (unsigned long long)v);
	else if (v < 10000000)
		snprintf(buf, n, "%lluk", (unsigned long long)(v / 1000));
	else
		snprintf(buf, n, "%lluM", (unsigned long long)(v / 1000000));
}

void topfmt__limits(const struct top_thresholds *t, const char *api, double *warn_ms,
		    double *crit_ms)
{
	*warn_ms = t->warn_ms;
	*crit_ms = t->crit_ms;
	if (t->limits)
		t->limits(t->ctx, api, warn_ms, crit_ms);
	if (!(*crit_ms > 0))
		*crit_ms = INFINITY;
}

enum top_level topfmt__level(const struct top_thresholds *t, const char *api, double ms)
{
	double warn, crit;

	topfmt__limits(t, api, &warn, &crit);
	if (ms > crit)
		return TOP_CRIT;
	return ms > warn ? TOP_WARN : TOP_NORMAL;
}

enum top_level topfmt__cell(const struct agg_row *r, int col, const struct top_thresholds *t,
			    char *buf, size_t n)
{
	const struct agg_period *p = col_period(r, col);
	double v = topfmt__value(r, col);
	int st = col - TOP_COL_CODE;

	switch (col >= 0 && col < TOP_NCOLS ? cols[col].kind : K_TEXT) {
	case K_TEXT:
		snprintf(buf, n, "%s", col == TOP_COL_ROUTE ? r->route : r->api);
		return TOP_NORMAL;
	case K_RPS:
		snprintf(buf, n, v < 10 ? "%.2f" : v < 1000 ? "%.1f" : "%.0f", v);
		return TOP_NORMAL;
	case K_MS:
		topfmt__ms(v, p->answered > 0, buf, n);
		return p->answered ? topfmt__level(t, r->api, v) : TOP_NORMAL;
	case K_WAIT: /* "-" until the kernel reports waits; coloured as the alerts' wait rule */
		topfmt__ms(v, p->waited > 0, buf, n);
		return p->waited ? topfmt__level(t, r->api, v) : TOP_NORMAL;
	case K_PCT:
		snprintf(buf, n, p->requests ? "%.1f" : "-", v);
		return TOP_NORMAL;
	case K_COUNT:
		fmt_count((uint64_t)v, buf, n);
		if (st >= 0 && st < AGG_NCODES && agg_codes[st] >= 500 && v > 0)
			return TOP_CRIT;
		return st == AGG_ST_NORESP && v > 0 ? TOP_WARN : TOP_NORMAL;
	}
	return TOP_NORMAL;
}

/* qsort has no context argument: the comparison reads the sort key from this struct. */
struct sort_key {
	int col, reverse;
};

static int row_cmp(const struct agg_row *a, const struct agg_row *b, const struct sort_key *k)
{
	int c;

	if (k->col == TOP_COL_ROUTE) {
		c = strcmp(a->route, b->route);
	} else if (topfmt__is_text(k->col)) {
		c = strcmp(a->api, b->api);
	} else {
		double x = topfmt__value(a, k->col), y = topfmt__value(b, k->col);

		c = x > y ? -1 : x < y; /* biggest first */
	}
	if (k->reverse)
		c = -c;
	if (!c)
		c = strcmp(a->api, b->api);
	return c ? c : strcmp(a->route, b->route);
}

void topfmt__sort(struct agg_row *rows, int n, int col, int reverse)
{
	struct sort_key k = {col, reverse};

	/* insertion sort: tables are small (<= AGG_MAX_ROUTES rows) and it is stable */
	for (int i = 1; i < n; i++) {
		struct agg_row tmp = rows[i];
		int j = i;

		while (j > 0 && row_cmp(&rows[j - 1], &tmp, &k) > 0) {
			rows[j] = rows[j - 1];
			j--;
		}
		rows[j] = tmp;
	}
}

int topfmt__filter(struct agg_row *rows, int n, const char *filter)
{
	int w = 0;

	if (!filter || !*filter)
		return n;
	for (int i = 0; i < n; i++) {
		if (!strcasestr(rows[i].api, filter) && !strcasestr(rows[i].route, filter))
			continue;
		if (w != i)
			rows[w] = rows[i];
		w++;
	}
	return w;
}

void topfmt__line(const struct agg_row *r, int routes, int route_w, const struct top_thresholds *t,
		  char *buf, size_t n)
{
	size_t used = 0;
	char cell[RECORD_PATH_MAX + 8];

	if (n)
		buf[0] = '\0';
	for (int col = 0; col < TOP_NCOLS; col++) {
		int w = topfmt__width(col, route_w);
		int len;

		if (col == TOP_COL_ROUTE && !routes)
			continue;
		if (r)
			topfmt__cell(r, col, t, cell, sizeof(cell));
		else
			snprintf(cell, sizeof(cell), "%s", topfmt__title(col));
		len = (int)strlen(cell);
		if (len > w && col == TOP_COL_ROUTE) {
			cell[w - 1] = '~'; /* long routes are cut, and say so */
			cell[w] = '\0';
		}
		len = snprintf(buf + used, n - used, topfmt__is_text(col) ? "%s%-*s" : "%s%*s",
			       col ? " " : "", w, cell);
		if (len < 0 || (size_t)len >= n - used)
			break;
		used += (size_t)len;
	}
	/* text columns are padded: drop the trailing blanks of the last one */
	while (used > 0 && buf[used - 1] == ' ')
		buf[--used] = '\0';
}

static void fmt_list(char *buf, size_t n, const int *v, int count)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < count && used < n; i++) {
		if (i == 8) {
			snprintf(buf + used, n - used, ",+%d", count - i);
			return;
		}
		used += (size_t)snprintf(buf + used, n - used, "%s%d", i ? "," : "", v[i]);
	}
	if (!count)
		snprintf(buf, n, "-");
}

void topfmt__header(const struct top_header *h, char *buf, size_t n)
{
	char pids[96], ports[96], clock[16];
	int pv[TOP_MAX_PORTS];
	long up = (long)h->uptime_s;
	struct tm tm;
	int np = h->nports < TOP_MAX_PORTS ? h->nports : TOP_MAX_PORTS;

	for (int i = 0; i < np; i++)
		pv[i] = h->ports[i];
	fmt_list(pids, sizeof(pids), h->pids, h->npids);
	fmt_list(ports, sizeof(ports), pv, np);
	localtime_r(&h->now, &tm);
	strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
	snprintf(buf, n,
		 "httplat top - %s  host %s  up %ld:%02ld:%02ld  pids %s  ports %s  req/s %.1f  "
		 "requests %llu  dropped %llu%s",
		 clock, h->host, up / 3600, up / 60 % 60, up % 60, pids, ports, h->rps,
		 (unsigned long long)h->requests, (unsigned long long)h->dropped,
		 h->overflowed ? "  (route table full: some routes in " AGG_OVERFLOW_ROUTE ")"
			       : "");
}

void topfmt__periods(const struct top_header *h, char *buf, size_t n)
{
	snprintf(buf, n,
		 "latency ms; REQ/S..WAIT: last %gs; REQS..ERR%%: last %gs (%gs so far)%s%s%s",
		 h->interval_s, h->interval_s * h->slots, h->interval_s * h->filled,
		 h->only ? "; " : "", h->only ? h->only : "", h->only ? " requests only" : "");
}

static void snapshot_table(FILE *f, struct agg_row *rows, int n, int routes,
			   const struct top_thresholds *t)
{
	char line[1024];
	int route_w = topfmt__route_width(rows, n);

	topfmt__sort(rows, n, TOP_COL_API, 0); /* grouped by API, then route */
	topfmt__line(NULL, routes, route_w, t, line, sizeof(line));
	fprintf(f, "%s\n", line);
	for (int i = 0; i < n; i++) {
		topfmt__line(&rows[i], routes, route_w, t, line, sizeof(line));
		fprintf(f, "%s\n", line);
	}
}

void topfmt__snapshot(FILE *f, const struct top_header *h, struct agg_row *apis, int napis,
		      struct agg_row *routes, int nroutes, const struct top_thresholds *t)
{
	char line[512];

	topfmt__header(h, line, sizeof(line));
	fprintf(f, "%s\n", line);
	topfmt__periods(h, line, sizeof(line));
	fprintf(f, "%s\n\n", line);
	snapshot_table(f, apis, napis, 0, t);
	fprintf(f, "\n");
	snapshot_table(f, routes, nroutes, 1, t);
	fprintf(f, "\n");
	fflush(f);
}

int topfmt__sparkline(const double *v, int n, int ascii, char *buf, size_t sz)
{
	static const char *const utf8[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
	static const char *const plain[] = {"_", ".", "-", "~", "=", "+", "*", "#"};
	const char *const *blocks = ascii ? plain : utf8;
	double top = 0;
	size_t used = 0;

	for (int i = 0; i < n; i++)
		if (v[i] > top)
			top = v[i];
	if (sz)
		buf[0] = '\0';
	for (int i = 0; i < n && used + strlen(blocks[7]) + 1 <= sz; i++) {
		int level = top > 0 ? (int)(v[i] / top * 7.0 + 0.5) : 0;
		const char *b = v[i] > 0 ? blocks[level < 0 ? 0 : level > 7 ? 7 : level] : " ";

		used += (size_t)snprintf(buf + used, sz - used, "%s", b);
	}
	return (int)used;
}

int topfmt__bins(const struct hist *h, struct top_bin *bins, int max)
{
	struct top_bin all[BINS_MAX];
	int first = -1, last = -1, n = 0;

	memset(all, 0, sizeof(all));
	for (int i = 0; i < HIST_BUCKETS; i++) {
		int b = i == 0 ? 0 : (i - 1) / HIST_SUB + 1;

		all[b].count += h->bucket[i];
	}
	for (int b = 0; b < BINS_MAX; b++) {
		all[b].lo = b == 0 ? 0 : HIST_MIN_MS * exp2(b - 1);
		all[b].hi = HIST_MIN_MS * exp2(b);
		if (all[b].count) {
			if (first < 0)
				first = b;
			last = b;
		}
	}
	if (first < 0)
		return 0;
	if (h->max_ms >= all[last].hi)
		all[last].hi = h->max_ms; /* the last bucket takes everything above */
	for (int b = first; b <= last && n < max; b++)
		bins[n++] = all[b];
	return n;
}
