/* cli.c: the shared argp child parser for process selection and labelling options. */
#include <errno.h>
#include <linux/types.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "httplat.h"

#define HL_STR2(x) #x
#define HL_STR(x) HL_STR2(x)

enum { OPT_PID = 'p', OPT_PORT = 'P', OPT_API = 1000, OPT_ROUTE, OPT_HOOKS, OPT_PIPELINE };

static const struct argp_option options[] = {
	{"pid", OPT_PID, "PID", 0, "Trace this process (repeatable); replaces discovery", 1},
	{"port", OPT_PORT, "PORT", 0, "Only connections to this local server port (repeatable)", 1},
	{"api", OPT_API, "NAME=/PREFIX", 0,
	 "Label paths under PREFIX as API NAME (repeatable; default: first segment data, model, "
	 "user, else other)",
	 1},
	{"route", OPT_ROUTE, "PATTERN", 0,
	 "Route template such as /model/{id}/mesh (repeatable; ids collapse by default)", 1},
	{"verbose", 'v', NULL, 0, "Verbose output (libbpf messages, discovery, the hook path)", 1},
	{"hooks", OPT_HOOKS, "auto|socket|syscall", 0,
	 "Kernel data path: socket tracepoints (Linux 6.3+, no cost for other processes) or the "
	 "syscall-exit fallback (default auto: the best the kernel has)",
	 1},
	{"pipeline-max", OPT_PIPELINE, "N", 0,
	 "Unanswered pipelined requests kept per connection; beyond, each is counted lost "
	 "(default and maximum " HL_STR(HTTPLAT_PIPE_PER_CONN) ")",
	 1},
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
	case OPT_HOOKS:
		if (!strcmp(arg, "auto"))
			sel->hooks = TRACER_HOOKS_AUTO;
		else if (!strcmp(arg, "socket"))
			sel->hooks = TRACER_HOOKS_SOCKET;
		else if (!strcmp(arg, "syscall"))
			sel->hooks = TRACER_HOOKS_SYSCALL;
		else {
			argp_error(state, "invalid --hooks '%s': want auto, socket or syscall", arg);
			return EINVAL;
		}
		break;
	case OPT_PIPELINE:
		if (cli__parse_long(arg, 1, HTTPLAT_PIPE_PER_CONN, &v)) {
			argp_error(state, "invalid --pipeline-max '%s': want 1-%d", arg,
				   HTTPLAT_PIPE_PER_CONN);
			return EINVAL;
		}
		sel->pipeline_max = (int)v;
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
