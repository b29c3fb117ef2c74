/* routes.c: per-port route tables (fetched, from files), --route patterns, the guard, the probes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "clock.h"
#include "discover.h"
#include "routes.h"

#define PROC_EVENTS 64
#define BACKOFF_MAX_MS 60000
#define FAILURES_MAX 8	 /* then wait for the next process event */
#define LISTEN_WAIT_MS 30000 /* a new server may import for long before it listens */

struct port_state {
	uint16_t port;
	int pid;		      /* a process serving it */
	struct route_table *table;    /* NULL: no document */
	int shared;		      /* table belongs to a --routes file */
	int fetch;		      /* documents may be fetched for this port */
	char path[DOCFETCH_PATH_MAX]; /* what to GET */
	size_t path_len;	      /* its part before any '?' */
	int inflight, again;
	int64_t started_ms; /* when the fetch in flight was submitted */
	int64_t due_ms;	    /* next fetch, -1 = none */
	int failures;
	int tls;
	int said; /* what was last reported: 0 nothing, 1 document, 2 none, 3 failure */
	char source[DOCFETCH_PATH_MAX + 96];
};

struct proc_event {
	int pid;
	int64_t at_ms;	/* when it happened */
	int64_t due_ms; /* when to look at its ports */
};

struct routes {
	struct routes_config c;
	const struct classifier *cl;
	struct docfetch *fetch;
	struct route_table *patterns; /* --route */
	struct route_table *files[ROUTES_PORT_OPTS];
	struct port_state *ports[ROUTES_MAX_PORTS];
	int nports;
	struct proc_event ev[PROC_EVENTS];
	int nev;
	struct routeguard *guard;
	struct routes_stats st;
};

void routes_config__defaults(struct routes_config *c)
{
	memset(c, 0, sizeof(*c));
	routeguard_config__defaults(&c->guard);
	docfetch_config__defaults(&c->fetch);
	c->settle_ms = 1000;
	c->startup_wait_ms = 2000;
}

static int port_opt__parse(struct routes_port_opt *o, const char *spec, int want_slash, char *err,
			   size_t errsz)
{
	const char *eq = spec ? strchr(spec, '=') : NULL, *v = spec;
	long port = 0;

	if (eq && eq > spec && strspn(spec, "0123456789") == (size_t)(eq - spec)) {
		port = strtol(spec, NULL, 10);
		if (port < 1 || port > 65535) {
			snprintf(err, errsz, "invalid port in '%s'", spec);
			return -EINVAL;
		}
		v = eq + 1;
	}
	if (!v || !*v || strlen(v) >= sizeof(o->value) ||
	    (want_slash && v[0] != '/' && strcmp(v, "none"))) {
		snprintf(err, errsz, "invalid '%s': want [PORT=]%s", spec ? spec : "",
			 want_slash ? "/PATH or none" : "FILE");
		return -EINVAL;
	}
	if (want_slash && strlen(v) >= DOCFETCH_PATH_MAX) {
		snprintf(err, errsz, "path too long in '%s'", spec);
		return -EINVAL;
	}
	o->port = (uint16_t)port;
	snprintf(o->value, sizeof(o->value), "%s", v);
	return 0;
}

static int opts__add(struct routes_port_opt *list, int *n, const char *spec, int want_slash,
		     char *err, size_t errsz)
{
	struct routes_port_opt o;
	int ret = port_opt__parse(&o, spec, want_slash, err, errsz);

	if (ret)
		return ret;
	/* a later setting for the same port replaces the earlier one (flags over the file) */
	for (int i = 0; i < *n; i++)
		if (list[i].port == o.port) {
			list[i] = o;
			return 0;
		}
	if (*n >= ROUTES_PORT_OPTS) {
		snprintf(err, errsz, "more than %d settings", ROUTES_PORT_OPTS);
		return -ENOSPC;
	}
	list[(*n)++] = o;
	return 0;
}

int routes_config__add_openapi(struct routes_config *c, const char *spec, char *err, size_t errsz)
{
	return opts__add(c->openapi, &c->nopenapi, spec, 1, err, errsz);
}

int routes_config__add_file(struct routes_config *c, const char *spec, char *err, size_t errsz)
{
	return opts__add(c->file, &c->nfile, spec, 0, err, errsz);
}

