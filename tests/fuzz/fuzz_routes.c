/* fuzz_routes.c: an app's OpenAPI document and Starlette path templates, as the routes module
 * reads and matches them (user/routes/openapi.c, template.c). */
#include "fuzz.h"
#include "openapi.h"

#define UUID "0b9e4a8c-2f7d-4c5e-9a1b-3c4d5e6f7a8b"

/* A path the template must match: its literals, each parameter a value its kind takes. */
static size_t template_path(const struct template *t, const uint8_t *ptype, char *out,
			    size_t outsz)
{
	size_t w = 0;
	int param = 0;

	for (int i = 0; i < t->nparts; i++) {
		const struct template_part *p = &t->part[i];
		const char *v = "1";
		size_t n;

		if (p->kind == TEMPLATE_LITERAL) {
			v = t->source + p->off;
			n = p->len;
		} else {
			uint8_t k = ptype ? ptype[param] : 0;

			if (p->kind == TEMPLATE_UUID || k == TEMPLATE_UUID || k == TEMPLATE_VALID_UUID)
				v = UUID;
			param++;
			n = strlen(v);
		}
		if (w + n >= outsz)
			return 0;
		memcpy(out + w, v, n);
		w += n;
	}
	out[w] = '\0';
	return w;
}

static void fuzz_template(char **v, int nv)
{
	struct template t;
	char err[256], path[TEMPLATE_PATH_MAX * 2], dec[64];
	size_t n;

	if (template__compile(&t, v[0], err, sizeof(err))) {
		FUZZ_CHECK(strnlen(err, sizeof(err)) < sizeof(err) && err[0], "no reason");
		return;
	}
	FUZZ_CHECK(t.nparts <= TEMPLATE_MAX_PARTS && t.nparams <= t.nparts, "parts");
	for (int i = 0; i < t.nparts; i++)
		FUZZ_CHECK(t.part[i].off + t.part[i].len <= strlen(t.source), "part past the source");
	n = template_path(&t, NULL, path, sizeof(path));
	if (n && n < TEMPLATE_PATH_MAX)
		FUZZ_CHECK(template__match(&t, path, n), "'%s' does not match its own '%s'", path,
			   t.source);
	for (int i = 1; i < nv; i++) {
		size_t len = strlen(v[i]), dn;

		template__match(&t, v[i], len);
		dn = template__unquote(v[i], len, dec, sizeof(dec));
		FUZZ_CHECK(dn <= sizeof(dec) && dn <= len, "unquote gave %zu of %zu", dn, len);
	}
	template__free(&t);
}

static void fuzz_document(const char *json, size_t len)
{
	struct route_table *t = NULL;
	char err[256], path[TEMPLATE_PATH_MAX * 2];

	if (route_table__parse(json, len, &t, err, sizeof(err))) {
		FUZZ_CHECK(!t && strnlen(err, sizeof(err)) < sizeof(err), "failed parse left a table");
		return;
	}
	FUZZ_CHECK(t && t->n <= ROUTE_TABLE_MAX && t->nroots <= ROUTE_ROOTS_MAX, "table bounds");
	/* each entry's own path finds it, or an earlier entry Starlette would try first */
	for (int i = 0; i < t->n && i < 32; i++) {
		const struct route_entry *e = &t->e[i];
		static const char *const names[] = {"GET",    "HEAD",    "POST",  "PUT",
						    "DELETE", "OPTIONS", "PATCH", "TRACE"};
		const char *method = "GET";
		struct route_hit hit;
		size_t n = template_path(&e->t, e->ptype, path, sizeof(path));

		for (int b = 7; b >= 0; b--)
			if (e->methods & (1u << b))
				method = names[b];
		if (!n || n >= TEMPLATE_PATH_MAX)
			continue;
		FUZZ_CHECK(route_table__match(t, method, path, n, 200, &hit) &&
				   hit.index >= 0 && hit.index <= i,
			   "%s '%s' (entry %d, '%s') matched %d (kind %d)", method, path, i,
			   e->t.source, hit.index, hit.kind);
	}
	route_table__learn_path(t, "GET", "/a/b/c", 6, 1);
	route_table__free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *v[16], *copy;
	int nv;

	if (!size)
		return 0;
	if (data[0] & 1) {
		fuzz_document((const char *)data + 1, size - 1);
		return 0;
	}
	copy = fuzz__strings(data + 1, size - 1, v, 16, &nv);
	if (copy)
		fuzz_template(v, nv);
	free(copy);
	return 0;
}
