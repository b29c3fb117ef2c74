/* test_cli.c: the shared selection options (--pid, --port, --api, --route) through argp. */
#include <argp.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "cli.h"

static char dir[] = "/tmp/httplat-test-cli-XXXXXX";
static char conf[600];

static error_t parent_parse(int key, char *arg, struct argp_state *state)
{
	(void)arg;
	if (key == ARGP_KEY_INIT)
		state->child_inputs[0] = state->child_inputs[1] = state->input;
	return ARGP_ERR_UNKNOWN;
}

static const struct argp_child children[] = {
    {&selection_argp, 0, NULL, 0}, {&config_argp, 0, NULL, 0}, {}};
static const struct argp parent = {NULL, parent_parse, NULL, NULL, children};

/* argv, then the layering with the file conf, then the selection. 0 or the first error. */
static int parse(struct selection *sel, int argc, char **argv)
{
	struct httplat_config *c = malloc(sizeof(*c));
	char err[256];
	int ret;

	memset(sel, 0, sizeof(*sel));
	/* no exit, no messages: errors come back as return values */
	ret = argp_parse(&parent, argc, argv, ARGP_NO_EXIT | ARGP_NO_ERRS, NULL, c);
	snprintf(c->path, sizeof(c->path), "%s", conf);
	c->path_given = 1;
	if (!ret)
		ret = config__finish(c, err, sizeof(err));
	if (!ret)
		ret = selection__from_config(sel, c, err, sizeof(err));
	free(c);
	return ret;
}

static void write_conf(const char *text)
{
	FILE *f = fopen(conf, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void test_parse_long(void)
{
	long v;

	CHECK_INT(cli__parse_long("42", 1, 100, &v), 0);
	CHECK_INT(v, 42);
	CHECK_INT(cli__parse_long("0", 1, 100, &v), -EINVAL);
}

static void test_selection(void)
{
	char *argv[] = {"t",
			"--pid",
			"12",
			"-p",
			"13",
			"--port",
			"8000",
			"--api",
			"gen=/v1/gen",
			"--route",
			"/model/{id}/mesh",
			"-v",
			NULL};
	struct selection sel;
	char out[64];

	write_conf("");
	CHECK_INT(parse(&sel, 12, argv), 0);
	CHECK_INT(sel.npids, 2);
	CHECK_INT(sel.pids[1], 13);
	CHECK_INT(sel.nports, 1);
	CHECK_INT(sel.ports[0], 8000);
	CHECK_INT(sel.verbose, 1);
	classifier__api(sel.classifier, "/v1/gen/x", out, sizeof(out));
	CHECK_STR(out, "gen");
	classifier__route(sel.classifier, "/model/abc/mesh", out, sizeof(out));
	CHECK_STR(out, "/model/{id}/mesh");
	selection__free(&sel);
}

/* [select] of the file, with the flags over it: what every tracing command gets. */
static void test_selection_from_file(void)
{
	char *none[] = {"t", NULL};
	char *flags[] = {"t", "--pid", "99", "--api", "gen=/model/gen", NULL};
	struct selection sel;
	char out[64];

	write_conf("[select]\npids = 10, 11\nports = 8000\napi = models=/model\n");
	CHECK_INT(parse(&sel, 1, none), 0);
	CHECK_INT(sel.npids, 2);
	CHECK_INT(sel.pids[0], 10);
	CHECK_INT(sel.nports, 1);
	CHECK_INT(sel.ports[0], 8000);
	classifier__api(sel.classifier, "/model/7/mesh", out, sizeof(out));
	CHECK_STR(out, "models");
	selection__free(&sel);

	CHECK_INT(parse(&sel, 5, flags), 0);
	CHECK_INT(sel.npids, 1); /* given on the command line: replaces the file's */
	CHECK_INT(sel.pids[0], 99);
	CHECK_INT(sel.nports, 1); /* not given: the file's */
	classifier__api(sel.classifier, "/model/gen/x", out, sizeof(out));
	CHECK_STR(out, "gen"); /* the flag's rule first */
	classifier__api(sel.classifier, "/model/7", out, sizeof(out));
	CHECK_STR(out, "models"); /* the file's still applies */
	selection__free(&sel);
}

static void test_selection_errors(void)
{
	char *bad_pid[] = {"t", "--pid", "-3", NULL};
	char *bad_port[] = {"t", "--port", "65536", NULL};
	char *bad_api[] = {"t", "--api", "noequals", NULL};
	char *bad_route[] = {"t", "--route", "relative", NULL};
	struct selection sel;

	write_conf("");
	CHECK(parse(&sel, 3, bad_pid) != 0);
	selection__free(&sel);
	CHECK(parse(&sel, 3, bad_port) != 0);
	selection__free(&sel);
	CHECK(parse(&sel, 3, bad_api) != 0);
	selection__free(&sel);
	CHECK(parse(&sel, 3, bad_route) != 0);
	selection__free(&sel);
	write_conf("[select]\nports = 0\n");
	CHECK(parse(&sel, 1, (char *[]){"t", NULL}) != 0);
	selection__free(&sel);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	snprintf(conf, sizeof(conf), "%s/httplat.conf", dir);
	RUN(test_parse_long);
	RUN(test_selection);
	RUN(test_selection_from_file);
	RUN(test_selection_errors);
	unlink(conf);
	rmdir(dir);
	return CHECK_DONE();
}
