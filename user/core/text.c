/* text.c: UTF-8 validation, the terminal escaper of every text output, terminal columns. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

size_t text__utf8_seq(const unsigned char *s, size_t left)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (left < n)
		return 0;
	/* second-byte ranges that rule out overlongs, surrogates and > U+10FFFF (RFC 3629) */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

size_t text__utf8_sanitize(const char *src, char *dst, size_t dstsz)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t w = 0;

	if (!dstsz)
		return 0;
	while (*s) {
		size_t n = text__utf8_seq(s, SIZE_MAX);
		const char *out = (const char *)s;

		if (!n) {
			out = "\xef\xbf\xbd"; /* U+FFFD */
			n = 3;
			s++;
		} else {
			s += n;
		}
		if (w + n >= dstsz)
			break;
		memcpy(dst + w, out, n);
		w += n;
	}
	dst[w] = '\0';
	return w;
}

/* The code point of the valid sequence s[0..n) (n from text__utf8_seq). */
static uint32_t utf8_cp(const unsigned char *s, size_t n)
{
	uint32_t cp = n == 1 ? s[0] : n == 2 ? s[0] & 0x1f : n == 3 ? s[0] & 0x0f : s[0] & 0x07;

	for (size_t i = 1; i < n; i++)
		cp = cp << 6 | (s[i] & 0x3f);
	return cp;
}

int text__terminal_unsafe(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || /* C0, DEL, C1 (0x9b is CSI) */
	       cp == 0xad || cp == 0x34f || cp == 0x61c || cp == 0x115f || cp == 0x1160 ||
	       cp == 0x17b4 || cp == 0x17b5 || cp == 0x180e || cp == 0x3164 || cp == 0xffa0 ||
	       (cp >= 0x200b && cp <= 0x200f) || /* zero width, LRM, RLM */
	       (cp >= 0x2028 && cp <= 0x202e) || /* line/paragraph separators, bidi embeddings */
	       (cp >= 0x2060 && cp <= 0x206f) || /* word joiner, invisible operators, isolates */
	       cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb) || cp == 0xfffe || cp == 0xffff ||
	       (cp >= 0xe0000 && cp <= 0xe007f); /* tags: invisible ASCII */
}

size_t text__terminal_escape(const char *src, char *dst, size_t dstsz)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t w = 0;

	if (!dstsz)
		return 0;
	while (*s) {
		size_t n = text__utf8_seq(s, SIZE_MAX), out;
		uint32_t cp = n ? utf8_cp(s, n) : 0;
		char tmp[12];

		if (!n) { /* not UTF-8: the byte */
			out = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", *s);
			n = 1;
		} else if (cp == '\\') {
			out = (size_t)snprintf(tmp, sizeof(tmp), "\\\\");
		} else if (!text__terminal_unsafe(cp)) {
			memcpy(tmp, s, n);
			out = n;
		} else if (cp < 0x80) {
			out = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", cp);
		} else {
			out = (size_t)snprintf(tmp, sizeof(tmp), cp > 0xffff ? "\\U%08x" : "\\u%04x",
					       cp);
		}
		if (w + out >= dstsz)
			break; /* never half an escape or half a character */
		memcpy(dst + w, tmp, out);
		w += out;
		s += n;
	}
	dst[w] = '\0';
	return w;
}

int text__columns(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	int cols = 0;

	while (*u) {
		size_t n = text__utf8_seq(u, SIZE_MAX);

		u += n ? n : 1;
		cols++;
	}
	return cols;
}

size_t text__cut(char *s, int cols)
{
	unsigned char *u = (unsigned char *)s;
	size_t at = 0;

	for (int c = 0; u[at] && c < cols; c++) {
		size_t n = text__utf8_seq(u + at, SIZE_MAX);

		at += n ? n : 1;
	}
	s[at] = '\0';
	return at;
}
