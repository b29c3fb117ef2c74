// SPDX-License-Identifier: GPL-2.0
/* httplat.bpf.c: entry points: syscall and sched raw tracepoints of the traced processes. */
/* -Wpadded is for httplat's own structs, not the kernel's */
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wpadded"
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#pragma clang diagnostic pop

#include "conn.bpf.h"
#include "sock.bpf.h"
#include "syscalls.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Load-time settings (bcc style: filter_* switches, targ_* values). */
const volatile __u8 filter_ports = 0;	 /* only ports in the ports map (--port) */
const volatile __u8 filter_discover = 1; /* report execs of candidate processes */

static __always_inline int port_ok(__u16 lport)
{
	return bpf_map_lookup_elem(&ports, &lport) != NULL;
}

static __always_inline void proc_event(__u8 type, __u32 tgid, __u32 ppid, __u16 port)
{
	struct httplat_proc_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count(HTTPLAT_C_RB_FULL);
		return;
	}
	e->hdr.type = type;
	e->hdr._pad0[0] = e->hdr._pad0[1] = e->hdr._pad0[2] = 0;
	e->hdr.tgid = tgid;
	e->ppid = ppid;
	e->port = port;
	e->_pad1 = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	/* process events are rare and discovery should not wait for the timer */
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
}

/* ---- connection lifetime ---- */

static __always_inline void on_close(__u32 tgid, __u32 fd)
{
	struct conn_key k = {.tgid = tgid, .fd = fd};
	struct hconn *c = bpf_map_lookup_elem(&conns, &k);

	if (!c) {
		bpf_map_delete_elem(&skip, &k);
		return;
	}
	conn_finish(c, &k, bpf_ktime_get_ns(), 0);
	bpf_map_delete_elem(&conns, &k);
}

/* Creates (or replaces) the state of a server connection. */
static __always_inline struct hconn *conn_new(const struct conn_key *k, __u64 sk, __u16 lport,
					     __u64 accept_ns, __u32 flags)
{
	struct scratch *s = scratch_get();
	struct hconn *c;

	if (!s)
		return NULL;
	s->zconn.sk = sk;
	s->zconn.lport = lport;
	s->zconn.accept_ns = accept_ns;
	s->zconn.flags = flags;
	if (bpf_map_update_elem(&conns, k, &s->zconn, BPF_ANY)) {
		count(HTTPLAT_C_CONN_FULL);
		return NULL;
	}
	c = bpf_map_lookup_elem(&conns, k);
	if (!c)
		count(HTTPLAT_C_CONN_EVICTED);
	return c;
}

static __always_inline void on_accept(__u32 tgid, __u32 fd)
{
	struct conn_key k = {.tgid = tgid, .fd = fd};
	struct hconn *old;
	__u16 lport = 0;
	__u64 sk = fd__tcp_sock(fd, &lport);
	__u64 now = bpf_ktime_get_ns();
	__u8 one = 1;

	bpf_map_delete_elem(&skip, &k);
	if (!sk)
		return;
	if (!port_ok(lport)) {
		if (filter_ports)
			return;
		/* a traced process accepted on it: it is a server port */
		bpf_map_update_elem(&ports, &lport, &one, BPF_ANY);
	}
	old = bpf_map_lookup_elem(&conns, &k);
	if (old) /* the close of the previous holder of this fd was missed */
		conn_finish(old, &k, now, 0);
	conn_new(&k, sk, lport, now, 0);
}

static __always_inline void on_listen(__u32 tgid, __u32 fd)
{
	__u16 lport = 0;
	__u8 one = 1;

	if (filter_ports || !fd__tcp_sock(fd, &lport))
		return;
	if (port_ok(lport))
		return;
	bpf_map_update_elem(&ports, &lport, &one, BPF_ANY);
	proc_event(HTTPLAT_EV_PORT, tgid, 0, lport);
}

/* ---- syscalls ---- */

