/* maps.bpf.h: every BPF map httplat uses (sizes in httplat.h), and the tiny helpers over them. */
#ifndef HTTPLAT_MAPS_BPF_H
#define HTTPLAT_MAPS_BPF_H

#include "http_conn.h"

struct pipe_key {
	__u64 sk;
	__u32 seq;
	__u32 _pad;
};

/*
 * Traced processes and server ports: one bit each. An array lookup is
 * inlined by the verifier, so the check every socket operation on the host
 * pays is a few instructions, not a hash lookup. User space mmaps both and
 * flips bits with atomics, as the kernel programs do.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, HTTPLAT_PID_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, HTTPLAT_PORT_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} ports SEC(".maps");

/* Connection state, keyed by the kernel socket: fd reuse, dup2 and fd passing cannot alias it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HTTPLAT_MAX_CONNS);
	__type(key, __u64);
	__type(value, struct hconn);
} conns SEC(".maps");

/* Pipelined requests queued behind the one being answered. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HTTPLAT_MAX_PIPELINED);
	__type(key, struct pipe_key);
	__type(value, struct hreq);
} pipeq SEC(".maps");

/*
 * Per-CPU scratch, two slots: a program interrupted by a softirq that runs
 * another (a connection reset finishing its requests) must not find its
 * window overwritten. nest counts the programs running on this CPU.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} nest SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HTTPLAT_C__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, HTTPLAT_RINGBUF_BYTES);
} events SEC(".maps");

static __always_inline int bits__test(void *map, __u32 n)
{
	__u32 w = n >> 6;
	__u64 *v = bpf_map_lookup_elem(map, &w);

	return v && (*v & (1ULL << (n & 63)));
}

static __always_inline void bits__set(void *map, __u32 n, int on)
{
	__u32 w = n >> 6;
	__u64 *v = bpf_map_lookup_elem(map, &w);

	if (!v)
		return;
	if (on)
		__sync_fetch_and_or(v, 1ULL << (n & 63));
	else
		__sync_fetch_and_and(v, ~(1ULL << (n & 63)));
}

static __always_inline int target_is(__u32 tgid)
{
	return bits__test(&targets, tgid);
}

static __always_inline int port_is_server(__u16 port)
{
	return bits__test(&ports, port);
}

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		*v += 1;
}

/* Brackets every program that may use scratch (see scratch_map). */
static __always_inline void nest__enter(void)
{
	__u32 zero = 0, *n = bpf_map_lookup_elem(&nest, &zero);

	if (n)
		*n += 1;
}

static __always_inline void nest__exit(void)
{
	__u32 zero = 0, *n = bpf_map_lookup_elem(&nest, &zero);

	if (n && *n)
		*n -= 1;
}

#endif /* HTTPLAT_MAPS_BPF_H */
