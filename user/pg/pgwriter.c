/* pgwriter.c: a writer thread COPYs each batch in one transaction; spools while the DB is away. */
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pgrollup.h"
#include "pgschema.h"
#include "pgwriter.h"
#include "spool.h"

#define DAY_NS 86400000000000LL
#define MINUTE_NS 60000000000LL
#define BATCH_BYTES (4u << 20)	 /* seal a batch at this much request text */
#define FREE_KEEP 4		 /* sealed batches kept for reuse */
#define MAINT_MS (3600 * 1000)	 /* partitions ahead and retention, hourly */
#define LOG_EVERY_MS 30000	 /* repeat of the same connection error */
#define SPOOL_BUSY_MS 100	 /* writer away this long and memory half full: spool */
#define SCHEMA_LOCK "1752462448" /* advisory lock key: one migrator at a time */

static const char *const part_table[PGB__COUNT] = {
    "http_requests (" PGCOPY_REQUESTS_COLS ") FROM STDIN WITH (FORMAT binary)",
    "pg_temp.httplat_stage_1m (" PGCOPY_ROLLUP_COLS ") FROM STDIN",
    "alerts (" PGCOPY_ALERTS_COLS ") FROM STDIN",
    "httplat_health (" PGCOPY_HEALTH_COLS ") FROM STDIN",
};

static const char *const merge_rollup_sql =
    "INSERT INTO http_requests_1m AS t (" PGCOPY_ROLLUP_COLS ") "
    "SELECT " PGCOPY_ROLLUP_COLS " FROM pg_temp.httplat_stage_1m "
    "ON CONFLICT (minute, host, api, route, status) DO UPDATE SET "
    "count = t.count + excluded.count, "
    "sum_ms = coalesce(t.sum_ms + excluded.sum_ms, t.sum_ms, excluded.sum_ms), "
    "max_ms = greatest(t.max_ms, excluded.max_ms), "
    "hist = httplat_hist_add(t.hist, excluded.hist)";

/* Outcome of one transaction. */
enum txn_result { TXN_OK, TXN_DUP, TXN_CONN, TXN_DATA, TXN_RETRY };

struct pgwriter {
	struct pgwriter_opts o;
	char host[256];
	char *conninfo;
	pthread_t thread;
	int started;

	pthread_t spooler; /* spools and watches while the writer waits on the database */
	int spooler_started;
	pthread_mutex_t spool_mu; /* the spool files; never held while taking mu */

	pthread_mutex_t mu;
	pthread_cond_t wake; /* writer: work or stop */
	pthread_cond_t idle; /* flushers: queue drained */
	pthread_cond_t tick; /* spooler: stop */
	/* under mu */
	int stop;
	int flushers;
	struct pgbatch *open; /* rows being added by push */
	int64_t open_since_ms;
	struct pgrollup *rollup; /* of the open batch */
	struct pgbatch *head, *tail;
	struct pgbatch *inflight; /* the writer's */
	int spooling;		  /* batches being written to the spool */
	int writer_done;	  /* the writer thread has finished */
	int64_t busy_since_ms;	  /* the writer is waiting on the database since; 0 idle */
	int sock;		  /* the connection's socket, -1 none: the watchdog may shut it */
	int sock_shut;
	struct pgbatch *free_list;
	int nfree;
	uint64_t mem_bytes; /* open + queued + in flight */
	uint64_t seq;
	struct pgwriter_stats st;

	/* writer thread only */
	uint64_t writer_id;
	uint64_t rnd;
	PGconn *conn;
	int attempt;
	int ever_connected; /* under mu */
	int announced;	    /* "connected" logged since the last logged failure */
	int64_t next_connect_ms;
	int64_t next_maint_ms;
	int64_t ens_lo, ens_hi; /* days (since epoch) known to have partitions */
	struct spool *spool;
	struct pgbatch *replay;
	char err_state[6];
	char err_msg[256];
	char logged_err[256];
	int64_t logged_at_ms;
	uint64_t replayed; /* rows replayed from the spool since it was last empty */
	int spool_logged;  /* "spooling" said since the spool was last empty */
	size_t *lines;	   /* line offsets while splitting */
	size_t lines_cap;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wlog(const char *fmt, ...)
{
	char line[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "httplat: pg: %s\n", line);
}

void pgwriter_opts__defaults(struct pgwriter_opts *o)
{
	if (!o->mem_max)
		o->mem_max = 64ull << 20;
	if (!o->spool_max)
		o->spool_max = 1ull << 30;
	if (!o->batch_rows)
		o->batch_rows = 20000;
	if (!o->flush_ms)
		o->flush_ms = 200;
	if (!o->rollup_days)
		o->rollup_days = 90;
	if (!o->stop_timeout_ms)
		o->stop_timeout_ms = 10000;
	if (!o->db_timeout_ms)
		o->db_timeout_ms = 30000;
}

int pgwriter__parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

enum pgerr_kind pgwriter__classify(const char *sqlstate, int connection_bad)
{
	if (connection_bad || !sqlstate || strlen(sqlstate) != 5)
		return PGERR_CONN;
	if (!strncmp(sqlstate, "08", 2) || !strncmp(sqlstate, "57P", 3))
		return PGERR_CONN; /* connection exception; server shutting down */
	if (!strncmp(sqlstate, "22", 2) || !strncmp(sqlstate, "23", 2))
		return PGERR_DATA; /* data exception, integrity constraint violation */
	return PGERR_RETRY;
}

int pgwriter__backoff_ms(int attempt, double rnd)
{
	double ms = 200.0 * pow(2.0, attempt > 10 ? 10 : attempt);

	if (ms > 5000)
		ms = 5000;
	return (int)(ms * (0.5 + rnd)); /* 50 % .. 150 % */
}

static double next_rnd(struct pgwriter *w)
{
	w->rnd ^= w->rnd << 13;
	w->rnd ^= w->rnd >> 7;
	w->rnd ^= w->rnd << 17;
	return (double)(w->rnd >> 11) / 9007199254740992.0;
}

/* ---- the producer side (any thread) ---- */

static struct pgbatch *batch_get(struct pgwriter *w)
{
	struct pgbatch *b = w->free_list;

