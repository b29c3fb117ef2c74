/* hist.c: log-linear latency histogram (see hist.h for the bucket formula). */
#include <math.h>
#include <string.h>

#include "hist.h"

int hist__bucket(double ms)
{
	double i;

	if (!(ms >= HIST_MIN_MS)) /* also NaN */
		return 0;
	i = 1 + floor(HIST_SUB * log2(ms / HIST_MIN_MS));
	return i >= HIST_BUCKETS - 1 ? HIST_BUCKETS - 1 : (int)i;
}

double hist__lower(int i)
{
	return i <= 0 ? 0 : HIST_MIN_MS * exp2((double)(i - 1) / HIST_SUB);
}

void hist__reset(struct hist *h)
{
	memset(h, 0, sizeof(*h));
}

void hist__add(struct hist *h, double ms)
{
	if (!(ms >= 0))
		ms = 0;
	h->bucket[hist__bucket(ms)]++;
	h->count++;
	h->sum_ms += ms;
	if (ms > h->max_ms)
		h->max_ms = ms;
}

void hist__merge(struct hist *dst, const struct hist *src)
{
	for (int i = 0; i < HIST_BUCKETS; i++)
		dst->bucket[i] += src->bucket[i];
	dst->count += src->count;
	dst->sum_ms += src->sum_ms;
	if (src->max_ms > dst->max_ms)
		dst->max_ms = src->max_ms;
}

double hist__quantile(const struct hist *h, double q)
{
	uint64_t rank, seen = 0;
	double v;

	if (!h->count)
		return 0;
	if (q <= 0)
		q = 0;
	if (q >= 1)
		return h->max_ms;
	/* nearest-rank: the smallest value with at least q*count values at or below it */
	rank = (uint64_t)ceil(q * (double)h->count);
	if (rank < 1)
		rank = 1;
	for (int i = 0; i < HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen < rank)
			continue;
		if (i == 0)
			v = HIST_MIN_MS / 2;
		else if (i == HIST_BUCKETS - 1)
			v = h->max_ms;
		else
			v = sqrt(hist__lower(i) * hist__lower(i + 1)); /* geometric middle */
		return v > h->max_ms ? h->max_ms : v;
	}
	return h->max_ms;
}

double hist__mean(const struct hist *h)
{
	return h->count ? h->sum_ms / (double)h->count : 0;
}
