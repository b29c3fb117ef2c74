/* test_cli.c: the shared selection options (--pid, --port, --api, --route) through argp. */
#include <argp.h>
#include <errno.h>

#include "check.h"
#include "cli.h"

static error_t parent_parse(int key, char *arg, struct argp_state *state)
{
	(void)arg;
	if (key == ARGP_KEY_INIT)
		state->child_inputs[0] = state->input;
	return ARGP_ERR_UNKNOWN;
}

static const struct argp_child children[] = {{&selection_argp, 0, NULL, 0}, {}};
static const struct argp parent = {NULL, parent_parse, NULL, NULL, children};

static int parse(struct selection *sel, int argc, char **argv)
{
	memset(sel, 0, sizeof(*sel));
	/* no exit, no messages: errors come back as return values */
	return argp_parse(&parent, argc, argv, ARGP_NO_EXIT | ARGP_NO_ERRS, NULL, sel);
}

static void test_parse_long(void)
{
	long v;

	CHECK_INT(cli__parse_long("42", 1, 100, &v), 0);
	CHECK_INT(v, 42);
	CHECK_INT(cli__parse_long("0", 1, 100, &v), -EINVAL);
	CHECK_INT(cli__parse_long("101", 1, 100, &v), -EINVAL);
	CHECK_INT(cli__parse_long("4x", 1, 100, &v), -EINVAL);
	CHECK_INT(cli__parse_long("", 1, 100, &v), -EINVAL);
	CHECK_INT(cli__parse_long("99999999999999999999999", 1, 100, &v), -EINVAL);
}

static void test_selection(void)
{
	char *argv[] = {"t", "--pid", "12", "-p", "13", "--port", "8000", "--api",
			"gen=/v1/gen", "--route", "/model/{id}/mesh", "-v", NULL};
	struct selection sel;
	char out[64];

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

static void test_selection_errors(void)
{
	char *bad_pid[] = {"t", "--pid", "-3", NULL};
	char *bad_port[] = {"t", "--port", "65536", NULL};
	char *bad_api[] = {"t", "--api", "noequals", NULL};
	char *bad_route[] = {"t", "--route", "relative", NULL};
	struct selection sel;

	CHECK(parse(&sel, 3, bad_pid) != 0);
	selection__free(&sel);
	CHECK(parse(&sel, 3, bad_port) != 0);
	selection__free(&sel);
	CHECK(parse(&sel, 3, bad_api) != 0);
	selection__free(&sel);
	CHECK(parse(&sel, 3, bad_route) != 0);
	selection__free(&sel);
}

int main(void)
{
	RUN(test_parse_long);
	RUN(test_selection);
	RUN(test_selection_errors);
	return CHECK_DONE();
}
