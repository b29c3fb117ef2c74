/* test_uprobes.c: finding the files a process maps (the libraries and executable to probe). */
#include <errno.h>
#include <limits.h>

#include "check.h"
#include "uprobes.h"

static const char maps[] =
	"55d0c0000000-55d0c0001000 r--p 00000000 fe:01 123 /usr/bin/python3.11\n"
	"55d0c0001000-55d0c0200000 r-xp 00001000 fe:01 123 /usr/bin/python3.11\n"
	"7f0000000000-7f0000100000 rw-p 00000000 00:00 0 \n"
	"7f0000100000-7f0000200000 r-xp 00000000 fe:01 456 /usr/lib/x86_64-linux-gnu/libc.so.6\n"
	"7f0000200000-7f0000300000 r-xp 00000000 fe:01 457 /tmp/old/libssl.so.3 (deleted)\n"
	"7f0000300000-7f0000400000 r-xp 00000000 fe:01 458 /usr/lib/x86_64-linux-gnu/libssl.so.3\n"
	"7f0000400000-7f0000500000 r-xp 00000000 fe:01 459 "
	"/usr/lib/python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so\n"
	"7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 [stack]\n";

static void test_find_lib(void)
{
	char out[PATH_MAX];

	CHECK_INT(uprobes__find_lib(maps, "libc.so", out, sizeof(out)), 0);
	CHECK_STR(out, "/usr/lib/x86_64-linux-gnu/libc.so.6");
	/* a deleted file is skipped: the live one is found */
	CHECK_INT(uprobes__find_lib(maps, "libssl.so", out, sizeof(out)), 0);
	CHECK_STR(out, "/usr/lib/x86_64-linux-gnu/libssl.so.3");
	CHECK_INT(uprobes__find_lib(maps, "_ssl.", out, sizeof(out)), 0);
	CHECK_STR(out, "/usr/lib/python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so");
	CHECK_INT(uprobes__find_lib(maps, "libcrypto.so", out, sizeof(out)), -ENOENT);
	/* a base-name prefix, not a substring of the directory */
	CHECK_INT(uprobes__find_lib(maps, "x86_64", out, sizeof(out)), -ENOENT);
	CHECK_INT(uprobes__find_lib(maps, "libc.so", out, 8), -ENOENT); /* does not fit */
}

static void test_find_exe(void)
{
	char out[PATH_MAX];

	CHECK_INT(uprobes__find_exe(maps, out, sizeof(out)), 0);
	CHECK_STR(out, "/usr/bin/python3.11");
	CHECK_INT(uprobes__find_exe("7f00-7f01 rw-p 00000000 00:00 0 [heap]\n", out, sizeof(out)),
		  -ENOENT);
	CHECK_INT(uprobes__find_exe("", out, sizeof(out)), -ENOENT);
}

int main(void)
{
	RUN(test_find_lib);
	RUN(test_find_exe);
	return CHECK_DONE();
}
