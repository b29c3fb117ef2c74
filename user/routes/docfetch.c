/* docfetch.c: one thread, libcurl easy requests to loopback, in the server's network namespace. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "docfetch.h"

enum slot_state { SLOT_FREE, SLOT_QUEUED, SLOT_RUNNING, SLOT_DONE };

struct slot {
	enum slot_state state;
	uint64_t seq; /* submission order */
	struct docfetch_result res;
};

struct docfetch {
	struct docfetch_config c;
	pthread_t thread;
	int started;
	pthread_mutex_t lock;
	pthread_cond_t wake; /* a job was queued, or stop */
	pthread_cond_t done; /* a result is ready */
	int stop;
	int stuck; /* the thread is in another network namespace: no more fetches */
	uint64_t seq;
	struct slot slot[DOCFETCH_SLOTS];
};

void docfetch_config__defaults(struct docfetch_config *c)
{
	uint64_t nonce = 0;

	memset(c, 0, sizeof(*c));
	snprintf(c->proc_root, sizeof(c->proc_root), "/proc");
	if (getrandom(&nonce, sizeof(nonce), GRND_NONBLOCK) != sizeof(nonce))
		nonce = (uint64_t)time(NULL) << 20 ^ (uint64_t)getpid();
	snprintf(c->probe, sizeof(c->probe), "%s=%016llx", DOCFETCH_PROBE_KEY,
		 (unsigned long long)nonce);
	c->connect_timeout_ms = 1000;
	c->timeout_ms = 3000;
	c->max_bytes = 16u << 20;
}

/* ---- where to connect ---- */

/* One LISTEN row of /proc/net/tcp{,6}: its local address (network order) and port. */
static int parse_listen_row(const char *line, int v6, unsigned char addr[16], unsigned *port)
{
	char local[80];
	unsigned st;
	const char *colon;

	if (sscanf(line, " %*d: %79s %*s %x", local, &st) != 2 || st != 0x0A)
		return 0;
	colon = strrchr(local, ':');
	if (!colon || (size_t)(colon - local) != (v6 ? 32u : 8u))
		return 0;
	*port = (unsigned)strtoul(colon + 1, NULL, 16);
	/* the kernel prints each 32-bit word of the address as a host-order number */
	for (int w = 0; w < (v6 ? 4 : 1); w++) {
		char word[9];
		uint32_t v;

		memcpy(word, local + 8 * w, 8);
		word[8] = '\0';
		v = (uint32_t)strtoul(word, NULL, 16);
		memcpy(addr + 4 * w, &v, 4);
	}
	return 1;
}