/* The setting for port: its own, else the one for every port, else -1. */
static int opts__find(const struct routes_port_opt *list, int n, uint16_t port)
{
	int any = -1;

	for (int i = 0; i < n; i++) {
		if (list[i].port == port)
			return i;
		if (!list[i].port)
			any = i;
	}
	return any;
}

static char *file__read(const char *path, size_t *len, char *err, size_t errsz)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t n = 0, cap = 0;

	if (!f) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		size_t got;

		if (n == cap) {
			char *nb;

			cap = cap ? cap * 2 : 65536;
			if (cap > ROUTE_DOC_MAX + 1)
				cap = ROUTE_DOC_MAX + 1;
			if (n == cap) {
				snprintf(err, errsz, "%s: larger than %u MiB", path,
					 ROUTE_DOC_MAX >> 20);
				goto fail;
			}
			nb = realloc(buf, cap);
			if (!nb) {
				snprintf(err, errsz, "%s: out of memory", path);
				goto fail;
			}
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		snprintf(err, errsz, "%s: read error", path);
		goto fail;
	}
	fclose(f);
	*len = n;
	return buf;
fail:
	free(buf);
	fclose(f);
	return NULL;
}

void routes__free(struct routes *rt)
{
	if (!rt)
		return;
	docfetch__free(rt->fetch);
	for (int i = 0; i < rt->nports; i++) {
		if (!rt->ports[i]->shared)
			route_table__free(rt->ports[i]->table);
		free(rt->ports[i]);
	}
	for (int i = 0; i < ROUTES_PORT_OPTS; i++)
		route_table__free(rt->files[i]);
	route_table__free(rt->patterns);
	routeguard__free(rt->guard);
	free(rt);
}

struct routes *routes__new(const struct routes_config *c, const struct classifier *cl, char *err,
			   size_t errsz)
{
	struct routes *rt = calloc(1, sizeof(*rt));
	int may_fetch = 0;
	char why[200];

	if (!rt) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	rt->c = *c;
	rt->cl = cl;
	rt->guard = routeguard__new(&c->guard);
	rt->patterns = route_table__new();
	if (!rt->guard || !rt->patterns) {
		snprintf(err, errsz, "invalid route limits (each must be at least 1)");
		goto fail;
	}
	for (int i = 0; i < c->npattern; i++)
		if (route_table__add(rt->patterns, c->pattern[i], 0, why, sizeof(why))) {
			snprintf(err, errsz, "--route %s: %s", c->pattern[i], why);
			goto fail;
		}
	for (int i = 0; i < c->nfile; i++) {
		size_t len;
		char *json = file__read(c->file[i].value, &len, err, errsz);

		if (!json)
			goto fail;
		if (route_table__parse(json, len, &rt->files[i], why, sizeof(why))) {
			snprintf(err, errsz, "%s: %s", c->file[i].value, why);
			free(json);
			goto fail;
		}
		free(json);
	}
	/* a thread only when some port may fetch: every port has a file or "none" otherwise */
	may_fetch = opts__find(c->file, c->nfile, 0) < 0;
	for (int i = 0; i < c->nopenapi; i++)
		if (!c->openapi[i].port && !strcmp(c->openapi[i].value, "none"))
			may_fetch = 0;
	for (int i = 0; i < c->nopenapi; i++)
		if (c->openapi[i].port && strcmp(c->openapi[i].value, "none") &&
		    opts__find(c->file, c->nfile, c->openapi[i].port) < 0)
			may_fetch = 1;
	if (may_fetch) {
		rt->fetch = docfetch__new(&c->fetch);
		if (!rt->fetch) {
			snprintf(err, errsz, "cannot start fetching route documents: %s",
				 strerror(errno));
			goto fail;
		}
	}
	return rt;
fail:
	routes__free(rt);
	return NULL;
}

static struct port_state *port__find(const struct routes *rt, uint16_t port)
{
	for (int i = 0; i < rt->nports; i++)
		if (rt->ports[i]->port == port)
			return rt->ports[i];
	return NULL;
}

/* With --port, other servers of the traced processes are none of our business. */
static int port__selected(const struct routes *rt, uint16_t port)
{
	for (int i = 0; i < rt->c.nonly_ports; i++)
		if (rt->c.only_ports[i] == port)
			return 1;
	return !rt->c.nonly_ports;
}