	if (b) {
		w->free_list = b->next;
		w->nfree--;
		b->next = NULL;
		return b;
	}
	return calloc(1, sizeof(*b));
}

static void batch_put(struct pgwriter *w, struct pgbatch *b)
{
	if (w->nfree >= FREE_KEEP) {
		pgbatch__free(b);
		return;
	}
	pgbatch__clear(b);
	b->next = w->free_list;
	w->free_list = b;
	w->nfree++;
}

static void enqueue_tail(struct pgwriter *w, struct pgbatch *b)
{
	b->next = NULL;
	if (w->tail)
		w->tail->next = b;
	else
		w->head = b;
	w->tail = b;
}

static void enqueue_head(struct pgwriter *w, struct pgbatch *b)
{
	b->next = w->head;
	w->head = b;
	if (!w->tail)
		w->tail = b;
}

static struct pgbatch *dequeue(struct pgwriter *w)
{
	struct pgbatch *b = w->head;

	if (b) {
		w->head = b->next;
		if (!w->head)
			w->tail = NULL;
		b->next = NULL;
	}
	return b;
}

static int batch_empty(const struct pgbatch *b)
{
	return !b->rows[PGB_REQUESTS] && !b->rows[PGB_ALERTS] && !b->rows[PGB_HEALTH];
}

/* Moves the open batch to the queue with its rollup rows. Under mu. */
static void seal(struct pgwriter *w)
{
	struct pgbatch *b = w->open;
	size_t before;

	if (!b)
		return;
	w->open = NULL;
	if (batch_empty(b)) {
		batch_put(w, b);
		return;
	}
	before = b->part[PGB_ROLLUP].len;
	if (pgrollup__copy(w->rollup, &b->part[PGB_ROLLUP], w->host) == 0) {
		b->rows[PGB_ROLLUP] = (uint32_t)pgrollup__groups(w->rollup);
	} else { /* out of memory: the raw rows still go; the rollup misses them */
		b->rows[PGB_ROLLUP] = 0;
		b->part[PGB_ROLLUP].len = 0;
		w->st.rollup_lost += b->rows[PGB_REQUESTS];
	}
	w->mem_bytes += b->part[PGB_ROLLUP].len - before;
	pgrollup__reset(w->rollup);
	b->writer = w->writer_id;
	b->seq = ++w->seq;
	enqueue_tail(w, b);
	pthread_cond_signal(&w->wake);
}

/* Under mu: an open batch to add to, or NULL (no memory). */
static struct pgbatch *open_batch(struct pgwriter *w)
{
	if (!w->open) {
		w->open = batch_get(w);
		if (!w->open)
			return NULL;
		w->open_since_ms = mono_ms();
	}
	return w->open;
}

int pgwriter__push(struct pgwriter *w, const struct record *r)
{
	struct pgbatch *b;
	size_t before;
	int err = 0;

	pthread_mutex_lock(&w->mu);
	if (w->stop || w->mem_bytes >= w->o.mem_max || !(b = open_batch(w))) {
		err = -ENOBUFS;
		goto cleanup;
	}
	if (pgrollup__add(w->rollup, r) == -ENOSPC) {
		seal(w); /* too many groups for one batch: start the next */
		b = open_batch(w);
		if (!b || pgrollup__add(w->rollup, r)) {
			err = -ENOBUFS;
			goto cleanup;
		}
	}
	before = b->part[PGB_REQUESTS].len;
	if (pgcopy__request(&b->part[PGB_REQUESTS], r, w->host)) {
		err = -ENOBUFS;
		goto cleanup;
	}
	if (w->mem_bytes <= w->o.mem_max / 2 &&
	    w->mem_bytes + b->part[PGB_REQUESTS].len - before > w->o.mem_max / 2)
		pthread_cond_signal(&w->tick); /* half full: the spooler looks now */
	w->mem_bytes += b->part[PGB_REQUESTS].len - before;
	w->st.rows_queued++;
	if (!b->rows[PGB_REQUESTS]++ || r->ts_ns < b->first_ns)
		b->first_ns = r->ts_ns;
	if (r->ts_ns > b->last_ns)
		b->last_ns = r->ts_ns;
	if (b->rows[PGB_REQUESTS] >= w->o.batch_rows || b->part[PGB_REQUESTS].len >= BATCH_BYTES)
		seal(w);
cleanup:
	if (err)
		w->st.rows_dropped++;
	pthread_mutex_unlock(&w->mu);
	return err;
}

/* Alerts and health rows ride in the open batch; pushed rarely. */
static int push_other(struct pgwriter *w, enum pgbatch_part part, const void *row)
{
	struct pgbatch *b;
	size_t before;
	int err = -ENOBUFS;

	pthread_mutex_lock(&w->mu);
	if (!w->stop && w->mem_bytes < w->o.mem_max && (b = open_batch(w))) {
		before = b->part[part].len;
		err = part == PGB_ALERTS ? pgcopy__alert(&b->part[part], row, w->host)
					 : pgcopy__health(&b->part[part], row, w->host);
		if (!err) {
			b->rows[part]++;
			w->mem_bytes += b->part[part].len - before;
		}
	}
	if (err) {
		w->st.other_dropped++;
		err = -ENOBUFS;
	}
	pthread_mutex_unlock(&w->mu);
	return err;
}

int pgwriter__push_alert(struct pgwriter *w, const struct alert_row *a)
{
	return push_other(w, PGB_ALERTS, a);
}

int pgwriter__push_health(struct pgwriter *w, const struct health_row *h)
{
	return push_other(w, PGB_HEALTH, h);
}

int pgwriter__flush(struct pgwriter *w, int timeout_ms)
{
	struct timespec until;
	int err = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&w->mu);
	w->flushers++;
	pthread_cond_signal(&w->wake);
	while (w->open || w->head || w->inflight || w->spooling) {
		if (pthread_cond_timedwait(&w->idle, &w->mu, &until) == ETIMEDOUT) {
			err = -ETIMEDOUT;
			break;
		}
	}
	w->flushers--;
	pthread_mutex_unlock(&w->mu);
	return err;
}

