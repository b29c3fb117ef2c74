/* topfmt.h: the columns of `httplat top`, cell text and colour level, sorting, filtering, batch
 * text. */
#ifndef HTTPLAT_TOPFMT_H
#define HTTPLAT_TOPFMT_H

#include <stdio.h>
#include <time.h>

#include "agg.h"

/*
 * Columns, left to right. REQ/S..WAIT describe the last interval; REQS..ERR%
 * the window (the status counts too). Latencies are in milliseconds.
 */
enum top_col {
	TOP_COL_API,
	TOP_COL_ROUTE, /* only in the per-route table */
	TOP_COL_RPS,
	TOP_COL_P50,
	TOP_COL_P95,
	TOP_COL_P99,
	TOP_COL_MAX,
	TOP_COL_WAIT, /* p95 of queue_ms + wait_ms: waiting before the app read the request */
	TOP_COL_REQS,
	TOP_COL_WP50,
	TOP_COL_WP95,
	TOP_COL_WP99,
	TOP_COL_WMAX,
	TOP_COL_CODE, /* TOP_COL_CODE + i: status[i], i < AGG_NST */
	TOP_COL_ERR = TOP_COL_CODE + AGG_NST,
	TOP_NCOLS,
};

/* First column that belongs to the window group, for the console's group titles. */
#define TOP_COL_WINDOW TOP_COL_REQS

enum top_level { TOP_NORMAL, TOP_WARN, TOP_CRIT };

struct top_thresholds {
	double warn_ms; /* latency cells above it are yellow */
	double crit_ms; /* ... and above this red; 0 = no red level */
	/* Optional per-API values (the alerts' [alerts.API] overrides); ctx is its argument. */
	void (*limits)(const void *ctx, const char *api, double *warn_ms, double *crit_ms);
	const void *ctx;
};

/* The thresholds for one API; a crit of 0 comes back as infinity. */
void topfmt__limits(const struct top_thresholds *t, const char *api, double *warn_ms,
		    double *crit_ms);
/* The colour level of a latency for that API. */
enum top_level topfmt__level(const struct top_thresholds *t, const char *api, double ms);

/* Title ("P95", "500", ...) and width of a column; route_w sizes TOP_COL_ROUTE. */
const char *topfmt__title(int col);
int topfmt__width(int col, int route_w);
/* Non-zero for API and ROUTE (left aligned, sorted ascending by default). */
int topfmt__is_text(int col);
/* Width the ROUTE column needs for these rows, within [12, 48]. */
int topfmt__route_width(const struct agg_row *rows, int n);

/* Cell text (not padded) into buf; returns its colour level. */
enum top_level topfmt__cell(const struct agg_row *r, int col, const struct top_thresholds *t,
			    char *buf, size_t n);
/* The cell's number for sorting (text columns: 0). */
double topfmt__value(const struct agg_row *r, int col);
/* Latency as the console prints it: "-" without samples, 0.42 / 12.3 / 512. */
void topfmt__ms(double ms, int have, char *buf, size_t n);

/* Sorts by col (descending for numbers, ascending for text; reverse flips); ties by api, route. */
void topfmt__sort(struct agg_row *rows, int n, int col, int reverse);
/* Keeps rows whose api or route contains filter (case-insensitive); returns the new count. */
int topfmt__filter(struct agg_row *rows, int n, const char *filter);

/* One table line: title line when r is NULL. Cells padded to their widths, one space apart. */
void topfmt__line(const struct agg_row *r, int routes, int route_w, const struct top_thresholds *t,
		  char *buf, size_t n);

#define TOP_MAX_PORTS 16 /* server ports the header names */

/* What the header shows. */
struct top_header {
	char host[64];
	const int *pids;
	int npids;
	const uint16_t *ports;
	int nports;
	time_t now;
	double uptime_s;
	double interval_s;
	int slots, filled; /* the window: intervals in it, closed so far */
	double rps;	   /* all requests, last interval */
	uint64_t requests; /* all requests since the start */
	uint64_t dropped;  /* events the kernel side lost */
	uint64_t overflowed;
	const char *only; /* the tables count only "TLS" or "plaintext" requests; NULL = all */
};

/* First header line: "httplat top - 14:50:01  host h  up 0:01:02  pids ... dropped 0". */
void topfmt__header(const struct top_header *h, char *buf, size_t n);
/* Second header line: which period each column group covers. */
void topfmt__periods(const struct top_header *h, char *buf, size_t n);

/* A plain-text snapshot (--batch, --once): header, API table, route table, blank line. */
void topfmt__snapshot(FILE *f, const struct top_header *h, struct agg_row *apis, int napis,
		      struct agg_row *routes, int nroutes, const struct top_thresholds *t);

/*
 * Sparkline of v[0..n) scaled to its maximum, one character per value (a blank
 * for 0): UTF-8 blocks, or ASCII "_.-~=+*#" when ascii is set. Returns bytes written.
 */
int topfmt__sparkline(const double *v, int n, int ascii, char *buf, size_t sz);

/* One line of a latency histogram: [lo, hi) ms and how many requests fell there. */
struct top_bin {
	double lo, hi;
	uint64_t count;
};

/* Groups h by doubling (2^k x 0.1 ms) between its first and last used bucket; returns bins. */
int topfmt__bins(const struct hist *h, struct top_bin *bins, int max);

#endif
