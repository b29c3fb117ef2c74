/* test_classify.c: route templating and API labels. */
#include "check.h"
#include "classify.h"

static void test_id_segments(void)
{
	CHECK(classifier__is_id_segment("123", 3));
	/* short generated ids interleave letters and digits */
	CHECK(classifier__is_id_segment("q1a00007", 8));
	CHECK(classifier__is_id_segment("a8f3k2", 6));
	CHECK(!classifier__is_id_segment("sha256", 6));
	CHECK(!classifier__is_id_segment("x86_64", 6));
	CHECK(!classifier__is_id_segment("python311", 9));
	CHECK(!classifier__is_id_segment("mp3files", 8));
	CHECK(!classifier__is_id_segment("a1b2", 4)); /* too short to tell */
	CHECK(classifier__is_id_segment("550e8400-e29b-41d4-a716-446655440000", 36));
	CHECK(classifier__is_id_segment("d41d8cd98f00b204e9800998ecf8427e", 32));
	CHECK(classifier__is_id_segment("aB3dE5gH7jK9mN1pQ3sT5v", 22));
	CHECK(!classifier__is_id_segment("mesh", 4));
	CHECK(!classifier__is_id_segment("v2", 2));
	CHECK(!classifier__is_id_segment("", 0));
	CHECK(!classifier__is_id_segment("deadbeef", 8)); /* short hex words stay */
	CHECK(!classifier__is_id_segment("generate-model-preview", 22)); /* no digits */
}

static void test_route_default(void)
{
	char out[256];

	classifier__route(NULL, "/model/123/mesh", out, sizeof(out));
	CHECK_STR(out, "/model/{id}/mesh");
	classifier__route(NULL, "/user/550e8400-e29b-41d4-a716-446655440000", out, sizeof(out));
	CHECK_STR(out, "/user/{id}");
	classifier__route(NULL, "/", out, sizeof(out));
	CHECK_STR(out, "/");
	classifier__route(NULL, "/data/items/", out, sizeof(out));
	CHECK_STR(out, "/data/items/");
	classifier__route(NULL, "/a//7", out, sizeof(out));
	CHECK_STR(out, "/a//{id}");
	classifier__route(NULL, "*", out, sizeof(out));
	CHECK_STR(out, "*");
	classifier__route(NULL, "/model/1/2/3", out, 10);
	CHECK_STR(out, "/model/{i");
}

static void test_route_patterns(void)
{
	struct classifier *c = classifier__new();
	char out[256];

	CHECK_INT(classifier__add_route(c, "/model/{name}/mesh"), 0);
	CHECK(classifier__add_route(c, "model") < 0);
	classifier__route(c, "/model/teapot/mesh", out, sizeof(out));
	CHECK_STR(out, "/model/{name}/mesh");
	classifier__route(c, "/model/teapot/mesh/x", out, sizeof(out));
	CHECK_STR(out, "/model/teapot/mesh/x");
	classifier__free(c);
}

static void test_api(void)
{
	struct classifier *c = classifier__new();
	char out[32];

	classifier__api(c, "/model/3", out, sizeof(out));
	CHECK_STR(out, "model");
	classifier__api(c, "/data", out, sizeof(out));
	CHECK_STR(out, "data");
	classifier__api(c, "/users/3", out, sizeof(out));
	CHECK_STR(out, "other");
	classifier__api(c, "/", out, sizeof(out));
	CHECK_STR(out, "other");
	CHECK_INT(classifier__add_api(c, "gen=/v1/generate/"), 0);
	CHECK(classifier__add_api(c, "bad") < 0);
	CHECK(classifier__add_api(c, "=/x") < 0);
	CHECK(classifier__add_api(c, "x=y") < 0);
	classifier__api(c, "/v1/generate/abc", out, sizeof(out));
	CHECK_STR(out, "gen");
	classifier__api(c, "/v1/generate", out, sizeof(out));
	CHECK_STR(out, "gen");
	classifier__api(c, "/v1/generated", out, sizeof(out));
	CHECK_STR(out, "other");
	classifier__free(c);
}

int main(void)
{
	RUN(test_id_segments);
	RUN(test_route_default);
	RUN(test_route_patterns);
	RUN(test_api);
	return CHECK_DONE();
}