/* Lower is better: loopback, any, then a specific address. */
static int addr_rank(const unsigned char *a, int v6, char *host, size_t sz)
{
	static const unsigned char any6[16], lo6[16] = {[15] = 1};
	char buf[INET6_ADDRSTRLEN];

	if (!v6 && a[0] == 127) {
		snprintf(host, sz, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
		return 0;
	}
	if (!v6 && !memcmp(a, any6, 4)) {
		snprintf(host, sz, "127.0.0.1");
		return 1;
	}
	if (v6 && (!memcmp(a, lo6, 16) || !memcmp(a, any6, 16))) {
		snprintf(host, sz, "[::1]");
		return 2;
	}
	if (!inet_ntop(v6 ? AF_INET6 : AF_INET, a, buf, sizeof(buf)))
		return 9;
	if (v6 && a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return 9; /* link-local needs a scope id */
	snprintf(host, sz, v6 ? "[%s]" : "%s", buf);
	return v6 ? 4 : 3;
}

int docfetch__listen_addr(const char *proc_root, int pid, uint16_t port, char *host, size_t hostsz)
{
	int best = 9;

	for (int v6 = 0; v6 < 2; v6++) {
		char path[128], line[512], cand[INET6_ADDRSTRLEN + 2];
		FILE *f;

		/* pid 0: a port nobody was seen on yet, in our own namespace */
		if (pid > 0)
			snprintf(path, sizeof(path), "%s/%d/net/%s", proc_root, pid,
				 v6 ? "tcp6" : "tcp");
		else
			snprintf(path, sizeof(path), "%s/self/net/%s", proc_root,
				 v6 ? "tcp6" : "tcp");
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			unsigned char a[16];
			unsigned p;
			int rank;

			if (!parse_listen_row(line, v6, a, &p) || p != port)
				continue;
			rank = addr_rank(a, v6, cand, sizeof(cand));
			if (rank < best) {
				best = rank;
				snprintf(host, hostsz, "%s", cand);
			}
		}
		fclose(f);
	}
	return best < 9 ? 0 : -ENOENT;
}

/* ---- the request ---- */

/* The server's network namespace, when it is not ours: sockets are made there. */
struct netns {
	int self, target; /* -1: same namespace; -2: another one we cannot enter */
	int stuck;	  /* could not come back: the thread must not fetch any more */
};

static void netns__open(struct netns *ns, const char *proc_root, int pid)
{
	char path[128];
	struct stat a, b;

	ns->self = ns->target = -1;
	ns->stuck = 0;
	if (pid <= 0)
		return;
	snprintf(path, sizeof(path), "%s/%d/ns/net", proc_root, pid);
	if (stat(path, &a) || stat("/proc/thread-self/ns/net", &b) ||
	    (a.st_ino == b.st_ino && a.st_dev == b.st_dev))
		return;
	ns->target = open(path, O_RDONLY | O_CLOEXEC);
	ns->self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (ns->target < 0 || ns->self < 0) {
		if (ns->target >= 0)
			close(ns->target);
		if (ns->self >= 0)
			close(ns->self);
		ns->self = ns->target = -2; /* another namespace we cannot enter */
	}
}

static void netns__close(struct netns *ns)
{
	if (ns->target >= 0)
		close(ns->target);
	if (ns->self >= 0)
		close(ns->self);
}

/* A socket belongs to the namespace it was created in: enter, create, come back. */
static curl_socket_t netns__socket(void *ctx, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct netns *ns = ctx;
	int fd;

	(void)purpose;
	if (ns->target == -2)
		return CURL_SOCKET_BAD;
	if (ns->target >= 0 && setns(ns->target, CLONE_NEWNET))
		return CURL_SOCKET_BAD;
	fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
	if (ns->target >= 0 && setns(ns->self, CLONE_NEWNET)) {
		/* should not happen with the fd we opened; never go on from the app's namespace */
		ns->stuck = 1;
		if (fd >= 0)
			close(fd);
		return CURL_SOCKET_BAD;
	}
	return fd < 0 ? CURL_SOCKET_BAD : fd;
}

struct body {
	char *p;
	size_t n, max;
	int too_big;
};

static size_t body__write(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct body *b = ctx;
	size_t n = size * nmemb;
	char *np;

	if (b->n + n > b->max) {
		b->too_big = 1;
		return 0;
	}
	np = realloc(b->p, b->n + n + 1);
	if (!np)
		return 0;
	b->p = np;
	memcpy(b->p + b->n, data, n);
	b->n += n;
	b->p[b->n] = '\0';
	return n;
}

static int fetch__progress(void *ctx, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct docfetch *f = ctx;

	(void)a, (void)b, (void)c, (void)d;
	return __atomic_load_n(&f->stop, __ATOMIC_RELAXED); /* non-zero aborts */
}

/* One GET; fills status/body, or returns the curl error. */
static CURLcode fetch__get(struct docfetch *f, const char *url, struct netns *ns, struct body *b,
			   long *status, char *errbuf)
{
	struct curl_slist *hdrs = curl_slist_append(NULL, "Accept: application/json");
	CURL *h = curl_easy_init();
	CURLcode rc;

	*status = 0;
	if (!h || !hdrs) {
		curl_slist_free_all(hdrs);
		curl_easy_cleanup(h);
		return CURLE_OUT_OF_MEMORY;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)f->c.connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)f->c.timeout_ms);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)f->c.max_bytes);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	/* our own loopback server, usually a self-signed certificate: nothing to verify */
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "httplat");
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body__write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, fetch__progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, f);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, netns__socket);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, ns);
	errbuf[0] = '\0';
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return rc;
}

