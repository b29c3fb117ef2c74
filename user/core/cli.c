/* cli.c: the shared argp child for process selection and labelling, and the selection it builds. */
#include <errno.h>
#include <linux/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "httplat.h"

#define HL_STR2(x) #x
#define HL_STR(x) HL_STR2(x)

enum {
	OPT_PID = 'p',
	OPT_PORT = 'P',
	OPT_API = 1000,
	OPT_ROUTE,
	OPT_HOOKS,
	OPT_PIPELINE,
	OPT_OPENAPI,
	OPT_ROUTES,
	OPT_VALUES,
	OPT_MAX_ROUTES,
};

static const struct argp_option options[] = {
	{"pid", OPT_PID, "PID", 0, "Trace this process (repeatable); replaces discovery", 1},
	{"port", OPT_PORT, "PORT", 0, "Only connections to this local server port (repeatable)", 1},
	{"api", OPT_API, "NAME=/PREFIX", 0,
	 "Label paths under PREFIX as API NAME (repeatable; default: first segment data, model, "
	 "user, else other)",
	 1},
	{"route", OPT_ROUTE, "PATTERN", 0,
	 "Route template such as /model/{id}/mesh (repeatable; ids collapse by default)", 1},
	{"openapi-path", OPT_OPENAPI, "[PORT=]PATH", 0,
	 "Where the app serves its OpenAPI document (default /openapi.json; none: do not ask); "
	 "routes are its templates",
	 1},
	{"routes", OPT_ROUTES, "[PORT=]FILE", 0,
	 "The app's OpenAPI document from a file, for apps that do not serve it", 1},
	{"route-values", OPT_VALUES, "N", 0,
	 "Without a document: a path position with more than N values becomes {param} "
	 "(default 10)",
	 1},
	{"max-routes", OPT_MAX_ROUTES, "N", 0,
	 "Without a document: routes per API at most, then 'other' (default 100)", 1},
	{"verbose", 'v', NULL, 0, "Verbose output (libbpf messages, discovery, the hook path)", 1},
	{"hooks", OPT_HOOKS, "PATH", 0,
	 "Kernel data path: auto, socket (tracepoints, Linux 6.3+, no cost for other processes) or "
	 "syscall (the syscall-exit fallback); default auto: the best the kernel has",
	 1},
	{"pipeline-max", OPT_PIPELINE, "N", 0,
	 "Unanswered pipelined requests kept per connection; beyond, each is counted lost "
	 "(default and at most " HL_STR(HTTPLAT_PIPE_PER_CONN) ")",
	 1},
	{},
};

int selection__init(struct selection *sel)
{
	if (sel->classifier)
		return 0;
	sel->classifier = classifier__new();
	return sel->classifier ? 0 : -ENOMEM;
}

void selection__free(struct selection *sel)
{
	classifier__free(sel->classifier);
	sel->classifier = NULL;
}

int selection__from_config(struct selection *sel, const struct httplat_config *c, char *err,
			   size_t errsz)
{
	const struct config_select *s = &c->select;
	int ret;

	selection__free(sel);
	memset(sel, 0, sizeof(*sel));
	if ((ret = selection__init(sel))) {
		snprintf(err, errsz, "out of memory");
		return ret;
	}
	memcpy(sel->pids, s->pids, sizeof(sel->pids));
	sel->npids = s->npids;
	memcpy(sel->ports, s->ports, sizeof(sel->ports));
	sel->nports = s->nports;
	sel->verbose = c->verbose;
	sel->hooks = s->hooks;
	sel->pipeline_max = s->pipeline_max;
	for (int i = 0; i < s->napi; i++)
		if ((ret = classifier__add_api(sel->classifier, s->api[i]))) {
			snprintf(err, errsz, "api '%s': %s", s->api[i],
				 ret == -ENOSPC ? "too many rules" : "want NAME=/prefix");
			return ret;
		}
	for (int i = 0; i < s->nroute; i++) {
		ret = classifier__add_route(sel->classifier, s->route[i]);
		if (ret) {
			snprintf(err, errsz, "route '%s': %s", s->route[i],
				 ret == -ENOSPC ? "too many rules" : "want a path, /model/{id}");
			return ret;
		}
	}
	return 0;
}

static error_t selection_parse(int key, char *arg, struct argp_state *state)
{
	static const struct {
		int key;
		const char *section, *name, *flag;
	} keys[] = {
		{OPT_PID, "select", "pids", "pid"},
		{OPT_PORT, "select", "ports", "port"},
		{OPT_API, "select", "api", "api"},
		{OPT_ROUTE, "select", "route", "route"},
		{OPT_HOOKS, "select", "hooks", "hooks"},
		{OPT_PIPELINE, "select", "pipeline_max", "pipeline-max"},
		{OPT_OPENAPI, "routes", "openapi_path", "openapi-path"},
		{OPT_ROUTES, "routes", "file", "routes"},
		{OPT_VALUES, "routes", "max_values", "route-values"},
		{OPT_MAX_ROUTES, "routes", "max_routes", "max-routes"},
	};
	struct httplat_config *c = state->input;

	if (key == 'v') {
		c->verbose++;
		return 0;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (keys[i].key != key)
			continue;
		if (config__override(c, keys[i].section, keys[i].name, arg, keys[i].flag))
			argp_error(state, "too many options (at most %d)", CONFIG_OVERRIDES_MAX);
		return 0;
	}
	return ARGP_ERR_UNKNOWN;
}

const struct argp selection_argp = {
	.options = options,
	.parser = selection_parse,
};
