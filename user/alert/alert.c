/* alert.c: sliding-window alert rules per API with hysteresis, hold, reminders and escalation. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "hist.h"

#define NS_PER_S 1000000000LL
#define ALERT_BUCKETS 60 /* the window is kept as this many slices at most */
#define ALERT_MAX_APIS 64

/* One slice of the window: requests that completed during it. */
struct bucket {
	int64_t idx; /* completion time / slice width; -1 = unused */
	struct hist h;
	struct hist wait; /* queue_ms + wait_ms of the requests where the kernel knew them */
	uint64_t answered;
	uint64_t err5xx;
	uint64_t noresp;
};

/* A small ring of the latest matching requests, quoted in messages. */
struct sample_ring {
	struct alert_sample s[ALERT_SAMPLES];
	int next;
	int n;
};

/* The state of one (rule, api) alert; its severity says which (rule, api, severity) fires. */
struct slot {
	enum alert_severity sev;
	int64_t since_ns;
	int64_t last_sent_ns;
	int64_t clear_since_ns; /* condition below the firing level since; 0 = not */
	uint64_t count;
	int64_t last_hit_ns; /* http_500: last 500 seen */
};

struct api_slot {
	char api[RECORD_API_MAX];
	double warn_ms, crit_ms;
	struct bucket *b; /* nb slices */
	struct sample_ring slow, err, noresp, e500, waited;
	struct slot rule[ALERT_RULE_COUNT];
};

struct alert_engine {
	struct alert_config c;
	alert_emit_fn emit;
	void *ctx;
	int64_t width_ns; /* slice width */
	int nb;		  /* slices in the window */
	int64_t now_ns;
	struct api_slot *apis[ALERT_MAX_APIS];
	int napis;
	struct alert_engine_stats st;
};

static const char *const rule_names[ALERT_RULE_COUNT] = {"latency",	"http_500",
							 "error_ratio", "no_response",
							 "wait"};
static const char *const stat_names[] = {"p50", "p95", "p99", "max", "mean"};
static const char *const sev_names[] = {"none", "warning", "critical"};
static const char *const state_names[] = {"firing", "reminder", "resolved"};

const char *alert_rule__name(enum alert_rule r)
{
	return r < ALERT_RULE_COUNT ? rule_names[r] : "?";
}

static int name__find(const char *const *names, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return i;
	return -EINVAL;
}

int alert_rule__parse(const char *name, enum alert_rule *out)
{
	int i = name__find(rule_names, ALERT_RULE_COUNT, name);

	if (i < 0)
		return i;
	*out = (enum alert_rule)i;
	return 0;
}

const char *alert_stat__name(enum alert_stat s)
{
	return (unsigned)s < sizeof(stat_names) / sizeof(stat_names[0]) ? stat_names[s] : "?";
}

int alert_stat__parse(const char *name, enum alert_stat *out)
{
	int i = name__find(stat_names, sizeof(stat_names) / sizeof(stat_names[0]), name);

	if (i < 0)
		return i;
	*out = (enum alert_stat)i;
	return 0;
}

const char *alert_severity__name(enum alert_severity s)
{
	return (unsigned)s <= ALERT_SEV_CRITICAL ? sev_names[s] : "?";
}

const char *alert_state__name(enum alert_state s)
{
	return (unsigned)s <= ALERT_RESOLVED ? state_names[s] : "?";
}

void alert_config__defaults(struct alert_config *c)
{
	memset(c, 0, sizeof(*c));
	c->rules = 1u << ALERT_RULE_LATENCY | 1u << ALERT_RULE_HTTP_500;
	c->warn_ms = 500;
	c->crit_ms = 1000;
	c->stat = ALERT_STAT_P95;
	c->window_s = 60;
	c->min_samples = 5;
	c->repeat_s = 3600;
	c->hold_s = 120;
	c->hysteresis = 0.1;
	c->ratio_warn = 0.05;
	c->ratio_crit = 0.25;
	c->no_resp_warn = 1;
	c->no_resp_crit = 0;
}

static int levels__check(const char *what, double warn, double crit, char *err, size_t errsz)
{
	if (!(warn > 0)) {
		snprintf(err, errsz, "%s warning threshold must be above 0", what);
		return -EINVAL;
	}
	if (crit != 0 && !(crit > warn)) {
		snprintf(err, errsz,
			 "%s critical threshold (%g) must be above the warning one (%g)", what,
			 crit, warn);
		return -EINVAL;
	}
	return 0;
}