static struct port_state *port__get(struct routes *rt, uint16_t port, int pid)
{
	struct port_state *st = port__find(rt, port);
	int f, o;

	if (st || rt->nports >= ROUTES_MAX_PORTS || !port__selected(rt, port))
		return st;
	st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->port = port;
	st->pid = pid;
	st->due_ms = -1;
	f = opts__find(rt->c.file, rt->c.nfile, port);
	o = opts__find(rt->c.openapi, rt->c.nopenapi, port);
	snprintf(st->path, sizeof(st->path), "%s",
		 o >= 0 ? rt->c.openapi[o].value : ROUTES_DEFAULT_PATH);
	st->path_len = strcspn(st->path, "?");
	if (f >= 0) {
		st->table = rt->files[f];
		st->shared = 1;
		snprintf(st->source, sizeof(st->source), "%s", rt->c.file[f].value);
	} else {
		st->fetch = rt->fetch && strcmp(st->path, "none");
		st->due_ms = st->fetch ? 0 : -1;
	}
	rt->ports[rt->nports++] = st;
	return st;
}

void routes__port(struct routes *rt, uint16_t port, int pid, int64_t now_ms)
{
	struct port_state *st = rt && port ? port__get(rt, port, pid) : NULL;

	(void)now_ms;
	if (st && pid > 0)
		st->pid = pid;
}

/* Fetch again for something that happened at event_ms (a fetch begun since reflects it). */
static void port__schedule(struct port_state *st, int64_t now_ms, int64_t event_ms)
{
	if (!st->fetch)
		return;
	st->failures = 0;
	if (st->inflight) {
		st->again |= st->started_ms < event_ms;
		return;
	}
	if (st->due_ms < 0 || st->due_ms > now_ms)
		st->due_ms = now_ms;
}

void routes__proc_event(struct routes *rt, int pid, int64_t now_ms, int delay_ms)
{
	int64_t due;

	if (!rt || !rt->fetch || pid <= 0)
		return;
	due = now_ms + (delay_ms < 0 ? rt->c.settle_ms : delay_ms);
	for (int i = 0; i < rt->nev; i++)
		if (rt->ev[i].pid == pid) {
			rt->ev[i].at_ms = now_ms;
			rt->ev[i].due_ms = due;
			return;
		}
	if (rt->nev < PROC_EVENTS)
		rt->ev[rt->nev++] = (struct proc_event){pid, now_ms, due};
}

static void port__say(const struct routes *rt, struct port_state *st, int what, const char *text)
{
	if (st->said == what && !rt->c.verbose)
		return;
	st->said = what;
	fprintf(stderr, "httplat: routes for port %u: %s\n", st->port, text);
}

static void result__apply(struct routes *rt, struct docfetch_result *res, int64_t now_ms)
{
	struct port_state *st = port__find(rt, res->job.port);
	char line[1024];

	rt->st.fetches++;
	if (!st) {
		route_table__free(res->table);
		return;
	}
	st->inflight = 0;
	switch (res->outcome) {
	case DOCFETCH_OK:
		route_table__inherit(res->table, st->table);
		if (!st->table || st->table->n != res->table->n || st->said != 1 || rt->c.verbose) {
			snprintf(line, sizeof(line), "%d templates%s%s from %s (%.0f ms)",
				 res->table->n, res->table->title[0] ? " of " : "",
				 res->table->title, res->url, res->ms);
			st->said = 0;
			port__say(rt, st, 1, line);
		}
		route_table__free(st->table);
		st->table = res->table;
		snprintf(st->source, sizeof(st->source), "%s", res->url);
		st->failures = 0;
		break;
	case DOCFETCH_NOT_FOUND:
		/* the app serves no document (any more): templates of an older version would lie */
		route_table__free(st->table);
		st->table = NULL;
		snprintf(line, sizeof(line),
			 "no OpenAPI document at %s (404): routes from the paths, bounded",
			 res->url);
		port__say(rt, st, 2, line);
		break;
	default:
		rt->st.fetch_failures++;
		st->failures++;
		snprintf(line, sizeof(line), "cannot read %s: %s%s",
			 res->url[0] ? res->url : st->path, res->error,
			 st->table ? " (keeping the document read before)" : "");
		port__say(rt, st, 3, line);
		if (st->failures < FAILURES_MAX) {
			int64_t wait = 1000LL << (st->failures - 1);

			st->due_ms = now_ms + (wait > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : wait);
		}
	}
	if (st->again) {
		st->again = 0;
		st->due_ms = now_ms;
	}
}

