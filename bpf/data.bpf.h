/* data.bpf.h: the bytes of one socket syscall of a traced process, into its connection's state machine. */
#ifndef HTTPLAT_DATA_BPF_H
#define HTTPLAT_DATA_BPF_H

#include "conn.bpf.h"
#include "syscalls.bpf.h"

#define HL_MSG_PEEK 2

/*
 * The buffer or iovec of a socket syscall from its 2nd and 3rd arguments (buffer / iovec /
 * msghdr, length / iovec count). 0, or -1: nothing to read.
 */
static __always_inline int io__from_args(struct io_ctx *io, __u8 kind, __u64 a2, __u64 a3,
					 struct scratch *s)
{
	__u64 n = 0;

	io->data = kind != IO_SENDFILE;
	switch (kind) {
	case IO_READ:
	case IO_RECVFROM:
	case IO_WRITE:
		io->ptr = a2;
		return 0;
	case IO_READV:
	case IO_WRITEV:
		io->ptr = a2;
		n = a3;
		break;
	case IO_RECVMSG:
	case IO_SENDMSG: {
		struct user_msghdr *msg = (void *)a2;
		struct iovec *iov = NULL;

		bpf_probe_read_user(&iov, sizeof(iov), &msg->msg_iov);
		bpf_probe_read_user(&n, sizeof(n), &msg->msg_iovlen);
		io->ptr = (__u64)iov;
		break;
	}
	default:
		return 0; /* sendfile: bytes only */
	}
	if (!n || !io->ptr)
		return -1;
	io->iovcnt = n > 1024 ? 1024 : (__u32)n;
	if (io->iovcnt > CONN_IOV)
		count(HTTPLAT_C_PARSE_GIVEUP); /* bytes past CONN_IOV entries cannot be looked at */
	n = io->iovcnt;
	barrier_var(n); /* else clang re-reads io->iovcnt past the clamp, which 6.1 rejects */
	if (n > CONN_IOV)
		n = CONN_IOV;
	if (bpf_probe_read_user(s->iov, n * sizeof(struct sm_iovec), (void *)io->ptr))
		return -1;
	io->niov = (__u32)n;
	return 0;
}

/*
 * ret bytes were read from or written to sk by a syscall of a traced
 * process (a2, a3: its 2nd and 3rd arguments). Reads also move the arrival
 * mark: what is still unread after this read arrived by now at the latest.
 * btf_sk: sk is a BTF pointer (socket path) whose fields are read directly.
 */
static __always_inline void data__io(struct sock *sk, __u8 kind, long ret, __u64 a2, __u64 a3,
				     const int btf_sk)
{
	struct scratch *s = env__scratch();
	struct io_ctx io = {};
	struct hconn *c;

	if (!s || ret <= 0)
		return; /* an end of stream is seen by the socket's state change */
	c = conn__of(sk);
	if (!c || c->dead)
		return;
	io.tgid = bpf_get_current_pid_tgid() >> 32;
	io.total = (__u64)ret;
	io.now = bpf_ktime_get_ns();
	c->tgid = io.tgid;
	if (c->kind == HTTPLAT_CONN_TLS && !io__is_read(kind)) {
		tls__socket_send(c, ret, io.now); /* ciphertext: records waiting for it go out */
		return;
	}
	if (io__from_args(&io, kind, a2, a3, s))
		return;
	if (io__is_read(kind)) {
		/* a TLS connection's ciphertext: noted for the libssl probes, not parsed */
		__u64 first = io.iovcnt ? s->iov[0].base : io.ptr;

		io.arrive_ns = c->unread_ns;
		if (c->kind != HTTPLAT_CONN_TLS) {
			conn__on_read(c, &io);
			if (c->kind == HTTPLAT_CONN_TLS)
				tls__port_mark(c); /* it just turned out to be TLS */
		}
		if (c->kind == HTTPLAT_CONN_TLS)
			tls__socket_read(c, first, (__u64)ret, io.now, io.arrive_ns);
		if (has_data_ready)
			c->unread_ns = (btf_sk ? sk__unread_btf(sk) : sk__unread(sk)) ? io.now : 0;
	} else {
		__u32 answered = c->resp_seq;

		conn__on_write(c, &io);
		if (c->resp_seq != answered)
			tls__port_mark(c); /* a plaintext response: not (or no longer) a TLS port */
	}
}

/*
 * Socket path (tp_btf sock:sock_recv_length / sock_send_length): the syscall is the current
 * task's; its registers and the socket are read directly (BTF pointers, no helper calls).
 */
static __always_inline void data__sock(struct sock *sk, int ret, int flags, int send)
{
	struct pt_regs *regs;
	__u8 kind;

	/*
	 * Every socket operation on the host passes here. The socket's port (a line the
	 * kernel just used, tested in an 8 KiB bitmap) rules out most of them before the
	 * traced-process test (a 512 KiB bitmap, and a helper call).
	 */
	if (ret <= 0 || !port_is_server(sk->__sk_common.skc_num) ||
	    !target_is(bpf_get_current_pid_tgid() >> 32) || (flags & HL_MSG_PEEK))
		return;
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	kind = syscall__kind(syscall__nr_btf(regs));
	if (send ? !io__is_write(kind) : !io__is_read(kind))
		return; /* not from a syscall we know (io_uring, the kernel's own sockets) */
	data__io(sk, kind, ret, PT_REGS_PARM2_SYSCALL(regs), PT_REGS_PARM3_SYSCALL(regs), 1);
}

/* Fallback path (raw_syscalls:sys_exit, kernels without the socket tracepoints). */
static __always_inline void data__sys_exit(struct pt_regs *regs, long ret)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u8 kind;
	__u32 fd;
	struct sock *sk;

	if (!target_is(tgid) || ret < 0)
		return;
	kind = syscall__kind(syscall__nr(regs));
	if (!kind)
		return;
	if (kind == IO_ACCEPT) {
		conn__accepted((__u32)ret, tgid);
		return;
	}
	fd = (__u32)PT_REGS_PARM1_CORE_SYSCALL(regs);
	sk = fd__tcp_sock(fd);
	if (!sk)
		return;
	if (kind == IO_LISTEN) {
		if (!filter_ports)
			port__add(sk__lport(sk), tgid);
		return;
	}
	if (kind == IO_RECVFROM && (PT_REGS_PARM4_CORE_SYSCALL(regs) & HL_MSG_PEEK))
		return;
	data__io(sk, kind, ret, PT_REGS_PARM2_CORE_SYSCALL(regs), PT_REGS_PARM3_CORE_SYSCALL(regs),
		 0);
}

#endif
