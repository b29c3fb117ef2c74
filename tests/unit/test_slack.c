/* test_slack.c: delivery policy and the delivery thread against a scripted stand-in POST. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "slack.h"

static const struct slackmsg_origin origin = {"test-host", "#3d-model-generation"};

#define MAXPOSTS 64

/* Answers POSTs from a script (the last entry repeats) and records what was posted. */
struct fake {
	pthread_mutex_t lock;
	long status[16];
	long retry_after[16];
	int nscript;
	int nposts;
	int64_t at_ms[MAXPOSTS];
	long answered[MAXPOSTS];
	char routes[MAXPOSTS][256]; /* routes of the attachments, in order, space separated */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fake__post(void *ctx, const struct slack_config *c, const char *json,
		      struct slack_response *resp)
{
	struct fake *f = ctx;
	json_t *j = json_loads(json, 0, NULL), *atts = json_object_get(j, "attachments");
	int i;

	(void)c;
	memset(resp, 0, sizeof(*resp));
	pthread_mutex_lock(&f->lock);
	i = f->nposts < f->nscript ? f->nposts : f->nscript - 1;
	resp->status = f->status[i];
	resp->retry_after = f->retry_after[i];
	snprintf(resp->body, sizeof(resp->body), "%s", resp->status == 200 ? "ok" : "err");
	if (!resp->status)
		snprintf(resp->error, sizeof(resp->error), "Operation timed out");
	if (f->nposts < MAXPOSTS) {
		char *o = f->routes[f->nposts];

		f->at_ms[f->nposts] = now_ms();
		f->answered[f->nposts] = resp->status;
		for (size_t k = 0; k < json_array_size(atts); k++) {
			json_t *fields = json_object_get(json_array_get(atts, k), "fields");
			const char *r =
			    json_string_value(json_object_get(json_array_get(fields, 1), "value"));

			snprintf(o + strlen(o), sizeof(f->routes[0]) - strlen(o), "%s ",
				 r ? r : "?");
		}
	}
	f->nposts++;
	pthread_mutex_unlock(&f->lock);
	json_decref(j);
	return 0;
}

static void fake__init(struct fake *f, const long *status, const long *retry, int n)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	for (int i = 0; i < n; i++) {
		f->status[i] = status[i];
		f->retry_after[i] = retry ? retry[i] : -1;
	}
	f->nscript = n;
}

static void config(struct slack_config *c)
{
	slack_config__defaults(c);
	snprintf(c->webhook, sizeof(c->webhook), "https://hooks.slack.com/services/T1/B2/secret");
	c->min_interval_ms = 100;
	c->gather_ms = 30;
	c->backoff_min_ms = 20;
	c->backoff_max_ms = 80;
}

static void push(struct slack *s, int i)
{
	struct alert_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.rule = ALERT_RULE_LATENCY;
	ev.severity = ALERT_SEV_WARNING;
	snprintf(ev.api, sizeof(ev.api), "data");
	snprintf(ev.route, sizeof(ev.route), "/r/%d", i);
	ev.value = i;
	CHECK_INT(slack__push(s, &ev), 0);
}

/* Collects drained events: the order and whether each was delivered. */
struct done {
	int n;
	int value[64];
	int delivered[64];
};

static void done__fn(void *ctx, const struct alert_event *ev, int delivered)
{
	struct done *d = ctx;

	if (d->n < 64) {
		d->value[d->n] = (int)ev->value;
		d->delivered[d->n] = delivered;
	}
	d->n++;
}

static void test_judge(void)
{
	struct slack_config c;
	struct slack_response r = {.retry_after = -1};
	int d;

	config(&c);
	r.status = 200;
	CHECK_INT(slack__judge(&c, &r, 1, &d), SLACK_DELIVERED);
	r.status = 500;
	CHECK_INT(slack__judge(&c, &r, 1, &d), SLACK_RETRY);
	CHECK_INT(d, 20);
	CHECK_INT(slack__judge(&c, &r, 2, &d), SLACK_RETRY);
	CHECK_INT(d, 40);
	CHECK_INT(slack__judge(&c, &r, 30, &d), SLACK_RETRY);
	CHECK_INT(d, 80); /* capped */
	r.status = 0;	  /* timeout, refused connection */
	CHECK_INT(slack__judge(&c, &r, 1, &d), SLACK_RETRY);
	r.status = 429;
	r.retry_after = 7;
	CHECK_INT(slack__judge(&c, &r, 1, &d), SLACK_RETRY);
	CHECK_INT(d, 7000);
	r.retry_after = 86400; /* clamped */
	slack__judge(&c, &r, 1, &d);
	CHECK_INT(d, c.retry_after_max_s * 1000);
	r.retry_after = 0;
	slack__judge(&c, &r, 1, &d);
	CHECK_INT(d, 1000);
	r.retry_after = -1; /* no header: backoff */
	slack__judge(&c, &r, 2, &d);
	CHECK_INT(d, 40);
	r.status = 404;
	CHECK_INT(slack__judge(&c, &r, 1, &d), SLACK_REJECTED);
	r.status = 400;
	CHECK_INT(slack__judge(&c, &r, 1, &d), SLACK_REJECTED);
	r.status = 301;
	CHECK_INT(slack__judge(&c, &r, 1, &d), SLACK_REJECTED);
}

