/* discover.h: finding uvicorn server processes and their listening ports under /proc. */
#ifndef HTTPLAT_DISCOVER_H
#define HTTPLAT_DISCOVER_H

#include <stddef.h>
#include <sys/types.h>

#define DISCOVER_MAX_PORTS 64

/*
 * True when a command line (NUL-separated argv, as in /proc/PID/cmdline)
 * runs a uvicorn server: the uvicorn script, python -m uvicorn, or
 * gunicorn with uvicorn's worker class.
 */
int discover__cmdline_matches(const char *argv, size_t len);

/* True when a command name (comm, "python3.11") is one a uvicorn server runs under. */
int discover__server_comm(const char *comm);

/* Reads /proc/PID/cmdline under root ("/proc") and matches it. 1, 0, or -errno. */
int discover__pid_matches(const char *root, pid_t pid);

/* Parent pid from ROOT/PID/stat, or -errno. */
pid_t discover__ppid(const char *root, pid_t pid);

/* Calls fn for every numeric entry of root; stops early when fn returns non-zero. */
int discover__each_pid(const char *root, int (*fn)(void *ctx, pid_t pid), void *ctx);

/*
 * TCP ports pid listens on (IPv4 and IPv6): matches the socket inodes of
 * ROOT/PID/fd against the LISTEN rows of ROOT/PID/net/tcp{,6}. Returns
 * the count written to ports (at most max), or -errno.
 */
int discover__listen_ports(const char *root, pid_t pid, unsigned short *ports, int max);

/* Parses one /proc/net/tcp row: LISTEN rows give 1 with port and inode set, others 0. */
int discover__parse_tcp_row(const char *line, unsigned short *port, unsigned long *inode);

#endif
