/* pgqueue.c: the producer side: rows formatted into the open batch; sealed batches in a FIFO. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "pgqueue.h"
#include "pgsession.h"

#define BATCH_BYTES (4u << 20) /* seal a batch at this much request data */
#define FREE_KEEP 4	       /* sealed batches kept for reuse */

int pgqueue__init(struct pgqueue *q, const char *host, uint64_t mem_max, uint32_t batch_rows,
		  uint32_t flush_ms, uint64_t writer_id)
{
	memset(q, 0, sizeof(*q));
	snprintf(q->host, sizeof(q->host), "%s", host && *host ? host : "unknown");
	q->mem_max = mem_max;
	q->batch_rows = batch_rows;
	q->flush_ms = flush_ms;
	q->writer_id = writer_id;
	pthread_mutex_init(&q->mu, NULL);
	clock__cond_init(&q->wake); /* timed waits on the monotonic clock */
	clock__cond_init(&q->idle);
	clock__cond_init(&q->tick);
	q->rollup = pgrollup__new();
	return q->rollup ? 0 : -ENOMEM;
}

void pgqueue__destroy(struct pgqueue *q)
{
	struct pgbatch *b;

	while ((b = pgqueue__dequeue(q)))
		pgbatch__free(b);
	while ((b = q->free_list)) {
		q->free_list = b->next;
		pgbatch__free(b);
	}
	pgbatch__free(q->open);
	q->open = NULL;
	pgrollup__free(q->rollup);
	pthread_cond_destroy(&q->tick);
	pthread_cond_destroy(&q->idle);
	pthread_cond_destroy(&q->wake);
	pthread_mutex_destroy(&q->mu);
}

static struct pgbatch *batch_get(struct pgqueue *q)
{
	struct pgbatch *b = q->free_list;

	if (b) {
		q->free_list = b->next;
		q->nfree--;
		b->next = NULL;
		return b;
	}
	return calloc(1, sizeof(*b));
}

static void batch_put(struct pgqueue *q, struct pgbatch *b)
{
	if (q->nfree >= FREE_KEEP) {
		pgbatch__free(b);
		return;
	}
	pgbatch__clear(b);
	b->next = q->free_list;
	q->free_list = b;
	q->nfree++;
}

static void enqueue_tail(struct pgqueue *q, struct pgbatch *b)
{
	b->next = NULL;
	if (q->tail)
		q->tail->next = b;
	else
		q->head = b;
	q->tail = b;
}

void pgqueue__requeue(struct pgqueue *q, struct pgbatch *b)
{
	b->next = q->head;
	q->head = b;
	if (!q->tail)
		q->tail = b;
}

struct pgbatch *pgqueue__dequeue(struct pgqueue *q)
{
	struct pgbatch *b = q->head;

	if (b) {
		q->head = b->next;
		if (!q->head)
			q->tail = NULL;
		b->next = NULL;
	}
	return b;
}

void pgqueue__release(struct pgqueue *q, struct pgbatch *b)
{
	q->st.rows_queued -= b->rows[PGB_REQUESTS];
	q->mem_bytes -= pgbatch__bytes(b);
	batch_put(q, b);
}

int pgqueue__empty(const struct pgqueue *q)
{
	return !q->open && !q->head && !q->inflight && !q->spooling;
}

static int batch_empty(const struct pgbatch *b)
{
	return !b->rows[PGB_REQUESTS] && !b->rows[PGB_ALERTS] && !b->rows[PGB_HEALTH];
}

void pgqueue__seal(struct pgqueue *q)
{
	struct pgbatch *b = q->open;
	size_t before;

	if (!b)
		return;
	q->open = NULL;
	if (batch_empty(b)) {
		batch_put(q, b);
		return;
	}
	before = b->part[PGB_ROLLUP].len;
	if (pgrollup__copy(q->rollup, &b->part[PGB_ROLLUP], q->host) == 0) {
		b->rows[PGB_ROLLUP] = (uint32_t)pgrollup__groups(q->rollup);
	} else { /* out of memory: the raw rows still go; the rollup misses them */
		b->rows[PGB_ROLLUP] = 0;
		b->part[PGB_ROLLUP].len = 0;
		q->st.rollup_lost += b->rows[PGB_REQUESTS];
	}
	q->mem_bytes += b->part[PGB_ROLLUP].len - before;
	pgrollup__reset(q->rollup);
	b->writer = q->writer_id;
	b->seq = ++q->seq;
	enqueue_tail(q, b);
	pthread_cond_signal(&q->wake);
}

