/* commands.h: the subcommands main() dispatches to, and the shared stop flag. */
#ifndef HTTPLAT_COMMANDS_H
#define HTTPLAT_COMMANDS_H

/* Each takes argv with argv[0] = "httplat <name>"; returns the exit status. */
int cmd_trace(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_alert(int argc, char **argv);
int cmd_bench_ingest(int argc, char **argv);

/* True once SIGINT/SIGTERM arrived; main() installs the handlers. */
int httplat_exiting(void);
/* Asks the running command to stop, as a signal would. */
void httplat_request_exit(void);

#endif
