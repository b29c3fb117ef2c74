/* config.c: the one httplat config file (libinih), the environment and flag overrides. */
#include <errno.h>
#include <ini.h>
#include <linux/types.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "classify.h"
#include "httplat.h"
#include "config.h"
#include "parse.h"

void config__defaults(struct httplat_config *c)
{
	memset(c, 0, sizeof(*c));
	alert_config__defaults(&c->alerts);
	slack_config__defaults(&c->slack);
	routes_config__defaults(&c->routes);
	c->database.retention_days = 14;
}

/* ---- keys ---- */

enum key_kind {
	K_INT,	   /* int in [min, max] */
	K_DOUBLE,  /* double in [min, max] */
	K_SECONDS, /* duration -> int seconds; min, max in seconds */
	K_MS,	   /* duration -> int ms; min, max in ms */
	K_SIZE,	   /* bytes -> uint64_t, at least min */
	K_STR,	   /* string of at least min characters that fits */
	K_FN,	   /* set() */
};

struct key {
	const char *section;
	const char *name;
	enum key_kind kind;
	size_t off; /* in struct httplat_config */
	size_t size;
	double min, max;
	int (*set)(struct httplat_config *c, const char *v);
	const char *want; /* K_FN: what a valid value looks like */
};

static int list__each(const char *s, int (*fn)(void *ctx, const char *item), void *ctx);

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

static int rules__set(struct httplat_config *c, const char *v)
{
	c->alerts.rules = 0;
	return list__each(v, rules__add, &c->alerts);
}

static int stat__set(struct httplat_config *c, const char *v)
{
	return alert_stat__parse(v, &c->alerts.stat);
}

static int pids__add(void *ctx, const char *item)
{
	struct config_select *s = ctx;
	long v;

	if (parse__long(item, 1, 4194304, &v) || s->npids >= CONFIG_SELECT_MAX)
		return -EINVAL;
	s->pids[s->npids++] = (int)v;
	return 0;
}

static int pids__set(struct httplat_config *c, const char *v)
{
	return list__each(v, pids__add, &c->select);
}

static int ports__add(void *ctx, const char *item)
{
	struct config_select *s = ctx;
	long v;

	if (parse__long(item, 1, 65535, &v) || s->nports >= CONFIG_SELECT_MAX)
		return -EINVAL;
	s->ports[s->nports++] = (unsigned short)v;
	return 0;
}

static int ports__set(struct httplat_config *c, const char *v)
{
	return list__each(v, ports__add, &c->select);
}

static int api__set(struct httplat_config *c, const char *v)
{
	struct config_select *s = &c->select;

	if (s->napi >= CONFIG_LIST_MAX || classifier__check_api(v) ||
	    snprintf(s->api[s->napi], sizeof(s->api[0]), "%s", v) >= (int)sizeof(s->api[0]))
		return -EINVAL;
	s->napi++;
	return 0;
}

static int route__set(struct httplat_config *c, const char *v)
{
	struct config_select *s = &c->select;

	if (s->nroute >= CONFIG_LIST_MAX || classifier__check_route(v) ||
	    snprintf(s->route[s->nroute], sizeof(s->route[0]), "%s", v) >= (int)sizeof(s->route[0]))
		return -EINVAL;
	s->nroute++;
	return 0;
}

