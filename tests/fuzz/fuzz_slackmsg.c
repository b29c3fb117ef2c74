/* fuzz_slackmsg.c: Slack escaping and the webhook payload built from request bytes. */
#include <jansson.h>

#include "fuzz.h"
#include "slackmsg.h"

/*
 * Slack's mrkdwn: no raw '<' (it opens <!channel>, <@user> and <url|text>), & only as the
 * three entities, valid UTF-8. With strict (the escaper's own output) no raw '>' either;
 * httplat's own text may say "> 1000 ms".
 */
static void check_slack_text(const char *s, const char *what, int strict)
{
	size_t n = strlen(s);

	FUZZ_CHECK(fuzz__valid_utf8(s, n), "%s: not UTF-8", what);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		FUZZ_CHECK(c != '<' && (c != '>' || !strict), "%s: raw %c: %s", what, c, s);
		FUZZ_CHECK(c >= 0x20 || c == '\n', "%s: control byte %#x", what, c);
		if (c == '&')
			FUZZ_CHECK(!strncmp(s + i, "&amp;", 5) || !strncmp(s + i, "&lt;", 4) ||
					   !strncmp(s + i, "&gt;", 4),
				   "%s: bare &", what);
	}
}

/* Every string of the payload as Slack reads it (after JSON decoding). */
static void check_json(json_t *j, const char *key)
{
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_string(j)) {
		if (strcmp(key, "title_link")) {
			check_slack_text(json_string_value(j), key, 0);
			return;
		}
		for (const char *p = json_string_value(j); *p; p++)
			FUZZ_CHECK(*p > 0x20 && *p < 0x7f && *p != '<' && *p != '>' && *p != '|' &&
					   *p != '"',
				   "link carries %#x", (unsigned char)*p);
		return;
	}
	json_object_foreach(j, k, v) check_json(v, k);
	json_array_foreach(j, i, v) check_json(v, key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct alert_event ev[2];
	struct slackmsg_origin o = {.grafana_url = "https://grafana.example/"};
	char *v[8], *copy, out[2048], small[2048];
	size_t n, sz;
	json_t *root;
	char *payload;
	int nv;

	copy = fuzz__strings(data, size, v, 8, &nv);
	if (!copy)
		return 0;
	/* the escaper: safe, and a short buffer gives a prefix cut between entities */
	n = slackmsg__escape(v[0], out, sizeof(out));
	FUZZ_CHECK(n == strlen(out), "length");
	check_slack_text(out, "escape", 1);
	sz = 1 + (size ? data[size - 1] : 0);
	n = slackmsg__escape(v[0], small, sz);
	FUZZ_CHECK(n < sz && !strncmp(small, out, n), "cut is not a prefix");
	check_slack_text(small, "cut escape", 1);
	/* a payload about requests with these bytes */
	memset(ev, 0, sizeof(ev));
	for (int i = 0; i < 2; i++) {
		ev[i].rule = (enum alert_rule)((size + i) % ALERT_RULE_COUNT);
		ev[i].severity = i ? ALERT_SEV_WARNING : ALERT_SEV_CRITICAL;
		ev[i].state = i ? ALERT_RESOLVED : ALERT_FIRING;
		ev[i].ts_ns = 1700000000000000000LL;
		ev[i].since_ns = ev[i].ts_ns - 60000000000LL;
		ev[i].value = 1234;
		ev[i].threshold = 1000;
		ev[i].window_s = 60;
		ev[i].nsamples = ALERT_SAMPLES;
		snprintf(ev[i].route, sizeof(ev[i].route), "%s", nv > 1 ? v[1] : "");
		snprintf(ev[i].api, sizeof(ev[i].api), "%s", nv > 2 ? v[2] : "");
		for (int k = 0; k < ALERT_SAMPLES; k++) {
			snprintf(ev[i].sample[k].method, sizeof(ev[i].sample[k].method), "%s",
				 nv > 3 ? v[3] : "");
			snprintf(ev[i].sample[k].path, sizeof(ev[i].sample[k].path), "%s",
				 nv > 4 ? v[4] : "");
			ev[i].sample[k].status = (uint16_t)(k ? 500 : 0);
		}
	}
	o.host = nv > 5 ? v[5] : "h";
	o.channel = nv > 6 ? v[6] : "#c";
	for (int k = 1; k <= 2; k++) {
		payload = slackmsg__payload(ev, k, &o);
		FUZZ_CHECK(payload, "no payload for %d event(s)", k);
		root = json_loads(payload, 0, NULL);
		FUZZ_CHECK(root, "payload is not JSON");
		check_json(root, "");
		json_decref(root);
		free(payload);
	}
	payload = slackmsg__test_payload(&o);
	FUZZ_CHECK(payload, "no test payload");
	free(payload);
	free(copy);
	return 0;
}
