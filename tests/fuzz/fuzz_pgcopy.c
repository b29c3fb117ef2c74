/* fuzz_pgcopy.c: COPY escaping (pgcopy__text), the binary request tuple and the alert text row. */
#include "fuzz.h"
#include "pgcopy.h"

/* What the repair must give: valid sequences kept, each other byte (and NUL) as U+FFFD. */
static size_t repair(const uint8_t *s, size_t n, char *out, int *replaced)
{
	size_t w = 0;

	*replaced = 0;
	for (size_t i = 0; i < n;) {
		size_t k = s[i] ? text__utf8_seq(s + i, n - i) : 0;

		if (!k) {
			memcpy(out + w, "\xef\xbf\xbd", 3);
			w += 3;
			(*replaced)++;
			i++;
		} else {
			memcpy(out + w, s + i, k);
			w += k;
			i += k;
		}
	}
	return w;
}

/* COPY text's unescaping, as the server does it; -1 for what it would refuse or misread. */
static long unescape(const char *s, size_t n, char *out)
{
	static const char pairs[] = "\\\\t\tn\nr\r"; /* escape letter, the byte it stands for */
	const char *e;
	long w = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		FUZZ_CHECK(c != '\t' && c != '\n' && c != '\r', "raw delimiter in a field");
		if (c != '\\') {
			out[w++] = c;
			continue;
		}
		/* the four escapes httplat writes; \N, octal, \b...: not ours to write */
		if (++i >= n || !s[i] || !(e = strchr(pairs, s[i])) || (e - pairs) % 2)
			return -1;
		out[w++] = e[1];
	}
	return w;
}

static void check_text(const uint8_t *s, size_t n)
{
	struct pgbuf b = {0};
	char *want = malloc(3 * n + 1), *got = malloc(3 * n + 1);
	int replaced, r = pgcopy__text(&b, (const char *)s, n);
	size_t wn = repair(s, n, want, &replaced);

	FUZZ_CHECK(r == replaced, "%d replaced, want %d", r, replaced);
	FUZZ_CHECK(fuzz__valid_utf8(b.data ? b.data : "", b.len), "field is not UTF-8");
	FUZZ_CHECK(unescape(b.data, b.len, got) == (long)wn && !memcmp(got, want, wn),
		   "the server would read something else");
	pgbuf__free(&b);
	free(want);
	free(got);
}

/* Copies a string of the input into a fixed field (full, unterminated when it is long). */
static void fill(char *dst, size_t dstsz, const char *src)
{
	size_t n = strlen(src);

	memcpy(dst, src, n < dstsz ? n + 1 : dstsz);
}

/* The binary tuple: the declared fields, text ones valid UTF-8, nothing after. */
static void check_request(char **v, int nv, const uint8_t *data, size_t size)
{
	static const char *const text_cols[] = {"host", "api", "method", "route", "path", "query"};
	struct record r;
	struct pgbuf b = {0};
	char cols[] = PGCOPY_REQUESTS_COLS, *save, *col;
	size_t off = 2;

	memset(&r, 0, sizeof(r));
	memcpy(&r, data, size < offsetof(struct record, method) ? size : offsetof(struct record, method));
	fill(r.method, sizeof(r.method), nv > 1 ? v[1] : "");
	fill(r.path, sizeof(r.path), nv > 2 ? v[2] : "");
	fill(r.query, sizeof(r.query), nv > 3 ? v[3] : "");
	fill(r.route, sizeof(r.route), nv > 4 ? v[4] : "");
	fill(r.api, sizeof(r.api), nv > 5 ? v[5] : "");
	FUZZ_CHECK(pgcopy__request(&b, &r, nv > 6 ? v[6] : "h") == 0, "no row");
	FUZZ_CHECK(pgcopy__bin_next(b.data, b.len, 0) == (long)b.len, "tuple length");
	FUZZ_CHECK(b.len >= 2 && ((uint8_t)b.data[0] << 8 | (uint8_t)b.data[1]) ==
				     PGCOPY_REQUESTS_NCOLS, "field count");
	for (col = strtok_r(cols, ", ", &save); col; col = strtok_r(NULL, ", ", &save)) {
		const uint8_t *u = (const uint8_t *)b.data + off;
		uint32_t flen = (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
		int is_text = 0;

		for (size_t i = 0; i < sizeof(text_cols) / sizeof(text_cols[0]); i++)
			is_text |= !strcmp(col, text_cols[i]);
		off += 4;
		if (flen == 0xffffffffu) {
			FUZZ_CHECK(!is_text, "text column %s NULL", col);
			continue;
		}
		FUZZ_CHECK(off + flen <= b.len, "column %s past the tuple", col);
		if (is_text)
			FUZZ_CHECK(fuzz__valid_utf8(b.data + off, flen), "column %s not UTF-8", col);
		off += flen;
	}
	FUZZ_CHECK(off == b.len, "columns %zu bytes, tuple %zu", off, b.len);
	pgbuf__free(&b);
}

/* The alerts row (text COPY): its fields, one line. */
static void check_alert(char **v, int nv)
{
	struct alert_row a;
	struct pgbuf b = {0};
	int tabs = 0, want = 0;

	memset(&a, 0, sizeof(a));
	fill(a.rule, sizeof(a.rule), nv > 1 ? v[1] : "");
	fill(a.api, sizeof(a.api), nv > 2 ? v[2] : "");
	fill(a.route, sizeof(a.route), nv > 3 ? v[3] : "");
	fill(a.message, sizeof(a.message), nv > 4 ? v[4] : "");
	fill(a.state, sizeof(a.state), nv > 5 ? v[5] : "");
	a.value = 1.5;
	FUZZ_CHECK(pgcopy__alert(&b, &a, nv > 6 ? v[6] : "h") == 0, "no row");
	for (const char *c = PGCOPY_ALERTS_COLS; *c; c++)
		want += *c == ',';
	for (size_t i = 0; i < b.len; i++) {
		FUZZ_CHECK(b.data[i] != '\r' && (b.data[i] != '\n' || i == b.len - 1),
			   "a line break inside the row");
		tabs += b.data[i] == '\t';
	}
	FUZZ_CHECK(tabs == want && b.len && b.data[b.len - 1] == '\n', "%d fields, want %d",
		   tabs + 1, want + 1);
	FUZZ_CHECK(fuzz__valid_utf8(b.data, b.len), "alert row is not UTF-8");
	pgbuf__free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *v[8], *copy;
	int nv;

	check_text(data, size);
	copy = fuzz__strings(data, size, v, 8, &nv);
	if (!copy)
		return 0;
	check_request(v, nv, data, size);
	check_alert(v, nv);
	free(copy);
	return 0;
}
