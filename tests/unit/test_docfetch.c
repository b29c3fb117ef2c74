/* test_docfetch.c: the document fetcher against a scripted loopback server and a fake /proc. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "docfetch.h"

#define PID 4242

/* A one-connection-at-a-time HTTP server answering with `answer` (NULL: never answers). */
struct server {
	int fd;
	uint16_t port;
	const char *answer;
	int hang_ms;
	char request[2048];
	int requests;
	pthread_t thread;
	int stop;
};

static void *server__run(void *arg)
{
	struct server *s = arg;

	while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
		int c = accept(s->fd, NULL, NULL);
		size_t n = 0;
		ssize_t got;

		if (c < 0)
			continue;
		while (n < sizeof(s->request) - 1 &&
		       (got = recv(c, s->request + n, sizeof(s->request) - 1 - n, 0)) > 0) {
			n += (size_t)got;
			s->request[n] = '\0';
			if (strstr(s->request, "\r\n\r\n"))
				break;
		}
		__atomic_fetch_add(&s->requests, 1, __ATOMIC_SEQ_CST);
		if (s->answer)
			send(c, s->answer, strlen(s->answer), MSG_NOSIGNAL);
		else
			usleep((useconds_t)s->hang_ms * 1000);
		close(c);
	}
	return NULL;
}

static void server__start(struct server *s, const char *answer)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	struct timeval tv = {0, 100000};

	memset(s, 0, sizeof(*s));
	s->answer = answer;
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	bind(s->fd, (struct sockaddr *)&a, sizeof(a));
	listen(s->fd, 8);
	getsockname(s->fd, (struct sockaddr *)&a, &len);
	s->port = ntohs(a.sin_port);
	setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)); /* accept() wakes to stop */
	pthread_create(&s->thread, NULL, server__run, s);
}

static void server__stop(struct server *s)
{
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELAXED);
	pthread_join(s->thread, NULL);
	close(s->fd);
}

static char root[64];

/* ROOT/PID/net/tcp with one LISTEN row per address:port given ("0100007F:1F90"). */
static void fake_proc(const char *tcp, const char *tcp6)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%d/net", root, PID);
	mkdir(root, 0700);
	snprintf(path, sizeof(path), "%s/%d", root, PID);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/%d/net", root, PID);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/%d/net/tcp", root, PID);
	f = fopen(path, "w");
	fprintf(f,
		"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   "
		"uid  timeout inode\n%s",
		tcp);
	fclose(f);
	snprintf(path, sizeof(path), "%s/%d/net/tcp6", root, PID);
	f = fopen(path, "w");
	fprintf(f,
		"  sl  local_address                         remote_address                  "
		"      st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n%s",
		tcp6);
	fclose(f);
}

static void row(char *buf, size_t sz, const char *addr, uint16_t port, int st)
{
	snprintf(buf, sz,
		 "   0: %s:%04X 00000000:0000 %02X 00000000:00000000 00:00000000 00000000     0  "
		 "      0 12345 1 0000000000000000 100 0 0 10 0\n",
		 addr, port, st);
}

static void proc_for(uint16_t port)
{
	char r[256];

	row(r, sizeof(r), "0100007F", port, 0x0A);
	fake_proc(r, "");
}

static struct docfetch *fetcher(int timeout_ms, size_t max)
{
	struct docfetch_config c;

	docfetch_config__defaults(&c);
	snprintf(c.proc_root, sizeof(c.proc_root), "%s", root);
	if (timeout_ms)
		c.timeout_ms = timeout_ms;
	if (max)
		c.max_bytes = max;
	return docfetch__new(&c);
}

static int fetch(struct docfetch *f, uint16_t port, const char *path, struct docfetch_result *r)
{
	struct docfetch_job j = {.port = port, .pid = PID};

	snprintf(j.path, sizeof(j.path), "%s", path);
	if (docfetch__submit(f, &j))
		return -1;
	for (int i = 0; i < 100 && !docfetch__take(f, r); i++)
		docfetch__wait(f, 100);
	return 0;
}

static const char doc_answer[] =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 61\r\n"
    "Connection: close\r\n\r\n"
    "{\"openapi\":\"3.0.2\",\"paths\":{\"/a/{x}\":{\"get\":{}},\"/b\":{}}}    ";

