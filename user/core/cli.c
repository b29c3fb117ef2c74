/* cli.c: the shared argp child parser for process selection and labelling options. */
#include <errno.h>
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

int cli__parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

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

static error_t selection_parse(int key, char *arg, struct argp_state *state)
{
	struct selection *sel = state->input;
	long v;

	switch (key) {
	case ARGP_KEY_INIT:
		if (selection__init(sel))
			argp_failure(state, 1, ENOMEM, "out of memory");
		break;
	case OPT_PID:
		if (cli__parse_long(arg, 1, 4194304, &v)) {
			argp_error(state, "invalid --pid '%s': want a process id", arg);
			return EINVAL; /* when the caller asked argp not to exit */
		}
		if (sel->npids >= SELECTION_MAX) {
			argp_error(state, "too many --pid (max %d)", SELECTION_MAX);
			return EINVAL;
		}
		sel->pids[sel->npids++] = (int)v;
		break;
	case OPT_PORT:
		if (cli__parse_long(arg, 1, 65535, &v)) {
			argp_error(state, "invalid --port '%s': want 1-65535", arg);
			return EINVAL;
		}
		if (sel->nports >= SELECTION_MAX) {
			argp_error(state, "too many --port (max %d)", SELECTION_MAX);
			return EINVAL;
		}
		sel->ports[sel->nports++] = (unsigned short)v;
		break;
	case OPT_API:
		if (classifier__add_api(sel->classifier, arg)) {
			argp_error(state, "invalid --api '%s': want NAME=/prefix", arg);
			return EINVAL;
		}
		break;
	case OPT_ROUTE:
		if (classifier__add_route(sel->classifier, arg)) {
			argp_error(state, "invalid --route '%s': want a path such as /model/{id}/mesh",
				   arg);
			return EINVAL;
		}
		break;
	case 'v':
		sel->verbose++;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp selection_argp = {
	.options = options,
	.parser = selection_parse,
};
