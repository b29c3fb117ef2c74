/* io.bpf.h: copying windows of a syscall's data (buffer or iovec) out of user memory. */
#ifndef HTTPLAT_IO_BPF_H
#define HTTPLAT_IO_BPF_H

#include "maps.bpf.h"

#define IO_MAX_IOV 8 /* iovec entries looked into; bytes beyond still count */

/*
 * One syscall's data as seen at exit: total bytes and the current window
 * (in the per-CPU scratch). No pointers: it is handed to global functions,
 * which the verifier checks once each, on their own.
 */
struct io_ctx {
	struct inflight a;
	__u64 total;	/* bytes transferred (syscall return) */
	__u64 win_off;	/* data offset of scratch->win[0] */
	__u32 win_len;	/* valid bytes in scratch->win */
	__u32 niov;	/* iovec entries copied into scratch->iov */
	__u64 now;
	__u64 off;	/* scan cursor: data offset */
};

static __always_inline struct scratch *scratch_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&scratch_map, &zero);
}

/* Copies the iovec array (first IO_MAX_IOV entries) so windows can be filled from it. */
static __always_inline void io__load_iov(struct io_ctx *io, struct scratch *s)
{
	__u32 n = io->a.iovcnt;

	if (!n)
		return;
	if (n > IO_MAX_IOV)
		n = IO_MAX_IOV;
	if (bpf_probe_read_user(s->iov, n * sizeof(struct iovec), (void *)io->a.ptr))
		n = 0;
	io->niov = n;
}

/* Fills the window with up to HP_WIN bytes starting at data offset off. 0 if any. */
__noinline int io__fill(struct io_ctx *io, __u64 off)
{
	struct scratch *s = scratch_get();
	__u64 want, base = 0;
	__u32 got = 0;

	if (!io || !s)
		return -1;
	io->win_off = off;
	io->win_len = 0;
	if (off >= io->total)
		return -1;
	want = io->total - off;
	if (want > HP_WIN)
		want = HP_WIN;
	if (!io->a.iovcnt) {
		if (bpf_probe_read_user(s->win, want, (void *)(io->a.ptr + off)))
			return -1;
		io->win_len = want;
		return 0;
	}
	for (int i = 0; i < IO_MAX_IOV; i++) {
		__u64 len, at, n;

		if (i >= io->niov || got >= want || got >= HP_WIN)
			break;
		len = s->iov[i & (IO_MAX_IOV - 1)].iov_len;
		at = off + got;
		if (at < base + len) {
			n = base + len - at;
			if (n > want - got)
				n = want - got;
			if (n > HP_WIN)
				n = HP_WIN;
			if (bpf_probe_read_user(&s->win[got],
						n, (char *)s->iov[i & (IO_MAX_IOV - 1)].iov_base +
							   (at - base)))
				break;
			got += n;
		}
		base += len;
	}
	io->win_len = got;
	return got ? 0 : -1;
}

/* Makes sure the window holds data offset off; returns its index in the window or -1. */
static __always_inline int io__at(struct io_ctx *io, __u64 off)
{
	if (off >= io->win_off && off < io->win_off + io->win_len)
		return (int)(off - io->win_off);
	if (io__fill(io, off))
		return -1;
	return 0;
}

#endif
