/* cli.h: the process selection every tracing command shares, and its flags, as an argp child. */
#ifndef HTTPLAT_CLI_H
#define HTTPLAT_CLI_H

#include <argp.h>

#include "classify.h"
#include "config.h"
#include "parse.h"

#define SELECTION_MAX CONFIG_SELECT_MAX

/* The kernel data path (--hooks): socket tracepoints, or the syscall-exit fallback. */
enum tracer_hooks { TRACER_HOOKS_AUTO = 0, TRACER_HOOKS_SOCKET, TRACER_HOOKS_SYSCALL };

/* What the tracer follows and how it labels: built from the config's [select] and flags. */
struct selection {
	int pids[SELECTION_MAX];
	int npids;
	unsigned short ports[SELECTION_MAX];
	int nports;
	struct classifier *classifier; /* --api, --route; owned, freed by selection__free */
	int verbose;
	int hooks;	  /* enum tracer_hooks */
	int pipeline_max; /* --pipeline-max: queued requests kept per connection, 0 = default */
};

/*
 * Child parser for --pid, --port, --api, --route (overrides of [select] pids, ports, api,
 * route, checked by config__finish) and -v. Input: struct httplat_config *, as config_argp's
 * (which must be a child too: it sets the defaults).
 */
extern const struct argp selection_argp;

/*
 * sel (zeroed, or built before) from c's [select]: the file and the flags, already layered
 * by config__finish. 0 or -errno with err.
 */
int selection__from_config(struct selection *sel, const struct httplat_config *c, char *err,
			   size_t errsz);
int selection__init(struct selection *sel);
void selection__free(struct selection *sel);

/* Kept for the PostgreSQL options (pgcli.c) until they move to parse__long. */
static inline int cli__parse_long(const char *s, long min, long max, long *out)
{
	return parse__long(s, min, max, out);
}

#endif
