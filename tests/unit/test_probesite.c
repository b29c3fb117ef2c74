/* test_probesite.c: uprobe sites chosen on byte patterns, this binary's functions, Debian libs. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "probesite.h"

static struct probesite ps;

static int choose(int kind, const unsigned char *code, size_t len)
{
	return probesite__choose(code, len, kind, &ps);
}

#define ENTRY(...)                                                                                 \
	choose(PROBESITE_ENTRY, (const unsigned char[]){__VA_ARGS__},                              \
	       sizeof((const unsigned char[]){__VA_ARGS__}))
#define RETURN(...)                                                                                \
	choose(PROBESITE_RETURN, (const unsigned char[]){__VA_ARGS__},                             \
	       sizeof((const unsigned char[]){__VA_ARGS__}))

/* offset, emulated (callee 0) */
#define SITE(off, emu)                                                                             \
	do {                                                                                       \
		CHECK_INT(ps.offset, off);                                                         \
		CHECK_INT(ps.emulated, emu);                                                       \
		CHECK_INT(ps.callee, 0);                                                           \
	} while (0)

static void test_entry_emulated_first(void)
{
	CHECK_INT(ENTRY(0x41, 0x55, 0x41, 0x54), 0); /* SSL_set_bio: push %r13 */
	SITE(0, 1);
	CHECK_STR(ps.how, "+0 (push, emulated)");
	ENTRY(0x55);
	SITE(0, 1);
	ENTRY(0xe8, 1, 2, 3, 4);
	SITE(0, 1);
	ENTRY(0xeb, 0x10);
	SITE(0, 1);
	ENTRY(0x0f, 0x1f, 0x44, 0x00, 0x00); /* nopl 0(%rax,%rax) */
	SITE(0, 1);
	CHECK_STR(ps.how, "+0 (nop, emulated)");
	ENTRY(0x48, 0x55); /* push with REX.W: the kernel single-steps it */
	SITE(0, 0);
	ENTRY(0x66, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0); /* a nop not in the kernel's table */
	SITE(0, 0);
}

static void test_entry_walks(void)
{
	/* BIO_write: sub, mov %fs:0x28, mov %rax,8(%rsp), xor %eax, test %edx, jle */
	ENTRY(0x48, 0x83, 0xec, 0x18, 0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0, 0, 0, 0x48, 0x89, 0x44,
	      0x24, 0x08, 0x31, 0xc0, 0x85, 0xd2, 0x7e, 0x12);
	SITE(0x16, 1);
	CHECK_STR(ps.how, "+0x16 (jcc, emulated)");
	ENTRY(0x48, 0x85, 0xff, 0x0f, 0x84, 0x97, 3, 0, 0); /* SSL_free */
	SITE(3, 1);
	ENTRY(0x48, 0x83, 0xec, 0x08, 0xe8, 0xc7, 0xfd, 0xff, 0xff); /* SSL_write_ex */
	SITE(4, 1);
	CHECK_STR(ps.how, "+0x4 (call, emulated)");
	ENTRY(0xf3, 0x0f, 0x1e, 0xfa, 0x41, 0x57); /* endbr64; push %r15 */
	SITE(4, 1);
	ENTRY(0x48, 0x81, 0xec, 0, 1, 0, 0, 0xe9, 0, 0, 0, 0); /* sub $0x100,%rsp; jmp */
	SITE(7, 1);
	ENTRY(0x49, 0x89, 0xd4, 0x55); /* mov %rdx,%r12; push */
	SITE(3, 1);
	ENTRY(0x80, 0x3d, 1, 2, 3, 0, 0x00, 0x74, 0x17); /* accept: cmpb $0,x(%rip); je */
	SITE(7, 1);
	ENTRY(0x80, 0x3d, 1, 2, 3, 0, 0x00, 0x41, 0x89, 0xca, 0x74, 0x14); /* accept4 */
	SITE(10, 1);
	ENTRY(0xb8, 0x2b, 0, 0, 0, 0x74, 0x02); /* mov $0x2b,%eax; je */
	SITE(5, 1);
	ENTRY(0x48, 0x8d, 0x44, 0x24, 0x08, 0x55); /* lea 8(%rsp),%rax */
	SITE(5, 1);
	ENTRY(0xf7, 0xc7, 1, 0, 0, 0, 0x75, 0x01); /* test $1,%edi; jne */
	SITE(6, 1);
}

