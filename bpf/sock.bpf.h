/* sock.bpf.h: from a file descriptor of the current task to its TCP socket (CO-RE). */
#ifndef HTTPLAT_SOCK_BPF_H
#define HTTPLAT_SOCK_BPF_H

#include "core_fixes.bpf.h"

#define HL_AF_INET 2
#define HL_AF_INET6 10
#define HL_SOCK_STREAM 1
#define HL_IPPROTO_TCP 6
#define HL_S_IFMT 00170000
#define HL_S_IFSOCK 0140000

/*
 * task->files->fdt->fd[fd]->private_data, checked to be a TCP socket.
 * Returns the struct sock address (0 if not a TCP socket) and its local port.
 */
static __always_inline __u64 fd__tcp_sock(__u32 fd, __u16 *lport)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = NULL;
	struct socket *sock;
	struct sock *sk;
	umode_t mode;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_core_read(&f, sizeof(f), &fds[fd]) || !f)
		return 0;
	mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & HL_S_IFMT) != HL_S_IFSOCK)
		return 0;
	sock = BPF_CORE_READ(f, private_data);
	if (!sock)
		return 0;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return 0;
	{
		__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

		if (family != HL_AF_INET && family != HL_AF_INET6)
			return 0;
	}
	if (sk__type(sk) != HL_SOCK_STREAM || sk__protocol(sk) != HL_IPPROTO_TCP)
		return 0;
	*lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	return (__u64)sk;
}

#endif
