/* config.c: the one httplat config file (libinih), the environment and flag overrides. */
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

void config__defaults(struct httplat_config *c)
{
	memset(c, 0, sizeof(*c));
	alert_config__defaults(&c->alerts);
	slack_config__defaults(&c->slack);
	c->database.retention_days = -1;
	c->database.rollup_days = -1;
	c->database.batch_rows = -1;
	c->database.flush_ms = -1;
}

int config__parse_duration_ms(const char *s, long long *ms)
{
	static const struct {
		const char *unit;
		double ms;
	} units[] = {{"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
	char *end;
	double v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit))
			continue;
		if (v * units[i].ms > 1e15)
			return -EINVAL;
		*ms = (long long)llround(v * units[i].ms);
		return 0;
	}
	return -EINVAL;
}

static int parse__double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse__seconds(const char *s, long long min_ms, int *out)
{
	long long ms;

	if (config__parse_duration_ms(s, &ms) || ms < min_ms || ms > 86400000LL * 7)
		return -EINVAL;
	*out = (int)(ms / 1000);
	return 0;
}

static int parse__ms(const char *s, long long min_ms, int *out)
{
	long long ms;

	if (config__parse_duration_ms(s, &ms) || ms < min_ms || ms > 86400000LL)
		return -EINVAL;
	*out = (int)ms;
	return 0;
}

static int parse__int(const char *s, long min, long max, int *out)
{
	long v;

	if (cli__parse_long(s, min, max, &v))
		return -EINVAL;
	*out = (int)v;
	return 0;
}

/* "a, b c" -> calls fn for each item; 0 or the first error. */
static int list__each(const char *s, int (*fn)(void *ctx, const char *item), void *ctx)
{
	char buf[1024], *save = NULL, *tok;
	int ret;

	if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		return -EINVAL;
	for (tok = strtok_r(buf, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save))
		if ((ret = fn(ctx, tok)))
			return ret;
	return 0;
}

static int rules__add(void *ctx, const char *item)
{
	struct alert_config *a = ctx;
	enum alert_rule r;

	if (!strcmp(item, "none"))
		return 0;
	if (alert_rule__parse(item, &r))
		return -EINVAL;
	a->rules |= 1u << r;
	return 0;
}

static int pids__add(void *ctx, const char *item)
{
	struct config_select *s = ctx;
	long v;

	if (cli__parse_long(item, 1, 4194304, &v) || s->npids >= SELECTION_MAX)
		return -EINVAL;
	s->pids[s->npids++] = (int)v;
	return 0;
}

static int ports__add(void *ctx, const char *item)
{
	struct config_select *s = ctx;
	long v;

	if (cli__parse_long(item, 1, 65535, &v) || s->nports >= SELECTION_MAX)
		return -EINVAL;
	s->ports[s->nports++] = (unsigned short)v;
	return 0;
}

static int select__set(struct config_select *s, const char *key, const char *v)
{
	if (!strcmp(key, "pids"))
		return list__each(v, pids__add, s);
	if (!strcmp(key, "ports"))
		return list__each(v, ports__add, s);
	if (!strcmp(key, "api")) {
		if (s->napi >= CONFIG_LIST_MAX || !strchr(v, '=') ||
		    snprintf(s->api[s->napi], sizeof(s->api[0]), "%s", v) >= (int)sizeof(s->api[0]))
			return -EINVAL;
		s->napi++;
		return 0;
	}
	if (!strcmp(key, "route")) {
		if (s->nroute >= CONFIG_LIST_MAX || v[0] != '/' ||
		    snprintf(s->route[s->nroute], sizeof(s->route[0]), "%s", v) >=
			(int)sizeof(s->route[0]))
			return -EINVAL;
		s->nroute++;
		return 0;
	}
	return -ENOENT;
}

static int str__set(char *dst, size_t sz, const char *v)
{
	return snprintf(dst, sz, "%s", v) >= (int)sz ? -EINVAL : 0;
}

static int database__set(struct config_database *d, const char *key, const char *v)
{
	if (!strcmp(key, "db"))
		return str__set(d->db, sizeof(d->db), v);
	if (!strcmp(key, "host"))
		return *v ? str__set(d->host, sizeof(d->host), v) : -EINVAL;
	if (!strcmp(key, "spool_dir"))
		return *v ? str__set(d->spool_dir, sizeof(d->spool_dir), v) : -EINVAL;
	if (!strcmp(key, "spool_max"))
		return str__set(d->spool_max, sizeof(d->spool_max), v);
	if (!strcmp(key, "mem_max"))
		return str__set(d->mem_max, sizeof(d->mem_max), v);
	if (!strcmp(key, "retention_days"))
		return parse__int(v, 0, 36500, &d->retention_days);
	if (!strcmp(key, "rollup_days"))
		return parse__int(v, 1, 36500, &d->rollup_days);
	if (!strcmp(key, "batch_rows"))
		return parse__int(v, 1, 1000000, &d->batch_rows);
	if (!strcmp(key, "flush_ms"))
		return parse__int(v, 1, 60000, &d->flush_ms);
	return -ENOENT;
}

