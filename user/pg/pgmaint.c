/* pgmaint.c: migrations under an advisory lock, partitions made ahead, retention. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgcopy.h"
#include "pgmaint.h"
#include "pgschema.h"

#define DAY_NS 86400000000000LL
#define MAINT_MS (3600 * 1000)	 /* partitions ahead and retention, hourly */
#define SCHEMA_LOCK "1752462448" /* advisory lock key: one migrator at a time */

void pgmaint__init(struct pgmaint *m, int retention_days, int rollup_days)
{
	memset(m, 0, sizeof(*m));
	m->retention_days = retention_days;
	m->rollup_days = rollup_days;
	pgmaint__forget(m);
}

void pgmaint__forget(struct pgmaint *m)
{
	m->ens_lo = 1;
	m->ens_hi = 0;
}

int pgmaint__due(const struct pgmaint *m, int64_t now_ms)
{
	return now_ms >= m->next_ms;
}

int64_t pgmaint__day_of(int64_t ts_ns)
{
	return ts_ns / DAY_NS - (ts_ns % DAY_NS < 0);
}

static int64_t today(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return pgmaint__day_of((int64_t)now.tv_sec * 1000000000);
}

enum pgres pgmaint__ensure_days(struct pgmaint *m, struct pgsess *s, int64_t lo, int64_t hi)
{
	int64_t t = today();
	int64_t min = t - (m->retention_days > 0 ? m->retention_days + 1 : 3660);
	char day[40], n[16];
	const char *params[] = {day, n};
	enum pgres r;

	lo = lo < min ? min : lo;
	hi = hi > t + 2 ? t + 2 : hi;
	if (lo > hi || (lo >= m->ens_lo && hi <= m->ens_hi))
		return PGR_OK;
	for (int64_t d = lo; d <= hi; d += 62) { /* the SQL function makes 62 at most */
		pgcopy__ts(day, sizeof(day), d * DAY_NS);
		day[10] = 0;
		snprintf(n, sizeof(n), "%d", (int)(hi - d + 1 > 62 ? 62 : hi - d + 1));
		r = pgsess__exec(s, "SELECT httplat_ensure_partitions($1::date, $2::integer)", 2,
				 params);
		if (r != PGR_OK)
			return r;
	}
	if (m->ens_hi >= m->ens_lo && lo <= m->ens_hi + 1 && hi >= m->ens_lo - 1) {
		m->ens_lo = lo < m->ens_lo ? lo : m->ens_lo;
		m->ens_hi = hi > m->ens_hi ? hi : m->ens_hi;
	} else {
		m->ens_lo = lo;
		m->ens_hi = hi;
	}
	return PGR_OK;
}

enum pgres pgmaint__run(struct pgmaint *m, struct pgsess *s)
{
	char raw[16], roll[16], dropped[24];
	const char *params[] = {raw, roll};
	int64_t t = today();
	enum pgres r;

	m->next_ms = pgsess__mono_ms() + MAINT_MS;
	pgmaint__forget(m); /* retention may have dropped some */
	r = pgmaint__ensure_days(m, s, t - 1, t + 2);
	if (r != PGR_OK || m->retention_days <= 0)
		return r;
	snprintf(raw, sizeof(raw), "%d", m->retention_days);
	snprintf(roll, sizeof(roll), "%d", m->rollup_days);
	r = pgsess__value(s, "SELECT httplat_retention($1::integer, $2::integer)", 2, params,
			  dropped, sizeof(dropped));
	if (r == PGR_OK && atoi(dropped) > 0)
		pgsess__log("retention: dropped %s daily partition(s) older than %d days", dropped,
			    m->retention_days);
	return r;
}

static int schema_version(struct pgsess *s)
{
	char v[16] = "";

	/* no table yet: nothing applied */
	if (pgsess__value(s, "SELECT to_regclass('httplat_schema') IS NOT NULL", 0, NULL, v,
			  sizeof(v)) != PGR_OK ||
	    strcmp(v, "t"))
		return 0;
	if (pgsess__value(s, "SELECT coalesce(max(version), 0) FROM httplat_schema", 0, NULL, v,
			  sizeof(v)) != PGR_OK)
		return 0;
	return atoi(v);
}

/* Applies the embedded migrations the database lacks. */
static enum pgres apply_schema(struct pgsess *s)
{
	const struct pgschema_migration *mig;
	int n = pgschema__migrations(&mig), have;
	enum pgres r = PGR_OK;

	if (schema_version(s) >= pgschema__latest())
		return PGR_OK;
	pgsess__exec(s, "SELECT pg_advisory_lock(" SCHEMA_LOCK ")", 0, NULL);
	have = schema_version(s); /* another daemon may have migrated meanwhile */
	for (int i = 0; i < n && r == PGR_OK; i++) {
		if (mig[i].version <= have)
			continue;
		r = pgsess__exec(s, mig[i].sql, 0, NULL); /* one implicit transaction per file */
		if (r == PGR_OK)
			pgsess__log("schema: applied %s (version %d)", mig[i].name, mig[i].version);
		else
			pgsess__log("schema: cannot apply %s: %s%s", mig[i].name, s->msg,
				    !strcmp(s->state, "42501")
					? " (this role may only write: run scripts/pg-roles.sh as "
					  "the database owner first)"
					: "");
	}
	if (s->pq->status(s->conn) == CONNECTION_OK)
		pgsess__exec(s, "SELECT pg_advisory_unlock(" SCHEMA_LOCK ")", 0, NULL);
	return r == PGR_OK ? PGR_OK : PGR_RETRY;
}

enum pgres pgmaint__setup(struct pgmaint *m, struct pgsess *s)
{
	enum pgres r = apply_schema(s);

	if (r == PGR_OK)
		r = pgsess__exec(s,
				 "CREATE TEMP TABLE IF NOT EXISTS httplat_stage_1m "
				 "(LIKE http_requests_1m) ON COMMIT DELETE ROWS",
				 0, NULL);
	if (r == PGR_OK)
		r = pgmaint__run(m, s);
	return r;
}
