/* pgrollup.h: per-batch 1-minute rollup (api, route, status, tls) rows for http_requests_1m. */
#ifndef HTTPLAT_PGROLLUP_H
#define HTTPLAT_PGROLLUP_H

#include <stdint.h>

#include "hist.h"
#include "pgcopy.h"
#include "record.h"

#define PGROLLUP_MAX 1024 /* groups per batch; a full rollup seals the batch */

struct pgrollup;

struct pgrollup *pgrollup__new(void);
void pgrollup__free(struct pgrollup *ru);
/* Counts r into its minute's group. 0, or -ENOSPC when a new group does not fit. */
int pgrollup__add(struct pgrollup *ru, const struct record *r);
int pgrollup__groups(const struct pgrollup *ru);
/* Earliest and latest minute (ns) seen; 0 when empty. */
void pgrollup__span(const struct pgrollup *ru, int64_t *first_ns, int64_t *last_ns);
/*
 * Appends one COPY line per group (PGCOPY_ROLLUP_COLS). Status 0 groups have
 * NULL sum/max/hist; hist is hist.h's buckets, trailing zeros trimmed. The wait
 * (queue_ms + wait_ms, a part unknown counted as 0 when the other is known)
 * has its own sum/max/histogram, NULL when no request of the group had one.
 * 0 or -ENOMEM.
 */
int pgrollup__copy(const struct pgrollup *ru, struct pgbuf *b, const char *host);
void pgrollup__reset(struct pgrollup *ru);

#endif