static void events__due(struct routes *rt, int64_t now_ms)
{
	for (int i = rt->nev - 1; i >= 0; i--) {
		unsigned short ports[DISCOVER_MAX_PORTS];
		int pid = rt->ev[i].pid, n;
		int64_t at = rt->ev[i].at_ms;

		if (rt->ev[i].due_ms > now_ms)
			continue;
		n = discover__listen_ports(rt->c.fetch.proc_root, pid, ports, DISCOVER_MAX_PORTS);
		if (n == 0 && now_ms - at < LISTEN_WAIT_MS) {
			/* alive but not listening yet (a restarted app still importing): look again */
			rt->ev[i].due_ms = now_ms + 1000;
			continue;
		}
		rt->ev[i] = rt->ev[--rt->nev];
		for (int k = 0; k < n; k++) {
			struct port_state *st = port__get(rt, ports[k], pid);

			if (!st)
				continue;
			st->pid = pid;
			port__schedule(st, now_ms, at);
		}
	}
}

void routes__poll(struct routes *rt, int64_t now_ms)
{
	struct docfetch_result res;

	if (!rt || !rt->fetch)
		return;
	while (docfetch__take(rt->fetch, &res))
		result__apply(rt, &res, now_ms);
	events__due(rt, now_ms);
	for (int i = 0; i < rt->nports; i++) {
		struct port_state *st = rt->ports[i];
		struct docfetch_job job = {.port = st->port, .pid = st->pid, .tls_first = st->tls};

		if (!st->fetch || st->inflight || st->due_ms < 0 || st->due_ms > now_ms)
			continue;
		snprintf(job.path, sizeof(job.path), "%s", st->path);
		if (docfetch__submit(rt->fetch, &job)) {
			st->due_ms = now_ms + 100; /* the queue is full: soon again */
			continue;
		}
		st->inflight = 1;
		st->started_ms = now_ms;
		st->due_ms = -1;
	}
}

void routes__settle(struct routes *rt, int timeout_ms, int64_t now_ms)
{
	int64_t start = clock__mono_ms(), left;

	if (!rt || !rt->fetch)
		return;
	if (timeout_ms < 0)
		timeout_ms = rt->c.startup_wait_ms;
	routes__poll(rt, now_ms);
	while (docfetch__pending(rt->fetch) &&
	       (left = timeout_ms - (clock__mono_ms() - start)) > 0) {
		docfetch__wait(rt->fetch, (int)left);
		routes__poll(rt, now_ms + (clock__mono_ms() - start));
	}
}

int routes__set_document(struct routes *rt, uint16_t port, const char *json, size_t len, char *err,
			 size_t errsz)
{
	struct port_state *st = port__get(rt, port, 0);
	struct route_table *t;
	int ret;

	if (!st) {
		snprintf(err, errsz, "port %u is not followed (not a --port, or too many ports)",
			 port);
		return -ENOSPC;
	}
	if ((ret = route_table__parse(json, len, &t, err, errsz)))
		return ret;
	route_table__inherit(t, st->table);
	if (!st->shared)
		route_table__free(st->table);
	st->table = t;
	st->shared = 0;
	st->fetch = 0;
	return 0;
}

/* "httplat-probe=<16 hex>" at the end of the query, alone or after '&'. */
static int query__is_probe(const char *q)
{
	size_t n = strlen(q), k = strlen(DOCFETCH_PROBE_KEY) + 1 + 16;
	const char *p;

	if (n < k)
		return 0;
	p = q + n - k;
	if (p != q && p[-1] != '&')
		return 0;
	if (strncmp(p, DOCFETCH_PROBE_KEY "=", k - 16))
		return 0;
	return strspn(p + k - 16, "0123456789abcdef") == 16;
}

static int record__is_probe(const struct port_state *st, const struct record *r)
{
	/* a port we do not fetch for may still see another httplat's probes, at the default path */
	int own = st && strcmp(st->path, "none");
	size_t plen = own ? st->path_len : strlen(ROUTES_DEFAULT_PATH);
	const char *path = own ? st->path : ROUTES_DEFAULT_PATH;

	return !strcmp(r->method, "GET") && strlen(r->path) == plen &&
	       !memcmp(r->path, path, plen) && query__is_probe(r->query);
}

