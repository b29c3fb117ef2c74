/* cmd_alert.c: `httplat alert test` posts one message; `httplat alert check` shows the setup. */
#include <argp.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alerter.h"
#include "commands.h"
#include "config.h"
#include "slack.h"
#include "slackmsg.h"

struct alert_env {
	const char *action;
	struct httplat_config cfg;
};

static const char doc[] =
    "Checks Slack alerting.\n\n"
    "  test   posts one test message to the webhook and says whether Slack accepted it\n"
    "  check  validates the configuration and prints the rules and where alerts go\n\n"
    "The webhook comes from HTTPLAT_SLACK_WEBHOOK or [slack] webhook in the config file.\n\n"
    "EXAMPLES:\n"
    "  HTTPLAT_SLACK_WEBHOOK=https://hooks.slack.com/services/... httplat alert test\n"
    "  httplat alert check --config /etc/httplat.conf --warn-ms 300";

static error_t alert_parse(int key, char *arg, struct argp_state *state)
{
	struct alert_env *env = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &env->cfg;
		break;
	case ARGP_KEY_ARG:
		if (env->action)
			argp_error(state, "one action only");
		if (strcmp(arg, "test") && strcmp(arg, "check"))
			argp_error(state, "unknown action '%s': want test or check", arg);
		env->action = arg;
		break;
	case ARGP_KEY_NO_ARGS:
		argp_error(state, "an action is needed: test or check");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static int cmd_alert__test(const struct httplat_config *cfg)
{
	struct slackmsg_origin origin = {0};
	struct slack_response resp;
	char host[256] = "localhost", url[128], body[sizeof(resp.body)];
	char *json = NULL;
	int delay_ms, ret = 1;

	if (!cfg->slack.webhook[0]) {
		fprintf(stderr,
			"httplat alert: no Slack webhook configured: set "
			"HTTPLAT_SLACK_WEBHOOK or [slack] webhook in %s\n",
			cfg->path[0] ? cfg->path : CONFIG_DEFAULT_PATH);
		return 1;
	}
	gethostname(host, sizeof(host) - 1);
	origin.host = host;
	origin.channel = cfg->slack.channel;
	slack__redact(cfg->slack.webhook, url, sizeof(url));
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		fprintf(stderr, "httplat alert: libcurl failed to initialise\n");
		return 1;
	}
	json = slackmsg__test_payload(&origin);
	if (!json) {
		fprintf(stderr, "httplat alert: out of memory\n");
		goto cleanup;
	}
	if (slack__curl_post(NULL, &cfg->slack, json, &resp)) {
		fprintf(stderr, "httplat alert: out of memory\n");
		goto cleanup;
	}
	slackmsg__sanitize(resp.body, body, sizeof(body));
	switch (slack__judge(&cfg->slack, &resp, 1, &delay_ms)) {
	case SLACK_DELIVERED:
		printf("Slack accepted the test message (HTTP %ld %s) at %s for %s.\n", resp.status,
		       body, url, cfg->slack.channel);
		ret = 0;
		break;
	case SLACK_RETRY:
		if (!resp.status)
			printf("Slack did NOT get the test message: could not reach %s: %s.\n", url,
			       resp.error);
		else if (resp.status == 429)
			printf("Slack did NOT accept the test message: rate limited (HTTP 429, "
			       "retry after %.0f s). Try again later.\n",
			       delay_ms / 1000.0);
		else
			printf("Slack did NOT accept the test message: HTTP %ld %s (a Slack-side "
			       "error; run will retry such errors).\n",
			       resp.status, body);
		break;
	case SLACK_REJECTED:
		printf("Slack REFUSED the test message: HTTP %ld %s. Check the webhook URL (%s, "
		       "from %s) and that its channel exists.\n",
		       resp.status, body, url, cfg->webhook_source);
		break;
	}
cleanup:
	free(json);
	curl_global_cleanup();
	return ret;
}

static int cmd_alert__check(const struct httplat_config *cfg)
{
	struct alerter *a = alerter__new(cfg, NULL, NULL);
	char line[512];

	if (!a) {
		perror("httplat alert: cannot start alerting");
		return 1;
	}
	alerter__describe(a, line, sizeof(line));
	printf("config: %s\n%s\n", cfg->path[0] ? cfg->path : "(none: built-in defaults)", line);
	for (int i = 0; i < cfg->alerts.napi; i++) {
		double warn, crit;

		alert_config__limits(&cfg->alerts, cfg->alerts.api[i].api, &warn, &crit);
		printf("  api %s: warning > %g ms, critical > %g ms\n", cfg->alerts.api[i].api,
		       warn, crit);
	}
	alerter__free(a, 0);
	return 0;
}

int cmd_alert(int argc, char **argv)
{
	const struct argp_child children[] = {
	    {&config_alerts_argp, 0, "Configuration:", 0},
	    {},
	};
	const struct argp argp = {
	    .parser = alert_parse,
	    .args_doc = "test|check",
	    .doc = doc,
	    .children = children,
	};
	struct alert_env env = {0};
	char err[512];

	if (argp_parse(&argp, argc, argv, 0, NULL, &env))
		return 2;
	if (config__finish(&env.cfg, err, sizeof(err))) {
		fprintf(stderr, "httplat alert: %s\n", err);
		return 1;
	}
	if (!strcmp(env.action, "test"))
		return cmd_alert__test(&env.cfg);
	return cmd_alert__check(&env.cfg);
}
