/* test_config.c: the config file, its permissions, the environment and flag overrides. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "config.h"

static char dir[] = "/tmp/httplat-test-config-XXXXXX";

static const char *write_file(const char *name, const char *text, mode_t mode)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return NULL;
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
	return path;
}

static const char full[] = "; httplat config\n"
			   "[select]\n"
			   "pids = 10, 11\n"
			   "ports = 8000\n"
			   "api = models=/model\n"
			   "route = /model/{id}/mesh\n"
			   "[database]\n"
			   "db = host=/run/postgresql dbname=httplat\n"
			   "spool_dir = /var/spool/httplat\n"
			   "flush_ms = 500\n"
			   "spool_max = 2G\n"
			   "schema = metrics\n"
			   "rollup_only = yes\n"
			   "[alerts]\n"
			   "warn_ms = 300\n"
			   "crit_ms = 900\n"
			   "window = 2m\n"
			   "stat = p99\n"
			   "min_samples = 10\n"
			   "repeat = 30m\n"
			   "hold = 90\n"
			   "rules = latency, http_500, error_ratio\n"
			   "error_ratio_warn = 0.02\n"
			   "[alerts.model]\n"
			   "warn_ms = 2000\n"
			   "[slack]\n"
			   "channel = #ops\n"
			   "timeout = 3s\n";

static void test_defaults(void)
{
	struct httplat_config c;
	char err[256];

	config__defaults(&c);
	CHECK(c.alerts.warn_ms == 500 && c.alerts.crit_ms == 1000);
	CHECK_STR(c.slack.channel, "#3d-model-generation");
	CHECK_STR(c.slack.webhook, "");
	CHECK_INT(config__check(&c, err, sizeof(err)), 0);
}

static void test_parse_all_sections(void)
{
	struct httplat_config c;
	double warn, crit;
	char err[256] = "";

	config__defaults(&c);
	CHECK_INT(config__parse_string(&c, full, err, sizeof(err)), 0);
	CHECK_STR(err, "");
	CHECK_INT(c.select.npids, 2);
	CHECK_INT(c.select.pids[1], 11);
	CHECK_INT(c.select.ports[0], 8000);
	CHECK_STR(c.select.api[0], "models=/model");
	CHECK_STR(c.select.route[0], "/model/{id}/mesh");
	CHECK_STR(c.database.db, "host=/run/postgresql dbname=httplat");
	CHECK_INT(c.database.flush_ms, 500);
	CHECK_INT(c.database.spool_max, 2ull << 30);
	CHECK_STR(c.database.schema, "metrics");
	CHECK_INT(c.database.rollup_only, 1);
	CHECK_INT(c.database.batch_rows, 0);	  /* not set: the writer's default */
	CHECK_INT(c.database.retention_days, 14); /* not set: run's default */
	CHECK(c.alerts.warn_ms == 300 && c.alerts.crit_ms == 900);
	CHECK_INT(c.alerts.window_s, 120);
	CHECK_INT(c.alerts.stat, ALERT_STAT_P99);
	CHECK_INT(c.alerts.min_samples, 10);
	CHECK_INT(c.alerts.repeat_s, 1800);
	CHECK_INT(c.alerts.hold_s, 90);
	CHECK_INT(c.alerts.rules, 1u << ALERT_RULE_LATENCY | 1u << ALERT_RULE_HTTP_500 |
				      1u << ALERT_RULE_ERROR_RATIO);
	CHECK(c.alerts.ratio_warn == 0.02);
	alert_config__limits(&c.alerts, "model", &warn, &crit);
	CHECK(warn == 2000 && crit == 900); /* crit not set for model: the default applies */
	CHECK_STR(c.slack.channel, "#ops");
	CHECK_INT(c.slack.timeout_ms, 3000);
	/* model's warning 2000 is above the critical 900 it inherits: refused as a whole */
	CHECK_INT(config__check(&c, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "model") != NULL);
}

