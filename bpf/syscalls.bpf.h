/* syscalls.bpf.h: syscall numbers httplat hooks, per architecture, mapped to an io_kind. */
#ifndef HTTPLAT_SYSCALLS_BPF_H
#define HTTPLAT_SYSCALLS_BPF_H

#include "maps.bpf.h"

/* raw_syscalls hands us the number: a switch the compiler turns into a jump table. */
static __always_inline __u8 syscall__kind(long id)
{
	switch (id) {
#if defined(__TARGET_ARCH_x86)
	case 0: /* read */
	case 45: /* recvfrom */
		return IO_READ;
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
	case 3: /* close */
		return IO_CLOSE;
#elif defined(__TARGET_ARCH_arm64)
	case 63: /* read */
	case 207: /* recvfrom */
		return IO_READ;
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
	case 57: /* close */
		return IO_CLOSE;
#else
#error "httplat: syscall numbers for this architecture are missing"
#endif
	}
	return IO_NONE;
}

#endif