/* Errors that say the server speaks the other protocol (TLS vs plaintext). */
static int wrong_protocol(CURLcode rc)
{
	return rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR || rc == CURLE_SSL_CONNECT_ERROR ||
	       rc == CURLE_WEIRD_SERVER_REPLY || rc == CURLE_UNSUPPORTED_PROTOCOL;
}

static void fetch__one(struct docfetch *f, const struct docfetch_job *j, struct docfetch_result *r)
{
	const char *schemes[2] = {"http", "https"};
	char host[INET6_ADDRSTRLEN + 2], errbuf[CURL_ERROR_SIZE], perr[160];
	struct body b = {.max = f->c.max_bytes};
	struct netns ns;
	int64_t t0 = clock__mono_ns();
	CURLcode rc = CURLE_OK;

	memset(r, 0, sizeof(*r));
	r->job = *j;
	r->outcome = DOCFETCH_FAILED;
	if (f->stuck) {
		snprintf(r->error, sizeof(r->error),
			 "fetching stopped: could not return from a server's network namespace");
		return;
	}
	if (docfetch__listen_addr(f->c.proc_root, j->pid, j->port, host, sizeof(host))) {
		snprintf(r->error, sizeof(r->error), "nothing listens on port %u (pid %d)", j->port,
			 j->pid);
		return;
	}
	if (j->tls_first) {
		schemes[0] = "https";
		schemes[1] = "http";
	}
	netns__open(&ns, f->c.proc_root, j->pid);
	for (int i = 0; i < 2; i++) {
		snprintf(r->url, sizeof(r->url), "%s://%s:%u%s%c%s", schemes[i], host, j->port,
			 j->path, strchr(j->path, '?') ? '&' : '?', f->c.probe);
		b.n = 0;
		b.too_big = 0;
		rc = fetch__get(f, r->url, &ns, &b, &r->http_status, errbuf);
		if (!(rc != CURLE_OK && wrong_protocol(rc)))
			break;
	}
	netns__close(&ns);
	f->stuck |= ns.stuck;
	r->ms = (double)(clock__mono_ns() - t0) / 1e6;
	if (b.too_big || rc == CURLE_FILESIZE_EXCEEDED)
		snprintf(r->error, sizeof(r->error), "document larger than %zu bytes",
			 f->c.max_bytes);
	else if (ns.target == -2)
		snprintf(r->error, sizeof(r->error), "cannot enter the network namespace of pid %d",
			 j->pid);
	else if (rc != CURLE_OK)
		snprintf(r->error, sizeof(r->error), "%s",
			 errbuf[0] ? errbuf : curl_easy_strerror(rc));
	else if (r->http_status == 404)
		r->outcome = DOCFETCH_NOT_FOUND;
	else if (r->http_status >= 300 && r->http_status < 400)
		snprintf(r->error, sizeof(r->error), "HTTP %ld: a redirect (not followed)",
			 r->http_status);
	else if (r->http_status != 200)
		snprintf(r->error, sizeof(r->error), "HTTP %ld", r->http_status);
	else if (route_table__parse(b.p ? b.p : "", b.n, &r->table, perr, sizeof(perr)))
		snprintf(r->error, sizeof(r->error), "%s", perr);
	else
		r->outcome = DOCFETCH_OK;
	free(b.p);
}

static struct slot *slots__oldest(struct docfetch *f, enum slot_state st)
{
	struct slot *best = NULL;

