/* pgbatch.h: one unit of writing: rows for each table, committed in one transaction. */
#ifndef HTTPLAT_PGBATCH_H
#define HTTPLAT_PGBATCH_H

#include <stddef.h>
#include <stdint.h>

#include "pgcopy.h"

/* The tables a batch carries rows for, in the order they are written. */
enum pgbatch_part { PGB_REQUESTS, PGB_ROLLUP, PGB_ALERTS, PGB_HEALTH, PGB__COUNT };

/*
 * COPY data per table (requests in binary format, the others as text lines),
 * committed in one transaction under the id (writer, seq), so a retried
 * batch is never stored twice.
 */
struct pgbatch {
	uint64_t writer;
	uint64_t seq;
	/*
	 * Rows in part[i]; rows[PGB_REQUESTS] counts the requests even when the
	 * batch carries them only in its rollup (rollup-only: part[PGB_REQUESTS] empty).
	 */
	uint32_t rows[PGB__COUNT];
	struct pgbuf part[PGB__COUNT];
	int64_t first_ns, last_ns; /* span of the request rows' ts, 0 when none */
	/*
	 * The column list of each part, when not this binary's (a batch read from
	 * a spool file an older or newer httplat wrote); malloc'd, NULL = current.
	 */
	char *cols[PGB__COUNT];
	struct pgbatch *next;	   /* queue link, owned by the queue */
};

size_t pgbatch__bytes(const struct pgbatch *b);
void pgbatch__clear(struct pgbatch *b); /* keeps buffers for reuse */
/* The column list of a part: the batch's own, else this binary's. */
const char *pgbatch__cols(const struct pgbatch *b, enum pgbatch_part part);
/* A column list from outside (a spool file) is safe in SQL: "a, b_2, c". 1 or 0. */
int pgbatch__cols_valid(const char *cols);
void pgbatch__free(struct pgbatch *b);	/* frees buffers and b; NULL-safe */
/* Request rows are binary COPY tuples (framed by header and trailer); the others text lines. */
int pgbatch__binary(enum pgbatch_part part);

#endif
