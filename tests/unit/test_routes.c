/* test_routes.c: the route of a record: templates, unmatched, learned {name:path}, guard, probes.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "classify.h"
#include "routes.h"

#define CASES "tests/unit/data/routing_cases.json"
#define PORT 8000

static struct routes *routes(struct routes_config *c)
{
	char err[256];
	struct routes *rt = routes__new(c, NULL, err, sizeof(err));

	if (!rt)
		printf("  routes__new: %s\n", err);
	return rt;
}

static struct routes_config offline(void)
{
	struct routes_config c;
	char err[128];

	routes_config__defaults(&c);
	routes_config__add_openapi(&c, "none", err, sizeof(err)); /* no fetching thread */
	return c;
}

static void rec(struct record *r, const char *method, const char *target, int status)
{
	const char *q = strchr(target, '?');

	memset(r, 0, sizeof(*r));
	snprintf(r->method, sizeof(r->method), "%s", method);
	snprintf(r->path, sizeof(r->path), "%.*s", q ? (int)(q - target) : (int)strlen(target),
		 target);
	snprintf(r->query, sizeof(r->query), "%s", q ? q + 1 : "");
	r->status = (uint16_t)status;
	r->lport = PORT;
	r->pid = 1;
	classifier__api(NULL, r->path, r->api, sizeof(r->api));
}

static const char *route(struct routes *rt, const char *method, const char *target, int status)
{
	static struct record r;

	rec(&r, method, target, status);
	if (routes__classify(rt, &r, 0))
		return "(dropped)";
	return r.route;
}

static const char *shop_doc = "{\"servers\":[{\"url\":\"/api\"}],\"paths\":{"
			      "\"/model/jobs/{tok}\":{\"get\":{},\"delete\":{}},"
			      "\"/model/generate\":{\"post\":{}},"
			      "\"/files/{fp}\":{\"get\":{}},"
			      "\"/user/profile/{uid}\":{\"get\":{}}}}";

static struct routes *shop(void)
{
	struct routes_config c = offline();
	struct routes *rt = routes(&c);
	char err[160];

	if (rt)
		CHECK_INT(
		    routes__set_document(rt, PORT, shop_doc, strlen(shop_doc), err, sizeof(err)),
		    0);
	return rt;
}

static void test_templates(void)
{
	struct routes *rt = shop();
	struct routes_stats st;

	if (!rt)
		return;
	CHECK_STR(route(rt, "GET", "/model/jobs/q1a00007", 200), "/model/jobs/{tok}");
	CHECK_STR(route(rt, "DELETE", "/model/jobs/x?force=1", 204), "/model/jobs/{tok}");
	CHECK_STR(route(rt, "PUT", "/model/jobs/x", 405), "/model/jobs/{tok}");
	CHECK_STR(route(rt, "POST", "/model/generate", 201), "/model/generate");
	CHECK_STR(route(rt, "POST", "/model/generate/", 307), "/model/generate");
	/* a handler's 404 keeps its template; routing's 404 is unmatched */
	CHECK_STR(route(rt, "GET", "/user/profile/nobody", 404), "/user/profile/{uid}");
	CHECK_STR(route(rt, "GET", "/user/nothing/here", 404), "unmatched");
	CHECK_STR(route(rt, "GET", "/wp-login.php", 404), "unmatched");
	/* root_path: routed by Starlette >= 0.33, a 404 before */
	CHECK_STR(route(rt, "GET", "/api/model/jobs/7", 200), "/model/jobs/{tok}");
	CHECK_STR(route(rt, "GET", "/api/model/jobs/7", 404), "unmatched");
	/* not in the document but answered (FastAPI's /docs, a mount): named from the path */
	CHECK_STR(route(rt, "GET", "/docs", 200), "/docs");
	CHECK_STR(route(rt, "GET", "/static/app.123.js", 200), "/static/app.123.js");
	CHECK_STR(route(rt, "GET", "/model/7/mesh", 200), "/model/{id}/mesh");
	/* odd targets */
	CHECK_STR(route(rt, "OPTIONS", "*", 400), "unmatched");
	CHECK_STR(route(rt, "GET", "http://h:1/model/jobs/9", 200), "/model/jobs/{tok}");
	CHECK_STR(route(rt, "GET", "/model/jobs/a%2Fb", 404), "unmatched");
	routes__stats(rt, &st);
	CHECK_INT(st.templated, 8);
	CHECK_INT(st.unmatched, 5);
	CHECK_INT(st.guessed, 3);
	CHECK_INT(st.documents, 1);
	routes__free(rt);
}