int pgwriter__pressure(struct pgwriter *w)
{
	int full;

	pthread_mutex_lock(&w->mu);
	full = w->mem_bytes >= w->o.mem_max / 10 * 9;
	pthread_mutex_unlock(&w->mu);
	return full;
}

void pgwriter__stats(struct pgwriter *w, struct pgwriter_stats *out)
{
	pthread_mutex_lock(&w->mu);
	*out = w->st;
	pthread_mutex_unlock(&w->mu);
}

/* ---- the writer thread ---- */

static void set_error(struct pgwriter *w, const char *state, const char *msg)
{
	size_t n;

	snprintf(w->err_state, sizeof(w->err_state), "%s", state ? state : "");
	snprintf(w->err_msg, sizeof(w->err_msg), "%s", msg ? msg : "unknown error");
	n = strlen(w->err_msg);
	while (n && (w->err_msg[n - 1] == '\n' || w->err_msg[n - 1] == ' '))
		w->err_msg[--n] = 0;
	for (char *p = w->err_msg; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	pthread_mutex_lock(&w->mu);
	snprintf(w->st.last_error, sizeof(w->st.last_error), "%s%s%s", w->err_state,
		 *w->err_state ? " " : "", w->err_msg);
	pthread_mutex_unlock(&w->mu);
}

/* Records a failed result's error; returns how to treat it. Clears res. */
static enum txn_result result_error(struct pgwriter *w, PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	int bad = PQstatus(w->conn) == CONNECTION_BAD;
	enum txn_result r;

	set_error(w, state, msg ? msg : PQerrorMessage(w->conn));
	switch (pgwriter__classify(state, bad)) {
	case PGERR_CONN:
		r = TXN_CONN;
		break;
	case PGERR_DATA:
		r = TXN_DATA;
		break;
	default:
		r = TXN_RETRY;
	}
	PQclear(res);
	return r;
}

/* Runs a command that returns no rows; TXN_OK or an error kind. */
static enum txn_result exec_cmd(struct pgwriter *w, const char *sql, int nparams,
				const char *const *params)
{
	PGresult *res = nparams ? PQexecParams(w->conn, sql, nparams, NULL, params, NULL, NULL, 0)
				: PQexec(w->conn, sql);
	ExecStatusType st = PQresultStatus(res);

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		PQclear(res);
		return TXN_OK;
	}
	return result_error(w, res);
}

/* Binary parts (requests) are framed by the COPY header and trailer; text parts are lines. */
static int part_binary(enum pgbatch_part part)
{
	return part == PGB_REQUESTS;
}

static enum txn_result copy_in(struct pgwriter *w, enum pgbatch_part part, const char *data,
			       size_t len)
{
	char sql[1024];
	PGresult *res;
	enum txn_result r = TXN_OK;
	int bin = part_binary(part), ok;

	snprintf(sql, sizeof(sql), "COPY %s", part_table[part]);
	res = PQexec(w->conn, sql);
	if (PQresultStatus(res) != PGRES_COPY_IN)
		return result_error(w, res);
	PQclear(res);
	ok = (!bin || PQputCopyData(w->conn, PGCOPY_BIN_HEADER, PGCOPY_BIN_HEADER_LEN) == 1) &&
	     PQputCopyData(w->conn, data, (int)len) == 1 &&
	     (!bin || PQputCopyData(w->conn, PGCOPY_BIN_TRAILER, PGCOPY_BIN_TRAILER_LEN) == 1);
	if (!ok || PQputCopyEnd(w->conn, NULL) != 1) {
		set_error(w, NULL, PQerrorMessage(w->conn));
		r = TXN_CONN;
	}
	/* drain every result so the connection never stays in COPY mode */
	while ((res = PQgetResult(w->conn))) {
		if (r == TXN_OK && PQresultStatus(res) != PGRES_COMMAND_OK) {
			r = result_error(w, res);
			continue;
		}
		PQclear(res);
	}
	return r;
}

struct segment {
	enum pgbatch_part part;
	const char *data;
	size_t len;
};

/*
 * One transaction: claims (writer, seq, sub) in httplat_batches, COPYs the
 * segments, merges rollup rows, commits. TXN_DUP when the id was already
 * committed (a retry after the connection broke around COMMIT).
 */
