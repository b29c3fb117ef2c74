/* test_pgwriter.c: error classes, backoff, sizes; the writer against a fake database that fails
 * where told (lost connection mid-COPY, duplicate batch id, bad rows, a hung call); no-loss
 * accounting with the database away. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "fakepq.h"
#include "pgschema.h"
#include "pgsession.h"
#include "pgwriter.h"
#include "spool.h"

/* A conninfo that fails at once: a socket directory that does not exist. */
#define NO_DB "host=/nonexistent/httplat-test port=1 dbname=x connect_timeout=1"

static void test_classify(void)
{
	CHECK_INT(pgsess__classify(NULL, 0), PGERR_CONN);	/* socket broke, no server error */
	CHECK_INT(pgsess__classify("08006", 0), PGERR_CONN);	/* connection failure */
	CHECK_INT(pgsess__classify("57P01", 0), PGERR_CONN);	/* admin shutdown */
	CHECK_INT(pgsess__classify("22P02", 1), PGERR_CONN);	/* connection gone wins */
	CHECK_INT(pgsess__classify("22021", 0), PGERR_DATA);	/* bad byte for encoding */
	CHECK_INT(pgsess__classify("22P04", 0), PGERR_DATA);	/* bad COPY format */
	CHECK_INT(pgsess__classify("23514", 0), PGERR_DATA);	/* no partition for the row */
	CHECK_INT(pgsess__classify("42501", 0), PGERR_FATAL); /* permission: no retry fixes it */
	CHECK_INT(pgsess__classify("42P01", 0), PGERR_RETRY); /* table missing */
	CHECK_INT(pgsess__classify("53100", 0), PGERR_RETRY); /* disk full */
	CHECK_INT(pgsess__classify("", 0), PGERR_CONN);
}

static void test_backoff(void)
{
	CHECK_INT(pgsess__backoff_ms(0, 0.5), 200);
	CHECK_INT(pgsess__backoff_ms(1, 0.5), 400);
	CHECK_INT(pgsess__backoff_ms(0, 0.0), 100);
	CHECK(pgsess__backoff_ms(0, 0.999) < 300);
	CHECK_INT(pgsess__backoff_ms(5, 0.5), 5000); /* capped */
	CHECK_INT(pgsess__backoff_ms(1000, 0.5), 5000);
	CHECK(pgsess__backoff_ms(1000, 0.999) < 7500);
}

static struct record sample(int i)
{
	struct record r = {.ts_ns = 1709210096000000000LL + i, .duration_ms = 1, .status = 200};

	strcpy(r.method, "GET");
	snprintf(r.path, sizeof(r.path), "/data/items/%d", i);
	strcpy(r.route, "/data/items/{id}");
	strcpy(r.api, "data");
	return r;
}


/* ---- through the seam: a fake database ---- */

static struct record row_n(int i, const char *marker)
{
	struct record r = sample(i);

	snprintf(r.path, sizeof(r.path), "/data/items%s/%d", marker ? marker : "", i);
	return r;
}

static void rm_dir(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK_INT(system(cmd), 0);
}

/* A writer on the fake database (spool in a fresh directory when spool is set). */
static struct pgwriter *fake_writer(int batch_rows, int db_timeout_ms, char *spool)
{
	struct pgwriter_opts o = {.host = "t", .batch_rows = (uint32_t)batch_rows, .flush_ms = 20,
				  .db_timeout_ms = db_timeout_ms, .api = &fake_api};

	if (spool) {
		snprintf(spool, 64, "/tmp/httplat-pgw-fake-%d", (int)getpid());
		o.spool_dir = spool;
	}
	return pgwriter__new(&o);
}

static void push_rows(struct pgwriter *w, int n, int bad_from, int bad_to)
{
	for (int i = 0; i < n; i++) {
		struct record r = row_n(i, i >= bad_from && i < bad_to ? "-BAD" : NULL);

		while (pgwriter__push(w, &r))
			usleep(1000);
	}
}

/* Waits (up to 10 s) until n request rows are written, then for the queue to drain. */
static void wait_written(struct pgwriter *w, uint64_t n)
{
	struct pgwriter_stats st;

	for (int i = 0; i < 200; i++) {
		pgwriter__stats(w, &st);
		if (st.rows_written == n)
			break;
		usleep(50000);
	}
	CHECK_INT(pgwriter__flush(w, 10000), 0);
}

