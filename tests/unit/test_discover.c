/* test_discover.c: which command lines are uvicorn servers; /proc/net/tcp rows; a fake /proc. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "discover.h"
#include "text.h"

static int matches(const char *const *argv)
{
	char buf[1024];
	size_t n = 0;

	for (; *argv; argv++) {
		size_t l = strlen(*argv) + 1;

		memcpy(buf + n, *argv, l);
		n += l;
	}
	return discover__cmdline_matches(buf, n);
}

#define M(...) matches((const char *const[]){__VA_ARGS__, NULL})

static void test_cmdline(void)
{
	CHECK(M("/usr/bin/python3", "/usr/bin/uvicorn", "app:app"));
	CHECK(M("/opt/venv/bin/uvicorn", "main:app", "--workers", "4"));
	CHECK(M("python3", "-m", "uvicorn", "app:app"));
	CHECK(M("/usr/bin/python3.11", "-u", "-X", "dev", "-m", "uvicorn", "app:app"));
	CHECK(M("/usr/bin/python3", "/usr/bin/gunicorn", "-k", "uvicorn.workers.UvicornWorker",
		"app:app"));
	CHECK(M("gunicorn", "--worker-class=uvicorn.workers.UvicornH11Worker", "app:app"));
	CHECK(M("python3", "-m", "gunicorn", "-k", "uvicorn.workers.UvicornWorker", "a:b"));
	CHECK(!M("gunicorn", "-k", "sync", "app:app"));
	CHECK(!M("python3", "manage.py", "runserver"));
	CHECK(!M("python3", "tool.py", "uvicorn"));	       /* an argument, not the program */
	CHECK(!M("vim", "uvicorn"));
	CHECK(!M("python3", "-c", "import uvicorn"));
	CHECK(!M("/usr/bin/uvicorn-helper"));
	CHECK(!discover__cmdline_matches("", 0));
}

static void test_tcp_rows(void)
{
	unsigned short port = 0;
	unsigned long ino = 0;

	CHECK_INT(discover__parse_tcp_row("   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 "
					  "00:00000000 00000000     0        0 123456 1 0000 100 0 0 "
					  "10 0",
					  &port, &ino),
		  1);
	CHECK_INT(port, 8080);
	CHECK_INT(ino, 123456);
	CHECK_INT(discover__parse_tcp_row("   1: 0100007F:1F90 0100007F:D2F0 01 00000000:00000000 "
					  "00:00000000 00000000     0        0 999 1",
					  &port, &ino),
		  0); /* established */
	CHECK_INT(discover__parse_tcp_row("  sl  local_address rem_address   st", &port, &ino), 0);
	CHECK_INT(discover__parse_tcp_row("   0: 00000000000000000000000001000000:0050 "
					  "00000000000000000000000000000000:0000 0A 00000000:00000000 "
					  "00:00000000 00000000     0        0 777 1",
					  &port, &ino),
		  1);
	CHECK_INT(port, 80);
}

static void write_file(const char *path, const char *data, size_t n)
{
	FILE *f = fopen(path, "w");

	fwrite(data, 1, n, f);
	fclose(f);
}

static int count_pid(void *ctx, pid_t pid)
{
	(*(int *)ctx) += (int)pid;
	return 0;
}

static void test_fake_proc(void)
{
	char root[] = "/tmp/httplat-proc-XXXXXX", p[512];
	int sum = 0;

	CHECK(mkdtemp(root) != NULL);
	snprintf(p, sizeof(p), "%s/77", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/77/cmdline", root);
	write_file(p, "python3\0-m\0uvicorn\0app:app\0", 28);
	snprintf(p, sizeof(p), "%s/77/stat", root);
	write_file(p, "77 (a) b) (c) S 5 77 77 0", 25);
	snprintf(p, sizeof(p), "%s/77/net", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/77/net/tcp", root);
	write_file(p,
		   "  sl  local_address\n"
		   "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 "
		   "0 0 4242 1\n",
		   107);
	snprintf(p, sizeof(p), "%s/77/fd", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/77/fd/3", root);
	CHECK_INT(symlink("socket:[4242]", p), 0);
	snprintf(p, sizeof(p), "%s/self", root);
	mkdir(p, 0755);
	CHECK_INT(discover__pid_matches(root, 77), 1);
	CHECK_INT(discover__ppid(root, 77), 5);
	CHECK(discover__pid_matches(root, 78) < 0);
	{
		unsigned short ports[4];

		CHECK_INT(discover__listen_ports(root, 77, ports, 4), 1);
		CHECK_INT(ports[0], 8080);
	}
	CHECK_INT(discover__each_pid(root, count_pid, &sum), 0);
	CHECK_INT(sum, 77);
	snprintf(p, sizeof(p), "rm -rf %s", root);
	CHECK_INT(system(p), 0);
}

static void test_text(void)
{
	char out[64];

	text__utf8_sanitize("caf\xc3\xa9 \xff\xc0\xaf ok", out, sizeof(out));
	CHECK_STR(out, "caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd ok");
	text__utf8_sanitize("\xed\xa0\x80", out, sizeof(out)); /* a surrogate */
	CHECK_STR(out, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	text__utf8_sanitize("\xf0\x9f\x98\x80", out, sizeof(out));
	CHECK_STR(out, "\xf0\x9f\x98\x80");
	text__utf8_sanitize("abcdef", out, 4);
	CHECK_STR(out, "abc");
}

int main(void)
{
	RUN(test_cmdline);
	RUN(test_tcp_rows);
	RUN(test_fake_proc);
	RUN(test_text);
	return CHECK_DONE();
}
