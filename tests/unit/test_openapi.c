/* test_openapi.c: path templates and the route table against Starlette's own answers. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>

#include "check.h"
#include "openapi.h"
#include "template.h"

#define CASES "tests/unit/data/routing_cases.json"

static int tmatch(const char *tmpl, const char *path)
{
	struct template t;
	char err[128];
	char dec[TEMPLATE_PATH_MAX];
	size_t n;
	int m;

	if (template__compile(&t, tmpl, err, sizeof(err))) {
		printf("  cannot compile %s: %s\n", tmpl, err);
		return -1;
	}
	n = template__unquote(path, strlen(path), dec, sizeof(dec));
	m = template__match(&t, dec, n);
	template__free(&t);
	return m;
}

static void test_compile(void)
{
	struct template t;
	char err[128], many[128];

	CHECK_INT(template__compile(&t, "/files/{file_path:path}", err, sizeof(err)), 0);
	CHECK_STR(t.format, "/files/{file_path}");
	CHECK_INT(t.nparams, 1);
	CHECK_INT(t.nparts, 2);
	template__free(&t);
	CHECK_INT(template__compile(&t, "/r/{y:int}-{m:int}.csv", err, sizeof(err)), 0);
	CHECK_STR(t.format, "/r/{y}-{m}.csv");
	CHECK_INT(t.nparams, 2);
	template__free(&t);
	/* braces that are not parameters stay literal text */
	CHECK_INT(template__compile(&t, "/a/{1x}/{}/{b-c}/{ok}", err, sizeof(err)), 0);
	CHECK_STR(t.format, "/a/{1x}/{}/{b-c}/{ok}");
	CHECK_INT(t.nparams, 1);
	template__free(&t);
	CHECK_INT(template__compile(&t, "/a/{x:nope}", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "unknown path convertor 'nope'") != NULL);
	CHECK_INT(template__compile(&t, "a/b", err, sizeof(err)), -EINVAL);
	CHECK_INT(template__compile(&t, NULL, err, sizeof(err)), -EINVAL);
	many[0] = '\0';
	for (int i = 0; i < 20; i++)
		strcat(many, "/{p}");
	CHECK_INT(template__compile(&t, many, err, sizeof(err)), -E2BIG);
	CHECK(strstr(err, "more than 32 parts") != NULL);
}

static void test_match_convertors(void)
{
	CHECK_INT(tmatch("/i/{id}", "/i/abc"), 1);
	CHECK_INT(tmatch("/i/{id}", "/i/"), 0);
	CHECK_INT(tmatch("/i/{id}", "/i/a/b"), 0);
	CHECK_INT(tmatch("/i/{id}", "/i/a%2Fb"), 0); /* decoded first, as uvicorn does */
	CHECK_INT(tmatch("/i/{id:int}", "/i/123"), 1);
	CHECK_INT(tmatch("/i/{id:int}", "/i/-1"), 0);
	CHECK_INT(tmatch("/i/{id:int}", "/i/\xd9\xa3"), 0); /* [0-9]: ASCII digits only */
	CHECK_INT(tmatch("/f/{x:float}", "/f/1.25"), 1);
	CHECK_INT(tmatch("/f/{x:float}", "/f/1."), 0);
	CHECK_INT(tmatch("/f/{x:float}.{y:float}", "/f/1.5.2"), 1); /* 1 . 5.2 or 1.5 . 2 */
	CHECK_INT(tmatch("/u/{u:uuid}", "/u/550e8400-e29b-41d4-a716-446655440000"), 1);
	CHECK_INT(tmatch("/u/{u:uuid}", "/u/550e8400-e29b-41d4-a716-44665544000"), 0);
	CHECK_INT(tmatch("/p/{p:path}", "/p/"), 1);
	CHECK_INT(tmatch("/p/{p:path}", "/p/a/b/c"), 1);
	CHECK_INT(tmatch("/p/{p:path}", "/p"), 0);
	CHECK_INT(tmatch("/p/{p:path}/meta", "/p/a/b/meta"), 1);
	CHECK_INT(tmatch("/p/{p:path}/meta", "/p/a/b/meta/x"), 0);
	CHECK_INT(tmatch("/p/{a:path}/{b:path}/{c:path}/z", "/p/1/2/3/4/5/z"), 1);
	/* "$" also matches before a final newline; ".*" does not take a newline */
	CHECK_INT(tmatch("/n/x", "/n/x%0A"), 1);
	CHECK_INT(tmatch("/n/x", "/n/x%0A%0A"), 0);
	CHECK_INT(tmatch("/p/{p:path}", "/p/a%0Ab"), 0);
	CHECK_INT(tmatch("/d/{name}.json", "/d/a.b.json"), 1);
	CHECK_INT(tmatch("/d/{name}.json", "/d/.json"), 0);
	CHECK_INT(tmatch("/v{n:int}/s", "/v12/s"), 1);
	CHECK_INT(tmatch("/", "/"), 1);
	CHECK_INT(tmatch("/", ""), 0);
}

