/* fakepq.h: a stand-in database behind struct pgapi (user/pg/pgapi.h) that fails where told. */
#ifndef HTTPLAT_FAKEPQ_H
#define HTTPLAT_FAKEPQ_H

/*
 * Enough of libpq's behaviour for the writer: connections with a real socket
 * (a socketpair, so the watchdog's shutdown() works), transactions that abort
 * on an error (every later statement fails 25P02 until ROLLBACK), COPY IN
 * state (PQgetResult returns PGRES_COPY_IN until PQputCopyEnd, as libpq
 * does), batch ids with a unique key, request rows parsed from the binary
 * COPY stream. One fake database at a time (fake_db__use).
 */
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pgapi.h"
#include "pgcopy.h"

#define FAKE_MAX_ROWS 100000
#define FAKE_MAX_IDS 8192

struct fake_id {
	char host[64];
	long long writer, seq, sub;
};

struct fake_db {
	pthread_mutex_t mu;
	/* failures to inject; each counts down as it fires */
	int refuse_connects;	 /* connection attempts refused */
	int putcopy_fail_at;	 /* the Nth PQputCopyData from now returns -1, connection intact */
	int putcopy_lose_at;	 /* the Nth PQputCopyData from now loses the connection */
	int putcopy_end_fails;	 /* PQputCopyEnd calls that fail (-1), still in COPY IN */
	int dup_batches;	 /* batch id INSERTs that fail 23505 (as if committed before) */
	int commit_then_lose;	 /* COMMITs that commit, then lose the connection before answering */
	const char *bad_marker;	 /* a request row whose path contains it fails the COPY (23514) */
	const char *hang_prefix; /* a statement starting with it blocks until the socket is shut */
	int hangs;
	const char *fail_match; /* a statement containing it fails with fail_state */
	const char *fail_state;
	int fails;
	int version; /* what "max(version)" answers (0: no schema yet) */
	int latest;  /* what applying the migrations sets it to */
	/* what it holds and saw */
	uint64_t rows, alerts, health, rollup_lines;
	unsigned char seen[FAKE_MAX_ROWS]; /* committed request rows by the number ending the path */
	struct fake_id ids[FAKE_MAX_IDS];
	int nids;
	int connects, copies, copy_aborts, rerolls, hung, migrations;
	uint64_t copy_in_loops; /* PQgetResult calls answered PGRES_COPY_IN */
	char last_abort[128];	/* errormsg given to PQputCopyEnd */
};

struct fake_res {
	ExecStatusType st;
	char state[6];
	char msg[200];
	char value[64];
};

struct fake_conn {
	struct fake_db *db;
	ConnStatusType st;
	int sv[2];
	char err[256];
	int in_txn, aborted;
	int in_copy;	    /* 0 none, else 1 + enum pgbatch_part-like table kind */
	char *buf;	    /* COPY data */
	size_t len, cap;
	struct fake_res *pending; /* the COPY's final result */
	/* this transaction's effects, applied at COMMIT */
	int pend_ids[16];
	struct fake_id ids[16];
	int npend_ids;
	int *pend_rows;
	int npend_rows, pend_cap;
	uint64_t pend_alerts, pend_health, pend_rollup;
};

static struct fake_db *fake__db;

static void fake_db__use(struct fake_db *db, int version, int latest)
{
	memset(db, 0, sizeof(*db));
	pthread_mutex_init(&db->mu, NULL);
	db->version = version;
	db->latest = latest;
	fake__db = db;
}

static struct fake_res *fake_res(ExecStatusType st, const char *state, const char *fmt, ...)
{
	struct fake_res *r = calloc(1, sizeof(*r));
	va_list ap;

	r->st = st;
	snprintf(r->state, sizeof(r->state), "%s", state ? state : "");
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
		va_end(ap);
	}
	return r;
}

static struct fake_res *fake_error(struct fake_conn *c, const char *state, const char *msg)
{
	if (c->in_txn)
		c->aborted = 1;
	snprintf(c->err, sizeof(c->err), "ERROR:  %s\n", msg);
	return fake_res(PGRES_FATAL_ERROR, state, "%s", msg);
}

