/* syscalls.bpf.h: the socket syscalls httplat looks at, per architecture, and their arguments. */
#ifndef HTTPLAT_SYSCALLS_BPF_H
#define HTTPLAT_SYSCALLS_BPF_H

/* What a syscall is to httplat. */
enum io_kind {
	IO_NONE = 0,
	IO_READ,     /* read: one buffer */
	IO_RECVFROM, /* recvfrom: one buffer, flags */
	IO_READV,    /* readv: iovec */
	IO_RECVMSG,  /* recvmsg: msghdr -> iovec */
	IO_WRITE,    /* write, sendto */
	IO_WRITEV,   /* writev */
	IO_SENDMSG,  /* sendmsg */
	IO_SENDFILE, /* sendfile: bytes only */
	IO_ACCEPT,   /* accept, accept4 (fallback path) */
	IO_LISTEN,   /* listen (fallback path) */
};

static __always_inline int io__is_read(__u8 kind)
{
	return kind == IO_READ || kind == IO_RECVFROM || kind == IO_READV || kind == IO_RECVMSG;
}

static __always_inline int io__is_write(__u8 kind)
{
	return kind == IO_WRITE || kind == IO_WRITEV || kind == IO_SENDMSG || kind == IO_SENDFILE;
}

/* The syscall number in a task's saved user registers (-1 outside a syscall). */
static __always_inline long syscall__nr(struct pt_regs *regs)
{
#if defined(__TARGET_ARCH_x86)
	return BPF_CORE_READ(regs, orig_ax);
#elif defined(__TARGET_ARCH_arm64)
	return (int)BPF_CORE_READ(regs, syscallno);
#endif
}

/* The same from a BTF pointer (bpf_task_pt_regs): a plain load. */
static __always_inline long syscall__nr_btf(struct pt_regs *regs)
{
#if defined(__TARGET_ARCH_x86)
	return regs->orig_ax;
#elif defined(__TARGET_ARCH_arm64)
	return (int)regs->syscallno;
#endif
}

/* A switch the compiler turns into a jump table. */
static __always_inline __u8 syscall__kind(long id)
{
	switch (id) {
#if defined(__TARGET_ARCH_x86)
	case 0: /* read */
		return IO_READ;
	case 45: /* recvfrom */
		return IO_RECVFROM;
	case 19: /* readv */
		return IO_READV;
	case 47: /* recvmsg */
		return IO_RECVMSG;
	case 1: /* write */
	case 44: /* sendto */
		return IO_WRITE;
	case 20: /* writev */
		return IO_WRITEV;
	case 46: /* sendmsg */
		return IO_SENDMSG;
	case 40: /* sendfile */
		return IO_SENDFILE;
	case 43: /* accept */
	case 288: /* accept4 */
		return IO_ACCEPT;
	case 50: /* listen */
		return IO_LISTEN;
#elif defined(__TARGET_ARCH_arm64)
	case 63: /* read */
		return IO_READ;
	case 207: /* recvfrom */
		return IO_RECVFROM;
	case 65: /* readv */
		return IO_READV;
	case 212: /* recvmsg */
		return IO_RECVMSG;
	case 64: /* write */
	case 206: /* sendto */
		return IO_WRITE;
	case 66: /* writev */
		return IO_WRITEV;
	case 211: /* sendmsg */
		return IO_SENDMSG;
	case 71: /* sendfile */
		return IO_SENDFILE;
	case 202: /* accept */
	case 242: /* accept4 */
		return IO_ACCEPT;
	case 201: /* listen */
		return IO_LISTEN;
#else
#error "httplat: syscall numbers for this architecture are missing"
#endif
	}
	return IO_NONE;
}

#endif
