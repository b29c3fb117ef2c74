/* proc.bpf.h: traced processes (fork, exec, exit) and server ports, reported to user space. */
#ifndef HTTPLAT_PROC_BPF_H
#define HTTPLAT_PROC_BPF_H

#include "maps.bpf.h"

const volatile __u8 filter_discover = 1; /* report execs of candidate processes */

static __always_inline void proc__event(__u8 type, __u32 tgid, __u32 ppid, __u16 port)
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

/* A traced process serves on lport (it listened or accepted): trace its connections. */
static __always_inline void port__add(__u16 lport, __u32 tgid)
{
	if (!lport || port_is_server(lport))
		return;
	bits__set(&ports, lport, 1);
	proc__event(HTTPLAT_EV_PORT, tgid, 0, lport);
}

static __always_inline int proc__comm_prefix(const char *comm, const char *p, int n)
{
	for (int i = 0; i < n; i++) /* unrolled: constant bytes against comm */
		if (comm[i] != p[i])
			return 0;
	return 1;
}

/* A command name that may start a uvicorn server (HTTPLAT_SERVER_COMMS). */
static __always_inline int proc__candidate_comm(const char *comm)
{
#define COMM_MATCH(n)                                                                      \
	if (proc__comm_prefix(comm, #n, sizeof(#n) - 1))                                    \
		return 1;
	HTTPLAT_SERVER_COMMS(COMM_MATCH)
#undef COMM_MATCH
	return 0;
}

/* A traced process forked a process: the child is traced before it runs. */
static __always_inline void proc__fork(struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);

	if (ptgid == ctgid || !target_is(ptgid))
		return;
	bits__set(&targets, ctgid, 1);
	proc__event(HTTPLAT_EV_PROC_FORK, ctgid, ptgid, 0);
}

static __always_inline void proc__exec(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	char comm[HTTPLAT_COMM_LEN];

	if (target_is(tgid)) {
		proc__event(HTTPLAT_EV_PROC_EXEC, tgid, 0, 0);
		return;
	}
	if (!filter_discover)
		return;
	bpf_get_current_comm(comm, sizeof(comm));
	if (proc__candidate_comm(comm))
		proc__event(HTTPLAT_EV_PROC_EXEC, tgid, 0, 0);
}

/* Its sockets end on their own (conn__ended sees PF_EXITING); the process is let go. */
static __always_inline void proc__exit(void)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;

	if ((__u32)pid_tgid != tgid || !target_is(tgid))
		return; /* a thread, or not ours */
	bits__set(&targets, tgid, 0);
	proc__event(HTTPLAT_EV_PROC_EXIT, tgid, 0, 0);
}

#endif