/* Every one of rows [0, n) is stored once, except [skip_from, skip_to). */
static int each_once(const struct fake_db *db, int n, int skip_from, int skip_to)
{
	for (int i = 0; i < n; i++)
		if (db->seen[i] != (i >= skip_from && i < skip_to ? 0 : 1)) {
			printf("  row %d stored %d times\n", i, db->seen[i]);
			return 0;
		}
	return 1;
}

static void test_fake_writes_every_row(void)
{
	struct fake_db db;
	struct pgwriter_stats st;
	struct pgwriter *w;

	fake_db__use(&db, pgschema__latest(), pgschema__latest());
	w = fake_writer(100, 0, NULL);
	CHECK(w != NULL);
	push_rows(w, 1000, -1, -1);
	CHECK_INT(pgwriter__flush(w, 10000), 0);
	pgwriter__stats(w, &st);
	CHECK_INT(st.rows_written, 1000);
	CHECK_INT(st.rows_dup + st.rows_rejected + st.rows_dropped + st.db_errors, 0);
	CHECK_INT(st.batches, 10);
	CHECK(st.connected);
	pgwriter__free(w);
	CHECK_INT(db.rows, 1000);
	CHECK(each_once(&db, 1000, 0, 0));
	CHECK_INT(db.nids, 10);
	CHECK(db.rollup_lines >= 10);
	CHECK_INT(db.connects, 1);
}

static void test_fake_duplicate_batch_skipped(void)
{
	struct fake_db db;
	struct pgwriter_stats st;
	struct pgwriter *w;

	fake_db__use(&db, pgschema__latest(), pgschema__latest());
	db.dup_batches = 1; /* the first batch's id is already there: committed by an earlier try */
	w = fake_writer(100, 0, NULL);
	push_rows(w, 300, -1, -1);
	CHECK_INT(pgwriter__flush(w, 10000), 0);
	pgwriter__stats(w, &st);
	CHECK_INT(st.rows_dup, 100);
	CHECK_INT(st.rows_written, 200);
	pgwriter__free(w);
	CHECK_INT(db.rows, 200); /* not written a second time */
	CHECK(each_once(&db, 300, 0, 100));
}

static void test_fake_commit_answer_lost(void)
{
	struct fake_db db;
	struct pgwriter_stats st;
	struct pgwriter *w;

	fake_db__use(&db, pgschema__latest(), pgschema__latest());
	db.commit_then_lose = 1; /* committed, but the connection breaks before the answer */
	w = fake_writer(100, 0, NULL);
	push_rows(w, 100, -1, -1);
	CHECK_INT(pgwriter__flush(w, 10000), 0);
	pgwriter__stats(w, &st);
	CHECK_INT(st.rows_dup, 100); /* the retry found its id: skipped */
	CHECK_INT(st.rows_written, 0);
	CHECK_INT(st.reconnects, 1);
	pgwriter__free(w);
	CHECK_INT(db.rows, 100);
	CHECK(each_once(&db, 100, 0, 0));
	CHECK_INT(db.connects, 2);
}

static void test_fake_bad_rows_bisected(void)
{
	struct fake_db db;
	struct pgwriter_stats st;
	struct pgwriter *w;

	fake_db__use(&db, pgschema__latest(), pgschema__latest());
	db.bad_marker = "-BAD";
	w = fake_writer(200, 0, NULL);
	push_rows(w, 200, 37, 39); /* rows 37 and 38 cannot be stored */
	CHECK_INT(pgwriter__flush(w, 10000), 0);
	pgwriter__stats(w, &st);
	CHECK_INT(st.rows_rejected, 2);
	CHECK_INT(st.rows_written, 198);
	pgwriter__free(w);
	CHECK(each_once(&db, 200, 37, 39));
	CHECK_INT(db.rerolls, 1); /* the rollup minutes rebuilt without the rejected rows */
	/* every piece committed under an id of its own */
	for (int i = 0; i < db.nids; i++)
		for (int j = i + 1; j < db.nids; j++)
			CHECK(db.ids[i].seq != db.ids[j].seq || db.ids[i].sub != db.ids[j].sub);
}

