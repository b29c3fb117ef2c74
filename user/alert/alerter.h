/* alerter.h: what `run` calls: rules on every record, delivery to Slack or stderr, history rows. */
#ifndef HTTPLAT_ALERTER_H
#define HTTPLAT_ALERTER_H

#include <stddef.h>

#include "alert.h"
#include "alert_row.h"
#include "config.h"
#include "slack.h"

/* Receives every alert state change once its delivery is settled (for the alerts table). */
typedef void (*alerter_history_fn)(void *ctx, const struct alert_row *row);

struct alerter_stats {
	struct alert_engine_stats engine;
	int slack;		     /* a webhook is configured */
	struct slack_stats delivery; /* when slack */
	uint64_t logged;	     /* state changes written to stderr */
	uint64_t history;	     /* rows handed to the history callback */
};

struct alerter;

/* NULL and errno on failure (-EINVAL: bad rules). history may be NULL. */
struct alerter *alerter__new(const struct httplat_config *cfg, alerter_history_fn history,
			     void *ctx);
/* The same with a stand-in POST function for Slack (tests). */
struct alerter *alerter__new_post(const struct httplat_config *cfg, alerter_history_fn history,
				  void *ctx, slack_post_fn post, void *post_ctx);
/* Never blocks on the network. */
void alerter__observe(struct alerter *a, const struct record *r);
/* Evaluates the rules at now_ns (CLOCK_REALTIME) and hands settled rows to history. */
void alerter__tick(struct alerter *a, int64_t now_ns);
void alerter__stats(struct alerter *a, struct alerter_stats *out);
/* One line for the start of `run`: where alerts go (webhook redacted) and the rules. */
void alerter__describe(struct alerter *a, char *out, size_t outsz);
/* Delivers what is queued for up to deadline_ms, reports every row, frees. NULL-safe. */
void alerter__free(struct alerter *a, int deadline_ms);
/* The alert_row for an event (message = its one-line text). */
void alerter__row(const struct alert_event *ev, int delivered, struct alert_row *row);

#endif
