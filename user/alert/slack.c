/* slack.c: a delivery thread posting coalesced alert messages to one webhook, in order. */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "slack.h"

struct slack_item {
	struct alert_event ev;
	int delivered;
};

/* Queue positions only grow: [head, done) finished, [done, tail) waiting; slot = pos % cap. */
struct slack {
	struct slack_config c;
	char host[256];
	char channel[64];
	char grafana_url[512];
	char grafana_dashboard[64];
	struct slackmsg_origin origin;
	slack_post_fn post;
	void *post_ctx;
	pthread_t thread;
	int started;
	pthread_mutex_t lock;
	pthread_cond_t wake; /* work arrived or stop asked */
	pthread_cond_t idle; /* the queue emptied */
	struct slack_item *q;
	uint64_t cap, head, done, tail;
	int stop;
	int64_t deadline_ms; /* monotonic; valid once stop */
	atomic_int abort_post;
	struct slack_stats st;
};

void slack_config__defaults(struct slack_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->channel, sizeof(c->channel), "#3d-model-generation");
	c->timeout_ms = 10000;
	c->connect_timeout_ms = 5000;
	c->min_interval_ms = 1000;
	c->gather_ms = 250;
	c->backoff_min_ms = 1000;
	c->backoff_max_ms = 60000;
	c->retry_after_max_s = 300;
	c->queue_max = 500;
}

/* Plain http only to this machine (a stand-in): the URL path is the secret. */
static int url__loopback_http(const char *url)
{
	static const char *const ok[] = {"http://127.0.0.1:", "http://127.0.0.1/",
					 "http://localhost:", "http://localhost/",
					 "http://[::1]:",     "http://[::1]/"};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!strncmp(url, ok[i], strlen(ok[i])))
			return 1;
	return 0;
}

int slack_config__check(const struct slack_config *c, char *err, size_t errsz)
{
	if (c->webhook[0] && strncmp(c->webhook, "https://", 8) &&
	    !url__loopback_http(c->webhook)) {
		snprintf(err, errsz,
			 "the Slack webhook must be an https:// URL (plain http:// only "
			 "to 127.0.0.1 or localhost)");
		return -EINVAL;
	}
	if (c->timeout_ms < 100 || c->connect_timeout_ms < 100) {
		snprintf(err, errsz, "Slack timeouts must be at least 100 ms");
		return -EINVAL;
	}
	if (c->min_interval_ms < 0 || c->gather_ms < 0 || c->backoff_min_ms < 1 ||
	    c->backoff_max_ms < c->backoff_min_ms || c->retry_after_max_s < 1 || c->queue_max < 1) {
		snprintf(err, errsz, "invalid Slack rate/backoff/queue settings");
		return -EINVAL;
	}
	return 0;
}

void slack__redact(const char *url, char *out, size_t outsz)
{
	const char *p = strstr(url, "://"), *end;

	if (!p) {
		snprintf(out, outsz, "(webhook)");
		return;
	}
	end = strchr(p + 3, '/');
	if (!end)
		end = p + strlen(p);
	snprintf(out, outsz, "%.*s/…", (int)(end - url), url);
}

enum slack_verdict slack__judge(const struct slack_config *c, const struct slack_response *resp,
				int attempt, int *delay_ms)
{
	int64_t d = c->backoff_min_ms;

	for (int i = 1; i < attempt && d < c->backoff_max_ms; i++)
		d *= 2;
	if (d > c->backoff_max_ms)
		d = c->backoff_max_ms;
	*delay_ms = (int)d;
	if (resp->status >= 200 && resp->status <= 299)
		return SLACK_DELIVERED;
	if (resp->status == 429) {
		if (resp->retry_after >= 0) {
			long s = resp->retry_after;

			/* clamped: a bogus or huge value must not stall alerts for hours */
			s = s < 1 ? 1 : s > c->retry_after_max_s ? c->retry_after_max_s : s;
			*delay_ms = (int)(s * 1000);
		}
		return SLACK_RETRY;
	}
	if (resp->status == 0 || resp->status >= 500)
		return SLACK_RETRY;
	return SLACK_REJECTED;
}

