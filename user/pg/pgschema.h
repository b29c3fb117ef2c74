/* pgschema.h: the schema/ SQL migrations, embedded in the binary, in version order. */
#ifndef HTTPLAT_PGSCHEMA_H
#define HTTPLAT_PGSCHEMA_H

struct pgschema_migration {
	int version;
	const char *name;
	const char *sql; /* NUL-terminated; records its own version in httplat_schema */
};

/* Number of migrations; *out points at the array. */
int pgschema__migrations(const struct pgschema_migration **out);
/* Highest version this binary knows. */
int pgschema__latest(void);

#endif
