/* pgcli.c: argp child for the options every PostgreSQL-writing command shares. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parse.h"
#include "pgcli.h"
#include "pgschema.h"

enum {
	OPT_DB = 2100,
	OPT_HOST,
	OPT_SCHEMA,
	OPT_MEM_MAX,
	OPT_BATCH_ROWS,
	OPT_FLUSH_MS,
	OPT_DB_TIMEOUT,
	OPT_ROLLUP_ONLY
};

static const struct argp_option options[] = {
    {"db", OPT_DB, "CONNINFO", 0,
     "PostgreSQL conninfo or URL (default: $HTTPLAT_DB, else libpq's PG* variables and "
     "~/.pgpass)",
     2},
    {"host", OPT_HOST, "NAME", 0,
     "Value of the host column (default: this machine's hostname); give each daemon writing "
     "into one database its own",
     2},
    {"schema", OPT_SCHEMA, "NAME", 0,
     "PostgreSQL schema holding httplat's tables and functions, created if missing (default "
     "httplat)",
     2},
    {"rollup-only", OPT_ROLLUP_ONLY, NULL, 0,
     "No row per request: write only the per-minute rollup (and alerts, health); for fleets "
     "that outgrow one database",
     2},
    {"mem-max", OPT_MEM_MAX, "SIZE", 0, "Memory bound for queued rows, e.g. 64M (default 64M)", 2},
    {"batch-rows", OPT_BATCH_ROWS, "N", 0, "Rows per COPY batch at most (default 20000)", 2},
    {"db-timeout", OPT_DB_TIMEOUT, "SECONDS", 0,
     "Drop a connection whose database call takes longer, spool meanwhile (default 30)", 2},
    {"flush-ms", OPT_FLUSH_MS, "MS", 0,
     "Write a batch when its first row is this old (default 200; rows visible within 1 s)", 2},
    {},
};

static error_t pgcli_parse(int key, char *arg, struct argp_state *state)
{
	struct pgcli *c = state->input;
	uint64_t size;
	long v;

	switch (key) {
	case OPT_DB:
		c->db = arg;
		break;
	case OPT_HOST:
		if (!*arg || strlen(arg) >= sizeof(c->host))
			argp_error(state, "invalid --host: want 1-%zu characters",
				   sizeof(c->host) - 1);
		snprintf(c->host, sizeof(c->host), "%s", arg);
		break;
	case OPT_SCHEMA:
		if (!pgschema__valid_name(arg))
			argp_error(state,
				   "invalid --schema '%s': want a lowercase name of letters, digits "
				   "and _ (at most 63, not starting with a digit or pg_)",
				   arg);
		c->schema = arg;
		break;
	case OPT_ROLLUP_ONLY:
		c->pg.rollup_only = 1;
		break;
	case OPT_MEM_MAX:
		if (parse__size(arg, &size) || size < 65536)
			argp_error(state,
				   "invalid --mem-max '%s': want bytes with an optional K, M or G "
				   "suffix, at least 64K",
				   arg);
		c->pg.mem_max = size;
		break;
	case OPT_BATCH_ROWS:
		if (parse__long(arg, 1, 1000000, &v))
			argp_error(state, "invalid --batch-rows '%s': want 1-1000000", arg);
		c->pg.batch_rows = (uint32_t)v;
		break;
	case OPT_DB_TIMEOUT:
		if (parse__long(arg, 1, 86400, &v))
			argp_error(state, "invalid --db-timeout '%s': want 1-86400 seconds", arg);
		c->pg.db_timeout_ms = (int)v * 1000;
		break;
	case OPT_FLUSH_MS:
		if (parse__long(arg, 1, 60000, &v))
			argp_error(state, "invalid --flush-ms '%s': want 1-60000", arg);
		c->pg.flush_ms = (uint32_t)v;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp pgcli_argp = {
    .options = options,
    .parser = pgcli_parse,
};

void pgcli__finish(struct pgcli *c, const char *default_host, const char *default_schema)
{
	const char *db = c->db ? c->db : getenv("HTTPLAT_DB");

	c->pg.conninfo = db && *db ? db : NULL;
	if (!*c->host && default_host)
		snprintf(c->host, sizeof(c->host), "%s", default_host);
	if (!*c->host && gethostname(c->host, sizeof(c->host) - 1))
		snprintf(c->host, sizeof(c->host), "unknown");
	c->pg.host = c->host;
	c->pg.schema = c->schema							? c->schema
		       : default_schema && *default_schema ? default_schema
							   : PGSCHEMA_DEFAULT;
}
