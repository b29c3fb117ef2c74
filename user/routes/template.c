/* template.c: Starlette's compile_path and regex match, as a set-of-positions scan (no
 * backtracking). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "template.h"

static const struct {
	const char *name;
	enum template_kind kind;
} convertors[] = {
    {"str", TEMPLATE_STR},     {"path", TEMPLATE_PATH}, {"int", TEMPLATE_INT},
    {"float", TEMPLATE_FLOAT}, {"uuid", TEMPLATE_UUID},
};

static int is_name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_name_char(char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}

/* Length of "[a-zA-Z_][a-zA-Z0-9_]*" at s, 0 if none. */
static size_t name_len(const char *s)
{
	size_t n = 0;

	if (!is_name_start(s[0]))
		return 0;
	while (is_name_char(s[n]))
		n++;
	return n;
}

/*
 * PARAM_REGEX "{([a-zA-Z_][a-zA-Z0-9_]*)(:[a-zA-Z_][a-zA-Z0-9_]*)?}" at s:
 * returns the match length (0: no parameter here), the name and convertor spans.
 */
static size_t param_at(const char *s, size_t *nlen, const char **conv, size_t *clen)
{
	size_t n, c = 0;

	if (s[0] != '{')
		return 0;
	n = name_len(s + 1);
	if (!n)
		return 0;
	if (s[1 + n] == ':') {
		c = name_len(s + 2 + n);
		if (!c)
			return 0;
	}
	if (s[1 + n + (c ? c + 1 : 0)] != '}')
		return 0;
	*nlen = n;
	*conv = c ? s + 2 + n : "str";
	*clen = c ? c : 3;
	return 2 + n + (c ? c + 1 : 0);
}

static int add_part(struct template *t, enum template_kind kind, size_t off, size_t len)
{
	struct template_part *p;

	if (kind == TEMPLATE_LITERAL && len == 0)
		return 0;
	/* adjacent literal text is one part */
	if (kind == TEMPLATE_LITERAL && t->nparts &&
	    t->part[t->nparts - 1].kind == TEMPLATE_LITERAL &&
	    t->part[t->nparts - 1].off + t->part[t->nparts - 1].len == off) {
		t->part[t->nparts - 1].len += (uint16_t)len;
		return 0;
	}
	if (t->nparts >= TEMPLATE_MAX_PARTS)
		return -E2BIG;
	p = &t->part[t->nparts++];
	p->kind = (uint8_t)kind;
	p->off = (uint16_t)off;
	p->len = (uint16_t)len;
	if (kind != TEMPLATE_LITERAL)
		t->nparams++;
	return 0;
}

int template__compile(struct template *t, const char *src, char *err, size_t errsz)
{
	size_t slen = src ? strlen(src) : 0, i = 0, lit = 0, w = 0;
	int ret;

	memset(t, 0, sizeof(*t));
	if (!src || src[0] != '/') {
		snprintf(err, errsz, "a path template starts with '/'");
		return -EINVAL;
	}
	if (slen >= TEMPLATE_PATH_MAX) {
		snprintf(err, errsz, "template longer than %d bytes", TEMPLATE_PATH_MAX - 1);
		return -EINVAL;
	}
	t->source = strdup(src);
	t->format = malloc(slen + 1);
	if (!t->source || !t->format) {
		template__free(t);
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	while (i < slen) {
		const char *conv;
		size_t nlen, clen, m = param_at(src + i, &nlen, &conv, &clen);
		enum template_kind kind = TEMPLATE_LITERAL;

		if (!m) {
			t->format[w++] = src[i++];
			continue;
		}
		for (size_t k = 0; k < sizeof(convertors) / sizeof(convertors[0]); k++)
			if (strlen(convertors[k].name) == clen &&
			    !memcmp(convertors[k].name, conv, clen))
				kind = convertors[k].kind;
		if (kind == TEMPLATE_LITERAL) {
			snprintf(err, errsz, "unknown path convertor '%.*s' in %s", (int)clen, conv,
				 src);
			template__free(t);
			return -EINVAL;
		}
		if ((ret = add_part(t, TEMPLATE_LITERAL, lit, i - lit)) ||
		    (ret = add_part(t, kind, i + 1, nlen))) {
			snprintf(err, errsz, "more than %d parts in %s", TEMPLATE_MAX_PARTS, src);
			template__free(t);
			return ret;
		}
		/* path_format: "{name}" */
		t->format[w++] = '{';
		memcpy(t->format + w, src + i + 1, nlen);
		w += nlen;
		t->format[w++] = '}';
		i += m;
		lit = i;
	}
	t->format[w] = '\0';
	if ((ret = add_part(t, TEMPLATE_LITERAL, lit, i - lit))) {
		snprintf(err, errsz, "more than %d parts in %s", TEMPLATE_MAX_PARTS, src);
		template__free(t);
		return ret;
	}
	return 0;
}

void template__free(struct template *t)
{
	if (!t)
		return;
	free(t->source);
	free(t->format);
	t->source = t->format = NULL;
	t->nparts = 0;
}

int template__param(const struct template *t, const char *name, size_t len)
{
	for (int i = 0, k = 0; i < t->nparts; i++) {
		if (t->part[i].kind == TEMPLATE_LITERAL)
			continue;
		if (t->part[i].len == len && !memcmp(t->source + t->part[i].off, name, len))
			return k;
		k++;
	}
	return -1;
}

void template__set_path(struct template *t, int param)
{
	for (int i = 0, k = 0; i < t->nparts; i++) {
		if (t->part[i].kind == TEMPLATE_LITERAL)
			continue;
		if (k++ == param)
			t->part[i].kind = TEMPLATE_PATH;
	}
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_lhex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f');
}

static size_t digits_at(const char *s, size_t pos, size_t len)
{
	size_t n = 0;

	while (pos + n < len && is_digit(s[pos + n]))
		n++;
	return n;
}

static int uuid_at(const char *s, size_t pos, size_t len)
{
	if (len - pos < 36)
		return 0;
	for (int i = 0; i < 36; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[pos + i] != '-' : !is_lhex(s[pos + i]))
			return 0;
	}
	return 1;
}

