/* pgdeliver.c: one batch, one transaction: batch id, COPY per table, rollup merge, COMMIT. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "pgdeliver.h"
#include "pgsplit.h"

#define SQL_MAX 8192

/* Where each part goes; %s is the schema (the rollup goes through the session's staging table). */
static const char *const part_table[PGB__COUNT] = {
    "%s.http_requests", "pg_temp.httplat_stage_1m", "%s.alerts", "%s.httplat_health"};

/* The staged rollup rows added to the table's (a late row adds to its minute). */
#define MERGE_SQL                                                                                  \
	"INSERT INTO %1$s.http_requests_1m AS t (" PGCOPY_ROLLUP_COLS ") "                         \
	"SELECT " PGCOPY_ROLLUP_COLS " FROM pg_temp.httplat_stage_1m "                             \
	"ON CONFLICT (minute, host, api, route, status, tls) DO UPDATE SET "                       \
	"count = t.count + excluded.count, "                                                       \
	"sum_ms = coalesce(t.sum_ms + excluded.sum_ms, t.sum_ms, excluded.sum_ms), "               \
	"max_ms = greatest(t.max_ms, excluded.max_ms), "                                           \
	"hist = %1$s.httplat_hist_add(t.hist, excluded.hist), "                                    \
	"wait_sum_ms = coalesce(t.wait_sum_ms + excluded.wait_sum_ms, t.wait_sum_ms, "             \
	"excluded.wait_sum_ms), "                                                                  \
	"wait_max_ms = greatest(t.wait_max_ms, excluded.wait_max_ms), "                            \
	"wait_hist = %1$s.httplat_hist_add(t.wait_hist, excluded.wait_hist)"

void pgdeliver__init(struct pgdeliver *d, struct pgsess *s, struct pgmaint *m, const char *host)
{
	memset(d, 0, sizeof(*d));
	d->s = s;
	d->m = m;
	d->host = host;
	d->schema = m->schema;
	snprintf(d->sql_merge, sizeof(d->sql_merge), MERGE_SQL, d->schema);
	snprintf(d->sql_batch_id, sizeof(d->sql_batch_id),
		 "INSERT INTO %s.httplat_batches (host, writer, seq, sub, rows) "
		 "VALUES ($1, $2, $3, $4, $5)",
		 d->schema);
}

void pgdeliver__destroy(struct pgdeliver *d)
{
	free(d->lines);
	d->lines = NULL;
}

void pgdeliver__count(struct pgcounts *c, enum pgbatch_part part, enum pgres r, uint64_t n)
{
	if (part == PGB_REQUESTS) {
		if (r == PGR_OK)
			c->written += n;
		else if (r == PGR_DUP)
			c->dup += n;
		else
			c->rejected += n;
	} else if (part == PGB_ALERTS && r == PGR_OK) {
		c->alerts += n;
	} else if (part == PGB_HEALTH && r == PGR_OK) {
		c->health += n;
	} else if (r == PGR_DATA) {
		c->other_dropped += n;
	}
}

int pgdeliver__connect(struct pgdeliver *d)
{
	enum pgres r = pgsess__open(d->s);

	if (r == PGR_OK)
		r = pgmaint__setup(d->m, d->s);
	if (r == PGR_FATAL) {
		pgsess__close(d->s);
		return -EPERM;
	}
	if (r != PGR_OK) {
		pgsess__fail(d->s, "cannot connect");
		return -EAGAIN;
	}
	d->ever_connected = 1;
	pgsess__ready(d->s);
	return 0;
}

static enum pgres copy_part(struct pgdeliver *d, const struct pgbatch *b,
			    const struct pgsegment *seg)
{
	struct pgchunk chunks[3] = {{NULL, 0}, {seg->data, seg->len}, {NULL, 0}};
	int bin = pgbatch__binary(seg->part);
	char sql[SQL_MAX], table[160];

	if (bin) {
		chunks[0] = (struct pgchunk){PGCOPY_BIN_HEADER, PGCOPY_BIN_HEADER_LEN};
		chunks[2] = (struct pgchunk){PGCOPY_BIN_TRAILER, PGCOPY_BIN_TRAILER_LEN};
	}
	snprintf(table, sizeof(table), part_table[seg->part], d->schema);
	snprintf(sql, sizeof(sql), "COPY %s (%s) FROM STDIN%s", table,
		 pgbatch__cols(b, seg->part), bin ? " WITH (FORMAT binary)" : "");
	return pgsess__copy(d->s, sql, chunks, 3);
}

