/* probesite.h: where in a function a uprobe goes so that x86 emulates it, not single-steps. */
#ifndef HTTPLAT_PROBESITE_H
#define HTTPLAT_PROBESITE_H

#include <stddef.h>

/*
 * A uprobe hit on an instruction the x86-64 kernel emulates (push reg,
 * call/jmp rel, jcc, the canonical nops) is cheap; on any other the kernel
 * single-steps a copy of it, about ten times dearer. Measured on this VM
 * (kernel 6.18, tracefs uprobe_events, 200k calls, cost per hit):
 *
 *   push %rbx 0.94 us, call 0.84, jmp 0.84, jcc 0.79, nop/nopl 0.66-0.80;
 *   sub $8,%rsp 11.7 us, endbr64 11.3, xor 12.6, test 13.2, mov 12.2,
 *   cmpb $0,x(%rip) 12.3;
 *   uretprobe on push 1.63 us, on sub $8,%rsp 12.3, on nopl 1.30;
 *   BIO_write (libcrypto, 100k calls on a memory BIO, 2 runs): entry probe
 *   at +0 (sub) 10.8-12.2 us, at +0x16 (jle, chosen) 0.76-0.88 us (the
 *   arguments read there are right); uretprobe at +0 11.0 us.
 * The canonical nops are emulated too (since Linux 3.15, also on 6.1).
 *
 * So an entry probe walks past leading instructions that leave the
 * argument registers alone and sits on the first emulated one; a return
 * probe must stay where [rsp] is the return address (nothing moved rsp
 * yet), or, on a thin wrapper (sub $8,%rsp; call f), go to the callee.
 */

enum probesite_kind {
	PROBESITE_ENTRY,  /* uprobe: the argument registers must still hold the arguments */
	PROBESITE_RETURN, /* uretprobe: [rsp] must still be the return address */
};

#define PROBESITE_WALK_MAX 64 /* bytes of a function the chooser looks at */
#define PROBESITE_HOW_LEN 48
#define PROBESITE_SITE_HOW_LEN 128

struct probesite {
	size_t offset; /* where to probe, from the function start (callee == 0) */
	long target;   /* callee == 1: the callee's start, from the function start */
	int emulated;  /* the instruction at offset is one the kernel emulates */
	int callee;    /* RETURN on a thin wrapper: probe target (after checking its entry) */
	char how[PROBESITE_HOW_LEN]; /* "+0x16 (jcc, emulated)", for -v logs */
};

/*
 * Chooses a site in the first len bytes of a function's code (x86-64). An
 * entry site is reached by every call with rdi, rsi, rdx, rcx, r8, r9 as at
 * the entry (rsp and the flags may differ: read only register arguments
 * there). Anything the walk does not know gives offset 0, emulated 0:
 * correct, only slower. 0, or -EINVAL.
 */
int probesite__choose(const unsigned char *code, size_t len, int kind, struct probesite *out);

struct probesite_site {
	unsigned long file_offset; /* for bpf_program__attach_uprobe_opts with no func_name */
	int emulated;
	char how[PROBESITE_SITE_HOW_LEN];
};

/*
 * Finds func in the ELF file path (.dynsym, then .symtab) and chooses its
 * probe site: the file offset to attach at, following a thin wrapper to its
 * callee for PROBESITE_RETURN when the callee's entry is emulated (the
 * probe then also fires for the callee's other callers, and sees the
 * callee's return value). Non-x86-64 files get the function's start.
 * 0, -ENOENT (no such function), -ENOEXEC (not a usable ELF file), -errno.
 */
int probesite__find(const char *path, const char *func, int kind, struct probesite_site *site);

#endif
