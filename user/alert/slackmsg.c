/* slackmsg.c: alert events as Slack attachments (colour by severity, escaped request text). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "slackmsg.h"
#include "text.h"

/* in as valid UTF-8 without control bytes; with entities, &, < and > as Slack wants them. */
static size_t slackmsg__copy(const char *in, char *out, size_t outsz, int entities)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0;

	if (!outsz)
		return 0;
	while (*s) {
		const char *put;
		char one[5];
		int n = (int)text__utf8_seq(s, SIZE_MAX), len;

		if (entities && *s == '&')
			put = "&amp;";
		else if (entities && *s == '<')
			put = "&lt;";
		else if (entities && *s == '>')
			put = "&gt;";
		else if (!n || *s < 0x20 || *s == 0x7f)
			put = "?";
		else {
			memcpy(one, s, n);
			one[n] = 0;
			put = one;
		}
		len = (int)strlen(put);
		if (o + len >= outsz)
			break;
		memcpy(out + o, put, len);
		o += len;
		s += n ? n : 1;
	}
	out[o] = 0;
	return o;
}

size_t slackmsg__escape(const char *in, char *out, size_t outsz)
{
	return slackmsg__copy(in, out, outsz, 1);
}

size_t slackmsg__sanitize(const char *in, char *out, size_t outsz)
{
	return slackmsg__copy(in, out, outsz, 0);
}

static const char *rule__what(enum alert_rule r)
{
	switch (r) {
	case ALERT_RULE_LATENCY:
		return "response time";
	case ALERT_RULE_HTTP_500:
		return "HTTP 500";
	case ALERT_RULE_ERROR_RATIO:
		return "5xx ratio";
	case ALERT_RULE_WAIT:
		return "time waiting to be read";
	default:
		return "requests without response";
	}
}

static int rule__is_latency(enum alert_rule r)
{
	return r == ALERT_RULE_LATENCY || r == ALERT_RULE_WAIT;
}

static const char *plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

/* "p95 1234 ms > 1000 ms" style measure, no request text. */
static void event__measure(const struct alert_event *ev, char *out, size_t sz)
{
	const char *cmp = ev->state == ALERT_RESOLVED ? "now, threshold" : ">";

	unsigned long long n = (unsigned long long)ev->samples_in_window;

	switch (ev->rule) {
	case ALERT_RULE_LATENCY:
	case ALERT_RULE_WAIT:
		if (!n) /* the window emptied: a quiet API resolving */
			snprintf(out, sz, "no request in %d s %s %.0f ms", ev->window_s, cmp,
				 ev->threshold);
		else if (ev->quiet && n == 1)
			snprintf(out, sz, "1 request in %d s: %.0f ms %s %.0f ms", ev->window_s,
				 ev->value, cmp, ev->threshold);
		else if (ev->quiet)
			snprintf(out, sz, "slowest of %llu requests in %d s: %.0f ms %s %.0f ms", n,
				 ev->window_s, ev->value, cmp, ev->threshold);
		else
			snprintf(out, sz, "%s %.0f ms %s %.0f ms", alert_stat__name(ev->stat),
				 ev->value, cmp, ev->threshold);
		break;
	case ALERT_RULE_HTTP_500:
		snprintf(out, sz, "x%llu", (unsigned long long)ev->count);
		break;
	case ALERT_RULE_ERROR_RATIO:
		snprintf(out, sz, "%.1f %% 5xx %s %.1f %%", ev->value * 100, cmp,
			 ev->threshold * 100);
		break;
	default:
		snprintf(out, sz, "%.0f %s %.0f", ev->value,
			 ev->state == ALERT_RESOLVED ? "now, threshold" : ">=", ev->threshold);
	}
}

static void event__head(const struct alert_event *ev, char *out, size_t sz)
{
	char sev[16];
	size_t i;

	snprintf(sev, sizeof(sev), "%s", alert_severity__name(ev->severity));
	for (i = 0; sev[i]; i++)
		sev[i] = (char)(sev[i] >= 'a' && sev[i] <= 'z' ? sev[i] - 32 : sev[i]);
	if (ev->state == ALERT_RESOLVED)
		snprintf(out, sz, "RESOLVED %s", alert_severity__name(ev->severity));
	else if (ev->from != ALERT_SEV_NONE)
		snprintf(out, sz, "%s firing (%s %s)", sev,
			 ev->severity > ev->from ? "escalated from" : "down from",
			 alert_severity__name(ev->from));
	else
		snprintf(out, sz, "%s %s", sev, alert_state__name(ev->state));
}

