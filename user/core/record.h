/* record.h: one decoded HTTP request, the unit every sink consumes. */
#ifndef HTTPLAT_RECORD_H
#define HTTPLAT_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define RECORD_PATH_MAX 320 /* = HTTPLAT_RAW_MAX: request-line bytes kept */
#define RECORD_API_MAX 32
#define RECORD_METHOD_MAX 16

/* record.flags: the kernel's HTTPLAT_F_* bits, plus these decode-time bits. */
#define RECORD_F_PATH_TRUNCATED (1u << 16) /* target longer than RECORD_PATH_MAX */
#define RECORD_F_PATH_INVALID (1u << 17)   /* target was not printable ASCII/UTF-8 */

struct record {
	int64_t ts_ns;	   /* wall clock (CLOCK_REALTIME ns) of the request's first byte */
	/*
	 * First request byte read -> last response byte written. For status 0
	 * (no response) it is the time until the request was abandoned (close,
	 * process exit): not a latency, and sinks must not count it as one.
	 */
	double duration_ms;
	double ttfb_ms;	    /* first request byte read -> status line written; <0 none */
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t conn_id; /* the connection (kernel socket address): pairs requests of one connection */
	uint32_t seq;	  /* the request's number on its connection, 0 = the first */
	uint32_t pid;	  /* tgid */
	uint32_t flags;
	uint16_t status; /* 0 = no response */
	uint16_t lport;
	uint8_t version; /* 10 = HTTP/1.0, 11 = HTTP/1.1, 0 unknown */
	uint8_t tls;	 /* 1 when the plaintext was seen through libssl */
	/*
	 * The latency split (docs/tracing.md): queue_ms + wait_ms + duration_ms
	 * is what the client waited, less the network. <0 = unknown (NULL).
	 * queue_ms: accept-queue wait, first request of a connection only.
	 * wait_ms: the request's first byte arrived -> the app read it.
	 */
	double queue_ms;
	double wait_ms;
	char method[RECORD_METHOD_MAX]; /* "GET", "PROPFIND"... truncated to 15 */
	/*
	 * Path as sent, without the query string, NUL-terminated. It may hold
	 * any byte but NUL (a NUL on the wire becomes '?' and sets
	 * RECORD_F_PATH_INVALID): invalid UTF-8, control bytes, quotes and
	 * backslashes reach the sinks, which escape for their medium.
	 */
	char path[RECORD_PATH_MAX + 1];
	uint16_t path_len;
	char query[RECORD_PATH_MAX + 1]; /* after '?', may be empty */
	char route[RECORD_PATH_MAX + 1]; /* path with ids collapsed, "/model/{id}/mesh" */
	char api[RECORD_API_MAX];	  /* "data", "model", "user", "other", ... */
};

/* Wall-clock time the request ended (its last response byte, or when it was abandoned). */
static inline int64_t record__end_ns(const struct record *r)
{
	double d = r->duration_ms > 0 ? r->duration_ms : 0;

	return r->ts_ns + (int64_t)(d * 1e6);
}

/* True when the request got no response (status 0): excluded from latency stats. */
static inline int record__answered(const struct record *r)
{
	return r->status != 0;
}

/* queue_ms + wait_ms, the parts known (an unknown one counts 0); < 0 when neither is. */
static inline double record__wait_ms(const struct record *r)
{
	if (r->queue_ms < 0 && r->wait_ms < 0)
		return -1;
	return (r->queue_ms > 0 ? r->queue_ms : 0) + (r->wait_ms > 0 ? r->wait_ms : 0);
}

#endif /* HTTPLAT_RECORD_H */
