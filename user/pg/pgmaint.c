/* pgmaint.c: migrations under an advisory lock, schema checks, partitions made ahead, retention. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "pgbatch.h"
#include "pgcopy.h"
#include "pgmaint.h"

#define DAY_NS 86400000000000LL
#define MAINT_MS (3600 * 1000) /* partitions ahead and retention, hourly */
#define SQL_MAX 2048

void pgmaint__init(struct pgmaint *m, const char *schema, int retention_days, int rollup_days)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->schema, sizeof(m->schema), "%s", schema && *schema ? schema : PGSCHEMA_DEFAULT);
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
	return pgmaint__day_of(clock__real_ns());
}

enum pgres pgmaint__ensure_days(struct pgmaint *m, struct pgsess *s, int64_t lo, int64_t hi)
{
	int64_t t = today();
	int64_t min = t - (m->retention_days > 0 ? m->retention_days + 1 : 3660);
	char day[40], n[16], sql[SQL_MAX];
	const char *params[] = {day, n};
	enum pgres r;

	lo = lo < min ? min : lo;
	hi = hi > t + 2 ? t + 2 : hi;
	if (lo > hi || (lo >= m->ens_lo && hi <= m->ens_hi))
		return PGR_OK;
	snprintf(sql, sizeof(sql), "SELECT %s.httplat_ensure_partitions($1::date, $2::integer)",
		 m->schema);
	for (int64_t d = lo; d <= hi; d += 62) { /* the SQL function makes 62 at most */
		pgcopy__ts(day, sizeof(day), d * DAY_NS);
		day[10] = 0;
		snprintf(n, sizeof(n), "%d", (int)(hi - d + 1 > 62 ? 62 : hi - d + 1));
		r = pgsess__exec(s, sql, 2, params);
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
	char raw[16], roll[16], dropped[24], sql[SQL_MAX];
	const char *params[] = {raw, roll};
	int64_t t = today();
	enum pgres r;

	m->next_ms = clock__mono_ms() + MAINT_MS;
	pgmaint__forget(m); /* retention may have dropped some */
	r = pgmaint__ensure_days(m, s, t - 1, t + 2);
	if (r != PGR_OK || m->retention_days <= 0)
		return r;
	snprintf(raw, sizeof(raw), "%d", m->retention_days);
	snprintf(roll, sizeof(roll), "%d", m->rollup_days);
	snprintf(sql, sizeof(sql), "SELECT %s.httplat_retention($1::integer, $2::integer)",
		 m->schema);
	r = pgsess__value(s, sql, 2, params, dropped, sizeof(dropped));
	if (r == PGR_OK && atoi(dropped) > 0)
		pgsess__log("retention: dropped %s daily partition(s) older than %d days", dropped,
			    m->retention_days);
	return r;
}

/* The version recorded in the schema (0: none yet) into *have. */
static enum pgres schema_version(struct pgmaint *m, struct pgsess *s, int *have)
{
	char sql[SQL_MAX], v[16] = "";
	const char *params[] = {sql};
	enum pgres r;

	*have = 0;
	snprintf(sql, sizeof(sql), "%s.httplat_schema", m->schema);
	r = pgsess__value(s, "SELECT to_regclass($1) IS NOT NULL", 1, params, v, sizeof(v));
	if (r != PGR_OK || strcmp(v, "t"))
		return r;
	snprintf(sql, sizeof(sql), "SELECT coalesce(max(version), 0) FROM %s.httplat_schema",
		 m->schema);
	r = pgsess__value(s, sql, 0, NULL, v, sizeof(v));
	*have = atoi(v);
	return r;
}

/* What the database lacks, in one transaction: prepare, migrations after have, functions. */
static enum pgres apply(struct pgmaint *m, struct pgsess *s, int have)
{
	const struct pgschema_migration *mig;
	int n = pgschema__migrations(&mig), err;
	char names[256] = "", *sql = NULL;
	size_t o = 0;
	enum pgres r;

	err = pgschema__render(&sql, pgschema__prepare(), m->schema);
	for (int i = 0; i < n && !err; i++) {
		if (mig[i].version <= have)
			continue;
		err = pgschema__render(&sql, mig[i].sql, m->schema);
		o += (size_t)snprintf(names + o, sizeof(names) - o, "%s%s", o ? ", " : "",
				      mig[i].name);
	}
	err = err ?: pgschema__render(&sql, pgschema__functions(), m->schema);
	if (err) {
		free(sql);
		pgsess__set_error(s, NULL, "out of memory");
		return PGR_RETRY;
	}
	r = pgsess__exec(s, sql, 0, NULL); /* one implicit transaction: all or nothing */
	free(sql);
	if (r == PGR_OK)
		pgsess__log("schema: applied %s in schema %s (version %d)", names, m->schema,
			    pgschema__latest());
	else
		pgsess__log("schema: cannot apply %s in schema %s: %s%s%s", names, m->schema,
			    s->msg, *s->hint ? "; " : "", s->hint);
	return r;
}

static enum pgres apply_schema(struct pgmaint *m, struct pgsess *s)
{
	char key[128];
	const char *params[] = {key};
	enum pgres r;
	int have;