	for (int i = 0; i < DOCFETCH_SLOTS; i++)
		if (f->slot[i].state == st && (!best || f->slot[i].seq < best->seq))
			best = &f->slot[i];
	return best;
}

static void *fetch__thread(void *arg)
{
	struct docfetch *f = arg;

	pthread_mutex_lock(&f->lock);
	for (;;) {
		struct slot *s = slots__oldest(f, SLOT_QUEUED);
		struct docfetch_job job;
		struct docfetch_result res;

		if (f->stop)
			break;
		if (!s) {
			pthread_cond_wait(&f->wake, &f->lock);
			continue;
		}
		s->state = SLOT_RUNNING;
		job = s->res.job;
		pthread_mutex_unlock(&f->lock);
		fetch__one(f, &job, &res);
		pthread_mutex_lock(&f->lock);
		s->res = res;
		s->state = SLOT_DONE;
		pthread_cond_broadcast(&f->done);
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

struct docfetch *docfetch__new(const struct docfetch_config *c)
{
	struct docfetch *f;
	int ret;

	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		errno = ENOMEM;
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		curl_global_cleanup();
		return NULL;
	}
	f->c = *c;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->wake, NULL); /* untimed */
	clock__cond_init(&f->done);	   /* timed waits on the monotonic clock */
	ret = pthread_create(&f->thread, NULL, fetch__thread, f);
	if (ret) {
		docfetch__free(f);
		errno = ret;
		return NULL;
	}
	f->started = 1;
	return f;
}

int docfetch__submit(struct docfetch *f, const struct docfetch_job *job)
{
	struct slot *s = NULL;

	pthread_mutex_lock(&f->lock);
	for (int i = 0; i < DOCFETCH_SLOTS && !s; i++)
		if (f->slot[i].state == SLOT_FREE)
			s = &f->slot[i];
	if (s) {
		memset(&s->res, 0, sizeof(s->res));
		s->res.job = *job;
		s->seq = ++f->seq;
		s->state = SLOT_QUEUED;
		pthread_cond_signal(&f->wake);
	}
	pthread_mutex_unlock(&f->lock);
	return s ? 0 : -EBUSY;
}

int docfetch__take(struct docfetch *f, struct docfetch_result *out)
{
	struct slot *s;

	/* the ring-buffer loop calls this often: never wait for the fetching thread */
	if (pthread_mutex_trylock(&f->lock))
		return 0;
	s = slots__oldest(f, SLOT_DONE);
	if (s) {
		*out = s->res;
		s->res.table = NULL;
		s->state = SLOT_FREE;
	}
	pthread_mutex_unlock(&f->lock);
	return s != NULL;
}

int docfetch__pending(struct docfetch *f)
{
	int n = 0;

	pthread_mutex_lock(&f->lock);
	for (int i = 0; i < DOCFETCH_SLOTS; i++)
		n += f->slot[i].state != SLOT_FREE;
	pthread_mutex_unlock(&f->lock);
	return n;
}

int docfetch__wait(struct docfetch *f, int timeout_ms)
{
	struct timespec until = clock__deadline(CLOCK_MONOTONIC, timeout_ms);
	int ready;

	pthread_mutex_lock(&f->lock);
	while (!(ready = slots__oldest(f, SLOT_DONE) != NULL))
		if (clock__cond_wait_until(&f->done, &f->lock, &until))
			break;
	pthread_mutex_unlock(&f->lock);
	return ready;
}

void docfetch__free(struct docfetch *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	__atomic_store_n(&f->stop, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&f->wake);
	pthread_mutex_unlock(&f->lock);
	if (f->started)
		pthread_join(f->thread, NULL);
	for (int i = 0; i < DOCFETCH_SLOTS; i++)
		route_table__free(f->slot[i].res.table);
	pthread_cond_destroy(&f->wake);
	pthread_cond_destroy(&f->done);
	pthread_mutex_destroy(&f->lock);
	free(f);
	curl_global_cleanup();
}