static void test_errors_name_line_and_key(void)
{
	struct httplat_config c;
	char err[256];

	config__defaults(&c);
	CHECK_INT(config__parse_string(&c, "[alerts]\nwarn_ms = 300\nwarn = 5\n", err, sizeof(err)),
		  -EINVAL);
	CHECK_STR(err, "config:3: unknown key 'warn' in [alerts]");
	CHECK_INT(config__parse_string(&c, "[alert]\nwarn_ms = 1\n", err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "config:2: unknown section [alert]");
	CHECK_INT(config__parse_string(&c, "[alerts]\nstat = p42\n", err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "config:2: invalid value for 'stat' in [alerts]: 'p42' (want p50, p95, p99, "
		       "max or mean)");
	CHECK_INT(config__parse_string(&c, "[database]\nspool_max = 1K\n", err, sizeof(err)),
		  -EINVAL);
	CHECK(strstr(err, "at least 64K") != NULL);
	CHECK_INT(config__parse_string(&c, "[select]\napi = x=nope\n", err, sizeof(err)), -EINVAL);
	CHECK_INT(config__parse_string(&c, "[alerts.model]\nwarn = 1\n", err, sizeof(err)),
		  -EINVAL);
	CHECK_STR(err, "config:2: unknown key 'warn' in [alerts.model]");
	CHECK_INT(c.alerts.napi, 0); /* an unknown key leaves no per-API entry behind */
	CHECK_INT(config__parse_string(&c, "[alerts]\nrules = latency, typo\n", err, sizeof(err)),
		  -EINVAL);
	CHECK_INT(config__parse_string(&c, "[alerts]\nwindow = -5s\n", err, sizeof(err)), -EINVAL);
	CHECK_INT(config__parse_string(&c, "[select]\npids = 1, x\n", err, sizeof(err)), -EINVAL);
	CHECK_INT(config__parse_string(&c,
				       "[slack]\nwebhook = https://h/"
				       "\x01secret\n"
				       "bogus\n",
				       err, sizeof(err)),
		  -EINVAL);
	CHECK(strstr(err, "secret") == NULL);
	CHECK_INT(config__parse_string(&c, "just text\n", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "config:1: syntax error") != NULL);
}

static void test_webhook_file_permissions(void)
{
	struct httplat_config c;
	const char *path;
	char err[512];

	path = write_file("open.conf",
			  "[slack]\nwebhook = https://hooks.slack.com/services/T/B/x\n", 0644);
	config__defaults(&c);
	CHECK_INT(config__load(&c, path, 1, err, sizeof(err)), -EACCES);
	CHECK(strstr(err, "chmod 600") != NULL);
	CHECK(strstr(err, "hooks.slack.com") == NULL);
	CHECK_STR(c.slack.webhook, ""); /* refused: not used */
	chmod(path, 0640);
	config__defaults(&c);
	CHECK_INT(config__load(&c, path, 1, err, sizeof(err)), -EACCES);
	chmod(path, 0600);
	config__defaults(&c);
	CHECK_INT(config__load(&c, path, 1, err, sizeof(err)), 0);
	CHECK_STR(c.slack.webhook, "https://hooks.slack.com/services/T/B/x");
	CHECK_STR(c.path, path);
	/* another user's file: that user can read it (root runs the tests: it can chown) */
	if (geteuid() == 0 && !chown(path, 65534, 65534)) {
		config__defaults(&c);
		CHECK_INT(config__load(&c, path, 1, err, sizeof(err)), -EACCES);
		CHECK(strstr(err, "another user (uid 65534)") != NULL);
		CHECK_STR(c.slack.webhook, "");
	}
	/* a readable file without a secret is fine */
	path = write_file("public.conf", "[alerts]\nwarn_ms = 250\n", 0644);
	config__defaults(&c);
	CHECK_INT(config__load(&c, path, 1, err, sizeof(err)), 0);
	CHECK(c.alerts.warn_ms == 250);
}

static void test_missing_file(void)
{
	struct httplat_config c;
	char err[512], path[512];

	snprintf(path, sizeof(path), "%s/nope.conf", dir);
	config__defaults(&c);
	CHECK_INT(config__load(&c, path, 0, err, sizeof(err)), 0);
	CHECK_STR(c.path, "");
	CHECK_INT(config__load(&c, path, 1, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "nope.conf") != NULL);
}

/* Defaults, and an empty config file: never the host's /etc/httplat.conf. */
static void fresh(struct httplat_config *c)
{
	config__defaults(c);
	snprintf(c->path, sizeof(c->path), "%s", write_file("empty.conf", "", 0600));
	c->path_given = 1;
}

static error_t child_input(int key, char *arg, struct argp_state *state)
{
	(void)arg;
	if (key == ARGP_KEY_INIT)
		state->child_inputs[0] = state->input;
	return ARGP_ERR_UNKNOWN;
}

static int parse_with_inputs(struct httplat_config *c, int argc, char **argv)
{
	const struct argp_child children[] = {{&config_alerts_argp, 0, NULL, 0}, {}};
	const struct argp argp = {.parser = child_input, .children = children};

	return argp_parse(&argp, argc, argv, ARGP_NO_EXIT | ARGP_NO_ERRS, NULL, c);
}

static void test_env_then_flags_override_file(void)
{
	struct httplat_config c;
	const char *path = write_file("run.conf",
				      "[alerts]\nwarn_ms = 300\ncrit_ms = 800\nstat = max\n"
				      "[database]\ndb = dbname=file\n"
				      "[slack]\nwebhook = https://file.example/hook\n",
				      0600);
	char *argv[] = {"t",	"--config", (char *)path, "--crit-ms",
			"1200", "--window", "30s",	  NULL};
	char err[256] = "";

	setenv("HTTPLAT_SLACK_WEBHOOK", "https://env.example/hook", 1);
	setenv("HTTPLAT_DB", "dbname=env", 1);
	CHECK_INT(parse_with_inputs(&c, 7, argv), 0);
	CHECK(c.alerts.crit_ms == 1000); /* flags wait for config__finish */
	CHECK_INT(config__finish(&c, err, sizeof(err)), 0);
	unsetenv("HTTPLAT_SLACK_WEBHOOK");
	unsetenv("HTTPLAT_DB");
	CHECK_STR(err, "");
	CHECK(c.alerts.warn_ms == 300);	 /* file */
	CHECK(c.alerts.crit_ms == 1200); /* flag over file */
	CHECK_INT(c.alerts.stat, ALERT_STAT_MAX);
	CHECK_INT(c.alerts.window_s, 30);
	CHECK_STR(c.slack.webhook, "https://env.example/hook"); /* env over file */
	CHECK_STR(c.webhook_source, "HTTPLAT_SLACK_WEBHOOK");
	CHECK_STR(c.database.db, "dbname=env");
}

/* Every flag is an override of a key: checked by the key's rule, named by the flag. */
static void test_overrides(void)
{
	const char *path = write_file("over.conf",
				      "[select]\npids = 10, 11\nports = 8000\n"
				      "api = file=/model\nroute = /file/{id}\n"
				      "[database]\nmem_max = 1M\nretention_days = 30\n",
				      0600);
	struct httplat_config c;
	char err[256] = "";

	config__defaults(&c);
	snprintf(c.path, sizeof(c.path), "%s", path);
	c.path_given = 1;
	CHECK_INT(config__override(&c, "select", "pids", "42", "pid"), 0);
	CHECK_INT(config__override(&c, "select", "pids", "43", "pid"), 0);
	CHECK_INT(config__override(&c, "select", "api", "flag=/model/gen", "api"), 0);
	CHECK_INT(config__override(&c, "select", "route", "/flag/{id}", "route"), 0);
	CHECK_INT(config__override(&c, "database", "mem_max", "2M", "mem-max"), 0);
	CHECK_INT(config__override(&c, "database", "retention_days", "0", "retention-days"), 0);
	CHECK_INT(config__finish(&c, err, sizeof(err)), 0);
	CHECK_STR(err, "");
	/* --pid replaces the file's pids; no --port: the file's ports stay */
	CHECK_INT(c.select.npids, 2);
	CHECK_INT(c.select.pids[0], 42);
	CHECK_INT(c.select.pids[1], 43);
	CHECK_INT(c.select.nports, 1);
	/* rules add to the file's, first: the first match wins, so the flag does */
	CHECK_INT(c.select.napi, 2);
	CHECK_STR(c.select.api[0], "flag=/model/gen");
	CHECK_STR(c.select.api[1], "file=/model");
	CHECK_STR(c.select.route[0], "/flag/{id}");
	CHECK_STR(c.select.route[1], "/file/{id}");
	CHECK_INT(c.database.mem_max, 2u << 20);
	CHECK_INT(c.database.retention_days, 0); /* 0 keeps everything, from a flag as a file */

	fresh(&c);
	CHECK_INT(config__override(&c, "database", "mem_max", "12Q", "mem-max"), 0);
	CHECK_INT(config__finish(&c, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "invalid --mem-max '12Q': want bytes with an optional K, M or G suffix, "
		       "at least 64K");
	fresh(&c);
	CHECK_INT(config__override(&c, "select", "ports", "70000", "port"), 0);
	CHECK_INT(config__finish(&c, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "invalid --port '70000'") == err);
	config__defaults(&c);
	for (int i = 0; i < CONFIG_OVERRIDES_MAX; i++)
		CHECK_INT(config__override(&c, "alerts", "hold", "1m", "hold"), 0);
	CHECK_INT(config__override(&c, "alerts", "hold", "1m", "hold"), -E2BIG);
}

/* The alert flags through argp: recorded, then layered by config__finish. */
static void test_alert_flags(void)
{
	char *argv[] = {"t", "--warn-ms", "250", "--rules", "latency,no_response", "--stat",
			"p99", NULL};
	char *bad[] = {"t", "--min-samples", "0", NULL};
	const char *empty = write_file("empty.conf", "", 0600); /* not the host's file */
	struct httplat_config c;
	char err[256] = "";

	setenv("HTTPLAT_SLACK_WEBHOOK", "", 1);

	CHECK_INT(parse_with_inputs(&c, 7, argv), 0);
	snprintf(c.path, sizeof(c.path), "%s", empty);
	c.path_given = 1;
	CHECK_INT(config__finish(&c, err, sizeof(err)), 0);
	CHECK(c.alerts.warn_ms == 250);
	CHECK_INT(c.alerts.rules, 1u << ALERT_RULE_LATENCY | 1u << ALERT_RULE_NO_RESPONSE);
	CHECK_INT(c.alerts.stat, ALERT_STAT_P99);
	CHECK_INT(parse_with_inputs(&c, 3, bad), 0);
	snprintf(c.path, sizeof(c.path), "%s", empty);
	c.path_given = 1;
	CHECK_INT(config__finish(&c, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "invalid --min-samples '0': want a whole number from 1 to 1000000");
	unsetenv("HTTPLAT_SLACK_WEBHOOK");
}

/* The documented example, every setting uncommented, parses and shows the defaults. */
static void test_example_file(void)
{
	struct httplat_config c, d;
	char line[512], text[16384] = "", err[256] = "";
	FILE *f = fopen("deploy/httplat.conf", "r");
	size_t o = 0;

	CHECK(f != NULL);
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		const char *l =
		    line[0] == ';' && line[1] != ' ' && line[1] != '\n' ? line + 1 : line;

		o += snprintf(text + o, sizeof(text) - o, "%s", l);
	}
	fclose(f);
	CHECK(o < sizeof(text) - 1);
	config__defaults(&c);
	config__defaults(&d);
	CHECK_INT(config__parse_string(&c, text, err, sizeof(err)), 0);
	CHECK_STR(err, "");
	CHECK(c.alerts.warn_ms == d.alerts.warn_ms && c.alerts.crit_ms == d.alerts.crit_ms);
	CHECK_INT(c.alerts.rules, d.alerts.rules);
	CHECK_INT(c.alerts.window_s, d.alerts.window_s);
	CHECK_INT(c.alerts.repeat_s, d.alerts.repeat_s);
	CHECK_INT(c.alerts.hold_s, d.alerts.hold_s);
	CHECK(c.alerts.ratio_warn == d.alerts.ratio_warn &&
	      c.alerts.ratio_crit == d.alerts.ratio_crit);
	CHECK_INT(c.slack.timeout_ms, d.slack.timeout_ms);
	CHECK_INT(c.slack.min_interval_ms, d.slack.min_interval_ms);
	CHECK_INT(c.slack.gather_ms, d.slack.gather_ms);
	CHECK_INT(c.slack.backoff_max_ms, d.slack.backoff_max_ms);
	CHECK_INT(c.slack.retry_after_max_s, d.slack.retry_after_max_s);
	CHECK_INT(c.slack.queue_max, d.slack.queue_max);
	CHECK_STR(c.slack.channel, d.slack.channel);
	CHECK_INT(c.database.flush_ms, 200);
	CHECK_INT(c.select.napi, 2);
}

/* [routes] and [grafana]: keys, their checks, the flags (--openapi-path, --routes) over them. */
static void test_routes_and_grafana(void)
{
	const char *path = write_file("routes.conf",
				      "[routes]\nopenapi_path = /openapi.json\n"
				      "openapi_path = 8001=/v2/openapi.json\nfile = 8002=/etc/r.json\n"
				      "max_values = 20\nmax_routes = 50\n"
				      "[grafana]\nurl = https://grafana.example\ndashboard = mine\n"
				      "[alerts]\nrules = latency, wait\n",
				      0600);
	struct httplat_config c;
	char err[256] = "";

	config__defaults(&c);
	CHECK_INT(c.routes.guard.max_values, 10);
	CHECK_INT(c.routes.guard.max_routes, 100);
	CHECK_INT(c.routes.nopenapi, 0);
	snprintf(c.path, sizeof(c.path), "%s", path);
	c.path_given = 1;
	CHECK_INT(config__override(&c, "routes", "openapi_path", "8001=none", "openapi-path"), 0);
	CHECK_INT(config__override(&c, "routes", "max_values", "5", "route-values"), 0);
	CHECK_INT(config__finish(&c, err, sizeof(err)), 0);
	CHECK_STR(err, "");
	CHECK_INT(c.routes.nopenapi, 2);
	CHECK_STR(c.routes.openapi[0].value, "/openapi.json");
	CHECK_INT(c.routes.openapi[1].port, 8001);
	CHECK_STR(c.routes.openapi[1].value, "none"); /* the flag replaced the file's */
	CHECK_INT(c.routes.nfile, 1);
	CHECK_INT(c.routes.file[0].port, 8002);
	CHECK_INT(c.routes.guard.max_values, 5);
	CHECK_INT(c.routes.guard.max_routes, 50);
	CHECK_STR(c.grafana.url, "https://grafana.example");
	CHECK_STR(c.grafana.dashboard, "mine");
	CHECK(c.alerts.rules & 1u << ALERT_RULE_WAIT);
	/* bad values name the key or the flag */
	config__defaults(&c);
	CHECK_INT(config__parse_string(&c, "[routes]\nopenapi_path = openapi.json\n", err,
				       sizeof(err)),
		  -EINVAL);
	CHECK(strstr(err, "2: invalid value for 'openapi_path' in [routes]") != NULL);
	CHECK(strstr(err, "[PORT=]/PATH") != NULL);
	CHECK_INT(config__parse_string(&c, "[routes]\nmax_values = 0\n", err, sizeof(err)),
		  -EINVAL);
	fresh(&c);
	CHECK_INT(config__override(&c, "routes", "file", "99999=/x.json", "routes"), 0);
	CHECK_INT(config__finish(&c, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "invalid --routes '99999=/x.json'") != NULL);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	RUN(test_defaults);
	RUN(test_parse_all_sections);
	RUN(test_errors_name_line_and_key);
	RUN(test_webhook_file_permissions);
	RUN(test_missing_file);
	RUN(test_env_then_flags_override_file);
	RUN(test_overrides);
	RUN(test_alert_flags);
	RUN(test_example_file);
	RUN(test_routes_and_grafana);
	for (const char *const *n =
		 (const char *const[]){"open.conf", "public.conf", "run.conf", "over.conf",
				       "empty.conf", NULL};
	     *n; n++) {
		char p[512];

		snprintf(p, sizeof(p), "%s/%s", dir, *n);
		unlink(p);
	}
	rmdir(dir);
	return CHECK_DONE();
}