static void test_learned_path_param(void)
{
	struct routes *rt = shop();
	struct routes_stats st;

	if (!rt)
		return;
	/* the document says {fp}; the app answered a multi-segment path: it is {fp:path} */
	CHECK_STR(route(rt, "GET", "/files/a/b/c.txt", 404), "unmatched");
	CHECK_STR(route(rt, "GET", "/files/a/b/c.txt", 200), "/files/{fp}");
	CHECK_STR(route(rt, "GET", "/files/x/y", 404), "/files/{fp}");
	CHECK_STR(route(rt, "GET", "/files/", 200), "/files/{fp}");
	routes__stats(rt, &st);
	CHECK_INT(st.learned, 1);
	/* a refreshed document keeps it */
	CHECK_INT(routes__set_document(rt, PORT, shop_doc, strlen(shop_doc), (char[64]){0}, 64), 0);
	CHECK_STR(route(rt, "GET", "/files/x/y", 404), "/files/{fp}");
	routes__free(rt);
}

static void test_probe_dropped(void)
{
	struct routes *rt = shop();
	struct routes_stats st;

	if (!rt)
		return;
	CHECK_STR(route(rt, "GET", "/openapi.json?httplat-probe=0123456789abcdef", 200),
		  "(dropped)");
	CHECK_STR(route(rt, "GET", "/openapi.json?v=2&httplat-probe=0123456789abcdef", 200),
		  "(dropped)");
	/* anything else is a request like any other */
	CHECK_STR(route(rt, "GET", "/openapi.json", 200), "/openapi.json");
	CHECK_STR(route(rt, "GET", "/openapi.json?httplat-probe=0123456789abcdeg", 200),
		  "/openapi.json");
	CHECK_STR(route(rt, "GET", "/openapi.json?xhttplat-probe=0123456789abcdef", 200),
		  "/openapi.json");
	CHECK_STR(route(rt, "POST", "/openapi.json?httplat-probe=0123456789abcdef", 405),
		  "/openapi.json");
	CHECK_STR(route(rt, "GET", "/model/jobs/1?httplat-probe=0123456789abcdef", 200),
		  "/model/jobs/{tok}");
	routes__stats(rt, &st);
	CHECK_INT(st.probes, 2);
	routes__free(rt);
}

static void test_probe_custom_path(void)
{
	struct routes_config c;
	struct routes *rt;
	char err[128];

	routes_config__defaults(&c);
	CHECK_INT(routes_config__add_openapi(&c, "none", err, sizeof(err)), 0);
	CHECK_INT(routes_config__add_openapi(&c, "8000=/api/schema.json?v=2", err, sizeof(err)), 0);
	rt = routes(&c);
	if (!rt)
		return;
	CHECK_STR(route(rt, "GET", "/api/schema.json?v=2&httplat-probe=0123456789abcdef", 200),
		  "(dropped)");
	CHECK_STR(route(rt, "GET", "/openapi.json?httplat-probe=0123456789abcdef", 200),
		  "/openapi.json");
	routes__free(rt);
}

static int has_convertor(const char *declared)
{
	return strstr(declared, ":int}") || strstr(declared, ":float}") ||
	       strstr(declared, ":uuid}");
}

/* The declared template (with convertors) of the route whose format is f. */
static const char *declared_of(json_t *d, const char *f)
{
	json_t *r;
	size_t i;

	json_array_foreach(json_object_get(d, "routes"), i, r)
	{
		const char *p = json_string_value(json_object_get(r, "path"));
		struct template t;
		char err[64];
		int same;

		if (template__compile(&t, p, err, sizeof(err)))
			continue;
		same = !strcmp(t.format, f);
		template__free(&t);
		if (same)
			return p;
	}
	return "";
}

/*
 * The app's real answers (Starlette, convertors included) against what httplat
 * makes of its OpenAPI document and the status: equal, except where a route
 * has an int/float/uuid convertor, which the document cannot carry.
 */
static void test_starlette_answers_from_document(void)
{
	json_error_t jerr;
	json_t *d = json_load_file(CASES, 0, &jerr), *c;
	struct routes_config cfg = offline();
	struct routes *rt = routes(&cfg);
	char err[160], *doc;
	int same = 0, convertor = 0;
	size_t i;

	CHECK(d && rt);
	if (!d || !rt)
		goto out;
	doc = json_dumps(json_object_get(d, "openapi"), 0);
	CHECK_INT(routes__set_document(rt, PORT, doc, strlen(doc), err, sizeof(err)), 0);
	free(doc);
	json_array_foreach(json_object_get(d, "cases"), i, c)
	{
		json_t *app = json_object_get(c, "app");
		const char *kind = json_string_value(json_object_get(app, "kind"));
		const char *want = !strcmp(kind, "none")
				       ? "unmatched"
				       : json_string_value(json_object_get(app, "route"));
		int status = (int)json_integer_value(json_object_get(app, "status"));
		const char *path = json_string_value(json_object_get(c, "path"));
		const char *got;

		if (!path[0])
			continue; /* an empty target never reaches a route */
		got = route(rt, json_string_value(json_object_get(c, "method")), path, status);
		if (!strcmp(got, want)) {
			same++;
			continue;
		}
		if (has_convertor(declared_of(d, want)) || has_convertor(declared_of(d, got))) {
			printf("  (convertor) %s %s (%d): httplat %s, the app %s\n",
			       json_string_value(json_object_get(c, "method")), path, status, got,
			       want);
			convertor++;
			continue;
		}
		printf("  %s %s (%d): httplat %s, the app %s\n",
		       json_string_value(json_object_get(c, "method")), path, status, got, want);
		check__failed = 1;
	}
	CHECK(same > 55);
	CHECK(convertor <= 1); /* GET /users/-1: valid for int(), refused by {user_id:int} */
out:
	routes__free(rt);
	json_decref(d);
}

