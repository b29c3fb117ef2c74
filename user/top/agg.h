/* agg.h: per-API and per-route request statistics over the last interval, a window and all time. */
#ifndef HTTPLAT_AGG_H
#define HTTPLAT_AGG_H

#include <stdint.h>

#include "hist.h"
#include "record.h"

/*
 * Time is explicit: records go into the open interval, agg__tick() closes it
 * with its measured length. Every row keeps one struct hist per interval of
 * the window (a ring of `slots` intervals), so memory per row is fixed
 * (about slots x 0.9 KiB) whatever the request rate, and percentiles have the
 * histogram's bounded relative error (within 4.4 %, see hist.h). Records with
 * status 0 (no response) are counted, but are not latency samples. A row gets
 * a second ring for queue_ms + wait_ms once a record carries them (the same
 * size again).
 */

#define AGG_MAX_SLOTS 300 /* intervals in the window: at most ~280 KiB a row */
#define AGG_MAX_APIS 80
#define AGG_MAX_ROUTES 256 /* distinct (api, route) rows; more go to one overflow row */
#define AGG_OVERFLOW_API "*"
#define AGG_OVERFLOW_ROUTE "(other routes)"

/* The status codes the team watches, in column order. */
#define AGG_NCODES 10
extern const uint16_t agg_codes[AGG_NCODES]; /* 200 201 301 400 401 403 404 500 502 503 */

/* Index into status[]: 0..AGG_NCODES-1 as agg_codes, then these. */
enum { AGG_ST_OTHER = AGG_NCODES, AGG_ST_NORESP, AGG_NST };

/* A summary of one period for one row; latency fields are 0 without answered requests. */
struct agg_period {
	double seconds;	   /* time covered (closed intervals only) */
	uint64_t requests; /* all records, with or without a response */
	uint64_t answered; /* requests with a status: the latency samples */
	uint64_t errors;   /* 5xx plus no response */
	uint64_t status[AGG_NST];
	double rps; /* requests / seconds */
	double p50, p95, p99, max, mean;
	double err_pct;	 /* 100 * errors / requests */
	uint64_t waited; /* requests whose queue_ms + wait_ms the kernel knew */
	double wait_p95; /* p95 of queue_ms + wait_ms over those */
};

enum agg_period_kind { AGG_LAST, AGG_WINDOW, AGG_TOTAL, AGG_NPERIODS };

struct agg_row {
	int id;				 /* stable handle for agg__series/agg__hist */
	char api[RECORD_API_MAX];	 /* "data", ... or AGG_OVERFLOW_API */
	char route[RECORD_PATH_MAX + 1]; /* "" on an API row */
	struct agg_period p[AGG_NPERIODS];
};

/* One closed interval of a row, for sparklines. */
struct agg_point {
	uint64_t requests;
	double rps, p95, max;
};

struct agg;

/* slots: intervals in the window, 1..AGG_MAX_SLOTS. NULL and errno on failure. */
struct agg *agg__new(int slots);
void agg__free(struct agg *a);
/* Counts r in the open interval of its API row, its route row and the total. */
void agg__add(struct agg *a, const struct record *r);
/* A copy of a with everything counted so far (NULL and errno on failure). */
struct agg *agg__clone(const struct agg *a);
/* Closes the open interval, which lasted `seconds` (> 0), and opens the next. */
void agg__tick(struct agg *a, double seconds);

/*
 * Writes up to max rows (API rows, or route rows when routes is non-zero) in
 * first-seen order; returns how many rows exist (may be > max).
 */
int agg__rows(const struct agg *a, int routes, struct agg_row *out, int max);
/* The sum of every API: id -1. */
void agg__total(const struct agg *a, struct agg_row *out);
/* Window histogram of row id (-1: total); -ENOENT for an unknown id. */
int agg__hist(const struct agg *a, int id, struct hist *out);
/* Closed intervals of row id (-1: total), oldest first; returns the count written. */
int agg__series(const struct agg *a, int id, struct agg_point *out, int max);

/* Intervals in the window, and how many of them are closed yet. */
int agg__slots(const struct agg *a);
int agg__filled(const struct agg *a);
/* Records that found no free route row and went to the overflow row. */
uint64_t agg__overflowed(const struct agg *a);
/* The status[] index for an HTTP status (0 = no response). */
int agg__status_index(uint16_t status);

#endif
