/* text.c: UTF-8 validation and terminal escaping of untrusted strings. */
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

size_t text__terminal_escape(const char *src, char *dst, size_t dstsz)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t w = 0;

	if (!dstsz)
		return 0;
	for (; *s; s++) {
		char tmp[5];
		size_t n;

		if (*s >= 0x20 && *s < 0x7f && *s != '\\') {
			tmp[0] = (char)*s;
			n = 1;
		} else if (*s == '\\') {
			memcpy(tmp, "\\\\", 2);
			n = 2;
		} else {
			snprintf(tmp, sizeof(tmp), "\\x%02x", *s);
			n = 4;
		}
		if (w + n >= dstsz)
			break;
		memcpy(dst + w, tmp, n);
		w += n;
	}
	dst[w] = '\0';
	return w;
}