struct body_buf {
	char *p;
	size_t len, cap;
};

static size_t body__write(char *data, size_t size, size_t nmemb, void *ud)
{
	struct body_buf *b = ud;
	size_t n = size * nmemb, room = b->cap - 1 - b->len;

	if (n < room)
		room = n;
	memcpy(b->p + b->len, data, room);
	b->len += room;
	b->p[b->len] = 0;
	return n;
}

static int post__progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	atomic_int *abort_post = ud;

	(void)dt, (void)dn, (void)ut, (void)un;
	return abort_post && atomic_load(abort_post);
}

static int slack__curl_post_abortable(const struct slack_config *c, const char *json,
				      struct slack_response *resp, atomic_int *abort_post)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	struct body_buf body = {.p = resp->body, .cap = sizeof(resp->body)};
	curl_off_t retry = -1;
	CURLcode rc;
	CURL *h;
	int ret = 0;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after = -1;
	h = curl_easy_init();
	if (!h)
		return -ENOMEM;
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json; charset=utf-8");
	if (!hdrs) {
		ret = -ENOMEM;
		goto cleanup;
	}
	curl_easy_setopt(h, CURLOPT_URL, c->webhook);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body__write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "httplat");
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, post__progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, abort_post);
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		/* curl's messages name the host, never the secret path */
		snprintf(resp->error, sizeof(resp->error), "%s",
			 errbuf[0] ? errbuf : curl_easy_strerror(rc));
		goto cleanup;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &retry) == CURLE_OK && retry > 0)
		resp->retry_after = (long)(retry > 86400 ? 86400 : retry);
cleanup:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return ret;
}

int slack__curl_post(void *ctx, const struct slack_config *c, const char *json,
		     struct slack_response *resp)
{
	return slack__curl_post_abortable(c, json, resp, ctx);
}

static void resp__describe(const struct slack_response *r, char *out, size_t sz)
{
	char body[sizeof(r->body)];

	slackmsg__sanitize(r->body, body, sizeof(body));
	if (r->status)
		snprintf(out, sz, "HTTP %ld%s%s", r->status, body[0] ? " " : "", body);
	else
		snprintf(out, sz, "no answer: %.200s", r->error);
}

/* Marks the first n waiting events finished. Called locked. */
static void queue__finish(struct slack *s, uint64_t n, int delivered)
{
	for (uint64_t i = 0; i < n; i++)
		s->q[(s->done + i) % s->cap].delivered = delivered;
	s->done += n;
	if (s->done == s->tail)
		pthread_cond_broadcast(&s->idle);
}

static int stopping_past_deadline(struct slack *s, int64_t now)
{
	return s->stop && now >= s->deadline_ms;
}

/* Waits on wake until at_ms (monotonic) or a signal. Called locked. */
static void wait__until(struct slack *s, int64_t at_ms)
{
	int64_t now = clock__mono_ms();

	if (s->stop && at_ms > s->deadline_ms)
		at_ms = s->deadline_ms;
	if (at_ms > now)
		clock__cond_wait_ms(&s->wake, &s->lock, at_ms - now);
}