static enum txn_result txn(struct pgwriter *w, const struct pgbatch *b, uint64_t sub, uint32_t rows,
			   const struct segment *seg, int nseg)
{
	char writer[24], seq[24], subs[24], nrows[16];
	const char *params[] = {w->host, writer, seq, subs, nrows};
	enum txn_result r;

	snprintf(writer, sizeof(writer), "%" PRId64, (int64_t)b->writer);
	snprintf(seq, sizeof(seq), "%" PRId64, (int64_t)b->seq);
	snprintf(subs, sizeof(subs), "%" PRId64, (int64_t)sub);
	snprintf(nrows, sizeof(nrows), "%u", rows);
	r = exec_cmd(w, "BEGIN", 0, NULL);
	if (r == TXN_OK)
		r = exec_cmd(w,
			     "INSERT INTO httplat_batches (host, writer, seq, sub, rows) "
			     "VALUES ($1, $2, $3, $4, $5)",
			     5, params);
	if (r == TXN_DATA && !strcmp(w->err_state, "23505"))
		r = TXN_DUP;
	for (int i = 0; i < nseg && r == TXN_OK; i++) {
		if (!seg[i].len)
			continue;
		r = copy_in(w, seg[i].part, seg[i].data, seg[i].len);
		if (r == TXN_OK && seg[i].part == PGB_ROLLUP)
			r = exec_cmd(w, merge_rollup_sql, 0, NULL);
	}
	if (r == TXN_OK)
		r = exec_cmd(w, "COMMIT", 0, NULL);
	else if (PQstatus(w->conn) == CONNECTION_OK)
		PQclear(PQexec(w->conn, "ROLLBACK"));
	return r;
}

static void disconnect(struct pgwriter *w)
{
	if (!w->conn)
		return;
	pthread_mutex_lock(&w->mu);
	w->st.connected = 0;
	w->sock = -1; /* before the fd is closed: the watchdog must not shut a reused one */
	pthread_mutex_unlock(&w->mu);
	PQfinish(w->conn);
	w->conn = NULL;
}

static void quiet_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg; /* "relation already exists, skipping" and the like */
}

static int64_t day_of(int64_t ts_ns)
{
	return ts_ns / DAY_NS - (ts_ns % DAY_NS < 0);
}

static int64_t today(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return day_of((int64_t)now.tv_sec * 1000000000);
}

/*
 * Makes sure partitions exist for days [lo, hi], clipped to the days a real
 * row can have: from the retention horizon (10 years without retention) to the
 * day after tomorrow. Rows outside find no partition and are rejected, counted,
 * rather than a wrong clock creating partitions. TXN_OK or an error kind.
 */
static enum txn_result ensure_days(struct pgwriter *w, int64_t lo, int64_t hi)
{
	int64_t t = today();
	int64_t min = t - (w->o.retention_days > 0 ? w->o.retention_days + 1 : 3660);
	char day[40], n[16];
	const char *params[] = {day, n};
	enum txn_result r;

	lo = lo < min ? min : lo;
	hi = hi > t + 2 ? t + 2 : hi;
	if (lo > hi || (lo >= w->ens_lo && hi <= w->ens_hi))
		return TXN_OK;
	for (int64_t d = lo; d <= hi; d += 62) { /* the SQL function makes 62 at most */
		pgcopy__ts(day, sizeof(day), d * DAY_NS);
		day[10] = 0;
		snprintf(n, sizeof(n), "%d", (int)(hi - d + 1 > 62 ? 62 : hi - d + 1));
		r = exec_cmd(w, "SELECT httplat_ensure_partitions($1::date, $2::integer)", 2,
			     params);
		if (r != TXN_OK)
			return r;
	}
	if (w->ens_hi >= w->ens_lo && lo <= w->ens_hi + 1 && hi >= w->ens_lo - 1) {
		w->ens_lo = lo < w->ens_lo ? lo : w->ens_lo;
		w->ens_hi = hi > w->ens_hi ? hi : w->ens_hi;
	} else {
		w->ens_lo = lo;
		w->ens_hi = hi;
	}
	return TXN_OK;
}

/* Partitions for yesterday..the day after tomorrow, and retention. */
static enum txn_result maintain(struct pgwriter *w)
{
	char raw[16], roll[16];
	const char *params[] = {raw, roll};
	int64_t t = today();
	PGresult *res;
	enum txn_result r;

	w->ens_lo = 1;
	w->ens_hi = 0; /* forget: retention may have dropped some */
	r = ensure_days(w, t - 1, t + 2);
	if (r != TXN_OK || w->o.retention_days <= 0)
		return r;
	snprintf(raw, sizeof(raw), "%d", w->o.retention_days);
	snprintf(roll, sizeof(roll), "%d", w->o.rollup_days);
	res = PQexecParams(w->conn, "SELECT httplat_retention($1::integer, $2::integer)", 2, NULL,
			   params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return result_error(w, res);
	if (atoi(PQgetvalue(res, 0, 0)) > 0)
		wlog("retention: dropped %s daily partition(s) older than %d days",
		     PQgetvalue(res, 0, 0), w->o.retention_days);
	PQclear(res);
	return TXN_OK;
}

static int schema_version(struct pgwriter *w)
{
	PGresult *res = PQexec(w->conn, "SELECT coalesce(max(version), 0) FROM httplat_schema");
	int have = 0; /* no table yet: nothing applied */

	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		have = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return have;
}

/* Applies the embedded migrations the database lacks. */
static enum txn_result apply_schema(struct pgwriter *w)
{
	const struct pgschema_migration *m;
	int n = pgschema__migrations(&m), have;
	enum txn_result r = TXN_OK;