enum pgres pgdeliver__txn(struct pgdeliver *d, const struct pgbatch *b, uint64_t sub,
			  uint32_t rows, const struct pgsegment *seg, int nseg)
{
	char writer[24], seq[24], subs[24], nrows[16];
	const char *params[] = {d->host, writer, seq, subs, nrows};
	struct pgsess *s = d->s;
	enum pgres r;

	snprintf(writer, sizeof(writer), "%" PRId64, (int64_t)b->writer);
	snprintf(seq, sizeof(seq), "%" PRId64, (int64_t)b->seq);
	snprintf(subs, sizeof(subs), "%" PRId64, (int64_t)sub);
	snprintf(nrows, sizeof(nrows), "%u", rows);
	r = pgsess__exec(s, "BEGIN", 0, NULL);
	if (r == PGR_OK)
		r = pgsess__exec(s, d->sql_batch_id, 5, params);
	if (r == PGR_DATA && !strcmp(s->state, "23505"))
		r = PGR_DUP;
	for (int i = 0; i < nseg && r == PGR_OK; i++) {
		if (!seg[i].len)
			continue;
		r = copy_part(d, b, &seg[i]);
		if (r == PGR_OK && seg[i].part == PGB_ROLLUP)
			r = pgsess__exec(s, d->sql_merge, 0, NULL);
	}
	if (r == PGR_OK)
		r = pgsess__exec(s, "COMMIT", 0, NULL);
	else
		pgsess__rollback(s);
	return r;
}

int pgdeliver__batch(struct pgdeliver *d, const struct pgbatch *b, struct pgcounts *c)
{
	struct pgsegment seg[PGB__COUNT];
	struct pgsess *s = d->s;
	enum pgres r = PGR_OK;
	int tries = 0, err;

	if (!s->conn && !pgsess__may_connect(s, clock__mono_ms()))
		return -EAGAIN;
	if (!s->conn && (err = pgdeliver__connect(d)))
		return err;
	for (int i = 0; i < PGB__COUNT; i++)
		seg[i] = (struct pgsegment){(enum pgbatch_part)i, b->part[i].data, b->part[i].len};
again:
	if (b->part[PGB_REQUESTS].len)
		r = pgmaint__ensure_days(d->m, s, pgmaint__day_of(b->first_ns),
					 pgmaint__day_of(b->last_ns));
	if (r == PGR_OK)
		r = pgdeliver__txn(d, b, 0, b->rows[PGB_REQUESTS], seg, PGB__COUNT);
	c->batches++;
	if (r != PGR_OK && r != PGR_DUP)
		c->db_errors++;
	switch (r) {
	case PGR_OK:
	case PGR_DUP:
		pgsess__healthy(s);
		pgdeliver__count(c, PGB_REQUESTS, r, b->rows[PGB_REQUESTS]);
		pgdeliver__count(c, PGB_ALERTS, r, b->rows[PGB_ALERTS]);
		pgdeliver__count(c, PGB_HEALTH, r, b->rows[PGB_HEALTH]);
		return 0;
	case PGR_DATA:
		if (!strcmp(s->state, "23514") && !tries++) {
			pgmaint__forget(d->m); /* no partition for a row: maybe dropped meanwhile */
			goto again;
		}
		err = pgsplit__batch(d, b, c);
		if (err != -EAGAIN)
			return err;
		break;
	case PGR_FATAL:
		pgsess__close(s);
		return -EPERM;
	default:
		break;
	}
	/* a fresh connection after the backoff also resets any session state */
	pgsess__fail(s, "write failed");
	return -EAGAIN;
}
