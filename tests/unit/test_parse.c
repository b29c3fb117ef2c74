/* test_parse.c: numbers, sizes and durations as users type them; the clock helpers. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#include "check.h"
#include "clock.h"
#include "parse.h"

static void test_long(void)
{
	long v;

	CHECK_INT(parse__long("42", 1, 100, &v), 0);
	CHECK_INT(v, 42);
	CHECK_INT(parse__long("-3", -5, 5, &v), 0);
	CHECK_INT(v, -3);
	CHECK_INT(parse__long("0", 1, 100, &v), -EINVAL);
	CHECK_INT(parse__long("101", 1, 100, &v), -EINVAL);
	CHECK_INT(parse__long("4x", 1, 100, &v), -EINVAL);
	CHECK_INT(parse__long("", 1, 100, &v), -EINVAL);
	CHECK_INT(parse__long(NULL, 1, 100, &v), -EINVAL);
	CHECK_INT(parse__long("99999999999999999999999", 1, 100, &v), -EINVAL);
}

static void test_double(void)
{
	double v;

	CHECK_INT(parse__double("0.25", 0, 1, &v), 0);
	CHECK(v == 0.25);
	CHECK_INT(parse__double("1e3", 0, 1e4, &v), 0);
	CHECK(v == 1000);
	CHECK_INT(parse__double("1.5", 0, 1, &v), -EINVAL);
	CHECK_INT(parse__double("nan", 0, 1, &v), -EINVAL);
	CHECK_INT(parse__double("inf", 0, 1e308, &v), -EINVAL);
	CHECK_INT(parse__double("1x", 0, 10, &v), -EINVAL);
	CHECK_INT(parse__double("", 0, 10, &v), -EINVAL);
}

static void test_size(void)
{
	uint64_t v;

	CHECK_INT(parse__size("65536", &v), 0);
	CHECK_INT(v, 65536);
	CHECK_INT(parse__size("64K", &v), 0);
	CHECK_INT(v, 65536);
	CHECK_INT(parse__size("512m", &v), 0);
	CHECK_INT(v, 512ull << 20);
	CHECK_INT(parse__size("2GB", &v), 0);
	CHECK_INT(v, 2ull << 30);
	CHECK_INT(parse__size("", &v), -EINVAL);
	CHECK_INT(parse__size("-1", &v), -EINVAL);
	CHECK_INT(parse__size(" 1", &v), -EINVAL);
	CHECK_INT(parse__size("12X", &v), -EINVAL);
	CHECK_INT(parse__size("1KK", &v), -EINVAL);
	CHECK_INT(parse__size("99999999999999999999G", &v), -EINVAL);
	CHECK_INT(parse__size("17179869184G", &v), -EINVAL); /* 2^34 G overflows 64 bits */
}

static void test_duration_ms(void)
{
	long long ms;

	CHECK_INT(parse__duration_ms("90", &ms), 0);
	CHECK_INT(ms, 90000);
	CHECK_INT(parse__duration_ms("1500ms", &ms), 0);
	CHECK_INT(ms, 1500);
	CHECK_INT(parse__duration_ms("2.5s", &ms), 0);
	CHECK_INT(ms, 2500);
	CHECK_INT(parse__duration_ms("5m", &ms), 0);
	CHECK_INT(ms, 300000);
	CHECK_INT(parse__duration_ms("1h", &ms), 0);
	CHECK_INT(ms, 3600000);
	CHECK_INT(parse__duration_ms("10 s", &ms), 0);
	CHECK_INT(ms, 10000);
	CHECK_INT(parse__duration_ms("-1", &ms), -EINVAL);
	CHECK_INT(parse__duration_ms("5x", &ms), -EINVAL);
	CHECK_INT(parse__duration_ms("5sec", &ms), -EINVAL);
	CHECK_INT(parse__duration_ms("", &ms), -EINVAL);
	CHECK_INT(parse__duration_ms("nan", &ms), -EINVAL);
	CHECK_INT(parse__duration_ms("1e13", &ms), -EINVAL); /* past any sane duration */
}

static void test_seconds(void)
{
	double s;

	CHECK_INT(parse__seconds("0.5", 0.1, 3600, &s), 0);
	CHECK(s == 0.5);
	CHECK_INT(parse__seconds("250ms", 0.1, 3600, &s), 0);
	CHECK(s == 0.25);
	CHECK_INT(parse__seconds("2m", 0.1, 3600, &s), 0);
	CHECK(s == 120);
	CHECK_INT(parse__seconds("0", 0.1, 3600, &s), -EINVAL);
	CHECK_INT(parse__seconds("2h", 0.1, 3600, &s), -EINVAL);
	CHECK_INT(parse__seconds("soon", 0.1, 3600, &s), -EINVAL);
}

static void test_clock(void)
{
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cond;
	int64_t t0 = clock__mono_ns(), ms0 = clock__mono_ms(), dt;
	struct timespec until, now;

	CHECK(clock__mono_ns() >= t0);
	CHECK(ms0 == t0 / 1000000 || ms0 == t0 / 1000000 + 1);
	CHECK(clock__real_ns() > 1600000000LL * 1000000000); /* after 2020 */
	CHECK(clock__real_ms() / 1000 == clock__real_ns() / 1000000000 ||
	      clock__real_ms() / 1000 + 1 == clock__real_ns() / 1000000000);
	until = clock__deadline(CLOCK_MONOTONIC, 1500);
	clock_gettime(CLOCK_MONOTONIC, &now);
	dt = (until.tv_sec - now.tv_sec) * 1000 + (until.tv_nsec - now.tv_nsec) / 1000000;
	CHECK(dt >= 1490 && dt <= 1500);
	CHECK(until.tv_nsec >= 0 && until.tv_nsec < 1000000000);
	/* a wait with nobody signalling times out after its time, on the monotonic clock */
	CHECK_INT(clock__cond_init(&cond), 0);
	pthread_mutex_lock(&mu);
	t0 = clock__mono_ms();
	CHECK_INT(clock__cond_wait_ms(&cond, &mu, 30), -ETIMEDOUT);
	dt = clock__mono_ms() - t0;
	CHECK(dt >= 29 && dt < 1000);
	CHECK_INT(clock__cond_wait_ms(&cond, &mu, 0), -ETIMEDOUT);
	until = clock__deadline(CLOCK_MONOTONIC, 10);
	CHECK_INT(clock__cond_wait_until(&cond, &mu, &until), -ETIMEDOUT);
	pthread_mutex_unlock(&mu);
	pthread_cond_destroy(&cond);
}

int main(void)
{
	RUN(test_long);
	RUN(test_double);
	RUN(test_size);
	RUN(test_duration_ms);
	RUN(test_seconds);
	RUN(test_clock);
	return CHECK_DONE();
}
