/* text.c: UTF-8 validation and terminal escaping of untrusted strings. */
#include <stdio.h>
#include <string.h>

#include "text.h"

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates), or 0. */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;

		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;

		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 &&
				       (s[3] & 0xc0) == 0x80
			       ? 4
			       : 0;
	}
	return 0;
}

size_t text__utf8_sanitize(const char *src, char *dst, size_t dstsz)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t w = 0;

	if (!dstsz)
		return 0;
	while (*s) {
		size_t n = utf8_seq(s);
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
