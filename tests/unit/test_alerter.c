/* test_alerter.c: the facade run uses: rules -> Slack (stand-in POST) or stderr -> history rows. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "alerter.h"

#define MAXROWS 16

struct history {
	struct alert_row row[MAXROWS];
	int n;
};

static void history__fn(void *ctx, const struct alert_row *row)
{
	struct history *h = ctx;

	if (h->n < MAXROWS)
		h->row[h->n] = *row;
	h->n++;
}

static long answer; /* what the stand-in POST answers */

static int post__fn(void *ctx, const struct slack_config *c, const char *json,
		    struct slack_response *resp)
{
	(void)ctx, (void)c, (void)json;
	memset(resp, 0, sizeof(*resp));
	resp->status = answer;
	resp->retry_after = -1;
	return 0;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void crash(struct alerter *a)
{
	struct record r;

	memset(&r, 0, sizeof(r));
	r.ts_ns = now_ns();
	r.duration_ms = 2;
	r.status = 500;
	snprintf(r.method, sizeof(r.method), "GET");
	snprintf(r.path, sizeof(r.path), "/model/crash");
	snprintf(r.route, sizeof(r.route), "/model/crash");
	snprintf(r.api, sizeof(r.api), "model");
	alerter__observe(a, &r);
}

/* Ticks until n rows arrived or 5 s passed. */
static void tick_until(struct alerter *a, struct history *h, int n)
{
	for (int i = 0; i < 500 && h->n < n; i++) {
		struct timespec ts = {0, 10 * 1000000};

		alerter__tick(a, now_ns());
		nanosleep(&ts, NULL);
	}
}

static void config(struct httplat_config *c, const char *hook)
{
	config__defaults(c);
	snprintf(c->slack.webhook, sizeof(c->slack.webhook), "%s", hook);
	c->slack.gather_ms = 0;
	c->slack.backoff_min_ms = 10;
	c->slack.backoff_max_ms = 20;
}

static void test_no_webhook_rows_at_once(void)
{
	struct httplat_config c;
	struct history h = {0};
	struct alerter_stats st;
	struct alerter *a;
	char line[512];

	config(&c, "");
	a = alerter__new(&c, history__fn, &h);
	CHECK(a != NULL);
	alerter__describe(a, line, sizeof(line));
	CHECK(strstr(line, "stderr only: no Slack webhook configured") != NULL);
	crash(a);
	CHECK_INT(h.n, 1);
	CHECK_STR(h.row[0].rule, "http_500");
	CHECK_STR(h.row[0].api, "model");
	CHECK_STR(h.row[0].route, "/model/crash");
	CHECK_STR(h.row[0].severity, "critical");
	CHECK_STR(h.row[0].state, "firing");
	CHECK_INT(h.row[0].delivered, -1);
	CHECK_STR(h.row[0].message, "CRITICAL firing: model HTTP 500 x1 on /model/crash");
	alerter__stats(a, &st);
	CHECK_INT(st.slack, 0);
	CHECK_INT(st.logged, 1);
	CHECK_INT(st.history, 1);
	alerter__free(a, 0);
}

static void test_delivered_row_after_slack_accepts(void)
{
	struct httplat_config c;
	struct history h = {0};
	struct alerter *a;
	char line[512];

	config(&c, "https://hooks.slack.com/services/T1/B2/secretpart");
	answer = 200;
	a = alerter__new_post(&c, history__fn, &h, post__fn, NULL);
	alerter__describe(a, line, sizeof(line));
	CHECK(strstr(line, "https://hooks.slack.com/…") != NULL);
	CHECK(strstr(line, "secretpart") == NULL);
	crash(a);
	CHECK_INT(h.n, 0); /* written once delivery is settled */
	tick_until(a, &h, 1);
	CHECK_INT(h.n, 1);
	CHECK_INT(h.row[0].delivered, 1);
	alerter__free(a, 1000);
	CHECK_INT(h.n, 1);
}

static void test_rejected_and_undelivered_rows(void)
{
	struct httplat_config c;
	struct history h = {0};
	struct alerter_stats st;
	struct alerter *a;

	config(&c, "https://hooks.slack.com/services/T1/B2/x");
	answer = 404;
	a = alerter__new_post(&c, history__fn, &h, post__fn, NULL);
	crash(a);
	tick_until(a, &h, 1);
	CHECK_INT(h.n, 1);
	CHECK_INT(h.row[0].delivered, 0);
	alerter__stats(a, &st);
	CHECK_INT(st.delivery.rejected, 1);
	alerter__free(a, 0);

	memset(&h, 0, sizeof(h));
	answer = 503; /* down until the end: the row still comes, not delivered */
	a = alerter__new_post(&c, history__fn, &h, post__fn, NULL);
	crash(a);
	alerter__free(a, 50);
	CHECK_INT(h.n, 1);
	CHECK_INT(h.row[0].delivered, 0);
}

static void test_bad_rules_refused(void)
{
	struct httplat_config c;

	config(&c, "");
	c.alerts.crit_ms = 100;
	errno = 0;
	CHECK(alerter__new(&c, history__fn, NULL) == NULL);
	CHECK_INT(errno, EINVAL);
}

int main(void)
{
	RUN(test_no_webhook_rows_at_once);
	RUN(test_delivered_row_after_slack_accepts);
	RUN(test_rejected_and_undelivered_rows);
	RUN(test_bad_rules_refused);
	return CHECK_DONE();
}