/* One POST of up to SLACKMSG_MAX_ATTACHMENTS waiting events. Called unlocked. */
static enum slack_verdict slack__send_batch(struct slack *s, struct alert_event *batch, int n,
					    int attempt, int *delay_ms)
{
	struct slack_response resp;
	enum slack_verdict v;
	char what[sizeof(((struct slack_stats *)0)->last_error)], url[128];
	char *json = slackmsg__payload(batch, n, &s->origin);
	int ret;

	if (!json) {
		*delay_ms = s->c.backoff_min_ms;
		return SLACK_RETRY;
	}
	ret = s->post(s->post_ctx ? s->post_ctx : &s->abort_post, &s->c, json, &resp);
	free(json);
	if (ret) {
		memset(&resp, 0, sizeof(resp));
		snprintf(resp.error, sizeof(resp.error), "%s", strerror(-ret));
	}
	v = slack__judge(&s->c, &resp, attempt, delay_ms);
	resp__describe(&resp, what, sizeof(what));
	slack__redact(s->c.webhook, url, sizeof(url));
	pthread_mutex_lock(&s->lock);
	s->st.attempts++;
	s->st.last_status = resp.status;
	if (resp.status == 429)
		s->st.rate_limited++;
	else if (resp.status >= 500)
		s->st.server_errors++;
	else if (!resp.status)
		s->st.transport_errors++;
	if (v != SLACK_DELIVERED)
		snprintf(s->st.last_error, sizeof(s->st.last_error), "%s", what);
	pthread_mutex_unlock(&s->lock);
	if (v == SLACK_RETRY)
		fprintf(stderr, "httplat: slack: %s from %s, retrying %d alert(s) in %d ms\n", what,
			url, n, *delay_ms);
	else if (v == SLACK_REJECTED)
		fprintf(stderr,
			"httplat: slack: %s refused the message: %s. This is a configuration "
			"error (check the webhook URL and the channel); %d alert(s) not "
			"delivered\n",
			url, what, n);
	return v;
}

static void *slack__thread(void *arg)
{
	struct slack *s = arg;
	struct alert_event *batch = calloc(SLACKMSG_MAX_ATTACHMENTS, sizeof(*batch));
	int64_t next_ms = 0, first_seen = 0;
	int attempt = 0, delay_ms;

	pthread_mutex_lock(&s->lock);
	while (batch) {
		int64_t now = clock__mono_ms();
		enum slack_verdict v;
		int n;

		if (s->done == s->tail) {
			first_seen = 0;
			if (s->stop)
				break;
			pthread_cond_wait(&s->wake, &s->lock);
			continue;
		}
		if (stopping_past_deadline(s, now))
			break;
		if (!first_seen)
			first_seen = now;
		/* a burst's first event waits gather_ms so the rest joins it; no rate wait beyond
		 */
		if (now < next_ms || (!attempt && !s->stop && now < first_seen + s->c.gather_ms)) {
			wait__until(s, next_ms > first_seen + s->c.gather_ms
					   ? next_ms
					   : first_seen + s->c.gather_ms);
			continue;
		}
		n = (int)(s->tail - s->done);
		if (n > SLACKMSG_MAX_ATTACHMENTS)
			n = SLACKMSG_MAX_ATTACHMENTS;
		for (int i = 0; i < n; i++)
			batch[i] = s->q[(s->done + i) % s->cap].ev;
		pthread_mutex_unlock(&s->lock);
		v = slack__send_batch(s, batch, n, ++attempt, &delay_ms);
		pthread_mutex_lock(&s->lock);
		now = clock__mono_ms();
		if (v == SLACK_RETRY) {
			next_ms = now + delay_ms;
			continue;
		}
		attempt = 0;
		next_ms = now + s->c.min_interval_ms;
		first_seen = now; /* what arrived meanwhile goes out after the interval */
		if (v == SLACK_DELIVERED) {
			s->st.delivered += n;
			s->st.messages++;
		} else {
			s->st.rejected += n;
		}
		queue__finish(s, n, v == SLACK_DELIVERED);
	}
	/* stopped: whatever is left is reported undelivered */
	s->st.undelivered += s->tail - s->done;
	queue__finish(s, s->tail - s->done, 0);
	pthread_mutex_unlock(&s->lock);
	free(batch);
	return NULL;
}