static void test_entry_stops(void)
{
	ENTRY(0x48, 0x89, 0xe1, 0x55); /* mov %rsp,%rcx: rcx is an argument */
	SITE(0, 0);
	CHECK_STR(ps.how, "+0 (single-stepped)");
	ENTRY(0x31, 0xff, 0x74, 0x00); /* xor %edi,%edi */
	SITE(0, 0);
	ENTRY(0x45, 0x31, 0xc0, 0x74, 0x00); /* xor %r8d,%r8d */
	SITE(0, 0);
	ENTRY(0x64, 0x48, 0x8b, 0x3c, 0x25, 0x28, 0, 0, 0, 0x55); /* mov %fs:0x28,%rdi */
	SITE(0, 0);
	ENTRY(0x48, 0x8d, 0x7c, 0x24, 0x08, 0x55); /* lea 8(%rsp),%rdi */
	SITE(0, 0);
	ENTRY(0x48, 0xf7, 0xf1, 0x55); /* div %rcx writes rdx */
	SITE(0, 0);
	ENTRY(0x48, 0xc7, 0xc6, 1, 0, 0, 0, 0x55); /* mov $1,%rsi */
	SITE(0, 0);
	ENTRY(0xb8, 0x32, 0, 0, 0, 0x0f, 0x05); /* listen: mov $0x32,%eax; syscall */
	SITE(0, 0);
	ENTRY(0x48, 0x83, 0xec); /* cut short */
	SITE(0, 0);
	ENTRY(0x48, 0x83, 0xec, 0x08, 0xe8, 1, 2); /* call cut short */
	SITE(0, 0);
	ENTRY(0x66, 0x85, 0xd2, 0x74, 0x00); /* operand-size prefix: not decoded */
	SITE(0, 0);
}

static void test_entry_bound(void)
{
	unsigned char code[PROBESITE_WALK_MAX + 8];
	size_t i;

	/* test %rdi,%rdi (3 bytes) over and over, then push: found within the bound only */
	for (i = 0; i + 3 <= 60; i += 3)
		memcpy(code + i, "\x48\x85\xff", 3);
	code[i] = 0x55;
	CHECK_INT(probesite__choose(code, i + 1, PROBESITE_ENTRY, &ps), 0);
	SITE(i, 1);
	for (i = 0; i + 3 <= sizeof(code) - 1; i += 3)
		memcpy(code + i, "\x48\x85\xff", 3);
	code[i] = 0x55;
	CHECK(i >= PROBESITE_WALK_MAX);
	CHECK_INT(probesite__choose(code, i + 1, PROBESITE_ENTRY, &ps), 0);
	SITE(0, 0);
	CHECK_INT(probesite__choose(code, 0, PROBESITE_ENTRY, &ps), 0);
	SITE(0, 0);
	CHECK_INT(probesite__choose(NULL, 4, PROBESITE_ENTRY, &ps), -EINVAL);
	CHECK_INT(probesite__choose(code, 4, 7, &ps), -EINVAL);
	CHECK_INT(probesite__choose(code, 4, PROBESITE_ENTRY, NULL), -EINVAL);
}

static void test_return(void)
{
	RETURN(0x41, 0x55);
	SITE(0, 1);
	RETURN(0xf3, 0x0f, 0x1e, 0xfa, 0x55); /* endbr64; push */
	SITE(4, 1);
	CHECK_STR(ps.how, "+0x4 (push, emulated)");
	RETURN(0x80, 0x3d, 1, 2, 3, 0, 0x00, 0x74, 0x17); /* accept: rsp untouched up to the je */
	SITE(7, 1);
	/* BIO_write: sub $0x18,%rsp moves the return address */
	RETURN(0x48, 0x83, 0xec, 0x18, 0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0, 0, 0, 0x48, 0x89,
	       0x44, 0x24, 0x08, 0x31, 0xc0, 0x85, 0xd2, 0x7e, 0x12);
	SITE(0, 0);
	CHECK_STR(ps.how, "+0 (single-stepped)");
	RETURN(0x48, 0x83, 0xec, 0x18, 0xe8, 0, 0, 0, 0); /* not sub $8: not a thin wrapper */
	SITE(0, 0);
	RETURN(0x48, 0x83, 0xec, 0x08, 0x55); /* sub $8 then no call */
	SITE(0, 0);
	RETURN(0x48, 0x89, 0x04, 0x24,
	       0x55); /* mov %rax,(%rsp): a store, maybe the return address */
	SITE(0, 0);
	ENTRY(0x48, 0x89, 0x04, 0x24, 0x55); /* the same is fine for an entry probe */
	SITE(4, 1);
	RETURN(0x85, 0xff, 0x48, 0x83, 0x3d, 1, 2, 3, 4, 0, 0x74,
	       0x00); /* test; cmpq $0,x(%rip); je */
	SITE(10, 1);
}

