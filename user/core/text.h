/* text.h: making untrusted request bytes safe for a terminal or for JSON. */
#ifndef HTTPLAT_TEXT_H
#define HTTPLAT_TEXT_H

#include <stddef.h>
#include <stdint.h>

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
 * Copies src into dst for a terminal, the one escaper of every text output
 * (trace, top, alert check, logs that echo request bytes, routes or config):
 * printable ASCII and printable UTF-8 as they are; a backslash as "\\";
 * C0 controls (ESC, CR, LF, TAB...) and DEL as "\xNN"; each byte that is not
 * part of valid UTF-8 as "\xNN"; C1 controls, bidi controls, zero-width and
 * other invisible format characters (text__terminal_unsafe) as "\uNNNN" /
 * "\UNNNNNNNN". The output is valid UTF-8 with no control character, and
 * names every byte of src (the mapping can be undone). It is cut, if dst is
 * short, between two characters, never inside an escape. Returns its length.
 */
size_t text__terminal_escape(const char *src, char *dst, size_t dstsz);
/* Room that escaping n bytes can take ("\xNN" per byte at worst), terminator included. */
#define TEXT_ESCAPED_MAX(n) (4 * (n) + 1)

/*
 * Code points text__terminal_escape escapes: C0, DEL, C1; the bidi
 * embeddings, overrides, isolates and marks (they reorder what follows on
 * the line: a path could read as another, "Trojan Source"); zero-width and
 * invisible characters (spaces, joiners, fillers, the BOM, tag characters:
 * text an operator cannot see). ZWJ inside emoji is escaped too: the emoji
 * then shows as its parts, a price paid for never hiding bytes.
 */
int text__terminal_unsafe(uint32_t cp);

/*
 * Terminal columns of escaped text: one per character (East Asian wide
 * characters count one, so such routes pad a column short).
 */
int text__columns(const char *s);
/* Cuts s after cols characters (never inside a UTF-8 sequence); returns its length. */
size_t text__cut(char *s, int cols);

#endif
