/* pgstats.h: the PostgreSQL writer's counters (logged, and stored in httplat_health). */
#ifndef HTTPLAT_PGSTATS_H
#define HTTPLAT_PGSTATS_H

#include <stdint.h>

struct pgwriter_stats {
	uint64_t rows_written;	/* request rows committed */
	uint64_t rows_queued;	/* request rows in memory now */
	uint64_t rows_spooled;	/* request rows in spool files now */
	uint64_t rows_dropped;	/* lost: memory and spool full (or spool unusable) */
	uint64_t rows_rejected; /* refused by the database one by one (data errors) */
	uint64_t rows_dup;	/* retried rows the database already had (not written twice) */
	uint64_t alerts_written, health_written, other_dropped;
	uint64_t rollup_lost; /* rows the rollup misses (out of memory while sealing) */
	uint64_t batches, db_errors, reconnects;
	uint64_t spool_bytes, spool_files, spool_bad_files;
	int connected;
	char last_error[256];
};

#endif