static __always_inline int on_enter(struct pt_regs *regs, __u8 kind, __u64 pid_tgid)
{
	struct inflight a = {}, *ap;
	__u32 tgid = pid_tgid >> 32;
	struct conn_key k = {.tgid = tgid};

	a.kind = kind;
	a.fd = (__u32)PT_REGS_PARM1_CORE_SYSCALL(regs);
	k.fd = a.fd;
	if (kind == IO_CLOSE) {
		on_close(tgid, a.fd);
		return 0;
	}
	if (kind != IO_ACCEPT && kind != IO_LISTEN && !bpf_map_lookup_elem(&conns, &k)) {
		__u64 sk;

		if (bpf_map_lookup_elem(&skip, &k))
			return 0;
		sk = fd__tcp_sock(a.fd, &a.lport);
		if (!sk || !port_ok(a.lport)) {
			/* not a server connection: never look at this fd again until closed */
			bpf_map_update_elem(&skip, &k, &sk, BPF_ANY);
			return 0;
		}
		a.is_new = 1;
		a.sk = sk;
	}
	switch (kind) {
	case IO_READ:
	case IO_WRITE:
		a.ptr = PT_REGS_PARM2_CORE_SYSCALL(regs);
		break;
	case IO_READV:
	case IO_WRITEV:
		a.ptr = PT_REGS_PARM2_CORE_SYSCALL(regs);
		a.iovcnt = (__u32)PT_REGS_PARM3_CORE_SYSCALL(regs);
		if (!a.iovcnt)
			return 0;
		break;
	case IO_RECVMSG:
	case IO_SENDMSG: {
		struct user_msghdr *msg = (void *)PT_REGS_PARM2_CORE_SYSCALL(regs);
		struct iovec *iov = NULL;
		__u64 n = 0;

		bpf_probe_read_user(&iov, sizeof(iov), &msg->msg_iov);
		bpf_probe_read_user(&n, sizeof(n), &msg->msg_iovlen);
		if (!iov || !n)
			return 0;
		a.ptr = (__u64)iov;
		a.iovcnt = n > 1024 ? 1024 : (__u32)n;
		a.kind = kind == IO_RECVMSG ? IO_READV : IO_WRITEV;
		break;
	}
	default:
		break;
	}
	ap = bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!ap) {
		count(HTTPLAT_C_INFLIGHT_FULL);
		return 0;
	}
	*ap = a;
	return 0;
}

static __always_inline int on_exit(long ret)
{
	struct task_struct *task;
	struct inflight *ap;
	struct conn_key k = {};
	struct io_ctx io = {};
	struct scratch *s;
	struct hconn *c;

	/*
	 * Only threads of traced processes get task storage: a thread with
	 * none at all (one load) is not ours, without even a lookup.
	 */
	task = bpf_get_current_task_btf();
	if (!task->bpf_storage)
		return 0;
	ap = bpf_task_storage_get(&inflight, task, 0, 0);
	if (!ap || !ap->kind)
		return 0;
	io.a = *ap;
	ap->kind = IO_NONE;
	k.tgid = bpf_get_current_pid_tgid() >> 32;
	k.fd = io.a.fd;
	switch (io.a.kind) {
	case IO_ACCEPT:
		if (ret >= 0)
			on_accept(k.tgid, (__u32)ret);
		return 0;
	case IO_LISTEN:
		if (ret == 0)
			on_listen(k.tgid, io.a.fd);
		return 0;
	}
	if (ret < 0)
		return 0;
	c = bpf_map_lookup_elem(&conns, &k);
	if (!c) {
		if (!io.a.is_new || ret == 0)
			return 0;
		c = conn_new(&k, io.a.sk, io.a.lport, 0, HTTPLAT_F_PREEXISTING);
		if (!c)
			return 0;
	}
	if (ret == 0) {
		/* end of stream from the client */
		if (io.a.kind == IO_READ || io.a.kind == IO_READV)
			c->cur.flags |= c->active ? HTTPLAT_F_PEER_CLOSED : 0;
		return 0;
	}
	s = scratch_get();
	if (!s)
		return 0;
	io.total = (__u64)ret;
	io.now = bpf_ktime_get_ns();
	io__load_iov(&io, s);
	switch (io.a.kind) {
	case IO_READ:
	case IO_READV:
		on_read(c, &k, &io);
		break;
	case IO_WRITE:
	case IO_WRITEV:
		on_write(c, &k, &io, 1);
		break;
	case IO_SENDFILE:
		on_write(c, &k, &io, 0);
		break;
	}
	return 0;
}

