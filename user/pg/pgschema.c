/* pgschema.c: embeds the schema/ SQL files (.incbin; paths are relative to the top directory). */
#include "pgschema.h"

/* One symbol per file, NUL-terminated. make runs from the top directory. */
#define EMBED(sym, file)                                                                           \
	__asm__(".section .rodata\n.global " #sym "\n.type " #sym ", @object\n" #sym               \
		":\n.incbin \"" file "\"\n.byte 0\n.previous\n");                                  \
	extern const char sym[]

EMBED(httplat_schema_001, "schema/001_init.sql");

static const struct pgschema_migration migrations[] = {
    {1, "001_init.sql", httplat_schema_001},
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
