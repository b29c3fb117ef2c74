// SPDX-License-Identifier: GPL-2.0
/*
 * minimal.bpf.c: the least a tracer must do on each of httplat's two data paths, for `make bench`
 * to tell the cost of the hooks themselves from the cost of httplat's work on them.
 *
 * Both paths: processes not in a PID bitmap return after one bit test; for a traced process the
 * syscall's buffer comes from its saved registers, its first 8 bytes are read, a read that looks
 * like a request line stores its time per connection, and a write starting with "HTTP/1." emits
 * one ring record (no wake-up; the loader drains every 100 ms, as httplat does). No HTTP parsing,
 * no pipelining, no process discovery: a floor, not a tracer.
 */
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wpadded"
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#pragma clang diagnostic pop

#include "minimal.h"

char LICENSE[] SEC("license") = "GPL";

#define MSG_PEEK_ 2

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, MIN_PID_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} pids SEC(".maps");

/* Request start per connection: the socket on the socket path, (tgid, fd) on the syscall path. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MIN_CONNS);
	__type(key, __u64);
	__type(value, __u64);
} starts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, MIN_RINGBUF_BYTES);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

static __always_inline int traced(__u32 tgid)
{
	__u32 w = tgid >> 6;
	__u64 *v = bpf_map_lookup_elem(&pids, &w);

	return v && (*v & (1ULL << (tgid & 63)));
}

/* 1 read, 2 write, 0 neither: the single-buffer syscalls uvicorn uses (writev: its first iovec) */
static __always_inline int io_dir(long nr)
{
#if defined(__TARGET_ARCH_x86)
	if (nr == 0 || nr == 45) /* read, recvfrom */
		return 1;
	if (nr == 1 || nr == 44 || nr == 20) /* write, sendto, writev */
		return 2;
#elif defined(__TARGET_ARCH_arm64)
	if (nr == 63 || nr == 207)
		return 1;
	if (nr == 64 || nr == 206 || nr == 66)
		return 2;
#endif
	return 0;
}

static __always_inline int is_writev(long nr)
{
#if defined(__TARGET_ARCH_x86)
	return nr == 20;
#else
	return nr == 66;
#endif
}

static __always_inline long syscall_nr(struct pt_regs *regs)
{
#if defined(__TARGET_ARCH_x86)
	return BPF_CORE_READ(regs, orig_ax);
#else
	return (int)BPF_CORE_READ(regs, syscallno);
#endif
}

/* The shared body: ret bytes moved by syscall nr of a traced process on connection key. */
static __always_inline void min_io(__u64 key, struct pt_regs *regs, long nr, long ret)
{
	const __u64 http1 = 0x002e312f50545448ULL; /* "HTTP/1." little-endian, 7 bytes */
	struct min_record *r;
	__u64 buf, head = 0, now, *start, zero = 0;
	__u32 idx = 0;
	int dir = io_dir(nr);

	if (!dir || ret <= 0)
		return;
	buf = PT_REGS_PARM2_CORE_SYSCALL(regs);
	if (is_writev(nr)) {
		struct iovec iov = {};

		bpf_probe_read_user(&iov, sizeof(iov), (void *)buf);
		buf = (__u64)iov.iov_base;
	}
	if (bpf_probe_read_user(&head, sizeof(head), (void *)buf))
		return;
	now = bpf_ktime_get_ns();
	start = bpf_map_lookup_elem(&starts, &key);
	if (dir == 1) {
		if ((head & 0xff) < 'A' || (head & 0xff) > 'Z')
			return; /* not a request line's first byte: a body */
		if (!start)
			bpf_map_update_elem(&starts, &key, &now, BPF_ANY);
		else if (!*start)
			*start = now;
		return;
	}
	if ((head & 0x00ffffffffffffffULL) != http1)
		return;
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		__u64 *n = bpf_map_lookup_elem(&lost, &idx);

		if (n)
			*n += 1;
		return;
	}
	r->start_ns = start ? *start : 0;
	r->end_ns = now;
	r->tgid = bpf_get_current_pid_tgid() >> 32;
	r->bytes = (__u32)ret;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	if (start)
		*start = zero;
}

/* ---- socket path: sock:sock_recv_length / sock_send_length (Linux 6.3+) ---- */

static __always_inline void min_sock(struct sock *sk, int ret, int flags)
{
	struct pt_regs *regs;

	if (!traced(bpf_get_current_pid_tgid() >> 32) || ret <= 0 || (flags & MSG_PEEK_))
		return;
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	min_io((__u64)sk, regs, syscall_nr(regs), ret);
}

SEC("raw_tracepoint/sock_recv_length")
int min_sock_recv(struct bpf_raw_tracepoint_args *ctx)
{
	min_sock((struct sock *)ctx->args[0], (int)ctx->args[1], (int)ctx->args[2]);
	return 0;
}

SEC("raw_tracepoint/sock_send_length")
int min_sock_send(struct bpf_raw_tracepoint_args *ctx)
{
	min_sock((struct sock *)ctx->args[0], (int)ctx->args[1], (int)ctx->args[2]);
	return 0;
}

/* ---- syscall path: raw_syscalls:sys_exit alone ---- */

SEC("raw_tracepoint/sys_exit")
int min_sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct pt_regs *regs;

	if (!traced(id >> 32))
		return 0;
	regs = (struct pt_regs *)ctx->args[0];
	min_io((id & 0xffffffff00000000ULL) | (__u32)PT_REGS_PARM1_CORE_SYSCALL(regs), regs,
	       syscall_nr(regs), (long)ctx->args[1]);
	return 0;
}
