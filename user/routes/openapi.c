/* openapi.c: OpenAPI paths -> route table; Starlette's Router.__call__ order, 405 and
 * redirect_slashes. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "openapi.h"

static const struct {
	const char *upper, *lower;
	unsigned bit;
} methods[] = {
    {"GET", "get", ROUTE_GET},		{"HEAD", "head", ROUTE_HEAD},
    {"POST", "post", ROUTE_POST},	{"PUT", "put", ROUTE_PUT},
    {"DELETE", "delete", ROUTE_DELETE}, {"OPTIONS", "options", ROUTE_OPTIONS},
    {"PATCH", "patch", ROUTE_PATCH},	{"TRACE", "trace", ROUTE_TRACE},
};

#define NMETHODS (sizeof(methods) / sizeof(methods[0]))

unsigned route_method__bit(const char *method)
{
	/* Starlette compares scope["method"] as sent: "get" is not GET */
	for (size_t i = 0; i < NMETHODS; i++)
		if (!strcmp(method, methods[i].upper))
			return methods[i].bit;
	return 0;
}

static unsigned method_key_bit(const char *key)
{
	for (size_t i = 0; i < NMETHODS; i++)
		if (!strcmp(key, methods[i].lower))
			return methods[i].bit;
	return 0;
}

struct route_table *route_table__new(void)
{
	return calloc(1, sizeof(struct route_table));
}

void route_table__free(struct route_table *t)
{
	if (!t)
		return;
	for (int i = 0; i < t->n; i++)
		template__free(&t->e[i].t);
	free(t->e);
	free(t);
}

int route_table__add(struct route_table *t, const char *tmpl, unsigned mbits, char *err,
		     size_t errsz)
{
	struct route_entry *e;
	int ret;

	if (t->n >= ROUTE_TABLE_MAX) {
		snprintf(err, errsz, "more than %d routes", ROUTE_TABLE_MAX);
		return -ENOSPC;
	}
	if (t->n == t->cap) {
		int cap = t->cap ? t->cap * 2 : 32;
		struct route_entry *ne = realloc(t->e, (size_t)cap * sizeof(*ne));

		if (!ne) {
			snprintf(err, errsz, "out of memory");
			return -ENOMEM;
		}
		t->e = ne;
		t->cap = cap;
	}
	e = &t->e[t->n];
	memset(e, 0, sizeof(*e));
	if ((ret = template__compile(&e->t, tmpl, err, errsz)))
		return ret;
	if (!mbits)
		mbits = ROUTE_ANY;
	if (mbits & ROUTE_GET) /* Starlette's Route adds HEAD to GET */
		mbits |= ROUTE_HEAD;
	e->methods = mbits;
	t->n++;
	return 0;
}

static void table__skip(struct route_table *t, const char *why)
{
	if (!t->skipped++)
		snprintf(t->skipped_why, sizeof(t->skipped_why), "%s", why);
}

static void table__servers(struct route_table *t, json_t *servers)
{
	size_t i;
	json_t *s;

	json_array_foreach(servers, i, s)
	{
		const char *url = json_string_value(json_object_get(s, "url"));
		size_t n;

		/* FastAPI puts its root_path first as a relative URL; absolute URLs name hosts */
		if (!url || url[0] != '/' || t->nroots >= ROUTE_ROOTS_MAX)
			continue;
		n = strlen(url);
		while (n > 0 && url[n - 1] == '/')
			n--;
		if (!n || n >= sizeof(t->root[0]))
			continue;
		memcpy(t->root[t->nroots], url, n);
		t->root[t->nroots++][n] = '\0';
	}
}

static uint8_t schema__type(json_t *schema)
{
	const char *type = json_string_value(json_object_get(schema, "type"));
	const char *format = json_string_value(json_object_get(schema, "format"));

	if (!type)
		return 0;
	if (!strcmp(type, "integer"))
		return TEMPLATE_INT;
	if (!strcmp(type, "number"))
		return TEMPLATE_FLOAT;
	if (!strcmp(type, "string") && format && !strcmp(format, "uuid"))
		return TEMPLATE_UUID;
	return 0;
}

/* Path parameter types named by one parameters array. */
static void params__types(const struct route_entry *e, json_t *params, uint8_t *type)
{
	size_t i;
	json_t *p;

	json_array_foreach(params, i, p)
	{
		const char *name = json_string_value(json_object_get(p, "name"));
		const char *in = json_string_value(json_object_get(p, "in"));
		int k;

		if (name && in && !strcmp(in, "path") &&
		    (k = template__param(&e->t, name, strlen(name))) >= 0)
			type[k] = schema__type(json_object_get(p, "schema"));
	}
}

