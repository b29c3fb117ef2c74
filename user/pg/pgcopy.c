/* pgcopy.c: COPY text-format rows: field escaping, UTF-8 repair, number and time formatting. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pgcopy.h"
#include "text.h"

#define FFFD "\xef\xbf\xbd"

int pgbuf__reserve(struct pgbuf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->cap - b->len >= n)
		return 0;
	cap = b->cap ? b->cap : 4096;
	while (cap - b->len < n)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int pgbuf__append(struct pgbuf *b, const void *p, size_t n)
{
	if (pgbuf__reserve(b, n))
		return -ENOMEM;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

void pgbuf__free(struct pgbuf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/*
 * Writes s[0..len) as valid UTF-8 at o (room for 3 * len bytes): invalid bytes
 * and NUL become U+FFFD; with escape, COPY text's specials are escaped too.
 * Returns the end of the output; *replaced counts replacements.
 */
static char *utf8_put(char *o, const unsigned char *u, size_t len, int escape, int *replaced)
{
	for (size_t i = 0; i < len;) {
		unsigned char c = u[i];
		size_t n;

		if (c >= 0x20 && c < 0x80 && c != '\\') {
			*o++ = (char)c;
			i++;
			continue;
		}
		if (escape && (c == '\\' || c == '\t' || c == '\n' || c == '\r')) {
			*o++ = '\\';
			*o++ = c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : '\\';
			i++;
			continue;
		}
		if (c && c < 0x80) { /* control bytes, unescaped backslash: valid text */
			*o++ = (char)c;
			i++;
			continue;
		}
		n = c ? text__utf8_seq(u + i, len - i) : 0;
		if (!n) {
			memcpy(o, FFFD, 3);
			o += 3;
			(*replaced)++;
			i++;
			continue;
		}
		memcpy(o, u + i, n);
		o += n;
		i += n;
	}
	return o;
}

int pgcopy__text(struct pgbuf *b, const char *s, size_t len)
{
	int replaced = 0;

	/* worst case: every byte becomes U+FFFD (3 bytes) */
	if (pgbuf__reserve(b, 3 * len + 1))
		return -ENOMEM;
	b->len = (size_t)(utf8_put(b->data + b->len, (const unsigned char *)s, len, 1, &replaced) -
			  b->data);
	return replaced;
}

static char *put_2(char *o, unsigned v)
{
	o[0] = (char)('0' + v / 10);
	o[1] = (char)('0' + v % 10);
	return o + 2;
}

size_t pgcopy__ts(char *out, size_t outsz, int64_t ts_ns)
{
	int64_t sec = ts_ns / 1000000000, days, z, era, yoe, doy, yp, mp, y;
	int64_t us = (ts_ns % 1000000000) / 1000;
	unsigned sod, d, m;
	char *o = out;

	if (outsz < 32)
		return 0;
	if (us < 0) { /* floor for times before 1970 */
		us += 1000000;
		sec--;
	}
	days = sec / 86400;
	if (sec % 86400 < 0)
		days--;
	sod = (unsigned)(sec - days * 86400);
	/* civil_from_days (H. Hinnant): proleptic Gregorian, no tables, no gmtime */
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	yoe = z - era * 146097;
	yp = (yoe - yoe / 1460 + yoe / 36524 - yoe / 146096) / 365;
	doy = yoe - (365 * yp + yp / 4 - yp / 100);
	mp = (5 * doy + 2) / 153;
	d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	y = yp + era * 400 + (m <= 2);
	if (y < 1 || y > 9999)
		y = y < 1 ? 1 : 9999;
	o = put_2(o, (unsigned)(y / 100));
	o = put_2(o, (unsigned)(y % 100));
	*o++ = '-';
	o = put_2(o, m);
	*o++ = '-';
	o = put_2(o, d);
	*o++ = ' ';
	o = put_2(o, sod / 3600);
	*o++ = ':';
	o = put_2(o, sod / 60 % 60);
	*o++ = ':';
	o = put_2(o, sod % 60);
	*o++ = '.';
	for (int i = 5; i >= 0; i--, us /= 10)
		o[i] = (char)('0' + us % 10);
	o += 6;
	memcpy(o, "+00", 4);
	return (size_t)(o + 3 - out);
}

