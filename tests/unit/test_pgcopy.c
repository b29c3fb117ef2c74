/* test_pgcopy.c: COPY text escaping, UTF-8 repair and row formatting for http_requests. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "pgcopy.h"

/* The field as PostgreSQL's COPY text reader will see it (inverse of the escaping). */
static size_t unescape(const char *s, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\' || i + 1 == n) {
			out[o++] = s[i];
			continue;
		}
		switch (s[++i]) {
		case 't':
			out[o++] = '\t';
			break;
		case 'n':
			out[o++] = '\n';
			break;
		case 'r':
			out[o++] = '\r';
			break;
		default:
			out[o++] = s[i];
		}
	}
	out[o] = 0;
	return o;
}

static int escaped(const char *in, size_t n, char *out, size_t outsz)
{
	struct pgbuf b = {};
	int r = pgcopy__text(&b, in, n);

	snprintf(out, outsz, "%.*s", (int)b.len, b.data ? b.data : "");
	pgbuf__free(&b);
	return r;
}

static void test_escapes_copy_specials(void)
{
	const char in[] = "/a\tb\nc\rd\\e'f\"g";
	char out[128], back[128];

	CHECK_INT(escaped(in, sizeof(in) - 1, out, sizeof(out)), 0);
	CHECK_STR(out, "/a\\tb\\nc\\rd\\\\e'f\"g");
	unescape(out, strlen(out), back);
	CHECK_STR(back, in);
	/* "\." alone would end COPY data: the backslash is doubled, so it cannot */
	escaped("\\.", 2, out, sizeof(out));
	CHECK_STR(out, "\\\\.");
}

static void test_keeps_valid_utf8(void)
{
	const char in[] = "/caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80/\xf4\x8f\xbf\xbf";
	char out[128];

	CHECK_INT(escaped(in, sizeof(in) - 1, out, sizeof(out)), 0);
	CHECK_STR(out, in);
}

