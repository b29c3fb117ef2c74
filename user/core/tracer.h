/* tracer.h: loads the BPF programs, follows uvicorn processes, turns events into records. */
#ifndef HTTPLAT_TRACER_H
#define HTTPLAT_TRACER_H

#include <stdint.h>

#include "cli.h"
#include "record.h"

/* Server ports the tracer lists (the kernel follows any port: a bitmap of all 65536). */
#define TRACER_MAX_PORTS 256

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
	uint64_t ring_bytes;	  /* ring buffer bytes waiting now */
	uint64_t ring_peak;	  /* the most seen waiting before a drain, since start */
};

/* How full the kernel's tables are (walks the maps: for periodic reports, not per record). */
struct tracer_occupancy {
	uint64_t conns, conns_max; /* connection states */
	uint64_t queued, queued_max; /* pipelined requests queued behind the one answered */
	uint64_t ring_size;
};

/* What happened to the traced set, for commands that follow processes (route templates...). */
enum tracer_proc_kind {
	TRACER_PROC_NEW,  /* now traced: found by a scan or an exec, or forked (ppid set) */
	TRACER_PROC_EXEC, /* a traced process exec'd and stays traced */
	TRACER_PROC_GONE, /* a traced process exited, or exec'd into something not traced */
	TRACER_PORT_NEW,  /* a server port joined the traced set (port set; pid when known) */
};

struct tracer_proc {
	enum tracer_proc_kind kind;
	int pid;
	int ppid;
	unsigned short port;
};

/* Called on the thread that calls tracer__poll (or tracer__open, for the first scan). */
typedef void (*tracer_proc_fn)(void *ctx, const struct tracer_proc *e);

/* Loads and attaches; sel must outlive the tracer. Returns NULL and sets errno. */
struct tracer *tracer__open(const struct selection *sel, tracer_record_fn fn, void *ctx);
/* Waits up to timeout_ms, then drains everything pending. >= 0 records, or -errno. */
int tracer__poll(struct tracer *t, int timeout_ms);
void tracer__stats(struct tracer *t, struct tracer_stats *out);
void tracer__occupancy(struct tracer *t, struct tracer_occupancy *out);
/* Traced pids (for headers); returns the count written. */
int tracer__pids(struct tracer *t, int *pids, int max);
/*
 * The server ports being traced: the one owner of that set (listening sockets of traced
 * processes, ports the kernel reports, ports seen in records). Returns the count written.
 */
int tracer__ports(struct tracer *t, unsigned short *ports, int max);
/* Process and port changes from now on go to fn (NULL: none). */
void tracer__set_proc_fn(struct tracer *t, tracer_proc_fn fn, void *ctx);
void tracer__free(struct tracer *t);
/* The data path in use, for -v and run's start line: "socket tracepoints ..." / "syscall exit ...". */
const char *tracer__hooks_name(const struct tracer *t);

#endif
