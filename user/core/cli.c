/* cli.c: the shared argp child for process selection and labelling, and the selection it builds. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { OPT_PID = 'p', OPT_PORT = 'P', OPT_API = 1000, OPT_ROUTE };

static const struct argp_option options[] = {
	{"pid", OPT_PID, "PID", 0, "Trace this process (repeatable); replaces discovery", 1},
	{"port", OPT_PORT, "PORT", 0, "Only connections to this local server port (repeatable)", 1},
	{"api", OPT_API, "NAME=/PREFIX", 0,
	 "Label paths under PREFIX as API NAME (repeatable; default: first segment data, model, "
	 "user, else other)",
	 1},
	{"route", OPT_ROUTE, "PATTERN", 0,
	 "Route template such as /model/{id}/mesh (repeatable; ids collapse by default)", 1},
	{"verbose", 'v', NULL, 0, "Verbose output (libbpf messages, discovery)", 1},
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
		const char *name, *flag;
	} keys[] = {
		{OPT_PID, "pids", "pid"},
		{OPT_PORT, "ports", "port"},
		{OPT_API, "api", "api"},
		{OPT_ROUTE, "route", "route"},
	};
	struct httplat_config *c = state->input;

	if (key == 'v') {
		c->verbose++;
		return 0;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (keys[i].key != key)
			continue;
		if (config__override(c, "select", keys[i].name, arg, keys[i].flag))
			argp_error(state, "too many options (at most %d)", CONFIG_OVERRIDES_MAX);
		return 0;
	}
	return ARGP_ERR_UNKNOWN;
}

const struct argp selection_argp = {
	.options = options,
	.parser = selection_parse,
};