static void test_return_wrapper(void)
{
	RETURN(0x48, 0x83, 0xec, 0x08, 0xe8, 0xc7, 0xfd, 0xff, 0xff); /* SSL_read_ex */
	CHECK_INT(ps.callee, 1);
	CHECK_INT(ps.target, -0x230); /* 0x354c4 + 5 - 0x239 = 0x35290, from 0x354c0 */
	CHECK_INT(ps.emulated, 0);
	CHECK_STR(ps.how, "callee at -0x230 (thin wrapper)");
	RETURN(0xf3, 0x0f, 0x1e, 0xfa, 0x48, 0x83, 0xec, 0x08, 0xe8, 0x10, 0, 0, 0);
	CHECK_INT(ps.callee, 1);
	CHECK_INT(ps.target, 13 + 0x10);
	CHECK_STR(ps.how, "callee at +0x1d (thin wrapper)");
	RETURN(0x48, 0x83, 0xec, 0x08, 0xe8, 0xc7, 0xfd); /* cut short */
	SITE(0, 0);
}

/*
 * Functions of this binary, found in its .symtab: thin wrappers whose callee
 * starts with push or with sub, and a BIO_write-like entry.
 */
__asm__(".text\n"
	".type ps_callee_push,@function\nps_callee_push:\n push %rbx\n pop %rbx\n ret\n"
	".size ps_callee_push, .-ps_callee_push\n"
	".type ps_callee_sub,@function\nps_callee_sub:\n sub $8,%rsp\n add $8,%rsp\n ret\n"
	".size ps_callee_sub, .-ps_callee_sub\n"
	".type ps_wrap_push,@function\nps_wrap_push:\n sub $8,%rsp\n call ps_callee_push\n"
	" add $8,%rsp\n ret\n.size ps_wrap_push, .-ps_wrap_push\n"
	".type ps_wrap_sub,@function\nps_wrap_sub:\n sub $8,%rsp\n call ps_callee_sub\n"
	" add $8,%rsp\n ret\n.size ps_wrap_sub, .-ps_wrap_sub\n"
	".type ps_entry_jcc,@function\nps_entry_jcc:\n sub $0x18,%rsp\n test %edx,%edx\n jle 1f\n"
	"1: add $0x18,%rsp\n ret\n.size ps_entry_jcc, .-ps_entry_jcc\n");
void ps_callee_push(void);
void ps_callee_sub(void);
void ps_wrap_push(void);
void ps_wrap_sub(void);
void ps_entry_jcc(void);

/* The file offset of a code address of this process, from /proc/self/maps (not from the ELF). */
static unsigned long self_offset(const void *addr)
{
	unsigned long a = (unsigned long)(uintptr_t)addr, lo, hi, pgoff, found = 0;
	char line[512], perms[8];
	FILE *f = fopen("/proc/self/maps", "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %7s %lx", &lo, &hi, perms, &pgoff) == 4 && a >= lo &&
		    a < hi) {
			found = a - lo + pgoff;
			break;
		}
	}
	if (f)
		fclose(f);
	return found;
}

