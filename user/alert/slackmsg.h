/* slackmsg.h: alert events as Slack webhook JSON (jansson) and as one-line text. */
#ifndef HTTPLAT_SLACKMSG_H
#define HTTPLAT_SLACKMSG_H

#include <stddef.h>

#include "alert.h"

#define SLACKMSG_MAX_ATTACHMENTS 20 /* a longer burst is summarised in one more attachment */

/* Where the message says it comes from and goes to. */
struct slackmsg_origin {
	const char *host;    /* host name shown in the footer */
	const char *channel; /* channel label, "#3d-model-generation" */
	/*
	 * Grafana's base URL ("https://grafana.example"; NULL or "" = none) and the
	 * dashboard an alert links to, with its api, route and host variables set.
	 */
	const char *grafana_url;
	const char *grafana_dashboard; /* uid; NULL = SLACKMSG_GRAFANA_DASHBOARD */
};

#define SLACKMSG_GRAFANA_DASHBOARD "httplat-overview"

/*
 * Copies in to out (always NUL-terminated) for Slack: & < > become &amp; &lt; &gt;
 * (so "<!channel>" in a path cannot ping anyone), control bytes and invalid UTF-8
 * become '?'. Never splits an entity or a UTF-8 sequence. Returns bytes written.
 */
size_t slackmsg__escape(const char *in, char *out, size_t outsz);
/* Control bytes and invalid UTF-8 become '?' (for logs): same rules without the entities. */
size_t slackmsg__sanitize(const char *in, char *out, size_t outsz);
/* "CRITICAL firing: model p95 1234 ms > 1000 ms over 60 s (12 requests) on /model/{id}". */
void slackmsg__line(const struct alert_event *ev, char *out, size_t outsz);
/* Webhook payload for n events in order, coalesced into one message; malloc'd, NULL on ENOMEM. */
char *slackmsg__payload(const struct alert_event *ev, int n, const struct slackmsg_origin *o);
/* The payload `httplat alert test` posts. */
char *slackmsg__test_payload(const struct slackmsg_origin *o);
/*
 * The Grafana link of an event: the dashboard from 15 min before it fired to 5 min after the
 * event, its variables percent-encoded. "" when no Grafana URL is configured.
 */
void slackmsg__grafana_link(const struct alert_event *ev, const struct slackmsg_origin *o,
			    char *out, size_t outsz);
/* Colour of an event: critical red, warning amber, resolved green. */
const char *slackmsg__colour(const struct alert_event *ev);

#endif