static int vmatch(int kind, const char *value)
{
	struct template t;
	char err[64];
	uint8_t kinds[1] = {(uint8_t)kind};
	int m;

	template__compile(&t, "/{x}", err, sizeof(err));
	m = template__match_kinds(&t, kinds, value, strlen(value));
	template__free(&t);
	return m;
}

static void test_validation_languages(void)
{
	/* what Python's int(), float() and uuid.UUID() accept, for parameters without convertor */
	CHECK(vmatch(TEMPLATE_VALID_INT, "/-1"));
	CHECK(vmatch(TEMPLATE_VALID_INT, "/+12"));
	CHECK(vmatch(TEMPLATE_VALID_INT, "/1_000"));
	CHECK(!vmatch(TEMPLATE_VALID_INT, "/1__0"));
	CHECK(!vmatch(TEMPLATE_VALID_INT, "/1_"));
	CHECK(!vmatch(TEMPLATE_VALID_INT, "/_1"));
	CHECK(!vmatch(TEMPLATE_VALID_INT, "/bob"));
	CHECK(!vmatch(TEMPLATE_VALID_INT, "/-"));
	CHECK(!vmatch(TEMPLATE_VALID_INT, "/1.5"));
	CHECK(vmatch(TEMPLATE_VALID_FLOAT, "/1e3"));
	CHECK(vmatch(TEMPLATE_VALID_FLOAT, "/.5"));
	CHECK(vmatch(TEMPLATE_VALID_FLOAT, "/12."));
	CHECK(vmatch(TEMPLATE_VALID_FLOAT, "/-1.5E-3"));
	CHECK(vmatch(TEMPLATE_VALID_FLOAT, "/inf"));
	CHECK(vmatch(TEMPLATE_VALID_FLOAT, "/-Infinity"));
	CHECK(vmatch(TEMPLATE_VALID_FLOAT, "/NaN"));
	CHECK(vmatch(TEMPLATE_VALID_FLOAT, "/7"));
	CHECK(!vmatch(TEMPLATE_VALID_FLOAT, "/e3"));
	CHECK(!vmatch(TEMPLATE_VALID_FLOAT, "/."));
	CHECK(!vmatch(TEMPLATE_VALID_FLOAT, "/1e"));
	CHECK(!vmatch(TEMPLATE_VALID_FLOAT, "/x1"));
	CHECK(vmatch(TEMPLATE_VALID_UUID, "/550E8400-E29B-41D4-A716-446655440000"));
	CHECK(vmatch(TEMPLATE_VALID_UUID, "/550e8400e29b41d4a716446655440000"));
	CHECK(vmatch(TEMPLATE_VALID_UUID, "/{550e8400-e29b-41d4-a716-446655440000}"));
	CHECK(vmatch(TEMPLATE_VALID_UUID, "/urn:uuid:550e8400-e29b-41d4-a716-446655440000"));
	CHECK(!vmatch(TEMPLATE_VALID_UUID, "/550e8400-e29b-41d4-a716-44665544000"));
	CHECK(!vmatch(TEMPLATE_VALID_UUID, "/550e8400-e29b-41d4-a716-4466554400001"));
	CHECK(!vmatch(TEMPLATE_VALID_UUID, "/thing"));
}

