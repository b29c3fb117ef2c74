/* pgwriter.c: the writer thread: batches from the queue to the database, the spool meanwhile. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "pgdeliver.h"
#include "pgmaint.h"
#include "pgqueue.h"
#include "pgschema.h"
#include "pgsession.h"
#include "pgspooler.h"
#include "pgwriter.h"

struct pgwriter {
	struct pgwriter_opts o;
	char *conninfo;
	struct pgqueue q;      /* batches; counters (under q.mu) */
	struct pgsess s;       /* the connection: writer thread; watch fields under s.mu */
	struct pgmaint m;      /* writer thread */
	struct pgdeliver d;    /* writer thread */
	struct pgspooler sp;   /* spool files and the spooler thread */
	pthread_t thread;
	int started;
	int inited; /* which parts to tear down */
	char fatal[768]; /* under q.mu: why the writer gave up, "" while it has not */
	char fatal_next[768]; /* writer thread */
};

void pgwriter_opts__defaults(struct pgwriter_opts *o)
{
	if (!o->mem_max)
		o->mem_max = 64ull << 20;
	if (!o->spool_max)
		o->spool_max = 1ull << 30;
	if (!o->batch_rows)
		o->batch_rows = 20000;
	if (!o->flush_ms)
		o->flush_ms = 200;
	if (!o->rollup_days)
		o->rollup_days = 90;
	if (!o->stop_timeout_ms)
		o->stop_timeout_ms = 10000;
	if (!o->db_timeout_ms)
		o->db_timeout_ms = 30000;
}

int pgwriter__push(struct pgwriter *w, const struct record *r)
{
	return pgqueue__push(&w->q, r);
}

int pgwriter__push_alert(struct pgwriter *w, const struct alert_row *a)
{
	return pgqueue__push_alert(&w->q, a);
}

int pgwriter__push_health(struct pgwriter *w, const struct health_row *h)
{
	return pgqueue__push_health(&w->q, h);
}

int pgwriter__flush(struct pgwriter *w, int timeout_ms)
{
	return pgqueue__flush(&w->q, timeout_ms);
}

int pgwriter__pressure(struct pgwriter *w)
{
	return pgqueue__pressure(&w->q);
}

void pgwriter__stats(struct pgwriter *w, struct pgwriter_stats *out)
{
	pthread_mutex_lock(&w->q.mu);
	*out = w->q.st;
	pthread_mutex_unlock(&w->q.mu);
	pthread_mutex_lock(&w->s.mu);
	out->connected = w->s.connected;
	out->reconnects = w->s.reconnects;
	snprintf(out->last_error, sizeof(out->last_error), "%s", w->s.last_error);
	pthread_mutex_unlock(&w->s.mu);
}

int pgwriter__fatal(struct pgwriter *w, char *msg, size_t msgsz)
{
	int fatal;

	pthread_mutex_lock(&w->q.mu);
	fatal = w->fatal[0] != 0;
	if (fatal && msgsz)
		snprintf(msg, msgsz, "%s", w->fatal);
	pthread_mutex_unlock(&w->q.mu);
	return fatal;
}

/* Under q.mu. */
static void add_counts(struct pgwriter_stats *st, const struct pgcounts *c)
{
	st->rows_written += c->written;
	st->rows_dup += c->dup;
	st->rows_rejected += c->rejected;
	st->alerts_written += c->alerts;
	st->health_written += c->health;
	st->other_dropped += c->other_dropped;
	st->batches += c->batches;
	st->db_errors += c->db_errors;
}

/*
 * One step on the database, with the queue unlocked and the session marked
 * busy (the spooler spools and the watchdog watches meanwhile).
 */
enum step { STEP_DELIVER, STEP_REPLAY, STEP_MAINTAIN, STEP_CONNECT };

static int db_step(struct pgwriter *w, enum step what, const struct pgbatch *b, int64_t now)
{
	struct pgcounts c = {};
	int err = 0;

	pthread_mutex_unlock(&w->q.mu);
	pgsess__busy(&w->s, now);
	switch (what) {
	case STEP_DELIVER:
		err = pgdeliver__batch(&w->d, b, &c);
		break;
	case STEP_REPLAY:
		err = pgspooler__replay_one(&w->sp, &w->d, &c);
		break;
	case STEP_MAINTAIN:
		switch (pgmaint__run(&w->m, &w->s)) {
		case PGR_OK:
			break;
		case PGR_FATAL:
			err = -EPERM;
			break;
		default:
			pgsess__log_failure(&w->s, "maintenance failed");
		}
		break;
	case STEP_CONNECT:
		err = pgdeliver__connect(&w->d); /* schema at start, or the spool wants replaying */
		break;
	}
	pgsess__busy(&w->s, 0);
	if (err == -EPERM)
		pgmaint__explain(&w->m, &w->s, w->fatal_next, sizeof(w->fatal_next));
	pthread_mutex_lock(&w->q.mu);
	add_counts(&w->q.st, &c);
	if (err == -EPERM && !w->fatal[0]) {
		/* no retry can fix it: stop writing; the spooler keeps memory in bounds meanwhile */
		snprintf(w->fatal, sizeof(w->fatal), "%s", w->fatal_next);
		pgsess__log("giving up: %s", w->fatal);
		pgsess__close(&w->s);
		w->s.next_connect_ms = INT64_MAX;
	}
	return err;
}

