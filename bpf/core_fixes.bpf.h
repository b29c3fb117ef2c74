/* core_fixes.bpf.h: kernel-version differences, kept in one place. */
#ifndef HTTPLAT_CORE_FIXES_BPF_H
#define HTTPLAT_CORE_FIXES_BPF_H

#include <bpf/bpf_core_read.h>

/*
 * sk_protocol and sk_type were 8- and 16-bit bitfields before v5.6
 * (commit bf9765145b85 "sock: Make sk_protocol a 16-bit value"); the
 * probed bitfield read relocates to either layout.
 */
static __always_inline __u16 sk__protocol(const struct sock *sk)
{
	return (__u16)BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
}

static __always_inline __u16 sk__type(const struct sock *sk)
{
	return (__u16)BPF_CORE_READ_BITFIELD_PROBED(sk, sk_type);
}

#endif