int alert_config__check(const struct alert_config *c, char *err, size_t errsz)
{
	int ret;

	if ((ret = levels__check("latency", c->warn_ms, c->crit_ms, err, errsz)))
		return ret;
	for (int i = 0; i < c->napi; i++) {
		double warn, crit;

		alert_config__limits(c, c->api[i].api, &warn, &crit);
		if ((ret = levels__check(c->api[i].api, warn, crit, err, errsz)))
			return ret;
	}
	if ((ret = levels__check("error_ratio", c->ratio_warn, c->ratio_crit, err, errsz)))
		return ret;
	if ((ret = levels__check("no_response", c->no_resp_warn, c->no_resp_crit, err, errsz)))
		return ret;
	if (c->ratio_warn > 1 || c->ratio_crit > 1) {
		snprintf(err, errsz, "error_ratio thresholds are shares between 0 and 1");
		return -EINVAL;
	}
	if (c->window_s < 1 || c->window_s > 86400) {
		snprintf(err, errsz, "window must be 1 to 86400 seconds");
		return -EINVAL;
	}
	if (c->min_samples < 1) {
		snprintf(err, errsz, "min_samples must be at least 1");
		return -EINVAL;
	}
	if (c->repeat_s < 0 || c->hold_s < 0) {
		snprintf(err, errsz, "repeat and hold must not be negative");
		return -EINVAL;
	}
	if (!(c->hysteresis >= 0 && c->hysteresis < 1)) {
		snprintf(err, errsz, "hysteresis must be a share in [0, 1)");
		return -EINVAL;
	}
	return 0;
}

void alert_config__limits(const struct alert_config *c, const char *api, double *warn, double *crit)
{
	*warn = c->warn_ms;
	*crit = c->crit_ms;
	for (int i = 0; i < c->napi; i++) {
		if (strcmp(c->api[i].api, api))
			continue;
		/* a negative value was not set for this API: the default applies */
		if (c->api[i].warn_ms >= 0)
			*warn = c->api[i].warn_ms;
		if (c->api[i].crit_ms >= 0)
			*crit = c->api[i].crit_ms;
	}
}

struct alert_engine *alert_engine__new(const struct alert_config *c, alert_emit_fn emit, void *ctx)
{
	struct alert_engine *e;
	char err[128];
	int width_s;

	if (alert_config__check(c, err, sizeof(err))) {
		errno = EINVAL;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->c = *c;
	e->emit = emit;
	e->ctx = ctx;
	width_s = (c->window_s + ALERT_BUCKETS - 1) / ALERT_BUCKETS;
	e->width_ns = (int64_t)width_s * NS_PER_S;
	e->nb = (c->window_s + width_s - 1) / width_s;
	return e;
}

void alert_engine__free(struct alert_engine *e)
{
	if (!e)
		return;
	for (int i = 0; i < e->napis; i++) {
		free(e->apis[i]->b);
		free(e->apis[i]);
	}
	free(e);
}

static struct api_slot *engine__api(struct alert_engine *e, const char *name)
{
	struct api_slot *a;