static void test_typed_parameters(void)
{
	static const char doc[] =
	    "{\"paths\":{\"/users/{uid}\":{\"get\":{\"parameters\":[{\"name\":\"uid\","
	    "\"in\":\"path\",\"schema\":{\"type\":\"integer\"}}]}},"
	    "\"/users/{name}\":{\"get\":{}},"
	    "\"/o/{oid}\":{\"get\":{\"parameters\":[{\"name\":\"oid\",\"in\":\"path\","
	    "\"schema\":{\"type\":\"string\",\"format\":\"uuid\"}}]},"
	    "\"delete\":{\"parameters\":[{\"name\":\"oid\",\"in\":\"path\","
	    "\"schema\":{\"type\":\"string\"}}]}}}}";
	struct routes_config c = offline();
	struct routes *rt = routes(&c);
	char err[160];

	if (!rt)
		return;
	CHECK_INT(routes__set_document(rt, PORT, doc, strlen(doc), err, sizeof(err)), 0);
	CHECK_STR(route(rt, "GET", "/users/12", 200), "/users/{uid}");
	/* "bob" cannot pass int(): the app answered through the next route */
	CHECK_STR(route(rt, "GET", "/users/bob", 200), "/users/{name}");
	/* ... unless it said so: 422 is the typed route refusing it */
	CHECK_STR(route(rt, "GET", "/users/bob", 422), "/users/{uid}");
	/* a handler's 404 for a valid value stays; a value the convertor refuses is unmatched */
	CHECK_STR(route(rt, "GET", "/users/12", 404), "/users/{uid}");
	CHECK_STR(route(rt, "GET", "/users/-3", 404), "/users/{name}");
	/* GET types oid as a UUID, DELETE does not: the parameter stays a string */
	CHECK_STR(route(rt, "GET", "/o/thing", 404), "/o/{oid}");
	routes__free(rt);
}

static void test_without_document(void)
{
	struct routes_config c = offline();
	struct routes *rt;
	struct routes_stats st;
	char path[64];
	int distinct = 0;
	char seen[64][RECORD_PATH_MAX + 1];

	c.guard.max_values = 10;
	rt = routes(&c);
	if (!rt)
		return;
	/* today's heuristics first: numbers, hashes, long tokens and mixed ids */
	CHECK_STR(route(rt, "GET", "/model/123/mesh", 200), "/model/{id}/mesh");
	/* then the guard: 1000 word-like ids collapse after 10 */
	for (int i = 0; i < 1000; i++) {
		const char *got;
		int dup = 0;

		snprintf(path, sizeof(path), "/user/profile/%c%c%cname", 'a' + i % 26,
			 'a' + i / 26 % 26, 'a' + i / 676);
		got = route(rt, "GET", path, 200);
		for (int k = 0; k < distinct; k++)
			dup |= !strcmp(seen[k], got);
		if (!dup && distinct < 64)
			snprintf(seen[distinct++], sizeof(seen[0]), "%s", got);
	}
	CHECK_INT(distinct, 11); /* 10 literal values, then {param} */
	CHECK_STR(seen[10], "/user/profile/{param}");
	/* 404s: unmatched unless the route is known from answered requests */
	CHECK_STR(route(rt, "GET", "/user/profile/zzzz", 404), "/user/profile/{param}");
	CHECK_STR(route(rt, "GET", "/.env", 404), "unmatched");
	CHECK_STR(route(rt, "GET", "/.env", 404), "unmatched");
	routes__stats(rt, &st);
	CHECK_INT(st.guard.collapses, 1);
	CHECK_INT(st.unmatched, 2);
	CHECK_INT(st.documents, 0);
	routes__free(rt);
}

