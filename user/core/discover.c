/* discover.c: reads /proc to find uvicorn servers (command lines, parents, listening sockets). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "discover.h"
#include "httplat.h"

/*
 * Command names (comm) a uvicorn server runs under, in user space: a traced process that
 * execs into something else is let go. bpf/'s candidate_comm() holds the same list.
 */
#define COMM_NAME(n) #n,
static const char *const server_comms[] = {HTTPLAT_SERVER_COMMS(COMM_NAME)};
#undef COMM_NAME

int discover__server_comm(const char *comm)
{
	for (size_t i = 0; i < sizeof(server_comms) / sizeof(server_comms[0]); i++)
		if (!strncmp(comm, server_comms[i], strlen(server_comms[i])))
			return 1;
	return 0;
}

static const char *base_name(const char *s)
{
	const char *slash = strrchr(s, '/');

	return slash ? slash + 1 : s;
}

static int is_python(const char *arg)
{
	return strncmp(base_name(arg), "python", 6) == 0;
}

/* Index of the program argv runs: the script or -m module after a python interpreter. */
static int program_index(const char *const *args, int n, int *is_module)
{
	*is_module = 0;
	if (!is_python(args[0]))
		return 0;
	for (int i = 1; i < n; i++) {
		if (!strcmp(args[i], "-m")) {
			*is_module = 1;
			return i + 1 < n ? i + 1 : -1;
		}
		if (args[i][0] != '-')
			return i; /* the script */
		if (!strcmp(args[i], "-X") || !strcmp(args[i], "-W"))
			i++; /* options with a separate value */
	}
	return -1;
}

int discover__cmdline_matches(const char *argv, size_t len)
{
	const char *args[64];
	const char *prog;
	int n = 0, p, is_module;

	for (size_t off = 0; off < len && n < 64; off += strnlen(argv + off, len - off) + 1)
		args[n++] = argv + off;
	if (!n)
		return 0;
	p = program_index(args, n, &is_module);
	if (p < 0)
		return 0;
	prog = is_module ? args[p] : base_name(args[p]);
	if (!strcmp(prog, "uvicorn"))
		return 1;
	if (strcmp(prog, "gunicorn"))
		return 0;
	/* gunicorn serves uvicorn only with uvicorn's worker class */
	for (int i = p + 1; i < n; i++)
		if (strstr(args[i], "uvicorn.workers.Uvicorn"))
			return 1;
	return 0;
}

static ssize_t read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, got = 0;

	if (fd < 0)
		return -errno;
	while ((size_t)got < size - 1) {
		n = read(fd, buf + got, size - 1 - (size_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	buf[got] = '\0';
	return got;
}

int discover__pid_matches(const char *root, pid_t pid)
{
	char path[256], buf[4096];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%d/cmdline", root, (int)pid);
	n = read_file(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	return discover__cmdline_matches(buf, (size_t)n);
}

pid_t discover__ppid(const char *root, pid_t pid)
{
	char path[256], buf[1024], *p;
	int ppid;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%d/stat", root, (int)pid);
	n = read_file(path, buf, sizeof(buf));
	if (n < 0)
		return (pid_t)n;
	/* "pid (comm) S ppid ...": comm may hold spaces and parens, so find the last ')' */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return -EINVAL;
	return ppid;
}

int discover__each_pid(const char *root, int (*fn)(void *ctx, pid_t pid), void *ctx)
{
	DIR *d = opendir(root);
	struct dirent *de;
	int ret = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0)
			continue;
		ret = fn(ctx, (pid_t)pid);
		if (ret)
			break;
	}
	closedir(d);
	return ret;
}

int discover__parse_tcp_row(const char *line, unsigned short *port, unsigned long *inode)
{
	char local[64], remote[64];
	unsigned int st;
	unsigned long ino;
	const char *colon;

	/* "  0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0 0 12345 ..." */
	if (sscanf(line, " %*d: %63s %63s %x %*s %*s %*s %*u %*u %lu", local, remote, &st, &ino) !=
	    4)
		return 0;
	if (st != 0x0A)
		return 0;
	colon = strrchr(local, ':');
	if (!colon)
		return 0;
	*port = (unsigned short)strtoul(colon + 1, NULL, 16);
	*inode = ino;
	return 1;
}

/* LISTEN socket inodes -> ports, from one net/tcp file; appends to the arrays. */
static int read_listen_table(const char *path, unsigned long *inodes, unsigned short *ports,
			     int n, int max)
{
	FILE *f = fopen(path, "re");
	char line[512];

	if (!f)
		return n;
	while (n < max && fgets(line, sizeof(line), f)) {
		if (discover__parse_tcp_row(line, &ports[n], &inodes[n]))
			n++;
	}
	fclose(f);
	return n;
}

int discover__listen_ports(const char *root, pid_t pid, unsigned short *ports, int max)
{
	enum { MAXL = 1024 };
	unsigned long inodes[MAXL];
	unsigned short lports[MAXL];
	char path[256], link[64];
	struct dirent *de;
	int nl = 0, n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%d/net/tcp", root, (int)pid);
	nl = read_listen_table(path, inodes, lports, nl, MAXL);
	snprintf(path, sizeof(path), "%s/%d/net/tcp6", root, (int)pid);
	nl = read_listen_table(path, inodes, lports, nl, MAXL);
	if (!nl)
		return 0;
	snprintf(path, sizeof(path), "%s/%d/fd", root, (int)pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while (n < max && (de = readdir(d))) {
		char fdpath[512];
		unsigned long ino;
		ssize_t len;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, de->d_name);
		len = readlink(fdpath, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		if (sscanf(link, "socket:[%lu]", &ino) != 1)
			continue;
		for (int i = 0; i < nl; i++) {
			int dup = 0;

			if (inodes[i] != ino)
				continue;
			for (int j = 0; j < n; j++)
				dup |= ports[j] == lports[i];
			if (!dup)
				ports[n++] = lports[i];
		}
	}
	closedir(d);
	return n;
}
