/* test_decode.c: kernel events -> records (request-line split, times, flags, labels). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "check.h"
#include "classify.h"
#include "decode.h"

static void event(struct httplat_request_event *e, const char *line, size_t n, __u16 line_len)
{
	memset(e, 0, sizeof(*e));
	e->hdr.type = HTTPLAT_EV_REQUEST;
	e->hdr.tgid = 42;
	e->status = 200;
	e->start_ns = 1000000000;
	e->ttfb_ns = 1002000000;
	e->end_ns = 1003500000;
	e->raw_len = (__u16)n;
	e->line_len = line_len;
	e->bytes_in = 80;
	e->bytes_out = 150;
	memcpy(e->raw, line, n);
}

static void test_basic(void)
{
	struct httplat_request_event e;
	struct record r;
	const char *l = "GET /model/123/mesh?lod=2&x=%20 HTTP/1.1";

	event(&e, l, strlen(l), (__u16)strlen(l));
	CHECK_INT(decode__request(&e, sizeof(e), 5, NULL, &r), 0);
	CHECK_STR(r.method, "GET");
	CHECK_STR(r.path, "/model/123/mesh");
	CHECK_STR(r.query, "lod=2&x=%20");
	CHECK_STR(r.route, "/model/{id}/mesh");
	CHECK_STR(r.api, "model");
	CHECK_INT(r.ts_ns, 1000000005);
	CHECK(r.duration_ms > 3.4999 && r.duration_ms < 3.5001);
	CHECK(r.ttfb_ms > 1.9999 && r.ttfb_ms < 2.0001);
	CHECK_INT(r.pid, 42);
	CHECK_INT(r.flags, 0);
	CHECK_INT(r.bytes_in, 80);
}

static void test_no_response(void)
{
	struct httplat_request_event e;
	struct record r;
	const char *l = "POST /user/signup HTTP/1.0";

	event(&e, l, strlen(l), (__u16)strlen(l));
	e.status = 0;
	e.ttfb_ns = 0;
	e.flags = HTTPLAT_F_NO_RESPONSE;
	CHECK_INT(decode__request(&e, sizeof(e), 0, NULL, &r), 0);
	CHECK_INT(r.status, 0);
	CHECK(r.ttfb_ms < 0);
	CHECK(!record__answered(&r));
	CHECK_STR(r.api, "user");
	CHECK_STR(decode__flag_name(0), "no_response");
	CHECK_STR(decode__flag_name(16), "path_truncated");
	CHECK(decode__flag_name(12) == NULL);
}

static void test_truncated_and_hostile(void)
{
	struct httplat_request_event e;
	struct record r;
	char line[HTTPLAT_RAW_MAX];

	/* a path longer than what the kernel keeps: no version in raw */
	memcpy(line, "GET /", 5);
	memset(line + 5, 'a', sizeof(line) - 5);
	event(&e, line, sizeof(line), 900);
	CHECK_INT(decode__request(&e, sizeof(e), 0, NULL, &r), 0);
	CHECK(r.flags & RECORD_F_PATH_TRUNCATED);
	CHECK_INT(r.path_len, HTTPLAT_RAW_MAX - 4);
	/* NUL bytes never reach the sinks; other bytes do, untouched */
	event(&e, "GET /a\0b\t\"\\\xff HTTP/1.1", 22, 22);
	CHECK_INT(decode__request(&e, sizeof(e), 0, NULL, &r), 0);
	CHECK_STR(r.path, "/a?b\t\"\\\xff");
	CHECK(r.flags & RECORD_F_PATH_INVALID);
	CHECK(!(r.flags & RECORD_F_PATH_TRUNCATED));
	/* malformed events are refused, not guessed at */
	event(&e, "GARBAGE", 7, 7);
	CHECK_INT(decode__request(&e, sizeof(e), 0, NULL, &r), -EINVAL);
	event(&e, "GET / HTTP/1.1", 14, 14);
	CHECK_INT(decode__request(&e, offsetof(struct httplat_request_event, raw) + 14, 0, NULL, &r),
		  0); /* the ring carries only the used part of raw */
	CHECK_INT(decode__request(&e, offsetof(struct httplat_request_event, raw) + 13, 0, NULL, &r),
		  -EINVAL);
	e.raw_len = HTTPLAT_RAW_MAX + 1;
	CHECK_INT(decode__request(&e, sizeof(e), 0, NULL, &r), -EINVAL);
}

/* Regression (fuzz_decode): a start time near 2^63 overflowed the wall-clock sum. */
static void test_time_overflow(void)
{
	struct httplat_request_event e;
	struct record r;
	const char *l = "GET / HTTP/1.1";

	event(&e, l, strlen(l), (__u16)strlen(l));
	e.start_ns = INT64_MAX;
	CHECK_INT(decode__request(&e, sizeof(e), 1000, NULL, &r), -EINVAL);
	e.start_ns = (__u64)INT64_MAX + 2;
	CHECK_INT(decode__request(&e, sizeof(e), 0, NULL, &r), -EINVAL);
	e.start_ns = INT64_MAX - 1000;
	CHECK_INT(decode__request(&e, sizeof(e), 1000, NULL, &r), 0);
}

static void test_labels(void)
{
	struct httplat_request_event e;
	struct classifier *c = classifier__new();
	struct record r;
	const char *l = "PROPFIND /v1/generate/abc HTTP/1.1";

	CHECK_INT(classifier__add_api(c, "gen=/v1/generate"), 0);
	CHECK_INT(classifier__add_route(c, "/v1/generate/{job}"), 0);
	event(&e, l, strlen(l), (__u16)strlen(l));
	CHECK_INT(decode__request(&e, sizeof(e), 0, c, &r), 0);
	CHECK_STR(r.method, "PROPFIND");
	CHECK_STR(r.api, "gen");
	CHECK_STR(r.route, "/v1/generate/{job}");
	classifier__free(c);
}

int main(void)
{
	RUN(test_basic);
	RUN(test_no_response);
	RUN(test_truncated_and_hostile);
	RUN(test_time_overflow);
	RUN(test_labels);
	return CHECK_DONE();
}
