/* alerter.c: glues the rule engine to Slack delivery (or stderr) and to the alert history. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alerter.h"

/* Windowed rules are judged at most this often: their slices are a second wide. */
#define ALERTER_EVAL_NS 200000000LL

struct alerter {
	struct alert_engine *engine;
	int64_t last_eval_ns;
	struct slack *slack; /* NULL: stderr only */
	alerter_history_fn history;
	void *ctx;
	char host[256];
	char channel[64];
	char webhook_redacted[128];
	char webhook_source[64];
	struct alert_config rules;
	uint64_t logged;
	uint64_t rows;
};

void alerter__row(const struct alert_event *ev, int delivered, struct alert_row *row)
{
	memset(row, 0, sizeof(*row));
	row->ts_ns = ev->ts_ns;
	snprintf(row->rule, sizeof(row->rule), "%s", alert_rule__name(ev->rule));
	snprintf(row->api, sizeof(row->api), "%s", ev->api);
	snprintf(row->route, sizeof(row->route), "%s", ev->route);
	snprintf(row->severity, sizeof(row->severity), "%s", alert_severity__name(ev->severity));
	snprintf(row->state, sizeof(row->state), "%s", alert_state__name(ev->state));
	row->value = ev->value;
	row->threshold = ev->threshold;
	row->delivered = delivered;
	slackmsg__line(ev, row->message, sizeof(row->message));
}

static void alerter__history(void *ctx, const struct alert_event *ev, int delivered)
{
	struct alerter *a = ctx;
	struct alert_row row;

	if (!a->history)
		return;
	alerter__row(ev, delivered, &row);
	a->history(a->ctx, &row);
	a->rows++;
}

static void alerter__log(struct alerter *a, const struct alert_event *ev)
{
	char line[1024], path[RECORD_PATH_MAX + 1];
	const struct alert_sample *s = &ev->sample[0];

	slackmsg__line(ev, line, sizeof(line));
	if (ev->nsamples) {
		slackmsg__sanitize(s->path, path, sizeof(path));
		fprintf(stderr, "httplat: alert: %s (e.g. %s %s -> %u in %.0f ms)\n", line,
			s->method, path, s->status, s->duration_ms);
	} else {
		fprintf(stderr, "httplat: alert: %s\n", line);
	}
	a->logged++;
}

static void alerter__emit(void *ctx, const struct alert_event *ev)
{
	struct alerter *a = ctx;

	alerter__log(a, ev);
	if (!a->slack) {
		alerter__history(a, ev, -1);
		return;
	}
	/* a full queue loses this message (counted in the stats); the history keeps it */
	if (slack__push(a->slack, ev))
		alerter__history(a, ev, 0);
}

struct alerter *alerter__new_post(const struct httplat_config *cfg, alerter_history_fn history,
				  void *ctx, slack_post_fn post, void *post_ctx)
{
	struct slackmsg_origin origin = {0};
	struct alerter *a;
	int ret;

	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->history = history;
	a->ctx = ctx;
	a->rules = cfg->alerts;
	/* the host the rows carry ([database] host), so the Grafana link selects them */
	if (cfg->database.host[0])
		snprintf(a->host, sizeof(a->host), "%s", cfg->database.host);
	else if (gethostname(a->host, sizeof(a->host) - 1))
		snprintf(a->host, sizeof(a->host), "localhost");
	snprintf(a->channel, sizeof(a->channel), "%s", cfg->slack.channel);
	snprintf(a->webhook_source, sizeof(a->webhook_source), "%s", cfg->webhook_source);
	a->engine = alert_engine__new(&cfg->alerts, alerter__emit, a);
	if (!a->engine)
		goto fail;
	if (cfg->slack.webhook[0]) {
		slack__redact(cfg->slack.webhook, a->webhook_redacted, sizeof(a->webhook_redacted));
		origin.host = a->host;
		origin.channel = a->channel;
		origin.grafana_url = cfg->grafana.url;
		origin.grafana_dashboard = cfg->grafana.dashboard[0] ? cfg->grafana.dashboard : NULL;
		a->slack = slack__new(&cfg->slack, &origin, post, post_ctx);
		if (!a->slack)
			goto fail;
	}
	return a;
fail:
	ret = errno;
	alert_engine__free(a->engine);
	free(a);
	errno = ret;
	return NULL;
}