/* A parameter is typed when every operation of the path types it the same way. */
static void entry__types_of(struct route_entry *e, json_t *item)
{
	uint8_t common[TEMPLATE_MAX_PARTS] = {0};
	const char *mk;
	json_t *op;
	int first = 1;

	json_object_foreach(item, mk, op)
	{
		uint8_t type[TEMPLATE_MAX_PARTS] = {0};

		if (!method_key_bit(mk))
			continue;
		params__types(e, json_object_get(item, "parameters"), type);
		params__types(e, json_object_get(op, "parameters"), type);
		for (int k = 0; k < e->t.nparams; k++)
			common[k] = first || common[k] == type[k] ? type[k] : 0;
		first = 0;
	}
	memcpy(e->ptype, common, sizeof(common));
	for (int k = 0; k < e->t.nparams; k++)
		e->typed |= e->ptype[k] != 0;
}

int route_table__parse(const char *json, size_t len, struct route_table **out, char *err,
		       size_t errsz)
{
	struct route_table *t;
	json_error_t jerr;
	json_t *root, *paths, *item, *info;
	const char *key;

	*out = NULL;
	if (len > ROUTE_DOC_MAX) {
		snprintf(err, errsz, "document larger than %u MiB", ROUTE_DOC_MAX >> 20);
		return -EINVAL;
	}
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, errsz, "not JSON: %s (line %d)", jerr.text, jerr.line);
		return -EINVAL;
	}
	paths = json_object_get(root, "paths");
	if (!json_is_object(root) || !json_is_object(paths)) {
		snprintf(err, errsz, "not an OpenAPI document (no \"paths\" object)");
		json_decref(root);
		return -EINVAL;
	}
	t = route_table__new();
	if (!t) {
		snprintf(err, errsz, "out of memory");
		json_decref(root);
		return -ENOMEM;
	}
	info = json_object_get(root, "info");
	if (json_is_string(json_object_get(info, "title")))
		snprintf(t->title, sizeof(t->title), "%.60s %.30s",
			 json_string_value(json_object_get(info, "title")),
			 json_is_string(json_object_get(info, "version"))
			     ? json_string_value(json_object_get(info, "version"))
			     : "");
	table__servers(t, json_object_get(root, "servers"));
	json_object_foreach(paths, key, item)
	{
		unsigned mbits = 0;
		const char *mk;
		json_t *op;
		char why[160];

		if (key[0] != '/') /* "x-..." extensions */
			continue;
		json_object_foreach(item, mk, op) mbits |= method_key_bit(mk);
		if (!mbits) {
			table__skip(t, "a path without operations");
			continue;
		}
		if (route_table__add(t, key, mbits, why, sizeof(why)))
			table__skip(t, why);
		else
			entry__types_of(&t->e[t->n - 1], item);
	}
	json_decref(root);
	*out = t;
	return 0;
}

/* Per-parameter kinds: the typed string parameters as validation (strict = 0) or convertor. */
static const uint8_t *entry__kinds(const struct route_entry *e, int strict, uint8_t *kinds)
{
	static const uint8_t valid[] = {[TEMPLATE_INT] = TEMPLATE_VALID_INT,
					[TEMPLATE_FLOAT] = TEMPLATE_VALID_FLOAT,
					[TEMPLATE_UUID] = TEMPLATE_VALID_UUID};

	for (int i = 0, k = 0; i < e->t.nparts; i++) {
		if (e->t.part[i].kind == TEMPLATE_LITERAL)
			continue;
		kinds[k] = e->t.part[i].kind == TEMPLATE_STR && e->ptype[k]
			       ? (strict ? e->ptype[k] : valid[e->ptype[k]])
			       : 0;
		k++;
	}
	return kinds;
}

/* Does e match p, and could the app have answered status through it? */
static int entry__matches(const struct route_entry *e, const char *p, size_t len, int status)
{
	uint8_t kinds[TEMPLATE_MAX_PARTS];

	if (!template__match(&e->t, p, len))
		return 0;
	if (!e->typed || status <= 0)
		return 1;
	if (status != 422 && !template__match_kinds(&e->t, entry__kinds(e, 0, kinds), p, len))
		return 0;
	return status != 404 || template__match_kinds(&e->t, entry__kinds(e, 1, kinds), p, len);
}

