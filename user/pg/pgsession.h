/* pgsession.h: one libpq connection: connect and back off, classify errors, run SQL, COPY. */
#ifndef HTTPLAT_PGSESSION_H
#define HTTPLAT_PGSESSION_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "pgapi.h"

/* What a failed statement means for the batch. */
enum pgerr_kind {
	PGERR_CONN,  /* connection lost or server going away: reconnect, retry the batch */
	PGERR_DATA,  /* a row is bad (class 22/23): split the batch to isolate it */
	PGERR_RETRY, /* anything else (resources, a missing table): back off, retry */
	PGERR_FATAL, /* permission denied (42501): no retry can fix it */
};

/* Outcome of one statement or transaction. */
enum pgres {
	PGR_OK,
	PGR_DUP,   /* the batch id was already committed: skip, do not write twice */
	PGR_CONN,  /* PGERR_CONN */
	PGR_DATA,  /* PGERR_DATA */
	PGR_RETRY, /* PGERR_RETRY */
	PGR_FATAL, /* PGERR_FATAL, or the schema cannot be set up: stop, the spool kept */
};

/*
 * The writer thread owns the session; the fields under mu are shared with
 * the watchdog (the spooler thread) and with readers of the counters.
 */
struct pgsess {
	const struct pgapi *pq;
	PGconn *conn; /* NULL when disconnected */
	const char *conninfo; /* NULL or "" = libpq's PG* variables and ~/.pgpass */
	char state[6];	      /* SQLSTATE of the last error, "" when none came from the server */
	char msg[256];	      /* its message, one line */
	char hint[256];	      /* the server's hint, "" none */
	int attempt;	      /* failures in a row: the backoff step */
	int64_t next_connect_ms;
	uint64_t rnd;
	char logged[256]; /* the error last logged, and when: a repeat is logged every 30 s */
	int64_t logged_at_ms;
	int announced; /* "connected" logged since the last logged failure */

	pthread_mutex_t mu;
	int sock; /* the connection's socket, -1 none: the watchdog may shut it down */
	int sock_shut;
	int64_t busy_since_ms; /* a call on the database under way since (monotonic); 0 idle */
	int connected;
	uint64_t reconnects;
	char last_error[256];
};

/* A piece of COPY data. */
struct pgchunk {
	const char *data;
	size_t len;
};

/* conninfo must outlive the session; seed makes the backoff jitter. */
void pgsess__init(struct pgsess *s, const struct pgapi *pq, const char *conninfo, uint64_t seed);
void pgsess__destroy(struct pgsess *s); /* closes the connection */

/* Connects (connect_timeout 5 s unless conninfo says otherwise), UTF-8. PGR_OK or PGR_CONN. */
enum pgres pgsess__open(struct pgsess *s);
/* After the caller's set-up on a fresh connection: counted and logged as connected. */
void pgsess__ready(struct pgsess *s);
void pgsess__close(struct pgsess *s);
/* The connection failed: log (rate-limited), close, and wait before the next attempt. */
void pgsess__fail(struct pgsess *s, const char *what);
/* A write went through: the next failure backs off from the start again. */
void pgsess__healthy(struct pgsess *s);
/* Not connected and the backoff delay has passed. */
int pgsess__may_connect(const struct pgsess *s, int64_t now_ms);

/* Runs a statement; PGR_OK or an error kind (the error is in state and msg). */
enum pgres pgsess__exec(struct pgsess *s, const char *sql, int nparams,
			const char *const *params);
/* As pgsess__exec for a statement returning a value: the first row's first column into out. */
enum pgres pgsess__value(struct pgsess *s, const char *sql, int nparams,
			 const char *const *params, char *out, size_t outsz);
/* COPY ... FROM STDIN with the chunks as data. */
enum pgres pgsess__copy(struct pgsess *s, const char *sql, const struct pgchunk *chunks, int n);
/* ROLLBACK when the connection still works (ends a failed transaction). */
void pgsess__rollback(struct pgsess *s);
/* Records an error (state may be NULL) in state/msg and last_error. */
void pgsess__set_error(struct pgsess *s, const char *state, const char *msg);
/* Logs "what: STATE message; rows are kept and retried", at most every 30 s for a repeat. */
void pgsess__log_failure(struct pgsess *s, const char *what);

/* The writer is about to wait on the database (now_ms), or is back (0). */
void pgsess__busy(struct pgsess *s, int64_t now_ms);
/*
 * The watchdog: a call under way for longer than timeout_ms has its socket
 * shut down, so libpq fails it as a lost connection. Returns how long the
 * current call has been waiting (0 when idle).
 */
int64_t pgsess__watch(struct pgsess *s, int64_t now_ms, int timeout_ms);
int pgsess__connected(struct pgsess *s);

/* sqlstate may be NULL (no server error, e.g. the socket broke). */
enum pgerr_kind pgsess__classify(const char *sqlstate, int connection_bad);
/* Delay before reconnect attempt n (0-based): 200 ms doubling to 5 s, jittered by rnd in [0,1). */
int pgsess__backoff_ms(int attempt, double rnd);

/* "httplat: pg: ..." on stderr. */
void pgsess__log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
