/* clock.c: the one set of clock helpers (monotonic, wall clock, timed condition waits). */
#include <errno.h>

#include "clock.h"

int64_t clock__ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t clock__mono_ns(void)
{
	return clock__ns(CLOCK_MONOTONIC);
}

int64_t clock__mono_ms(void)
{
	return clock__ns(CLOCK_MONOTONIC) / 1000000;
}

double clock__mono_s(void)
{
	return (double)clock__ns(CLOCK_MONOTONIC) / 1e9;
}

int64_t clock__real_ns(void)
{
	return clock__ns(CLOCK_REALTIME);
}

int64_t clock__real_ms(void)
{
	return clock__ns(CLOCK_REALTIME) / 1000000;
}

struct timespec clock__deadline(clockid_t id, int64_t ms)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	if (ms < 0)
		ms = 0;
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

int clock__cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t ca;
	int err;

	if ((err = pthread_condattr_init(&ca)))
		return -err;
	err = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (!err)
		err = pthread_cond_init(cond, &ca);
	pthread_condattr_destroy(&ca);
	return -err;
}

int clock__cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *mu,
			   const struct timespec *deadline)
{
	return pthread_cond_timedwait(cond, mu, deadline) == ETIMEDOUT ? -ETIMEDOUT : 0;
}

int clock__cond_wait_ms(pthread_cond_t *cond, pthread_mutex_t *mu, int64_t ms)
{
	struct timespec until;

	if (ms <= 0)
		return -ETIMEDOUT;
	until = clock__deadline(CLOCK_MONOTONIC, ms);
	return clock__cond_wait_until(cond, mu, &until);
}
