/* pgqueue.h: the batch queue: producers format rows into the open batch; the writer takes batches. */
#ifndef HTTPLAT_PGQUEUE_H
#define HTTPLAT_PGQUEUE_H

#include <pthread.h>
#include <stdint.h>

#include "alert_row.h"
#include "pgcopy.h"
#include "pgrollup.h"
#include "pgstats.h"
#include "record.h"
#include "spool.h"

/*
 * Shared by the producers (any thread), the writer thread and the spooler.
 * Everything below mu is under mu; the writer holds it only for pointer
 * moves, never while it waits on the database.
 */
struct pgqueue {
	char host[256];
	uint64_t mem_max;    /* bytes of formatted rows held in memory */
	uint32_t batch_rows; /* seal at this many request rows */
	uint32_t flush_ms;   /* ...or when the first row is this old */
	uint64_t writer_id;  /* batch ids: (host, writer_id, seq) */
	int rollup_only;     /* requests only counted into the rollup: no request rows */

	pthread_mutex_t mu;
	pthread_cond_t wake; /* writer: work or stop */
	pthread_cond_t idle; /* flushers: queue drained */
	pthread_cond_t tick; /* spooler: stop, or memory half full */
	int stop;
	int flushers;
	int writer_done; /* the writer thread has finished */
	struct pgbatch *open; /* rows being added by push */
	int64_t open_since_ms;
	struct pgrollup *rollup; /* of the open batch */
	struct pgbatch *head, *tail;
	struct pgbatch *inflight; /* the writer's */
	int spooling;		  /* batches being written to the spool */
	struct pgbatch *free_list;
	int nfree;
	uint64_t mem_bytes; /* open + queued + in flight */
	uint64_t seq;
	struct pgwriter_stats st; /* all counters but the session's */
};

/* 0 or -ENOMEM. */
int pgqueue__init(struct pgqueue *q, const char *host, uint64_t mem_max, uint32_t batch_rows,
		  uint32_t flush_ms, uint64_t writer_id);
void pgqueue__destroy(struct pgqueue *q); /* frees every batch */

/* Producers. 0, or -ENOBUFS when the row was dropped (counted). */
int pgqueue__push(struct pgqueue *q, const struct record *r);
int pgqueue__push_alert(struct pgqueue *q, const struct alert_row *a);
int pgqueue__push_health(struct pgqueue *q, const struct health_row *h);
/* Waits until the queue is empty (written or spooled), up to timeout_ms. 0 or -ETIMEDOUT. */
int pgqueue__flush(struct pgqueue *q, int timeout_ms);
/* The memory bound is 90 % used. */
int pgqueue__pressure(struct pgqueue *q);

/* Under mu. */
void pgqueue__seal(struct pgqueue *q); /* the open batch to the queue, with its rollup rows */
struct pgbatch *pgqueue__dequeue(struct pgqueue *q); /* oldest, or NULL */
void pgqueue__requeue(struct pgqueue *q, struct pgbatch *b); /* back to the front */
/* b is written, spooled or dropped: its memory and queued rows no longer count. */
void pgqueue__release(struct pgqueue *q, struct pgbatch *b);
int pgqueue__empty(const struct pgqueue *q); /* nothing open, queued, in flight or spooling */
/* Waits on cond (with mu held) for up to ms. */
void pgqueue__wait(struct pgqueue *q, pthread_cond_t *cond, int64_t ms);

#endif