static void test_defaults(void)
{
	struct docfetch_config c, d;

	docfetch_config__defaults(&c);
	docfetch_config__defaults(&d);
	CHECK_STR(c.proc_root, "/proc");
	CHECK(!strncmp(c.probe, "httplat-probe=", 14));
	CHECK_INT(strlen(c.probe), 14 + 16);
	CHECK(strcmp(c.probe, d.probe) != 0); /* a fresh nonce each time */
	CHECK_INT(c.timeout_ms, 3000);
}

static void test_listen_addr(void)
{
	char tcp[1024], tcp6[512], r[256], host[64];

	row(r, sizeof(r), "0500000A", 8000, 0x0A); /* 10.0.0.5 */
	snprintf(tcp, sizeof(tcp), "%s", r);
	row(r, sizeof(r), "00000000", 8001, 0x0A);
	strcat(tcp, r);
	row(r, sizeof(r), "0100007F", 8002, 0x01); /* ESTABLISHED: not a listener */
	strcat(tcp, r);
	row(r, sizeof(r), "0500000A", 8003, 0x0A);
	strcat(tcp, r);
	row(r, sizeof(r), "0100007F", 8003, 0x0A); /* loopback preferred */
	strcat(tcp, r);
	row(r, sizeof(r), "00000000000000000000000000000000", 8004, 0x0A);
	snprintf(tcp6, sizeof(tcp6), "%s", r);
	row(r, sizeof(r), "B80D0120000000000000000001000000", 8005, 0x0A); /* 2001:db8::1 */
	strcat(tcp6, r);
	fake_proc(tcp, tcp6);
	CHECK_INT(docfetch__listen_addr(root, PID, 8000, host, sizeof(host)), 0);
	CHECK_STR(host, "10.0.0.5");
	CHECK_INT(docfetch__listen_addr(root, PID, 8001, host, sizeof(host)), 0);
	CHECK_STR(host, "127.0.0.1");
	CHECK_INT(docfetch__listen_addr(root, PID, 8002, host, sizeof(host)), -ENOENT);
	CHECK_INT(docfetch__listen_addr(root, PID, 8003, host, sizeof(host)), 0);
	CHECK_STR(host, "127.0.0.1");
	CHECK_INT(docfetch__listen_addr(root, PID, 8004, host, sizeof(host)), 0);
	CHECK_STR(host, "[::1]");
	CHECK_INT(docfetch__listen_addr(root, PID, 8005, host, sizeof(host)), 0);
	CHECK_STR(host, "[2001:db8::1]");
	CHECK_INT(docfetch__listen_addr(root, PID + 1, 8000, host, sizeof(host)), -ENOENT);
}

static void test_document(void)
{
	struct server s;
	struct docfetch *f;
	struct docfetch_result r;

	server__start(&s, doc_answer);
	proc_for(s.port);
	f = fetcher(0, 0);
	CHECK(f != NULL);
	CHECK_INT(fetch(f, s.port, "/openapi.json", &r), 0);
	CHECK_INT(r.outcome, DOCFETCH_OK);
	if (r.outcome != DOCFETCH_OK)
		printf("  %s: %s\n", r.url, r.error);
	CHECK_INT(r.http_status, 200);
	CHECK(r.table != NULL);
	if (r.table) {
		CHECK_INT(r.table->n, 1);
		CHECK_STR(r.table->e[0].t.format, "/a/{x}");
	}
	route_table__free(r.table);
	/* the probe marks the request; the app's own query survives */
	CHECK(!strncmp(s.request, "GET /openapi.json?httplat-probe=", 32));
	CHECK(strstr(s.request, "Host: 127.0.0.1:") != NULL);
	CHECK_INT(fetch(f, s.port, "/api/doc.json?v=2", &r), 0);
	CHECK(!strncmp(s.request, "GET /api/doc.json?v=2&httplat-probe=", 36));
	route_table__free(r.table);
	CHECK_INT(docfetch__pending(f), 0);
	docfetch__free(f);
	server__stop(&s);
}

