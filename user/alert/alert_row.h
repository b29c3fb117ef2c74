/* alert_row.h: one alert state change as the alerts table stores it (alerting -> PostgreSQL writer). */
#ifndef HTTPLAT_ALERT_ROW_H
#define HTTPLAT_ALERT_ROW_H

#include <stdint.h>

#include "record.h"

struct alert_row {
	int64_t ts_ns;		       /* wall clock (CLOCK_REALTIME ns) of the state change */
	char rule[32];		       /* "latency", "http_500", "error_ratio", "no_response" */
	char api[RECORD_API_MAX];      /* "data", "model", "user", ... */
	char route[RECORD_PATH_MAX + 1]; /* route the alert names, may be empty */
	char severity[16];	       /* "warning", "critical" */
	char state[16];		       /* "firing", "reminder", "resolved" */
	double value;		       /* measured value (ms, count or ratio) */
	double threshold;
	int32_t delivered; /* 1 Slack accepted it, 0 not delivered, -1 no webhook configured */
	char message[512]; /* the text sent (or logged), for the history */
};

#endif