static void test_route_cap(void)
{
	struct routes_config c = offline();
	struct routes *rt;
	struct routes_stats st;
	char path[64];

	c.guard.max_routes = 20;
	c.guard.max_values = 1000;
	rt = routes(&c);
	if (!rt)
		return;
	for (int i = 0; i < 30; i++) {
		snprintf(path, sizeof(path), "/data/thing%c%c", 'a' + i % 26, 'a' + i / 26);
		route(rt, "GET", path, 200);
	}
	CHECK_STR(route(rt, "GET", "/data/more", 200), "other");
	CHECK_STR(route(rt, "GET", "/model/ok", 200), "/model/ok"); /* per API */
	routes__stats(rt, &st);
	CHECK_INT(st.guard.capped, 11);
	routes__free(rt);
}

static void test_patterns_first(void)
{
	struct routes_config c = offline();
	struct routes *rt;
	char err[160];

	snprintf(c.pattern[c.npattern++], sizeof(c.pattern[0]), "/model/jobs/{t:path}");
	rt = routes(&c);
	if (!rt)
		return;
	CHECK_INT(routes__set_document(rt, PORT, shop_doc, strlen(shop_doc), err, sizeof(err)), 0);
	CHECK_STR(route(rt, "GET", "/model/jobs/a/b", 200), "/model/jobs/{t}");
	routes__free(rt);
	snprintf(c.pattern[0], sizeof(c.pattern[0]), "/bad/{x:nope}");
	CHECK(routes__new(&c, NULL, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "--route /bad/{x:nope}: unknown path convertor") != NULL);
}

/* --port: only those ports' documents; records of others are still named (from the paths). */
static void test_only_selected_ports(void)
{
	struct routes_config c = offline();
	struct routes *rt;
	struct routes_stats st;
	struct record r;
	char err[160];

	c.only_ports[c.nonly_ports++] = PORT;
	rt = routes(&c);
	if (!rt)
		return;
	CHECK_INT(routes__set_document(rt, PORT, shop_doc, strlen(shop_doc), err, sizeof(err)), 0);
	CHECK_INT(routes__set_document(rt, PORT + 1, shop_doc, strlen(shop_doc), err, sizeof(err)),
		  -ENOSPC);
	rec(&r, "GET", "/model/jobs/x1", 200);
	r.lport = PORT + 1;
	CHECK_INT(routes__classify(rt, &r, 0), 0);
	CHECK_STR(r.route, "/model/jobs/x1");
	routes__stats(rt, &st);
	CHECK_INT(st.documents, 1);
	routes__free(rt);
}

static void test_files_and_options(void)
{
	char file[] = "/tmp/httplat-routes-XXXXXX", err[256];
	struct routes_config c;
	struct routes *rt;
	int fd = mkstemp(file);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(write(fd, shop_doc, strlen(shop_doc)) == (ssize_t)strlen(shop_doc));
	close(fd);
	routes_config__defaults(&c);
	CHECK_INT(routes_config__add_file(&c, file, err, sizeof(err)), 0);
	rt = routes(&c); /* every port from the file: no fetching at all */
	if (rt) {
		CHECK_STR(route(rt, "GET", "/model/jobs/1", 200), "/model/jobs/{tok}");
		routes__free(rt);
	}
	/* bad specs and files are refused with a reason */
	CHECK_INT(routes_config__add_openapi(&c, "openapi.json", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "want [PORT=]/PATH or none") != NULL);
	CHECK_INT(routes_config__add_openapi(&c, "70000=/x", err, sizeof(err)), -EINVAL);
	CHECK_INT(routes_config__add_file(&c, "", err, sizeof(err)), -EINVAL);
	routes_config__defaults(&c);
	CHECK_INT(routes_config__add_file(&c, "8001=/nonexistent/routes.json", err, sizeof(err)),
		  0);
	CHECK_INT(c.file[0].port, 8001);
	CHECK(routes__new(&c, NULL, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "/nonexistent/routes.json: No such file") != NULL);
	routes_config__defaults(&c);
	fd = open(file, O_WRONLY | O_TRUNC);
	CHECK(write(fd, "{\"openapi\": 1}", 14) == 14);
	close(fd);
	CHECK_INT(routes_config__add_file(&c, file, err, sizeof(err)), 0);
	CHECK(routes__new(&c, NULL, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "not an OpenAPI document") != NULL);
	/* the same port twice: the later setting wins */
	routes_config__defaults(&c);
	routes_config__add_openapi(&c, "/a.json", err, sizeof(err));
	routes_config__add_openapi(&c, "/b.json", err, sizeof(err));
	CHECK_INT(c.nopenapi, 1);
	CHECK_STR(c.openapi[0].value, "/b.json");
	unlink(file);
}

int main(void)
{
	RUN(test_templates);
	RUN(test_learned_path_param);
	RUN(test_probe_dropped);
	RUN(test_probe_custom_path);
	RUN(test_starlette_answers_from_document);
	RUN(test_typed_parameters);
	RUN(test_without_document);
	RUN(test_route_cap);
	RUN(test_patterns_first);
	RUN(test_only_selected_ports);
	RUN(test_files_and_options);
	return CHECK_DONE();
}