static void test_unquote(void)
{
	char out[64];
	size_t n;

	n = template__unquote("/a%20b%2f%zz%4", 14, out, sizeof(out));
	CHECK_INT(n, 10);
	CHECK(!memcmp(out, "/a b/%zz%4", 10));
	n = template__unquote("%00x", 4, out, sizeof(out));
	CHECK_INT(n, 2);
	CHECK(out[0] == 0 && out[1] == 'x');
	CHECK_INT(template__unquote("abcdef", 6, out, 3), 3);
}

static const char *kind_name(enum route_match k)
{
	static const char *const names[] = {"none", "full", "partial", "redirect"};

	return names[k];
}

/* One case against Starlette's answer; a path only a root strip matches is a 404 there. */
static void check_case(const struct route_table *t, json_t *c, const char *which)
{
	const char *method = json_string_value(json_object_get(c, "method"));
	const char *path = json_string_value(json_object_get(c, "path"));
	json_t *want = json_object_get(c, which);
	const char *wkind = json_string_value(json_object_get(want, "kind"));
	const char *wroute = json_string_value(json_object_get(want, "route"));
	char dec[TEMPLATE_PATH_MAX];
	size_t n = template__unquote(path, strlen(path), dec, sizeof(dec));
	struct route_hit hit;
	const char *got;

	route_table__match(t, method, dec, n, 0, &hit);
	got = hit.kind != ROUTE_NONE ? t->e[hit.index].t.format : NULL;
	if (hit.stripped && !strcmp(wkind, "none"))
		return; /* Starlette < 0.33 does not strip root_path: the facade calls it unmatched
			 */
	if (strcmp(kind_name(hit.kind), wkind) || (wroute && (!got || strcmp(got, wroute)))) {
		printf("  %s: %s %s: got %s %s, Starlette says %s %s\n", which, method, path,
		       kind_name(hit.kind), got ? got : "-", wkind, wroute ? wroute : "-");
		check__failed = 1;
	}
}

static json_t *load_cases(void)
{
	json_error_t jerr;
	json_t *d = json_load_file(CASES, 0, &jerr);

	if (!d)
		printf("  cannot read %s: %s\n", CASES, jerr.text);
	return d;
}

static void test_starlette_table_declared(void)
{
	json_t *d = load_cases(), *r, *c;
	struct route_table *t = route_table__new();
	char err[160];
	size_t i;

	CHECK(d != NULL);
	if (!d)
		return;
	json_array_foreach(json_object_get(d, "routes"), i, r)
	{
		unsigned m = 0;
		size_t k;
		json_t *v;

		json_array_foreach(json_object_get(r, "methods"), k, v) m |=
		    route_method__bit(json_string_value(v));
		CHECK_INT(route_table__add(t, json_string_value(json_object_get(r, "path")), m, err,
					   sizeof(err)),
			  0);
	}
	json_array_foreach(json_object_get(d, "cases"), i, c) check_case(t, c, "app");
	CHECK(json_array_size(json_object_get(d, "cases")) > 60);
	route_table__free(t);
	json_decref(d);
}

