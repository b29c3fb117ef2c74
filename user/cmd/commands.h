/* commands.h: the subcommands main() dispatches to. */
#ifndef HTTPLAT_COMMANDS_H
#define HTTPLAT_COMMANDS_H

/* Each takes argv with argv[0] = "httplat <name>"; returns the exit status. */
int cmd_trace(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_alert(int argc, char **argv);
int cmd_bench_ingest(int argc, char **argv);

#endif
