/* config.h: /etc/httplat.conf (libinih) and the command-line flags that override it. */
#ifndef HTTPLAT_CONFIG_H
#define HTTPLAT_CONFIG_H

#include <argp.h>
#include <limits.h>

#include "alert.h"
#include "cli.h"
#include "slack.h"

#define CONFIG_DEFAULT_PATH "/etc/httplat.conf"
#define CONFIG_LIST_MAX 64
#define CONFIG_OVERRIDES_MAX 32

/* [select]: which processes, and how paths become APIs and routes. */
struct config_select {
	int pids[SELECTION_MAX];
	int npids;
	unsigned short ports[SELECTION_MAX];
	int nports;
	char api[CONFIG_LIST_MAX][128]; /* "NAME=/prefix" */
	int napi;
	char route[CONFIG_LIST_MAX][RECORD_PATH_MAX + 1]; /* "/model/{id}/mesh" */
	int nroute;
};

/* [database]: what `run` writes to; keys as its flags. Unset: "" or -1 (run's defaults). */
struct config_database {
	char db[1024];		  /* libpq conninfo or URL */
	char host[256];		  /* host column */
	char spool_dir[PATH_MAX]; /* "none" = no spool */
	char spool_max[32];	  /* size such as 1G, checked by run */
	char mem_max[32];
	int retention_days;
	int rollup_days;
	int batch_rows;
	int flush_ms;
};

/* A flag given on the command line, applied over the file as "[section] key = value". */
struct config_override {
	const char *section;
	const char *key;
	const char *value;
	const char *flag; /* for messages: "warn-ms" */
};

struct httplat_config {
	char path[PATH_MAX]; /* file read, "" = none */
	int path_given;	     /* --config was given: a missing file is an error */
	struct config_select select;
	struct config_database database;
	struct alert_config alerts;
	struct slack_config slack;
	char webhook_source[64]; /* "HTTPLAT_SLACK_WEBHOOK", the file path, or "" */
	struct config_override over[CONFIG_OVERRIDES_MAX];
	int nover;
};

void config__defaults(struct httplat_config *c);
/*
 * Parses INI text over c. 0, or -EINVAL with "LINE: reason" in err. Unknown sections or
 * keys are errors (a typo must not silently keep a default).
 */
int config__parse_string(struct httplat_config *c, const char *text, char *err, size_t errsz);
/*
 * Reads the file at path over c. A file holding a webhook that group or others can read is
 * refused (-EACCES). A missing file is fine unless required (-ENOENT). 0 or -errno, err set.
 */
int config__load(struct httplat_config *c, const char *path, int required, char *err, size_t errsz);
/* One "[section] key = value" setting, as in the file. 0 or -EINVAL with err. */
int config__set(struct httplat_config *c, const char *section, const char *key, const char *value,
		char *err, size_t errsz);
/* HTTPLAT_SLACK_WEBHOOK, when set, replaces the file's webhook. */
int config__env(struct httplat_config *c, char *err, size_t errsz);
/* Everything checked together (thresholds in order...). 0 or -EINVAL with err. */
int config__check(const struct httplat_config *c, char *err, size_t errsz);
/* Fills sel from [select] where the command line gave nothing. 0 or -errno with err. */
int config__apply_selection(const struct httplat_config *c, struct selection *sel, char *err,
			    size_t errsz);
/* "90", "90s", "1500ms", "5m", "1h" -> milliseconds. 0 or -EINVAL. */
int config__parse_duration_ms(const char *s, long long *ms);

/*
 * argp child for --config and the alert flags (--warn-ms, --crit-ms, --window, --stat,
 * --min-samples, --repeat, --hold, --rules). Input: struct httplat_config *, which it fills
 * with defaults, then the file, then HTTPLAT_SLACK_WEBHOOK, then the flags.
 */
extern const struct argp config_argp;

#endif
