/* termsafe.h: the property every terminal output must have, for unit tests and fuzz targets. */
#ifndef HTTPLAT_TERMSAFE_H
#define HTTPLAT_TERMSAFE_H

#include <stddef.h>
#include <stdint.h>

#include "text.h"

/*
 * True when s[0..n) is valid UTF-8 without a code point text__terminal_unsafe
 * names (no ESC, no C0/C1 control, no DEL, no bidi or invisible character);
 * newline is allowed when lines is set (multi-line outputs).
 */
static inline int termsafe(const char *s, size_t n, int lines)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		size_t k = u[i] ? text__utf8_seq(u + i, n - i) : 0;
		uint32_t cp;

		if (!k)
			return 0;
		cp = k == 1 ? u[i] : k == 2 ? u[i] & 0x1f : k == 3 ? u[i] & 0x0f : u[i] & 0x07;
		for (size_t j = 1; j < k; j++)
			cp = cp << 6 | (u[i + j] & 0x3f);
		if (text__terminal_unsafe(cp) && !(lines && cp == '\n'))
			return 0;
		i += k;
	}
	return 1;
}

#endif
