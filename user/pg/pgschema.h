/* pgschema.h: the schema/ SQL files, embedded in the binary, and their schema name put in. */
#ifndef HTTPLAT_PGSCHEMA_H
#define HTTPLAT_PGSCHEMA_H

#define PGSCHEMA_DEFAULT "httplat"
#define PGSCHEMA_NAME_MAX 63 /* PostgreSQL's identifier length */

struct pgschema_migration {
	int version;
	const char *name;
	const char *sql; /* NUL-terminated; records its own version in @schema@.httplat_schema */
};

/* Number of migrations, in version order; *out points at the array. */
int pgschema__migrations(const struct pgschema_migration **out);
/* Highest version this binary knows. */
int pgschema__latest(void);
/* 000_prepare.sql: the schema made, conflicts refused, the version-1 layout moved from public. */
const char *pgschema__prepare(void);
/* functions.sql: every function, (re)created with each migration. */
const char *pgschema__functions(void);
/*
 * Appends sql with every "@schema@" replaced by schema to *buf (malloc'd,
 * grown; *buf may be NULL). 0 or -ENOMEM.
 */
int pgschema__render(char **buf, const char *sql, const char *schema);
/*
 * A schema name httplat accepts: a lowercase SQL identifier that needs no
 * quoting ([a-z_][a-z0-9_]*, at most 63 bytes), not pg_*. 1 or 0.
 */
int pgschema__valid_name(const char *schema);

#endif
