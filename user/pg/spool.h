/* spool.h: batches of COPY rows kept in files while the database is away (one file per batch). */
#ifndef HTTPLAT_SPOOL_H
#define HTTPLAT_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "pgbatch.h"

struct spool;

/*
 * Opens (creating) dir and counts the batch files already there, so a restart
 * replays them. max_bytes = 0 disables spooling. NULL and errno on failure.
 */
struct spool *spool__open(const char *dir, uint64_t max_bytes);
void spool__close(struct spool *s);
/* Writes b durably (temp file, fsync, rename). 0, -ENOSPC over max_bytes, or -errno. */
int spool__write(struct spool *s, const struct pgbatch *b);
/*
 * Loads the oldest batch file into b (allocated buffers reused). 0, -ENOENT
 * when empty, or -errno. A file that does not parse is renamed *.bad, counted
 * and skipped (its rows counted in bad_rows when the header said how many).
 */
int spool__read_oldest(struct spool *s, struct pgbatch *b);
/* Removes the file spool__read_oldest last returned (after it was committed). */
int spool__remove_oldest(struct spool *s);

struct spool_stats {
	uint64_t files, bytes, rows; /* now on disk (request rows) */
	uint64_t bad_files;	     /* unreadable files set aside as *.bad */
};
void spool__stats(const struct spool *s, struct spool_stats *out);

#endif