struct slack *slack__new(const struct slack_config *c, const struct slackmsg_origin *origin,
			 slack_post_fn post, void *post_ctx)
{
	struct slack *s;
	char err[128];
	int ret;

	if (slack_config__check(c, err, sizeof(err)) || !c->webhook[0]) {
		errno = EINVAL;
		return NULL;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		errno = ENOMEM;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		curl_global_cleanup();
		return NULL;
	}
	s->c = *c;
	s->cap = (uint64_t)c->queue_max;
	s->q = calloc(s->cap, sizeof(*s->q));
	snprintf(s->host, sizeof(s->host), "%s", origin->host);
	snprintf(s->channel, sizeof(s->channel), "%s", origin->channel);
	snprintf(s->grafana_url, sizeof(s->grafana_url), "%s",
		 origin->grafana_url ? origin->grafana_url : "");
	snprintf(s->grafana_dashboard, sizeof(s->grafana_dashboard), "%s",
		 origin->grafana_dashboard ? origin->grafana_dashboard : "");
	s->origin.host = s->host;
	s->origin.channel = s->channel;
	s->origin.grafana_url = s->grafana_url;
	s->origin.grafana_dashboard = s->grafana_dashboard[0] ? s->grafana_dashboard : NULL;
	s->post = post ? post : slack__curl_post;
	s->post_ctx = post_ctx;
	pthread_mutex_init(&s->lock, NULL);
	/* timed waits are computed on the monotonic clock: a clock step must not stall them */
	clock__cond_init(&s->wake);
	clock__cond_init(&s->idle);
	if (!s->q) {
		ret = ENOMEM;
		goto fail;
	}
	ret = pthread_create(&s->thread, NULL, slack__thread, s);
	if (ret)
		goto fail;
	s->started = 1;
	return s;
fail:
	slack__free(s, 0, NULL, NULL, NULL);
	errno = ret;
	return NULL;
}

int slack__push(struct slack *s, const struct alert_event *ev)
{
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	if (s->tail - s->head >= s->cap || s->stop) {
		s->st.dropped++;
		ret = -ENOSPC;
	} else {
		s->q[s->tail % s->cap].ev = *ev;
		s->tail++;
		s->st.queued++;
		pthread_cond_signal(&s->wake);
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

int slack__drain(struct slack *s, slack_done_fn fn, void *ctx)
{
	struct slack_item *it;
	int n = 0;

	/* the callback runs unlocked: it may take long (a database) */
	for (;;) {
		pthread_mutex_lock(&s->lock);
		if (s->head == s->done) {
			pthread_mutex_unlock(&s->lock);
			return n;
		}
		it = &s->q[s->head % s->cap];
		pthread_mutex_unlock(&s->lock);
		/* the slot cannot be reused before head moves past it */
		if (fn)
			fn(ctx, &it->ev, it->delivered);
		pthread_mutex_lock(&s->lock);
		s->head++;
		pthread_mutex_unlock(&s->lock);
		n++;
	}
}

int slack__wait_idle(struct slack *s, int timeout_ms)
{
	int64_t end = clock__mono_ms() + timeout_ms;
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	while (s->done != s->tail) {
		int64_t left = end - clock__mono_ms();

		if (left <= 0) {
			ret = -ETIMEDOUT;
			break;
		}
		clock__cond_wait_ms(&s->idle, &s->lock, left);
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

void slack__stats(struct slack *s, struct slack_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->st;
	out->pending = (int)(s->tail - s->done);
	pthread_mutex_unlock(&s->lock);
}

void slack__free(struct slack *s, int deadline_ms, slack_done_fn fn, void *ctx,
		 struct slack_stats *final)
{
	int64_t deadline;

	if (!s)
		return;
	if (s->started) {
		deadline = clock__mono_ms() + (deadline_ms > 0 ? deadline_ms : 0);
		pthread_mutex_lock(&s->lock);
		s->stop = 1;
		s->deadline_ms = deadline;
		pthread_cond_broadcast(&s->wake);
		pthread_mutex_unlock(&s->lock);
		/* an in-flight POST past the deadline is aborted by the progress callback */
		while (slack__wait_idle(s, 50) && clock__mono_ms() < deadline)
			;
		atomic_store(&s->abort_post, 1);
		pthread_join(s->thread, NULL);
		slack__drain(s, fn, ctx);
	}
	if (final)
		slack__stats(s, final);
	pthread_cond_destroy(&s->idle);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s->q);
	free(s);
	curl_global_cleanup();
}
