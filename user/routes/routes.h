/* routes.h: the route of every record: the app's own templates when known, else bounded guesses. */
#ifndef HTTPLAT_ROUTES_H
#define HTTPLAT_ROUTES_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "docfetch.h"
#include "record.h"
#include "routeguard.h"

#define ROUTES_UNMATCHED "unmatched" /* the app routed nothing there (404) */
#define ROUTES_DEFAULT_PATH "/openapi.json"
#define ROUTES_PORT_OPTS 16
#define ROUTES_MAX_PORTS 256
#define ROUTES_MAX_PATTERNS 64
#define ROUTES_OPT_MAX 512

/* "[PORT=]VALUE": for one port, or every port (port 0). */
struct routes_port_opt {
	uint16_t port;
	char value[ROUTES_OPT_MAX];
};

struct routes_config {
	struct routes_port_opt
	    openapi[ROUTES_PORT_OPTS]; /* --openapi-path; "none" = do not fetch */
	int nopenapi;
	struct routes_port_opt file[ROUTES_PORT_OPTS]; /* --routes FILE */
	int nfile;
	char pattern[ROUTES_MAX_PATTERNS][RECORD_PATH_MAX + 1]; /* --route: tried first */
	int npattern;
	uint16_t only_ports[ROUTES_MAX_PORTS]; /* --port: documents of these ports only */
	int nonly_ports;
	struct routeguard_config guard;
	int settle_ms;	     /* after a fork or exec, wait this long before fetching again */
	int startup_wait_ms; /* routes__settle's default budget */
	struct docfetch_config fetch;
	int verbose;
};

struct routes_stats {
	uint64_t probes;    /* httplat's own document requests, dropped */
	uint64_t templated; /* records named by the app's templates */
	uint64_t unmatched; /* 404s the app did not route */
	uint64_t guessed;   /* named from the path (no template matched) */
	uint64_t learned;   /* {name:path} parameters found from traffic */
	uint64_t fetches, fetch_failures;
	int documents; /* ports with a document now */
	struct routeguard_stats guard;
};

struct routes;
struct classifier;

void routes_config__defaults(struct routes_config *c);
/* Adds "[PORT=]PATH" to --openapi-path ("none" too). 0, or -EINVAL / -ENOSPC with err. */
int routes_config__add_openapi(struct routes_config *c, const char *spec, char *err, size_t errsz);
/* Adds "[PORT=]FILE" to --routes. 0, or -EINVAL / -ENOSPC with err. */
int routes_config__add_file(struct routes_config *c, const char *spec, char *err, size_t errsz);

/*
 * Reads every --routes file (a file that is not an OpenAPI document is an
 * error naming it), compiles --route patterns, and starts the fetching
 * thread unless no port may fetch. cl gives today's id heuristics (may be
 * NULL). NULL with err on failure.
 */
struct routes *routes__new(const struct routes_config *c, const struct classifier *cl, char *err,
			   size_t errsz);
void routes__free(struct routes *rt);

/*
 * Sets r->route from r->path, method, status, lport, api. Returns 1 when r is
 * httplat's own document request (to be dropped, and counted), else 0. Every
 * function here takes a NULL rt (and then does nothing).
 */
int routes__classify(struct routes *rt, struct record *r, int64_t now_ms);
/* pid serves port (found at start, or from a listen): fetch its document if not known yet. */
void routes__port(struct routes *rt, uint16_t port, int pid, int64_t now_ms);
/*
 * A traced process started, forked (a worker restarted) or exec'd: the documents of the
 * ports it listens on are read again after delay_ms (< 0: the configured settle time).
 */
void routes__proc_event(struct routes *rt, int pid, int64_t now_ms, int delay_ms);
/* Takes finished fetches and starts due ones; never blocks. From the tracing loop. */
void routes__poll(struct routes *rt, int64_t now_ms);
/* Waits up to timeout_ms (< 0: the configured startup budget) for fetches under way. */
void routes__settle(struct routes *rt, int timeout_ms, int64_t now_ms);
/* Uses json as port's document, as a fetch would (tests, files). 0 or -EINVAL with err. */
int routes__set_document(struct routes *rt, uint16_t port, const char *json, size_t len, char *err,
			 size_t errsz);
void routes__stats(const struct routes *rt, struct routes_stats *out);
/* For the exit summary: ", 2 document requests (httplat's own) not recorded, ..." or "". */
void routes__summary(const struct routes *rt, char *out, size_t outsz);

#endif