static void test_fake_connection_lost_mid_copy(void)
{
	struct fake_db db;
	struct pgwriter_stats st;
	struct pgwriter *w;

	fake_db__use(&db, pgschema__latest(), pgschema__latest());
	db.putcopy_lose_at = 2; /* the request data, after the COPY header */
	w = fake_writer(100, 0, NULL);
	push_rows(w, 300, -1, -1);
	CHECK_INT(pgwriter__flush(w, 10000), 0);
	pgwriter__stats(w, &st);
	CHECK_INT(st.rows_written, 300);
	CHECK_INT(st.db_errors, 1);
	CHECK_INT(st.reconnects, 1);
	pgwriter__free(w);
	CHECK(each_once(&db, 300, 0, 0));
}

/*
 * PQputCopyData fails while the connection stays in COPY IN: psql's way is
 * to end the COPY with an error message and drain the results; draining
 * without ending it gets PGRES_COPY_IN forever.
 */
static void test_fake_copy_data_fails_ends_copy(void)
{
	struct fake_db db;
	struct pgwriter_stats st;
	struct pgwriter *w;

	fake_db__use(&db, pgschema__latest(), pgschema__latest());
	db.putcopy_fail_at = 2;
	w = fake_writer(100, 0, NULL);
	push_rows(w, 300, -1, -1);
	CHECK_INT(pgwriter__flush(w, 20000), 0);
	pgwriter__stats(w, &st);
	CHECK_INT(st.rows_written, 300); /* the batch retried */
	CHECK_INT(st.db_errors, 1);
	pgwriter__free(w);
	CHECK(each_once(&db, 300, 0, 0));
	CHECK_INT(db.copy_aborts, 1); /* PQputCopyEnd with a reason */
	CHECK(db.copy_in_loops < 5);  /* never stuck in COPY mode */
}

/* Even when ending the COPY fails again and again, the session gives up rather than loops. */
static void test_session_copy_never_stuck(void)
{
	struct pgchunk data[] = {{"1\t2\n", 4}, {"3\t4\n", 4}};
	struct fake_db db;
	struct pgsess s;

	fake_db__use(&db, pgschema__latest(), pgschema__latest());
	db.putcopy_fail_at = 1;
	db.putcopy_end_fails = 1000;
	pgsess__init(&s, &fake_api, "", 1);
	CHECK_INT(pgsess__open(&s), PGR_OK);
	CHECK_INT(pgsess__copy(&s, "COPY alerts (ts) FROM STDIN", data, 2), PGR_CONN);
	CHECK(db.copy_in_loops <= 4);
	CHECK(strstr(s.msg, "could not send") != NULL);
	pgsess__destroy(&s);

	fake_db__use(&db, pgschema__latest(), pgschema__latest()); /* and a clean COPY ends with its result */
	pgsess__init(&s, &fake_api, "", 1);
	CHECK_INT(pgsess__open(&s), PGR_OK);
	CHECK_INT(pgsess__copy(&s, "COPY alerts (ts) FROM STDIN", data, 2), PGR_OK);
	CHECK_INT(db.copy_in_loops, 0);
	pgsess__destroy(&s);
}

static void test_fake_hung_call_dropped(void)
{
	struct fake_db db;
	struct pgwriter_stats st;
	struct pgwriter *w;
	char spool[64];

	fake_db__use(&db, pgschema__latest(), pgschema__latest());
	db.hang_prefix = "COMMIT";
	db.hangs = 1;
	w = fake_writer(100, 300, spool); /* a call taking over 300 ms loses its connection */
	push_rows(w, 300, -1, -1);
	CHECK_INT(pgwriter__flush(w, 20000), 0);
	pgwriter__stats(w, &st);
	CHECK_INT(db.hung, 1);
	CHECK_INT(st.rows_written, 300);
	CHECK_INT(st.rows_dropped, 0);
	CHECK(st.reconnects >= 1);
	pgwriter__free(w);
	CHECK(each_once(&db, 300, 0, 0));
	rm_dir(spool);
}

static void test_fake_database_back_replays_spool(void)
{
	struct fake_db db;
	struct pgwriter_stats st;
	struct pgwriter *w;
	char spool[64];

	fake_db__use(&db, pgschema__latest(), pgschema__latest());
	db.refuse_connects = 4; /* away for a while (backoff 0.1-0.3 s, 0.2-0.6 s, ...) */
	w = fake_writer(100, 0, spool);
	push_rows(w, 500, -1, -1);
	wait_written(w, 500); /* until it is back and the spool replayed */
	pgwriter__stats(w, &st);
	CHECK_INT(st.rows_written, 500);
	CHECK_INT(st.rows_spooled + st.rows_queued + st.rows_dropped, 0);
	pgwriter__free(w);
	CHECK(each_once(&db, 500, 0, 0));
	CHECK_INT(db.connects, 5);
	rm_dir(spool);
}

