/* slack.h: webhook delivery on its own thread: rate limit, coalescing, retries, in order. */
#ifndef HTTPLAT_SLACK_H
#define HTTPLAT_SLACK_H

#include <stdint.h>

#include "alert.h"
#include "slackmsg.h"

#define SLACK_URL_MAX 1024

struct slack_config {
	char webhook[SLACK_URL_MAX]; /* "" = none configured */
	char channel[64];	     /* label shown in messages */
	int timeout_ms;		     /* whole POST */
	int connect_timeout_ms;
	int min_interval_ms; /* at most one message per this interval */
	int gather_ms;	     /* wait after the first event of a burst, to coalesce it */
	int backoff_min_ms;  /* 5xx/timeouts: first retry delay, doubled each time */
	int backoff_max_ms;
	int retry_after_max_s; /* clamp for 429 Retry-After */
	int queue_max;	       /* events waiting at most; more are dropped and counted */
};

/* What one POST came back with. */
struct slack_response {
	long status;	  /* HTTP status; 0 = no response (transport error) */
	long retry_after; /* seconds from Retry-After; -1 = none */
	char body[128];	  /* start of the body, e.g. "ok", "channel_not_found" */
	char error[256];  /* transport error text when status == 0 */
};

enum slack_verdict { SLACK_DELIVERED, SLACK_RETRY, SLACK_REJECTED };

/* Posts json to url; fills resp; 0 (resp says how it went) or -errno. Replaceable for tests. */
typedef int (*slack_post_fn)(void *ctx, const struct slack_config *c, const char *json,
			     struct slack_response *resp);

/* Called on the caller's thread (slack__drain) for each event once its fate is known. */
typedef void (*slack_done_fn)(void *ctx, const struct alert_event *ev, int delivered);

struct slack_stats {
	uint64_t queued;	   /* events accepted */
	uint64_t delivered;	   /* events Slack accepted */
	uint64_t messages;	   /* messages Slack accepted (coalesced events) */
	uint64_t attempts;	   /* POSTs made */
	uint64_t rate_limited;	   /* 429 answers */
	uint64_t server_errors;	   /* 5xx answers */
	uint64_t transport_errors; /* timeouts, refused connections... */
	uint64_t rejected;	   /* events lost to a configuration error (other 4xx) */
	uint64_t dropped;	   /* events lost because the queue was full */
	uint64_t undelivered;	   /* events still queued when stopped */
	int pending;		   /* events waiting now */
	long last_status;
	char last_error[240];
};

struct slack;

void slack_config__defaults(struct slack_config *c);
/* 0, or -EINVAL with a reason in err (not an http(s) URL...). */
int slack_config__check(const struct slack_config *c, char *err, size_t errsz);
/* "https://hooks.slack.com/…": scheme and host only, safe to log. */
void slack__redact(const char *url, char *out, size_t outsz);
/* What to do after resp at the attempt-th try (1-based); *delay_ms before the next POST. */
enum slack_verdict slack__judge(const struct slack_config *c, const struct slack_response *resp,
				int attempt, int *delay_ms);
/* The libcurl POST (the default slack_post_fn); ctx: NULL, or an atomic_int that aborts it. */
int slack__curl_post(void *ctx, const struct slack_config *c, const char *json,
		     struct slack_response *resp);

/* Starts the delivery thread; post NULL = libcurl. NULL and errno on failure. */
struct slack *slack__new(const struct slack_config *c, const struct slackmsg_origin *origin,
			 slack_post_fn post, void *post_ctx);
/* Queues one event; never blocks on the network. 0 or -ENOSPC (dropped, counted). */
int slack__push(struct slack *s, const struct alert_event *ev);
/* Reports finished events in order to fn; returns how many. */
int slack__drain(struct slack *s, slack_done_fn fn, void *ctx);
/* Blocks until nothing is pending or timeout_ms passes; 0 or -ETIMEDOUT. For tests and flush. */
int slack__wait_idle(struct slack *s, int timeout_ms);
void slack__stats(struct slack *s, struct slack_stats *out);
/*
 * Keeps delivering until the queue is empty or deadline_ms passed, stops the thread,
 * reports every event (undelivered ones with 0) to fn, copies the final stats to final
 * (may be NULL), frees. NULL-safe.
 */
void slack__free(struct slack *s, int deadline_ms, slack_done_fn fn, void *ctx,
		 struct slack_stats *final);

#endif
