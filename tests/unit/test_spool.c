/* test_spool.c: batch files: round trip, order, size bound, restart, damaged files. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "spool.h"

static char dir[64];

static void fresh_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (*dir && system(cmd))
		printf("  cleanup failed\n");
}

static void fill(struct pgbatch *b, uint64_t seq, int rows)
{
	struct record r = {.ts_ns = 1000, .status = 200, .duration_ms = 1};

	pgbatch__clear(b);
	b->writer = 0xabcdef;
	b->seq = seq;
	b->first_ns = 1000;
	b->last_ns = 2000 + (int64_t)seq;
	for (int i = 0; i < rows; i++) {
		snprintf(r.path, sizeof(r.path), "/row/%llu/%d", (unsigned long long)seq, i);
		pgcopy__request(&b->part[PGB_REQUESTS], &r, "h");
	}
	b->rows[PGB_REQUESTS] = (uint32_t)rows;
	pgbuf__append(&b->part[PGB_ROLLUP], "r\n", 2);
	b->rows[PGB_ROLLUP] = 1;
	pgbuf__append(&b->part[PGB_HEALTH], "h\n", 2);
	b->rows[PGB_HEALTH] = 1;
}

static int count_suffix(const char *suffix)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	while (d && (de = readdir(d))) {
		size_t l = strlen(de->d_name), s = strlen(suffix);

		n += l > s && !strcmp(de->d_name + l - s, suffix);
	}
	if (d)
		closedir(d);
	return n;
}

static void test_round_trip_oldest_first(void)
{
	struct pgbatch *b = calloc(1, sizeof(*b)), *got = calloc(1, sizeof(*got));
	struct spool_stats st;
	struct spool *s;

	fresh_dir();
	s = spool__open(dir, 1 << 20);
	CHECK(s != NULL);
	if (!s)
		goto cleanup;
	for (int i = 1; i <= 3; i++) {
		fill(b, (uint64_t)i, 10 * i);
		CHECK_INT(spool__write(s, b), 0);
	}
	spool__stats(s, &st);
	CHECK_INT(st.files, 3);
	CHECK_INT(st.rows, 60);
	for (int i = 1; i <= 3; i++) {
		CHECK_INT(spool__read_oldest(s, got), 0);
		fill(b, (uint64_t)i, 10 * i);
		CHECK_INT(got->seq, i);
		CHECK_INT(got->writer, 0xabcdef);
		CHECK_INT(got->last_ns, 2000 + i);
		CHECK_INT(got->rows[PGB_REQUESTS], 10 * i);
		CHECK_INT(got->part[PGB_REQUESTS].len, b->part[PGB_REQUESTS].len);
		CHECK(!memcmp(got->part[PGB_REQUESTS].data, b->part[PGB_REQUESTS].data,
			      b->part[PGB_REQUESTS].len));
		CHECK_INT(got->part[PGB_ALERTS].len, 0);
		CHECK_INT(got->part[PGB_HEALTH].len, 2);
		/* not removed until told: a failed replay reads it again */
		CHECK_INT(spool__read_oldest(s, got), 0);
		CHECK_INT(got->seq, i);
		CHECK_INT(spool__remove_oldest(s), 0);
	}
	CHECK_INT(spool__read_oldest(s, got), -ENOENT);
	CHECK_INT(count_suffix(".batch"), 0);
	spool__stats(s, &st);
	CHECK_INT(st.files, 0);
	CHECK_INT(st.bytes, 0);
cleanup:
	spool__close(s);
	pgbatch__free(b);
	pgbatch__free(got);
}

static void test_size_bound(void)
{
	struct pgbatch *b = calloc(1, sizeof(*b));
	struct spool_stats st;
	struct spool *s;
	int written = 0, err = 0;

	fresh_dir();
	size_t cols = 0;

	fill(b, 1, 5); /* rows, a header line and the four column lists */
	for (int i = 0; i < PGB__COUNT; i++)
		cols += strlen(pgbatch__cols(b, (enum pgbatch_part)i)) + 1;
	s = spool__open(dir, 4 * (pgbatch__bytes(b) + cols + 70));
	while (s && !(err = spool__write(s, b)) && written < 100)
		written++;
	CHECK_INT(err, -ENOSPC);
	CHECK_INT(written, 4);
	spool__stats(s, &st);
	CHECK(st.bytes <= 4 * (pgbatch__bytes(b) + cols + 70));
	CHECK_INT(count_suffix(".batch"), written);
	CHECK_INT(count_suffix(".tmp"), 0);
	spool__close(s);
	/* max 0: spooling off */
	s = spool__open(dir, 0);
	CHECK_INT(spool__write(s, b), -ENOSPC);
	spool__close(s);
	pgbatch__free(b);
}

static void test_reopen_finds_files(void)
{
	struct pgbatch *b = calloc(1, sizeof(*b));
	struct spool_stats st;
	struct spool *s;

	fresh_dir();
	s = spool__open(dir, 1 << 20);
	fill(b, 7, 5);
	spool__write(s, b);
	fill(b, 8, 6);
	spool__write(s, b);
	spool__close(s);
	s = spool__open(dir, 1 << 20); /* a restarted daemon */
	spool__stats(s, &st);
	CHECK_INT(st.files, 2);
	CHECK_INT(st.rows, 11);
	CHECK_INT(spool__read_oldest(s, b), 0);
	CHECK_INT(b->seq, 7);
	spool__close(s);
	pgbatch__free(b);
}