/* Under mu: an open batch to add to, or NULL (no memory). */
static struct pgbatch *open_batch(struct pgqueue *q)
{
	if (!q->open) {
		q->open = batch_get(q);
		if (!q->open)
			return NULL;
		q->open_since_ms = clock__mono_ms();
	}
	return q->open;
}

int pgqueue__push(struct pgqueue *q, const struct record *r)
{
	struct pgbatch *b;
	size_t before;
	int err = 0;

	pthread_mutex_lock(&q->mu);
	if (q->stop || q->mem_bytes >= q->mem_max || !(b = open_batch(q))) {
		err = -ENOBUFS;
		goto cleanup;
	}
	if (pgrollup__add(q->rollup, r) == -ENOSPC) {
		pgqueue__seal(q); /* too many groups for one batch: start the next */
		b = open_batch(q);
		if (!b || pgrollup__add(q->rollup, r)) {
			err = -ENOBUFS;
			goto cleanup;
		}
	}
	before = b->part[PGB_REQUESTS].len;
	if (!q->rollup_only && pgcopy__request(&b->part[PGB_REQUESTS], r, q->host)) {
		err = -ENOBUFS;
		goto cleanup;
	}
	if (q->mem_bytes <= q->mem_max / 2 &&
	    q->mem_bytes + b->part[PGB_REQUESTS].len - before > q->mem_max / 2)
		pthread_cond_signal(&q->tick); /* half full: the spooler looks now */
	q->mem_bytes += b->part[PGB_REQUESTS].len - before;
	q->st.rows_queued++;
	if (!b->rows[PGB_REQUESTS]++ || r->ts_ns < b->first_ns)
		b->first_ns = r->ts_ns;
	if (r->ts_ns > b->last_ns)
		b->last_ns = r->ts_ns;
	if (b->rows[PGB_REQUESTS] >= q->batch_rows || b->part[PGB_REQUESTS].len >= BATCH_BYTES)
		pgqueue__seal(q);
cleanup:
	if (err)
		q->st.rows_dropped++;
	pthread_mutex_unlock(&q->mu);
	return err;
}

/* Alerts and health rows ride in the open batch; pushed rarely. */
static int push_other(struct pgqueue *q, enum pgbatch_part part, const void *row)
{
	struct pgbatch *b;
	size_t before;
	int err = -ENOBUFS;

	pthread_mutex_lock(&q->mu);
	if (!q->stop && q->mem_bytes < q->mem_max && (b = open_batch(q))) {
		before = b->part[part].len;
		err = part == PGB_ALERTS ? pgcopy__alert(&b->part[part], row, q->host)
					 : pgcopy__health(&b->part[part], row, q->host);
		if (!err) {
			b->rows[part]++;
			q->mem_bytes += b->part[part].len - before;
		}
	}
	if (err) {
		q->st.other_dropped++;
		err = -ENOBUFS;
	}
	pthread_mutex_unlock(&q->mu);
	return err;
}

int pgqueue__push_alert(struct pgqueue *q, const struct alert_row *a)
{
	return push_other(q, PGB_ALERTS, a);
}

int pgqueue__push_health(struct pgqueue *q, const struct health_row *h)
{
	return push_other(q, PGB_HEALTH, h);
}

int pgqueue__flush(struct pgqueue *q, int timeout_ms)
{
	struct timespec until = clock__deadline(CLOCK_MONOTONIC, timeout_ms);
	int err = 0;

	pthread_mutex_lock(&q->mu);
	q->flushers++;
	pthread_cond_signal(&q->wake);
	while (!pgqueue__empty(q)) {
		if (clock__cond_wait_until(&q->idle, &q->mu, &until) == -ETIMEDOUT) {
			err = -ETIMEDOUT;
			break;
		}
	}
	q->flushers--;
	pthread_mutex_unlock(&q->mu);
	return err;
}

int pgqueue__pressure(struct pgqueue *q)
{
	int full;

	pthread_mutex_lock(&q->mu);
	full = q->mem_bytes >= q->mem_max / 10 * 9;
	pthread_mutex_unlock(&q->mu);
	return full;
}

void pgqueue__wait(struct pgqueue *q, pthread_cond_t *cond, int64_t ms)
{
	clock__cond_wait_ms(cond, &q->mu, ms);
}
