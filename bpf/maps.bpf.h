/* maps.bpf.h: every BPF map httplat uses, and the kernel-only state they hold. */
#ifndef HTTPLAT_MAPS_BPF_H
#define HTTPLAT_MAPS_BPF_H

#include "httplat.h"
#include "http_parse.h"

/* What a syscall is, for the enter -> exit hand-over. */
enum io_kind {
	IO_NONE = 0,
	IO_READ,     /* read, recvfrom: one buffer */
	IO_READV,    /* readv: iovec */
	IO_RECVMSG,  /* recvmsg: msghdr -> iovec */
	IO_WRITE,    /* write, sendto */
	IO_WRITEV,   /* writev */
	IO_SENDMSG,  /* sendmsg */
	IO_SENDFILE, /* sendfile: bytes only */
	IO_ACCEPT,   /* accept, accept4 */
	IO_LISTEN,   /* listen */
	IO_CLOSE,    /* close: handled at enter */
};

/* Syscall arguments saved at enter, used at exit (per-thread storage; kind 0 = none). */
struct inflight {
	__u64 ptr;	/* buffer, or iovec array */
	__u32 iovcnt;	/* iovec entries, 0 for a plain buffer */
	__u32 fd;
	__u8 kind;	/* enum io_kind */
	__u8 is_new;	/* no conn state yet: sk/lport below come from the fd walk */
	__u16 lport;
	__u32 _pad;
	__u64 sk;
};

struct conn_key {
	__u32 tgid;
	__u32 fd;
};

/* One request's identity and progress (the current one, or one queued behind it). */
struct hreq {
	__u64 start_ns;
	__u64 bytes_in;
	__u16 line_len;
	__u16 raw_len;
	__u8 method;
	__u8 version;
	__u8 _pad[2];
	__u32 flags;
	__u32 _pad2;
	char raw[HTTPLAT_RAW_MAX];
};

enum req_state {
	RQ_IDLE = 0, /* expecting a request line */
	RQ_HEAD,     /* in the request head */
	RQ_BODY,     /* in a body of known length: body_left */
	RQ_BODY_ANY, /* in a body of unknown length (chunked upload) */
};

enum resp_state {
	RS_NONE = 0,   /* waiting for the status line */
	RS_HEAD,       /* in the response head */
	RS_BODY,       /* body_left bytes to go */
	RS_CHUNKED,    /* following chunks */
	RS_UNTIL_CLOSE, /* no framing: ends at close or at the next request */
	RS_TAIL,       /* chunk framing lost: ends at a write ending in 0\r\n\r\n */
};

struct hconn {
	__u64 sk;	   /* kernel socket, detects a reused fd */
	__u64 accept_ns;
	__u64 ttfb_ns;	   /* of the current request */
	__u64 last_write_ns;
	__u64 bytes_out;   /* of the current request */
	__u64 req_left;	   /* request body bytes still to read */
	__u64 resp_left;   /* response body bytes still to write */
	struct http_head rhead; /* request head DFA (newest request) */
	struct http_head shead; /* response head DFA (current request) */
	struct http_chunk chunk;
	__u32 pipe_head;   /* queued requests: seq numbers [pipe_head, pipe_tail) */
	__u32 pipe_tail;
	__u16 lport;
	__u16 status;
	__u8 req_state;	   /* enum req_state: the newest request */
	__u8 resp_state;   /* enum resp_state: the current request */
	__u8 active;	   /* cur holds a request not yet answered */
	__u8 upgraded;	   /* 101: no more HTTP on this connection */
	__u32 flags;	   /* HTTPLAT_F_* for the connection (PREEXISTING...) */
	__u8 line_open;	   /* the current request's line is still arriving */
	__u8 _pad[3];
	struct hreq cur;	   /* the oldest request without a complete response */
	__u8 _slack[64];   /* lets the verifier see a 64-byte append to cur.raw fits */
};

struct pipe_key {
	struct conn_key conn;
	__u32 seq;
	__u32 _pad;
};

/* Per-CPU scratch: windows of copied user bytes and records too big for the stack. */
struct scratch {
	__u8 win[2 * HP_WIN];
	struct hconn zconn; /* zeroed template for new connections */
	struct hreq rq;	   /* staging for queued requests */
	struct httplat_request_event ev; /* staging for variable-length ring records */
	struct iovec iov[8];
};

/*
 * Traced processes: one bit per tgid. An array lookup is inlined by the
 * verifier, so the check every syscall on the host pays is a few
 * instructions, not a hash lookup. User space mmaps it and flips bits with
 * atomics, as the fork and exit programs do.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, HTTPLAT_PID_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HTTPLAT_MAX_PORTS);
	__type(key, __u16);
	__type(value, __u8);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HTTPLAT_MAX_CONNS);
	__type(key, struct conn_key);
	__type(value, struct hconn);
} conns SEC(".maps");

/* fds of traced processes known not to be server TCP sockets */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HTTPLAT_MAX_SKIP);
	__type(key, struct conn_key);
	__type(value, __u64);
} skip SEC(".maps");

/* per-thread: no hashing, no locks, freed with the thread */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct inflight);
} inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HTTPLAT_MAX_PIPELINED);
	__type(key, struct pipe_key);
	__type(value, struct hreq);
} pipeq SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

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

static __always_inline int target_is(__u32 tgid)
{
	__u32 w = tgid >> 6;
	__u64 *v = bpf_map_lookup_elem(&targets, &w);

	return v && (*v & (1ULL << (tgid & 63)));
}

static __always_inline void target_set(__u32 tgid, int on)
{
	__u32 w = tgid >> 6;
	__u64 *v = bpf_map_lookup_elem(&targets, &w);

	if (!v)
		return;
	if (on)
		__sync_fetch_and_or(v, 1ULL << (tgid & 63));
	else
		__sync_fetch_and_and(v, ~(1ULL << (tgid & 63)));
}

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		*v += 1;
}

#endif /* HTTPLAT_MAPS_BPF_H */
