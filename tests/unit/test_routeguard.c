/* test_routeguard.c: the cardinality guard: collapse after N values, the per-API cap, look-ups. */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "routeguard.h"

static struct routeguard *guard(int values, int routes, int nodes)
{
	struct routeguard_config c;

	routeguard_config__defaults(&c);
	if (values)
		c.max_values = values;
	if (routes)
		c.max_routes = routes;
	if (nodes)
		c.max_nodes = nodes;
	return routeguard__new(&c);
}

static const char *learn(struct routeguard *g, const char *api, const char *route)
{
	static char out[256];

	routeguard__route(g, api, route, 1, out, sizeof(out));
	return out;
}

static void test_defaults(void)
{
	struct routeguard_config c;

	routeguard_config__defaults(&c);
	CHECK_INT(c.max_values, 10);
	CHECK_INT(c.max_routes, 100);
	c.max_values = 0;
	errno = 0;
	CHECK(routeguard__new(&c) == NULL);
	CHECK_INT(errno, EINVAL);
}

static void test_collapse_after_n_values(void)
{
	struct routeguard *g = guard(10, 0, 0);
	struct routeguard_stats st;
	char path[64], out[64];

	for (int i = 0; i < 10; i++) {
		snprintf(path, sizeof(path), "/user/profile/a%dk", i);
		CHECK_STR(learn(g, "user", path), path);
	}
	CHECK_STR(learn(g, "user", "/user/profile/a0k"), "/user/profile/a0k");
	/* the 11th distinct value: the position is a parameter from now on */
	CHECK_STR(learn(g, "user", "/user/profile/zz"), "/user/profile/{param}");
	CHECK_STR(learn(g, "user", "/user/profile/a0k"), "/user/profile/{param}");
	for (int i = 0; i < 1000; i++) {
		snprintf(path, sizeof(path), "/user/profile/x%05d", i);
		CHECK_STR(learn(g, "user", path), "/user/profile/{param}");
	}
	/* deeper segments keep their own values below the parameter */
	CHECK_STR(learn(g, "user", "/user/profile/q/avatar"), "/user/profile/{param}/avatar");
	CHECK_STR(learn(g, "user", "/user/profile"), "/user/profile");
	routeguard__stats(g, &st);
	CHECK_INT(st.collapses, 1);
	CHECK_INT(st.routes, 3); /* /user/profile/{param}, .../avatar, /user/profile */
	CHECK_INT(st.capped, 0);
	/* look-ups never teach */
	CHECK_INT(routeguard__route(g, "user", "/user/profile/new1", 0, out, sizeof(out)), 1);
	CHECK_STR(out, "/user/profile/{param}");
	CHECK_INT(routeguard__route(g, "user", "/user/other", 0, out, sizeof(out)), 0);
	CHECK_INT(routeguard__route(g, "user", "/user", 0, out, sizeof(out)), 0); /* not an end */
	routeguard__stats(g, &st);
	CHECK_INT(st.routes, 3);
	routeguard__free(g);
}

static void test_positions_are_per_prefix(void)
{
	struct routeguard *g = guard(3, 0, 0);
	char path[64];

	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "/a/%c/x", 'p' + i);
		CHECK_STR(learn(g, "other", path), path);
		snprintf(path, sizeof(path), "/b/%c", 'p' + i);
		CHECK_STR(learn(g, "other", path), path);
	}
	CHECK_STR(learn(g, "other", "/a/s/x"), "/a/{param}/x");
	CHECK_STR(learn(g, "other", "/b/p"), "/b/p"); /* /b has its own count */
	CHECK_STR(learn(g, "other", "/b/s"), "/b/{param}");
	routeguard__free(g);
}

static void test_first_segment_never_collapses(void)
{
	struct routeguard *g = guard(3, 0, 0);
	char path[64];

	for (int i = 0; i < 50; i++) {
		snprintf(path, sizeof(path), "/resource%d", i);
		CHECK_STR(learn(g, "other", path), path);
	}
	routeguard__free(g);
}

static void test_cap_per_api(void)
{
	struct routeguard *g = guard(1000, 5, 0);
	struct routeguard_stats st;
	char path[64];

	for (int i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "/data/r%d", i);
		CHECK_STR(learn(g, "data", path), path);
	}
	CHECK_INT(routeguard__route(g, "data", "/data/r5", 1, path, sizeof(path)), 0);
	CHECK_STR(path, "other");
	CHECK_STR(learn(g, "data", "/data/r6"), "other");
	CHECK_STR(learn(g, "data", "/data/r0"), "/data/r0"); /* known routes go on */
	CHECK_STR(learn(g, "model", "/model/r0"), "/model/r0");
	routeguard__stats(g, &st);
	CHECK_INT(st.capped, 2);
	CHECK_INT(st.routes, 6);
	routeguard__free(g);
}

static void test_collapse_gives_routes_back(void)
{
	struct routeguard *g = guard(4, 5, 0);
	struct routeguard_stats st;
	char path[64];

	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "/m/%d", i);
		learn(g, "m", path);
	}
	CHECK_STR(learn(g, "m", "/m/x"), "/m/{param}");
	routeguard__stats(g, &st);
	CHECK_INT(st.routes, 1);
	CHECK_STR(learn(g, "m", "/m2/a"), "/m2/a"); /* the freed ones count no more */
	routeguard__free(g);
}

static void test_node_bound_and_odd_paths(void)
{
	struct routeguard *g = guard(100, 1000, 8);
	struct routeguard_stats st;
	char path[64];

	CHECK_STR(learn(g, "x", "/"), "/");
	CHECK_STR(learn(g, "x", "/a/"), "/a/");
	CHECK_STR(learn(g, "x", "/a//b"), "/a//b");
	for (int i = 0; i < 10; i++) {
		snprintf(path, sizeof(path), "/n%d", i);
		learn(g, "x", path);
	}
	routeguard__stats(g, &st);
	CHECK(st.nodes <= 8);
	CHECK(st.capped > 0);
	CHECK_STR(learn(g, "x", "/a//b"), "/a//b");
	routeguard__free(g);
	routeguard__free(NULL);
}

int main(void)
{
	RUN(test_defaults);
	RUN(test_collapse_after_n_values);
	RUN(test_positions_are_per_prefix);
	RUN(test_first_segment_never_collapses);
	RUN(test_cap_per_api);
	RUN(test_collapse_gives_routes_back);
	RUN(test_node_bound_and_odd_paths);
	return CHECK_DONE();
}