static void test_redact_and_check(void)
{
	struct slack_config c;
	char out[128], err[128];

	slack__redact("https://hooks.slack.com/services/T1/B2/secret", out, sizeof(out));
	CHECK_STR(out, "https://hooks.slack.com/…");
	slack__redact("http://127.0.0.1:8080/hook", out, sizeof(out));
	CHECK_STR(out, "http://127.0.0.1:8080/…");
	slack__redact("hooks.slack.com/secret", out, sizeof(out));
	CHECK_STR(out, "(webhook)");
	config(&c);
	CHECK_INT(slack_config__check(&c, err, sizeof(err)), 0);
	snprintf(c.webhook, sizeof(c.webhook), "ftp://x/y");
	CHECK_INT(slack_config__check(&c, err, sizeof(err)), -EINVAL);
	snprintf(c.webhook, sizeof(c.webhook), "http://hooks.slack.com/services/T/B/x");
	CHECK_INT(slack_config__check(&c, err, sizeof(err)), -EINVAL); /* secret in clear */
	CHECK(strstr(err, "https://") != NULL);
	snprintf(c.webhook, sizeof(c.webhook), "http://127.0.0.1.evil.example/x");
	CHECK_INT(slack_config__check(&c, err, sizeof(err)), -EINVAL);
	snprintf(c.webhook, sizeof(c.webhook), "http://127.0.0.1:8080/x");
	CHECK_INT(slack_config__check(&c, err, sizeof(err)), 0);
	config(&c);
	c.webhook[0] = 0;
	CHECK(slack__new(&c, &origin, NULL, NULL) == NULL);
}

static void test_burst_coalesced_then_rate_limited(void)
{
	const long ok[] = {200};
	struct slack_config c;
	struct slack_stats st;
	struct done d = {0};
	struct fake f;
	struct slack *s;

	fake__init(&f, ok, NULL, 1);
	config(&c);
	s = slack__new(&c, &origin, fake__post, &f);
	for (int i = 0; i < 3; i++)
		push(s, i);
	CHECK_INT(slack__wait_idle(s, 5000), 0);
	push(s, 3);
	push(s, 4);
	CHECK_INT(slack__wait_idle(s, 5000), 0);
	slack__stats(s, &st);
	CHECK_INT(st.delivered, 5);
	CHECK_INT(st.messages, 2);
	CHECK_INT(f.nposts, 2);
	CHECK_STR(f.routes[0], "/r/0 /r/1 /r/2 ");
	CHECK_STR(f.routes[1], "/r/3 /r/4 ");
	CHECK(f.at_ms[1] - f.at_ms[0] >= c.min_interval_ms);
	CHECK_INT(slack__drain(s, done__fn, &d), 5);
	for (int i = 0; i < 5; i++) {
		CHECK_INT(d.value[i], i);
		CHECK_INT(d.delivered[i], 1);
	}
	slack__free(s, 1000, NULL, NULL, NULL);
}

static void test_429_waits_retry_after(void)
{
	const long status[] = {429, 200}, retry[] = {1, -1};
	struct slack_config c;
	struct slack_stats st;
	struct fake f;
	struct slack *s;

	fake__init(&f, status, retry, 2);
	config(&c);
	s = slack__new(&c, &origin, fake__post, &f);
	push(s, 7);
	CHECK_INT(slack__wait_idle(s, 5000), 0);
	slack__stats(s, &st);
	CHECK_INT(f.nposts, 2);
	CHECK(f.at_ms[1] - f.at_ms[0] >= 1000);
	CHECK_STR(f.routes[1], "/r/7 ");
	CHECK_INT(st.rate_limited, 1);
	CHECK_INT(st.delivered, 1);
	CHECK_INT(st.messages, 1);
	slack__free(s, 1000, NULL, NULL, NULL);
}

