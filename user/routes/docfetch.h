/* docfetch.h: fetches traced servers' OpenAPI documents over loopback, on a thread of its own. */
#ifndef HTTPLAT_DOCFETCH_H
#define HTTPLAT_DOCFETCH_H

#include <stddef.h>
#include <stdint.h>

#include "openapi.h"

#define DOCFETCH_PATH_MAX 256
#define DOCFETCH_SLOTS 64 /* jobs queued, running or waiting to be taken */
#define DOCFETCH_PROBE_KEY "httplat-probe"

struct docfetch_config {
	char proc_root[64];	/* "/proc": where listen addresses and namespaces are read */
	char probe[40];		/* "httplat-probe=<16 hex>": the query marking our requests */
	int connect_timeout_ms; /* default 1000 */
	int timeout_ms;		/* whole request, default 3000 */
	size_t max_bytes;	/* largest document read, default 16 MiB */
};

struct docfetch_job {
	uint16_t port;
	int pid;		      /* a process serving the port: its netns and listen address */
	int tls_first;		      /* the port has carried TLS: try https first */
	char path[DOCFETCH_PATH_MAX]; /* "/openapi.json" */
};

enum docfetch_outcome {
	DOCFETCH_OK,	    /* table set */
	DOCFETCH_NOT_FOUND, /* the app answered 404: it serves no document there */
	DOCFETCH_FAILED,    /* no answer, another status, a redirect, not a document */
};

struct docfetch_result {
	struct docfetch_job job;
	enum docfetch_outcome outcome;
	struct route_table *table; /* OK: owned by whoever takes the result */
	long http_status;	   /* 0: no HTTP answer */
	char url[DOCFETCH_PATH_MAX + 96];
	char error[256];
	double ms;
};

struct docfetch;

/* Defaults above, a random probe nonce. */
void docfetch_config__defaults(struct docfetch_config *c);
/* Starts the thread. NULL and errno on failure. */
struct docfetch *docfetch__new(const struct docfetch_config *c);
/* Queues a job without blocking. 0, or -EBUSY when DOCFETCH_SLOTS are in use. */
int docfetch__submit(struct docfetch *f, const struct docfetch_job *job);
/* Moves one finished result into out without blocking: 1, or 0 when none is ready. */
int docfetch__take(struct docfetch *f, struct docfetch_result *out);
/* Jobs submitted and not yet taken. */
int docfetch__pending(struct docfetch *f);
/* Waits up to timeout_ms for one result to be ready (startup only). 1 ready, 0 not. */
int docfetch__wait(struct docfetch *f, int timeout_ms);
/* Stops the thread (a running request is abandoned) and frees everything. NULL-safe. */
void docfetch__free(struct docfetch *f);

/*
 * The address to ask for port, from PROC_ROOT/PID/net/tcp{,6} LISTEN rows:
 * 127.0.0.1 for 0.0.0.0 or 127.0.0.1, [::1] for :: or ::1, else the
 * address itself (IPv6 in brackets). 0, or -ENOENT when nothing listens there.
 */
int docfetch__listen_addr(const char *proc_root, int pid, uint16_t port, char *host, size_t hostsz);

#endif