/* Decimal of v into out (no terminator); returns length. */
static size_t put_u64(char *out, uint64_t v)
{
	char tmp[24];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

static size_t put_i64(char *out, int64_t v)
{
	if (v >= 0)
		return put_u64(out, (uint64_t)v);
	out[0] = '-';
	return 1 + put_u64(out + 1, -(uint64_t)v);
}

size_t pgcopy__ms(char *out, size_t outsz, double ms, int null_neg)
{
	uint64_t micro; /* millionths of a ms = ns */
	size_t n = 0;

	if (outsz < 32)
		return 0;
	if (isnan(ms) || isinf(ms) || (null_neg && ms < 0)) {
		memcpy(out, "\\N", 3);
		return 2;
	}
	if (ms < 0) {
		out[n++] = '-';
		ms = -ms;
	}
	if (ms > 9e12) /* beyond a century of milliseconds: clamp, keep the digits bounded */
		ms = 9e12;
	micro = (uint64_t)llround(ms * 1e6);
	n += put_u64(out + n, micro / 1000000);
	out[n++] = '.';
	micro %= 1000000;
	for (int i = 5; i >= 0; i--, micro /= 10)
		out[n + (size_t)i] = (char)('0' + micro % 10);
	n += 6;
	out[n] = 0;
	return n;
}

/* Field writers over a reserved buffer: each appends the value and a separator. */
static int field_text(struct pgbuf *b, const char *s, size_t maxlen, char sep, int *replaced)
{
	int r = pgcopy__text(b, s, strnlen(s, maxlen));

	if (r < 0)
		return r;
	if (replaced)
		*replaced += r;
	return pgbuf__append(b, &sep, 1);
}

static int field_raw(struct pgbuf *b, const char *s, size_t n, char sep)
{
	if (pgbuf__reserve(b, n + 1))
		return -ENOMEM;
	memcpy(b->data + b->len, s, n);
	b->data[b->len + n] = sep;
	b->len += n + 1;
	return 0;
}

static int field_ts(struct pgbuf *b, int64_t ts_ns, char sep)
{
	char t[40];

	return field_raw(b, t, pgcopy__ts(t, sizeof(t), ts_ns), sep);
}

static int field_ms(struct pgbuf *b, double ms, int null_neg, char sep)
{
	char t[40];

	return field_raw(b, t, pgcopy__ms(t, sizeof(t), ms, null_neg), sep);
}

static int field_int(struct pgbuf *b, int64_t v, char sep)
{
	char t[24];

	return field_raw(b, t, put_i64(t, v), sep);
}

/* bigint columns: values above INT64_MAX are clamped rather than failing the batch. */
static int field_u64(struct pgbuf *b, uint64_t v, char sep)
{
	return field_int(b, v > INT64_MAX ? INT64_MAX : (int64_t)v, sep);
}

/* ---- binary COPY (FORMAT binary) for http_requests: no text parsing on the server ---- */

#define PG_EPOCH_US 946684800000000LL /* 2000-01-01 00:00:00 UTC in Unix microseconds */

static char *put_be(char *o, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--, v >>= 8)
		o[i] = (char)(v & 0xff);
	return o + bytes;
}

static char *bin_i64(char *o, int64_t v)
{
	return put_be(put_be(o, 8, 4), (uint64_t)v, 8);
}

static char *bin_f64(char *o, double v)
{
	uint64_t u;

	memcpy(&u, &v, sizeof(u));
	return put_be(put_be(o, 8, 4), u, 8);
}

static char *bin_null(char *o)
{
	return put_be(o, 0xffffffffu, 4);
}

static char *bin_text(char *o, const char *s, size_t maxlen, int *replaced)
{
	char *start = o + 4;
	char *end = utf8_put(start, (const unsigned char *)s, strnlen(s, maxlen), 0, replaced);

	put_be(o, (uint64_t)(end - start), 4);
	return end;
}

static char *bin_ms(char *o, double ms)
{
	return isnan(ms) || isinf(ms) || ms < 0 ? bin_null(o) : bin_f64(o, ms);
}

int pgcopy__request(struct pgbuf *b, const struct record *r, const char *host)
{
	size_t hostlen = strnlen(host, 256);
	int64_t us = r->ts_ns / 1000 - (r->ts_ns % 1000 < 0);
	uint32_t flags = r->flags;
	int answered = record__answered(r);
	int bad = 0;
	char *o;

	/* 17 fields of at most 4 + 8 bytes, text repaired at 3 bytes a byte */
	if (pgbuf__reserve(b, 2 + PGCOPY_REQUESTS_NCOLS * 12 +
				  3 * (hostlen + sizeof(r->api) + sizeof(r->method) +
				       sizeof(r->route) + sizeof(r->path) + sizeof(r->query))))
		return -ENOMEM;
	o = b->data + b->len;
	o = put_be(o, PGCOPY_REQUESTS_NCOLS, 2);
	o = bin_i64(o, us - PG_EPOCH_US);
	o = bin_text(o, host, hostlen, &bad);
	o = bin_text(o, r->api, sizeof(r->api), &bad);
	o = bin_text(o, r->method, sizeof(r->method), &bad);
	bad = 0; /* only path, query and route set the flag */
	o = bin_text(o, r->route, sizeof(r->route), &bad);
	o = bin_text(o, r->path, sizeof(r->path), &bad);
	o = bin_text(o, r->query, sizeof(r->query), &bad);
	o = put_be(put_be(o, 2, 4), r->status, 2);
	o = answered ? bin_ms(o, r->duration_ms) : bin_null(o);
	o = answered ? bin_ms(o, r->ttfb_ms) : bin_null(o);
	o = bin_i64(o, r->bytes_in > INT64_MAX ? INT64_MAX : (int64_t)r->bytes_in);
	o = bin_i64(o, r->bytes_out > INT64_MAX ? INT64_MAX : (int64_t)r->bytes_out);
	o = put_be(put_be(o, 4, 4), r->pid, 4);
	if (bad)
		flags |= RECORD_F_PATH_INVALID;
	o = put_be(put_be(o, 4, 4), flags, 4);
	o = bin_ms(o, r->queue_ms);
	o = bin_ms(o, r->wait_ms);
	o = put_be(put_be(o, 1, 4), r->tls ? 1 : 0, 1);
	b->len = (size_t)(o - b->data);
	return 0;
}

