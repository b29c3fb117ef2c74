/* config.h: /etc/httplat.conf (libinih), the environment, and command-line flags as overrides. */
#ifndef HTTPLAT_CONFIG_H
#define HTTPLAT_CONFIG_H

#include <argp.h>
#include <limits.h>
#include <stdint.h>

#include "alert.h"
#include "routes.h"
#include "slack.h"

#define CONFIG_DEFAULT_PATH "/etc/httplat.conf"
#define CONFIG_SELECT_MAX 64 /* pids, ports */
#define CONFIG_LIST_MAX 64   /* api, route rules */
#define CONFIG_OVERRIDES_MAX 256

/* [select]: which processes, and how paths become APIs and routes. */
struct config_select {
	int pids[CONFIG_SELECT_MAX];
	int npids;
	unsigned short ports[CONFIG_SELECT_MAX];
	int nports;
	char api[CONFIG_LIST_MAX][128]; /* "NAME=/prefix" */
	int napi;
	char route[CONFIG_LIST_MAX][RECORD_PATH_MAX + 1]; /* "/model/{id}/mesh" */
	int nroute;
	int hooks;	  /* enum tracer_hooks (cli.h): 0 auto, 1 socket, 2 syscall */
	int pipeline_max; /* unanswered requests kept per connection; 0 = the kernel's default */
};

/* [database]: what `run` writes to; each key is the run flag of the same name. 0 / "": unset. */
struct config_database {
	char db[1024];		  /* libpq conninfo or URL; "" = libpq's PG* variables */
	char host[256];		  /* host column; "" = this machine's name */
	char schema[64];	  /* httplat's schema; "" = httplat (checked by the writer's options) */
	char spool_dir[PATH_MAX]; /* "" = /var/spool/httplat, "none" = no spool */
	uint64_t spool_max;	  /* bytes */
	uint64_t mem_max;	  /* bytes */
	int retention_days;	  /* 14 unless set; 0 keeps every raw partition */
	int rollup_days;
	int batch_rows;
	int flush_ms;
	int db_timeout_s;
	int rollup_only; /* 1: no row per request, only the per-minute rollup */
};

/* A flag given on the command line: applied over the file as "[section] key = value". */
struct config_override {
	const char *section;
	char key[32];
	const char *value;
	const char *flag; /* for messages: "warn-ms" */
};

/* [grafana]: where alert messages link to. */
struct config_grafana {
	char url[512];	     /* base URL, "" = no link */
	char dashboard[64];  /* dashboard uid, "" = SLACKMSG_GRAFANA_DASHBOARD */
};

struct httplat_config {
	char path[PATH_MAX]; /* file read, "" = none */
	int path_given;	     /* --config was given: a missing file is an error */
	int verbose;	     /* -v (not a file key) */
	struct config_select select;
	struct config_database database;
	struct alert_config alerts;
	struct slack_config slack;
	struct routes_config routes; /* [routes]: documents, files, the guard's limits */
	struct config_grafana grafana;
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
/* HTTPLAT_DB and HTTPLAT_SLACK_WEBHOOK, when set, replace the file's db and webhook. */
int config__env(struct httplat_config *c, char *err, size_t errsz);
/* Everything checked together (thresholds in order...). 0 or -EINVAL with err. */
int config__check(const struct httplat_config *c, char *err, size_t errsz);

/*
 * Records flag --FLAG VALUE as an override of [section] key, applied by config__finish.
 * Values are checked there, with the file's rules, so a flag and its key cannot disagree.
 * 0, or -E2BIG when there are too many.
 */
int config__override(struct httplat_config *c, const char *section, const char *key,
		     const char *value, const char *flag);
/*
 * The layering, done once after the command line is parsed: the defaults (config__defaults,
 * at argp's start), then the file (--config, else CONFIG_DEFAULT_PATH when it exists), then
 * the environment, then the flags in the order given; then config__check. A --pid or --port
 * replaces the file's list; --api and --route rules come before the file's, so that a flag
 * wins where both match. 0 or -errno with err ("invalid --warn-ms 'x': want ...").
 */
int config__finish(struct httplat_config *c, char *err, size_t errsz);

/*
 * For argp parsers whose flags are named after config keys ("--mem-max" is [database]
 * mem_max): records key's option of opts, with arg, as an override of its key in section.
 * ARGP_ERR_UNKNOWN when opts has no such option.
 */
error_t config__argp_override(struct argp_state *state, struct httplat_config *c,
			      const char *section, const struct argp_option *opts, int key,
			      const char *arg);

/* argp child for --config. Input: struct httplat_config *, set to the defaults here. */
extern const struct argp config_argp;
/*
 * argp child for the alert flags (--warn-ms, --crit-ms, --window, --stat, --min-samples,
 * --repeat, --hold, --rules), overrides of [alerts], and config_argp's --config. Input: struct
 * httplat_config *. A command has one of the two.
 */
extern const struct argp config_alerts_argp;

#endif