static struct fake_res *fake_lost(struct fake_conn *c)
{
	c->st = CONNECTION_BAD;
	c->in_copy = 0;
	snprintf(c->err, sizeof(c->err), "server closed the connection unexpectedly\n");
	return fake_res(PGRES_FATAL_ERROR, NULL, NULL);
}

static PGconn *fake_connect(const char *const *kw, const char *const *val, int expand)
{
	struct fake_conn *c = calloc(1, sizeof(*c));
	struct fake_db *db = fake__db;

	(void)kw, (void)val, (void)expand;
	c->db = db;
	c->sv[0] = c->sv[1] = -1;
	pthread_mutex_lock(&db->mu);
	db->connects++;
	if (db->refuse_connects > 0) {
		db->refuse_connects--;
		c->st = CONNECTION_BAD;
		snprintf(c->err, sizeof(c->err), "fake: connection refused\n");
	} else {
		c->st = CONNECTION_OK;
		socketpair(AF_UNIX, SOCK_STREAM, 0, c->sv);
	}
	pthread_mutex_unlock(&db->mu);
	return (PGconn *)c;
}

static ConnStatusType fake_status(const PGconn *conn)
{
	return conn ? ((const struct fake_conn *)conn)->st : CONNECTION_BAD;
}

static char *fake_error_message(const PGconn *conn)
{
	return ((struct fake_conn *)conn)->err;
}

static int fake_socket(const PGconn *conn)
{
	return ((const struct fake_conn *)conn)->sv[0];
}

static void fake_finish(PGconn *conn)
{
	struct fake_conn *c = (struct fake_conn *)conn;

	if (!c)
		return;
	if (c->sv[0] >= 0) {
		close(c->sv[0]);
		close(c->sv[1]);
	}
	free(c->pending);
	free(c->buf);
	free(c->pend_rows);
	free(c);
}

static int fake_encoding(PGconn *conn, const char *enc)
{
	(void)conn, (void)enc;
	return 0;
}

static PQnoticeProcessor fake_notice(PGconn *conn, PQnoticeProcessor p, void *arg)
{
	(void)conn, (void)p, (void)arg;
	return NULL;
}

static char *fake_str(const PGconn *conn)
{
	(void)conn;
	return (char *)"fake";
}

static int starts(const char *s, const char *prefix)
{
	return prefix && !strncmp(s, prefix, strlen(prefix));
}

/* Blocks until the watchdog shuts the socket down. */
static struct fake_res *fake_hang(struct fake_conn *c)
{
	char ch;

	pthread_mutex_lock(&c->db->mu);
	c->db->hung++;
	pthread_mutex_unlock(&c->db->mu);
	while (read(c->sv[0], &ch, 1) > 0)
		;
	return fake_lost(c);
}

static void fake_commit(struct fake_conn *c)
{
	struct fake_db *db = c->db;

	pthread_mutex_lock(&db->mu);
	for (int i = 0; i < c->npend_ids && db->nids < FAKE_MAX_IDS; i++)
		db->ids[db->nids++] = c->ids[i];
	for (int i = 0; i < c->npend_rows; i++)
		if (c->pend_rows[i] >= 0 && c->pend_rows[i] < FAKE_MAX_ROWS &&
		    db->seen[c->pend_rows[i]] < 255)
			db->seen[c->pend_rows[i]]++;
	db->rows += (uint64_t)c->npend_rows;
	db->alerts += c->pend_alerts;
	db->health += c->pend_health;
	db->rollup_lines += c->pend_rollup;
	pthread_mutex_unlock(&db->mu);
}

static void fake_txn_reset(struct fake_conn *c)
{
	c->in_txn = c->aborted = 0;
	c->npend_ids = c->npend_rows = 0;
	c->pend_alerts = c->pend_health = c->pend_rollup = 0;
}

