/* pgdeliver.h: writes one batch: connect if needed, partitions, one transaction, split on a bad row. */
#ifndef HTTPLAT_PGDELIVER_H
#define HTTPLAT_PGDELIVER_H

#include <stddef.h>
#include <stdint.h>

#include "pgbatch.h"
#include "pgmaint.h"
#include "pgsession.h"

struct pgdeliver {
	struct pgsess *s;
	struct pgmaint *m;
	const char *host;
	const char *schema; /* m's */
	char sql_batch_id[256];
	char sql_merge[1536];
	int ever_connected;
	size_t *lines; /* row offsets while splitting */
	size_t lines_cap;
};

/* What deliveries did, for the writer's counters. */
struct pgcounts {
	uint64_t written, dup, rejected; /* request rows */
	uint64_t alerts, health, other_dropped;
	uint64_t batches, db_errors;
};

/* A part's bytes (or a range of its rows) to COPY. */
struct pgsegment {
	enum pgbatch_part part;
	const char *data;
	size_t len;
};

void pgdeliver__init(struct pgdeliver *d, struct pgsess *s, struct pgmaint *m, const char *host);
void pgdeliver__destroy(struct pgdeliver *d);
/*
 * Connects and sets the session up (schema, partitions). 0, -EAGAIN (logged,
 * backing off), or -EPERM: the schema cannot be used; no retry can fix it
 * (pgmaint__explain says why).
 */
int pgdeliver__connect(struct pgdeliver *d);
/*
 * Writes one batch, connecting first when the backoff allows. 0 when it is
 * in the database (or rejected row by row, counted), -EAGAIN to retry later,
 * -EPERM when no retry can fix what failed (a missing privilege, the schema).
 */
int pgdeliver__batch(struct pgdeliver *d, const struct pgbatch *b, struct pgcounts *c);
/*
 * One transaction: claims (host, writer, seq, sub) in httplat_batches, COPYs
 * the segments, merges rollup rows, commits. PGR_DUP when the id was already
 * committed (a retry after the connection broke around COMMIT).
 */
enum pgres pgdeliver__txn(struct pgdeliver *d, const struct pgbatch *b, uint64_t sub,
			  uint32_t rows, const struct pgsegment *seg, int nseg);
/* Adds n rows of part with outcome r to c. */
void pgdeliver__count(struct pgcounts *c, enum pgbatch_part part, enum pgres r, uint64_t n);

#endif
