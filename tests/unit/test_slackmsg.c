/* test_slackmsg.c: Slack escaping, the one-line text and the webhook JSON. */
#include <jansson.h>
#include <stdlib.h>

#include "check.h"
#include "slackmsg.h"

static const struct slackmsg_origin origin = {"web-1", "#3d-model-generation"};

static void event(struct alert_event *ev, enum alert_rule rule, enum alert_severity sev,
		  enum alert_state state, const char *path)
{
	memset(ev, 0, sizeof(*ev));
	ev->ts_ns = 1764072000LL * 1000000000LL;
	ev->since_ns = ev->ts_ns;
	ev->rule = rule;
	ev->severity = sev;
	ev->state = state;
	snprintf(ev->api, sizeof(ev->api), "model");
	snprintf(ev->route, sizeof(ev->route), "%s", path);
	ev->value = rule == ALERT_RULE_LATENCY ? 1234 : 3;
	ev->threshold = rule == ALERT_RULE_LATENCY ? 1000 : 0;
	ev->stat = ALERT_STAT_P95;
	ev->window_s = 60;
	ev->samples_in_window = 12;
	ev->count = 3;
	ev->nsamples = 1;
	ev->sample[0].status = rule == ALERT_RULE_HTTP_500 ? 500 : 200;
	ev->sample[0].duration_ms = 1234;
	snprintf(ev->sample[0].method, sizeof(ev->sample[0].method), "GET");
	snprintf(ev->sample[0].path, sizeof(ev->sample[0].path), "%s", path);
}

static void test_escape(void)
{
	char out[128];

	slackmsg__escape("/user/<!channel>&x", out, sizeof(out));
	CHECK_STR(out, "/user/&lt;!channel&gt;&amp;x");
	slackmsg__escape("/caf\xc3\xa9", out, sizeof(out));
	CHECK_STR(out, "/caf\xc3\xa9");
	slackmsg__escape("/a\xff\xc3(\x01\x7f", out, sizeof(out));
	CHECK_STR(out, "/a?"
		       "?(?"
		       "?");
	slackmsg__escape("/\xed\xa0\x80/\xc0\xaf", out, sizeof(out)); /* surrogate, overlong */
	CHECK_STR(out, "/?"
		       "?"
		       "?/?"
		       "?");
	slackmsg__escape("/\xe2\x82", out, sizeof(out)); /* cut sequence */
	CHECK_STR(out, "/??");
	/* never split an entity or a character at the end of the buffer */
	slackmsg__escape("<<<<", out, 6);
	CHECK_STR(out, "&lt;");
	slackmsg__escape("ab\xc3\xa9", out, 4);
	CHECK_STR(out, "ab");
	slackmsg__sanitize("/x<y>\n", out, sizeof(out));
	CHECK_STR(out, "/x<y>?");
}

static void test_line(void)
{
	struct alert_event ev;
	char line[512];

	event(&ev, ALERT_RULE_LATENCY, ALERT_SEV_CRITICAL, ALERT_FIRING, "/model/{id}");
	slackmsg__line(&ev, line, sizeof(line));
	CHECK_STR(line, "CRITICAL firing: model response time p95 1234 ms > 1000 ms over 60 s "
			"(12 requests) on /model/{id}");
	ev.from = ALERT_SEV_WARNING;
	slackmsg__line(&ev, line, sizeof(line));
	CHECK_STR(line, "CRITICAL firing (escalated from warning): model response time p95 1234 ms "
			"> 1000 ms over 60 s (12 requests) on /model/{id}");
	event(&ev, ALERT_RULE_HTTP_500, ALERT_SEV_CRITICAL, ALERT_FIRING, "/model/crash");
	slackmsg__line(&ev, line, sizeof(line));
	CHECK_STR(line, "CRITICAL firing: model HTTP 500 x3 on /model/crash");
	event(&ev, ALERT_RULE_LATENCY, ALERT_SEV_WARNING, ALERT_RESOLVED, "");
	ev.value = 120;
	ev.threshold = 500;
	slackmsg__line(&ev, line, sizeof(line));
	CHECK_STR(line, "RESOLVED warning: model response time p95 120 ms now, threshold 500 ms "
			"over 60 s (12 requests)");
	event(&ev, ALERT_RULE_NO_RESPONSE, ALERT_SEV_WARNING, ALERT_FIRING, "/x");
	ev.value = 2;
	ev.threshold = 1;
	slackmsg__line(&ev, line, sizeof(line));
	CHECK_STR(line, "WARNING firing: model requests without response 2 >= 1 over 60 s "
			"(12 requests) on /x");
	event(&ev, ALERT_RULE_ERROR_RATIO, ALERT_SEV_WARNING, ALERT_REMINDER, "/x");
	ev.value = 0.125;
	ev.threshold = 0.05;
	slackmsg__line(&ev, line, sizeof(line));
	CHECK_STR(line, "WARNING reminder: model 5xx ratio 12.5 % 5xx > 5.0 % over 60 s "
			"(12 requests) on /x");
}