static int alerts__set(struct alert_config *a, const char *key, const char *v)
{
	if (!strcmp(key, "warn_ms"))
		return parse__double(v, 0.001, 1e7, &a->warn_ms);
	if (!strcmp(key, "crit_ms"))
		return parse__double(v, 0, 1e7, &a->crit_ms);
	if (!strcmp(key, "window"))
		return parse__seconds(v, 1000, &a->window_s);
	if (!strcmp(key, "stat"))
		return alert_stat__parse(v, &a->stat);
	if (!strcmp(key, "min_samples"))
		return parse__int(v, 1, 1000000, &a->min_samples);
	if (!strcmp(key, "repeat"))
		return parse__seconds(v, 0, &a->repeat_s);
	if (!strcmp(key, "hold"))
		return parse__seconds(v, 0, &a->hold_s);
	if (!strcmp(key, "hysteresis"))
		return parse__double(v, 0, 0.9, &a->hysteresis);
	if (!strcmp(key, "rules")) {
		a->rules = 0;
		return list__each(v, rules__add, a);
	}
	if (!strcmp(key, "error_ratio_warn"))
		return parse__double(v, 0.0001, 1, &a->ratio_warn);
	if (!strcmp(key, "error_ratio_crit"))
		return parse__double(v, 0, 1, &a->ratio_crit);
	if (!strcmp(key, "no_response_warn"))
		return parse__double(v, 1, 1e9, &a->no_resp_warn);
	if (!strcmp(key, "no_response_crit"))
		return parse__double(v, 0, 1e9, &a->no_resp_crit);
	return -ENOENT;
}

/* [alerts.NAME]: latency thresholds for one API; unset ones follow [alerts]. */
static int alerts_api__set(struct alert_config *a, const char *api, const char *key, const char *v)
{
	struct alert_api_limits *l = NULL;

	if (!*api || strlen(api) >= RECORD_API_MAX)
		return -EINVAL;
	for (int i = 0; i < a->napi; i++)
		if (!strcmp(a->api[i].api, api))
			l = &a->api[i];
	if (!l) {
		if (a->napi >= ALERT_API_OVERRIDES)
			return -EINVAL;
		l = &a->api[a->napi++];
		snprintf(l->api, sizeof(l->api), "%s", api);
		l->warn_ms = l->crit_ms = -1;
	}
	if (!strcmp(key, "warn_ms"))
		return parse__double(v, 0.001, 1e7, &l->warn_ms);
	if (!strcmp(key, "crit_ms"))
		return parse__double(v, 0, 1e7, &l->crit_ms);
	return -ENOENT;
}

static int slack__set(struct slack_config *s, const char *key, const char *v)
{
	if (!strcmp(key, "webhook"))
		return str__set(s->webhook, sizeof(s->webhook), v);
	if (!strcmp(key, "channel"))
		return str__set(s->channel, sizeof(s->channel), v);
	if (!strcmp(key, "timeout"))
		return parse__ms(v, 100, &s->timeout_ms);
	if (!strcmp(key, "connect_timeout"))
		return parse__ms(v, 100, &s->connect_timeout_ms);
	if (!strcmp(key, "min_interval"))
		return parse__ms(v, 0, &s->min_interval_ms);
	if (!strcmp(key, "gather"))
		return parse__ms(v, 0, &s->gather_ms);
	if (!strcmp(key, "backoff_min"))
		return parse__ms(v, 1, &s->backoff_min_ms);
	if (!strcmp(key, "backoff_max"))
		return parse__ms(v, 1, &s->backoff_max_ms);
	if (!strcmp(key, "retry_after_max"))
		return parse__seconds(v, 1000, &s->retry_after_max_s);
	if (!strcmp(key, "queue_max"))
		return parse__int(v, 1, 100000, &s->queue_max);
	return -ENOENT;
}

