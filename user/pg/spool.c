/* spool.c: one file per batch, "<seq>-<writer>.batch", replayed oldest first; crash-safe writes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "spool.h"

/*
 * "httplat-spool 3 <writer> <seq> <first_ns> <last_ns> <rows>:<bytes> x4\n", then
 * each part's column list on a line of its own, then the parts' data. Format 2
 * (no column lists: the columns of schema version 1) is still read.
 */
#define MAGIC "httplat-spool 3"
#define MAGIC_V2 "httplat-spool 2"
#define COLS_MAX 4096

struct spool_file {
	char name[64];
	uint64_t bytes, rows;
};

struct spool {
	char dir[PATH_MAX - 80];
	uint64_t max_bytes;
	struct spool_file *files; /* sorted oldest first (by name) */
	size_t nfiles, cap;
	struct spool_stats st;
	uint64_t next_local; /* orders files written within one second */
	char current[64];    /* name spool__read_oldest returned */
};

static int path_of(const struct spool *s, const char *name, const char *suffix, char *out,
		   size_t outsz)
{
	int n = snprintf(out, outsz, "%s/%s%s", s->dir, name, suffix);

	return n < 0 || (size_t)n >= outsz ? -ENAMETOOLONG : 0;
}

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct spool_file *)a)->name, ((const struct spool_file *)b)->name);
}

static int add_file(struct spool *s, const char *name, uint64_t bytes, uint64_t rows)
{
	struct spool_file *f;

	if (s->nfiles == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;

		f = realloc(s->files, cap * sizeof(*f));
		if (!f)
			return -ENOMEM;
		s->files = f;
		s->cap = cap;
	}
	f = &s->files[s->nfiles++];
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->bytes = bytes;
	f->rows = rows;
	s->st.files++;
	s->st.bytes += bytes;
	s->st.rows += rows;
	return 0;
}

/* Parses the header line; the format (2 or 3), or -EINVAL. */
static int parse_header(const char *line, struct pgbatch *b, uint64_t len[PGB__COUNT])
{
	int n = 0, format = 3;

	if (!strncmp(line, MAGIC_V2 " ", sizeof(MAGIC_V2)))
		format = 2;
	else if (strncmp(line, MAGIC " ", sizeof(MAGIC)))
		return -EINVAL;
	if (sscanf(line + sizeof(MAGIC),
		   "%" SCNx64 " %" SCNu64 " %" SCNd64 " %" SCNd64 " %" SCNu32 ":%" SCNu64
		   " %" SCNu32 ":%" SCNu64 " %" SCNu32 ":%" SCNu64 " %" SCNu32 ":%" SCNu64 "%n",
		   &b->writer, &b->seq, &b->first_ns, &b->last_ns, &b->rows[0], &len[0],
		   &b->rows[1], &len[1], &b->rows[2], &len[2], &b->rows[3], &len[3], &n) != 12 ||
	    line[sizeof(MAGIC) + n] != '\n')
		return -EINVAL;
	return format;
}

/* Sets b's column list of part to cols when it is not this binary's. 0 or -ENOMEM. */
static int set_cols(struct pgbatch *b, enum pgbatch_part part, const char *cols)
{
	if (!strcmp(cols, pgbatch__cols(b, part)))
		return 0;
	b->cols[part] = strdup(cols);
	return b->cols[part] ? 0 : -ENOMEM;
}

/* The column lists: format 3 has them on lines of their own, format 2 wrote version 1's. */
static int read_cols(FILE *f, int format, struct pgbatch *b)
{
	static const char *const v1[PGB__COUNT] = {PGCOPY_V1_REQUESTS_COLS, PGCOPY_V1_ROLLUP_COLS,
						   PGCOPY_ALERTS_COLS, PGCOPY_V1_HEALTH_COLS};
	char line[COLS_MAX + 2];
	int err = 0;

	for (int i = 0; i < PGB__COUNT && !err; i++) {
		size_t n;

		if (format == 2) {
			err = set_cols(b, (enum pgbatch_part)i, v1[i]);
			continue;
		}
		if (!fgets(line, sizeof(line), f) || !(n = strlen(line)) || line[n - 1] != '\n')
			return -EINVAL;
		line[n - 1] = 0;
		if (!pgbatch__cols_valid(line))
			return -EINVAL;
		err = set_cols(b, (enum pgbatch_part)i, line);
	}
	return err;
}