/* The batch id insert: unique (host, writer, seq, sub), committed or in this transaction. */
static struct fake_res *fake_batch_id(struct fake_conn *c, const char *const *p)
{
	struct fake_db *db = c->db;
	struct fake_id id = {.writer = atoll(p[1]), .seq = atoll(p[2]), .sub = atoll(p[3])};
	int dup = 0;

	snprintf(id.host, sizeof(id.host), "%s", p[0]);
	pthread_mutex_lock(&db->mu);
	if (db->dup_batches > 0) {
		db->dup_batches--;
		dup = 1;
	}
	for (int i = 0; i < db->nids && !dup; i++)
		dup = !strcmp(db->ids[i].host, id.host) && db->ids[i].writer == id.writer &&
		      db->ids[i].seq == id.seq && db->ids[i].sub == id.sub;
	pthread_mutex_unlock(&db->mu);
	if (dup)
		return fake_error(c, "23505", "duplicate key value violates unique constraint");
	if (c->npend_ids < 16)
		c->ids[c->npend_ids++] = id;
	return fake_res(PGRES_COMMAND_OK, NULL, NULL);
}

static struct fake_res *fake_run(struct fake_conn *c, const char *sql, const char *const *p)
{
	struct fake_db *db = c->db;
	struct fake_res *r;
	int hang = 0, fail = 0;

	if (c->st != CONNECTION_OK)
		return fake_lost(c);
	if (c->in_copy) { /* as libpq's PQexec: end the COPY first */
		c->in_copy = 0;
		c->aborted = 1;
	}
	free(c->pending);
	c->pending = NULL;
	pthread_mutex_lock(&db->mu);
	if (db->hangs > 0 && starts(sql, db->hang_prefix)) {
		db->hangs--;
		hang = 1;
	}
	if (db->fails > 0 && db->fail_match && strstr(sql, db->fail_match)) {
		db->fails--;
		fail = 1;
	}
	pthread_mutex_unlock(&db->mu);
	if (hang)
		return fake_hang(c);
	if (fail)
		return fake_error(c, db->fail_state, "injected failure");
	if (!strcmp(sql, "ROLLBACK")) {
		fake_txn_reset(c);
		return fake_res(PGRES_COMMAND_OK, NULL, NULL);
	}
	if (c->aborted)
		return fake_error(c, "25P02", "current transaction is aborted");
	if (!strcmp(sql, "BEGIN")) {
		fake_txn_reset(c);
		c->in_txn = 1;
		return fake_res(PGRES_COMMAND_OK, NULL, NULL);
	}
	if (!strcmp(sql, "COMMIT")) {
		int lose;

		fake_commit(c);
		fake_txn_reset(c);
		pthread_mutex_lock(&db->mu);
		lose = db->commit_then_lose > 0 ? db->commit_then_lose-- : 0;
		pthread_mutex_unlock(&db->mu);
		return lose ? fake_lost(c) : fake_res(PGRES_COMMAND_OK, NULL, NULL);
	}
	if (strstr(sql, "httplat_batches (") && p)
		return fake_batch_id(c, p);
	if (starts(sql, "COPY ")) {
		c->in_copy = strstr(sql, "stage_1m")	     ? 2
			     : strstr(sql, "alerts (")	     ? 3
			     : strstr(sql, "httplat_health (") ? 4
							       : 1;
		c->len = 0;
		pthread_mutex_lock(&db->mu);
		db->copies++;
		pthread_mutex_unlock(&db->mu);
		return fake_res(PGRES_COPY_IN, NULL, NULL);
	}
	/* the schema set-up's questions: httplat's tables, all there */
	r = fake_res(PGRES_TUPLES_OK, NULL, NULL);
	if (strstr(sql, "max(version)"))
		snprintf(r->value, sizeof(r->value), "%d", db->version);
	else if (strstr(sql, "IS NOT NULL"))
		snprintf(r->value, sizeof(r->value), "%s", db->version ? "t" : "f");
	else if (strstr(sql, "SELECT relkind"))
		snprintf(r->value, sizeof(r->value), "p");
	else if (strstr(sql, "string_agg"))
		r->value[0] = 0; /* no column missing */
	else
		snprintf(r->value, sizeof(r->value), "0");
	if (!strncmp(sql, "-- 000_prepare", 14)) {
		r->st = PGRES_COMMAND_OK;
		pthread_mutex_lock(&db->mu);
		db->migrations++;
		db->version = db->latest;
		pthread_mutex_unlock(&db->mu);
	}
	if (strstr(sql, "httplat_reroll")) {
		pthread_mutex_lock(&db->mu);
		db->rerolls++;
		pthread_mutex_unlock(&db->mu);
	}
	return r;
}

