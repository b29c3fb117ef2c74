// SPDX-License-Identifier: GPL-2.0
/* httplat.bpf.c: the entry points. User space loads one data path: socket tracepoints or syscall exit. */
/* -Wpadded is for httplat's own structs, not the kernel's */
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wpadded"
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#pragma clang diagnostic pop

#include "data.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* ---- data path 1: socket tracepoints (Linux 6.3+): untraced processes pay nothing ---- */

SEC("tp_btf/sock_recv_length")
int BPF_PROG(httplat_sock_recv, struct sock *sk, int ret, int flags)
{
	nest__enter();
	data__sock(sk, ret, flags, 0);
	nest__exit();
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(httplat_sock_send, struct sock *sk, int ret, int flags)
{
	nest__enter();
	data__sock(sk, ret, flags, 1);
	nest__exit();
	return 0;
}

/* accept4 in libc (Python's and libuv's accept), per traced process: the end of the accept-queue wait */
SEC("uretprobe")
int BPF_KRETPROBE(httplat_accept_ret, int ret)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (ret >= 0 && target_is(tgid))
		conn__accepted((__u32)ret, tgid);
	return 0;
}

/* listen in libc, per traced process: a new server port */
SEC("uprobe")
int BPF_KPROBE(httplat_listen, int fd)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct sock *sk;

	if (filter_ports || !target_is(tgid))
		return 0;
	sk = fd__tcp_sock((__u32)fd);
	if (sk)
		port__add(sk__lport(sk), tgid);
	return 0;
}

/* ---- HTTPS served by the app: libssl, per traced process that maps it (tls.bpf.h) ---- */

SEC("uprobe")
int BPF_KPROBE(httplat_ssl_set_bio, void *ssl, void *rbio)
{
	tls__set_bio((__u64)ssl, (__u64)rbio);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(httplat_bio_write, void *bio, const void *data, int n)
{
	tls__bio_write((__u64)bio, (__u64)data, n);
	return 0;
}

/* SSL_read_ex (or the internal read it wraps): its arguments, for the return */
SEC("uprobe")
int BPF_KPROBE(httplat_ssl_read, void *ssl, void *buf, __u64 num, __u64 *nread)
{
	tls__read_enter((__u64)ssl, (__u64)buf, (__u64)nread);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(httplat_ssl_read_ret, int ret)
{
	nest__enter();
	tls__read_done(ret);
	nest__exit();
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(httplat_ssl_write, void *ssl, const void *buf, __u64 num)
{
	nest__enter();
	tls__write((__u64)ssl, (__u64)buf, num);
	nest__exit();
	return 0;
}

/* ---- data path 2, the fallback: raw_syscalls:sys_exit alone (Linux 5.17-6.2) ---- */

SEC("raw_tracepoint/sys_exit")
int httplat_sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	nest__enter();
	data__sys_exit((struct pt_regs *)ctx->args[0], (long)ctx->args[1]);
	nest__exit();
	return 0;
}

/* ---- connection lifetime, both paths ---- */

SEC("raw_tracepoint/inet_sock_set_state")
int httplat_set_state(struct bpf_raw_tracepoint_args *ctx)
{
	nest__enter();
	conn__state((struct sock *)ctx->args[0], (int)ctx->args[1], (int)ctx->args[2]);
	nest__exit();
	return 0;
}

SEC("raw_tracepoint/tcp_destroy_sock")
int httplat_destroy(struct bpf_raw_tracepoint_args *ctx)
{
	nest__enter();
	conn__destroyed((struct sock *)ctx->args[0]);
	nest__exit();
	return 0;
}

/* Linux 6.6+: when a request's bytes arrived (the wait before the app read them) */
SEC("tp_btf/sk_data_ready")
int BPF_PROG(httplat_data_ready, struct sock *sk)
{
	conn__arrived(sk);
	return 0;
}

/* ---- processes ---- */

SEC("raw_tracepoint/sched_process_fork")
int httplat_fork(struct bpf_raw_tracepoint_args *ctx)
{
	proc__fork((struct task_struct *)ctx->args[0], (struct task_struct *)ctx->args[1]);
	return 0;
}

SEC("raw_tracepoint/sched_process_exec")
int httplat_exec(struct bpf_raw_tracepoint_args *ctx)
{
	proc__exec();
	return 0;
}

SEC("raw_tracepoint/sched_process_exit")
int httplat_exit(struct bpf_raw_tracepoint_args *ctx)
{
	proc__exit();
	return 0;
}
