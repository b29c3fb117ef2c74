/* pgbatch.c: a batch's buffers. */
#include <stdlib.h>
#include <string.h>

#include "pgbatch.h"

size_t pgbatch__bytes(const struct pgbatch *b)
{
	size_t n = 0;

	for (int i = 0; i < PGB__COUNT; i++)
		n += b->part[i].len;
	return n;
}

void pgbatch__clear(struct pgbatch *b)
{
	for (int i = 0; i < PGB__COUNT; i++) {
		b->part[i].len = 0;
		b->rows[i] = 0;
	}
	b->first_ns = b->last_ns = 0;
	b->seq = b->writer = 0;
	for (int i = 0; i < PGB__COUNT; i++) {
		free(b->cols[i]);
		b->cols[i] = NULL;
	}
}

const char *pgbatch__cols(const struct pgbatch *b, enum pgbatch_part part)
{
	static const char *const current[PGB__COUNT] = {
	    PGCOPY_REQUESTS_COLS, PGCOPY_ROLLUP_COLS, PGCOPY_ALERTS_COLS, PGCOPY_HEALTH_COLS};

	return b->cols[part] ? b->cols[part] : current[part];
}

int pgbatch__cols_valid(const char *cols)
{
	size_t n = strlen(cols);

	if (!n || n > 4000 || cols[0] < 'a' || cols[0] > 'z')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((cols[i] >= 'a' && cols[i] <= 'z') || (cols[i] >= '0' && cols[i] <= '9') ||
		      cols[i] == '_' || cols[i] == ',' || cols[i] == ' '))
			return 0;
	return 1;
}

void pgbatch__free(struct pgbatch *b)
{
	if (!b)
		return;
	for (int i = 0; i < PGB__COUNT; i++) {
		pgbuf__free(&b->part[i]);
		free(b->cols[i]);
	}
	free(b);
}

int pgbatch__binary(enum pgbatch_part part)
{
	return part == PGB_REQUESTS;
}