/* marks [a, b] (inclusive, b clipped to len) in the difference array */
static void mark(int16_t *diff, size_t a, size_t b, size_t len)
{
	if (a > len || a > b)
		return;
	if (b > len)
		b = len;
	diff[a]++;
	diff[b + 1]--;
}

static int is_hex(char c)
{
	return is_lhex(c) || (c >= 'A' && c <= 'F');
}

/* Digits with single underscores between them (Python's int literal), from pos: its length. */
static size_t py_digits(const char *s, size_t pos, size_t len, int16_t *diff, int mark_ends)
{
	size_t n = 0;

	while (pos + n < len &&
	       (is_digit(s[pos + n]) || (s[pos + n] == '_' && n && is_digit(s[pos + n - 1]) &&
					 pos + n + 1 < len && is_digit(s[pos + n + 1])))) {
		n++;
		if (mark_ends && is_digit(s[pos + n - 1]))
			mark(diff, pos + n, pos + n, len);
	}
	return n;
}

/* Every end of a prefix at pos that int(), float() or uuid.UUID() would accept. */
static void valid_ends(int kind, const char *s, size_t pos, size_t len, int16_t *diff)
{
	size_t i = pos, n, hex = 0;

	if (kind != TEMPLATE_VALID_UUID && i < len && (s[i] == '+' || s[i] == '-'))
		i++;
	if (kind == TEMPLATE_VALID_INT) {
		py_digits(s, i, len, diff, 1);
		return;
	}
	if (kind == TEMPLATE_VALID_FLOAT) {
		static const char *const words[] = {"infinity", "inf", "nan"};
		size_t m = py_digits(s, i, len, diff, 1), f = 0;

		for (int w = 0; w < 3; w++)
			if (len - i >= strlen(words[w]) &&
			    !strncasecmp(s + i, words[w], strlen(words[w])))
				mark(diff, i + strlen(words[w]), i + strlen(words[w]), len);
		if (i + m < len && s[i + m] == '.') {
			if (m) /* "12." */
				mark(diff, i + m + 1, i + m + 1, len);
			f = py_digits(s, i + m + 1, len, diff, 1);
		}
		n = m + (i + m < len && s[i + m] == '.' ? 1 + f : 0);
		if ((m || f) && i + n < len && (s[i + n] == 'e' || s[i + n] == 'E')) {
			size_t e = i + n + 1;

			if (e < len && (s[e] == '+' || s[e] == '-'))
				e++;
			py_digits(s, e, len, diff, 1);
		}
		return;
	}
	/* uuid.UUID(): "urn:uuid:" and braces stripped, dashes ignored, 32 hex digits */
	if (len - i >= 9 && !strncasecmp(s + i, "urn:uuid:", 9))
		i += 9;
	if (i < len && s[i] == '{')
		i++;
	for (; i < len && (is_hex(s[i]) || s[i] == '-' || s[i] == '}'); i++) {
		hex += is_hex(s[i]);
		if (hex > 32)
			break;
		if (hex == 32)
			mark(diff, i + 1, i + 1, len);
	}
}

