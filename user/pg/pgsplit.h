/* pgsplit.h: a batch refused for a bad row, written in halves until the bad rows stand alone. */
#ifndef HTTPLAT_PGSPLIT_H
#define HTTPLAT_PGSPLIT_H

#include "pgdeliver.h"

/*
 * Writes b piece by piece (each piece its own transaction and id), logs and
 * counts the rows refused alone, then re-rolls the batch's rollup minutes
 * from the raw rows. 0, -EAGAIN (connection trouble: retry the batch; the
 * pieces already committed are skipped by their ids) or -EPERM (no privilege).
 */
int pgsplit__batch(struct pgdeliver *d, const struct pgbatch *b, struct pgcounts *c);
/* A refused row for the log: text rows as they are, binary rows by their text fields. */
void pgsplit__describe(const char *row, size_t len, enum pgbatch_part part, char *out,
		       size_t outsz);

#endif