/* One pass of Router.__call__ over routes for one path. */
static int table__scan(const struct route_table *t, unsigned mbit, const char *p, size_t len,
		       int status, struct route_hit *hit)
{
	char alt[TEMPLATE_PATH_MAX + 1];
	size_t alen = len;
	int partial = -1;

	for (int i = 0; i < t->n; i++) {
		const struct route_entry *e = &t->e[i];

		if (!entry__matches(e, p, len, status))
			continue;
		if (e->methods & (ROUTE_ANY | mbit)) {
			*hit = (struct route_hit){ROUTE_FULL, i, 0};
			return 1;
		}
		if (partial < 0)
			partial = i;
	}
	if (partial >= 0) {
		*hit = (struct route_hit){ROUTE_PARTIAL, partial, 0};
		return 1;
	}
	/* redirect_slashes (on by default in Starlette and FastAPI): "/x/" <-> "/x" */
	if ((len == 1 && p[0] == '/') || len >= sizeof(alt) - 1)
		return 0;
	memcpy(alt, p, len);
	if (len && p[len - 1] == '/') {
		while (alen > 0 && alt[alen - 1] == '/') /* rstrip("/") */
			alen--;
	} else {
		alt[alen++] = '/';
	}
	for (int i = 0; i < t->n; i++) {
		if (entry__matches(&t->e[i], alt, alen, status)) {
			*hit = (struct route_hit){ROUTE_REDIRECT, i, 0};
			return 1;
		}
	}
	return 0;
}

/* The rest of p after root r as get_route_path() takes it; NULL when p is not under r. */
static const char *under_root(const char *r, const char *p, size_t len, size_t *rest)
{
	size_t n = strlen(r);

	if (len < n || memcmp(p, r, n) || (len > n && p[n] != '/'))
		return NULL;
	*rest = len - n;
	return p + n;
}

int route_table__match(const struct route_table *t, const char *method, const char *path,
		       size_t len, int status, struct route_hit *hit)
{
	unsigned mbit = route_method__bit(method);

	*hit = (struct route_hit){ROUTE_NONE, -1, 0};
	if (!t)
		return 0;
	if (table__scan(t, mbit, path, len, status, hit))
		return 1;
	for (int r = 0; r < t->nroots; r++) {
		size_t rest;
		const char *p = under_root(t->root[r], path, len, &rest);

		if (p && table__scan(t, mbit, p, rest, status, hit)) {
			hit->stripped = 1;
			return 1;
		}
	}
	return 0;
}

static int entry__learn(struct route_entry *e, unsigned mbit, const char *p, size_t len,
			int any_method)
{
	int k = 0;

	if (!any_method && !(e->methods & (ROUTE_ANY | mbit)))
		return 0;
	/* the last parameter first: "{name:path}" is nearly always at the end */
	for (int i = e->t.nparts - 1; i >= 0; i--) {
		if (e->t.part[i].kind == TEMPLATE_LITERAL)
			continue;
		k++;
		if (e->t.part[i].kind != TEMPLATE_STR)
			continue;
		uint8_t kinds[TEMPLATE_MAX_PARTS] = {0};

		kinds[e->t.nparams - k] = TEMPLATE_PATH;
		if (template__match_kinds(&e->t, kinds, p, len)) {
			template__set_path(&e->t, e->t.nparams - k);
			e->learned |= 1u << (e->t.nparams - k);
			return 1;
		}
	}
	return 0;
}

int route_table__learn_path(struct route_table *t, const char *method, const char *path, size_t len,
			    int any_method)
{
	unsigned mbit = route_method__bit(method);

	if (!t)
		return -1;
	for (int i = 0; i < t->n; i++) {
		size_t rest;
		const char *p;

		if (entry__learn(&t->e[i], mbit, path, len, any_method))
			return i;
		for (int r = 0; r < t->nroots; r++)
			if ((p = under_root(t->root[r], path, len, &rest)) &&
			    entry__learn(&t->e[i], mbit, p, rest, any_method))
				return i;
	}
	return -1;
}

void route_table__inherit(struct route_table *t, const struct route_table *old)
{
	if (!t || !old)
		return;
	for (int i = 0; i < old->n; i++) {
		if (!old->e[i].learned)
			continue;
		for (int j = 0; j < t->n; j++) {
			if (strcmp(t->e[j].t.source, old->e[i].t.source))
				continue;
			for (int k = 0; k < 32 && k < t->e[j].t.nparams; k++)
				if (old->e[i].learned & (1u << k)) {
					template__set_path(&t->e[j].t, k);
					t->e[j].learned |= 1u << k;
				}
		}
	}
}