	if (schema_version(w) >= pgschema__latest())
		return TXN_OK;
	exec_cmd(w, "SELECT pg_advisory_lock(" SCHEMA_LOCK ")", 0, NULL);
	have = schema_version(w); /* another daemon may have migrated meanwhile */
	for (int i = 0; i < n && r == TXN_OK; i++) {
		if (m[i].version <= have)
			continue;
		r = exec_cmd(w, m[i].sql, 0, NULL); /* one implicit transaction per file */
		if (r == TXN_OK)
			wlog("schema: applied %s (version %d)", m[i].name, m[i].version);
		else
			wlog("schema: cannot apply %s: %s%s", m[i].name, w->err_msg,
			     !strcmp(w->err_state, "42501")
				 ? " (this role may only write: run scripts/pg-roles.sh as the "
				   "database owner first)"
				 : "");
	}
	if (PQstatus(w->conn) == CONNECTION_OK)
		PQclear(PQexec(w->conn, "SELECT pg_advisory_unlock(" SCHEMA_LOCK ")"));
	return r == TXN_OK ? TXN_OK : TXN_RETRY;
}

static void log_failure(struct pgwriter *w, const char *what)
{
	int64_t now = mono_ms();

	if (!strcmp(w->logged_err, w->err_msg) && now - w->logged_at_ms < LOG_EVERY_MS)
		return;
	snprintf(w->logged_err, sizeof(w->logged_err), "%s", w->err_msg);
	w->logged_at_ms = now;
	w->announced = 0; /* say so when it works again */
	wlog("%s: %s%s%s; rows are kept and retried", what, w->err_state, *w->err_state ? " " : "",
	     w->err_msg);
}

static void backoff(struct pgwriter *w)
{
	w->next_connect_ms = mono_ms() + pgwriter__backoff_ms(w->attempt++, next_rnd(w));
}

static int connect_db(struct pgwriter *w)
{
	const char *kw[] = {"connect_timeout", "fallback_application_name", "dbname", NULL};
	const char *val[] = {"5", "httplat", w->conninfo, NULL};
	enum txn_result r;

	if (!w->conninfo || !*w->conninfo)
		kw[2] = NULL; /* libpq's PG* variables and ~/.pgpass */
	w->conn = PQconnectdbParams(kw, val, 1);
	if (!w->conn || PQstatus(w->conn) != CONNECTION_OK) {
		set_error(w, NULL, w->conn ? PQerrorMessage(w->conn) : "out of memory");
		goto fail;
	}
	pthread_mutex_lock(&w->mu);
	w->sock = PQsocket(w->conn); /* the watchdog covers the schema and maintenance too */
	w->sock_shut = 0;
	pthread_mutex_unlock(&w->mu);
	PQsetNoticeProcessor(w->conn, quiet_notice, NULL);
	/* rows are UTF-8 whatever PGCLIENTENCODING says; the server converts to its encoding */
	if (PQsetClientEncoding(w->conn, "UTF8")) {
		set_error(w, NULL, PQerrorMessage(w->conn));
		goto fail;
	}
	r = apply_schema(w);
	if (r == TXN_OK)
		r = exec_cmd(w,
			     "CREATE TEMP TABLE IF NOT EXISTS httplat_stage_1m "
			     "(LIKE http_requests_1m) ON COMMIT DELETE ROWS",
			     0, NULL);
	if (r == TXN_OK)
		r = maintain(w);
	if (r != TXN_OK)
		goto fail;
	w->next_maint_ms = mono_ms() + MAINT_MS;
	pthread_mutex_lock(&w->mu);
	w->st.connected = 1;
	w->ever_connected = 1;
	if (w->attempt)
		w->st.reconnects++;
	pthread_mutex_unlock(&w->mu);
	if (!w->announced)
		wlog("connected to %s:%s database %s as %s", PQhost(w->conn), PQport(w->conn),
		     PQdb(w->conn), PQuser(w->conn));
	w->announced = 1;
	return 0;
fail:
	log_failure(w, "cannot connect");
	disconnect(w);
	backoff(w);
	return -1;
}

/* Row boundaries of one part into w->lines (n + 1 offsets); the row count, 0 on failure. */
static size_t split_rows(struct pgwriter *w, const struct pgbuf *p, enum pgbatch_part part)
{
	size_t n = 0;

	for (size_t off = 0; off < p->len; n++) {
		long next;

		if (n + 2 > w->lines_cap) {
			size_t cap = w->lines_cap ? w->lines_cap * 2 : 1024;
			size_t *l = realloc(w->lines, cap * sizeof(*l));

			if (!l)
				return 0;
			w->lines = l;
			w->lines_cap = cap;
		}
		w->lines[n] = off;
		if (part_binary(part)) {
			next = pgcopy__bin_next(p->data, p->len, off);
			if (next < 0)
				return 0; /* cannot happen for our own tuples */
		} else {
			const char *nl = memchr(p->data + off, '\n', p->len - off);

			next = nl ? nl - p->data + 1 : (long)p->len;
		}
		off = (size_t)next;
	}
	if (n)
		w->lines[n] = p->len;
	return n;
}

/* A rejected row for the log: text rows as they are, binary rows by their text fields. */
static void describe_row(const char *row, size_t len, enum pgbatch_part part, char *out,
			 size_t outsz)
{
	const unsigned char *u = (const unsigned char *)row;
	size_t o = 0, off = 2;

	if (!part_binary(part)) {
		snprintf(out, outsz, "%.*s", (int)(len && row[len - 1] == '\n' ? len - 1 : len),
			 row);
		return;
	}
	out[0] = 0;
	for (int f = 0; f < PGCOPY_REQUESTS_NCOLS && off + 4 <= len; f++) {
		uint32_t flen = (uint32_t)u[off] << 24 | (uint32_t)u[off + 1] << 16 |
				(uint32_t)u[off + 2] << 8 | u[off + 3];

		off += 4;
		if (flen == 0xffffffffu)
			continue;
		if (flen > len - off)
			break;
		if (f >= 1 && f <= 6 && o + 2 < outsz) /* host, api, method, route, path, query */
			o += (size_t)snprintf(out + o, outsz - o, "%s%.*s", o ? " " : "",
					      (int)(flen < outsz - o - 2 ? flen : outsz - o - 2),
					      row + off);
		off += flen;
	}
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
}

static void count_rows(struct pgwriter *w, enum pgbatch_part part, enum txn_result r, uint64_t n)
{
	pthread_mutex_lock(&w->mu);
	if (part == PGB_REQUESTS) {
		if (r == TXN_OK)
			w->st.rows_written += n;
		else if (r == TXN_DUP)
			w->st.rows_dup += n;
		else
			w->st.rows_rejected += n;
	} else if (part == PGB_ALERTS && r == TXN_OK) {
		w->st.alerts_written += n;
	} else if (part == PGB_HEALTH && r == TXN_OK) {
		w->st.health_written += n;
	} else if (r == TXN_DATA) {
		w->st.other_dropped += n;
	}
	pthread_mutex_unlock(&w->mu);
}

/*
 * Lines [lo, hi) of one part, bisected until the bad rows stand alone. Each
 * piece has its own id (part, lo, hi), so a retry after a lost connection
 * skips pieces already committed. 0, or -EAGAIN (connection trouble).
 */
static int send_range(struct pgwriter *w, const struct pgbatch *b, enum pgbatch_part part,
		      size_t lo, size_t hi)
{
	const struct pgbuf *p = &b->part[part];
	struct segment seg = {part, p->data + w->lines[lo], w->lines[hi] - w->lines[lo]};
	uint64_t sub = ((uint64_t)(part + 1) << 56) | ((uint64_t)lo << 28) | hi;
	enum txn_result r = txn(w, b, sub, (uint32_t)(hi - lo), &seg, 1);
	size_t mid;

	switch (r) {
	case TXN_OK:
	case TXN_DUP:
		count_rows(w, part, r, hi - lo);
		return 0;
	case TXN_DATA:
		if (hi - lo == 1) {
			char row[300];

			describe_row(seg.data, seg.len, part, row, sizeof(row));
			wlog("row rejected (%s %s): %s", w->err_state, w->err_msg, row);
			count_rows(w, part, r, 1);
			return 0;
		}
		mid = lo + (hi - lo) / 2;
		return send_range(w, b, part, lo, mid) ?: send_range(w, b, part, mid, hi);
	default:
		return -EAGAIN;
	}
}

/* The batch failed on a bad row: write it piece by piece, then rebuild its rollup minutes. */
static int send_split(struct pgwriter *w, const struct pgbatch *b)
{
	static const enum pgbatch_part parts[] = {PGB_REQUESTS, PGB_ALERTS, PGB_HEALTH};
	char from[40], to[40];
	const char *params[] = {w->host, from, to};
	enum txn_result r;

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		size_t n = split_rows(w, &b->part[parts[i]], parts[i]);
		int err;

		if (!n && b->part[parts[i]].len)
			return -EAGAIN; /* no memory for the line index: retry later */
		err = n ? send_range(w, b, parts[i], 0, n) : 0;
		if (err)
			return err;
	}
	if (!b->rows[PGB_REQUESTS])
		return 0;
	pgcopy__ts(from, sizeof(from), b->first_ns);
	pgcopy__ts(to, sizeof(to), b->last_ns + MINUTE_NS);
	r = exec_cmd(w, "SELECT httplat_reroll($1, $2::timestamptz, $3::timestamptz)", 3, params);
	return r == TXN_OK ? 0 : -EAGAIN;
}

