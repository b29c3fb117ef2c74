/* hist.h: log-linear latency histogram; fixed size, bounded relative error, mergeable. */
#ifndef HTTPLAT_HIST_H
#define HTTPLAT_HIST_H

#include <stdint.h>

/*
 * Bucket 0 holds [0, 0.1 ms). Bucket i >= 1 holds
 * [0.1 * 2^((i-1)/8), 0.1 * 2^(i/8)) ms; the last bucket also takes
 * everything above. Eight buckets per doubling: a quantile read at a
 * bucket's geometric middle is within 4.4 % of the true value. The
 * schema's httplat_hist_bucket()/httplat_quantile() SQL functions use the
 * same formula, so rollups and the console agree.
 */
#define HIST_BUCKETS 200
#define HIST_MIN_MS 0.1
#define HIST_SUB 8

struct hist {
	uint64_t count;
	double sum_ms;
	double max_ms;
	uint32_t bucket[HIST_BUCKETS];
};

int hist__bucket(double ms);
/* Lower bound of bucket i, in ms. */
double hist__lower(int i);
void hist__reset(struct hist *h);
void hist__add(struct hist *h, double ms);
void hist__merge(struct hist *dst, const struct hist *src);
/* q in [0, 1]; 0 when empty. Never above max_ms. */
double hist__quantile(const struct hist *h, double q);
double hist__mean(const struct hist *h);

#endif
