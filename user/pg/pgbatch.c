/* pgbatch.c: a batch's buffers. */
#include <stdlib.h>

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
}

void pgbatch__free(struct pgbatch *b)
{
	if (!b)
		return;
	for (int i = 0; i < PGB__COUNT; i++)
		pgbuf__free(&b->part[i]);
	free(b);
}

int pgbatch__binary(enum pgbatch_part part)
{
	return part == PGB_REQUESTS;
}
