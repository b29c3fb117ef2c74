/* test_pgcopy.c: COPY text escaping, UTF-8 repair, binary request tuples, alert and health rows. */
#include <errno.h>
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

/* One binary tuple, decoded: field i is NULL or len[i] bytes at val[i] (NUL-terminated copy). */
struct tuple {
	int n;
	int null[PGCOPY_REQUESTS_NCOLS];
	size_t len[PGCOPY_REQUESTS_NCOLS];
	char val[PGCOPY_REQUESTS_NCOLS][1024];
};

static uint64_t be(const char *p, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v = v << 8 | (unsigned char)p[i];
	return v;
}

static int decode(const struct pgbuf *b, size_t off, struct tuple *t)
{
	long end = pgcopy__bin_next(b->data, b->len, off);
	size_t o = off + 2;

	memset(t, 0, sizeof(*t));
	if (end < 0)
		return -1;
	t->n = (int)be(b->data + off, 2);
	for (int i = 0; i < t->n && i < PGCOPY_REQUESTS_NCOLS; i++) {
		uint32_t len = (uint32_t)be(b->data + o, 4);

		o += 4;
		if (len == 0xffffffffu) {
			t->null[i] = 1;
			continue;
		}
		t->len[i] = len;
		memcpy(t->val[i], b->data + o, len < 1023 ? len : 1023);
		o += len;
	}
	return (int)end;
}

static int64_t i64(const struct tuple *t, int i)
{
	return (int64_t)be(t->val[i], (int)t->len[i]);
}

static double f64(const struct tuple *t, int i)
{
	uint64_t u = be(t->val[i], 8);
	double d;

	memcpy(&d, &u, sizeof(d));
	return d;
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
	    .queue_ms = 3.5,
	    .wait_ms = -1, /* unknown */
	    .tls = 1,
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
	struct tuple t;

	CHECK_INT(pgcopy__request(&b, &r, "web-1"), 0);
	CHECK_INT(decode(&b, 0, &t), b.len); /* exactly one tuple */
	CHECK_INT(t.n, 17);
	/* timestamptz: microseconds since 2000-01-01 UTC */
	CHECK_INT(i64(&t, 0), 1709210096123456LL - 946684800000000LL);
	CHECK_STR(t.val[1], "web-1");
	CHECK_STR(t.val[2], "model");
	CHECK_STR(t.val[3], "GET");
	CHECK_STR(t.val[4], "/model/{id}/mesh");
	CHECK_STR(t.val[5], "/model/123/mesh");
	CHECK_STR(t.val[6], "lod=2&x=\t"); /* binary: no escaping */
	CHECK_INT(t.len[7], 2);
	CHECK_INT(i64(&t, 7), 200);
	CHECK(f64(&t, 8) == 12.5);
	CHECK(f64(&t, 9) == 10.25);
	CHECK_INT(i64(&t, 10), 120);
	CHECK_INT(i64(&t, 11), 4096);
	CHECK_INT(t.len[12], 4);
	CHECK_INT(i64(&t, 12), 4242);
	CHECK_INT(i64(&t, 13), 8);
	CHECK(f64(&t, 14) == 3.5); /* queue_ms */
	CHECK(t.null[15]);	   /* wait_ms unknown */
	CHECK_INT(t.len[16], 1);   /* tls: a boolean */
	CHECK_INT(t.val[16][0], 1);
	pgbuf__free(&b);
	r.tls = 0;
	r.wait_ms = 0; /* known: read at once */
	CHECK_INT(pgcopy__request(&b, &r, "web-1"), 0);
	decode(&b, 0, &t);
	CHECK(!t.null[15] && f64(&t, 15) == 0);
	CHECK_INT(t.val[16][0], 0);
	pgbuf__free(&b);
}

/* The column list names as many columns as a tuple has fields. */
static void test_request_columns(void)
{
	int commas = 1;

	for (const char *p = PGCOPY_REQUESTS_COLS; *p; p++)
		commas += *p == ',';
	CHECK_INT(commas, PGCOPY_REQUESTS_NCOLS);
}

static void test_no_response_has_null_latency(void)
{
	struct record r = sample();
	struct pgbuf b = {};
	struct tuple t;

	r.status = 0;
	r.duration_ms = 30000; /* time until abandoned: not a latency */
	CHECK_INT(pgcopy__request(&b, &r, "h"), 0);
	decode(&b, 0, &t);
	CHECK(t.null[8] && t.null[9]);
	CHECK_INT(i64(&t, 7), 0);
	b.len = 0;
	r = sample();
	r.ttfb_ms = -1; /* none */
	CHECK_INT(pgcopy__request(&b, &r, "h"), 0);
	decode(&b, 0, &t);
	CHECK(!t.null[8] && t.null[9]);
	pgbuf__free(&b);
}

