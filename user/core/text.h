/* text.h: making untrusted request bytes safe for a terminal or for JSON. */
#ifndef HTTPLAT_TEXT_H
#define HTTPLAT_TEXT_H

#include <stddef.h>

/*
 * Length of the character at s: 1 for ASCII (NUL included: callers decide
 * about it), 2-4 for a valid UTF-8 sequence that fits in left bytes, 0 for
 * anything else (stray continuation, overlong, surrogate, > U+10FFFF, cut).
 * Never reads past the first byte that breaks the sequence, so a
 * NUL-terminated string may pass SIZE_MAX as left.
 */
size_t text__utf8_seq(const unsigned char *s, size_t left);

/*
 * Copies src into dst as valid UTF-8: each byte of an invalid sequence
 * becomes U+FFFD. Returns the length written (dst is always terminated).
 */
size_t text__utf8_sanitize(const char *src, char *dst, size_t dstsz);

/*
 * Copies src into dst for a terminal: printable ASCII as is, everything
 * else (controls, escapes, bytes >= 0x80) as \xNN, backslash as \\.
 */
size_t text__terminal_escape(const char *src, char *dst, size_t dstsz);

#endif