/* yes/no; "" is a flag given without a value (--rollup-only): yes */
static int rollup_only__set(struct httplat_config *c, const char *v)
{
	if (!*v || !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
		c->database.rollup_only = 1;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
		c->database.rollup_only = 0;
	else
		return -EINVAL;
	return 0;
}

static int openapi__set(struct httplat_config *c, const char *v)
{
	char err[128];

	return routes_config__add_openapi(&c->routes, v, err, sizeof(err)) ? -EINVAL : 0;
}

static int routes_file__set(struct httplat_config *c, const char *v)
{
	char err[128];

	return routes_config__add_file(&c->routes, v, err, sizeof(err)) ? -EINVAL : 0;
}

static int hooks__set(struct httplat_config *c, const char *v)
{
	static const char *const names[] = {"auto", "socket", "syscall"};

	for (int i = 0; i < 3; i++)
		if (!strcmp(v, names[i])) {
			c->select.hooks = i;
			return 0;
		}
	return -EINVAL;
}

/* offset and size of a field of struct httplat_config, for the table */
#define AT(field)                                                                                  \
	offsetof(struct httplat_config, field), sizeof(((struct httplat_config *)0)->field)
#define DAY_S 86400.0
#define WEEK_S (7 * DAY_S)

static const struct key keys[] = {
    {"select", "pids", K_FN, 0, 0, 0, 0, pids__set, "process ids, comma-separated"},
    {"select", "ports", K_FN, 0, 0, 0, 0, ports__set, "ports 1-65535, comma-separated"},
    {"select", "api", K_FN, 0, 0, 0, 0, api__set, "NAME=/prefix"},
    {"select", "route", K_FN, 0, 0, 0, 0, route__set, "a path such as /model/{id}/mesh"},
    {"select", "hooks", K_FN, 0, 0, 0, 0, hooks__set, "auto, socket or syscall"},
    {"select", "pipeline_max", K_INT, AT(select.pipeline_max), 1, HTTPLAT_PIPE_PER_CONN, NULL,
     NULL},
    {"database", "db", K_STR, AT(database.db), 0, 0, NULL, NULL},
    {"database", "host", K_STR, AT(database.host), 1, 0, NULL, NULL},
    {"database", "schema", K_STR, AT(database.schema), 1, 0, NULL, NULL},
    {"database", "rollup_only", K_FN, 0, 0, 0, 0, rollup_only__set, "yes or no"},
    {"database", "spool_dir", K_STR, AT(database.spool_dir), 1, 0, NULL, NULL},
    {"database", "spool_max", K_SIZE, AT(database.spool_max), 65536, 0, NULL, NULL},
    {"database", "mem_max", K_SIZE, AT(database.mem_max), 65536, 0, NULL, NULL},
    {"database", "retention_days", K_INT, AT(database.retention_days), 0, 36500, NULL, NULL},
    {"database", "rollup_days", K_INT, AT(database.rollup_days), 1, 36500, NULL, NULL},
    {"database", "batch_rows", K_INT, AT(database.batch_rows), 1, 1000000, NULL, NULL},
    {"database", "flush_ms", K_INT, AT(database.flush_ms), 1, 60000, NULL, NULL},
    {"database", "db_timeout", K_SECONDS, AT(database.db_timeout_s), 1, DAY_S, NULL, NULL},
    {"alerts", "warn_ms", K_DOUBLE, AT(alerts.warn_ms), 0.001, 1e7, NULL, NULL},
    {"alerts", "crit_ms", K_DOUBLE, AT(alerts.crit_ms), 0, 1e7, NULL, NULL},
    {"alerts", "window", K_SECONDS, AT(alerts.window_s), 1, WEEK_S, NULL, NULL},
    {"alerts", "stat", K_FN, 0, 0, 0, 0, stat__set, "p50, p95, p99, max or mean"},
    {"alerts", "min_samples", K_INT, AT(alerts.min_samples), 1, 1000000, NULL, NULL},
    {"alerts", "repeat", K_SECONDS, AT(alerts.repeat_s), 0, WEEK_S, NULL, NULL},
    {"alerts", "hold", K_SECONDS, AT(alerts.hold_s), 0, WEEK_S, NULL, NULL},
    {"alerts", "hysteresis", K_DOUBLE, AT(alerts.hysteresis), 0, 0.9, NULL, NULL},
    {"alerts", "rules", K_FN, 0, 0, 0, 0, rules__set,
     "latency, http_500, error_ratio, no_response, wait or none, comma-separated"},
    {"alerts", "error_ratio_warn", K_DOUBLE, AT(alerts.ratio_warn), 0.0001, 1, NULL, NULL},
    {"alerts", "error_ratio_crit", K_DOUBLE, AT(alerts.ratio_crit), 0, 1, NULL, NULL},
    {"alerts", "no_response_warn", K_DOUBLE, AT(alerts.no_resp_warn), 1, 1e9, NULL, NULL},
    {"alerts", "no_response_crit", K_DOUBLE, AT(alerts.no_resp_crit), 0, 1e9, NULL, NULL},
    {"routes", "openapi_path", K_FN, 0, 0, 0, 0, openapi__set,
     "[PORT=]/PATH (the app's OpenAPI document) or [PORT=]none"},
    {"routes", "file", K_FN, 0, 0, 0, 0, routes_file__set, "[PORT=]FILE, an OpenAPI JSON file"},
    {"routes", "max_values", K_INT, AT(routes.guard.max_values), 1, 100000, NULL, NULL},
    {"routes", "max_routes", K_INT, AT(routes.guard.max_routes), 1, 100000, NULL, NULL},
    {"grafana", "url", K_STR, AT(grafana.url), 0, 0, NULL, NULL},
    {"grafana", "dashboard", K_STR, AT(grafana.dashboard), 0, 0, NULL, NULL},
    {"slack", "webhook", K_STR, AT(slack.webhook), 0, 0, NULL, NULL},
    {"slack", "channel", K_STR, AT(slack.channel), 0, 0, NULL, NULL},
    {"slack", "timeout", K_MS, AT(slack.timeout_ms), 100, DAY_S * 1000, NULL, NULL},
    {"slack", "connect_timeout", K_MS, AT(slack.connect_timeout_ms), 100, DAY_S * 1000, NULL,
     NULL},
    {"slack", "min_interval", K_MS, AT(slack.min_interval_ms), 0, DAY_S * 1000, NULL, NULL},
    {"slack", "gather", K_MS, AT(slack.gather_ms), 0, DAY_S * 1000, NULL, NULL},
    {"slack", "backoff_min", K_MS, AT(slack.backoff_min_ms), 1, DAY_S * 1000, NULL, NULL},
    {"slack", "backoff_max", K_MS, AT(slack.backoff_max_ms), 1, DAY_S * 1000, NULL, NULL},
    {"slack", "retry_after_max", K_SECONDS, AT(slack.retry_after_max_s), 1, WEEK_S, NULL, NULL},
    {"slack", "queue_max", K_INT, AT(slack.queue_max), 1, 100000, NULL, NULL},
};

static const struct key *key__find(const char *section, const char *name)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, name))
			return &keys[i];
	return NULL;
}