static void test_fake_schema_applied_once(void)
{
	struct fake_db db;
	struct pgwriter_stats st;
	struct pgwriter *w;

	fake_db__use(&db, 0, pgschema__latest()); /* an empty database */
	w = fake_writer(100, 0, NULL);
	push_rows(w, 200, -1, -1);
	CHECK_INT(pgwriter__flush(w, 10000), 0);
	pgwriter__stats(w, &st);
	CHECK_INT(st.rows_written, 200);
	CHECK(!pgwriter__fatal(w, NULL, 0));
	pgwriter__free(w);
	CHECK_INT(db.migrations, 1); /* prepare, migrations and functions: one statement */
}

/* Waits until the writer gives up; 1 when it did within a few seconds. */
static int wait_fatal(struct pgwriter *w, char *msg, size_t msgsz)
{
	for (int i = 0; i < 100; i++) {
		if (pgwriter__fatal(w, msg, msgsz))
			return 1;
		usleep(50000);
	}
	return 0;
}

/* A table in the way that is not httplat's: refused at once, never retried, rows kept. */
static void test_fake_schema_conflict_is_fatal(void)
{
	struct pgwriter_stats st;
	struct fake_db db;
	struct pgwriter *w;
	char spool[64], msg[768] = "";

	fake_db__use(&db, 0, pgschema__latest());
	db.fail_match = "-- 000_prepare";
	db.fail_state = "42P07";
	db.fails = 1000;
	w = fake_writer(100, 0, spool);
	push_rows(w, 300, -1, -1);
	CHECK(wait_fatal(w, msg, sizeof(msg)));
	CHECK(strstr(msg, "42P07") != NULL);
	usleep(300000); /* no second attempt */
	pgwriter__stop(w);
	pgwriter__stats(w, &st);
	CHECK_INT(db.connects, 1);
	CHECK_INT(st.rows_written + st.rows_dropped, 0);
	CHECK_INT(st.rows_spooled, 300); /* safe for the next start */
	CHECK(!st.connected);
	pgwriter__free(w);
	rm_dir(spool);
}

/* A privilege taken away while running: the writer stops writing, spools, says why. */
static void test_fake_privilege_lost_is_fatal(void)
{
	struct pgwriter_stats st;
	struct fake_db db;
	struct pgwriter *w;
	char spool[64], msg[768] = "";

	fake_db__use(&db, pgschema__latest(), pgschema__latest());
	w = fake_writer(100, 0, spool);
	push_rows(w, 100, -1, -1);
	CHECK_INT(pgwriter__flush(w, 10000), 0);
	db.fail_match = "httplat_batches (";
	db.fail_state = "42501";
	db.fails = 1;
	push_rows(w, 100, -1, -1);
	CHECK(wait_fatal(w, msg, sizeof(msg)));
	CHECK(strstr(msg, "42501") != NULL && strstr(msg, "pg-roles.sh") != NULL);
	pgwriter__stop(w);
	pgwriter__stats(w, &st);
	CHECK_INT(st.rows_written, 100);
	CHECK_INT(st.rows_spooled, 100);
	CHECK_INT(st.rows_dropped, 0);
	pgwriter__free(w);
	rm_dir(spool);
}

/* Rollup only: no request rows, every request counted in the rollup, through the spool too. */
static void test_fake_rollup_only(void)
{
	char spool[64];
	struct pgwriter_opts o = {.host = "t", .batch_rows = 100, .flush_ms = 20, .rollup_only = 1,
				  .api = &fake_api, .spool_dir = spool};
	struct pgwriter_stats st;
	struct fake_db db;
	struct pgwriter *w;

	snprintf(spool, sizeof(spool), "/tmp/httplat-pgw-fake-%d", (int)getpid());
	fake_db__use(&db, pgschema__latest(), pgschema__latest());
	db.refuse_connects = 2; /* the first batches go through the spool */
	w = pgwriter__new(&o);
	push_rows(w, 500, -1, -1);
	wait_written(w, 500); /* until it is back and the spool replayed */
	pgwriter__stats(w, &st);
	CHECK_INT(st.rows_written, 500);
	CHECK_INT(st.rows_spooled + st.rows_queued + st.rows_dropped + st.rows_rejected, 0);
	pgwriter__free(w);
	CHECK_INT(db.rows, 0); /* no request row */
	CHECK(db.rollup_lines >= 5);
	rm_dir(spool);
}

