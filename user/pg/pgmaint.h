/* pgmaint.h: httplat's schema (migrations, checks), daily partitions ahead of the rows, retention. */
#ifndef HTTPLAT_PGMAINT_H
#define HTTPLAT_PGMAINT_H

#include <stddef.h>
#include <stdint.h>

#include "pgschema.h"
#include "pgsession.h"

struct pgmaint {
	char schema[PGSCHEMA_NAME_MAX + 1]; /* every table and function lives here */
	int retention_days;		    /* raw partitions; 0 = never drop */
	int rollup_days;
	int64_t ens_lo, ens_hi; /* days (since epoch) known to have partitions; lo > hi = none */
	int64_t next_ms;	/* next hourly run (monotonic) */
};

void pgmaint__init(struct pgmaint *m, const char *schema, int retention_days, int rollup_days);
/*
 * On a fresh connection: applies what the database lacks under an advisory
 * lock (000_prepare.sql, the migrations, functions.sql, in one transaction),
 * adds missing kernel_* columns to httplat_health, checks that the tables
 * are httplat's (http_requests partitioned, every column written present),
 * creates the session's staging table, makes partitions ahead and runs
 * retention. PGR_FATAL when the schema is not httplat's or may not be made
 * (no retry can fix it; pgmaint__explain says what to do).
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
/* The session's last error as a message for a person: what failed and what to do. */
void pgmaint__explain(const struct pgmaint *m, const struct pgsess *s, char *out, size_t outsz);

#endif