	for (int i = 0; i < e->napis; i++)
		if (!strcmp(e->apis[i]->api, name))
			return e->apis[i];
	if (e->napis >= ALERT_MAX_APIS)
		return NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->b = calloc(e->nb, sizeof(*a->b));
	if (!a->b) {
		free(a);
		return NULL;
	}
	for (int i = 0; i < e->nb; i++)
		a->b[i].idx = -1;
	snprintf(a->api, sizeof(a->api), "%s", name);
	alert_config__limits(&e->c, a->api, &a->warn_ms, &a->crit_ms);
	e->apis[e->napis++] = a;
	return a;
}

static void ring__push(struct sample_ring *ring, const struct record *r)
{
	struct alert_sample *s = &ring->s[ring->next];

	s->ts_ns = r->ts_ns;
	s->duration_ms = r->duration_ms;
	s->wait_ms = record__wait_ms(r);
	s->status = r->status;
	snprintf(s->method, sizeof(s->method), "%s", r->method);
	snprintf(s->path, sizeof(s->path), "%s", r->path);
	snprintf(s->route, sizeof(s->route), "%s", r->route);
	ring->next = (ring->next + 1) % ALERT_SAMPLES;
	if (ring->n < ALERT_SAMPLES)
		ring->n++;
}

static void engine__advance(struct alert_engine *e, int64_t now_ns)
{
	if (now_ns > e->now_ns)
		e->now_ns = now_ns;
}

/* Copies the ring's samples seen in the window, newest first; names the route of the first. */
static double sample__key(const struct alert_sample *s, enum alert_rule rule)
{
	return rule == ALERT_RULE_WAIT ? s->wait_ms : s->duration_ms;
}

static void event__samples(const struct alert_engine *e, struct alert_event *ev,
			   const struct sample_ring *ring, enum alert_rule rule)
{
	int slowest_first = rule == ALERT_RULE_LATENCY || rule == ALERT_RULE_WAIT;

	int64_t from = e->now_ns - (int64_t)e->c.window_s * NS_PER_S;

	for (int k = 1; k <= ring->n; k++) {
		const struct alert_sample *s =
		    &ring->s[(ring->next - k + ALERT_SAMPLES) % ALERT_SAMPLES];

		if (s->ts_ns < from && ev->state != ALERT_RESOLVED)
			continue;
		ev->sample[ev->nsamples++] = *s;
	}
	if (slowest_first)
		for (int i = 1; i < ev->nsamples; i++)
			for (int j = i;
			     j > 0 && sample__key(&ev->sample[j], rule) >
					  sample__key(&ev->sample[j - 1], rule);
			     j--) {
				struct alert_sample t = ev->sample[j];

				ev->sample[j] = ev->sample[j - 1];
				ev->sample[j - 1] = t;
			}
	if (ev->nsamples)
		snprintf(ev->route, sizeof(ev->route), "%s", ev->sample[0].route);
}

static const struct sample_ring *api__ring(const struct api_slot *a, enum alert_rule rule)
{
	switch (rule) {
	case ALERT_RULE_LATENCY:
		return &a->slow;
	case ALERT_RULE_HTTP_500:
		return &a->e500;
	case ALERT_RULE_ERROR_RATIO:
		return &a->err;
	case ALERT_RULE_WAIT:
		return &a->waited;
	default:
		return &a->noresp;
	}
}

static void engine__emit(struct alert_engine *e, struct api_slot *a, enum alert_rule rule,
			 enum alert_state state, enum alert_severity sev, enum alert_severity from,
			 double value, double threshold, uint64_t answered, int quiet)
{
	struct alert_event ev;
	struct slot *s = &a->rule[rule];

	memset(&ev, 0, sizeof(ev));
	ev.ts_ns = e->now_ns;
	ev.rule = rule;
	ev.severity = sev;
	ev.state = state;
	ev.from = from;
	snprintf(ev.api, sizeof(ev.api), "%s", a->api);
	ev.value = value;
	ev.threshold = threshold;
	ev.stat = e->c.stat;
	ev.window_s = e->c.window_s;
	ev.samples_in_window = answered;
	ev.quiet = quiet;
	ev.count = s->count;
	ev.since_ns = s->since_ns;
	event__samples(e, &ev, api__ring(a, rule), rule);
	e->st.events++;
	if (e->emit)
		e->emit(e->ctx, &ev);
}

void alert_engine__observe(struct alert_engine *e, const struct record *r)
{
	const char *name = r->api[0] ? r->api : "other";
	int64_t end = record__end_ns(r), idx = end / e->width_ns;
	struct api_slot *a;
	struct bucket *b;
	struct slot *s;

	e->st.records++;
	if (e->now_ns && idx <= e->now_ns / e->width_ns - e->nb) {
		e->st.late++;
		return;
	}
	a = engine__api(e, name);
	if (!a) {
		e->st.no_api++;
		return;
	}
	engine__advance(e, end);
	b = &a->b[idx % e->nb];
	if (b->idx != idx) {
		memset(b, 0, sizeof(*b));
		b->idx = idx;
	}
	if (record__wait_ms(r) >= 0) {
		/* the wait happened whether or not an answer came */
		hist__add(&b->wait, record__wait_ms(r));
		if (record__wait_ms(r) > a->warn_ms)
			ring__push(&a->waited, r);
	}
	if (!record__answered(r)) {
		b->noresp++;
		ring__push(&a->noresp, r);
		return;
	}
	b->answered++;
	hist__add(&b->h, r->duration_ms);
	if (r->duration_ms > a->warn_ms)
		ring__push(&a->slow, r);
	if (r->status >= 500 && r->status <= 599) {
		b->err5xx++;
		ring__push(&a->err, r);
	}
	if (r->status != 500 || !(e->c.rules & 1u << ALERT_RULE_HTTP_500))
		return;
	ring__push(&a->e500, r);
	s = &a->rule[ALERT_RULE_HTTP_500];
	s->last_hit_ns = end;
	s->count++;
	if (s->sev != ALERT_SEV_NONE)
		return;
	/* any 500 is critical at once; later ones are counted into this alert */
	s->sev = ALERT_SEV_CRITICAL;
	s->count = 1;
	s->since_ns = s->last_sent_ns = e->now_ns;
	engine__emit(e, a, ALERT_RULE_HTTP_500, ALERT_FIRING, ALERT_SEV_CRITICAL, ALERT_SEV_NONE, 1,
		     0, 0, 0);
}

/* The window's slices merged. */
static void api__window(const struct alert_engine *e, const struct api_slot *a, struct bucket *w)
{
	int64_t cur = e->now_ns / e->width_ns;

	memset(w, 0, sizeof(*w));
	for (int i = 0; i < e->nb; i++) {
		const struct bucket *b = &a->b[i];

		if (b->idx < 0 || b->idx <= cur - e->nb || b->idx > cur)
			continue;
		hist__merge(&w->h, &b->h);
		hist__merge(&w->wait, &b->wait);
		w->answered += b->answered;
		w->err5xx += b->err5xx;
		w->noresp += b->noresp;
	}
}

static double window__stat(const struct hist *h, enum alert_stat stat)
{
	switch (stat) {
	case ALERT_STAT_P50:
		return hist__quantile(h, 0.50);
	case ALERT_STAT_P95:
		return hist__quantile(h, 0.95);
	case ALERT_STAT_P99:
		return hist__quantile(h, 0.99);
	case ALERT_STAT_MAX:
		return h->max_ms;
	default:
		return hist__mean(h);
	}
}

struct measure {
	int have; /* enough samples to judge */
	double value;
	double warn, crit; /* crit 0 = none */
	int inclusive;	   /* counts fire at >= threshold, measures above it */
	uint64_t answered;
	int quiet; /* fewer than min_samples: value is the slowest request */
};

static int level__on(const struct alert_engine *e, const struct measure *m, double thr, int firing)
{
	if (!(thr > 0))
		return 0;
	if (m->inclusive ? m->value >= thr : m->value > thr)
		return 1;
	/* hysteresis: a firing level holds until the value is clearly below it */
	return firing && m->value > thr * (1 - e->c.hysteresis);
}

static double level__threshold(const struct measure *m, enum alert_severity sev)
{
	return sev == ALERT_SEV_CRITICAL ? m->crit : m->warn;
}

static void slot__reminder(struct alert_engine *e, struct api_slot *a, enum alert_rule rule,
			   double value, double threshold, uint64_t answered, int quiet)
{
	struct slot *s = &a->rule[rule];

	if (s->sev == ALERT_SEV_NONE || !e->c.repeat_s ||
	    e->now_ns - s->last_sent_ns < (int64_t)e->c.repeat_s * NS_PER_S)
		return;
	s->last_sent_ns = e->now_ns;
	engine__emit(e, a, rule, ALERT_REMINDER, s->sev, ALERT_SEV_NONE, value, threshold,
		     answered, quiet);
}

/* Moves one windowed (rule, api) alert between none, warning and critical. */
static void slot__judge(struct alert_engine *e, struct api_slot *a, enum alert_rule rule,
			const struct measure *m)
{
	struct slot *s = &a->rule[rule];
	enum alert_severity want = ALERT_SEV_NONE, old = s->sev;

	if (m->have) {
		if (level__on(e, m, m->crit, old == ALERT_SEV_CRITICAL))
			want = ALERT_SEV_CRITICAL;
		else if (level__on(e, m, m->warn, old != ALERT_SEV_NONE))
			want = ALERT_SEV_WARNING;
	}
	if (want > old) { /* escalation is immediate; critical supersedes warning */
		s->sev = want;
		s->since_ns = s->last_sent_ns = e->now_ns;
		s->clear_since_ns = 0;
		engine__emit(e, a, rule, ALERT_FIRING, want, old, m->value,
			     level__threshold(m, want), m->answered, m->quiet);
		return;
	}
	if (want == old) {
		s->clear_since_ns = 0;
		slot__reminder(e, a, rule, m->value, level__threshold(m, old), m->answered,
			       m->quiet);
		return;
	}
	if (!s->clear_since_ns)
		s->clear_since_ns = e->now_ns;
	if (e->now_ns - s->clear_since_ns < (int64_t)e->c.hold_s * NS_PER_S) {
		slot__reminder(e, a, rule, m->value, level__threshold(m, old), m->answered,
			       m->quiet);
		return;
	}
	s->sev = want;
	s->clear_since_ns = 0;
	engine__emit(e, a, rule, ALERT_RESOLVED, old, ALERT_SEV_NONE, m->value,
		     level__threshold(m, old), m->answered, m->quiet);
	if (want == ALERT_SEV_NONE)
		return;
	s->since_ns = s->last_sent_ns = e->now_ns;
	engine__emit(e, a, rule, ALERT_FIRING, want, old, m->value, level__threshold(m, want),
		     m->answered, m->quiet);
}

static void http500__judge(struct alert_engine *e, struct api_slot *a)
{
	struct slot *s = &a->rule[ALERT_RULE_HTTP_500];

	if (s->sev == ALERT_SEV_NONE)
		return;
	if (e->now_ns - s->last_hit_ns >= (int64_t)e->c.hold_s * NS_PER_S) {
		s->sev = ALERT_SEV_NONE;
		engine__emit(e, a, ALERT_RULE_HTTP_500, ALERT_RESOLVED, ALERT_SEV_CRITICAL,
			     ALERT_SEV_NONE, (double)s->count, 0, 0, 0);
		s->count = 0;
		return;
	}
	slot__reminder(e, a, ALERT_RULE_HTTP_500, (double)s->count, 0, 0, 0);
}

/*
 * The statistic of the window's samples; below min_samples (but not none), the slowest
 * one: a quiet API is judged on each request, so one slow request there alerts.
 */
static struct measure latency__measure(const struct alert_engine *e, const struct api_slot *a,
				       const struct hist *h)
{
	int quiet = h->count > 0 && h->count < (uint64_t)e->c.min_samples;

	return (struct measure){
	    .have = h->count > 0,
	    .value = quiet ? h->max_ms : window__stat(h, e->c.stat),
	    .warn = a->warn_ms,
	    .crit = a->crit_ms,
	    .answered = h->count,
	    .quiet = quiet,
	};
}

void alert_engine__tick(struct alert_engine *e, int64_t now_ns)
{
	struct bucket w;
	struct measure m;

	engine__advance(e, now_ns);
	for (int i = 0; i < e->napis; i++) {
		struct api_slot *a = e->apis[i];

		api__window(e, a, &w);
		if (e->c.rules & 1u << ALERT_RULE_LATENCY) {
			m = latency__measure(e, a, &w.h);
			slot__judge(e, a, ALERT_RULE_LATENCY, &m);
		}
		if (e->c.rules & 1u << ALERT_RULE_WAIT) {
			m = latency__measure(e, a, &w.wait);
			slot__judge(e, a, ALERT_RULE_WAIT, &m);
		}
		if (e->c.rules & 1u << ALERT_RULE_ERROR_RATIO) {
			m = (struct measure){
			    .have = w.answered >= (uint64_t)e->c.min_samples,
			    .value = w.answered ? (double)w.err5xx / (double)w.answered : 0,
			    .warn = e->c.ratio_warn,
			    .crit = e->c.ratio_crit,
			    .answered = w.answered,
			};
			slot__judge(e, a, ALERT_RULE_ERROR_RATIO, &m);
		}
		if (e->c.rules & 1u << ALERT_RULE_NO_RESPONSE) {
			m = (struct measure){
			    .have = 1,
			    .value = (double)w.noresp,
			    .warn = e->c.no_resp_warn,
			    .crit = e->c.no_resp_crit,
			    .inclusive = 1,
			    .answered = w.answered,
			};
			slot__judge(e, a, ALERT_RULE_NO_RESPONSE, &m);
		}
		if (e->c.rules & 1u << ALERT_RULE_HTTP_500)
			http500__judge(e, a);
	}
}

void alert_engine__stats(const struct alert_engine *e, struct alert_engine_stats *out)
{
	*out = e->st;
	out->firing = 0;
	for (int i = 0; i < e->napis; i++)
		for (int r = 0; r < ALERT_RULE_COUNT; r++)
			out->firing += e->apis[i]->rule[r].sev != ALERT_SEV_NONE;
}
