/* sock.bpf.h: sockets seen from BPF (CO-RE): an fd of the current task to its TCP socket, its port and queue. */
#ifndef HTTPLAT_SOCK_BPF_H
#define HTTPLAT_SOCK_BPF_H

#include "core_fixes.bpf.h"

#define HL_AF_INET 2
#define HL_AF_INET6 10
#define HL_SOCK_STREAM 1
#define HL_IPPROTO_TCP 6
#define HL_S_IFMT 00170000
#define HL_S_IFSOCK 0140000

static __always_inline __u16 sk__lport(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_num);
}

/* An IPv4/IPv6 TCP stream socket. */
static __always_inline int sk__is_tcp(const struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	if (family != HL_AF_INET && family != HL_AF_INET6)
		return 0;
	return sk__type(sk) == HL_SOCK_STREAM && sk__protocol(sk) == HL_IPPROTO_TCP;
}

/* Bytes received that the app has not read yet (TCP). */
static __always_inline int sk__unread(const struct sock *sk)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;

	return BPF_CORE_READ(tp, rcv_nxt) != BPF_CORE_READ(tp, copied_seq);
}

/* The same for a BTF pointer (tp_btf arguments): direct loads. */
static __always_inline int sk__unread_btf(struct sock *sk)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);

	return tp && tp->rcv_nxt != tp->copied_seq;
}

/* task->files->fdt->fd[fd]->private_data->sk, checked to be a TCP socket; NULL otherwise. */
static __always_inline struct sock *fd__tcp_sock(__u32 fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = NULL;
	struct socket *sock;
	struct sock *sk;
	umode_t mode;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_core_read(&f, sizeof(f), &fds[fd]) || !f)
		return NULL;
	mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & HL_S_IFMT) != HL_S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(f, private_data);
	if (!sock)
		return NULL;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk || !sk__is_tcp(sk))
		return NULL;
	return sk;
}

#endif
