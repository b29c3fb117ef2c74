/* pgcli.h: the PostgreSQL writer's command-line options (--db, --host, ...), as an argp child. */
#ifndef HTTPLAT_PGCLI_H
#define HTTPLAT_PGCLI_H

#include <argp.h>

#include "pgwriter.h"

struct pgcli {
	struct pgwriter_opts pg;
	const char *db; /* --db */
	char host[256]; /* --host */
	const char *schema; /* --schema */
};

/* Child parser (input: struct pgcli): --db, --host, --schema, --mem-max, --batch-rows, ... */
extern const struct argp pgcli_argp;

/*
 * After parsing: pg.conninfo from --db, else $HTTPLAT_DB, else NULL (libpq's
 * PG* variables); pg.host from --host, else default_host, else gethostname();
 * pg.schema from --schema, else default_schema, else "httplat".
 */
void pgcli__finish(struct pgcli *c, const char *default_host, const char *default_schema);

#endif