static void test_answers(void)
{
	static const struct {
		const char *answer;
		enum docfetch_outcome outcome;
		const char *error;
	} cases[] = {
	    {"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nNot Found", DOCFETCH_NOT_FOUND,
	     ""},
	    {"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://evil.example/x\r\n"
	     "Content-Length: 0\r\n\r\n",
	     DOCFETCH_FAILED, "HTTP 307: a redirect (not followed)"},
	    {"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", DOCFETCH_FAILED,
	     "HTTP 500"},
	    {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", DOCFETCH_FAILED, "not JSON"},
	    {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", DOCFETCH_FAILED,
	     "not an OpenAPI document"},
	    {"HTTP/1.1 200 OK\r\nContent-Length: 99999\r\n\r\n{", DOCFETCH_FAILED, "larger than"},
	    {"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"paths\":{}}"
	     "                                                                           ",
	     DOCFETCH_FAILED, "larger than"},
	    {"garbage\r\n\r\n", DOCFETCH_FAILED, ""},
	};
	struct docfetch *f = fetcher(0, 64);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct server s;
		struct docfetch_result r;

		server__start(&s, cases[i].answer);
		proc_for(s.port);
		CHECK_INT(fetch(f, s.port, "/openapi.json", &r), 0);
		if ((int)r.outcome != (int)cases[i].outcome || !strstr(r.error, cases[i].error)) {
			printf("  case %zu: outcome %d error '%s'\n", i, r.outcome, r.error);
			check__failed = 1;
		}
		CHECK(r.table == NULL);
		server__stop(&s);
	}
	docfetch__free(f);
}

static void test_unreachable_and_hanging(void)
{
	struct server s;
	struct docfetch *f = fetcher(300, 0);
	struct docfetch_result r;
	struct timespec a, b;
	uint16_t port;

	/* nothing listening any more on a port we had */
	server__start(&s, doc_answer);
	port = s.port;
	server__stop(&s);
	proc_for(port);
	CHECK_INT(fetch(f, port, "/openapi.json", &r), 0);
	CHECK_INT(r.outcome, DOCFETCH_FAILED);
	CHECK_INT(r.http_status, 0);
	CHECK(r.error[0] != '\0');
	/* a server that never answers is given up after the timeout */
	server__start(&s, NULL);
	s.hang_ms = 1500;
	proc_for(s.port);
	clock_gettime(CLOCK_MONOTONIC, &a);
	CHECK_INT(fetch(f, s.port, "/openapi.json", &r), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	CHECK_INT(r.outcome, DOCFETCH_FAILED);
	CHECK(strstr(r.error, "imeout") != NULL || strstr(r.error, "timed out") != NULL);
	CHECK((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < 1200);
	/* no listener row at all */
	fake_proc("", "");
	CHECK_INT(fetch(f, 9, "/openapi.json", &r), 0);
	CHECK(strstr(r.error, "nothing listens on port 9") != NULL);
	docfetch__free(f);
	server__stop(&s);
}

static void test_queue_bound_and_stop(void)
{
	struct server s;
	struct docfetch *f = fetcher(2000, 0);
	struct docfetch_job j = {.pid = PID};
	int busy = 0;

	server__start(&s, NULL);
	s.hang_ms = 300;
	proc_for(s.port);
	j.port = s.port;
	snprintf(j.path, sizeof(j.path), "/openapi.json");
	for (int i = 0; i < DOCFETCH_SLOTS + 3; i++)
		busy += docfetch__submit(f, &j) == -EBUSY;
	CHECK_INT(busy, 3);
	CHECK_INT(docfetch__pending(f), DOCFETCH_SLOTS);
	docfetch__free(f); /* abandons the running request and the queue */
	server__stop(&s);
	docfetch__free(NULL);
}

int main(void)
{
	snprintf(root, sizeof(root), "/tmp/httplat-docfetch-%d", (int)getpid());
	RUN(test_defaults);
	RUN(test_listen_addr);
	RUN(test_document);
	RUN(test_answers);
	RUN(test_unreachable_and_hanging);
	RUN(test_queue_bound_and_stop);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
		if (system(cmd))
			printf("  could not remove %s\n", root);
	}
	return CHECK_DONE();
}