static PGresult *fake_exec(PGconn *conn, const char *sql)
{
	return (PGresult *)fake_run((struct fake_conn *)conn, sql, NULL);
}

static PGresult *fake_exec_params(PGconn *conn, const char *sql, int n, const Oid *types,
				  const char *const *values, const int *lengths, const int *formats,
				  int result_format)
{
	(void)n, (void)types, (void)lengths, (void)formats, (void)result_format;
	return (PGresult *)fake_run((struct fake_conn *)conn, sql, values);
}

static int fake_put_copy_data(PGconn *conn, const char *data, int n)
{
	struct fake_conn *c = (struct fake_conn *)conn;
	struct fake_db *db = c->db;
	int fail = 0, lose = 0;

	if (c->st != CONNECTION_OK || !c->in_copy)
		return -1;
	pthread_mutex_lock(&db->mu);
	if (db->putcopy_fail_at > 0 && !--db->putcopy_fail_at)
		fail = 1;
	if (db->putcopy_lose_at > 0 && !--db->putcopy_lose_at)
		lose = 1;
	pthread_mutex_unlock(&db->mu);
	if (lose) {
		fake_lost(c);
		return -1;
	}
	if (fail) { /* libpq could not queue the data; the connection is still in COPY IN */
		snprintf(c->err, sizeof(c->err), "fake: could not send data to server\n");
		return -1;
	}
	if (c->len + (size_t)n > c->cap) {
		c->cap = (c->len + (size_t)n) * 2;
		c->buf = realloc(c->buf, c->cap);
	}
	memcpy(c->buf + c->len, data, (size_t)n);
	c->len += (size_t)n;
	return 1;
}

/* Parses the binary request stream: each tuple's path must not hold the bad marker. */
static int fake_take_requests(struct fake_conn *c)
{
	const char *marker = c->db->bad_marker;
	size_t off = PGCOPY_BIN_HEADER_LEN, end = c->len - PGCOPY_BIN_TRAILER_LEN;
	int start = c->npend_rows;

	while (off < end) {
		long next = pgcopy__bin_next(c->buf, end, off);
		const unsigned char *u = (const unsigned char *)c->buf;
		size_t f = off + 2;
		char path[400] = "";

		if (next < 0)
			return -1;
		for (int i = 0; i <= 5; i++) { /* field 5 is path */
			uint32_t flen = (uint32_t)u[f] << 24 | (uint32_t)u[f + 1] << 16 |
					(uint32_t)u[f + 2] << 8 | u[f + 3];

			f += 4;
			if (i == 5 && flen < sizeof(path))
				snprintf(path, sizeof(path), "%.*s", (int)flen, c->buf + f);
			if (flen != 0xffffffffu)
				f += flen;
		}
		if (marker && strstr(path, marker)) {
			c->npend_rows = start;
			return 1;
		}
		if (c->npend_rows == c->pend_cap) {
			c->pend_cap = c->pend_cap ? c->pend_cap * 2 : 1024;
			c->pend_rows = realloc(c->pend_rows, (size_t)c->pend_cap * sizeof(int));
		}
		c->pend_rows[c->npend_rows++] = atoi(strrchr(path, '/') ? strrchr(path, '/') + 1 : "-1");
		off = (size_t)next;
	}
	return 0;
}