struct spool *spool__open(const char *dir, uint64_t max_bytes)
{
	struct spool *s = calloc(1, sizeof(*s));
	struct dirent *de;
	DIR *d = NULL;
	int err = 0;

	if (!s)
		return NULL;
	if (snprintf(s->dir, sizeof(s->dir), "%s", dir) >= (int)sizeof(s->dir)) {
		err = -ENAMETOOLONG;
		goto cleanup;
	}
	s->max_bytes = max_bytes;
	if (mkdir(dir, 0700) && errno != EEXIST) {
		err = -errno;
		goto cleanup;
	}
	d = opendir(dir);
	if (!d) {
		err = -errno;
		goto cleanup;
	}
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		char path[PATH_MAX], line[256];
		struct pgbatch hdr = {};
		uint64_t len[PGB__COUNT];
		struct stat stt;
		FILE *f;

		if (n < 7 || n >= sizeof(s->files[0].name) || strcmp(de->d_name + n - 6, ".batch"))
			continue;
		if (path_of(s, de->d_name, "", path, sizeof(path)) || stat(path, &stt))
			continue;
		/* only the header is read here; a bad body is found at replay */
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(line, sizeof(line), f) || parse_header(line, &hdr, len) < 0)
			hdr.rows[PGB_REQUESTS] = 0;
		fclose(f);
		err = add_file(s, de->d_name, (uint64_t)stt.st_size, hdr.rows[PGB_REQUESTS]);
		if (err)
			goto cleanup;
	}
	qsort(s->files, s->nfiles, sizeof(*s->files), cmp_file);
cleanup:
	if (d)
		closedir(d);
	if (err) {
		spool__close(s);
		errno = -err;
		return NULL;
	}
	return s;
}

