/* pgwriter.h: batched COPY of requests, alerts and health rows to PostgreSQL, off the hot path. */
#ifndef HTTPLAT_PGWRITER_H
#define HTTPLAT_PGWRITER_H

#include <stddef.h>
#include <stdint.h>

#include "alert_row.h"
#include "pgapi.h"
#include "pgcopy.h"
#include "pgstats.h"
#include "record.h"

struct pgwriter_opts {
	const char *conninfo;  /* conninfo or URL; NULL/"" = libpq's PG* variables */
	const char *host;      /* value of the host column */
	const char *schema;    /* httplat's schema (NULL = "httplat"); pgschema__valid_name */
	const char *spool_dir; /* NULL = no spool (rows beyond mem_max are dropped) */
	uint64_t spool_max;    /* bytes on disk */
	uint64_t mem_max;      /* bytes of formatted rows held in memory */
	uint32_t batch_rows;   /* seal a batch at this many request rows */
	uint32_t flush_ms;     /* ...or when its first row is this old */
	int retention_days;    /* raw partitions; 0 = never drop */
	int rollup_days;       /* rollup, alerts, health rows */
	int stop_timeout_ms;   /* on free: time to write what is left before spooling it */
	int db_timeout_ms;     /* a database call taking longer loses its connection (30 s) */
	int rollup_only;       /* no row per request: only the per-minute rollup (and alerts, health) */
	const struct pgapi *api; /* NULL = libpq; tests stand in a fake database */
};

/* Defaults for every field the caller leaves 0. */
void pgwriter_opts__defaults(struct pgwriter_opts *o);

struct pgwriter;

/*
 * Starts the writer thread; does not wait for the database (it connects,
 * applies the schema and reconnects on its own). NULL and errno on failure
 * (bad options, spool directory unusable, no memory).
 */
struct pgwriter *pgwriter__new(const struct pgwriter_opts *o);
/*
 * Queues one request row: formats it into the open batch under a mutex the
 * writer thread holds only for pointer moves. Never waits for the database
 * and does no I/O; allocates only while batches are backing up. Safe to call
 * from the ring-buffer thread. 0, or -ENOBUFS when the row was dropped
 * (memory bound reached; counted in rows_dropped).
 */
int pgwriter__push(struct pgwriter *w, const struct record *r);
int pgwriter__push_alert(struct pgwriter *w, const struct alert_row *a);
int pgwriter__push_health(struct pgwriter *w, const struct health_row *h);
/* Waits until everything queued so far is committed or spooled, up to timeout_ms. 0 or -ETIMEDOUT.
 */
int pgwriter__flush(struct pgwriter *w, int timeout_ms);
/* True when the memory queue is nearly full (for producers that can wait: the benchmark). */
int pgwriter__pressure(struct pgwriter *w);
void pgwriter__stats(struct pgwriter *w, struct pgwriter_stats *out);
/*
 * 1 when the writer gave up: the database refused something no retry can fix
 * (the schema is someone else's, a privilege is missing). The message (what
 * failed, what to do) goes to msg. Rows keep being queued and spooled; the
 * caller should stop (pgwriter__stop spools the rest) and exit non-zero.
 */
int pgwriter__fatal(struct pgwriter *w, char *msg, size_t msgsz);
/*
 * Stops the thread: writes what is left (up to stop_timeout_ms, not at all
 * when the database is away), spools the rest, counts what neither took.
 * Pushes after this are dropped. Stats stay readable. Idempotent.
 */
void pgwriter__stop(struct pgwriter *w);
/* pgwriter__stop, then frees. NULL-safe. */
void pgwriter__free(struct pgwriter *w);

#endif
