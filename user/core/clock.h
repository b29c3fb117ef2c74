/* clock.h: monotonic and wall-clock time, and timed condition waits on the monotonic clock. */
#ifndef HTTPLAT_CLOCK_H
#define HTTPLAT_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

int64_t clock__ns(clockid_t id);
/* CLOCK_MONOTONIC: for intervals, deadlines and timeouts. */
int64_t clock__mono_ns(void);
int64_t clock__mono_ms(void);
double clock__mono_s(void);
/* CLOCK_REALTIME: for timestamps that leave the process (rows, messages). */
int64_t clock__real_ns(void);
int64_t clock__real_ms(void);

/* id's time ms from now, as the absolute timespec pthread_cond_timedwait wants. */
struct timespec clock__deadline(clockid_t id, int64_t ms);

/* A condition variable whose timed waits run on CLOCK_MONOTONIC (immune to clock steps). */
int clock__cond_init(pthread_cond_t *cond);
/*
 * Waits on cond (made by clock__cond_init), called with mu locked, until signalled or
 * ms have passed (ms <= 0: returns at once). 0 when signalled (or spuriously woken),
 * -ETIMEDOUT. Callers loop on their own predicate, as with any condition wait.
 */
int clock__cond_wait_ms(pthread_cond_t *cond, pthread_mutex_t *mu, int64_t ms);
/* The same up to an absolute CLOCK_MONOTONIC deadline (from clock__deadline). */
int clock__cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *mu,
			   const struct timespec *deadline);

#endif