static void test_hostile_path_is_valid_text(void)
{
	struct record r = sample();
	struct pgbuf b = {};
	struct tuple t;
	const char *p;

	memset(r.path, 0, sizeof(r.path));
	/* every byte value 1..255 (a record holds no NUL), then backslashes */
	for (int i = 1; i < 256; i++)
		r.path[i - 1] = (char)i;
	memset(r.path + 255, '\\', RECORD_PATH_MAX - 255);
	CHECK_INT(pgcopy__request(&b, &r, "h"), 0);
	CHECK_INT(decode(&b, 0, &t), b.len);
	p = t.val[5];
	CHECK(!memcmp(p, "\x01\x02\x03\t\n\r", 3)); /* control bytes kept as they are */
	CHECK(strstr(p, "\\\\\\\\") != NULL);	    /* backslashes kept, not doubled */
	/* 0x80..0xff alone are never valid UTF-8: 128 replacements of 3 bytes */
	CHECK_INT(t.len[5], 127 + 128 * 3 + RECORD_PATH_MAX - 255);
	CHECK_INT(i64(&t, 13), 8 | RECORD_F_PATH_INVALID);
	pgbuf__free(&b);
}

static void test_unterminated_fields_are_bounded(void)
{
	struct record r = sample();
	struct pgbuf b = {};
	struct tuple t;

	memset(r.api, 'a', sizeof(r.api)); /* no NUL: must not read past the field */
	memset(r.method, 'M', sizeof(r.method));
	CHECK_INT(pgcopy__request(&b, &r, "h"), 0);
	CHECK_INT(decode(&b, 0, &t), b.len);
	CHECK_INT(t.len[2], sizeof(r.api));
	CHECK_INT(t.len[3], sizeof(r.method));
	CHECK_STR(t.val[5], "/model/123/mesh");
	pgbuf__free(&b);
}

static void test_big_numbers_clamped(void)
{
	struct record r = sample();
	struct pgbuf b = {};
	struct tuple t;

	r.bytes_out = UINT64_MAX;
	r.pid = 0xffffffffu;
	CHECK_INT(pgcopy__request(&b, &r, "h"), 0);
	decode(&b, 0, &t);
	CHECK_INT(i64(&t, 11), INT64_MAX);
	CHECK_INT((int32_t)i64(&t, 12), -1);
	pgbuf__free(&b);
}

static void test_tuple_boundaries(void)
{
	struct record r = sample();
	struct pgbuf b = {};
	long off = 0;
	int n = 0;

	for (int i = 0; i < 5; i++) {
		r.path_len =
		    (uint16_t)snprintf(r.path, sizeof(r.path), "/p/%d%s", i, i % 2 ? "/x" : "");
		pgcopy__request(&b, &r, "h");
	}
	while ((size_t)off < b.len && (off = pgcopy__bin_next(b.data, b.len, (size_t)off)) > 0)
		n++;
	CHECK_INT(n, 5);
	CHECK_INT(off, b.len);
	/* cut short or garbage: refused, never read past the end */
	CHECK_INT(pgcopy__bin_next(b.data, b.len - 1, 0) > 0, 1); /* first tuple still whole */
	CHECK_INT(pgcopy__bin_next(b.data, 10, 0), -EINVAL);
	CHECK_INT(pgcopy__bin_next("\xff\xff", 2, 0), -EINVAL);
	CHECK_INT(pgcopy__bin_next("\x00\x01\x7f\xff\xff\xff", 6, 0), -EINVAL);
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
	char tail[64];
	int commas = 1;

	strcpy(h.last_error, "08006 server closed\tthe connection");
	h.kernel[0] = 11;
	h.kernel[HTTPLAT_C__COUNT - 1] = 5;
	CHECK_INT(pgcopy__health(&b, &h, "h"), 0);
	for (const char *p = PGCOPY_HEALTH_COLS; *p; p++)
		commas += *p == ',';
	CHECK_INT(count_fields(b.data, b.len - 1), commas);
	CHECK(strstr(b.data, "\t3\t08006 server closed\\tthe connection\t11\t") != NULL);
	snprintf(tail, sizeof(tail), "\t5\n");
	CHECK(b.len > 3 && !strcmp(b.data + b.len - 3, tail));
	pgbuf__free(&b);
}

/* Every kernel counter of HTTPLAT_COUNTERS has its httplat_health column, in order, last. */
static void test_every_counter_has_a_column(void)
{
	const char *cols = PGCOPY_HEALTH_COLS, *at = cols;
	char want[80];

	for (int i = 0; i < HTTPLAT_C__COUNT; i++) {
		const char *name = pgcopy__kernel_column(i);

		CHECK(name != NULL && !strncmp(name, "kernel_", 7) && strcmp(name, "kernel_dropped"));
		if (!name)
			continue;
		snprintf(want, sizeof(want), ", %s", name);
		at = strstr(at, want);
		CHECK(at != NULL);
		if (!at)
			return;
		at += strlen(want);
	}
	CHECK_STR(at, "");
	CHECK(pgcopy__kernel_column(HTTPLAT_C__COUNT) == NULL);
	CHECK_STR(pgcopy__kernel_column(HTTPLAT_C_CONN_EVICTED), "kernel_conn_evicted");
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
	RUN(test_request_columns);
	RUN(test_no_response_has_null_latency);
	RUN(test_hostile_path_is_valid_text);
	RUN(test_unterminated_fields_are_bounded);
	RUN(test_big_numbers_clamped);
	RUN(test_tuple_boundaries);
	RUN(test_alert_row);
	RUN(test_health_row);
	RUN(test_every_counter_has_a_column);
	return CHECK_DONE();
}
