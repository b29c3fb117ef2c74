/* pgsession.c: one libpq connection through the pgapi seam: errors, backoff, exec, COPY. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "pgsession.h"

#define LOG_EVERY_MS 30000 /* repeat of the same error */

void pgsess__log(const char *fmt, ...)
{
	char line[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "httplat: pg: %s\n", line);
}

enum pgerr_kind pgsess__classify(const char *sqlstate, int connection_bad)
{
	if (connection_bad || !sqlstate || strlen(sqlstate) != 5)
		return PGERR_CONN;
	if (!strncmp(sqlstate, "08", 2) || !strncmp(sqlstate, "57P", 3))
		return PGERR_CONN; /* connection exception; server shutting down */
	if (!strncmp(sqlstate, "22", 2) || !strncmp(sqlstate, "23", 2))
		return PGERR_DATA; /* data exception, integrity constraint violation */
	if (!strcmp(sqlstate, "42501"))
		return PGERR_FATAL; /* insufficient privilege: a grant is missing */
	return PGERR_RETRY;
}

int pgsess__backoff_ms(int attempt, double rnd)
{
	double ms = 200.0 * pow(2.0, attempt > 10 ? 10 : attempt);

	if (ms > 5000)
		ms = 5000;
	return (int)(ms * (0.5 + rnd)); /* 50 % .. 150 % */
}

void pgsess__init(struct pgsess *s, const struct pgapi *pq, const char *conninfo, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	s->pq = pq ? pq : &pgapi_libpq;
	s->conninfo = conninfo;
	s->rnd = seed | 1;
	s->sock = -1;
	pthread_mutex_init(&s->mu, NULL);
}

void pgsess__destroy(struct pgsess *s)
{
	pgsess__close(s);
	pthread_mutex_destroy(&s->mu);
}

static double next_rnd(struct pgsess *s)
{
	s->rnd ^= s->rnd << 13;
	s->rnd ^= s->rnd >> 7;
	s->rnd ^= s->rnd << 17;
	return (double)(s->rnd >> 11) / 9007199254740992.0;
}

