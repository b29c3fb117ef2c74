/* conn_host.h: the environment of bpf/http_conn.h on the host: memory, a queue map, a record list. */
#ifndef HTTPLAT_CONN_HOST_H
#define HTTPLAT_CONN_HOST_H

#include <linux/types.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httplat.h"

#define SM_FUNC static __attribute__((unused, noinline))

#include "http_conn.h"

/* What the fake kernel saw: records in order, counters, a bounded queue map. */
#define HOST_QUEUE_MAX 4096
#define HOST_RECORDS_MAX 8192

static struct scratch host_scratch;
static struct httplat_request_event host_records[HOST_RECORDS_MAX];
static __u64 host_record_size[HOST_RECORDS_MAX]; /* bytes the ring got for each */
static int host_nrecords;
static __u64 host_counters[HTTPLAT_C__COUNT];
static __u32 host_pipe_max = HTTPLAT_PIPE_PER_CONN;
static int host_queue_cap = HOST_QUEUE_MAX; /* tests shrink it to fill the "map" */
static int host_output_fail;		     /* the ring buffer is full */

static struct host_q {
	int used;
	__u64 sk;
	__u32 seq;
	struct hreq r;
} host_queue[HOST_QUEUE_MAX];
static int host_queue_used;
static int host_queue_hi; /* entries [0, hi) may be in use: what lookups and resets walk */

static void host__reset(void)
{
	memset(&host_scratch, 0, sizeof(host_scratch));
	memset(host_queue, 0, (size_t)host_queue_hi * sizeof(host_queue[0]));
	host_queue_hi = 0;
	memset(host_counters, 0, sizeof(host_counters));
	host_nrecords = 0;
	host_queue_used = 0;
	host_queue_cap = HOST_QUEUE_MAX;
	host_pipe_max = HTTPLAT_PIPE_PER_CONN;
	host_output_fail = 0;
}

static struct scratch *env__scratch(void)
{
	return &host_scratch;
}

static int env__read_user(void *dst, __u32 n, __u64 src)
{
	memcpy(dst, (const void *)(uintptr_t)src, n);
	return 0;
}

static long env__loop(__u32 n, long (*cb)(__u32, void *), void *ctx)
{
	for (__u32 i = 0; i < n; i++)
		if (cb(i, ctx))
			return i + 1;
	return n;
}

static struct hreq *env__q_lookup(__u64 sk, __u32 seq)
{
	for (int i = 0; i < host_queue_hi; i++)
		if (host_queue[i].used && host_queue[i].sk == sk && host_queue[i].seq == seq)
			return &host_queue[i].r;
	return NULL;
}

static int env__q_insert(__u64 sk, __u32 seq, const struct hreq *r)
{
	struct hreq *old = env__q_lookup(sk, seq);

	if (old) {
		*old = *r;
		return 0;
	}
	if (host_queue_used >= host_queue_cap)
		return -1;
	for (int i = 0; i < HOST_QUEUE_MAX; i++) {
		if (host_queue[i].used)
			continue;
		host_queue[i].used = 1;
		host_queue[i].sk = sk;
		host_queue[i].seq = seq;
		host_queue[i].r = *r;
		host_queue_used++;
		if (i >= host_queue_hi)
			host_queue_hi = i + 1;
		return 0;
	}
	return -1;
}

static void env__q_delete(__u64 sk, __u32 seq)
{
	for (int i = 0; i < host_queue_hi; i++) {
		if (host_queue[i].used && host_queue[i].sk == sk && host_queue[i].seq == seq) {
			host_queue[i].used = 0;
			host_queue_used--;
			return;
		}
	}
}

static int env__output(const void *rec, __u64 size)
{
	if (host_output_fail || host_nrecords >= HOST_RECORDS_MAX)
		return -1;
	if (size > sizeof(host_records[0]))
		return -1;
	memset(&host_records[host_nrecords], 0, sizeof(host_records[0]));
	memcpy(&host_records[host_nrecords], rec, size);
	host_record_size[host_nrecords++] = size;
	return 0;
}

static void env__count(__u32 counter)
{
	if (counter < HTTPLAT_C__COUNT)
		host_counters[counter]++;
}

/* The kernel parks TLS records until their ciphertext is sent; here they go out at once. */
static int env__park(struct hconn *c, const struct httplat_request_event *e)
{
	(void)c;
	(void)e;
	return -1;
}

static __u32 env__pipe_max(void)
{
	return host_pipe_max;
}

/* Feeds one read or write of buf[0..n) at time now through the state machine. */
static void host__io(struct hconn *c, int write, const void *buf, __u64 n, __u64 now,
		     __u64 arrive)
{
	struct io_ctx io = {.ptr = (__u64)(uintptr_t)buf, .total = n, .now = now,
			    .arrive_ns = arrive, .data = 1, .tgid = 42};

	if (write)
		conn__on_write(c, &io);
	else
		conn__on_read(c, &io);
}

/* The same as one writev() of iovcnt buffers. */
static void host__writev(struct hconn *c, const struct sm_iovec *iov, __u32 iovcnt, __u64 now)
{
	struct io_ctx io = {.iovcnt = iovcnt, .now = now, .data = 1, .tgid = 42};

	io.niov = iovcnt > CONN_IOV ? CONN_IOV : iovcnt;
	for (__u32 i = 0; i < iovcnt; i++)
		io.total += iov[i].len;
	memcpy(host_scratch.iov, iov, io.niov * sizeof(*iov));
	conn__on_write(c, &io);
}

#endif