	r = schema_version(m, s, &have);
	if (r != PGR_OK || have >= pgschema__latest())
		return r; /* a newer httplat may have migrated further: its columns are checked */
	snprintf(key, sizeof(key), "httplat schema %s", m->schema);
	r = pgsess__exec(s, "SELECT pg_advisory_lock(hashtext($1))", 1, params);
	if (r == PGR_OK)
		r = schema_version(m, s, &have); /* another daemon may have migrated meanwhile */
	if (r == PGR_OK && have < pgschema__latest())
		r = apply(m, s, have);
	if (r != PGR_CONN && s->pq->status(s->conn) == CONNECTION_OK) {
		char state[sizeof(s->state)], msg[sizeof(s->msg)], hint[sizeof(s->hint)];

		/* the unlock must not hide why the migration failed */
		memcpy(state, s->state, sizeof(state));
		memcpy(msg, s->msg, sizeof(msg));
		memcpy(hint, s->hint, sizeof(hint));
		pgsess__exec(s, "SELECT pg_advisory_unlock(hashtext($1))", 1, params);
		memcpy(s->state, state, sizeof(state));
		memcpy(s->msg, msg, sizeof(msg));
		memcpy(s->hint, hint, sizeof(hint));
	}
	return r;
}

/* The kernel_* columns httplat_health lacks (a counter added since) are added. */
static enum pgres health_columns(struct pgmaint *m, struct pgsess *s)
{
	char want[2048] = "{", missing[2048], sql[SQL_MAX], table[128];
	const char *params[] = {want, table};
	const char *added_params[] = {missing};
	size_t o = 1;
	enum pgres r;

	for (int i = 0; i < HTTPLAT_C__COUNT && o < sizeof(want) - 2; i++)
		o += (size_t)snprintf(want + o, sizeof(want) - o, "%s%s", i ? "," : "",
				      pgcopy__kernel_column(i));
	snprintf(want + o, sizeof(want) - o, "}");
	snprintf(table, sizeof(table), "%s.httplat_health", m->schema);
	r = pgsess__value(s,
			  "SELECT coalesce('{' || string_agg(c, ',') || '}', '') "
			  "FROM unnest($1::text[]) AS c WHERE NOT EXISTS (SELECT 1 FROM pg_attribute "
			  "WHERE attrelid = to_regclass($2) AND attname = c AND NOT attisdropped)",
			  2, params, missing, sizeof(missing));
	if (r != PGR_OK || !*missing)
		return r;
	snprintf(sql, sizeof(sql), "SELECT %s.httplat_health_columns($1::text[])", m->schema);
	r = pgsess__exec(s, sql, 1, added_params);
	if (r == PGR_OK)
		pgsess__log("schema: added %s to %s", missing, table);
	return r;
}

/* The tables are httplat's: http_requests partitioned, every column the writer names present. */
static enum pgres check_layout(struct pgmaint *m, struct pgsess *s)
{
	static const char *const tables[PGB__COUNT] = {"http_requests", "http_requests_1m",
							"alerts", "httplat_health"};
	struct pgbatch current = {};
	char name[128], kind[8], missing[512], text[700];
	const char *params[] = {name, NULL};
	enum pgres r;

	snprintf(name, sizeof(name), "%s.http_requests", m->schema);
	r = pgsess__value(s, "SELECT relkind FROM pg_class WHERE oid = to_regclass($1)", 1, params,
			  kind, sizeof(kind));
	if (r != PGR_OK)
		return r;
	if (strcmp(kind, "p")) {
		snprintf(text, sizeof(text), "%s is %s", name,
			 *kind ? "not partitioned: it is not httplat's" : "missing");
		pgsess__set_error(s, "42P17", text);
		return PGR_FATAL;
	}
	for (int i = 0; i < PGB__COUNT; i++) {
		snprintf(name, sizeof(name), "%s.%s", m->schema, tables[i]);
		params[1] = pgbatch__cols(&current, (enum pgbatch_part)i);
		r = pgsess__value(s,
				  "SELECT coalesce(string_agg(c, ', '), '') "
				  "FROM unnest(string_to_array($2, ', ')) AS c WHERE NOT EXISTS "
				  "(SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) "
				  "AND attname = c AND NOT attisdropped)",
				  2, params, missing, sizeof(missing));
		if (r != PGR_OK)
			return r;
		if (*missing) {
			snprintf(text, sizeof(text), "%s lacks column(s) %s", name, missing);
			pgsess__set_error(s, "42703", text);
			return PGR_FATAL;
		}
	}
	return PGR_OK;
}

enum pgres pgmaint__setup(struct pgmaint *m, struct pgsess *s)
{
	char sql[SQL_MAX];
	enum pgres r = apply_schema(m, s);

	if (r == PGR_OK)
		r = health_columns(m, s);
	if (r == PGR_OK)
		r = check_layout(m, s);
	snprintf(sql, sizeof(sql),
		 "CREATE TEMP TABLE IF NOT EXISTS httplat_stage_1m (LIKE %s.http_requests_1m) "
		 "ON COMMIT DELETE ROWS",
		 m->schema);
	if (r == PGR_OK)
		r = pgsess__exec(s, sql, 0, NULL);
	if (r == PGR_OK)
		r = pgmaint__run(m, s);
	/* the schema cannot be used as it is (conflict, definition, privilege): retrying won't fix it */
	if (r == PGR_RETRY && !strncmp(s->state, "42", 2))
		r = PGR_FATAL;
	return r;
}

void pgmaint__explain(const struct pgmaint *m, const struct pgsess *s, char *out, size_t outsz)
{
	char advice[400];

	if (*s->hint)
		snprintf(advice, sizeof(advice), "%s", s->hint);
	else if (!strcmp(s->state, "42501"))
		snprintf(advice, sizeof(advice),
			 "this role may not create or use schema %s: run scripts/pg-roles.sh "
			 "[CONNINFO] as the database owner (it makes the schema, its tables and "
			 "functions, and grants httplat_writer what it needs), then start again",
			 m->schema);
	else
		snprintf(advice, sizeof(advice),
			 "schema %s is not as httplat made it: rename or drop the table, or give "
			 "httplat a schema of its own (--schema NAME); see docs/postgres.md",
			 m->schema);
	snprintf(out, outsz, "%s%s%s; %s", s->state, *s->state ? " " : "", s->msg, advice);
}