static void test_starlette_table_from_document(void)
{
	json_t *d = load_cases(), *c;
	struct route_table *t;
	char err[160], *doc;
	size_t i;

	CHECK(d != NULL);
	if (!d)
		return;
	doc = json_dumps(json_object_get(d, "openapi"), 0);
	CHECK_INT(route_table__parse(doc, strlen(doc), &t, err, sizeof(err)), 0);
	free(doc);
	if (!t)
		return;
	CHECK_INT(t->nroots, 1);
	CHECK_STR(t->root[0], "/api/v1");
	CHECK_INT(t->skipped, 0);
	/* one entry per path_format, in document (registration) order */
	CHECK_INT(t->n,
		  (int)json_object_size(json_object_get(json_object_get(d, "openapi"), "paths")));
	CHECK_STR(t->e[0].t.format, "/");
	CHECK_STR(t->e[1].t.format, "/items/{item_id}");
	CHECK(t->e[1].methods & ROUTE_PUT);
	CHECK(t->e[1].methods & ROUTE_HEAD);
	json_array_foreach(json_object_get(d, "cases"), i, c) check_case(t, c, "doc");
	route_table__free(t);
	json_decref(d);
}

static struct route_table *parse(const char *json)
{
	struct route_table *t = NULL;
	char err[160];
	int ret = route_table__parse(json, strlen(json), &t, err, sizeof(err));

	if (ret)
		printf("  parse: %s\n", err);
	return t;
}

static void test_parse_errors(void)
{
	struct route_table *t;
	char err[160];

	CHECK_INT(route_table__parse("{", 1, &t, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "not JSON") != NULL);
	CHECK(t == NULL);
	CHECK_INT(route_table__parse("[]", 2, &t, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "not an OpenAPI document") != NULL);
	CHECK_INT(route_table__parse("{\"paths\": 3}", 12, &t, err, sizeof(err)), -EINVAL);
	CHECK_INT(route_table__parse("{\"paths\":{},\"paths\":{}}", 23, &t, err, sizeof(err)),
		  -EINVAL);
	/* bad entries are skipped and counted, the rest kept */
	t = parse(
	    "{\"info\":{\"title\":\"Shop\",\"version\":\"2\"},"
	    "\"servers\":[{\"url\":\"https://x.example/api\"},{\"url\":\"/root/\"},{\"url\":\"/"
	    "\"}],"
	    "\"paths\":{\"/a/{x:bogus}\":{\"get\":{}},\"x-ext\":{},\"/b\":{\"summary\":\"s\"},"
	    "\"/c\":{\"get\":{},\"parameters\":[]},\"nope\":{\"get\":{}}}}");
	CHECK(t != NULL);
	if (!t)
		return;
	CHECK_INT(t->n, 1);
	CHECK_STR(t->e[0].t.format, "/c");
	CHECK_INT(t->skipped, 2);
	CHECK(strstr(t->skipped_why, "bogus") != NULL);
	CHECK_INT(t->nroots, 1);
	CHECK_STR(t->root[0], "/root");
	CHECK_STR(t->title, "Shop 2");
	route_table__free(t);
}

static void test_root_path_strip(void)
{
	struct route_table *t = parse("{\"servers\":[{\"url\":\"/api/v1\"}],\"paths\":{"
				      "\"/items/{id}\":{\"get\":{}},\"/\":{\"get\":{}}}}");
	struct route_hit hit;

	CHECK(t != NULL);
	if (!t)
		return;
	CHECK(route_table__match(t, "GET", "/items/7", 8, 0, &hit));
	CHECK_INT(hit.stripped, 0);
	CHECK(route_table__match(t, "GET", "/api/v1/items/7", 15, 0, &hit));
	CHECK_INT(hit.kind, ROUTE_FULL);
	CHECK_INT(hit.stripped, 1);
	CHECK_INT(hit.index, 0);
	/* get_route_path(): "/api/v1x/..." is not under "/api/v1"; "/api/v1" itself is "" */
	CHECK(!route_table__match(t, "GET", "/api/v1x/items/7", 16, 0, &hit));
	CHECK(route_table__match(t, "GET", "/api/v1", 7, 0, &hit));
	CHECK_INT(hit.kind, ROUTE_REDIRECT);
	CHECK_INT(hit.index, 1);
	route_table__free(t);
}

