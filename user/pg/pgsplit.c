/* pgsplit.c: bisection of a batch the database refused because of a bad row. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgsplit.h"

#define MINUTE_NS 60000000000LL

/* Row boundaries of one part into d->lines (n + 1 offsets); the row count, 0 on failure. */
static size_t split_rows(struct pgdeliver *d, const struct pgbuf *p, enum pgbatch_part part)
{
	size_t n = 0;

	for (size_t off = 0; off < p->len; n++) {
		long next;

		if (n + 2 > d->lines_cap) {
			size_t cap = d->lines_cap ? d->lines_cap * 2 : 1024;
			size_t *l = realloc(d->lines, cap * sizeof(*l));

			if (!l)
				return 0;
			d->lines = l;
			d->lines_cap = cap;
		}
		d->lines[n] = off;
		if (pgbatch__binary(part)) {
			next = pgcopy__bin_next(p->data, p->len, off);
			if (next < 0)
				return 0; /* cannot happen for our own tuples */
		} else {
			const char *nl = memchr(p->data + off, '\n', p->len - off);

			next = nl ? nl - p->data + 1 : (long)p->len;
		}
		off = (size_t)next;
	}
	if (n)
		d->lines[n] = p->len;
	return n;
}

void pgsplit__describe(const char *row, size_t len, enum pgbatch_part part, char *out,
		       size_t outsz)
{
	const unsigned char *u = (const unsigned char *)row;
	size_t o = 0, off = 2;

	if (!pgbatch__binary(part)) {
		snprintf(out, outsz, "%.*s", (int)(len && row[len - 1] == '\n' ? len - 1 : len),
			 row);
		return;
	}
	out[0] = 0;
	for (int f = 0; f < PGCOPY_REQUESTS_NCOLS && off + 4 <= len; f++) {
		uint32_t flen = (uint32_t)u[off] << 24 | (uint32_t)u[off + 1] << 16 |
				(uint32_t)u[off + 2] << 8 | u[off + 3];

		off += 4;
		if (flen == 0xffffffffu)
			continue;
		if (flen > len - off)
			break;
		if (f >= 1 && f <= 6 && o + 2 < outsz) /* host, api, method, route, path, query */
			o += (size_t)snprintf(out + o, outsz - o, "%s%.*s", o ? " " : "",
					      (int)(flen < outsz - o - 2 ? flen : outsz - o - 2),
					      row + off);
		off += flen;
	}
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
}

/*
 * Rows [lo, hi) of one part, bisected until the bad rows stand alone. Each
 * piece has its own id (part, lo, hi), so a retry after a lost connection
 * skips pieces already committed. 0, -EAGAIN (connection trouble) or -EPERM.
 */
static int send_range(struct pgdeliver *d, const struct pgbatch *b, enum pgbatch_part part,
		      size_t lo, size_t hi, struct pgcounts *c)
{
	const struct pgbuf *p = &b->part[part];
	struct pgsegment seg = {part, p->data + d->lines[lo], d->lines[hi] - d->lines[lo]};
	uint64_t sub = ((uint64_t)(part + 1) << 56) | ((uint64_t)lo << 28) | hi;
	enum pgres r = pgdeliver__txn(d, b, sub, (uint32_t)(hi - lo), &seg, 1);
	size_t mid;

	switch (r) {
	case PGR_OK:
	case PGR_DUP:
		pgdeliver__count(c, part, r, hi - lo);
		return 0;
	case PGR_FATAL:
		return -EPERM;
	case PGR_DATA:
		if (hi - lo == 1) {
			char row[300];

			pgsplit__describe(seg.data, seg.len, part, row, sizeof(row));
			pgsess__log("row rejected (%s %s): %s", d->s->state, d->s->msg, row);
			pgdeliver__count(c, part, r, 1);
			return 0;
		}
		mid = lo + (hi - lo) / 2;
		return send_range(d, b, part, lo, mid, c) ?: send_range(d, b, part, mid, hi, c);
	default:
		return -EAGAIN;
	}
}

/*
 * A rollup-only batch (no request rows, nothing to re-roll from): its rollup
 * goes in a transaction of its own; refused, its requests are counted rejected.
 */
static int rollup_only(struct pgdeliver *d, const struct pgbatch *b, struct pgcounts *c)
{
	const struct pgbuf *p = &b->part[PGB_ROLLUP];
	struct pgsegment seg = {PGB_ROLLUP, p->data, p->len};
	uint64_t sub = ((uint64_t)(PGB_ROLLUP + 1) << 56) | b->rows[PGB_ROLLUP];
	enum pgres r = pgdeliver__txn(d, b, sub, b->rows[PGB_REQUESTS], &seg, 1);

	switch (r) {
	case PGR_OK:
	case PGR_DUP:
		pgdeliver__count(c, PGB_REQUESTS, r, b->rows[PGB_REQUESTS]);
		return 0;
	case PGR_DATA:
		pgsess__log("rollup rejected (%s %s): %u requests of %u minute groups lost",
			    d->s->state, d->s->msg, b->rows[PGB_REQUESTS], b->rows[PGB_ROLLUP]);
		pgdeliver__count(c, PGB_REQUESTS, r, b->rows[PGB_REQUESTS]);
		return 0;
	case PGR_FATAL:
		return -EPERM;
	default:
		return -EAGAIN;
	}
}

int pgsplit__batch(struct pgdeliver *d, const struct pgbatch *b, struct pgcounts *c)
{
	static const enum pgbatch_part parts[] = {PGB_REQUESTS, PGB_ALERTS, PGB_HEALTH};
	char from[40], to[40], sql[256];
	const char *params[] = {d->host, from, to};
	enum pgres r;

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		size_t n = split_rows(d, &b->part[parts[i]], parts[i]);
		int err;

		if (!n && b->part[parts[i]].len)
			return -EAGAIN; /* no memory for the row index: retry later */
		err = n ? send_range(d, b, parts[i], 0, n, c) : 0;
		if (err)
			return err;
	}
	if (!b->rows[PGB_REQUESTS])
		return 0;
	if (!b->part[PGB_REQUESTS].len)
		return rollup_only(d, b, c);
	pgcopy__ts(from, sizeof(from), b->first_ns);
	pgcopy__ts(to, sizeof(to), b->last_ns + MINUTE_NS);
	snprintf(sql, sizeof(sql), "SELECT %s.httplat_reroll($1, $2::timestamptz, $3::timestamptz)",
		 d->schema);
	r = pgsess__exec(d->s, sql, 3, params);
	return r == PGR_OK ? 0 : r == PGR_FATAL ? -EPERM : -EAGAIN;
}
