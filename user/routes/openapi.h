/* openapi.h: an app's route table from its OpenAPI document, matched as Starlette's Router does. */
#ifndef HTTPLAT_OPENAPI_H
#define HTTPLAT_OPENAPI_H

#include <stddef.h>
#include <stdint.h>

#include "template.h"

#define ROUTE_TABLE_MAX 4096	  /* templates kept from one document */
#define ROUTE_ROOTS_MAX 4	  /* relative "servers" URLs (FastAPI's root_path) */
#define ROUTE_DOC_MAX (32u << 20) /* bytes of JSON accepted */

/* Methods an OpenAPI path item can name; a method outside these has no bit. */
enum route_method {
	ROUTE_GET = 1u << 0,
	ROUTE_HEAD = 1u << 1,
	ROUTE_POST = 1u << 2,
	ROUTE_PUT = 1u << 3,
	ROUTE_DELETE = 1u << 4,
	ROUTE_OPTIONS = 1u << 5,
	ROUTE_PATCH = 1u << 6,
	ROUTE_TRACE = 1u << 7,
	ROUTE_ANY = 1u << 31, /* no method list: every method (Starlette's methods=None) */
};

struct route_entry {
	struct template t;
	unsigned methods; /* enum route_method bits; GET implies HEAD as in Starlette */
	uint32_t learned; /* parameters found to be {name:path} by traffic (bit per param) */
	/*
	 * Per parameter: TEMPLATE_INT, _FLOAT or _UUID when every operation's
	 * schema types it so (integer, number, string/uuid), else 0. The document
	 * drops convertors; these types tell, with the status, which route the
	 * app can have taken (see route_table__match).
	 */
	uint8_t ptype[TEMPLATE_MAX_PARTS];
	int typed;
};

struct route_table {
	struct route_entry *e; /* in the app's order */
	int n, cap;
	char root[ROUTE_ROOTS_MAX][128]; /* "/api/v1": prefixes Starlette >= 0.33 strips */
	int nroots;
	int skipped; /* templates that did not compile, or past ROUTE_TABLE_MAX */
	char skipped_why[160];
	char title[96]; /* info.title and info.version, for messages */
};

enum route_match {
	ROUTE_NONE,
	ROUTE_FULL,	/* path and method match */
	ROUTE_PARTIAL,	/* the path matches, not the method: the app answers 405 */
	ROUTE_REDIRECT, /* redirect_slashes: the path with its trailing slash toggled matches */
};

struct route_hit {
	enum route_match kind;
	int index;    /* entry */
	int stripped; /* matched only once a root path was taken off */
};

struct route_table *route_table__new(void);
void route_table__free(struct route_table *t);

/*
 * Parses an OpenAPI 3 document (JSON): "paths" in document order (FastAPI
 * writes them in registration order, one entry per path_format), their
 * method keys, and relative "servers" URLs as root paths. Templates that do
 * not compile are skipped and counted. 0, or -EINVAL with a reason in err.
 */
int route_table__parse(const char *json, size_t len, struct route_table **out, char *err,
		       size_t errsz);

/* Appends a template (methods 0 = ROUTE_ANY). 0, -EINVAL / -ENOSPC / -ENOMEM with err. */
int route_table__add(struct route_table *t, const char *tmpl, unsigned methods, char *err,
		     size_t errsz);

/* The method bit of a request method as sent ("GET"); 0 for others (and "get"). */
unsigned route_method__bit(const char *method);

/*
 * Starlette's Router.__call__ on a percent-decoded path: the first route
 * matching path and method in order (FULL), else the first matching the path
 * (PARTIAL), else, unless the path is "/", the first matching it with the
 * trailing slash added or removed (REDIRECT). When nothing matches and the
 * path is under a root path, the same on the rest (stripped = 1). Returns
 * non-zero when something matched.
 * status (0: unknown) rules out routes with typed parameters that cannot
 * have given it: unless the app answered 422, a value its validation refuses
 * ("bob" for an integer) means another route (or a convertor) took the
 * request; a 404 with a value the convertor would refuse ("1e3" for
 * {x:float}) means the app's convertor did not match.
 */
int route_table__match(const struct route_table *t, const char *method, const char *path,
		       size_t len, int status, struct route_hit *hit);

/*
 * The document cannot say {name:path} (its keys drop convertors): for a path
 * that matched nothing but that the app answered, finds the first entry that
 * matches it with one parameter taken as a path (method too, unless any_method),
 * and marks that parameter so from now on. Returns the entry index, or -1.
 */
int route_table__learn_path(struct route_table *t, const char *method, const char *path, size_t len,
			    int any_method);

/* Carries parameters learned in old over to entries of t with the same template. */
void route_table__inherit(struct route_table *t, const struct route_table *old);

#endif