static void on_alarm(int sig)
{
	(void)sig;
	printf("FAIL: a writer test hung\n");
	_exit(1);
}

static void test_database_away_spools_everything(void)
{
	char dir[64], cmd[96];
	struct pgwriter_opts o = {
	    .conninfo = NO_DB, .host = "t", .mem_max = 65536, .batch_rows = 100, .flush_ms = 10};
	struct pgwriter_stats st;
	struct spool_stats ss;
	struct pgwriter *w;
	struct spool *s;
	int refused = 0;

	snprintf(dir, sizeof(dir), "/tmp/httplat-pgw-test-%d", (int)getpid());
	o.spool_dir = dir;
	w = pgwriter__new(&o);
	CHECK(w != NULL);
	if (!w)
		return;
	for (int i = 0; i < 5000; i++) {
		struct record r = sample(i);

		/* the writer spools in the background; give it the time a real load would */
		while (pgwriter__push(w, &r)) {
			refused++;
			usleep(1000);
		}
	}
	pgwriter__stop(w);
	pgwriter__stats(w, &st);
	CHECK_INT(st.rows_written, 0);
	CHECK_INT(st.rows_dropped, (uint64_t)refused); /* only refused pushes, none lost inside */
	CHECK_INT(st.rows_spooled, 5000);
	CHECK_INT(st.rows_queued, 0);
	CHECK(st.last_error[0] != 0);
	pgwriter__free(w);
	s = spool__open(dir, 1 << 30); /* what the next start will replay */
	spool__stats(s, &ss);
	CHECK_INT(ss.rows, 5000);
	spool__close(s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK_INT(system(cmd), 0);
}

static void test_no_spool_total(void)
{
	struct pgwriter_opts o = {.conninfo = NO_DB, .host = "t", .mem_max = 65536};
	struct pgwriter_stats st;
	struct pgwriter *w = pgwriter__new(&o);
	int refused = 0;

	CHECK(w != NULL);
	if (!w)
		return;
	for (int i = 0; i < 5000; i++) {
		struct record r = sample(i);

		refused += pgwriter__push(w, &r) == -ENOBUFS;
	}
	CHECK(refused > 0 && refused < 5000); /* 64 KiB holds a few hundred rows */
	pgwriter__stop(w);		      /* the rest is lost at exit, and counted */
	pgwriter__stats(w, &st);
	CHECK_INT(st.rows_dropped, 5000);
	CHECK_INT(st.rows_written + st.rows_queued + st.rows_spooled, 0);
	pgwriter__free(w);
}

static void test_bad_spool_dir_fails_new(void)
{
	struct pgwriter_opts o = {
	    .conninfo = NO_DB, .host = "t", .spool_dir = "/proc/httplat-no-such/dir"};

	errno = 0;
	CHECK(pgwriter__new(&o) == NULL);
	CHECK(errno != 0);
}

int main(void)
{
	signal(SIGALRM, on_alarm);
	alarm(120);
	RUN(test_classify);
	RUN(test_backoff);
	RUN(test_fake_writes_every_row);
	RUN(test_fake_duplicate_batch_skipped);
	RUN(test_fake_commit_answer_lost);
	RUN(test_fake_bad_rows_bisected);
	RUN(test_fake_connection_lost_mid_copy);
	RUN(test_fake_copy_data_fails_ends_copy);
	RUN(test_session_copy_never_stuck);
	RUN(test_fake_hung_call_dropped);
	RUN(test_fake_database_back_replays_spool);
	RUN(test_fake_rollup_only);
	RUN(test_fake_schema_applied_once);
	RUN(test_fake_schema_conflict_is_fatal);
	RUN(test_fake_privilege_lost_is_fatal);
	RUN(test_database_away_spools_everything);
	RUN(test_no_spool_total);
	RUN(test_bad_spool_dir_fails_new);
	return CHECK_DONE();
}
