/* pgrollup.c: per-batch 1-minute rollup: an open-addressing map of (minute, api, route, status). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgrollup.h"

#define SLOTS (PGROLLUP_MAX * 4) /* power of two, load <= 1/4 */
#define MINUTE_NS 60000000000LL

struct group {
	int64_t minute_ns;
	uint32_t hash;
	uint16_t status;
	uint8_t tls;
	char api[RECORD_API_MAX];
	char route[RECORD_PATH_MAX + 1];
	struct hist h;	/* answered requests only */
	struct hist w;	/* queue_ms + wait_ms, of every request where either is known */
	uint64_t count; /* all requests, status 0 included */
};

struct pgrollup {
	int16_t slot[SLOTS]; /* index into groups + 1; 0 = empty */
	int n;
	struct group *groups; /* PGROLLUP_MAX, allocated on first use */
};

struct pgrollup *pgrollup__new(void)
{
	return calloc(1, sizeof(struct pgrollup));
}

void pgrollup__free(struct pgrollup *ru)
{
	if (!ru)
		return;
	free(ru->groups);
	free(ru);
}

static uint32_t fnv1a(uint32_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static int64_t minute_of(int64_t ts_ns)
{
	int64_t m = ts_ns / MINUTE_NS;

	if (ts_ns % MINUTE_NS < 0)
		m--;
	return m * MINUTE_NS;
}

int pgrollup__add(struct pgrollup *ru, const struct record *r)
{
	int64_t minute = minute_of(r->ts_ns);
	uint8_t tls = r->tls ? 1 : 0;
	uint32_t h = fnv1a(fnv1a(2166136261u ^ (uint32_t)(minute / MINUTE_NS) ^ r->status ^
				     (uint32_t)tls << 16,
				 r->api),
			   r->route);
	uint32_t i = h & (SLOTS - 1);
	struct group *g;

	for (; ru->slot[i]; i = (i + 1) & (SLOTS - 1)) {
		g = &ru->groups[ru->slot[i] - 1];
		if (g->hash == h && g->minute_ns == minute && g->status == r->status &&
		    g->tls == tls && !strcmp(g->api, r->api) && !strcmp(g->route, r->route))
			goto found;
	}
	if (ru->n >= PGROLLUP_MAX)
		return -ENOSPC;
	if (!ru->groups) {
		ru->groups = malloc(PGROLLUP_MAX * sizeof(*ru->groups));
		if (!ru->groups)
			return -ENOMEM;
	}
	g = &ru->groups[ru->n];
	memset(g, 0, sizeof(*g));
	g->minute_ns = minute;
	g->hash = h;
	g->status = r->status;
	g->tls = tls;
	snprintf(g->api, sizeof(g->api), "%.*s", (int)sizeof(r->api) - 1, r->api);
	snprintf(g->route, sizeof(g->route), "%.*s", (int)sizeof(r->route) - 1, r->route);
	ru->slot[i] = (int16_t)(++ru->n);
found:
	g->count++;
	if (record__answered(r))
		hist__add(&g->h, r->duration_ms);
	if (r->queue_ms >= 0 || r->wait_ms >= 0) /* a NULL part counts as 0 when the other is known */
		hist__add(&g->w, (r->queue_ms >= 0 ? r->queue_ms : 0) + (r->wait_ms >= 0 ? r->wait_ms : 0));
	return 0;
}

int pgrollup__groups(const struct pgrollup *ru)
{
	return ru->n;
}

void pgrollup__span(const struct pgrollup *ru, int64_t *first_ns, int64_t *last_ns)
{
	*first_ns = *last_ns = 0;
	for (int i = 0; i < ru->n; i++) {
		int64_t m = ru->groups[i].minute_ns;

		if (!i || m < *first_ns)
			*first_ns = m;
		if (!i || m > *last_ns)
			*last_ns = m;
	}
}

static int copy_hist(struct pgbuf *b, const struct hist *h)
{
	int last = HIST_BUCKETS - 1;
	char *o;

	while (last > 0 && !h->bucket[last])
		last--;
	if (pgbuf__reserve(b, (size_t)(last + 1) * 11 + 4))
		return -ENOMEM;
	o = b->data + b->len;
	*o++ = '{';
	for (int i = 0; i <= last; i++) {
		uint32_t v = h->bucket[i];
		char tmp[12];
		int n = 0;

		if (i)
			*o++ = ',';
		do {
			tmp[n++] = (char)('0' + v % 10);
			v /= 10;
		} while (v);
		while (n)
			*o++ = tmp[--n];
	}
	*o++ = '}';
	b->len = (size_t)(o - b->data);
	return 0;
}

/* sum, max and histogram of h as three COPY fields, or three NULLs when h is empty. */
static int copy_stats(struct pgbuf *b, const struct hist *h, char end)
{
	char num[40];
	int err = 0;

	if (!h->count) {
		err = pgbuf__append(b, "\\N\t\\N\t\\N", 8);
		return err ?: pgbuf__append(b, &end, 1);
	}
	err = err ?: pgbuf__append(b, num, pgcopy__ms(num, sizeof(num), h->sum_ms, 0));
	err = err ?: pgbuf__append(b, "\t", 1);
	err = err ?: pgbuf__append(b, num, pgcopy__ms(num, sizeof(num), h->max_ms, 0));
	err = err ?: pgbuf__append(b, "\t", 1);
	err = err ?: copy_hist(b, h);
	return err ?: pgbuf__append(b, &end, 1);
}

int pgrollup__copy(const struct pgrollup *ru, struct pgbuf *b, const char *host)
{
	size_t start = b->len;
	int err = 0;

	for (int i = 0; i < ru->n && !err; i++) {
		const struct group *g = &ru->groups[i];
		char num[40];

		err = err ?: pgbuf__append(b, num, pgcopy__ts(num, sizeof(num), g->minute_ns));
		err = err ?: pgbuf__append(b, "\t", 1);
		err = err ?: pgcopy__text(b, host, strlen(host)) < 0;
		err = err ?: pgbuf__append(b, "\t", 1);
		err = err ?: pgcopy__text(b, g->api, strlen(g->api)) < 0;
		err = err ?: pgbuf__append(b, "\t", 1);
		err = err ?: pgcopy__text(b, g->route, strlen(g->route)) < 0;
		snprintf(num, sizeof(num), "\t%u\t%c\t%llu\t", g->status, g->tls ? 't' : 'f',
			 (unsigned long long)g->count);
		err = err ?: pgbuf__append(b, num, strlen(num));
		err = err ?: copy_stats(b, &g->h, '\t'); /* sum_ms, max_ms, hist */
		err = err ?: copy_stats(b, &g->w, '\n'); /* wait_sum_ms, wait_max_ms, wait_hist */
	}
	if (err) {
		b->len = start;
		return -ENOMEM;
	}
	return 0;
}

void pgrollup__reset(struct pgrollup *ru)
{
	memset(ru->slot, 0, sizeof(ru->slot));
	ru->n = 0;
}
