/* test_pgwriter.c: error classes, backoff, sizes, and no-loss accounting with the database away. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "pgwriter.h"
#include "spool.h"

/* A conninfo that fails at once: a socket directory that does not exist. */
#define NO_DB "host=/nonexistent/httplat-test port=1 dbname=x connect_timeout=1"

static void test_classify(void)
{
	CHECK_INT(pgwriter__classify(NULL, 0), PGERR_CONN);	/* socket broke, no server error */
	CHECK_INT(pgwriter__classify("08006", 0), PGERR_CONN);	/* connection failure */
	CHECK_INT(pgwriter__classify("57P01", 0), PGERR_CONN);	/* admin shutdown */
	CHECK_INT(pgwriter__classify("22P02", 1), PGERR_CONN);	/* connection gone wins */
	CHECK_INT(pgwriter__classify("22021", 0), PGERR_DATA);	/* bad byte for encoding */
	CHECK_INT(pgwriter__classify("22P04", 0), PGERR_DATA);	/* bad COPY format */
	CHECK_INT(pgwriter__classify("23514", 0), PGERR_DATA);	/* no partition for the row */
	CHECK_INT(pgwriter__classify("42501", 0), PGERR_RETRY); /* permission: never split */
	CHECK_INT(pgwriter__classify("42P01", 0), PGERR_RETRY); /* table missing */
	CHECK_INT(pgwriter__classify("53100", 0), PGERR_RETRY); /* disk full */
	CHECK_INT(pgwriter__classify("", 0), PGERR_CONN);
}

static void test_backoff(void)
{
	CHECK_INT(pgwriter__backoff_ms(0, 0.5), 200);
	CHECK_INT(pgwriter__backoff_ms(1, 0.5), 400);
	CHECK_INT(pgwriter__backoff_ms(0, 0.0), 100);
	CHECK(pgwriter__backoff_ms(0, 0.999) < 300);
	CHECK_INT(pgwriter__backoff_ms(5, 0.5), 5000); /* capped */
	CHECK_INT(pgwriter__backoff_ms(1000, 0.5), 5000);
	CHECK(pgwriter__backoff_ms(1000, 0.999) < 7500);
}

static void test_parse_size(void)
{
	uint64_t v = 0;

	CHECK_INT(pgwriter__parse_size("65536", &v), 0);
	CHECK_INT(v, 65536);
	CHECK_INT(pgwriter__parse_size("64K", &v), 0);
	CHECK_INT(v, 65536);
	CHECK_INT(pgwriter__parse_size("512M", &v), 0);
	CHECK_INT(v, 512ull << 20);
	CHECK_INT(pgwriter__parse_size("2GB", &v), 0);
	CHECK_INT(v, 2ull << 30);
	CHECK_INT(pgwriter__parse_size("", &v), -EINVAL);
	CHECK_INT(pgwriter__parse_size("-1", &v), -EINVAL);
	CHECK_INT(pgwriter__parse_size("12X", &v), -EINVAL);
	CHECK_INT(pgwriter__parse_size("99999999999999999999G", &v), -EINVAL);
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
	RUN(test_classify);
	RUN(test_backoff);
	RUN(test_parse_size);
	RUN(test_database_away_spools_everything);
	RUN(test_no_spool_total);
	RUN(test_bad_spool_dir_fails_new);
	return CHECK_DONE();
}
