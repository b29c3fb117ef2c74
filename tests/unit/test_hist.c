/* test_hist.c: histogram buckets and quantiles against exactly computed values. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "hist.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void test_buckets(void)
{
	CHECK_INT(hist__bucket(0), 0);
	CHECK_INT(hist__bucket(0.0999), 0);
	CHECK_INT(hist__bucket(0.1), 1);
	CHECK_INT(hist__bucket(0.2), 9);
	CHECK_INT(hist__bucket(-1), 0);
	CHECK_INT(hist__bucket(NAN), 0);
	CHECK_INT(hist__bucket(1e12), HIST_BUCKETS - 1);
	for (int i = 1; i < HIST_BUCKETS - 1; i++) {
		CHECK_INT(hist__bucket(hist__lower(i) * 1.0001), i);
		CHECK_INT(hist__bucket(hist__lower(i + 1) * 0.9999), i);
	}
}

static void test_quantiles_bounded_error(void)
{
	static double v[20000];
	struct hist h;
	const double qs[] = {0.5, 0.9, 0.95, 0.99, 0.999};

	hist__reset(&h);
	srand(7);
	for (int i = 0; i < 20000; i++) {
		/* log-uniform from 0.2 ms to 5 s */
		v[i] = 0.2 * exp(((double)rand() / RAND_MAX) * log(25000.0));
		hist__add(&h, v[i]);
	}
	qsort(v, 20000, sizeof(v[0]), cmp_double);
	for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
		double exact = v[(size_t)ceil(qs[k] * 20000) - 1];
		double got = hist__quantile(&h, qs[k]);

		CHECK(fabs(got - exact) / exact < 0.045);
	}
	CHECK(hist__quantile(&h, 1) == v[19999]);
	CHECK(fabs(hist__mean(&h) * 20000 - h.sum_ms) < 1e-6);
}

static void test_merge_and_empty(void)
{
	struct hist a, b;

	hist__reset(&a);
	hist__reset(&b);
	CHECK(hist__quantile(&a, 0.5) == 0);
	hist__add(&a, 10);
	hist__add(&b, 1000);
	hist__add(&b, 1000);
	hist__merge(&a, &b);
	CHECK_INT(a.count, 3);
	CHECK(a.max_ms == 1000);
	CHECK(fabs(hist__quantile(&a, 0.5) - 1000) / 1000 < 0.045);
	CHECK(fabs(hist__quantile(&a, 0.3) - 10) / 10 < 0.045);
	/* a single value: every quantile is within the error of it, never above max */
	hist__reset(&a);
	hist__add(&a, 600);
	CHECK(hist__quantile(&a, 0.95) <= 600);
	CHECK(hist__quantile(&a, 0.95) > 600 * 0.955);
}

int main(void)
{
	RUN(test_buckets);
	RUN(test_quantiles_bounded_error);
	RUN(test_merge_and_empty);
	return CHECK_DONE();
}
