/* fuzz_text.c: the terminal escaper on any bytes: safe, reversible, cut between characters. */
#include "fuzz.h"
#include "termsafe.h"

/* Undoes text__terminal_escape; returns the length, or -1 if out is no escaper output. */
static long unescape(const char *s, char *out)
{
	const char *p = s;
	long w = 0;

	while (*p) {
		unsigned v;
		int n = 0;

		if (*p != '\\') {
			out[w++] = *p++;
			continue;
		}
		if (p[1] == '\\') {
			out[w++] = '\\';
			p += 2;
		} else if (p[1] == 'x' && sscanf(p + 2, "%2x%n", &v, &n) == 1 && n == 2) {
			out[w++] = (char)v;
			p += 4;
		} else if ((p[1] == 'u' || p[1] == 'U') &&
			   sscanf(p + 2, p[1] == 'u' ? "%4x%n" : "%8x%n", &v, &n) == 1 &&
			   n == (p[1] == 'u' ? 4 : 8)) {
			/* back to UTF-8 */
			if (v < 0x800) {
				out[w++] = (char)(0xc0 | v >> 6);
			} else if (v < 0x10000) {
				out[w++] = (char)(0xe0 | v >> 12);
				out[w++] = (char)(0x80 | (v >> 6 & 0x3f));
			} else {
				out[w++] = (char)(0xf0 | v >> 18);
				out[w++] = (char)(0x80 | (v >> 12 & 0x3f));
				out[w++] = (char)(0x80 | (v >> 6 & 0x3f));
			}
			out[w++] = (char)(0x80 | (v & 0x3f));
			p += 2 + n;
		} else {
			return -1;
		}
	}
	out[w] = '\0';
	return w;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 1), *out = malloc(4 * size + 1), *back = malloc(size + 1);
	char *cut = malloc(4 * size + 1);
	size_t n, len, sz;

	memcpy(in, data, size);
	in[size] = '\0';
	len = strlen(in);
	n = text__terminal_escape(in, out, 4 * size + 1);
	FUZZ_CHECK(n == strlen(out) && n <= 4 * len, "length %zu for %zu bytes", n, len);
	FUZZ_CHECK(termsafe(out, n, 0), "unsafe output");
	FUZZ_CHECK(unescape(out, back) == (long)len && !memcmp(back, in, len),
		   "the escape does not name every byte");
	/* a shorter buffer: a prefix of the whole, ending between two characters */
	sz = size ? 1 + data[0] % (n + 1) : 1;
	n = text__terminal_escape(in, cut, sz);
	FUZZ_CHECK(n < sz && !memcmp(cut, out, n) && termsafe(cut, n, 0), "cut badly at %zu", sz);
	FUZZ_CHECK(unescape(cut, back) >= 0, "cut inside an escape");
	FUZZ_CHECK(text__columns(out) <= (int)strlen(out), "more columns than bytes");
	free(in);
	free(out);
	free(back);
	free(cut);
	return 0;
}