long pgcopy__bin_next(const char *data, size_t len, size_t off)
{
	const unsigned char *u = (const unsigned char *)data;
	int nfields;

	if (off + 2 > len)
		return -EINVAL;
	nfields = u[off] << 8 | u[off + 1];
	off += 2;
	if (nfields > 1600)
		return -EINVAL;
	for (int i = 0; i < nfields; i++) {
		uint32_t flen;

		if (off + 4 > len)
			return -EINVAL;
		flen = (uint32_t)u[off] << 24 | (uint32_t)u[off + 1] << 16 |
		       (uint32_t)u[off + 2] << 8 | u[off + 3];
		off += 4;
		if (flen == 0xffffffffu)
			continue;
		if (flen > len - off)
			return -EINVAL;
		off += flen;
	}
	return (long)off;
}

int pgcopy__alert(struct pgbuf *b, const struct alert_row *a, const char *host)
{
	size_t start = b->len;
	int err = 0;

	err = err ?: field_ts(b, a->ts_ns, '\t');
	err = err ?: field_text(b, host, 256, '\t', NULL);
	err = err ?: field_text(b, a->rule, sizeof(a->rule), '\t', NULL);
	err = err ?: field_text(b, a->api, sizeof(a->api), '\t', NULL);
	err = err ?: field_text(b, a->route, sizeof(a->route), '\t', NULL);
	err = err ?: field_text(b, a->severity, sizeof(a->severity), '\t', NULL);
	err = err ?: field_text(b, a->state, sizeof(a->state), '\t', NULL);
	err = err ?: field_ms(b, a->value, 0, '\t');
	err = err ?: field_ms(b, a->threshold, 0, '\t');
	err = err
		  ?: field_int(b,
			       a->delivered < -1  ? -1
			       : a->delivered > 1 ? 1
						  : a->delivered,
			       '\t');
	err = err ?: field_text(b, a->message, sizeof(a->message), '\n', NULL);
	if (err)
		b->len = start;
	return err;
}

int pgcopy__health(struct pgbuf *b, const struct health_row *h, const char *host)
{
	const uint64_t counters[] = {
	    h->events,	      h->requests,     h->decode_errors, h->kernel_dropped, h->rows_written,
	    h->rows_queued,   h->rows_spooled, h->rows_dropped,	 h->rows_rejected,  h->spool_bytes,
	    h->db_errors,     h->alerts_sent,  h->alerts_failed,
	};
	size_t start = b->len;
	int err = 0;

	err = err ?: field_ts(b, h->ts_ns, '\t');
	err = err ?: field_text(b, host, 256, '\t', NULL);
	err = err ?: field_ts(b, h->started_ns, '\t');
	err = err ?: field_int(b, h->daemon_pid, '\t');
	err = err ?: field_int(b, h->targets, '\t');
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		err = err ?: field_u64(b, counters[i], '\t');
	err = err ?: field_text(b, h->last_error, sizeof(h->last_error),
				HTTPLAT_C__COUNT ? '\t' : '\n', NULL);
	for (int i = 0; i < HTTPLAT_C__COUNT; i++)
		err = err ?: field_u64(b, h->kernel[i], i + 1 < HTTPLAT_C__COUNT ? '\t' : '\n');
	if (err)
		b->len = start;
	return err;
}

#define PGCOPY__KERNEL_NAME(name, column, kind, doc) "kernel_" #column,
static const char *const kernel_columns[] = {HTTPLAT_COUNTERS(PGCOPY__KERNEL_NAME)};

const char *pgcopy__kernel_column(int i)
{
	return i >= 0 && i < HTTPLAT_C__COUNT ? kernel_columns[i] : NULL;
}
