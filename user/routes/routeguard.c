/* routeguard.c: a trie of path segments that collapses busy positions and caps routes per API. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routeguard.h"

struct gnode {
	char *seg;
	struct gnode **kid;
	int nkid, cap;
	int collapsed; /* kid[0] is the {param} child every value goes to */
	int api;       /* a route ends here: index into api[]; -1 = not */
};

struct routeguard {
	struct routeguard_config c;
	struct gnode root;
	struct {
		char name[32];
		int routes;
	} api[ROUTEGUARD_APIS];
	int napi;
	struct routeguard_stats st;
};

void routeguard_config__defaults(struct routeguard_config *c)
{
	c->max_values = 10;
	c->max_routes = 100;
	c->max_nodes = 20000;
}

struct routeguard *routeguard__new(const struct routeguard_config *c)
{
	struct routeguard *g;

	if (c->max_values < 1 || c->max_routes < 1 || c->max_nodes < 1) {
		errno = EINVAL;
		return NULL;
	}
	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->c = *c;
	g->root.api = -1;
	return g;
}

/* Frees n's children (not n), giving back their routes and nodes. */
static void node__clear(struct routeguard *g, struct gnode *n)
{
	for (int i = 0; i < n->nkid; i++) {
		struct gnode *k = n->kid[i];

		node__clear(g, k);
		if (k->api >= 0) {
			g->api[k->api].routes--;
			g->st.routes--;
		}
		free(k->seg);
		free(k);
		g->st.nodes--;
	}
	free(n->kid);
	n->kid = NULL;
	n->nkid = n->cap = 0;
	n->collapsed = 0;
}

void routeguard__free(struct routeguard *g)
{
	if (!g)
		return;
	node__clear(g, &g->root);
	free(g);
}

static struct gnode *node__find(const struct gnode *n, const char *seg, size_t len)
{
	if (n->collapsed)
		return n->kid[0];
	for (int i = 0; i < n->nkid; i++)
		if (strlen(n->kid[i]->seg) == len && !memcmp(n->kid[i]->seg, seg, len))
			return n->kid[i];
	return NULL;
}

static struct gnode *node__add(struct routeguard *g, struct gnode *n, const char *seg, size_t len)
{
	struct gnode *k;

	if (g->st.nodes >= g->c.max_nodes)
		return NULL;
	if (n->nkid == n->cap) {
		int cap = n->cap ? n->cap * 2 : 4;
		struct gnode **nk = realloc(n->kid, (size_t)cap * sizeof(*nk));

		if (!nk)
			return NULL;
		n->kid = nk;
		n->cap = cap;
	}
	k = calloc(1, sizeof(*k));
	if (!k || !(k->seg = strndup(seg, len))) {
		free(k);
		return NULL;
	}
	k->api = -1;
	n->kid[n->nkid++] = k;
	g->st.nodes++;
	return k;
}

/* One value too many at this position: everything below it starts again under {param}. */
static struct gnode *node__collapse(struct routeguard *g, struct gnode *n)
{
	struct gnode *p;

	node__clear(g, n);
	p = node__add(g, n, ROUTEGUARD_PARAM, strlen(ROUTEGUARD_PARAM));
	if (!p)
		return NULL;
	n->collapsed = 1;
	g->st.collapses++;
	return p;
}

static int guard__api(struct routeguard *g, const char *api)
{
	for (int i = 0; i < g->napi; i++)
		if (!strcmp(g->api[i].name, api))
			return i;
	if (g->napi >= ROUTEGUARD_APIS)
		return -1;
	snprintf(g->api[g->napi].name, sizeof(g->api[0].name), "%s", api);
	return g->napi++;
}

static void out__put(char *out, size_t outsz, size_t *w, const char *s, size_t n)
{
	if (!outsz)
		return;
	if (*w + n >= outsz)
		n = outsz - 1 - *w;
	memcpy(out + *w, s, n);
	*w += n;
	out[*w] = '\0';
}

static int guard__capped(struct routeguard *g, char *out, size_t outsz)
{
	g->st.capped++;
	snprintf(out, outsz, "%s", ROUTEGUARD_OTHER);
	return 0;
}

int routeguard__route(struct routeguard *g, const char *api, const char *route, int learn,
		      char *out, size_t outsz)
{
	struct gnode *n = &g->root;
	const char *p = route[0] == '/' ? route + 1 : route;
	char buf[1024];
	size_t w = 0;
	int depth = 0, a;

	buf[0] = '\0';
	for (;;) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		struct gnode *k = node__find(n, p, len);

		if (!k) {
			if (!learn)
				return 0;
			if (depth > 0 && n->nkid >= g->c.max_values)
				k = node__collapse(g, n);
			else
				k = node__add(g, n, p, len);
			if (!k)
				return guard__capped(g, out, outsz);
		}
		out__put(buf, sizeof(buf), &w, "/", 1);
		out__put(buf, sizeof(buf), &w, k->seg, strlen(k->seg));
		n = k;
		depth++;
		if (!end)
			break;
		p = end + 1;
	}
	if (n->api < 0) {
		if (!learn)
			return 0;
		a = guard__api(g, api);
		if (a < 0 || g->api[a].routes >= g->c.max_routes)
			return guard__capped(g, out, outsz);
		n->api = a;
		g->api[a].routes++;
		g->st.routes++;
	}
	snprintf(out, outsz, "%s", buf);
	return 1;
}

void routeguard__stats(const struct routeguard *g, struct routeguard_stats *out)
{
	*out = g->st;
}
