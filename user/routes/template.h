/* template.h: Starlette path templates ("/files/{name:path}") compiled and matched by its rules. */
#ifndef HTTPLAT_TEMPLATE_H
#define HTTPLAT_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

#define TEMPLATE_MAX_PARTS 32
#define TEMPLATE_PATH_MAX 1024 /* longer paths never match */

/*
 * The convertors of starlette/convertors.py, with their regexes:
 * str [^/]+, path .*, int [0-9]+, float [0-9]+(\.[0-9]+)?, uuid (lowercase hex 8-4-4-4-12).
 */
enum template_kind {
	TEMPLATE_LITERAL,
	TEMPLATE_STR,
	TEMPLATE_PATH,
	TEMPLATE_INT,
	TEMPLATE_FLOAT,
	TEMPLATE_UUID,
	/*
	 * What the endpoint's validation accepts for an int, float or UUID
	 * parameter declared without a convertor (Python's int(), float(),
	 * uuid.UUID() syntax): used to tell whether a route could have answered.
	 */
	TEMPLATE_VALID_INT,
	TEMPLATE_VALID_FLOAT,
	TEMPLATE_VALID_UUID,
};

struct template_part {
	uint8_t kind; /* enum template_kind */
	uint16_t off; /* literal: bytes source[off, off + len) */
	uint16_t len;
};

struct template
{
	char *source; /* as given: "/files/{name:path}" */
	/*
	 * Starlette's path_format, "{name}" without the convertor: the key of
	 * the app's OpenAPI document and the route httplat reports.
	 */
	char *format;
	int nparts;
	int nparams;
	struct template_part part[TEMPLATE_MAX_PARTS];
};

/*
 * Compiles src as starlette.routing.compile_path does: "{name}" and
 * "{name:conv}" (name [a-zA-Z_][a-zA-Z0-9_]*) are parameters, any other
 * brace is literal text. 0, or -EINVAL (unknown convertor, too many parts,
 * not starting with '/') / -ENOMEM with a reason in err.
 */
int template__compile(struct template *t, const char *src, char *err, size_t errsz);
void template__free(struct template *t);

/*
 * Does the whole path (len bytes, already percent-decoded) match, as
 * Python's re.match(regex + "$") would (so one trailing "\n" is allowed)?
 */
int template__match(const struct template *t, const char *path, size_t len);

/* The same with kinds[i] (when not 0) as the kind of parameter number i (0-based). */
int template__match_kinds(const struct template *t, const uint8_t *kinds, const char *path,
			  size_t len);

/* The number of the parameter called name (len bytes), or -1. */
int template__param(const struct template *t, const char *name, size_t len);

/* Turns parameter number param into a path convertor (the format is unchanged). */
void template__set_path(struct template *t, int param);

/*
 * Percent-decodes in[0, len) into out as urllib.parse.unquote does for
 * uvicorn (%XX becomes the byte; invalid escapes stay). Returns the length;
 * out holds at most outsz bytes (no terminator added).
 */
size_t template__unquote(const char *in, size_t len, char *out, size_t outsz);

#endif
