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
	CHECK_STR(c.database.spool_max, "2G");
	CHECK_INT(c.database.batch_rows, -1); /* not set: run's default */
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
	CHECK_STR(err, "config:2: invalid value for 'stat' in [alerts]: 'p42'");
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

static void test_durations(void)
{
	long long ms;

	CHECK_INT(config__parse_duration_ms("90", &ms), 0);
	CHECK_INT(ms, 90000);
	CHECK_INT(config__parse_duration_ms("1500ms", &ms), 0);
	CHECK_INT(ms, 1500);
	CHECK_INT(config__parse_duration_ms("2.5s", &ms), 0);
	CHECK_INT(ms, 2500);
	CHECK_INT(config__parse_duration_ms("5m", &ms), 0);
	CHECK_INT(ms, 300000);
	CHECK_INT(config__parse_duration_ms("1h", &ms), 0);
	CHECK_INT(ms, 3600000);
	CHECK_INT(config__parse_duration_ms("-1", &ms), -EINVAL);
	CHECK_INT(config__parse_duration_ms("5x", &ms), -EINVAL);
	CHECK_INT(config__parse_duration_ms("", &ms), -EINVAL);
	CHECK_INT(config__parse_duration_ms("nan", &ms), -EINVAL);
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

static void test_env_then_flags_override_file(void)
{
	struct httplat_config c;
	const struct argp_child children[] = {{&config_argp, 0, NULL, 0}, {}};
	const struct argp argp = {.children = children};
	const char *path = write_file("run.conf",
				      "[alerts]\nwarn_ms = 300\ncrit_ms = 800\nstat = max\n"
				      "[slack]\nwebhook = https://file.example/hook\n",
				      0600);
	char *argv[] = {"t",	"--config", (char *)path, "--crit-ms",
			"1200", "--window", "30s",	  NULL};

	setenv("HTTPLAT_SLACK_WEBHOOK", "https://env.example/hook", 1);
	CHECK_INT(argp_parse(&argp, 7, argv, ARGP_NO_EXIT, NULL, &c), 0);
	unsetenv("HTTPLAT_SLACK_WEBHOOK");
	CHECK(c.alerts.warn_ms == 300);	 /* file */
	CHECK(c.alerts.crit_ms == 1200); /* flag over file */
	CHECK_INT(c.alerts.stat, ALERT_STAT_MAX);
	CHECK_INT(c.alerts.window_s, 30);
	CHECK_STR(c.slack.webhook, "https://env.example/hook"); /* env over file */
	CHECK_STR(c.webhook_source, "HTTPLAT_SLACK_WEBHOOK");
}

static void test_apply_selection(void)
{
	struct httplat_config c;
	struct selection sel = {0};
	char err[256], out[64];

	config__defaults(&c);
	CHECK_INT(config__parse_string(&c, full, err, sizeof(err)), 0);
	sel.pids[0] = 99;
	sel.npids = 1; /* given on the command line: wins */
	CHECK_INT(config__apply_selection(&c, &sel, err, sizeof(err)), 0);
	CHECK_INT(sel.npids, 1);
	CHECK_INT(sel.pids[0], 99);
	CHECK_INT(sel.nports, 1);
	CHECK_INT(sel.ports[0], 8000);
	classifier__api(sel.classifier, "/model/7/mesh", out, sizeof(out));
	CHECK_STR(out, "models");
	selection__free(&sel);
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

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	RUN(test_defaults);
	RUN(test_parse_all_sections);
	RUN(test_errors_name_line_and_key);
	RUN(test_durations);
	RUN(test_webhook_file_permissions);
	RUN(test_missing_file);
	RUN(test_env_then_flags_override_file);
	RUN(test_apply_selection);
	RUN(test_example_file);
	for (const char *const *n =
		 (const char *const[]){"open.conf", "public.conf", "run.conf", NULL};
	     *n; n++) {
		char p[512];

		snprintf(p, sizeof(p), "%s/%s", dir, *n);
		unlink(p);
	}
	rmdir(dir);
	return CHECK_DONE();
}