static void test_find_self(void)
{
	struct probesite_site s;

	CHECK_INT(probesite__find("/proc/self/exe", "ps_wrap_push", PROBESITE_RETURN, &s), 0);
	CHECK_INT(s.file_offset, self_offset((const void *)ps_callee_push));
	CHECK_INT(s.emulated, 1);
	CHECK(strstr(s.how, "(thin wrapper), +0 (push, emulated)") != NULL);
	CHECK_INT(probesite__find("/proc/self/exe", "ps_wrap_push", PROBESITE_ENTRY, &s), 0);
	CHECK_INT(s.file_offset, self_offset((const void *)ps_wrap_push) + 4);
	CHECK_INT(probesite__find("/proc/self/exe", "ps_wrap_sub", PROBESITE_RETURN, &s), 0);
	CHECK_INT(s.file_offset, self_offset((const void *)ps_wrap_sub)); /* callee is slow too */
	CHECK_INT(s.emulated, 0);
	CHECK(strstr(s.how, "single-stepped") != NULL);
	CHECK_INT(probesite__find("/proc/self/exe", "ps_entry_jcc", PROBESITE_ENTRY, &s), 0);
	CHECK_INT(s.file_offset, self_offset((const void *)ps_entry_jcc) + 6);
	CHECK_INT(s.emulated, 1);
	CHECK_INT(probesite__find("/proc/self/exe", "ps_no_such_function", PROBESITE_ENTRY, &s),
		  -ENOENT);
	CHECK_INT(probesite__find("/nonexistent/lib.so", "f", PROBESITE_ENTRY, &s), -ENOENT);
	CHECK_INT(probesite__find("/proc/self/maps", "f", PROBESITE_ENTRY, &s), -ENOEXEC);
	CHECK_INT(probesite__find("/proc/self/exe", "f", 9, &s), -EINVAL);
}

/* The code bytes at a file offset start with want (this build of the library)? */
static int file_has(const char *path, unsigned long off, const char *want, size_t n)
{
	unsigned char buf[16];
	int fd = open(path, O_RDONLY | O_CLOEXEC), ok;

	if (fd < 0)
		return 0;
	ok = pread(fd, buf, n, (off_t)off) == (ssize_t)n && !memcmp(buf, want, n);
	close(fd);
	return ok;
}

struct lib_case {
	const char *path, *func;
	int kind;
	unsigned long off; /* Debian 12's build (libssl3 3.0.19-1~deb12u2, libc6 2.36-9+deb12u14) */
	const char *start; /* what the function starts with in that build */
	size_t start_len;
	unsigned long func_off;
};

#define SSL "/usr/lib/x86_64-linux-gnu/libssl.so.3"
#define CRYPTO "/usr/lib/x86_64-linux-gnu/libcrypto.so.3"
#define LIBC "/lib/x86_64-linux-gnu/libc.so.6"

static const struct lib_case lib_cases[] = {
    {SSL, "SSL_read_ex", PROBESITE_RETURN, 0x35290, "\x48\x83\xec\x08\xe8\xc7\xfd\xff\xff", 9,
     0x354c0},
    {SSL, "SSL_write_ex", PROBESITE_RETURN, 0x355a0, "\x48\x83\xec\x08\xe8\x87\xfb\xff\xff", 9,
     0x35a10},
    {SSL, "SSL_write_ex", PROBESITE_ENTRY, 0x35a14, "\x48\x83\xec\x08\xe8", 5, 0x35a10},
    {CRYPTO, "BIO_write", PROBESITE_ENTRY, 0x1088d6, "\x48\x83\xec\x18\x64", 5, 0x1088c0},
    {SSL, "SSL_free", PROBESITE_ENTRY, 0x3b353, "\x48\x85\xff\x0f\x84", 5, 0x3b350},
    {SSL, "SSL_set_bio", PROBESITE_ENTRY, 0x34850, "\x41\x55", 2, 0x34850},
    {LIBC, "accept4", PROBESITE_RETURN, 0x10af5a, "\x80\x3d", 2, 0x10af50},
    {LIBC, "accept", PROBESITE_ENTRY, 0x10a6e7, "\x80\x3d", 2, 0x10a6e0},
};

static void test_find_debian_libs(void)
{
	for (size_t i = 0; i < sizeof(lib_cases) / sizeof(lib_cases[0]); i++) {
		const struct lib_case *c = &lib_cases[i];
		struct probesite_site s;

		if (access(c->path, R_OK)) {
			printf("  note: %s not here, %s skipped\n", c->path, c->func);
			continue;
		}
		CHECK_INT(probesite__find(c->path, c->func, c->kind, &s), 0);
		CHECK_INT(s.emulated, 1);
		if (!file_has(c->path, c->func_off, c->start, c->start_len)) {
			printf("  note: %s is another build, %s's offset not compared\n", c->path,
			       c->func);
			continue;
		}
		CHECK_INT(s.file_offset, c->off);
	}
}

int main(void)
{
	RUN(test_entry_emulated_first);
	RUN(test_entry_walks);
	RUN(test_entry_stops);
	RUN(test_entry_bound);
	RUN(test_return);
	RUN(test_return_wrapper);
	RUN(test_find_self);
	RUN(test_find_debian_libs);
	return CHECK_DONE();
}