static void test_learn_path(void)
{
	struct route_table *t = parse(
			       "{\"paths\":{\"/files/{fp}\":{\"get\":{}},"
			       "\"/m/{a}/x/{rest}\":{\"get\":{}},\"/d/{id}\":{\"delete\":{}}}}"),
			   *t2;
	struct route_hit hit;

	CHECK(t != NULL);
	if (!t)
		return;
	CHECK(!route_table__match(t, "GET", "/files/a/b", 10, 0, &hit));
	CHECK_INT(route_table__learn_path(t, "GET", "/files/a/b", 10, 0), 0);
	CHECK(route_table__match(t, "GET", "/files/a/b", 10, 0, &hit));
	CHECK_INT(hit.kind, ROUTE_FULL);
	CHECK_STR(t->e[hit.index].t.format, "/files/{fp}");
	CHECK(route_table__match(t, "GET", "/files/", 7, 0, &hit)); /* .* takes "" too */
	/* the last parameter is tried first */
	CHECK_INT(route_table__learn_path(t, "GET", "/m/a/x/b/c", 10, 0), 1);
	CHECK_INT(t->e[1].learned, 2);
	/* the method must fit unless the app answered 405 */
	CHECK_INT(route_table__learn_path(t, "GET", "/d/a/b", 6, 0), -1);
	CHECK_INT(route_table__learn_path(t, "GET", "/d/a/b", 6, 1), 2);
	CHECK_INT(route_table__learn_path(t, "GET", "/nothing/a/b", 12, 1), -1);
	/* a refreshed document keeps what was learned */
	t2 = parse("{\"paths\":{\"/new\":{\"get\":{}},\"/files/{fp}\":{\"get\":{}}}}");
	CHECK(t2 != NULL);
	if (t2) {
		route_table__inherit(t2, t);
		CHECK(route_table__match(t2, "GET", "/files/a/b", 10, 0, &hit));
		CHECK_INT(hit.index, 1);
		route_table__free(t2);
	}
	route_table__free(t);
}

static void test_methods(void)
{
	CHECK_INT(route_method__bit("GET"), ROUTE_GET);
	CHECK_INT(route_method__bit("get"), 0);
	CHECK_INT(route_method__bit("PROPFIND"), 0);
	CHECK_INT(route_method__bit("TRACE"), ROUTE_TRACE);
}

static void test_any_method_and_limits(void)
{
	struct route_table *t = route_table__new();
	struct route_hit hit;
	char err[160], buf[32];

	CHECK_INT(route_table__add(t, "/any", 0, err, sizeof(err)), 0);
	CHECK(route_table__match(t, "PROPFIND", "/any", 4, 0, &hit));
	CHECK_INT(hit.kind, ROUTE_FULL);
	for (int i = 1; i < ROUTE_TABLE_MAX; i++) {
		snprintf(buf, sizeof(buf), "/r%d", i);
		if (route_table__add(t, buf, ROUTE_GET, err, sizeof(err)))
			break;
	}
	CHECK_INT(t->n, ROUTE_TABLE_MAX);
	CHECK_INT(route_table__add(t, "/one-more", ROUTE_GET, err, sizeof(err)), -ENOSPC);
	CHECK(route_table__match(t, "GET", "/r4095", 6, 0, &hit));
	CHECK_INT(hit.index, 4095);
	route_table__free(t);
	CHECK(!route_table__match(NULL, "GET", "/", 1, 0, &hit));
}

int main(void)
{
	RUN(test_compile);
	RUN(test_match_convertors);
	RUN(test_validation_languages);
	RUN(test_unquote);
	RUN(test_starlette_table_declared);
	RUN(test_starlette_table_from_document);
	RUN(test_parse_errors);
	RUN(test_root_path_strip);
	RUN(test_learn_path);
	RUN(test_methods);
	RUN(test_any_method_and_limits);
	return CHECK_DONE();
}
