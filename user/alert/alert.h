/* alert.h: the alert rule engine: records and an explicit clock in, alert state changes out. */
#ifndef HTTPLAT_ALERT_H
#define HTTPLAT_ALERT_H

#include <stdint.h>

#include "record.h"

enum alert_rule {
	ALERT_RULE_LATENCY,
	ALERT_RULE_HTTP_500,
	ALERT_RULE_ERROR_RATIO,
	ALERT_RULE_NO_RESPONSE,
	ALERT_RULE_WAIT, /* like latency, on queue_ms + wait_ms: waiting before the app read it */
	ALERT_RULE_COUNT,
};

enum alert_stat { ALERT_STAT_P50, ALERT_STAT_P95, ALERT_STAT_P99, ALERT_STAT_MAX, ALERT_STAT_MEAN };

enum alert_severity { ALERT_SEV_NONE, ALERT_SEV_WARNING, ALERT_SEV_CRITICAL };

enum alert_state { ALERT_FIRING, ALERT_REMINDER, ALERT_RESOLVED };

#define ALERT_API_OVERRIDES 16
#define ALERT_SAMPLES 3

/* Per-API latency thresholds that replace the defaults for one API (negative = not set). */
struct alert_api_limits {
	char api[RECORD_API_MAX];
	double warn_ms;
	double crit_ms;
};

struct alert_config {
	unsigned rules;	      /* bit (1 << enum alert_rule) per enabled rule */
	double warn_ms;	      /* latency warning when the statistic is above this */
	double crit_ms;	      /* latency critical above this; 0 = no critical level */
	enum alert_stat stat; /* the latency statistic over the window */
	int window_s;	      /* sliding window length */
	int min_samples;      /* answered requests needed in the window */
	int repeat_s;	      /* reminder interval while firing; 0 = never */
	int hold_s;	      /* condition must stay clear this long before "resolved" */
	double hysteresis;    /* clears only below threshold * (1 - hysteresis) */
	double ratio_warn;    /* 5xx share of answered requests, 0..1 */
	double ratio_crit;    /* 0 = no critical level */
	double no_resp_warn;  /* requests without response in the window (count) */
	double no_resp_crit;  /* 0 = no critical level */
	struct alert_api_limits api[ALERT_API_OVERRIDES];
	int napi;
};

/* One request quoted in an alert message (raw: the message builder escapes it). */
struct alert_sample {
	int64_t ts_ns;
	double duration_ms;
	double wait_ms; /* queue_ms + wait_ms; < 0 unknown */
	uint16_t status;
	char method[RECORD_METHOD_MAX];
	char path[RECORD_PATH_MAX + 1];
	char route[RECORD_PATH_MAX + 1];
};

/* One alert state change. */
struct alert_event {
	int64_t ts_ns; /* the engine's clock at the change */
	enum alert_rule rule;
	enum alert_severity severity;
	enum alert_state state;
	enum alert_severity from; /* firing: the severity it replaces (escalation), else NONE */
	char api[RECORD_API_MAX];
	char route[RECORD_PATH_MAX + 1]; /* route the alert names; may be empty */
	double value;			 /* ms, count or ratio (see rule) */
	double threshold;
	enum alert_stat stat; /* latency only */
	int window_s;
	uint64_t samples_in_window; /* answered requests in the window (wait: requests timed) */
	/*
	 * latency, wait: fewer than min_samples requests in the window, so the
	 * value is the slowest of them (a quiet API is judged on each request).
	 */
	int quiet;
	uint64_t count;		    /* http_500: 500s since it fired */
	int64_t since_ns;	    /* when this alert started firing */
	int nsamples;
	struct alert_sample sample[ALERT_SAMPLES];
};

typedef void (*alert_emit_fn)(void *ctx, const struct alert_event *ev);

struct alert_engine_stats {
	uint64_t records; /* records observed */
	uint64_t late;	  /* records older than the window: not counted */
	uint64_t no_api;  /* records of APIs beyond the engine's API table: not counted */
	uint64_t events;  /* state changes emitted */
	int firing;	  /* alerts firing now */
};

struct alert_engine;

/* Fills the team's defaults: latency and http_500 on, 500/1000 ms, p95 over 60 s, 5 samples. */
void alert_config__defaults(struct alert_config *c);
/* 0, or -EINVAL with a reason in err (thresholds out of order, window too short...). */
int alert_config__check(const struct alert_config *c, char *err, size_t errsz);
/* Latency thresholds for one API (per-API override or the defaults). */
void alert_config__limits(const struct alert_config *c, const char *api, double *warn,
			  double *crit);

/* Copies c; emit is called synchronously from observe/tick. NULL on -ENOMEM/-EINVAL (errno). */
struct alert_engine *alert_engine__new(const struct alert_config *c, alert_emit_fn emit, void *ctx);
/* Counts one request; a 500 fires (or is counted into) the http_500 alert at once. */
void alert_engine__observe(struct alert_engine *e, const struct record *r);
/* Evaluates the windowed rules, reminders and resolutions at now_ns (CLOCK_REALTIME ns). */
void alert_engine__tick(struct alert_engine *e, int64_t now_ns);
void alert_engine__stats(const struct alert_engine *e, struct alert_engine_stats *out);
void alert_engine__free(struct alert_engine *e);

const char *alert_rule__name(enum alert_rule r);
int alert_rule__parse(const char *name, enum alert_rule *out);
const char *alert_stat__name(enum alert_stat s);
int alert_stat__parse(const char *name, enum alert_stat *out);
const char *alert_severity__name(enum alert_severity s);
const char *alert_state__name(enum alert_state s);

#endif