/* Writes one batch. 0 when it is in the database (or rejected row by row), else -EAGAIN. */
static int deliver(struct pgwriter *w, const struct pgbatch *b)
{
	struct segment seg[PGB__COUNT];
	enum txn_result r = TXN_OK;
	int tries = 0;

	if (!w->conn && (mono_ms() < w->next_connect_ms || connect_db(w)))
		return -EAGAIN;
	for (int i = 0; i < PGB__COUNT; i++)
		seg[i] = (struct segment){(enum pgbatch_part)i, b->part[i].data, b->part[i].len};
again:
	if (b->rows[PGB_REQUESTS])
		r = ensure_days(w, day_of(b->first_ns), day_of(b->last_ns));
	if (r == TXN_OK)
		r = txn(w, b, 0, b->rows[PGB_REQUESTS], seg, PGB__COUNT);
	pthread_mutex_lock(&w->mu);
	w->st.batches++;
	if (r != TXN_OK && r != TXN_DUP)
		w->st.db_errors++;
	pthread_mutex_unlock(&w->mu);
	switch (r) {
	case TXN_OK:
	case TXN_DUP:
		w->attempt = 0; /* healthy again: the next failure backs off from the start */
		w->logged_err[0] = 0;
		count_rows(w, PGB_REQUESTS, r, b->rows[PGB_REQUESTS]);
		count_rows(w, PGB_ALERTS, r, b->rows[PGB_ALERTS]);
		count_rows(w, PGB_HEALTH, r, b->rows[PGB_HEALTH]);
		return 0;
	case TXN_DATA:
		if (!strcmp(w->err_state, "23514") && !tries++) {
			w->ens_lo = 1; /* no partition for a row: maybe dropped meanwhile */
			w->ens_hi = 0;
			goto again;
		}
		if (!send_split(w, b))
			return 0;
		break;
	default:
		break;
	}
	/* a fresh connection after the backoff also resets any session state */
	log_failure(w, "write failed");
	disconnect(w);
	backoff(w);
	return -EAGAIN;
}