static void test_damaged_file_set_aside(void)
{
	struct pgbatch *b = calloc(1, sizeof(*b));
	struct spool_stats st;
	struct spool *s;
	char path[128];
	FILE *f;

	fresh_dir();
	s = spool__open(dir, 1 << 20);
	fill(b, 1, 5);
	spool__write(s, b);
	fill(b, 2, 5);
	spool__write(s, b);
	spool__close(s);
	/* a file cut short (disk full, crash) and a stranger; then the good one */
	snprintf(path, sizeof(path), "%s/000000000000-x.batch", dir);
	f = fopen(path, "w");
	fputs("httplat-spool 2 00000000000000ff 9 0 0 5:4000 0:0 0:0 0:0\nrow\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/000000000001-y.batch", dir);
	f = fopen(path, "w");
	fputs("not a spool file\n", f);
	fclose(f);
	/* right length, but the request part is not whole binary tuples */
	snprintf(path, sizeof(path), "%s/000000000002-z.batch", dir);
	f = fopen(path, "w");
	fputs("httplat-spool 2 00000000000000ff 9 0 0 1:4 0:0 0:0 0:0\n", f);
	fwrite("\x00\x0e\x00\x00", 1, 4, f); /* 14 fields announced, none there */
	fclose(f);
	s = spool__open(dir, 1 << 20);
	CHECK_INT(spool__read_oldest(s, b), 0);
	CHECK_INT(b->seq, 1); /* the damaged files skipped */
	spool__stats(s, &st);
	CHECK_INT(st.bad_files, 3);
	CHECK_INT(count_suffix(".bad"), 3); /* kept for a human, not deleted */
	spool__remove_oldest(s);
	CHECK_INT(spool__read_oldest(s, b), 0);
	CHECK_INT(b->seq, 2);
	spool__close(s);
	pgbatch__free(b);
}

/* Each part's column list travels with the batch: a file another version wrote is written as it was. */
static void test_column_lists_kept(void)
{
	struct pgbatch *b = calloc(1, sizeof(*b)), *got = calloc(1, sizeof(*got));
	struct spool *s;
	char path[128];
	FILE *f;

	fresh_dir();
	s = spool__open(dir, 1 << 20);
	fill(b, 1, 3);
	spool__write(s, b); /* this binary's lists: read back as "current" (NULL) */
	fill(b, 2, 3);
	b->cols[PGB_HEALTH] = strdup("ts, host, kernel_some_future_counter");
	spool__write(s, b);
	spool__close(s);
	/* format 2 (before schema version 2): version 1's columns, health by their new names */
	snprintf(path, sizeof(path), "%s/999999999998-v2.batch", dir);
	f = fopen(path, "w");
	fprintf(f, "httplat-spool 2 00000000000000ff 3 0 0 0:0 1:2 0:0 1:2\nr\nh\n");
	fclose(f);
	/* a column list that is not one: set aside, never put into SQL */
	snprintf(path, sizeof(path), "%s/999999999999-evil.batch", dir);
	f = fopen(path, "w");
	fprintf(f, "httplat-spool 3 00000000000000ff 4 0 0 0:0 0:0 0:0 1:2\na\nb\nc\n"
		   "ts) FROM STDIN; DROP TABLE x; --\nh\n");
	fclose(f);
	s = spool__open(dir, 1 << 20);
	CHECK_INT(spool__read_oldest(s, got), 0);
	CHECK_INT(got->seq, 1);
	for (int i = 0; i < PGB__COUNT; i++)
		CHECK(got->cols[i] == NULL);
	spool__remove_oldest(s);
	CHECK_INT(spool__read_oldest(s, got), 0);
	CHECK_INT(got->seq, 2);
	CHECK(got->cols[PGB_REQUESTS] == NULL);
	CHECK_STR(pgbatch__cols(got, PGB_HEALTH), "ts, host, kernel_some_future_counter");
	spool__remove_oldest(s);
	CHECK_INT(spool__read_oldest(s, got), 0);
	CHECK_INT(got->seq, 3);
	CHECK_STR(pgbatch__cols(got, PGB_REQUESTS), PGCOPY_V1_REQUESTS_COLS);
	CHECK_STR(pgbatch__cols(got, PGB_ROLLUP), PGCOPY_V1_ROLLUP_COLS);
	CHECK_STR(pgbatch__cols(got, PGB_ALERTS), PGCOPY_ALERTS_COLS);
	CHECK(strstr(pgbatch__cols(got, PGB_HEALTH), "kernel_orphan_responses, kernel_dropped") !=
	      NULL);
	CHECK_INT(got->part[PGB_HEALTH].len, 2);
	spool__remove_oldest(s);
	CHECK_INT(spool__read_oldest(s, got), -ENOENT);
	CHECK_INT(count_suffix(".bad"), 1);
	spool__close(s);
	pgbatch__free(b);
	pgbatch__free(got);
}

static void test_unusable_dir(void)
{
	struct spool *s = spool__open("/proc/httplat-no-such/dir", 1 << 20);

	CHECK(s == NULL);
	CHECK(errno != 0);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/httplat-spool-test-%d", (int)getpid());
	RUN(test_round_trip_oldest_first);
	RUN(test_size_bound);
	RUN(test_reopen_finds_files);
	RUN(test_damaged_file_set_aside);
	RUN(test_column_lists_kept);
	RUN(test_unusable_dir);
	fresh_dir();
	return CHECK_DONE();
}
