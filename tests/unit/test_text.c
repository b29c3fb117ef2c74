/* test_text.c: the terminal escaper every text output goes through, and terminal columns. */
#include <stdint.h>
#include <stdio.h>

#include "check.h"
#include "pgsession.h"
#include "termsafe.h"
#include "text.h"

static char out[4096];

static const char *esc(const char *s)
{
	text__terminal_escape(s, out, sizeof(out));
	return out;
}

/* Terminal controls of every kind become visible escapes. */
static void test_controls(void)
{
	CHECK_STR(esc("/a\x1b[31mred\x1b[0m"), "/a\\x1b[31mred\\x1b[0m");
	CHECK_STR(esc("\x1b]0;pwned\x07"), "\\x1b]0;pwned\\x07");
	CHECK_STR(esc("a\rb\nc\td\x7f"), "a\\x0db\\x0ac\\x09d\\x7f");
	CHECK_STR(esc("\x01\x1f"), "\\x01\\x1f");
	/* C1 controls: 0x9b alone is CSI on 8-bit terminals (invalid UTF-8: a byte) */
	CHECK_STR(esc("/x\x9b" "31m"), "/x\\x9b31m");
	/* ... and U+009B as valid UTF-8 is CSI on terminals that take UTF-8 C1 */
	CHECK_STR(esc("/x\xc2\x9b" "31m\xc2\x85"), "/x\\u009b31m\\u0085");
	CHECK_STR(esc("back\\slash"), "back\\\\slash");
}

/* Bytes that are not UTF-8 are named one by one; valid printable UTF-8 stays. */
static void test_utf8(void)
{
	CHECK_STR(esc("/caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac/\xf0\x9f\x98\x80"),
		  "/caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac/\xf0\x9f\x98\x80");
	CHECK_STR(esc("\xff\xfe"), "\\xff\\xfe");
	CHECK_STR(esc("\xc0\xaf"), "\\xc0\\xaf");	  /* overlong '/' */
	CHECK_STR(esc("\xed\xa0\x80"), "\\xed\\xa0\\x80"); /* a surrogate */
	CHECK_STR(esc("\xe2\x82"), "\\xe2\\x82");	  /* cut short */
	CHECK_STR(esc("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80"); /* > U+10FFFF */
	CHECK_STR(esc("\xc3"), "\\xc3");
}

/* Bidi controls and invisible characters: what the operator sees must be what was sent. */
static void test_invisible(void)
{
	CHECK_STR(esc("/files/\xe2\x80\xaetxt.exe"), "/files/\\u202etxt.exe"); /* RLO */
	CHECK_STR(esc("\xe2\x81\xa6x\xe2\x81\xa9"), "\\u2066x\\u2069");	  /* isolates */
	CHECK_STR(esc("\xe2\x80\x8e\xe2\x80\x8f\xd8\x9c"), "\\u200e\\u200f\\u061c");
	CHECK_STR(esc("/a\xe2\x80\x8b" "b"), "/a\\u200bb");		/* zero width space */
	CHECK_STR(esc("\xef\xbb\xbf/x\xc2\xad"), "\\ufeff/x\\u00ad"); /* BOM, soft hyphen */
	CHECK_STR(esc("\xe2\x80\xa8"), "\\u2028");			/* line separator */
	CHECK_STR(esc("\xf3\xa0\x81\x81"), "\\U000e0041");		/* tag 'A' */
	CHECK_STR(esc("\xe3\x85\xa4"), "\\u3164");			/* Hangul filler */
}

/* A short buffer cuts between characters, never inside an escape or a sequence. */
static void test_cut_short(void)
{
	char small[8];

	CHECK_INT(text__terminal_escape("ab\x1b" "cd", small, 6), 2);
	CHECK_STR(small, "ab");
	CHECK_INT(text__terminal_escape("ab\x1b" "cd", small, 7), 6);
	CHECK_STR(small, "ab\\x1b");
	CHECK_INT(text__terminal_escape("a\xc3\xa9", small, 3), 1);
	CHECK_STR(small, "a");
	CHECK_INT(text__terminal_escape("a\xe2\x80\xae", small, 7), 1);
	CHECK_STR(small, "a");
	CHECK_INT(text__terminal_escape("abc", small, 1), 0);
	CHECK_STR(small, "");
	CHECK_INT(text__terminal_escape("abc", small, 0), 0);
}

/* Every 1-, 2- and 3-byte input (and 4-byte leads) comes out terminal-safe. */
static void test_exhaustive(void)
{
	unsigned char in[5] = {0};
	int bad = 0;

	for (unsigned a = 1; a < 256 && bad < 3; a++) {
		for (unsigned b = 0; b < 256 && bad < 3; b++) {
			for (unsigned c = 0; c < 256 && bad < 3; c += (a >= 0xe0 ? 1 : 255)) {
				in[0] = (unsigned char)a;
				in[1] = (unsigned char)b;
				in[2] = (unsigned char)c;
				in[3] = a >= 0xf0 ? 0x81 : 0;
				text__terminal_escape((const char *)in, out, sizeof(out));
				if (!termsafe(out, strlen(out), 0)) {
					printf("  unsafe output for %02x %02x %02x: %s\n", a, b, c, out);
					bad++;
				}
			}
		}
	}
	CHECK_INT(bad, 0);
}

static void test_columns(void)
{
	char s[32];

	CHECK_INT(text__columns("/caf\xc3\xa9"), 5);
	CHECK_INT(text__columns("\\x1b"), 4);
	snprintf(s, sizeof(s), "/caf\xc3\xa9/x");
	CHECK_INT(text__cut(s, 5), 6);
	CHECK_STR(s, "/caf\xc3\xa9");
	snprintf(s, sizeof(s), "/\xf0\x9f\x98\x80x");
	CHECK_INT(text__cut(s, 2), 5);
	CHECK_STR(s, "/\xf0\x9f\x98\x80");
	CHECK_INT(text__cut(s, 9), 5);
}

/* The PostgreSQL writer's log (rejected rows quote request bytes) goes through the escaper. */
static void test_pg_log_line(void)
{
	FILE *f = tmpfile(), *old = stderr;
	char buf[512] = "";
	size_t n;

	CHECK(f != NULL);
	if (!f)
		return;
	stderr = f;
	pgsess__log("row rejected (%s): %s", "22021", "GET /a\x1b]0;PWNED\x07\xc2\x9b\xff\n");
	stderr = old;
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	CHECK_STR(buf, "httplat: pg: row rejected (22021): GET /a\\x1b]0;PWNED\\x07\\u009b\\xff"
		       "\\x0a\n");
	CHECK(termsafe(buf, n, 1));
}

int main(void)
{
	RUN(test_controls);
	RUN(test_utf8);
	RUN(test_invisible);
	RUN(test_cut_short);
	RUN(test_exhaustive);
	RUN(test_columns);
	RUN(test_pg_log_line);
	return CHECK_DONE();
}
