/*
 * echo_pair.c: an untraced TCP client/server pair on loopback for `make bench`: the client sends
 * ROUND_TRIPS small messages, the server (a forked process) echoes each one back. Prints one JSON
 * line: socket operations done by both (every send and recv call), their CPU time (from rusage:
 * time spent waiting for a CPU does not count) and the wall time.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_MSG 4096

static long long tv_ns(struct timeval tv)
{
	return tv.tv_sec * 1000000000LL + tv.tv_usec * 1000LL;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Sends or receives exactly n bytes; returns the number of calls, -1 on error or EOF. */
static long xfer(int fd, char *buf, size_t n, int send_side)
{
	long calls = 0;

	for (size_t done = 0; done < n; calls++) {
		ssize_t r = send_side ? send(fd, buf + done, n - done, 0)
				      : recv(fd, buf + done, n - done, 0);
		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return calls;
}

/* The server: echoes messages of size bytes until EOF; writes its call count to out. */
static int serve(int lfd, size_t size, int out)
{
	char buf[MAX_MSG];
	long long calls = 0;
	int fd = accept(lfd, NULL, NULL);
	long c;

	if (fd < 0)
		return 1;
	for (;;) {
		c = xfer(fd, buf, size, 0);
		if (c < 0)
			break;
		calls += c + 1; /* the recv calls, and one send */
		if (xfer(fd, buf, size, 1) != 1)
			return 1;
	}
	calls++; /* the recv that saw EOF */
	return write(out, &calls, sizeof(calls)) == sizeof(calls) ? 0 : 1;
}

int main(int argc, char **argv)
{
	long long n = argc > 1 ? atoll(argv[1]) : 0, server_calls = 0, calls = 0, t0, wall;
	size_t size = argc > 2 ? (size_t)atol(argv[2]) : 64;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	char buf[MAX_MSG] = {0};
	struct rusage self, child;
	int lfd, fd, p[2], one = 1, status;
	pid_t pid;

	if (n <= 0 || size == 0 || size > MAX_MSG) {
		fprintf(stderr, "usage: %s ROUND_TRIPS [BYTES <= %d]\n", argv[0], MAX_MSG);
		return 2;
	}
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) || pipe(p)) {
		perror("echo_pair: setup");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("echo_pair: fork");
		return 1;
	}
	if (pid == 0)
		_exit(serve(lfd, size, p[1]));
	close(lfd);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		perror("echo_pair: connect");
		return 1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	t0 = now_ns();
	for (long long i = 0; i < n; i++) {
		long s = xfer(fd, buf, size, 1), r = s < 0 ? -1 : xfer(fd, buf, size, 0);

		if (r < 0) {
			fprintf(stderr, "echo_pair: the server went away\n");
			return 1;
		}
		calls += s + r;
	}
	close(fd);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) ||
	    read(p[0], &server_calls, sizeof(server_calls)) != sizeof(server_calls)) {
		fprintf(stderr, "echo_pair: the server failed\n");
		return 1;
	}
	wall = now_ns() - t0;
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &child);
	printf("{\"round_trips\": %lld, \"ops\": %lld, \"cpu_ns\": %lld, \"wall_ns\": %lld}\n", n,
	       calls + server_calls,
	       tv_ns(self.ru_utime) + tv_ns(self.ru_stime) + tv_ns(child.ru_utime) +
		   tv_ns(child.ru_stime),
	       wall);
	return 0;
}