void spool__close(struct spool *s)
{
	if (!s)
		return;
	free(s->files);
	free(s);
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int spool__write(struct spool *s, const struct pgbatch *b)
{
	char name[64], path[PATH_MAX], tmp[PATH_MAX], hdr[256];
	size_t total, cols = 0;
	int fd = -1, err = 0, n;

	n = snprintf(
	    hdr, sizeof(hdr),
	    MAGIC " %016" PRIx64 " %" PRIu64 " %" PRId64 " %" PRId64 " %u:%zu %u:%zu %u:%zu "
		  "%u:%zu\n",
	    b->writer, b->seq, b->first_ns, b->last_ns, b->rows[0], b->part[0].len, b->rows[1],
	    b->part[1].len, b->rows[2], b->part[2].len, b->rows[3], b->part[3].len);
	for (int i = 0; i < PGB__COUNT; i++)
		cols += strlen(pgbatch__cols(b, (enum pgbatch_part)i)) + 1;
	total = (size_t)n + cols + pgbatch__bytes(b);
	if (!s->max_bytes || s->st.bytes + total > s->max_bytes)
		return -ENOSPC;
	/* names sort by age: wall seconds, then a counter, then the batch id */
	snprintf(name, sizeof(name), "%012lld-%08" PRIu64 "-%016" PRIx64 "-%" PRIu64 ".batch",
		 (long long)time(NULL), s->next_local++ % 100000000, b->writer,
		 b->seq % 1000000000);
	if (path_of(s, name, "", path, sizeof(path)) || path_of(s, name, ".tmp", tmp, sizeof(tmp)))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	err = write_all(fd, hdr, (size_t)n);
	for (int i = 0; i < PGB__COUNT && !err; i++) {
		const char *c = pgbatch__cols(b, (enum pgbatch_part)i);

		err = write_all(fd, c, strlen(c)) ?: write_all(fd, "\n", 1);
	}
	for (int i = 0; i < PGB__COUNT && !err; i++)
		err = write_all(fd, b->part[i].data, b->part[i].len);
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	fd = -1;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	return add_file(s, name, total, b->rows[PGB_REQUESTS]);
}

static void drop_first(struct spool *s)
{
	struct spool_file *f = &s->files[0];

	s->st.files--;
	s->st.bytes -= f->bytes;
	s->st.rows -= f->rows;
	memmove(s->files, s->files + 1, (s->nfiles - 1) * sizeof(*s->files));
	s->nfiles--;
}

/* True when data holds exactly rows binary tuples. */
static int whole_tuples(const char *data, size_t len, uint32_t rows)
{
	size_t off = 0;

	for (uint32_t i = 0; i < rows; i++) {
		long next = pgcopy__bin_next(data, len, off);

		if (next < 0)
			return 0;
		off = (size_t)next;
	}
	return off == len;
}

static int read_file(const char *path, struct pgbatch *b)
{
	uint64_t len[PGB__COUNT];
	char line[256];
	FILE *f = fopen(path, "r");
	int err = 0, format;

	if (!f)
		return -errno;
	pgbatch__clear(b);
	if (!fgets(line, sizeof(line), f) || (format = parse_header(line, b, len)) < 0) {
		err = -EINVAL;
		goto cleanup;
	}
	err = read_cols(f, format, b);
	if (err)
		goto cleanup;
	for (int i = 0; i < PGB__COUNT; i++) {
		if (len[i] > (1ull << 31) || pgbuf__reserve(&b->part[i], len[i] + 1)) {
			err = -ENOMEM;
			goto cleanup;
		}
		if (fread(b->part[i].data, 1, len[i], f) != len[i] ||
		    (i != PGB_REQUESTS && len[i] && b->part[i].data[len[i] - 1] != '\n') ||
		    (i == PGB_REQUESTS && len[i] && /* empty: the requests are in the rollup */
		     !whole_tuples(b->part[i].data, len[i], b->rows[i]))) {
			err = -EINVAL; /* truncated, or a part that does not end a row */
			goto cleanup;
		}
		b->part[i].len = len[i];
	}
	if (fgetc(f) != EOF)
		err = -EINVAL;
cleanup:
	fclose(f);
	return err;
}

int spool__read_oldest(struct spool *s, struct pgbatch *b)
{
	char path[PATH_MAX], bad[PATH_MAX];
	int err;

	while (s->nfiles) {
		if (path_of(s, s->files[0].name, "", path, sizeof(path)))
			return -ENAMETOOLONG;
		err = read_file(path, b);
		if (!err) {
			snprintf(s->current, sizeof(s->current), "%s", s->files[0].name);
			return 0;
		}
		if (err != -EINVAL && err != -ENOENT)
			return err;
		/* unreadable: keep it for a human, never replay it again */
		if (err == -EINVAL && !path_of(s, s->files[0].name, ".bad", bad, sizeof(bad)))
			rename(path, bad);
		s->st.bad_files++;
		drop_first(s);
	}
	return -ENOENT;
}

int spool__remove_oldest(struct spool *s)
{
	char path[PATH_MAX];

	if (!s->nfiles || strcmp(s->files[0].name, s->current))
		return -ENOENT;
	if (path_of(s, s->files[0].name, "", path, sizeof(path)))
		return -ENAMETOOLONG;
	if (unlink(path) && errno != ENOENT)
		return -errno;
	drop_first(s);
	s->current[0] = 0;
	return 0;
}

void spool__stats(const struct spool *s, struct spool_stats *out)
{
	*out = s->st;
}
