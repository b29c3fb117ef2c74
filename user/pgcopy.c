/* pgcopy.c: COPY text-format rows: field escaping, UTF-8 repair, number and time formatting. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pgcopy.h"

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

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when s[0] does not start one. */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
	unsigned char c = s[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (left < n)
		return 0;
	/* second-byte ranges that rule out overlongs, surrogates and > U+10FFFF */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

int pgcopy__text(struct pgbuf *b, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	int replaced = 0;
	char *o;

	/* worst case: every byte becomes U+FFFD (3 bytes) */
	if (pgbuf__reserve(b, 3 * len + 1))
		return -ENOMEM;
	o = b->data + b->len;
	for (size_t i = 0; i < len;) {
		unsigned char c = u[i];
		size_t n;

		if (c >= 0x20 && c < 0x80 && c != '\\') {
			*o++ = (char)c;
			i++;
			continue;
		}
		switch (c) {
		case '\\':
			*o++ = '\\';
			*o++ = '\\';
			i++;
			continue;
		case '\t':
			*o++ = '\\';
			*o++ = 't';
			i++;
			continue;
		case '\n':
			*o++ = '\\';
			*o++ = 'n';
			i++;
			continue;
		case '\r':
			*o++ = '\\';
			*o++ = 'r';
			i++;
			continue;
		case 0:
			memcpy(o, FFFD, 3);
			o += 3;
			replaced++;
			i++;
			continue;
		}
		if (c < 0x80) { /* other control bytes are valid text */
			*o++ = (char)c;
			i++;
			continue;
		}
		n = utf8_seq(u + i, len - i);
		if (!n) {
			memcpy(o, FFFD, 3);
			o += 3;
			replaced++;
			i++;
			continue;
		}
		memcpy(o, u + i, n);
		o += n;
		i += n;
	}
	b->len = (size_t)(o - b->data);
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

static int field_null(struct pgbuf *b, char sep)
{
	return field_raw(b, "\\N", 2, sep);
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

int pgcopy__request(struct pgbuf *b, const struct record *r, const char *host)
{
	size_t start = b->len;
	int bad = 0, err = 0;
	uint32_t flags = r->flags;
	int answered = record__answered(r);

	err = err ?: field_ts(b, r->ts_ns, '\t');
	err = err ?: field_text(b, host, 256, '\t', NULL);
	err = err ?: field_text(b, r->api, sizeof(r->api), '\t', NULL);
	err = err ?: field_text(b, r->method, sizeof(r->method), '\t', NULL);
	err = err ?: field_text(b, r->route, sizeof(r->route), '\t', &bad);
	err = err ?: field_text(b, r->path, sizeof(r->path), '\t', &bad);
	err = err ?: field_text(b, r->query, sizeof(r->query), '\t', &bad);
	err = err ?: field_int(b, r->status, '\t');
	err = err ?: answered ? field_ms(b, r->duration_ms, 1, '\t') : field_null(b, '\t');
	err = err ?: answered ? field_ms(b, r->ttfb_ms, 1, '\t') : field_null(b, '\t');
	err = err ?: field_u64(b, r->bytes_in, '\t');
	err = err ?: field_u64(b, r->bytes_out, '\t');
	err = err ?: field_int(b, (int32_t)r->pid, '\t');
	if (bad)
		flags |= RECORD_F_PATH_INVALID;
	err = err ?: field_int(b, (int32_t)flags, '\n');
	if (err)
		b->len = start;
	return err;
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
	err = err ?: field_int(b, a->delivered < -1 ? -1 : a->delivered > 1 ? 1 : a->delivered, '\t');
	err = err ?: field_text(b, a->message, sizeof(a->message), '\n', NULL);
	if (err)
		b->len = start;
	return err;
}

int pgcopy__health(struct pgbuf *b, const struct health_row *h, const char *host)
{
	const uint64_t counters[] = {
		h->events,	    h->requests,       h->decode_errors,      h->drop_ringbuf_full,
		h->drop_conn_full,  h->drop_inflight_full, h->drop_pipe_full, h->parse_giveup,
		h->non_http,	    h->orphan_response,  h->kernel_dropped,   h->rows_written,
		h->rows_queued,	    h->rows_spooled,     h->rows_dropped,     h->rows_rejected,
		h->spool_bytes,	    h->db_errors,        h->alerts_sent,      h->alerts_failed,
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
	err = err ?: field_text(b, h->last_error, sizeof(h->last_error), '\n', NULL);
	if (err)
		b->len = start;
	return err;
}