static void *writer_main(void *arg)
{
	struct pgwriter *w = arg;
	struct pgqueue *q = &w->q;
	struct pgsess *s = &w->s;
	int64_t stop_deadline = 0, now;
	struct pgbatch *b;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		now = clock__mono_ms();
		if (q->stop && !stop_deadline)
			stop_deadline = now + w->o.stop_timeout_ms;
		if (q->open &&
		    (q->stop || q->flushers || now - q->open_since_ms >= (int64_t)q->flush_ms))
			pgqueue__seal(q);
		if (!q->head && !q->open)
			pthread_cond_broadcast(&q->idle);
		if (q->stop &&
		    (!q->head || now >= stop_deadline || (!s->conn && now < s->next_connect_ms)))
			break; /* done, out of time, or the database is away: spool the rest */
		if (q->head && (s->conn || now >= s->next_connect_ms)) {
			b = q->inflight = pgqueue__dequeue(q);
			if (db_step(w, STEP_DELIVER, b, now)) {
				q->inflight = NULL;
				pgqueue__requeue(q, b);
				if (q->stop)
					break; /* database away at exit: spool the rest */
				continue;
			}
			q->inflight = NULL;
			pgqueue__release(q, b);
			continue;
		}
		if (!q->head && s->conn && !q->stop && pgspooler__pending(&w->sp)) {
			db_step(w, STEP_REPLAY, NULL, now);
			continue;
		}
		if (s->conn && pgmaint__due(&w->m, now) && !q->stop) {
			db_step(w, STEP_MAINTAIN, NULL, now);
			continue;
		}
		if (!q->head && !q->stop && pgsess__may_connect(s, now) &&
		    (!w->d.ever_connected || pgspooler__pending(&w->sp))) {
			db_step(w, STEP_CONNECT, NULL, now);
			continue;
		}
		pgqueue__wait(q, &q->wake,
			      q->head && !s->conn && s->next_connect_ms - now < 50
				  ? s->next_connect_ms - now
				  : 50);
	}
	pgqueue__seal(q);
	pgspooler__excess(&w->sp, 0, 1);
	q->writer_done = 1;
	pthread_cond_signal(&q->tick);
	pthread_cond_broadcast(&q->idle);
	pthread_mutex_unlock(&q->mu);
	pgsess__close(s);
	return NULL;
}

enum { INIT_QUEUE = 1, INIT_SESS = 2, INIT_SPOOL = 4 };

struct pgwriter *pgwriter__new(const struct pgwriter_opts *o)
{
	struct pgwriter *w = calloc(1, sizeof(*w));
	uint64_t id;
	int err = 0;

	if (!w)
		return NULL;
	w->o = *o;
	pgwriter_opts__defaults(&w->o);
	w->conninfo = o->conninfo ? strdup(o->conninfo) : NULL;
	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid();
	id &= INT64_MAX; /* stored as bigint */
	err = pgqueue__init(&w->q, o->host, w->o.mem_max, w->o.batch_rows, w->o.flush_ms, id);
	w->q.rollup_only = o->rollup_only;
	w->inited |= INIT_QUEUE;
	pgsess__init(&w->s, o->api, w->conninfo, id);
	w->inited |= INIT_SESS;
	pgmaint__init(&w->m, o->schema, w->o.retention_days, w->o.rollup_days);
	pgdeliver__init(&w->d, &w->s, &w->m, w->q.host);
	if (!err && o->conninfo && !w->conninfo)
		err = -ENOMEM;
	if (!err && o->schema && !pgschema__valid_name(o->schema))
		err = -EINVAL;
	if (!err) {
		err = pgspooler__open(&w->sp, &w->q, &w->s, o->spool_dir, w->o.spool_max,
				      w->o.db_timeout_ms);
		w->inited |= INIT_SPOOL;
	}
	if (!err)
		err = -pthread_create(&w->thread, NULL, writer_main, w);
	if (!err)
		w->started = 1;
	if (!err)
		err = pgspooler__start(&w->sp);
	if (err) {
		pgwriter__free(w);
		errno = -err;
		return NULL;
	}
	return w;
}

void pgwriter__stop(struct pgwriter *w)
{
	struct pgqueue *q = &w->q;

	pthread_mutex_lock(&q->mu);
	q->stop = 1;
	if (!w->started)
		q->writer_done = 1;
	pthread_cond_signal(&q->wake);
	pthread_cond_signal(&q->tick);
	pthread_mutex_unlock(&q->mu);
	if (w->started)
		pthread_join(w->thread, NULL); /* writes or spools what is left */
	w->started = 0;
	pgspooler__join(&w->sp);
	/* a batch the spooler put back while the writer was finishing: lost, but counted */
	pthread_mutex_lock(&q->mu);
	if (w->inited & INIT_SPOOL)
		pgspooler__excess(&w->sp, 0, 1);
	pthread_mutex_unlock(&q->mu);
}

void pgwriter__free(struct pgwriter *w)
{
	if (!w)
		return;
	if (w->inited & INIT_QUEUE)
		pgwriter__stop(w);
	if (w->inited & INIT_SESS)
		pgsess__destroy(&w->s);
	if (w->inited & INIT_SPOOL)
		pgspooler__close(&w->sp);
	pgdeliver__destroy(&w->d);
	if (w->inited & INIT_QUEUE)
		pgqueue__destroy(&w->q);
	free(w->conninfo);
	free(w);
}
