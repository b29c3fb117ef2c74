/* agg.c: per-API and per-route statistics in a ring of interval histograms (see agg.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"

#define AGG_MAX_KEYS (AGG_MAX_APIS + AGG_MAX_ROUTES + 2)
#define AGG_TABLE 1024 /* open-addressing index, > 2 x AGG_MAX_KEYS, power of two */

const uint16_t agg_codes[AGG_NCODES] = {200, 201, 301, 400, 401, 403, 404, 500, 502, 503};

/* What one row saw in one interval (or all time). */
struct agg_slot {
	struct hist h; /* answered requests only */
	uint64_t requests;
	uint64_t errors;
	uint64_t status[AGG_NST];
};

struct agg_key {
	char api[RECORD_API_MAX];
	char route[RECORD_PATH_MAX + 1];
	int is_route;
	struct agg_slot *ring; /* agg.ring entries; agg.cur is the open one */
	struct agg_slot total; /* closed intervals since the start */
	struct hist *wait;     /* queue_ms + wait_ms per interval, as ring; NULL until seen */
	struct hist wait_total;
};

struct agg {
	int slots; /* intervals in the window */
	int ring;  /* slots + 1: the window plus the open interval */
	int cur;
	int filled; /* closed intervals in the ring, <= slots */
	double *secs;
	double total_secs;
	struct agg_key all;
	struct agg_key *keys[AGG_MAX_KEYS];
	int nkeys, napis, nroutes;
	short table[AGG_TABLE]; /* keys index + 1, 0 = free */
	uint64_t overflowed;
};

int agg__status_index(uint16_t status)
{
	if (status == 0)
		return AGG_ST_NORESP;
	for (int i = 0; i < AGG_NCODES; i++)
		if (agg_codes[i] == status)
			return i;
	return AGG_ST_OTHER;
}

static void slot__add(struct agg_slot *s, const struct record *r, int st)
{
	s->requests++;
	s->status[st]++;
	if (r->status >= 500 || !record__answered(r))
		s->errors++;
	if (record__answered(r))
		hist__add(&s->h, r->duration_ms);
}

static void slot__merge(struct agg_slot *dst, const struct agg_slot *src)
{
	hist__merge(&dst->h, &src->h);
	dst->requests += src->requests;
	dst->errors += src->errors;
	for (int i = 0; i < AGG_NST; i++)
		dst->status[i] += src->status[i];
}

static void period__fill(struct agg_period *p, const struct agg_slot *s, const struct hist *wait,
			 double secs)
{
	memset(p, 0, sizeof(*p));
	p->seconds = secs;
	p->requests = s->requests;
	p->answered = s->h.count;
	p->errors = s->errors;
	memcpy(p->status, s->status, sizeof(p->status));
	p->rps = secs > 0 ? (double)s->requests / secs : 0;
	p->p50 = hist__quantile(&s->h, 0.50);
	p->p95 = hist__quantile(&s->h, 0.95);
	p->p99 = hist__quantile(&s->h, 0.99);
	p->max = s->h.max_ms;
	p->mean = hist__mean(&s->h);
	p->err_pct = s->requests ? 100.0 * (double)s->errors / (double)s->requests : 0;
	if (wait) {
		p->waited = wait->count;
		p->wait_p95 = hist__quantile(wait, 0.95);
	}
}

static int key__init(struct agg_key *k, const struct agg *a)
{
	k->ring = calloc((size_t)a->ring, sizeof(*k->ring));
	return k->ring ? 0 : -ENOMEM;
}

struct agg *agg__new(int slots)
{
	struct agg *a;

	if (slots < 1 || slots > AGG_MAX_SLOTS) {
		errno = EINVAL;
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		goto fail;
	a->slots = slots;
	a->ring = slots + 1;
	a->secs = calloc((size_t)a->ring, sizeof(*a->secs));
	if (!a->secs || key__init(&a->all, a))
		goto fail;
	return a;
fail:
	agg__free(a);
	errno = ENOMEM;
	return NULL;
}

/* Deep copy of one row's rings into dst (already a copy of the struct). */
static int key__copy(struct agg_key *dst, const struct agg_key *src, int ring)
{
	dst->ring = malloc((size_t)ring * sizeof(*dst->ring));
	dst->wait = src->wait ? malloc((size_t)ring * sizeof(*dst->wait)) : NULL;
	if (!dst->ring || (src->wait && !dst->wait)) {
		free(dst->ring);
		free(dst->wait);
		dst->ring = NULL;
		dst->wait = NULL;
		return -ENOMEM;
	}
	memcpy(dst->ring, src->ring, (size_t)ring * sizeof(*dst->ring));
	if (src->wait)
		memcpy(dst->wait, src->wait, (size_t)ring * sizeof(*dst->wait));
	return 0;
}

struct agg *agg__clone(const struct agg *a)
{
	struct agg *c = malloc(sizeof(*c));

