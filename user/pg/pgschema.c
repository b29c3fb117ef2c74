/* pgschema.c: embeds the schema/ SQL files (.incbin; paths are relative to the top directory). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pgschema.h"

/* One symbol per file, NUL-terminated. make runs from the top directory. */
#define EMBED(sym, file)                                                                           \
	__asm__(".section .rodata\n.global " #sym "\n.type " #sym ", @object\n" #sym               \
		":\n.incbin \"" file "\"\n.byte 0\n.previous\n");                                  \
	extern const char sym[]

EMBED(httplat_schema_000, "schema/000_prepare.sql");
EMBED(httplat_schema_001, "schema/001_init.sql");
EMBED(httplat_schema_002, "schema/002_split_tls_counters.sql");
EMBED(httplat_schema_functions, "schema/functions.sql");

static const struct pgschema_migration migrations[] = {
    {1, "001_init.sql", httplat_schema_001},
    {2, "002_split_tls_counters.sql", httplat_schema_002},
};

int pgschema__migrations(const struct pgschema_migration **out)
{
	*out = migrations;
	return (int)(sizeof(migrations) / sizeof(migrations[0]));
}

int pgschema__latest(void)
{
	return migrations[sizeof(migrations) / sizeof(migrations[0]) - 1].version;
}

const char *pgschema__prepare(void)
{
	return httplat_schema_000;
}

const char *pgschema__functions(void)
{
	return httplat_schema_functions;
}

int pgschema__render(char **buf, const char *sql, const char *schema)
{
	static const char mark[] = "@schema@";
	size_t have = *buf ? strlen(*buf) : 0, need = have + strlen(sql) + 2, n = strlen(schema);
	const char *p = sql, *at;
	char *out, *o;

	for (at = sql; (at = strstr(at, mark)); at += sizeof(mark) - 1)
		need += n;
	out = realloc(*buf, need);
	if (!out)
		return -ENOMEM;
	o = out + have;
	while ((at = strstr(p, mark))) {
		memcpy(o, p, (size_t)(at - p));
		o += at - p;
		memcpy(o, schema, n);
		o += n;
		p = at + sizeof(mark) - 1;
	}
	strcpy(o, p);
	o += strlen(p);
	*o++ = '\n';
	*o = 0;
	*buf = out;
	return 0;
}

int pgschema__valid_name(const char *schema)
{
	size_t n = schema ? strlen(schema) : 0;

	if (!n || n > PGSCHEMA_NAME_MAX || !strncmp(schema, "pg_", 3) ||
	    !((schema[0] >= 'a' && schema[0] <= 'z') || schema[0] == '_'))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!((schema[i] >= 'a' && schema[i] <= 'z') || (schema[i] >= '0' && schema[i] <= '9') ||
		      schema[i] == '_'))
			return 0;
	return 1;
}
