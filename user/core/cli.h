/* cli.h: options every subcommand shares (process selection, labels), as an argp child. */
#ifndef HTTPLAT_CLI_H
#define HTTPLAT_CLI_H

#include <argp.h>

#include "classify.h"

#define SELECTION_MAX 64

struct selection {
	int pids[SELECTION_MAX];
	int npids;
	unsigned short ports[SELECTION_MAX];
	int nports;
	struct classifier *classifier; /* --api, --route; owned, freed by selection__free */
	int verbose;
};

/*
 * Child parser for --pid, --port, --api, --route, -v. A parent passes its
 * struct selection in ARGP_KEY_INIT: state->child_inputs[0] = &env->sel;
 * the child allocates the classifier on first use (selection__init).
 */
extern const struct argp selection_argp;

int selection__init(struct selection *sel);
void selection__free(struct selection *sel);
/* Parses a decimal in [min, max]; 0 or -EINVAL. */
int cli__parse_long(const char *s, long min, long max, long *out);

#endif