struct alerter *alerter__new(const struct httplat_config *cfg, alerter_history_fn history,
			     void *ctx)
{
	return alerter__new_post(cfg, history, ctx, NULL, NULL);
}

void alerter__observe(struct alerter *a, const struct record *r)
{
	alert_engine__observe(a->engine, r);
}

void alerter__tick(struct alerter *a, int64_t now_ns)
{
	/* the run loop may spin fast under load; merging the window each time would not pay */
	if (now_ns - a->last_eval_ns >= ALERTER_EVAL_NS || now_ns < a->last_eval_ns) {
		alert_engine__tick(a->engine, now_ns);
		a->last_eval_ns = now_ns;
	}
	if (a->slack)
		slack__drain(a->slack, alerter__history, a);
}

void alerter__stats(struct alerter *a, struct alerter_stats *out)
{
	memset(out, 0, sizeof(*out));
	alert_engine__stats(a->engine, &out->engine);
	out->slack = a->slack != NULL;
	if (a->slack)
		slack__stats(a->slack, &out->delivery);
	out->logged = a->logged;
	out->history = a->rows;
}

void alerter__describe(struct alerter *a, char *out, size_t outsz)
{
	char rules[128] = "", stat[64];
	size_t o = 0;

	for (int r = 0; r < ALERT_RULE_COUNT; r++)
		if (a->rules.rules & 1u << r)
			o += snprintf(rules + o, sizeof(rules) - o, "%s%s", o ? "," : "",
				      alert_rule__name(r));
	snprintf(stat, sizeof(stat), "%s > %g/%g ms over %d s, min %d",
		 alert_stat__name(a->rules.stat), a->rules.warn_ms, a->rules.crit_ms,
		 a->rules.window_s, a->rules.min_samples);
	if (a->slack)
		snprintf(out, outsz,
			 "alerts: rules %s (latency %s) -> Slack %s %s (webhook from %s)",
			 rules[0] ? rules : "none", stat, a->channel, a->webhook_redacted,
			 a->webhook_source[0] ? a->webhook_source : "config");
	else
		snprintf(
		    out, outsz,
		    "alerts: rules %s (latency %s) -> stderr only: no Slack webhook configured "
		    "(set HTTPLAT_SLACK_WEBHOOK or [slack] webhook)",
		    rules[0] ? rules : "none", stat);
}

/* Every loss is reported: what was not delivered, and why. */
static void alerter__summary(struct alerter *a, const struct slack_stats *d, int slack)
{
	struct alert_engine_stats es;

	alert_engine__stats(a->engine, &es);
	if (!es.events && !es.late && !es.no_api)
		return;
	fprintf(stderr,
		"httplat: alerts: %llu state changes; records ignored: %llu late, %llu beyond "
		"the API table",
		(unsigned long long)es.events, (unsigned long long)es.late,
		(unsigned long long)es.no_api);
	if (slack)
		fprintf(stderr,
			"; Slack: %llu delivered in %llu messages, %llu POSTs (%llu rate limited, "
			"%llu server errors, %llu unreachable), lost: %llu rejected, %llu queue "
			"full, %llu undelivered at exit",
			(unsigned long long)d->delivered, (unsigned long long)d->messages,
			(unsigned long long)d->attempts, (unsigned long long)d->rate_limited,
			(unsigned long long)d->server_errors,
			(unsigned long long)d->transport_errors, (unsigned long long)d->rejected,
			(unsigned long long)d->dropped, (unsigned long long)d->undelivered);
	fprintf(stderr, "\n");
}

void alerter__free(struct alerter *a, int deadline_ms)
{
	struct slack_stats d = {0};
	int slack;

	if (!a)
		return;
	slack = a->slack != NULL;
	slack__free(a->slack, deadline_ms, alerter__history, a, &d);
	a->slack = NULL;
	alerter__summary(a, &d, slack);
	alert_engine__free(a->engine);
	free(a);
}