	if (!c)
		return NULL;
	*c = *a;
	c->nkeys = 0;
	c->all.ring = NULL; /* nothing of a's may be freed with c */
	c->all.wait = NULL;
	c->secs = malloc((size_t)a->ring * sizeof(*c->secs));
	if (!c->secs || key__copy(&c->all, &a->all, a->ring))
		goto fail;
	memcpy(c->secs, a->secs, (size_t)a->ring * sizeof(*c->secs));
	for (int i = 0; i < a->nkeys; i++) {
		struct agg_key *k = malloc(sizeof(*k));

		if (!k)
			goto fail;
		*k = *a->keys[i];
		if (key__copy(k, a->keys[i], a->ring)) {
			free(k);
			goto fail;
		}
		c->keys[c->nkeys++] = k;
	}
	return c;
fail:
	agg__free(c);
	errno = ENOMEM;
	return NULL;
}

void agg__free(struct agg *a)
{
	if (!a)
		return;
	for (int i = 0; i < a->nkeys; i++) {
		free(a->keys[i]->ring);
		free(a->keys[i]->wait);
		free(a->keys[i]);
	}
	free(a->all.ring);
	free(a->all.wait);
	free(a->secs);
	free(a);
}

static unsigned key__hash(const char *api, const char *route, int is_route)
{
	unsigned h = 2166136261u ^ (unsigned)is_route; /* FNV-1a */

	for (const char *p = api; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	h = (h ^ 0xff) * 16777619u; /* separator: ("a", "b/") != ("ab", "/") */
	for (const char *p = route; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h;
}

/* Finds the row, or creates it when create is set; NULL when absent, full or out of memory. */
static struct agg_key *agg__key(struct agg *a, const char *api, const char *route, int is_route,
				int create)
{
	unsigned i = key__hash(api, route, is_route) & (AGG_TABLE - 1);
	struct agg_key *k;

	for (; a->table[i]; i = (i + 1) & (AGG_TABLE - 1)) {
		k = a->keys[a->table[i] - 1];
		if (k->is_route == is_route && !strcmp(k->api, api) && !strcmp(k->route, route))
			return k;
	}
	if (!create || a->nkeys >= AGG_MAX_KEYS)
		return NULL;
	k = calloc(1, sizeof(*k));
	if (!k || key__init(k, a)) {
		free(k);
		return NULL;
	}
	snprintf(k->api, sizeof(k->api), "%s", api);
	snprintf(k->route, sizeof(k->route), "%s", route);
	k->is_route = is_route;
	a->keys[a->nkeys++] = k;
	a->table[i] = (short)a->nkeys;
	return k;
}

/* The row for (api, route), or the overflow row once that kind of row is at its cap. */
static struct agg_key *agg__row_for(struct agg *a, const char *api, const char *route, int is_route)
{
	int *n = is_route ? &a->nroutes : &a->napis;
	int cap = is_route ? AGG_MAX_ROUTES : AGG_MAX_APIS;
	int before = a->nkeys;
	struct agg_key *k = agg__key(a, api, route, is_route, *n < cap);

	if (k) {
		if (a->nkeys > before)
			(*n)++;
		return k;
	}
	a->overflowed++;
	return agg__key(a, AGG_OVERFLOW_API, is_route ? AGG_OVERFLOW_ROUTE : "", is_route, 1);
}

/* Counts r's queue_ms + wait_ms in k's open interval (the ring made at the first one). */
static void key__wait(struct agg_key *k, const struct agg *a, double ms)
{
	if (!k->wait && !(k->wait = calloc((size_t)a->ring, sizeof(*k->wait))))
		return; /* out of memory: the WAIT column stays "-" for this row */
	hist__add(&k->wait[a->cur], ms);
}

void agg__add(struct agg *a, const struct record *r)
{
	const char *api = r->api[0] ? r->api : "other";
	const char *route = r->route[0] ? r->route : r->path;
	int st = agg__status_index(r->status);
	struct agg_key *k;

	double wait = record__wait_ms(r);

	slot__add(&a->all.ring[a->cur], r, st);
	if (wait >= 0)
		key__wait(&a->all, a, wait);
	k = agg__row_for(a, api, "", 0);
	if (k) {
		slot__add(&k->ring[a->cur], r, st);
		if (wait >= 0)
			key__wait(k, a, wait);
	}
	k = agg__row_for(a, api, route, 1);
	if (k) {
		slot__add(&k->ring[a->cur], r, st);
		if (wait >= 0)
			key__wait(k, a, wait);
	}
}

static void key__close(struct agg_key *k, int cur, int next)
{
	slot__merge(&k->total, &k->ring[cur]);
	memset(&k->ring[next], 0, sizeof(k->ring[next]));
	if (k->wait) {
		hist__merge(&k->wait_total, &k->wait[cur]);
		hist__reset(&k->wait[next]);
	}
}

void agg__tick(struct agg *a, double seconds)
{
	int next = (a->cur + 1) % a->ring;

	if (!(seconds > 0))
		seconds = 1e-9; /* keeps rates finite; callers pass a measured, positive time */
	a->secs[a->cur] = seconds;
	a->total_secs += seconds;
	key__close(&a->all, a->cur, next);
	for (int i = 0; i < a->nkeys; i++)
		key__close(a->keys[i], a->cur, next);
	a->cur = next;
	if (a->filled < a->slots)
		a->filled++;
}

/* Ring index of the i-th closed interval, 0 = oldest. */
static int agg__closed(const struct agg *a, int i)
{
	return (a->cur - a->filled + i + a->ring) % a->ring;
}

static void agg__window(const struct agg *a, const struct agg_key *k, struct agg_slot *sum,
			struct hist *wait, double *secs)
{
	memset(sum, 0, sizeof(*sum));
	hist__reset(wait);
	*secs = 0;
	for (int i = 0; i < a->filled; i++) {
		int s = agg__closed(a, i);

		slot__merge(sum, &k->ring[s]);
		if (k->wait)
			hist__merge(wait, &k->wait[s]);
		*secs += a->secs[s];
	}
}

static void agg__fill_row(const struct agg *a, const struct agg_key *k, int id, struct agg_row *out)
{
	struct agg_slot win;
	struct hist wait;
	double secs;

	out->id = id;
	snprintf(out->api, sizeof(out->api), "%s", k->api);
	snprintf(out->route, sizeof(out->route), "%s", k->route);
	if (a->filled) {
		int last = agg__closed(a, a->filled - 1);

		period__fill(&out->p[AGG_LAST], &k->ring[last], k->wait ? &k->wait[last] : NULL,
			     a->secs[last]);
	} else {
		memset(&out->p[AGG_LAST], 0, sizeof(out->p[AGG_LAST])); /* nothing closed yet */
	}
	agg__window(a, k, &win, &wait, &secs);
	period__fill(&out->p[AGG_WINDOW], &win, &wait, secs);
	period__fill(&out->p[AGG_TOTAL], &k->total, &k->wait_total, a->total_secs);
}

int agg__rows(const struct agg *a, int routes, struct agg_row *out, int max)
{
	int n = 0;

	for (int i = 0; i < a->nkeys; i++) {
		if (a->keys[i]->is_route != !!routes)
			continue;
		if (n < max)
			agg__fill_row(a, a->keys[i], i, &out[n]);
		n++;
	}
	return n;
}

void agg__total(const struct agg *a, struct agg_row *out)
{
	agg__fill_row(a, &a->all, -1, out);
}

static const struct agg_key *agg__by_id(const struct agg *a, int id)
{
	if (id == -1)
		return &a->all;
	return id >= 0 && id < a->nkeys ? a->keys[id] : NULL;
}

int agg__hist(const struct agg *a, int id, struct hist *out)
{
	const struct agg_key *k = agg__by_id(a, id);
	struct agg_slot win;
	struct hist wait;
	double secs;

	if (!k)
		return -ENOENT;
	agg__window(a, k, &win, &wait, &secs);
	*out = win.h;
	return 0;
}

int agg__series(const struct agg *a, int id, struct agg_point *out, int max)
{
	const struct agg_key *k = agg__by_id(a, id);
	int n = 0;

	if (!k)
		return 0;
	for (int i = a->filled > max ? a->filled - max : 0; i < a->filled; i++, n++) {
		int s = agg__closed(a, i);
		const struct agg_slot *sl = &k->ring[s];

		out[n].requests = sl->requests;
		out[n].rps = a->secs[s] > 0 ? (double)sl->requests / a->secs[s] : 0;
		out[n].p95 = hist__quantile(&sl->h, 0.95);
		out[n].max = sl->h.max_ms;
	}
	return n;
}

int agg__slots(const struct agg *a)
{
	return a->slots;
}

int agg__filled(const struct agg *a)
{
	return a->filled;
}

uint64_t agg__overflowed(const struct agg *a)
{
	return a->overflowed;
}