void pgsess__set_error(struct pgsess *s, const char *state, const char *msg)
{
	size_t n;

	snprintf(s->state, sizeof(s->state), "%s", state ? state : "");
	snprintf(s->msg, sizeof(s->msg), "%s", msg ? msg : "unknown error");
	s->hint[0] = 0;
	n = strlen(s->msg);
	while (n && (s->msg[n - 1] == '\n' || s->msg[n - 1] == ' '))
		s->msg[--n] = 0;
	for (char *p = s->msg; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	pthread_mutex_lock(&s->mu);
	snprintf(s->last_error, sizeof(s->last_error), "%s%s%s", s->state, *s->state ? " " : "",
		 s->msg);
	pthread_mutex_unlock(&s->mu);
}

/* Records a failed result's error; returns how to treat it. Clears res. */
static enum pgres result_error(struct pgsess *s, PGresult *res)
{
	const struct pgapi *pq = s->pq;
	const char *state = res ? pq->result_error_field(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? pq->result_error_field(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *hint = res ? pq->result_error_field(res, PG_DIAG_MESSAGE_HINT) : NULL;
	int bad = pq->status(s->conn) == CONNECTION_BAD;
	enum pgres r;

	pgsess__set_error(s, state, msg ? msg : pq->error_message(s->conn));
	snprintf(s->hint, sizeof(s->hint), "%s", hint ? hint : "");
	switch (pgsess__classify(state, bad)) {
	case PGERR_CONN:
		r = PGR_CONN;
		break;
	case PGERR_DATA:
		r = PGR_DATA;
		break;
	case PGERR_FATAL:
		r = PGR_FATAL;
		break;
	default:
		r = PGR_RETRY;
	}
	pq->clear(res);
	return r;
}

static PGresult *run(struct pgsess *s, const char *sql, int nparams, const char *const *params)
{
	return nparams ? s->pq->exec_params(s->conn, sql, nparams, NULL, params, NULL, NULL, 0)
		       : s->pq->exec(s->conn, sql);
}

enum pgres pgsess__exec(struct pgsess *s, const char *sql, int nparams,
			const char *const *params)
{
	PGresult *res = run(s, sql, nparams, params);
	ExecStatusType st = s->pq->result_status(res);

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		s->pq->clear(res);
		return PGR_OK;
	}
	return result_error(s, res);
}

enum pgres pgsess__value(struct pgsess *s, const char *sql, int nparams,
			 const char *const *params, char *out, size_t outsz)
{
	PGresult *res = run(s, sql, nparams, params);

	if (s->pq->result_status(res) != PGRES_TUPLES_OK)
		return result_error(s, res);
	if (outsz)
		snprintf(out, outsz, "%s",
			 s->pq->ntuples(res) > 0 ? s->pq->getvalue(res, 0, 0) : "");
	s->pq->clear(res);
	return PGR_OK;
}

/*
 * As psql's handleCopyIn: the COPY is always ended (PQputCopyEnd, with a
 * reason when the data could not be sent, which makes the server fail and
 * roll back the COPY), then every result is drained and checked. A result
 * still in COPY IN means the end did not get through: it is sent again a
 * few times, then the connection is given up (the caller closes it), so the
 * session never stays in COPY mode and never loops.
 */
enum pgres pgsess__copy(struct pgsess *s, const char *sql, const struct pgchunk *chunks, int n)
{
	const struct pgapi *pq = s->pq;
	enum pgres r = PGR_OK;
	PGresult *res;
	int ok = 1, ends = 0;

	res = pq->exec(s->conn, sql);
	if (pq->result_status(res) != PGRES_COPY_IN)
		return result_error(s, res);
	pq->clear(res);
	for (int i = 0; i < n && ok; i++)
		ok = !chunks[i].len ||
		     pq->put_copy_data(s->conn, chunks[i].data, (int)chunks[i].len) == 1;
	if (!ok) {
		pgsess__set_error(s, NULL, pq->error_message(s->conn));
		r = PGR_CONN; /* libpq could not send: the connection is in trouble */
	}
	if (pq->put_copy_end(s->conn, ok ? NULL : "httplat: sending the COPY data failed") != 1 &&
	    r == PGR_OK) {
		pgsess__set_error(s, NULL, pq->error_message(s->conn));
		r = PGR_CONN;
	}
	while ((res = pq->get_result(s->conn))) {
		ExecStatusType st = pq->result_status(res);

		if (st == PGRES_COPY_IN) {
			pq->clear(res);
			if (r == PGR_OK) {
				pgsess__set_error(s, NULL, "COPY did not end");
				r = PGR_CONN;
			}
			if (++ends > 3 || pq->status(s->conn) == CONNECTION_BAD ||
			    pq->put_copy_end(s->conn, "httplat: ending the COPY") != 1)
				break;
			continue;
		}
		if (r == PGR_OK && st != PGRES_COMMAND_OK) {
			r = result_error(s, res);
			continue;
		}
		pq->clear(res);
	}
	return r;
}

void pgsess__rollback(struct pgsess *s)
{
	if (s->conn && s->pq->status(s->conn) == CONNECTION_OK)
		s->pq->clear(s->pq->exec(s->conn, "ROLLBACK"));
}

void pgsess__log_failure(struct pgsess *s, const char *what)
{
	int64_t now = clock__mono_ms();

	if (!strcmp(s->logged, s->msg) && now - s->logged_at_ms < LOG_EVERY_MS)
		return;
	snprintf(s->logged, sizeof(s->logged), "%s", s->msg);
	s->logged_at_ms = now;
	s->announced = 0; /* say so when it works again */
	pgsess__log("%s: %s%s%s; rows are kept and retried", what, s->state, *s->state ? " " : "",
		    s->msg);
}

/* Notices are dropped ("relation already exists, skipping"), but for httplat's own. */
static void on_notice(void *arg, const char *msg)
{
	const char *own = strstr(msg, "httplat: ");
	size_t n;

	(void)arg;
	if (!own)
		return;
	own += strlen("httplat: ");
	n = strcspn(own, "\n");
	pgsess__log("%.*s", (int)n, own);
}

enum pgres pgsess__open(struct pgsess *s)
{
	const char *kw[] = {"connect_timeout", "fallback_application_name", "dbname", NULL};
	const char *val[] = {"5", "httplat", s->conninfo, NULL};
	const struct pgapi *pq = s->pq;

	if (!s->conninfo || !*s->conninfo)
		kw[2] = NULL; /* libpq's PG* variables and ~/.pgpass */
	s->conn = pq->connectdb_params(kw, val, 1);
	if (!s->conn || pq->status(s->conn) != CONNECTION_OK) {
		pgsess__set_error(s, NULL, s->conn ? pq->error_message(s->conn) : "out of memory");
		return PGR_CONN;
	}
	pthread_mutex_lock(&s->mu);
	s->sock = pq->socket(s->conn); /* the watchdog covers the schema and maintenance too */
	s->sock_shut = 0;
	pthread_mutex_unlock(&s->mu);
	pq->set_notice_processor(s->conn, on_notice, NULL);
	/* rows are UTF-8 whatever PGCLIENTENCODING says; the server converts to its encoding */
	if (pq->set_client_encoding(s->conn, "UTF8")) {
		pgsess__set_error(s, NULL, pq->error_message(s->conn));
		return PGR_CONN;
	}
	return PGR_OK;
}

void pgsess__ready(struct pgsess *s)
{
	const struct pgapi *pq = s->pq;

	pthread_mutex_lock(&s->mu);
	s->connected = 1;
	if (s->attempt)
		s->reconnects++;
	pthread_mutex_unlock(&s->mu);
	if (!s->announced)
		pgsess__log("connected to %s:%s database %s as %s", pq->host(s->conn),
			    pq->port(s->conn), pq->db(s->conn), pq->user(s->conn));
	s->announced = 1;
}

void pgsess__close(struct pgsess *s)
{
	if (!s->conn)
		return;
	pthread_mutex_lock(&s->mu);
	s->connected = 0;
	s->sock = -1; /* before the fd is closed: the watchdog must not shut a reused one */
	pthread_mutex_unlock(&s->mu);
	s->pq->finish(s->conn);
	s->conn = NULL;
}

void pgsess__fail(struct pgsess *s, const char *what)
{
	pgsess__log_failure(s, what);
	pgsess__close(s);
	s->next_connect_ms = clock__mono_ms() + pgsess__backoff_ms(s->attempt++, next_rnd(s));
}

void pgsess__healthy(struct pgsess *s)
{
	s->attempt = 0;
	s->logged[0] = 0;
}

int pgsess__may_connect(const struct pgsess *s, int64_t now_ms)
{
	return !s->conn && now_ms >= s->next_connect_ms;
}

void pgsess__busy(struct pgsess *s, int64_t now_ms)
{
	pthread_mutex_lock(&s->mu);
	s->busy_since_ms = now_ms;
	pthread_mutex_unlock(&s->mu);
}

int64_t pgsess__watch(struct pgsess *s, int64_t now_ms, int timeout_ms)
{
	int64_t busy;

	pthread_mutex_lock(&s->mu);
	busy = s->busy_since_ms ? now_ms - s->busy_since_ms : 0;
	if (busy > timeout_ms && s->sock >= 0 && !s->sock_shut) {
		shutdown(s->sock, SHUT_RDWR); /* the fd stays open: libpq closes it */
		s->sock_shut = 1;
		pgsess__log("the database did not answer for %lld ms: dropping the connection",
			    (long long)busy);
	}
	pthread_mutex_unlock(&s->mu);
	return busy;
}

int pgsess__connected(struct pgsess *s)
{
	int c;

	pthread_mutex_lock(&s->mu);
	c = s->connected;
	pthread_mutex_unlock(&s->mu);
	return c;
}
