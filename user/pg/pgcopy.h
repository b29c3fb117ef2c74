/* pgcopy.h: COPY rows for httplat's tables (binary requests, text others, UTF-8 repair); pure. */
#ifndef HTTPLAT_PGCOPY_H
#define HTTPLAT_PGCOPY_H

#include <linux/types.h>
#include <stddef.h>
#include <stdint.h>

#include "alert_row.h"
#include "httplat.h"
#include "record.h"

/* A growable byte buffer; zero-initialised is empty. */
struct pgbuf {
	char *data;
	size_t len;
	size_t cap;
};

/* Column lists, in the order the pgcopy__* row functions write fields. */
#define PGCOPY_REQUESTS_COLS                                                                       \
	"ts, host, api, method, route, path, query, status, duration_ms, ttfb_ms, bytes_in, "      \
	"bytes_out, pid, flags, queue_ms, wait_ms, tls"
#define PGCOPY_ALERTS_COLS                                                                         \
	"ts, host, rule, api, route, severity, state, value, threshold, delivered, message"
#define PGCOPY_ROLLUP_COLS                                                                         \
	"minute, host, api, route, status, tls, count, sum_ms, max_ms, hist, wait_sum_ms, "        \
	"wait_max_ms, wait_hist"

/* Daemon counters for one httplat_health row (cumulative since started_ns). */
struct health_row {
	int64_t ts_ns;
	int64_t started_ns;
	int32_t daemon_pid;
	int32_t targets;
	uint64_t events, requests, decode_errors;
	uint64_t kernel_dropped; /* sum of the loss counters */
	uint64_t rows_written, rows_queued, rows_spooled, rows_dropped, rows_rejected;
	uint64_t spool_bytes, db_errors, alerts_sent, alerts_failed;
	char last_error[256];
	uint64_t kernel[HTTPLAT_C__COUNT]; /* enum httplat_counter: column kernel_<column> */
};

/* httplat_health has one column per kernel counter, named after HTTPLAT_COUNTERS. */
#define PGCOPY__KERNEL_COL(name, column, kind, doc) ", kernel_" #column
#define PGCOPY_HEALTH_COLS                                                                         \
	"ts, host, started, daemon_pid, targets, events, requests, decode_errors, "                \
	"kernel_dropped, rows_written, rows_queued, rows_spooled, rows_dropped, rows_rejected, "   \
	"spool_bytes, db_errors, alerts_sent, alerts_failed, last_error" HTTPLAT_COUNTERS(         \
	    PGCOPY__KERNEL_COL)
/* The column of kernel counter i ("kernel_ringbuf_full", ...). */
const char *pgcopy__kernel_column(int i);

/*
 * Column lists of rows written before schema version 2 (in spool files of
 * format 2), with the health columns by their new names.
 */
#define PGCOPY_V1_REQUESTS_COLS                                                                    \
	"ts, host, api, method, route, path, query, status, duration_ms, ttfb_ms, bytes_in, "      \
	"bytes_out, pid, flags"
#define PGCOPY_V1_ROLLUP_COLS "minute, host, api, route, status, count, sum_ms, max_ms, hist"
#define PGCOPY_V1_HEALTH_COLS                                                                      \
	"ts, host, started, daemon_pid, targets, events, requests, decode_errors, "                \
	"kernel_ringbuf_full, kernel_conn_table_full, kernel_inflight_full, kernel_pipeline_full, " \
	"kernel_parse_giveup, kernel_non_http_reads, kernel_orphan_responses, kernel_dropped, "    \
	"rows_written, rows_queued, rows_spooled, rows_dropped, rows_rejected, spool_bytes, "      \
	"db_errors, alerts_sent, alerts_failed, last_error"

/* 0 or -ENOMEM; grows so that at least n more bytes fit. */
int pgbuf__reserve(struct pgbuf *b, size_t n);
/* Appends raw bytes; 0 or -ENOMEM. */
int pgbuf__append(struct pgbuf *b, const void *p, size_t n);
void pgbuf__free(struct pgbuf *b);

/*
 * Appends s[0..len) as one COPY text field: backslash, tab, newline and
 * carriage return are escaped; every byte that is not part of valid UTF-8
 * (RFC 3629: no overlongs, surrogates or > U+10FFFF) and NUL become U+FFFD.
 * Returns the number of bytes replaced (>= 0) or -ENOMEM.
 */
int pgcopy__text(struct pgbuf *b, const char *s, size_t len);
/* "2026-11-25 14:44:45.123456+00" for CLOCK_REALTIME nanoseconds (UTC, microseconds). */
size_t pgcopy__ts(char *out, size_t outsz, int64_t ts_ns);
/* Fixed-point with 6 decimals ("12.500000"); NaN, inf and negatives as \N when null_neg. */
size_t pgcopy__ms(char *out, size_t outsz, double ms, int null_neg);

/*
 * http_requests rows go in COPY's binary format (a quarter less server CPU
 * than text): the stream is PGCOPY_BIN_HEADER, tuples, PGCOPY_BIN_TRAILER.
 */
#define PGCOPY_REQUESTS_NCOLS 17
#define PGCOPY_BIN_HEADER "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0"
#define PGCOPY_BIN_HEADER_LEN 19
#define PGCOPY_BIN_TRAILER "\377\377"
#define PGCOPY_BIN_TRAILER_LEN 2

/*
 * One binary tuple for http_requests. Text is repaired to valid UTF-8 (not
 * escaped: binary needs none). Status 0 writes NULL duration_ms and ttfb_ms;
 * ttfb, queue_ms or wait_ms < 0 (unknown) write NULL; repaired route/path/query
 * bytes set RECORD_F_PATH_INVALID in flags. 0 or -ENOMEM (b unchanged on error).
 */
int pgcopy__request(struct pgbuf *b, const struct record *r, const char *host);
/* Offset just past the binary tuple that starts at off, or -EINVAL when malformed. */
long pgcopy__bin_next(const char *data, size_t len, size_t off);
int pgcopy__alert(struct pgbuf *b, const struct alert_row *a, const char *host);
int pgcopy__health(struct pgbuf *b, const struct health_row *h, const char *host);

#endif