static void update_spool_stats(struct pgwriter *w)
{
	struct spool_stats ss = {};

	if (w->spool) {
		pthread_mutex_lock(&w->spool_mu);
		spool__stats(w->spool, &ss);
		pthread_mutex_unlock(&w->spool_mu);
	}
	pthread_mutex_lock(&w->mu);
	w->st.rows_spooled = ss.rows;
	w->st.spool_bytes = ss.bytes;
	w->st.spool_files = ss.files;
	w->st.spool_bad_files = ss.bad_files;
	pthread_mutex_unlock(&w->mu);
}

/* Under mu: moves the oldest queued batches to disk until memory is down to keep bytes. */
static void spool_excess(struct pgwriter *w, uint64_t keep, int drop_rest)
{
	struct pgbatch *b;

	while (w->mem_bytes > keep && (b = dequeue(w))) {
		uint64_t bytes = pgbatch__bytes(b);
		int err;

		w->spooling++;
		pthread_mutex_unlock(&w->mu);
		err = -ENOSPC;
		if (w->spool) {
			pthread_mutex_lock(&w->spool_mu);
			err = spool__write(w->spool, b);
			pthread_mutex_unlock(&w->spool_mu);
		}
		update_spool_stats(w);
		pthread_mutex_lock(&w->mu);
		w->spooling--;
		if (err && !drop_rest) {
			enqueue_head(w, b);
			return;
		}
		if (!err && !w->spool_logged) {
			wlog("database away: spooling batches to %s", w->o.spool_dir);
			w->spool_logged = 1;
		}
		if (err) {
			w->st.rows_dropped += b->rows[PGB_REQUESTS];
			w->st.other_dropped += b->rows[PGB_ALERTS] + b->rows[PGB_HEALTH];
			wlog("dropped %u rows at exit: database away and %s", b->rows[PGB_REQUESTS],
			     w->spool ? "spool full or failing" : "no spool");
		}
		w->st.rows_queued -= b->rows[PGB_REQUESTS];
		w->mem_bytes -= bytes;
		batch_put(w, b);
	}
}

/* Under mu: spool files wait to be written. */
static int spool_pending(struct pgwriter *w)
{
	return w->st.spool_files > 0;
}

/* Connected and idle: writes the oldest spool file. Not under mu. */
static void replay_one(struct pgwriter *w)
{
	int err, pending;

	if (!w->replay && !(w->replay = calloc(1, sizeof(*w->replay))))
		return;
	pthread_mutex_lock(&w->spool_mu);
	err = spool__read_oldest(w->spool, w->replay);
	pthread_mutex_unlock(&w->spool_mu);
	if (!err && !deliver(w, w->replay)) {
		pthread_mutex_lock(&w->spool_mu);
		err = spool__remove_oldest(w->spool);
		pthread_mutex_unlock(&w->spool_mu);
		w->replayed += w->replay->rows[PGB_REQUESTS];
	} else if (err && err != -ENOENT) {
		wlog("spool: cannot read: %s", strerror(-err));
	}
	update_spool_stats(w);
	pthread_mutex_lock(&w->mu);
	pending = spool_pending(w);
	pthread_mutex_unlock(&w->mu);
	if (!pending && w->replayed) {
		wlog("spool replayed: %llu rows", (unsigned long long)w->replayed);
		w->replayed = 0;
		w->spool_logged = 0;
	}
}

static void wait_ms(pthread_cond_t *cond, struct pgwriter *w, int64_t ms)
{
	struct timespec until;

	if (ms <= 0)
		return;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(cond, &w->mu, &until);
}

/*
 * The spooler: while the writer is away at the database (disconnected, or a
 * call taking longer than SPOOL_BUSY_MS) and memory is half full, it seals
 * batches by age and moves the oldest to the spool, so memory does not fill
 * behind a slow database. A call
 * that takes longer than db_timeout_ms gets its socket shut: libpq then
 * fails it as a lost connection and the batch is retried (its id prevents
 * a double write).
 */