static void test_replaces_invalid_utf8(void)
{
	static const struct {
		const char *in;
		size_t n;
		const char *want;
		int replaced;
	} cases[] = {
	    {"a\xff"
	     "b",
	     3,
	     "a\xef\xbf\xbd"
	     "b",
	     1},							    /* never valid */
	    {"\xc0\x80", 2, "\xef\xbf\xbd\xef\xbf\xbd", 2},		    /* overlong NUL */
	    {"\xe0\x80\xaf", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 3}, /* overlong '/' */
	    {"\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 3}, /* surrogate */
	    {"\xf4\x90\x80\x80", 4, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd",
	     4},					      /* > U+10FFFF */
	    {"x\xe2\x82", 3, "x\xef\xbf\xbd\xef\xbf\xbd", 2}, /* truncated at the end */
	    {"\xe2\x82"
	     "A",
	     3,
	     "\xef\xbf\xbd\xef\xbf\xbd"
	     "A",
	     2}, /* truncated mid-string */
	    {"a\0b", 3,
	     "a\xef\xbf\xbd"
	     "b",
	     1},			    /* NUL */
	    {"\x80", 1, "\xef\xbf\xbd", 1}, /* lone continuation */
	};
	char out[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_INT(escaped(cases[i].in, cases[i].n, out, sizeof(out)), cases[i].replaced);
		CHECK_STR(out, cases[i].want);
	}
}

static void test_control_bytes_pass(void)
{
	char out[16];

	/* valid in text and not special to COPY: stored as they came */
	CHECK_INT(escaped("\x01\x1b\x7f", 3, out, sizeof(out)), 0);
	CHECK_STR(out, "\x01\x1b\x7f");
}

static void test_timestamps(void)
{
	char t[40];

	pgcopy__ts(t, sizeof(t), 0);
	CHECK_STR(t, "1970-01-01 00:00:00.000000+00");
	pgcopy__ts(t, sizeof(t), 1709210096123456789LL); /* leap day 2024 */
	CHECK_STR(t, "2024-02-29 12:34:56.123456+00");
	pgcopy__ts(t, sizeof(t), 1798761599999999000LL);
	CHECK_STR(t, "2026-12-31 23:59:59.999999+00");
	pgcopy__ts(t, sizeof(t), -1000); /* just before the epoch */
	CHECK_STR(t, "1969-12-31 23:59:59.999999+00");
	CHECK_INT(pgcopy__ts(t, 8, 0), 0); /* too small a buffer */
}

static void test_milliseconds(void)
{
	char t[40];

	pgcopy__ms(t, sizeof(t), 12.5, 1);
	CHECK_STR(t, "12.500000");
	pgcopy__ms(t, sizeof(t), 0.000001, 1);
	CHECK_STR(t, "0.000001");
	pgcopy__ms(t, sizeof(t), 1234567.25, 1);
	CHECK_STR(t, "1234567.250000");
	pgcopy__ms(t, sizeof(t), -1, 1);
	CHECK_STR(t, "\\N");
	pgcopy__ms(t, sizeof(t), -1.5, 0);
	CHECK_STR(t, "-1.500000");
	pgcopy__ms(t, sizeof(t), NAN, 0);
	CHECK_STR(t, "\\N");
	pgcopy__ms(t, sizeof(t), INFINITY, 0);
	CHECK_STR(t, "\\N");
}

static int count_fields(const char *line, size_t n)
{
	int f = 1;

	for (size_t i = 0; i < n; i++)
		f += line[i] == '\t';
	return f;
}

static struct record sample(void)
{
	struct record r = {
	    .ts_ns = 1709210096123456789LL,
	    .duration_ms = 12.5,
	    .ttfb_ms = 10.25,
	    .bytes_in = 120,
	    .bytes_out = 4096,
	    .pid = 4242,
	    .flags = 1u << 3,
	    .status = 200,
	};

	strcpy(r.method, "GET");
	strcpy(r.path, "/model/123/mesh");
	strcpy(r.query, "lod=2&x=\t");
	strcpy(r.route, "/model/{id}/mesh");
	strcpy(r.api, "model");
	return r;
}

static void test_request_row(void)
{
	struct record r = sample();
	struct pgbuf b = {};

	CHECK_INT(pgcopy__request(&b, &r, "web-1"), 0);
	CHECK_INT(b.len,
		  strlen("2024-02-29 12:34:56.123456+00\tweb-1\tmodel\tGET\t/model/{id}/mesh\t"
			 "/model/123/mesh\tlod=2&x=\\t\t200\t12.500000\t10.250000\t120\t4096\t"
			 "4242\t8\n"));
	CHECK(b.len &&
	      !strncmp(b.data,
		       "2024-02-29 12:34:56.123456+00\tweb-1\tmodel\tGET\t/model/{id}/mesh\t"
		       "/model/123/mesh\tlod=2&x=\\t\t200\t12.500000\t10.250000\t120\t4096\t"
		       "4242\t8\n",
		       b.len));
	pgbuf__free(&b);
}

static void test_no_response_has_null_latency(void)
{
	struct record r = sample();
	struct pgbuf b = {};

	r.status = 0;
	r.duration_ms = 30000; /* time until abandoned: not a latency */
	CHECK_INT(pgcopy__request(&b, &r, "h"), 0);
	CHECK(b.len && strstr(b.data, "\t0\t\\N\t\\N\t120\t") != NULL);
	b.len = 0;
	r = sample();
	r.ttfb_ms = -1; /* none */
	CHECK_INT(pgcopy__request(&b, &r, "h"), 0);
	CHECK(strstr(b.data, "\t200\t12.500000\t\\N\t") != NULL);
	pgbuf__free(&b);
}

static void test_hostile_path_is_one_line(void)
{
	struct record r = sample();
	struct pgbuf b = {};
	char *nl;

	memset(r.path, 0, sizeof(r.path));
	/* every byte value 1..255 (except NUL, which the record cannot hold), then padding */
	for (int i = 1; i < 256; i++)
		r.path[i - 1] = (char)i;
	memset(r.path + 255, '\\', RECORD_PATH_MAX - 255);
	CHECK_INT(pgcopy__request(&b, &r, "h"), 0);
	nl = memchr(b.data, '\n', b.len);
	CHECK(nl == b.data + b.len - 1); /* exactly one line */
	CHECK_INT(count_fields(b.data, b.len - 1), 14);
	CHECK(!memchr(b.data, '\r', b.len));
	/* invalid bytes were replaced: the flag says so */
	CHECK(strstr(b.data, "\t131080\n") != NULL); /* 8 | RECORD_F_PATH_INVALID */
	pgbuf__free(&b);
}

static void test_unterminated_fields_are_bounded(void)
{
	struct record r = sample();
	struct pgbuf b = {};

	memset(r.api, 'a', sizeof(r.api)); /* no NUL: must not read past the field */
	memset(r.method, 'M', sizeof(r.method));
	CHECK_INT(pgcopy__request(&b, &r, "h"), 0);
	CHECK_INT(count_fields(b.data, b.len - 1), 14);
	pgbuf__free(&b);
}

static void test_big_numbers_clamped(void)
{
	struct record r = sample();
	struct pgbuf b = {};

	r.bytes_out = UINT64_MAX;
	r.pid = 0xffffffffu;
	CHECK_INT(pgcopy__request(&b, &r, "h"), 0);
	CHECK(strstr(b.data, "\t9223372036854775807\t-1\t8\n") != NULL);
	pgbuf__free(&b);
}

static void test_alert_row(void)
{
	struct alert_row a = {.ts_ns = 0, .value = 812.5, .threshold = 500, .delivered = 1};
	struct pgbuf b = {};

	strcpy(a.rule, "latency");
	strcpy(a.api, "model");
	strcpy(a.route, "/model/{id}/mesh");
	strcpy(a.severity, "warning");
	strcpy(a.state, "firing");
	strcpy(a.message, "p95 812 ms > 500 ms\nsecond line");
	CHECK_INT(pgcopy__alert(&b, &a, "h"), 0);
	CHECK_INT(count_fields(b.data, b.len - 1), 11);
	CHECK(b.len &&
	      !strncmp(b.data,
		       "1970-01-01 00:00:00.000000+00\th\tlatency\tmodel\t/model/{id}/mesh\t"
		       "warning\tfiring\t812.500000\t500.000000\t1\tp95 812 ms > 500 ms\\nsecond "
		       "line\n",
		       b.len));
	pgbuf__free(&b);
}

static void test_health_row(void)
{
	struct health_row h = {.rows_written = 7, .alerts_failed = 3, .daemon_pid = 9};
	struct pgbuf b = {};
	int commas = 1;

	strcpy(h.last_error, "08006 server closed\tthe connection");
	CHECK_INT(pgcopy__health(&b, &h, "h"), 0);
	for (const char *p = PGCOPY_HEALTH_COLS; *p; p++)
		commas += *p == ',';
	CHECK_INT(count_fields(b.data, b.len - 1), commas);
	CHECK(strstr(b.data, "\t3\t08006 server closed\\tthe connection\n") != NULL);
	pgbuf__free(&b);
}

int main(void)
{
	RUN(test_escapes_copy_specials);
	RUN(test_keeps_valid_utf8);
	RUN(test_replaces_invalid_utf8);
	RUN(test_control_bytes_pass);
	RUN(test_timestamps);
	RUN(test_milliseconds);
	RUN(test_request_row);
	RUN(test_no_response_has_null_latency);
	RUN(test_hostile_path_is_one_line);
	RUN(test_unterminated_fields_are_bounded);
	RUN(test_big_numbers_clamped);
	RUN(test_alert_row);
	RUN(test_health_row);
	return CHECK_DONE();
}