int config__set(struct httplat_config *c, const char *section, const char *key, const char *value,
		char *err, size_t errsz)
{
	int ret;

	if (!strcmp(section, "select"))
		ret = select__set(&c->select, key, value);
	else if (!strcmp(section, "database"))
		ret = database__set(&c->database, key, value);
	else if (!strcmp(section, "alerts"))
		ret = alerts__set(&c->alerts, key, value);
	else if (!strncmp(section, "alerts.", 7))
		ret = alerts_api__set(&c->alerts, section + 7, key, value);
	else if (!strcmp(section, "slack"))
		ret = slack__set(&c->slack, key, value);
	else {
		snprintf(err, errsz, "unknown section [%s]", section);
		return -EINVAL;
	}
	if (ret == -ENOENT)
		snprintf(err, errsz, "unknown key '%s' in [%s]", key, section);
	else if (ret)
		/* a webhook is a secret: never echo it */
		snprintf(err, errsz, "invalid value for '%s' in [%s]: '%s'", key, section,
			 strcmp(key, "webhook") ? value : "(hidden)");
	if (!ret && !strcmp(section, "slack") && !strcmp(key, "webhook"))
		snprintf(c->webhook_source, sizeof(c->webhook_source), "the config file");
	return ret ? -EINVAL : 0;
}

struct ini_ctx {
	struct httplat_config *c;
	char err[256];
};

static int ini__handler(void *user, const char *section, const char *name, const char *value)
{
	struct ini_ctx *x = user;
	char err[256];

	if (x->err[0]) /* keep the first error */
		return 0;
	if (config__set(x->c, section, name, value, err, sizeof(err))) {
		snprintf(x->err, sizeof(x->err), "%s", err);
		return 0;
	}
	return 1;
}

static int ini__result(struct ini_ctx *x, int line, const char *where, char *err, size_t errsz)
{
	if (line == 0)
		return 0;
	if (line < 0)
		snprintf(err, errsz, "%s: cannot read it", where);
	else
		snprintf(err, errsz, "%s:%d: %s", where, line,
			 x->err[0] ? x->err : "syntax error (want [section] or key = value)");
	return -EINVAL;
}

int config__parse_string(struct httplat_config *c, const char *text, char *err, size_t errsz)
{
	struct ini_ctx x = {.c = c};

	return ini__result(&x, ini_parse_string(text, ini__handler, &x), "config", err, errsz);
}

