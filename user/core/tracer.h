/* tracer.h: loads the BPF programs, follows uvicorn processes, turns events into records. */
#ifndef HTTPLAT_TRACER_H
#define HTTPLAT_TRACER_H

#include <stdint.h>

#include "cli.h"
#include "record.h"

struct tracer;

/* Called for every completed request, on the thread that calls tracer__poll. */
typedef void (*tracer_record_fn)(void *ctx, const struct record *r);

struct tracer_stats {
	uint64_t events;	  /* ring-buffer records read */
	uint64_t requests;	  /* records delivered */
	uint64_t decode_errors;	  /* malformed records (should stay 0) */
	uint64_t kernel[16];	  /* enum httplat_counter, summed over CPUs */
	uint64_t dropped;	  /* sum of the loss counters in kernel[] */
	int ntargets;		  /* processes traced now */
};

/* Loads and attaches; sel must outlive the tracer. Returns NULL and sets errno. */
struct tracer *tracer__open(const struct selection *sel, tracer_record_fn fn, void *ctx);
/* Waits up to timeout_ms, then drains everything pending. >= 0 records, or -errno. */
int tracer__poll(struct tracer *t, int timeout_ms);
void tracer__stats(struct tracer *t, struct tracer_stats *out);
/* Traced pids (for headers); returns the count written. */
int tracer__pids(struct tracer *t, int *pids, int max);
/* Server ports being traced (for headers); returns the count written. */
int tracer__ports(struct tracer *t, unsigned short *ports, int max);
void tracer__free(struct tracer *t);
/* Names of the kernel counters, for reports ("ringbuf_full", ...). */
const char *tracer__counter_name(int idx);
/* Non-zero for counters that mean lost data (not mere oddities). */
int tracer__counter_is_loss(int idx);

#endif