static int fake_put_copy_end(PGconn *conn, const char *errormsg)
{
	struct fake_conn *c = (struct fake_conn *)conn;
	uint64_t lines = 0;
	int kind = c->in_copy;

	if (c->st != CONNECTION_OK || !c->in_copy)
		return -1;
	pthread_mutex_lock(&c->db->mu);
	if (c->db->putcopy_end_fails > 0) {
		c->db->putcopy_end_fails--;
		pthread_mutex_unlock(&c->db->mu);
		snprintf(c->err, sizeof(c->err), "fake: could not send end of COPY\n");
		return -1;
	}
	pthread_mutex_unlock(&c->db->mu);
	c->in_copy = 0;
	free(c->pending);
	if (errormsg) {
		pthread_mutex_lock(&c->db->mu);
		c->db->copy_aborts++;
		snprintf(c->db->last_abort, sizeof(c->db->last_abort), "%s", errormsg);
		pthread_mutex_unlock(&c->db->mu);
		c->pending = fake_error(c, "57014", "COPY from stdin failed");
		return 1;
	}
	for (size_t i = 0; kind != 1 && i < c->len; i++)
		lines += c->buf[i] == '\n';
	if (kind == 1) {
		int bad = fake_take_requests(c);

		c->pending = bad < 0   ? fake_error(c, "22P04", "bad binary COPY data")
			     : bad > 0 ? fake_error(c, "23514", "no partition of relation found for row")
				       : fake_res(PGRES_COMMAND_OK, NULL, NULL);
		return 1;
	}
	if (kind == 2)
		c->pend_rollup += lines;
	else if (kind == 3)
		c->pend_alerts += lines;
	else
		c->pend_health += lines;
	c->pending = fake_res(PGRES_COMMAND_OK, NULL, NULL);
	return 1;
}

static PGresult *fake_get_result(PGconn *conn)
{
	struct fake_conn *c = (struct fake_conn *)conn;
	struct fake_res *r;

	if (c->in_copy) { /* libpq would answer this forever: give up after a million */
		uint64_t n;

		pthread_mutex_lock(&c->db->mu);
		n = ++c->db->copy_in_loops;
		pthread_mutex_unlock(&c->db->mu);
		if (n > 1000000) {
			fake_lost(c);
			return NULL;
		}
		return (PGresult *)fake_res(PGRES_COPY_IN, NULL, NULL);
	}
	r = c->pending;
	c->pending = NULL;
	return (PGresult *)r;
}

static ExecStatusType fake_result_status(const PGresult *res)
{
	return res ? ((const struct fake_res *)res)->st : PGRES_FATAL_ERROR;
}

static char *fake_error_field(const PGresult *res, int field)
{
	struct fake_res *r = (struct fake_res *)res;

	if (field == PG_DIAG_SQLSTATE)
		return *r->state ? r->state : NULL;
	if (field == PG_DIAG_MESSAGE_PRIMARY)
		return *r->msg ? r->msg : NULL;
	return NULL;
}

static int fake_ntuples(const PGresult *res)
{
	return ((const struct fake_res *)res)->st == PGRES_TUPLES_OK;
}

static char *fake_getvalue(const PGresult *res, int row, int col)
{
	(void)row, (void)col;
	return ((struct fake_res *)res)->value;
}

static void fake_clear(PGresult *res)
{
	free(res);
}

static const struct pgapi fake_api = {
    .connectdb_params = fake_connect,
    .status = fake_status,
    .error_message = fake_error_message,
    .socket = fake_socket,
    .finish = fake_finish,
    .set_client_encoding = fake_encoding,
    .set_notice_processor = fake_notice,
    .host = fake_str,
    .port = fake_str,
    .db = fake_str,
    .user = fake_str,
    .exec = fake_exec,
    .exec_params = fake_exec_params,
    .get_result = fake_get_result,
    .result_status = fake_result_status,
    .result_error_field = fake_error_field,
    .ntuples = fake_ntuples,
    .getvalue = fake_getvalue,
    .clear = fake_clear,
    .put_copy_data = fake_put_copy_data,
    .put_copy_end = fake_put_copy_end,
};

#endif