/* The one-line text; slack: escaped for Slack, else only sanitized (for logs). */
static void event__line(const struct alert_event *ev, int slack, char *out, size_t outsz)
{
	char head[64], measure[128], window[48] = "", route[RECORD_PATH_MAX * 5 + 1];
	char api[RECORD_API_MAX * 5];

	slackmsg__copy(ev->route, route, sizeof(route), slack);
	slackmsg__copy(ev->api, api, sizeof(api), slack);
	event__head(ev, head, sizeof(head));
	event__measure(ev, measure, sizeof(measure));
	/* a quiet API's measure already says how many requests in how long */
	if (ev->rule != ALERT_RULE_HTTP_500 &&
	    !(rule__is_latency(ev->rule) && (ev->quiet || !ev->samples_in_window)))
		snprintf(window, sizeof(window), " over %d s (%llu request%s)", ev->window_s,
			 (unsigned long long)ev->samples_in_window, plural(ev->samples_in_window));
	snprintf(out, outsz, "%s: %s %s %s%s%s%s", head, api, rule__what(ev->rule), measure, window,
		 route[0] ? " on " : "", route);
}

void slackmsg__line(const struct alert_event *ev, char *out, size_t outsz)
{
	event__line(ev, 0, out, outsz);
}

/* "httplat on HOST · #channel": both from the configuration, escaped all the same. */
static void origin__footer(const struct slackmsg_origin *o, char *out, size_t sz)
{
	char host[256 * 5], channel[64 * 5];

	slackmsg__escape(o->host, host, sizeof(host));
	slackmsg__escape(o->channel, channel, sizeof(channel));
	snprintf(out, sz, "httplat on %.300s · %.300s", host, channel);
}

const char *slackmsg__colour(const struct alert_event *ev)
{
	if (ev->state == ALERT_RESOLVED)
		return "#2eb67d";
	return ev->severity == ALERT_SEV_CRITICAL ? "#d40e0d" : "#e8a317";
}

static void ts__iso(int64_t ns, char *out, size_t sz)
{
	time_t t = (time_t)(ns / 1000000000LL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, sz, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static int field__add(json_t *fields, const char *title, const char *value, int isshort)
{
	json_t *f = json_pack("{s:s, s:s, s:b}", "title", title, "value", value, "short", isshort);

	return f ? json_array_append_new(fields, f) : -1;
}

static void samples__text(const struct alert_event *ev, char *out, size_t sz)
{
	size_t o = 0;

	out[0] = 0;
	for (int i = 0; i < ev->nsamples && o + 1 < sz; i++) {
		const struct alert_sample *s = &ev->sample[i];
		char method[RECORD_METHOD_MAX * 5], path[RECORD_PATH_MAX * 5 + 1];
		int n;

		slackmsg__escape(s->method, method, sizeof(method));
		slackmsg__escape(s->path, path, sizeof(path));
		if (ev->rule == ALERT_RULE_WAIT && s->wait_ms >= 0)
			n = snprintf(out + o, sz - o,
				     "%s %s waited %.0f ms to be read, then %u in %.0f ms\n", method,
				     path, s->wait_ms, s->status, s->duration_ms);
		else if (s->status)
			n = snprintf(out + o, sz - o, "%s %s → %u in %.0f ms\n", method, path,
				     s->status, s->duration_ms);
		else
			n = snprintf(out + o, sz - o, "%s %s → no response after %.0f ms\n", method,
				     path, s->duration_ms);
		if (n < 0 || (size_t)n >= sz - o)
			break;
		o += n;
	}
}

/* Percent-encodes s for a URL query value (everything but unreserved characters). */
static size_t url__encode(const char *s, char *out, size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t w = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p && w + 4 < outsz; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			out[w++] = (char)*p;
			continue;
		}
		out[w++] = '%';
		out[w++] = hex[*p >> 4];
		out[w++] = hex[*p & 15];
	}
	if (outsz)
		out[w < outsz ? w : outsz - 1] = '\0';
	return w;
}

void slackmsg__grafana_link(const struct alert_event *ev, const struct slackmsg_origin *o,
			    char *out, size_t outsz)
{
	char api[RECORD_API_MAX * 3 + 1], route[RECORD_PATH_MAX * 3 + 1], host[256 * 3 + 1];
	const char *base = o->grafana_url;
	size_t blen;
	long long from = (ev->since_ns ? ev->since_ns : ev->ts_ns) / 1000000 - 15 * 60 * 1000;
	long long to = ev->ts_ns / 1000000 + 5 * 60 * 1000;

	if (outsz)
		out[0] = '\0';
	if (!base || !base[0])
		return;
	blen = strlen(base);
	while (blen && base[blen - 1] == '/')
		blen--;
	url__encode(ev->api, api, sizeof(api));
	url__encode(ev->route, route, sizeof(route));
	url__encode(o->host ? o->host : "", host, sizeof(host));
	snprintf(out, outsz, "%.*s/d/%s/?var-api=%s%s%s&var-host=%s&from=%lld&to=%lld", (int)blen,
		 base, o->grafana_dashboard ? o->grafana_dashboard : SLACKMSG_GRAFANA_DASHBOARD, api,
		 ev->route[0] ? "&var-route=" : "", ev->route[0] ? route : "", host, from, to);
}