SEC("raw_tracepoint/sys_enter")
int httplat_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	__u8 kind = syscall__kind(ctx->args[1]);
	__u64 pid_tgid;
	__u32 tgid;

	if (!kind)
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	tgid = pid_tgid >> 32;
	if (!target_is(tgid))
		return 0;
	return on_enter((struct pt_regs *)ctx->args[0], kind, pid_tgid);
}

SEC("raw_tracepoint/sys_exit")
int httplat_sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	return on_exit((long)ctx->args[1]);
}

/* ---- processes ---- */

struct sweep_ctx {
	__u32 tgid;
	__u32 why;
	__u64 now;
};

static long sweep_conn(void *map, struct conn_key *k, struct hconn *c, struct sweep_ctx *x)
{
	struct conn_key key = *k; /* map keys are read-only; global functions write */

	if (key.tgid != x->tgid)
		return 0;
	conn_finish(c, &key, x->now, x->why);
	bpf_map_delete_elem(map, &key);
	return 0;
}

static long sweep_skip(void *map, struct conn_key *k, __u64 *v, struct sweep_ctx *x)
{
	if (k->tgid == x->tgid)
		bpf_map_delete_elem(map, k);
	return 0;
}

/* Ends every connection of a process whose fds just went away (exit, exec). */
static __always_inline void sweep(__u32 tgid, __u32 why)
{
	struct sweep_ctx x = {.tgid = tgid, .why = why, .now = bpf_ktime_get_ns()};

	bpf_for_each_map_elem(&conns, sweep_conn, &x, 0);
	bpf_for_each_map_elem(&skip, sweep_skip, &x, 0);
}

SEC("raw_tracepoint/sched_process_fork")
int httplat_fork(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *parent = (struct task_struct *)ctx->args[0];
	struct task_struct *child = (struct task_struct *)ctx->args[1];
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);

	if (ptgid == ctgid || !target_is(ptgid))
		return 0;
	target_set(ctgid, 1);
	proc_event(HTTPLAT_EV_PROC_FORK, ctgid, ptgid, 0);
	return 0;
}

/* Command names that may start a uvicorn server (python -m uvicorn, uvicorn, gunicorn). */
static __always_inline int candidate_comm(const char *comm)
{
	if (comm[0] == 'p' && comm[1] == 'y' && comm[2] == 't' && comm[3] == 'h' &&
	    comm[4] == 'o' && comm[5] == 'n')
		return 1;
	if (comm[0] == 'u' && comm[1] == 'v' && comm[2] == 'i' && comm[3] == 'c' &&
	    comm[4] == 'o' && comm[5] == 'r' && comm[6] == 'n')
		return 1;
	return comm[0] == 'g' && comm[1] == 'u' && comm[2] == 'n' && comm[3] == 'i' &&
	       comm[4] == 'c' && comm[5] == 'o' && comm[6] == 'r' && comm[7] == 'n';
}

SEC("raw_tracepoint/sched_process_exec")
int httplat_exec(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	char comm[HTTPLAT_COMM_LEN];

	if (target_is(tgid)) {
		/* close-on-exec fds went away without close() */
		sweep(tgid, HTTPLAT_F_PROC_EXIT);
		proc_event(HTTPLAT_EV_PROC_EXEC, tgid, 0, 0);
		return 0;
	}
	if (!filter_discover)
		return 0;
	bpf_get_current_comm(comm, sizeof(comm));
	if (candidate_comm(comm))
		proc_event(HTTPLAT_EV_PROC_EXEC, tgid, 0, 0);
	return 0;
}

SEC("raw_tracepoint/sched_process_exit")
int httplat_exit(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;

	if (!target_is(tgid))
		return 0;
	if ((__u32)pid_tgid != tgid)
		return 0; /* a thread; the process goes on */
	sweep(tgid, HTTPLAT_F_PROC_EXIT);
	target_set(tgid, 0);
	proc_event(HTTPLAT_EV_PROC_EXIT, tgid, 0, 0);
	return 0;
}