/* A quiet API: fewer than min_samples requests, judged on the slowest one. */
static void test_line_quiet_api_and_wait(void)
{
	struct alert_event ev;
	char line[512];

	event(&ev, ALERT_RULE_LATENCY, ALERT_SEV_CRITICAL, ALERT_FIRING, "/model/generate");
	ev.quiet = 1;
	ev.samples_in_window = 1;
	ev.value = 1202;
	slackmsg__line(&ev, line, sizeof(line));
	CHECK_STR(line, "CRITICAL firing: model response time 1 request in 60 s: 1202 ms > 1000 ms "
			"on /model/generate");
	ev.samples_in_window = 3;
	ev.from = ALERT_SEV_WARNING;
	slackmsg__line(&ev, line, sizeof(line));
	CHECK_STR(line, "CRITICAL firing (escalated from warning): model response time slowest of "
			"3 requests in 60 s: 1202 ms > 1000 ms on /model/generate");
	event(&ev, ALERT_RULE_LATENCY, ALERT_SEV_WARNING, ALERT_RESOLVED, "/model/generate");
	ev.samples_in_window = 0;
	ev.value = 0;
	ev.threshold = 500;
	slackmsg__line(&ev, line, sizeof(line));
	CHECK_STR(line, "RESOLVED warning: model response time no request in 60 s now, threshold "
			"500 ms on /model/generate");
	event(&ev, ALERT_RULE_WAIT, ALERT_SEV_WARNING, ALERT_FIRING, "/data/x");
	ev.value = 700;
	ev.threshold = 500;
	ev.samples_in_window = 1;
	ev.quiet = 0;
	slackmsg__line(&ev, line, sizeof(line));
	CHECK_STR(line, "WARNING firing: model time waiting to be read p95 700 ms > 500 ms over 60 s "
			"(1 request) on /data/x");
}

static json_t *parse(char *s);

static void test_grafana_link(void)
{
	const struct slackmsg_origin g = {"web 1", "#c", "https://grafana.example/", NULL};
	struct alert_event ev;
	char link[1024];
	json_t *j, *a;

	event(&ev, ALERT_RULE_LATENCY, ALERT_SEV_WARNING, ALERT_FIRING, "/model/jobs/{tok}");
	slackmsg__grafana_link(&ev, &origin, link, sizeof(link));
	CHECK_STR(link, ""); /* no URL configured */
	slackmsg__grafana_link(&ev, &g, link, sizeof(link));
	CHECK_STR(link, "https://grafana.example/d/httplat-overview/?var-api=model"
			"&var-route=%2Fmodel%2Fjobs%2F%7Btok%7D&var-host=web%201"
			"&from=1764071100000&to=1764072300000");
	j = parse(slackmsg__payload(&ev, 1, &g));
	a = json_array_get(json_object_get(j, "attachments"), 0);
	CHECK_STR(json_string_value(json_object_get(a, "title_link")), link);
	json_decref(j);
	j = parse(slackmsg__payload(&ev, 1, &origin));
	a = json_array_get(json_object_get(j, "attachments"), 0);
	CHECK(json_object_get(a, "title_link") == NULL);
	json_decref(j);
}

static json_t *parse(char *s)
{
	json_error_t e;
	json_t *j = s ? json_loads(s, 0, &e) : NULL;

	free(s);
	return j;
}

static void test_payload_one(void)
{
	struct alert_event ev;
	json_t *j, *a, *fields;
	char *raw;
	const char *text;

	event(&ev, ALERT_RULE_HTTP_500, ALERT_SEV_CRITICAL, ALERT_FIRING, "/user/<!channel>");
	raw = slackmsg__payload(&ev, 1, &origin);
	CHECK(raw != NULL);
	if (!raw)
		return;
	CHECK(strstr(raw, "<!channel>") == NULL); /* cannot ping anyone */
	j = parse(raw);
	CHECK(j != NULL);
	text = json_string_value(json_object_get(j, "text"));
	CHECK(text && strstr(text, "/user/&lt;!channel&gt;"));
	a = json_array_get(json_object_get(j, "attachments"), 0);
	CHECK_STR(json_string_value(json_object_get(a, "color")), "#d40e0d");
	CHECK(strstr(json_string_value(json_object_get(a, "footer")), "#3d-model-generation"));
	CHECK(strstr(json_string_value(json_object_get(a, "footer")), "web-1"));
	CHECK_INT(json_integer_value(json_object_get(a, "ts")), 1764072000);
	fields = json_object_get(a, "fields");
	CHECK_STR(json_string_value(json_object_get(json_array_get(fields, 0), "value")), "model");
	CHECK_STR(json_string_value(json_object_get(json_array_get(fields, 1), "value")),
		  "/user/&lt;!channel&gt;");
	text = json_string_value(
	    json_object_get(json_array_get(fields, json_array_size(fields) - 1), "value"));
	CHECK(text && strstr(text, "GET /user/&lt;!channel&gt; → 500 in 1234 ms"));
	json_decref(j);
}