static json_t *event__attachment(const struct alert_event *ev, const struct slackmsg_origin *o)
{
	char route[RECORD_PATH_MAX * 5 + 1], title[RECORD_PATH_MAX * 10 + 256];
	char measure[128], buf[64], when[48], footer[640], api[RECORD_API_MAX * 5];
	char link[2048];
	char samples[ALERT_SAMPLES * (RECORD_PATH_MAX * 5 + 128)];
	json_t *a, *fields;

	slackmsg__escape(ev->route, route, sizeof(route));
	slackmsg__escape(ev->api, api, sizeof(api));
	event__line(ev, 1, title, sizeof(title));
	event__measure(ev, measure, sizeof(measure));
	origin__footer(o, footer, sizeof(footer));
	fields = json_array();
	if (!fields)
		return NULL;
	if (field__add(fields, "API", api, 1) ||
	    field__add(fields, "Route", route[0] ? route : "-", 1) ||
	    field__add(fields,
		       ev->rule == ALERT_RULE_HTTP_500 ? "500s so far" : "Value vs threshold",
		       measure, 1))
		goto fail;
	if (ev->rule != ALERT_RULE_HTTP_500) {
		snprintf(buf, sizeof(buf), "%d s, %llu request%s", ev->window_s,
			 (unsigned long long)ev->samples_in_window, plural(ev->samples_in_window));
		if (field__add(fields, "Window", buf, 1))
			goto fail;
	}
	ts__iso(ev->since_ns, when, sizeof(when));
	if (field__add(fields, "Firing since", when, 1))
		goto fail;
	if (ev->state == ALERT_RESOLVED) {
		long long s = (ev->ts_ns - ev->since_ns) / 1000000000LL;

		snprintf(buf, sizeof(buf), "%lldh %02lldm %02llds", s / 3600, s / 60 % 60, s % 60);
		if (field__add(fields, "Fired for", buf, 1))
			goto fail;
	}
	samples__text(ev, samples, sizeof(samples));
	if (samples[0] && field__add(fields, "Sample requests", samples, 0))
		goto fail;
	a = json_pack("{s:s, s:s, s:s, s:o, s:s, s:I}", "color", slackmsg__colour(ev), "fallback",
		      title, "title", title, "fields", fields, "footer", footer, "ts",
		      (json_int_t)(ev->ts_ns / 1000000000LL));
	/* the title opens the route's dashboard around the alert */
	slackmsg__grafana_link(ev, o, link, sizeof(link));
	if (a && link[0] && json_object_set_new(a, "title_link", json_string(link))) {
		json_decref(a);
		return NULL;
	}
	return a;
fail:
	json_decref(fields);
	return NULL;
}

static char *payload__dump(const char *text, json_t *attachments)
{
	json_t *root;
	char *out;

	root = json_pack("{s:s, s:o}", "text", text, "attachments", attachments);
	if (!root)
		return NULL;
	out = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return out;
}

char *slackmsg__payload(const struct alert_event *ev, int n, const struct slackmsg_origin *o)
{
	char text[RECORD_PATH_MAX * 10 + 256], channel[64 * 5];
	int firing = 0, resolved = 0, shown = n;
	json_t *atts = json_array();

	if (!atts || n < 1)
		goto fail;
	if (n > SLACKMSG_MAX_ATTACHMENTS)
		shown = SLACKMSG_MAX_ATTACHMENTS - 1;
	for (int i = 0; i < n; i++) {
		json_t *a;

		firing += ev[i].state != ALERT_RESOLVED;
		resolved += ev[i].state == ALERT_RESOLVED;
		if (i >= shown)
			continue;
		a = event__attachment(&ev[i], o);
		if (!a || json_array_append_new(atts, a))
			goto fail;
	}
	if (shown < n) {
		snprintf(text, sizeof(text), "…and %d more alert updates (see the httplat log)",
			 n - shown);
		if (json_array_append_new(
			atts, json_pack("{s:s, s:s}", "color", "#888888", "text", text)))
			goto fail;
	}
	slackmsg__escape(o->channel, channel, sizeof(channel));
	if (n == 1)
		event__line(ev, 1, text, sizeof(text));
	else
		snprintf(text, sizeof(text), "%d alert updates for %s: %d firing, %d resolved", n,
			 channel, firing, resolved);
	return payload__dump(text, atts);
fail:
	json_decref(atts);
	return NULL;
}

char *slackmsg__test_payload(const struct slackmsg_origin *o)
{
	char text[512], footer[640];
	json_t *atts;

	origin__footer(o, footer, sizeof(footer));
	snprintf(text, sizeof(text), "httplat test message (%.400s): alerts will arrive here.",
		 footer);
	atts = json_pack("[{s:s, s:s, s:s}]", "color", "#2eb67d", "text", text, "footer", footer);
	if (!atts)
		return NULL;
	return payload__dump(text, atts);
}
