/* main.c: httplat entry point; dispatches to subcommands and owns the stop flag (runner.h). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "runner.h"

static volatile sig_atomic_t exiting;

int httplat_exiting(void)
{
	return exiting;
}

static void on_signal(int sig)
{
	(void)sig;
	exiting = 1;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} commands[] = {
	{"trace", cmd_trace, "print one line (or JSON object) per completed request"},
	{"run", cmd_run, "daemon: write every request to PostgreSQL (batched COPY, spool)"},
	{"top", cmd_top, "live latency per API and route in the console (or --batch text)"},
	{"alert", cmd_alert, "check Slack alerting: 'alert test' posts a test message"},
	{"bench-ingest", cmd_bench_ingest, "push N synthetic requests through the PostgreSQL writer"},
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: httplat COMMAND [OPTION...]\n"
		   "Measures the latency of every HTTP request served by uvicorn, from the kernel.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\n'httplat COMMAND --help' describes each command's options.\n");
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal};
	char name[64];

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name))
			continue;
		snprintf(name, sizeof(name), "httplat %s", commands[i].name);
		argv[1] = name;
		return commands[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "httplat: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