static void test_payload_invalid_utf8_path(void)
{
	struct alert_event ev;
	json_t *j;

	event(&ev, ALERT_RULE_LATENCY, ALERT_SEV_WARNING, ALERT_FIRING, "/data/\xff\xfe\"\\");
	j = parse(slackmsg__payload(&ev, 1, &origin));
	CHECK(j != NULL); /* jansson refuses invalid UTF-8: it must have been replaced */
	json_decref(j);
}

/* Names from the configuration (API labels, host, channel) cannot break the JSON either. */
static void test_payload_odd_config_names(void)
{
	const struct slackmsg_origin odd = {"h\xff<st", "#ch\xfe&"};
	struct alert_event ev[2];
	json_t *j;
	char *raw;

	event(&ev[0], ALERT_RULE_LATENCY, ALERT_SEV_WARNING, ALERT_FIRING, "/x");
	snprintf(ev[0].api, sizeof(ev[0].api), "caf\xe9<b>");
	ev[1] = ev[0];
	raw = slackmsg__payload(ev, 2, &odd);
	CHECK(raw && !strstr(raw, "<b>") && !strstr(raw, "<st"));
	j = parse(raw);
	CHECK(j != NULL);
	json_decref(j);
	j = parse(slackmsg__test_payload(&odd));
	CHECK(j != NULL);
	json_decref(j);
}

static void test_payload_coalesced_and_colours(void)
{
	struct alert_event ev[25];
	json_t *j, *atts, *fields, *last;
	const char *text;

	for (int i = 0; i < 25; i++)
		event(&ev[i], ALERT_RULE_LATENCY, i % 2 ? ALERT_SEV_WARNING : ALERT_SEV_CRITICAL,
		      i == 2 ? ALERT_RESOLVED : ALERT_FIRING, "/data/sleep");
	ev[2].since_ns = ev[2].ts_ns - 3665LL * 1000000000LL;
	j = parse(slackmsg__payload(ev, 3, &origin));
	CHECK(j != NULL);
	text = json_string_value(json_object_get(j, "text"));
	CHECK_STR(text, "3 alert updates for #3d-model-generation: 2 firing, 1 resolved");
	atts = json_object_get(j, "attachments");
	CHECK_INT(json_array_size(atts), 3);
	CHECK_STR(json_string_value(json_object_get(json_array_get(atts, 0), "color")), "#d40e0d");
	CHECK_STR(json_string_value(json_object_get(json_array_get(atts, 1), "color")), "#e8a317");
	CHECK_STR(json_string_value(json_object_get(json_array_get(atts, 2), "color")), "#2eb67d");
	fields = json_object_get(json_array_get(atts, 2), "fields");
	last = json_array_get(fields, json_array_size(fields) - 2); /* before the samples */
	CHECK_STR(json_string_value(json_object_get(last, "title")), "Fired for");
	CHECK_STR(json_string_value(json_object_get(last, "value")), "1h 01m 05s");
	json_decref(j);

	j = parse(slackmsg__payload(ev, 25, &origin));
	atts = json_object_get(j, "attachments");
	CHECK_INT(json_array_size(atts), SLACKMSG_MAX_ATTACHMENTS);
	text = json_string_value(
	    json_object_get(json_array_get(atts, SLACKMSG_MAX_ATTACHMENTS - 1), "text"));
	CHECK(text && strstr(text, "6 more"));
	json_decref(j);
	CHECK(slackmsg__payload(ev, 0, &origin) == NULL);
}

static void test_test_payload(void)
{
	json_t *j = parse(slackmsg__test_payload(&origin));
	const char *text = json_string_value(json_object_get(j, "text"));

	CHECK(text && strstr(text, "test message") && strstr(text, "#3d-model-generation"));
	json_decref(j);
}

int main(void)
{
	RUN(test_escape);
	RUN(test_line);
	RUN(test_line_quiet_api_and_wait);
	RUN(test_grafana_link);
	RUN(test_payload_one);
	RUN(test_payload_invalid_utf8_path);
	RUN(test_payload_odd_config_names);
	RUN(test_payload_coalesced_and_colours);
	RUN(test_test_payload);
	return CHECK_DONE();
}
