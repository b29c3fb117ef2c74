/* pgmaint.h: the schema (migrations), daily partitions ahead of the rows, and retention. */
#ifndef HTTPLAT_PGMAINT_H
#define HTTPLAT_PGMAINT_H

#include <stdint.h>

#include "pgsession.h"

struct pgmaint {
	int retention_days; /* raw partitions; 0 = never drop */
	int rollup_days;
	int64_t ens_lo, ens_hi; /* days (since epoch) known to have partitions; lo > hi = none */
	int64_t next_ms;	/* next hourly run (monotonic) */
};

void pgmaint__init(struct pgmaint *m, int retention_days, int rollup_days);
/*
 * On a fresh connection: applies the migrations the database lacks, creates
 * the session's staging table, makes partitions ahead and runs retention.
 */
enum pgres pgmaint__setup(struct pgmaint *m, struct pgsess *s);
/*
 * Partitions for days [lo, hi], clipped to the days a real row can have: from
 * the retention horizon (10 years without retention) to the day after
 * tomorrow. Rows outside find no partition and are rejected, counted, rather
 * than a wrong clock creating partitions.
 */
enum pgres pgmaint__ensure_days(struct pgmaint *m, struct pgsess *s, int64_t lo, int64_t hi);
/* Hourly: partitions for yesterday..the day after tomorrow, and retention. */
enum pgres pgmaint__run(struct pgmaint *m, struct pgsess *s);
int pgmaint__due(const struct pgmaint *m, int64_t now_ms);
/* Forget which partitions exist (retention may have dropped some). */
void pgmaint__forget(struct pgmaint *m);
/* Day since the epoch (UTC) of a CLOCK_REALTIME time. */
int64_t pgmaint__day_of(int64_t ts_ns);

#endif
