/* pgspooler.c: batches to spool files while the database is away; replay; the watchdog thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "pgspooler.h"

#define SPOOL_BUSY_MS 100 /* writer away this long and memory half full: spool */

int pgspooler__open(struct pgspooler *sp, struct pgqueue *q, struct pgsess *s, const char *dir,
		    uint64_t max_bytes, int db_timeout_ms)
{
	memset(sp, 0, sizeof(*sp));
	sp->q = q;
	sp->s = s;
	sp->db_timeout_ms = db_timeout_ms;
	pthread_mutex_init(&sp->mu, NULL);
	if (!dir || !*dir)
		return 0;
	snprintf(sp->dir, sizeof(sp->dir), "%s", dir);
	sp->spool = spool__open(dir, max_bytes);
	if (!sp->spool)
		return -errno;
	pgspooler__update_stats(sp);
	return 0;
}

void pgspooler__close(struct pgspooler *sp)
{
	spool__close(sp->spool);
	sp->spool = NULL;
	pgbatch__free(sp->replay);
	sp->replay = NULL;
	pthread_mutex_destroy(&sp->mu);
}

void pgspooler__update_stats(struct pgspooler *sp)
{
	struct spool_stats ss = {};
	struct pgqueue *q = sp->q;

	if (sp->spool) {
		pthread_mutex_lock(&sp->mu);
		spool__stats(sp->spool, &ss);
		pthread_mutex_unlock(&sp->mu);
	}
	pthread_mutex_lock(&q->mu);
	q->st.rows_spooled = ss.rows;
	q->st.spool_bytes = ss.bytes;
	q->st.spool_files = ss.files;
	q->st.spool_bad_files = ss.bad_files;
	pthread_mutex_unlock(&q->mu);
}

void pgspooler__excess(struct pgspooler *sp, uint64_t keep, int drop_rest)
{
	struct pgqueue *q = sp->q;
	struct pgbatch *b;

	while (q->mem_bytes > keep && (b = pgqueue__dequeue(q))) {
		int err = -ENOSPC;

		q->spooling++;
		pthread_mutex_unlock(&q->mu);
		if (sp->spool) {
			pthread_mutex_lock(&sp->mu);
			err = spool__write(sp->spool, b);
			pthread_mutex_unlock(&sp->mu);
		}
		pgspooler__update_stats(sp);
		pthread_mutex_lock(&q->mu);
		q->spooling--;
		if (err && !drop_rest) {
			pgqueue__requeue(q, b);
			return;
		}
		if (!err && !sp->logged) {
			pgsess__log("database away: spooling batches to %s", sp->dir);
			sp->logged = 1;
		}
		if (err) {
			q->st.rows_dropped += b->rows[PGB_REQUESTS];
			q->st.other_dropped += b->rows[PGB_ALERTS] + b->rows[PGB_HEALTH];
			pgsess__log("dropped %u rows at exit: database away and %s",
				    b->rows[PGB_REQUESTS],
				    sp->spool ? "spool full or failing" : "no spool");
		}
		pgqueue__release(q, b);
	}
}

int pgspooler__pending(const struct pgspooler *sp)
{
	return sp->q->st.spool_files > 0;
}

int pgspooler__replay_one(struct pgspooler *sp, struct pgdeliver *d, struct pgcounts *c)
{
	struct pgqueue *q = sp->q;
	int err, pending, sent = 0;

	if (!sp->replay && !(sp->replay = calloc(1, sizeof(*sp->replay))))
		return -EAGAIN;
	pthread_mutex_lock(&sp->mu);
	err = spool__read_oldest(sp->spool, sp->replay);
	pthread_mutex_unlock(&sp->mu);
	if (!err && !(sent = pgdeliver__batch(d, sp->replay, c))) {
		pthread_mutex_lock(&sp->mu);
		err = spool__remove_oldest(sp->spool);
		pthread_mutex_unlock(&sp->mu);
		sp->replayed += sp->replay->rows[PGB_REQUESTS];
	} else if (err && err != -ENOENT) {
		pgsess__log("spool: cannot read: %s", strerror(-err));
	}
	pgspooler__update_stats(sp);
	pthread_mutex_lock(&q->mu);
	pending = pgspooler__pending(sp);
	if (!pending && sp->replayed)
		sp->logged = 0;
	pthread_mutex_unlock(&q->mu);
	if (!pending && sp->replayed) {
		pgsess__log("spool replayed: %llu rows", (unsigned long long)sp->replayed);
		sp->replayed = 0;
	}
	return sent;
}

static void *spooler_main(void *arg)
{
	struct pgspooler *sp = arg;
	struct pgqueue *q = sp->q;
	int64_t now, busy;

	pthread_mutex_lock(&q->mu);
	while (!q->writer_done) { /* also during stop: a hung database must not hang the exit */
		now = clock__mono_ms();
		busy = pgsess__watch(sp->s, now, sp->db_timeout_ms);
		if (!pgsess__connected(sp->s) || busy > SPOOL_BUSY_MS) {
			if (q->open && now - q->open_since_ms >= (int64_t)q->flush_ms)
				pgqueue__seal(q);
			pgspooler__excess(sp, q->mem_max / 2, 0);
		}
		pgqueue__wait(q, &q->tick, 100);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

int pgspooler__start(struct pgspooler *sp)
{
	int err = -pthread_create(&sp->thread, NULL, spooler_main, sp);

	sp->started = !err;
	return err;
}

void pgspooler__join(struct pgspooler *sp)
{
	if (sp->started)
		pthread_join(sp->thread, NULL);
	sp->started = 0;
}