int config__load(struct httplat_config *c, const char *path, int required, char *err, size_t errsz)
{
	struct ini_ctx x = {.c = c};
	char old_hook[SLACK_URL_MAX];
	struct stat st;
	FILE *f;
	int ret;

	f = fopen(path, "r");
	if (!f) {
		ret = -errno;
		if (ret == -ENOENT && !required)
			return 0;
		snprintf(err, errsz, "%s: %s", path, strerror(-ret));
		return ret;
	}
	snprintf(old_hook, sizeof(old_hook), "%s", c->slack.webhook);
	c->slack.webhook[0] = 0;
	if (fstat(fileno(f), &st)) {
		ret = -errno;
		snprintf(err, errsz, "%s: %s", path, strerror(-ret));
		goto cleanup;
	}
	ret = ini__result(&x, ini_parse_file(f, ini__handler, &x), path, err, errsz);
	if (ret)
		goto cleanup;
	if (c->slack.webhook[0] && (st.st_mode & (S_IRGRP | S_IROTH | S_IWGRP | S_IWOTH))) {
		snprintf(
		    err, errsz,
		    "%s holds the Slack webhook but other users can read or change it (mode %04o); "
		    "refusing to use it: run 'chmod 600 %s'",
		    path, (unsigned)(st.st_mode & 07777), path);
		ret = -EACCES;
		goto cleanup;
	}
	if (c->slack.webhook[0] && st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(err, errsz,
			 "%s holds the Slack webhook but belongs to another user (uid %u), who can "
			 "read or change it; refusing to use it: run 'chown %u %s'",
			 path, (unsigned)st.st_uid, (unsigned)geteuid(), path);
		ret = -EACCES;
		goto cleanup;
	}
	if (path != c->path)
		snprintf(c->path, sizeof(c->path), "%s", path);
	if (c->slack.webhook[0])
		snprintf(c->webhook_source, sizeof(c->webhook_source), "%.50s",
			 strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
cleanup:
	/* a refused file must not leave its secret behind; a file without one keeps the old */
	if (ret || !c->slack.webhook[0])
		snprintf(c->slack.webhook, sizeof(c->slack.webhook), "%s", old_hook);
	fclose(f);
	return ret;
}

int config__env(struct httplat_config *c, char *err, size_t errsz)
{
	const char *hook = getenv("HTTPLAT_SLACK_WEBHOOK");

	if (!hook || !*hook)
		return 0;
	if (snprintf(c->slack.webhook, sizeof(c->slack.webhook), "%s", hook) >=
	    (int)sizeof(c->slack.webhook)) {
		snprintf(err, errsz, "HTTPLAT_SLACK_WEBHOOK is too long");
		return -EINVAL;
	}
	snprintf(c->webhook_source, sizeof(c->webhook_source), "HTTPLAT_SLACK_WEBHOOK");
	return 0;
}

int config__check(const struct httplat_config *c, char *err, size_t errsz)
{
	int ret;

	if ((ret = alert_config__check(&c->alerts, err, errsz)))
		return ret;
	return slack_config__check(&c->slack, err, errsz);
}

int config__apply_selection(const struct httplat_config *c, struct selection *sel, char *err,
			    size_t errsz)
{
	int ret = selection__init(sel);

	if (ret) {
		snprintf(err, errsz, "out of memory");
		return ret;
	}
	if (!sel->npids) {
		memcpy(sel->pids, c->select.pids, sizeof(sel->pids));
		sel->npids = c->select.npids;
	}
	if (!sel->nports) {
		memcpy(sel->ports, c->select.ports, sizeof(sel->ports));
		sel->nports = c->select.nports;
	}
	for (int i = 0; i < c->select.napi; i++)
		if (classifier__add_api(sel->classifier, c->select.api[i])) {
			snprintf(err, errsz, "[select] api '%s': want NAME=/prefix",
				 c->select.api[i]);
			return -EINVAL;
		}
	for (int i = 0; i < c->select.nroute; i++)
		if (classifier__add_route(sel->classifier, c->select.route[i])) {
			snprintf(err, errsz, "[select] route '%s': want a path such as /model/{id}",
				 c->select.route[i]);
			return -EINVAL;
		}
	return 0;
}

enum {
	OPT_CONFIG = 2000,
	OPT_WARN,
	OPT_CRIT,
	OPT_WINDOW,
	OPT_STAT,
	OPT_MIN_SAMPLES,
	OPT_REPEAT,
	OPT_HOLD,
	OPT_RULES,
};

static const struct argp_option config_options[] = {
    {"config", OPT_CONFIG, "FILE", 0,
     "Config file (default " CONFIG_DEFAULT_PATH " when it exists); flags override it", 2},
    {"warn-ms", OPT_WARN, "MS", 0, "Latency warning threshold (default 500)", 2},
    {"crit-ms", OPT_CRIT, "MS", 0, "Latency critical threshold (default 1000; 0 = none)", 2},
    {"window", OPT_WINDOW, "DURATION", 0, "Sliding window of the rules (default 60s)", 2},
    {"stat", OPT_STAT, "STAT", 0, "Latency statistic: p50, p95 (default), p99, max, mean", 2},
    {"min-samples", OPT_MIN_SAMPLES, "N", 0, "Requests needed in the window (default 5)", 2},
    {"repeat", OPT_REPEAT, "DURATION", 0, "Reminder interval while firing (default 1h; 0 = none)",
     2},
    {"hold", OPT_HOLD, "DURATION", 0, "Clear this long before resolved (default 2m)", 2},
    {"rules", OPT_RULES, "LIST", 0,
     "Enabled rules: latency, http_500, error_ratio, no_response (default latency,http_500)", 2},
    {},
};

/* The [alerts] key each flag sets, by option key - OPT_WARN. */
static const char *const option_keys[] = {
    "warn_ms", "crit_ms", "window", "stat", "min_samples", "repeat", "hold", "rules",
};

/* Defaults, then the file, then the environment, then the flags in the order given. */
static int config__finish(struct httplat_config *c, char *err, size_t errsz)
{
	char e[256];
	int ret;

	ret = config__load(c, c->path_given ? c->path : CONFIG_DEFAULT_PATH, c->path_given, err,
			   errsz);
	if (ret)
		return ret;
	if ((ret = config__env(c, err, errsz)))
		return ret;
	for (int i = 0; i < c->nover; i++) {
		const struct config_override *o = &c->over[i];

		if (config__set(c, o->section, o->key, o->value, e, sizeof(e))) {
			snprintf(err, errsz, "invalid --%s '%s'", o->flag, o->value);
			return -EINVAL;
		}
	}
	return config__check(c, err, errsz);
}

static error_t config_parse(int key, char *arg, struct argp_state *state)
{
	struct httplat_config *c = state->input;
	char err[512];

	switch (key) {
	case ARGP_KEY_INIT:
		config__defaults(c);
		break;
	case OPT_CONFIG:
		if (snprintf(c->path, sizeof(c->path), "%s", arg) >= (int)sizeof(c->path))
			argp_error(state, "--config path too long");
		c->path_given = 1;
		break;
	case OPT_WARN ... OPT_RULES:
		if (c->nover >= CONFIG_OVERRIDES_MAX)
			argp_error(state, "too many alert options");
		c->over[c->nover++] =
		    (struct config_override){"alerts", option_keys[key - OPT_WARN], arg,
					     config_options[key - OPT_CONFIG].name};
		break;
	case ARGP_KEY_END:
		if (config__finish(c, err, sizeof(err)))
			argp_failure(state, 1, 0, "%s", err);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp config_argp = {
    .options = config_options,
    .parser = config_parse,
};
