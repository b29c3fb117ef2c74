/* fuzz_decode.c: any bytes as a kernel request event -> decode__request -> the sinks' text. */
#include "classify.h"
#include "decode.h"
#include "fuzz.h"
#include "pgcopy.h"
#include "termsafe.h"

static struct classifier *cls;

/* A field of the record: NUL-terminated inside its array. */
#define TERMINATED(f) (strnlen((f), sizeof(f)) < sizeof(f))

static void check_escaped(const char *s)
{
	char out[TEXT_ESCAPED_MAX(RECORD_PATH_MAX + 1)];
	size_t n = text__terminal_escape(s, out, sizeof(out));

	FUZZ_CHECK(n == strlen(out) && termsafe(out, n, 0), "escaped text unsafe: %s", out);
	FUZZ_CHECK(n < sizeof(out) - 1 || !*s, "a record field did not fit its escape buffer");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct httplat_request_event e;
	struct pgbuf b = {0};
	struct record r;
	size_t n = size < sizeof(e) ? size : sizeof(e);

	if (!cls) {
		cls = classifier__new();
		classifier__add_route(cls, "/model/{id}/mesh");
		classifier__add_api(cls, "gen=/v1/generate");
	}
	memset(&e, 0, sizeof(e));
	memcpy(&e, data, n); /* the ring hands out aligned records */
	if (decode__request(&e, size, 1000, cls, &r))
		return 0;
	FUZZ_CHECK(size >= offsetof(struct httplat_request_event, raw) + e.raw_len,
		   "decoded a record shorter than its raw_len");
	FUZZ_CHECK(TERMINATED(r.method) && TERMINATED(r.path) && TERMINATED(r.query) &&
			   TERMINATED(r.route) && TERMINATED(r.api),
		   "a field is not terminated");
	FUZZ_CHECK(r.path_len == strlen(r.path), "path_len %u, path %zu bytes", r.path_len,
		   strlen(r.path));
	FUZZ_CHECK(strlen(r.method) + 1 + strlen(r.path) <= e.raw_len, "fields longer than the line");
	check_escaped(r.method);
	check_escaped(r.path);
	check_escaped(r.query);
	check_escaped(r.route);
	check_escaped(r.api);
	/* and the database row it becomes: one well-formed binary tuple */
	FUZZ_CHECK(pgcopy__request(&b, &r, "host") == 0, "no row");
	FUZZ_CHECK(pgcopy__bin_next(b.data, b.len, 0) == (long)b.len, "malformed tuple");
	pgbuf__free(&b);
	return 0;
}
