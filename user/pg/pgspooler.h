/* pgspooler.h: the bridge to the spool files, and the thread that spools and watches the writer. */
#ifndef HTTPLAT_PGSPOOLER_H
#define HTTPLAT_PGSPOOLER_H

#include <pthread.h>
#include <stdint.h>

#include "pgdeliver.h"
#include "pgqueue.h"
#include "pgsession.h"
#include "spool.h"

struct pgspooler {
	struct pgqueue *q;
	struct pgsess *s;
	struct spool *spool; /* NULL: no spool, rows beyond the memory bound are dropped */
	char dir[256];
	int db_timeout_ms;
	pthread_mutex_t mu; /* the spool files; never held while taking q->mu */
	pthread_t thread;
	int started;
	int logged; /* under q->mu: "spooling" said since the spool was last empty */
	/* writer thread only */
	struct pgbatch *replay;
	uint64_t replayed; /* rows replayed since the spool was last empty */
};

/* dir NULL or "" = no spool. 0, or -errno when the directory is unusable. */
int pgspooler__open(struct pgspooler *sp, struct pgqueue *q, struct pgsess *s, const char *dir,
		    uint64_t max_bytes, int db_timeout_ms);
/*
 * Starts the thread: while the writer is away at the database (disconnected,
 * or a call taking longer than 100 ms) and memory is half full, it seals
 * batches by age and moves the oldest to the spool, so memory does not fill
 * behind a slow database. It is also the watchdog (pgsess__watch). It ends
 * when the writer thread has finished (q->writer_done).
 */
int pgspooler__start(struct pgspooler *sp);
void pgspooler__join(struct pgspooler *sp);
void pgspooler__close(struct pgspooler *sp);
/*
 * Under q->mu: moves the oldest queued batches to disk until memory is down
 * to keep bytes; with drop_rest, what the spool cannot take is dropped and
 * counted (at exit), else it stays queued.
 */
void pgspooler__excess(struct pgspooler *sp, uint64_t keep, int drop_rest);
/* Under q->mu: spool files wait to be written. */
int pgspooler__pending(const struct pgspooler *sp);
/*
 * Connected and idle (writer thread, not under q->mu): writes the oldest spool
 * file. 0, -EAGAIN (to retry), or -EPERM as pgdeliver__batch.
 */
int pgspooler__replay_one(struct pgspooler *sp, struct pgdeliver *d, struct pgcounts *c);
/* Copies the spool's counters into q->st. Not under q->mu. */
void pgspooler__update_stats(struct pgspooler *sp);

#endif