static void *spooler_main(void *arg)
{
	struct pgwriter *w = arg;
	int64_t now, busy;

	pthread_mutex_lock(&w->mu);
	while (!w->writer_done) { /* also during stop: a hung database must not hang the exit */
		now = mono_ms();
		busy = w->busy_since_ms ? now - w->busy_since_ms : 0;
		if (busy > w->o.db_timeout_ms && w->sock >= 0 && !w->sock_shut) {
			shutdown(w->sock, SHUT_RDWR); /* the fd stays open: libpq closes it */
			w->sock_shut = 1;
			wlog("the database did not answer for %lld ms: dropping the connection",
			     (long long)busy);
		}
		if (!w->st.connected || busy > SPOOL_BUSY_MS) {
			if (w->open && now - w->open_since_ms >= (int64_t)w->o.flush_ms)
				seal(w);
			spool_excess(w, w->o.mem_max / 2, 0);
		}
		wait_ms(&w->tick, w, 100);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void *writer_main(void *arg)
{
	struct pgwriter *w = arg;
	int64_t stop_deadline = 0, now;
	struct pgbatch *b;
	int err;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		now = mono_ms();
		if (w->stop && !stop_deadline)
			stop_deadline = now + w->o.stop_timeout_ms;
		if (w->open &&
		    (w->stop || w->flushers || now - w->open_since_ms >= (int64_t)w->o.flush_ms))
			seal(w);
		if (!w->head && !w->open)
			pthread_cond_broadcast(&w->idle);
		if (w->stop &&
		    (!w->head || now >= stop_deadline || (!w->conn && now < w->next_connect_ms)))
			break; /* done, out of time, or the database is away: spool the rest */
		if (w->head && (w->conn || now >= w->next_connect_ms)) {
			b = w->inflight = dequeue(w);
			w->busy_since_ms = now;
			pthread_mutex_unlock(&w->mu);
			err = deliver(w, b);
			pthread_mutex_lock(&w->mu);
			w->busy_since_ms = 0;
			w->inflight = NULL;
			if (err) {
				enqueue_head(w, b);
				if (w->stop)
					break; /* database away at exit: spool the rest */
				continue;
			}
			w->st.rows_queued -= b->rows[PGB_REQUESTS];
			w->mem_bytes -= pgbatch__bytes(b);
			batch_put(w, b);
			continue;
		}
		if (!w->head && w->conn && !w->stop && spool_pending(w)) {
			w->busy_since_ms = now;
			pthread_mutex_unlock(&w->mu);
			replay_one(w);
			pthread_mutex_lock(&w->mu);
			w->busy_since_ms = 0;
			continue;
		}
		if (w->conn && now >= w->next_maint_ms && !w->stop) {
			w->busy_since_ms = now;
			pthread_mutex_unlock(&w->mu);
			if (maintain(w) != TXN_OK)
				log_failure(w, "maintenance failed");
			w->next_maint_ms = now + MAINT_MS;
			pthread_mutex_lock(&w->mu);
			w->busy_since_ms = 0;
			continue;
		}
		if (!w->head && !w->stop && !w->conn && now >= w->next_connect_ms &&
		    (!w->ever_connected || spool_pending(w))) {
			w->busy_since_ms = now;
			pthread_mutex_unlock(&w->mu);
			connect_db(w); /* schema at start, or the spool wants replaying */
			pthread_mutex_lock(&w->mu);
			w->busy_since_ms = 0;
			continue;
		}
		wait_ms(&w->wake, w,
			w->head && !w->conn && w->next_connect_ms - now < 50
			    ? w->next_connect_ms - now
			    : 50);
	}
	seal(w);
	spool_excess(w, 0, 1);
	w->writer_done = 1;
	pthread_cond_signal(&w->tick);
	pthread_cond_broadcast(&w->idle);
	pthread_mutex_unlock(&w->mu);
	disconnect(w);
	return NULL;
}

struct pgwriter *pgwriter__new(const struct pgwriter_opts *o)
{
	struct pgwriter *w = calloc(1, sizeof(*w));
	int err = 0;

	if (!w)
		return NULL;
	w->o = *o;
	pgwriter_opts__defaults(&w->o);
	pthread_mutex_init(&w->mu, NULL);
	pthread_mutex_init(&w->spool_mu, NULL);
	pthread_cond_init(&w->wake, NULL);
	pthread_cond_init(&w->idle, NULL);
	pthread_cond_init(&w->tick, NULL);
	w->sock = -1;
	w->ens_lo = 1; /* empty range */
	snprintf(w->host, sizeof(w->host), "%s", o->host && *o->host ? o->host : "unknown");
	w->conninfo = o->conninfo ? strdup(o->conninfo) : NULL;
	w->rollup = pgrollup__new();
	if ((o->conninfo && !w->conninfo) || !w->rollup) {
		err = -ENOMEM;
		goto cleanup;
	}
	if (getrandom(&w->writer_id, sizeof(w->writer_id), 0) != sizeof(w->writer_id))
		w->writer_id = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid();
	w->writer_id &= INT64_MAX; /* stored as bigint */
	w->rnd = w->writer_id | 1;
	if (o->spool_dir && *o->spool_dir) {
		w->spool = spool__open(o->spool_dir, w->o.spool_max);
		if (!w->spool) {
			err = -errno;
			goto cleanup;
		}
		update_spool_stats(w);
	}
	err = -pthread_create(&w->thread, NULL, writer_main, w);
	if (!err)
		w->started = 1;
	if (!err)
		err = -pthread_create(&w->spooler, NULL, spooler_main, w);
	if (!err)
		w->spooler_started = 1;
cleanup:
	if (err) {
		pgwriter__free(w);
		errno = -err;
		return NULL;
	}
	return w;
}

void pgwriter__stop(struct pgwriter *w)
{
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	if (!w->started)
		w->writer_done = 1;
	pthread_cond_signal(&w->wake);
	pthread_cond_signal(&w->tick);
	pthread_mutex_unlock(&w->mu);
	if (w->started)
		pthread_join(w->thread, NULL); /* writes or spools what is left */
	w->started = 0;
	if (w->spooler_started)
		pthread_join(w->spooler, NULL);
	w->spooler_started = 0;
	/* a batch the spooler put back while the writer was finishing: lost, but counted */
	pthread_mutex_lock(&w->mu);
	spool_excess(w, 0, 1);
	pthread_mutex_unlock(&w->mu);
}

void pgwriter__free(struct pgwriter *w)
{
	struct pgbatch *b;

	if (!w)
		return;
	pgwriter__stop(w);
	disconnect(w);
	while ((b = dequeue(w)))
		pgbatch__free(b);
	while ((b = w->free_list)) {
		w->free_list = b->next;
		pgbatch__free(b);
	}
	pgbatch__free(w->open);
	pgbatch__free(w->replay);
	pgrollup__free(w->rollup);
	spool__close(w->spool);
	free(w->lines);
	free(w->conninfo);
	pthread_cond_destroy(&w->tick);
	pthread_cond_destroy(&w->idle);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->mu);
	pthread_mutex_destroy(&w->spool_mu);
	free(w);
}
