/* decode.c: turns a kernel request event into a record: request-line split, times, labels. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "classify.h"
#include "decode.h"

_Static_assert(sizeof(struct httplat_request_event) == 96 + HTTPLAT_RAW_MAX,
	       "request event layout changed: update both sides");
_Static_assert(RECORD_PATH_MAX == HTTPLAT_RAW_MAX, "record path holds a whole raw line");

#define FLAG_NAME(name, bit, json, doc) [bit] = #json,
static const char *const flag_names[16] = {HTTPLAT_FLAGS(FLAG_NAME)};
#undef FLAG_NAME

const char *decode__flag_name(int bit)
{
	if (bit >= 0 && bit < (int)(sizeof(flag_names) / sizeof(flag_names[0])))
		return flag_names[bit];
	if (bit == 16)
		return "path_truncated";
	if (bit == 17)
		return "path_invalid";
	return NULL;
}

/* Copies n bytes, NUL bytes replaced by '?' (reported through *invalid). */
static size_t copy_field(char *dst, size_t dstsz, const char *src, size_t n, int *invalid)
{
	if (n >= dstsz)
		n = dstsz - 1;
	for (size_t i = 0; i < n; i++) {
		dst[i] = src[i] ? src[i] : '?';
		if (!src[i])
			*invalid = 1;
	}
	dst[n] = '\0';
	return n;
}

int decode__request(const struct httplat_request_event *e, size_t size, int64_t mono_to_real_ns,
		    const struct classifier *c, struct record *r)
{
	const char *raw = e->raw, *sp, *target, *end, *q;
	size_t len, mlen, tlen;
	int invalid = 0, truncated = 0;

	/* records carry only the used part of raw[] */
	if (size < offsetof(struct httplat_request_event, raw) || size > sizeof(*e) ||
	    e->hdr.type != HTTPLAT_EV_REQUEST || e->raw_len > HTTPLAT_RAW_MAX ||
	    e->raw_len > size - offsetof(struct httplat_request_event, raw) || e->start_ns == 0)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	len = e->raw_len;
	r->ts_ns = (int64_t)e->start_ns + mono_to_real_ns;
	r->duration_ms = e->end_ns > e->start_ns ? (double)(e->end_ns - e->start_ns) / 1e6 : 0;
	r->ttfb_ms = e->ttfb_ns >= e->start_ns && e->ttfb_ns ? (double)(e->ttfb_ns - e->start_ns) / 1e6
							     : -1;
	r->queue_ms = e->queue_ns == HTTPLAT_NS_UNKNOWN ? -1 : (double)e->queue_ns / 1e6;
	r->wait_ms = e->wait_ns == HTTPLAT_NS_UNKNOWN ? -1 : (double)e->wait_ns / 1e6;
	r->seq = e->seq;
	r->bytes_in = e->bytes_in;
	r->bytes_out = e->bytes_out;
	r->conn_id = e->conn_id;
	r->pid = e->hdr.tgid;
	r->flags = e->flags;
	r->status = e->status;
	r->lport = e->lport;
	r->version = e->version;
	r->tls = e->conn_kind == HTTPLAT_CONN_TLS;

	/* "METHOD SP request-target SP HTTP/1.x", maybe cut at raw_len */
	sp = memchr(raw, ' ', len);
	if (!sp)
		return -EINVAL;
	mlen = (size_t)(sp - raw);
	copy_field(r->method, sizeof(r->method), raw, mlen, &invalid);
	target = sp + 1;
	end = memchr(target, ' ', len - (size_t)(target - raw));
	if (!end) {
		/* no version in what we kept: the line was longer than raw */
		end = raw + len;
		truncated = e->line_len > e->raw_len || len == HTTPLAT_RAW_MAX;
	}
	tlen = (size_t)(end - target);
	q = memchr(target, '?', tlen);
	if (q) {
		r->path_len = (uint16_t)copy_field(r->path, sizeof(r->path), target,
						   (size_t)(q - target), &invalid);
		copy_field(r->query, sizeof(r->query), q + 1, (size_t)(end - q - 1), &invalid);
	} else {
		r->path_len = (uint16_t)copy_field(r->path, sizeof(r->path), target, tlen, &invalid);
	}
	if (truncated)
		r->flags |= RECORD_F_PATH_TRUNCATED;
	if (invalid)
		r->flags |= RECORD_F_PATH_INVALID;
	classifier__route(c, r->path, r->route, sizeof(r->route));
	classifier__api(c, r->path, r->api, sizeof(r->api));
	return 0;
}
