/* classify.c: route templating and API labelling; pure functions over path strings. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"

#define SEG_MAX 32

struct api_rule {
	char name[32];
	char prefix[128];
	size_t prefix_len;
};

struct classifier {
	char *routes[CLASSIFY_MAX_RULES];
	int nroutes;
	struct api_rule apis[CLASSIFY_MAX_RULES];
	int napis;
};

static const char *const default_apis[] = {"data", "model", "user"};

struct classifier *classifier__new(void)
{
	return calloc(1, sizeof(struct classifier));
}

void classifier__free(struct classifier *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->nroutes; i++)
		free(c->routes[i]);
	free(c);
}

int classifier__check_route(const char *pattern)
{
	return !pattern || pattern[0] != '/' || strlen(pattern) > 255 ? -EINVAL : 0;
}

int classifier__add_route(struct classifier *c, const char *pattern)
{
	if (classifier__check_route(pattern))
		return -EINVAL;
	if (c->nroutes >= CLASSIFY_MAX_RULES)
		return -ENOSPC;
	c->routes[c->nroutes] = strdup(pattern);
	if (!c->routes[c->nroutes])
		return -ENOMEM;
	c->nroutes++;
	return 0;
}

int classifier__check_api(const char *spec)
{
	const char *eq = spec ? strchr(spec, '=') : NULL;

	if (!eq || eq == spec || eq[1] != '/')
		return -EINVAL;
	if ((size_t)(eq - spec) >= sizeof(((struct api_rule *)0)->name) ||
	    strlen(eq + 1) >= sizeof(((struct api_rule *)0)->prefix))
		return -EINVAL;
	return 0;
}

int classifier__add_api(struct classifier *c, const char *spec)
{
	const char *eq = spec ? strchr(spec, '=') : NULL;
	struct api_rule *r;
	size_t nlen, plen;

	if (classifier__check_api(spec))
		return -EINVAL;
	nlen = (size_t)(eq - spec);
	plen = strlen(eq + 1);
	if (c->napis >= CLASSIFY_MAX_RULES)
		return -ENOSPC;
	r = &c->apis[c->napis++];
	memcpy(r->name, spec, nlen);
	r->name[nlen] = '\0';
	memcpy(r->prefix, eq + 1, plen + 1);
	/* "/model/" and "/model" mean the same prefix */
	while (plen > 1 && r->prefix[plen - 1] == '/')
		r->prefix[--plen] = '\0';
	r->prefix_len = plen;
	return 0;
}

static int is_hex(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

static int is_uuid(const char *s, size_t len)
{
	if (len != 36)
		return 0;
	for (size_t i = 0; i < len; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !is_hex(s[i]))
			return 0;
	}
	return 1;
}

int classifier__is_id_segment(const char *seg, size_t len)
{
	size_t digits = 0, hex = 0, alnum = 0, letters = 0, turns = 0;

	if (len == 0)
		return 0;
	if (is_uuid(seg, len))
		return 1;
	for (size_t i = 0; i < len; i++) {
		char ch = seg[i];

		if (ch >= '0' && ch <= '9')
			digits++;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))
			letters++;
		/* letter <-> digit changes: "q1a00007" has 3, "sha256" and "v2" 1 */
		if (i && ((ch >= '0' && ch <= '9') != (seg[i - 1] >= '0' && seg[i - 1] <= '9')))
			turns++;
		if (is_hex(ch))
			hex++;
		if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    ch == '-' || ch == '_')
			alnum++;
	}
	if (digits == len)
		return 1; /* 123 */
	if (hex == len && len >= 16 && digits > 0)
		return 1; /* sha1/md5-like hash */
	/* short generated ids that interleave letters and digits: q1a00007, a8f3k2 */
	if (digits + letters == len && len >= 6 && digits >= 2 && letters >= 2 && turns >= 3)
		return 1;
	/* long opaque tokens (base64url ids) that mix letters and digits */
	return alnum == len && len >= 20 && digits > 0 && digits < len;
}

/* Splits path into segment offsets; returns the count (capped at SEG_MAX). */
static int split_segments(const char *path, size_t off[SEG_MAX], size_t len[SEG_MAX])
{
	int n = 0;
	const char *p = path;

	while (*p && n < SEG_MAX) {
		const char *s;

		if (*p == '/')
			p++;
		s = p;
		while (*p && *p != '/')
			p++;
		if (p == s && !*p)
			break; /* trailing slash */
		off[n] = (size_t)(s - path);
		len[n] = (size_t)(p - s);
		n++;
	}
	return n;
}

static int pattern_matches(const char *pattern, const char *path)
{
	size_t po[SEG_MAX], pl[SEG_MAX], so[SEG_MAX], sl[SEG_MAX];
	int np = split_segments(pattern, po, pl);
	int ns = split_segments(path, so, sl);

	if (np != ns)
		return 0;
	for (int i = 0; i < np; i++) {
		const char *ps = pattern + po[i];

		if (pl[i] >= 2 && ps[0] == '{' && ps[pl[i] - 1] == '}')
			continue;
		if (pl[i] != sl[i] || memcmp(ps, path + so[i], pl[i]) != 0)
			return 0;
	}
	return 1;
}

static void copy_out(char *out, size_t outsz, const char *s, size_t n)
{
	if (!outsz)
		return;
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

void classifier__route(const struct classifier *c, const char *path, char *out, size_t outsz)
{
	size_t w = 0;
	const char *p = path;

	for (int i = 0; c && i < c->nroutes; i++) {
		if (pattern_matches(c->routes[i], path)) {
			copy_out(out, outsz, c->routes[i], strlen(c->routes[i]));
			return;
		}
	}
	if (!outsz)
		return;
	if (*p != '/') {
		copy_out(out, outsz, path, strlen(path));
		return;
	}
	while (*p && w + 1 < outsz) {
		const char *s;
		size_t n;

		/* p is at '/' */
		out[w++] = '/';
		s = ++p;
		while (*p && *p != '/')
			p++;
		n = (size_t)(p - s);
		if (classifier__is_id_segment(s, n)) {
			s = "{id}";
			n = 4;
		}
		if (w + n >= outsz)
			n = outsz - 1 - w;
		memcpy(out + w, s, n);
		w += n;
	}
	out[w] = '\0';
}

static int prefix_matches(const char *path, const char *prefix, size_t plen)
{
	if (plen == 1)
		return 1; /* "/" matches everything */
	return strncmp(path, prefix, plen) == 0 && (path[plen] == '\0' || path[plen] == '/');
}

void classifier__api(const struct classifier *c, const char *path, char *out, size_t outsz)
{
	for (int i = 0; c && i < c->napis; i++) {
		if (prefix_matches(path, c->apis[i].prefix, c->apis[i].prefix_len)) {
			copy_out(out, outsz, c->apis[i].name, strlen(c->apis[i].name));
			return;
		}
	}
	for (size_t i = 0; i < sizeof(default_apis) / sizeof(default_apis[0]); i++) {
		size_t n = strlen(default_apis[i]);

		if (path[0] == '/' && strncmp(path + 1, default_apis[i], n) == 0 &&
		    (path[n + 1] == '\0' || path[n + 1] == '/')) {
			copy_out(out, outsz, default_apis[i], n);
			return;
		}
	}
	copy_out(out, outsz, "other", 5);
}