/* What a valid value of k looks like, for messages. */
static void key__want(const struct key *k, char *out, size_t outsz)
{
	switch (k->kind) {
	case K_INT:
		snprintf(out, outsz, "want a whole number from %.0f to %.0f", k->min, k->max);
		break;
	case K_DOUBLE:
		snprintf(out, outsz, "want a number from %g to %g", k->min, k->max);
		break;
	case K_SECONDS:
	case K_MS:
		snprintf(out, outsz, "want a duration such as 90s, 1500ms, 5m or 1h, at least %g%s",
			 k->min, k->kind == K_MS ? "ms" : "s");
		break;
	case K_SIZE:
		snprintf(out, outsz, "want bytes with an optional K, M or G suffix, at least %.0fK",
			 k->min / 1024);
		break;
	case K_STR:
		snprintf(out, outsz, "want %s%zu characters at most", k->min ? "1 to " : "",
			 k->size - 1);
		break;
	case K_FN:
		snprintf(out, outsz, "want %s", k->want);
		break;
	}
}

static int key__set(const struct key *k, struct httplat_config *c, const char *v)
{
	char *field = (char *)c + k->off;
	uint64_t size;
	double d;
	long l;

	switch (k->kind) {
	case K_INT:
		if (parse__long(v, (long)k->min, (long)k->max, &l))
			return -EINVAL;
		*(int *)field = (int)l;
		return 0;
	case K_DOUBLE:
		return parse__double(v, k->min, k->max, (double *)field);
	case K_SECONDS:
		if (parse__seconds(v, k->min, k->max, &d))
			return -EINVAL;
		*(int *)field = (int)d;
		return 0;
	case K_MS:
		if (parse__seconds(v, k->min / 1000, k->max / 1000, &d))
			return -EINVAL;
		*(int *)field = (int)llround(d * 1000);
		return 0;
	case K_SIZE:
		if (parse__size(v, &size) || size < (uint64_t)k->min)
			return -EINVAL;
		*(uint64_t *)field = size;
		return 0;
	case K_STR:
		if (strlen(v) < (size_t)k->min || strlen(v) >= k->size)
			return -EINVAL;
		memcpy(field, v, strlen(v) + 1);
		return 0;
	case K_FN:
		return k->set(c, v);
	}
	return -EINVAL;
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

/* [alerts.NAME]: latency thresholds for one API; unset ones follow [alerts]. */
static int alerts_api__set(struct alert_config *a, const char *api, const char *key, const char *v)
{
	struct alert_api_limits *l = NULL;
	double *field;

	if (strcmp(key, "warn_ms") && strcmp(key, "crit_ms"))
		return -ENOENT;
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
	field = strcmp(key, "warn_ms") ? &l->crit_ms : &l->warn_ms;
	return parse__double(v, field == &l->warn_ms ? 0.001 : 0, 1e7, field);
}

static int section__known(const char *section)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(keys[i].section, section))
			return 1;
	return !strncmp(section, "alerts.", 7);
}