/*
 * The regex is a sequence of parts; instead of backtracking, keep the set of
 * positions the parts so far can end at (each convertor's regex ends at a
 * contiguous range of positions, or two for float), so a path of n bytes
 * costs O(parts x n) whatever the template.
 */
static int match(const struct template *t, const uint8_t *kinds, const char *s, size_t len)
{
	uint8_t cur[TEMPLATE_PATH_MAX + 1];
	int16_t diff[TEMPLATE_PATH_MAX + 2];
	int param = -1;

	if (len > TEMPLATE_PATH_MAX)
		return 0;
	/* most templates fail on their first literal: check it before the scan */
	if (t->nparts && t->part[0].kind == TEMPLATE_LITERAL &&
	    (t->part[0].len > len || memcmp(s, t->source + t->part[0].off, t->part[0].len)))
		return 0;
	memset(cur, 0, len + 1);
	cur[0] = 1;
	for (int i = 0; i < t->nparts; i++) {
		const struct template_part *p = &t->part[i];
		int kind = p->kind, any = 0;
		int acc = 0;

		if (kind != TEMPLATE_LITERAL && kinds && kinds[++param])
			kind = kinds[param];
		memset(diff, 0, (len + 2) * sizeof(diff[0]));
		for (size_t pos = 0; pos <= len; pos++) {
			size_t n, d;

			if (!cur[pos])
				continue;
			switch (kind) {
			case TEMPLATE_LITERAL:
				if (len - pos >= p->len &&
				    !memcmp(s + pos, t->source + p->off, p->len))
					mark(diff, pos + p->len, pos + p->len, len);
				break;
			case TEMPLATE_STR: /* [^/]+ */
				n = 0;
				while (pos + n < len && s[pos + n] != '/')
					n++;
				if (n)
					mark(diff, pos + 1, pos + n, len);
				break;
			case TEMPLATE_PATH: /* .* (no newline: re.DOTALL is not set) */
				n = 0;
				while (pos + n < len && s[pos + n] != '\n')
					n++;
				mark(diff, pos, pos + n, len);
				break;
			case TEMPLATE_INT: /* [0-9]+ */
				n = digits_at(s, pos, len);
				if (n)
					mark(diff, pos + 1, pos + n, len);
				break;
			case TEMPLATE_FLOAT: /* [0-9]+(\.[0-9]+)? */
				n = digits_at(s, pos, len);
				if (!n)
					break;
				mark(diff, pos + 1, pos + n, len);
				if (pos + n < len && s[pos + n] == '.' &&
				    (d = digits_at(s, pos + n + 1, len)))
					mark(diff, pos + n + 2, pos + n + 1 + d, len);
				break;
			case TEMPLATE_UUID:
				if (uuid_at(s, pos, len))
					mark(diff, pos + 36, pos + 36, len);
				break;
			default:
				valid_ends(kind, s, pos, len, diff);
			}
		}
		for (size_t pos = 0; pos <= len; pos++) {
			acc += diff[pos];
			cur[pos] = acc > 0;
			any |= cur[pos];
		}
		if (!any)
			return 0;
	}
	/* "$" matches at the end, or before a final newline */
	return cur[len] || (len && s[len - 1] == '\n' && cur[len - 1]);
}

int template__match(const struct template *t, const char *path, size_t len)
{
	return match(t, NULL, path, len);
}

int template__match_kinds(const struct template *t, const uint8_t *kinds, const char *path,
			  size_t len)
{
	return match(t, kinds, path, len);
}

static int hexval(char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t template__unquote(const char *in, size_t len, char *out, size_t outsz)
{
	size_t w = 0;

	for (size_t i = 0; i < len && w < outsz; i++) {
		int hi, lo;

		if (in[i] == '%' && i + 2 < len && (hi = hexval(in[i + 1])) >= 0 &&
		    (lo = hexval(in[i + 2])) >= 0) {
			out[w++] = (char)(hi << 4 | lo);
			i += 2;
			continue;
		}
		out[w++] = in[i];
	}
	return w;
}