static void route__set(struct record *r, const char *s)
{
	snprintf(r->route, sizeof(r->route), "%s", s);
}

/* The app's answer to r, when it has a document: 1 and r->route set, or 0 (not routed by it). */
static int route__from_table(struct routes *rt, struct route_table *t, struct record *r,
			     const char *dec, size_t len)
{
	struct route_hit hit;

	if (!route_table__match(t, r->method, dec, len, r->status, &hit) && r->status &&
	    r->status != 404 &&
	    route_table__learn_path(t, r->method, dec, len, r->status == 405) >= 0) {
		/* answered, yet no template matched as a single segment: a {name:path} */
		rt->st.learned++;
		route_table__match(t, r->method, dec, len, r->status, &hit);
	}
	/* Starlette < 0.33 does not take the root path off: there such a path is a 404 */
	if (hit.kind == ROUTE_NONE || (hit.stripped && r->status == 404))
		return 0;
	route__set(r, t->e[hit.index].t.format);
	rt->st.templated++;
	return 1;
}

int routes__classify(struct routes *rt, struct record *r, int64_t now_ms)
{
	struct port_state *st;
	char dec[TEMPLATE_PATH_MAX], guess[RECORD_PATH_MAX + 1], out[RECORD_PATH_MAX + 1];
	struct route_hit hit;
	const char *p = r->path;
	size_t len;

	(void)now_ms;
	if (!rt)
		return 0;
	st = port__get(rt, r->lport, (int)r->pid);
	if (st && r->tls)
		st->tls = 1;
	if (record__is_probe(st, r)) {
		rt->st.probes++;
		return 1;
	}
	/* absolute-form target "http://host/x": the path part, as httptools gives it */
	if (p[0] != '/' && strstr(p, "://")) {
		const char *slash = strchr(strstr(p, "://") + 3, '/');

		p = slash ? slash : "";
	}
	if (p[0] != '/') {
		route__set(r, ROUTES_UNMATCHED); /* "*", garbage: nothing routes it */
		rt->st.unmatched++;
		return 0;
	}
	len = template__unquote(p, strlen(p), dec, sizeof(dec));
	if (route_table__match(rt->patterns, r->method, dec, len, 0, &hit)) {
		route__set(r, rt->patterns->e[hit.index].t.format);
		rt->st.templated++;
		return 0;
	}
	if (st && st->table) {
		if (route__from_table(rt, st->table, r, dec, len))
			return 0;
		if (r->status == 404) {
			route__set(r, ROUTES_UNMATCHED);
			rt->st.unmatched++;
			return 0;
		}
	}
	/* no template: today's id heuristics, bounded by the guard; a 404 teaches nothing */
	classifier__route(rt->cl, p, guess, sizeof(guess));
	if (routeguard__route(rt->guard, r->api[0] ? r->api : "other", guess, r->status != 404, out,
			      sizeof(out)) ||
	    r->status != 404) {
		route__set(r, out);
		rt->st.guessed++;
		return 0;
	}
	route__set(r, ROUTES_UNMATCHED);
	rt->st.unmatched++;
	return 0;
}

void routes__stats(const struct routes *rt, struct routes_stats *out)
{
	if (!rt) {
		memset(out, 0, sizeof(*out));
		return;
	}
	*out = rt->st;
	out->documents = 0;
	for (int i = 0; i < rt->nports; i++)
		out->documents += rt->ports[i]->table != NULL;
	routeguard__stats(rt->guard, &out->guard);
}

void routes__summary(const struct routes *rt, char *out, size_t outsz)
{
	struct routes_stats st;
	int n = 0;

	routes__stats(rt, &st);
	if (outsz)
		out[0] = '\0';
	if (st.probes)
		n = snprintf(out, outsz, ", %llu document request%s (httplat's own) not recorded",
			     (unsigned long long)st.probes, st.probes == 1 ? "" : "s");
	if (st.guard.capped && n >= 0 && (size_t)n < outsz)
		snprintf(out + n, outsz - (size_t)n, ", %llu named '%s' past the route cap",
			 (unsigned long long)st.guard.capped, ROUTEGUARD_OTHER);
}