/* Sets one key; on error, what is wrong (without the value) in want. */
static int config__set_key(struct httplat_config *c, const char *section, const char *name,
			   const char *value, char *want, size_t wantsz)
{
	const struct key *k;
	int ret;

	*want = 0;
	if (!strncmp(section, "alerts.", 7)) {
		ret = alerts_api__set(&c->alerts, section + 7, name, value);
		if (ret == -EINVAL)
			snprintf(want, wantsz, "want milliseconds");
		return ret;
	}
	k = key__find(section, name);
	if (!k)
		return -ENOENT;
	ret = key__set(k, c, value);
	if (ret)
		key__want(k, want, wantsz);
	else if (!strcmp(section, "slack") && !strcmp(name, "webhook"))
		snprintf(c->webhook_source, sizeof(c->webhook_source), "the config file");
	return ret ? -EINVAL : 0;
}

int config__set(struct httplat_config *c, const char *section, const char *key, const char *value,
		char *err, size_t errsz)
{
	char want[128];
	int ret;

	if (!section__known(section)) {
		snprintf(err, errsz, "unknown section [%s]", section);
		return -EINVAL;
	}
	ret = config__set_key(c, section, key, value, want, sizeof(want));
	if (ret == -ENOENT)
		snprintf(err, errsz, "unknown key '%s' in [%s]", key, section);
	else if (ret)
		/* a webhook is a secret: never echo it */
		snprintf(err, errsz, "invalid value for '%s' in [%s]: '%s' (%s)", key, section,
			 strcmp(key, "webhook") ? value : "(hidden)", want);
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
	const char *hook = getenv("HTTPLAT_SLACK_WEBHOOK"), *db = getenv("HTTPLAT_DB");

	if (db && *db &&
	    snprintf(c->database.db, sizeof(c->database.db), "%s", db) >=
		(int)sizeof(c->database.db)) {
		snprintf(err, errsz, "HTTPLAT_DB is too long");
		return -EINVAL;
	}
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

/* ---- flags ---- */

int config__override(struct httplat_config *c, const char *section, const char *key,
		     const char *value, const char *flag)
{
	struct config_override *o;

	if (c->nover >= CONFIG_OVERRIDES_MAX || strlen(key) >= sizeof(o->key))
		return -E2BIG;
	o = &c->over[c->nover++];
	o->section = section;
	snprintf(o->key, sizeof(o->key), "%s", key);
	o->value = value;
	o->flag = flag;
	return 0;
}

/* Moves the last n - from rules of list (the flags') before the first from (the file's). */
static void rules__flags_first(char *list, size_t width, int from, int n)
{
	char tmp[sizeof(((struct config_select *)0)->route[0])];

	for (int done = 0; done < from && n > from; done++) {
		/* rotate left by one: the file's first rule goes to the end */
		memcpy(tmp, list, width);
		memmove(list, list + width, (size_t)(n - 1) * width);
		memcpy(list + (size_t)(n - 1) * width, tmp, width);
	}
}

static int config__apply_overrides(struct httplat_config *c, char *err, size_t errsz)
{
	struct config_select *s = &c->select;
	int file_api = s->napi, file_route = s->nroute, pids_given = 0, ports_given = 0;
	char want[128];

	for (int i = 0; i < c->nover; i++) {
		const struct config_override *o = &c->over[i];

		/* a --pid / --port list replaces the file's selection */
		if (!strcmp(o->section, "select") && !strcmp(o->key, "pids") && !pids_given++)
			s->npids = 0;
		if (!strcmp(o->section, "select") && !strcmp(o->key, "ports") && !ports_given++)
			s->nports = 0;
		if (config__set_key(c, o->section, o->key, o->value, want, sizeof(want))) {
			snprintf(err, errsz, "invalid --%s '%s'%s%s", o->flag,
				 strcmp(o->key, "webhook") ? o->value : "(hidden)",
				 *want ? ": " : "", want);
			return -EINVAL;
		}
	}
	/* first match wins: the flags' rules go first */
	rules__flags_first(&s->api[0][0], sizeof(s->api[0]), file_api, s->napi);
	rules__flags_first(&s->route[0][0], sizeof(s->route[0]), file_route, s->nroute);
	return 0;
}

int config__finish(struct httplat_config *c, char *err, size_t errsz)
{
	int ret;

	ret = config__load(c, c->path_given ? c->path : CONFIG_DEFAULT_PATH, c->path_given, err,
			   errsz);
	if (ret)
		return ret;
	if ((ret = config__env(c, err, errsz)))
		return ret;
	if ((ret = config__apply_overrides(c, err, errsz)))
		return ret;
	return config__check(c, err, errsz);
}

error_t config__argp_override(struct argp_state *state, struct httplat_config *c,
			      const char *section, const struct argp_option *opts, int key,
			      const char *arg)
{
	char name[32];

	for (; opts && (opts->name || opts->key || opts->doc); opts++) {
		if (opts->key != key || !opts->name)
			continue;
		/* "mem-max" -> "mem_max" */
		snprintf(name, sizeof(name), "%s", opts->name);
		for (char *p = name; *p; p++)
			if (*p == '-')
				*p = '_';
		if (config__override(c, section, name, arg ? arg : "", opts->name))
			argp_error(state, "too many options (at most %d)", CONFIG_OVERRIDES_MAX);
		return 0;
	}
	return ARGP_ERR_UNKNOWN;
}

enum { OPT_CONFIG = 2000 };

static const struct argp_option config_options[] = {
    {"config", OPT_CONFIG, "FILE", 0,
     "Config file (default " CONFIG_DEFAULT_PATH " when it exists); flags override it", 0},
    {},
};

static error_t config_parse(int key, char *arg, struct argp_state *state)
{
	struct httplat_config *c = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		config__defaults(c);
		break;
	case OPT_CONFIG:
		if (snprintf(c->path, sizeof(c->path), "%s", arg) >= (int)sizeof(c->path))
			argp_error(state, "--config path too long");
		c->path_given = 1;
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

/* Each flag is the [alerts] key of the same name ("--min-samples" is min_samples). */
static const struct argp_option alerts_options[] = {
    {"warn-ms", 2001, "MS", 0, "Latency warning threshold (default 500)", 0},
    {"crit-ms", 2002, "MS", 0, "Latency critical threshold (default 1000; 0 = none)", 0},
    {"window", 2003, "DURATION", 0, "Sliding window of the rules (default 60s)", 0},
    {"stat", 2004, "STAT", 0, "Latency statistic: p50, p95 (default), p99, max, mean", 0},
    {"min-samples", 2005, "N", 0, "Requests needed in the window (default 5)", 0},
    {"repeat", 2006, "DURATION", 0, "Reminder interval while firing (default 1h; 0 = none)", 0},
    {"hold", 2007, "DURATION", 0, "Clear this long before resolved (default 2m)", 0},
    {"rules", 2008, "LIST", 0,
     "Enabled rules: latency, http_500, error_ratio, no_response, wait (default "
     "latency,http_500)",
     0},
    {},
};

static error_t alerts_parse(int key, char *arg, struct argp_state *state)
{
	if (key == ARGP_KEY_INIT) {
		state->child_inputs[0] = state->input; /* config_argp */
		return 0;
	}
	return config__argp_override(state, state->input, "alerts", alerts_options, key, arg);
}

static const struct argp_child alerts_children[] = {{&config_argp, 0, NULL, 0}, {}};

const struct argp config_alerts_argp = {
    .options = alerts_options,
    .parser = alerts_parse,
    .children = alerts_children,
};