static void test_down_then_back_in_order_once(void)
{
	const long status[] = {503, 500, 0, 502, 200};
	struct slack_config c;
	struct slack_stats st;
	struct done d = {0};
	struct fake f;
	struct slack *s;
	int seen[6] = {0};

	fake__init(&f, status, NULL, 5);
	config(&c);
	s = slack__new(&c, &origin, fake__post, &f);
	push(s, 0);
	for (int i = 1; i < 6; i++) {
		struct timespec ts = {0, 15 * 1000000};

		nanosleep(&ts, NULL); /* arrive while Slack is failing */
		push(s, i);
	}
	CHECK_INT(slack__wait_idle(s, 5000), 0);
	slack__stats(s, &st);
	CHECK_INT(st.server_errors, 3);
	CHECK_INT(st.transport_errors, 1);
	CHECK_INT(st.delivered, 6);
	/* backoff doubles: 20, 40, 80, 80 ms */
	CHECK(f.at_ms[1] - f.at_ms[0] >= 20);
	CHECK(f.at_ms[2] - f.at_ms[1] >= 40);
	CHECK(f.at_ms[3] - f.at_ms[2] >= 80);
	/* accepted posts carry every event once, in order */
	for (int p = 0; p < f.nposts; p++) {
		char *tok, *save = NULL;
		int last = -1;

		if (f.answered[p] != 200)
			continue;
		for (tok = strtok_r(f.routes[p], " ", &save); tok;
		     tok = strtok_r(NULL, " ", &save)) {
			int v = atoi(tok + 3);

			CHECK(v > last);
			last = v;
			if (v >= 0 && v < 6)
				seen[v]++;
		}
	}
	for (int i = 0; i < 6; i++)
		CHECK_INT(seen[i], 1);
	slack__drain(s, done__fn, &d);
	CHECK_INT(d.n, 6);
	for (int i = 0; i < 6; i++)
		CHECK_INT(d.value[i], i);
	slack__free(s, 1000, NULL, NULL, NULL);
}

static void test_4xx_is_config_error(void)
{
	const long status[] = {404, 200};
	struct slack_config c;
	struct slack_stats st;
	struct done d = {0};
	struct fake f;
	struct slack *s;

	fake__init(&f, status, NULL, 2);
	config(&c);
	s = slack__new(&c, &origin, fake__post, &f);
	push(s, 1);
	CHECK_INT(slack__wait_idle(s, 5000), 0);
	push(s, 2);
	CHECK_INT(slack__wait_idle(s, 5000), 0);
	slack__stats(s, &st);
	CHECK_INT(f.nposts, 2); /* not retried */
	CHECK_INT(st.rejected, 1);
	CHECK_INT(st.delivered, 1);
	CHECK(strstr(st.last_error, "404") != NULL);
	slack__drain(s, done__fn, &d);
	CHECK_INT(d.n, 2);
	CHECK_INT(d.delivered[0], 0);
	CHECK_INT(d.delivered[1], 1);
	slack__free(s, 1000, NULL, NULL, NULL);
}

static void test_queue_full_and_stop_counted(void)
{
	const long status[] = {503};
	struct slack_config c;
	struct alert_event ev;
	struct slack_stats st;
	struct done d = {0};
	struct fake f;
	struct slack *s;

	fake__init(&f, status, NULL, 1);
	config(&c);
	c.queue_max = 2;
	s = slack__new(&c, &origin, fake__post, &f);
	push(s, 1);
	push(s, 2);
	memset(&ev, 0, sizeof(ev));
	CHECK_INT(slack__push(s, &ev), -ENOSPC);
	CHECK_INT(slack__wait_idle(s, 100), -ETIMEDOUT);
	slack__stats(s, &st);
	CHECK_INT(st.dropped, 1);
	CHECK_INT(st.pending, 2);
	slack__free(s, 100, done__fn, &d, &st);
	CHECK_INT(st.undelivered, 2);
	CHECK_INT(d.n, 2);
	CHECK_INT(d.delivered[0], 0);
	CHECK_INT(d.delivered[1], 0);
}

static void test_free_flushes_within_deadline(void)
{
	const long ok[] = {200};
	struct slack_config c;
	struct done d = {0};
	struct fake f;
	struct slack *s;

	fake__init(&f, ok, NULL, 1);
	config(&c);
	c.gather_ms = 500; /* stopping skips the wait for more */
	s = slack__new(&c, &origin, fake__post, &f);
	push(s, 1);
	slack__free(s, 2000, done__fn, &d, NULL);
	CHECK_INT(d.n, 1);
	CHECK_INT(d.delivered[0], 1);
	CHECK_INT(f.nposts, 1);
}

int main(void)
{
	RUN(test_judge);
	RUN(test_redact_and_check);
	RUN(test_burst_coalesced_then_rate_limited);
	RUN(test_429_waits_retry_after);
	RUN(test_down_then_back_in_order_once);
	RUN(test_4xx_is_config_error);
	RUN(test_queue_full_and_stop_counted);
	RUN(test_free_flushes_within_deadline);
	return CHECK_DONE();
}
