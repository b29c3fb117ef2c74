/* test_http_parse.c: the kernel's HTTP predicates and DFAs, compiled for the host. */
#include <linux/types.h>
#include <stdlib.h>

#include "check.h"
#include "httplat.h"
#include "http_parse.h"

/* A window as the kernel has it: HP_WIN bytes plus slack behind. */
static __u8 win[2 * HP_WIN];

static __u32 load(const char *s, __u32 n)
{
	memset(win, 0, sizeof(win));
	memcpy(win, s, n);
	return n;
}

static int method_of(const char *s)
{
	__u32 mlen = 0, n = load(s, (__u32)strlen(s));

	return http__method(win, n, &mlen);
}

static void test_method(void)
{
	CHECK_INT(method_of("GET / HTTP/1.1\r\n"), HTTPLAT_M_GET);
	CHECK_INT(method_of("HEAD /x HTTP/1.1\r\n"), HTTPLAT_M_HEAD);
	CHECK_INT(method_of("POST /x HTTP/1.1\r\n"), HTTPLAT_M_POST);
	CHECK_INT(method_of("PUT /x HTTP/1.1\r\n"), HTTPLAT_M_PUT);
	CHECK_INT(method_of("PATCH /x HTTP/1.1\r\n"), HTTPLAT_M_PATCH);
	CHECK_INT(method_of("DELETE /x HTTP/1.1\r\n"), HTTPLAT_M_DELETE);
	CHECK_INT(method_of("OPTIONS * HTTP/1.1\r\n"), HTTPLAT_M_OPTIONS);
	CHECK_INT(method_of("PROPFIND /dav HTTP/1.1\r\n"), HTTPLAT_M_OTHER);
	CHECK_INT(method_of("GET http://h/x HTTP/1.1\r\n"), HTTPLAT_M_GET);
	CHECK_INT(method_of("get / HTTP/1.1\r\n"), -1);	/* methods are case-sensitive */
	CHECK_INT(method_of("GE"), HP_NEED_MORE);		/* too short to tell */
	CHECK_INT(method_of("GET "), HP_NEED_MORE);
	CHECK_INT(method_of("G"), HP_NEED_MORE);
	CHECK_INT(method_of("Gx"), -1);
	CHECK_INT(method_of("HTTP/1.1 200 OK\r\n"), -1); /* a response */
	CHECK_INT(method_of("\x16\x03\x01\x02\x00"), -1); /* TLS */
	CHECK_INT(method_of("GET  /x"), -1);
	CHECK_INT(method_of("ABCDEFGHIJKLMNOPQ /x HTTP/1.1"), -1); /* token too long */
	CHECK_INT(method_of("GET x"), -1);
}

static void test_status(void)
{
	__u16 st = 0;
	__u8 ver = 0;
	__u32 n;

	n = load("HTTP/1.1 200 OK\r\n", 17);
	CHECK_INT(http__status(win, n, &st, &ver), 0);
	CHECK_INT(st, 200);
	CHECK_INT(ver, 11);
	n = load("HTTP/1.0 503 Service Unavailable\r\n", 34);
	CHECK_INT(http__status(win, n, &st, &ver), 0);
	CHECK_INT(st, 503);
	CHECK_INT(ver, 10);
	n = load("HTTP/1.1 099 x\r\n", 16);
	CHECK_INT(http__status(win, n, &st, &ver), -1);
	n = load("HTTP/2.0 200 OK\r\n", 17);
	CHECK_INT(http__status(win, n, &st, &ver), -1);
	n = load("HTTP/1.1 20", 11);
	CHECK_INT(http__status(win, n, &st, &ver), -1);
	n = load("GET / HTTP/1.1\r\n", 16);
	CHECK_INT(http__status(win, n, &st, &ver), -1);
	CHECK_INT(http__line_version((const __u8 *)"HTTP/1.0"), 10);
	CHECK_INT(http__line_version((const __u8 *)"HTTP/1.1"), 11);
	CHECK_INT(http__line_version((const __u8 *)"HTTP/2.0"), 0);
}

/* Feeds s to the head DFA in pieces of `piece` bytes, as separate syscalls would. */
static int head_run(struct http_head *h, const char *s, __u32 piece, __u32 *consumed)
{
	__u32 total = (__u32)strlen(s), off = 0;

	memset(h, 0, sizeof(*h));
	while (off < total) {
		__u32 n = total - off < piece ? total - off : piece, pos = 0;

		load(s + off, n);
		while (pos < n) {
			if (http_head__step(h, win, &pos, n)) {
				*consumed = off + pos;
				return 1;
			}
		}
		off += n;
	}
	*consumed = off;
	return 0;
}

static void test_head(void)
{
	const char *req = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
			  "content-length: 1234\r\nConnection: keep-alive\r\n\r\nBODY";
	const char *chunked = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n"
			      "Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello";
	struct http_head h;
	__u32 used, pieces[] = {1, 2, 3, 7, 8, 9, 64, 512};

	for (unsigned i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		CHECK_INT(head_run(&h, req, pieces[i], &used), 1);
		CHECK_INT(used, strlen(req) - 4);
		CHECK_INT(h.flags, HH_F_CL);
		CHECK_INT(h.clen, 1234);
		CHECK_INT(h.first_len, strlen("POST /upload HTTP/1.1"));
		CHECK_INT(head_run(&h, chunked, pieces[i], &used), 1);
		CHECK(h.flags & HH_F_CHUNKED);
		CHECK_INT(used, strlen(chunked) - strlen("5\r\nhello"));
	}
	/* bare LF line endings, no body headers */
	CHECK_INT(head_run(&h, "GET / HTTP/1.0\nHost: a\n\nNEXT", 512, &used), 1);
	CHECK_INT(used, 24);
	CHECK_INT(h.flags, 0);
	/* incomplete head */
	CHECK_INT(head_run(&h, "GET / HTTP/1.1\r\nHost: a\r\n", 512, &used), 0);
	/* repeated or broken Content-Length is flagged, not trusted */
	head_run(&h, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 512,
		 &used);
	CHECK(h.flags & HH_F_BAD_CL);
	head_run(&h, "HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\n", 512, &used);
	CHECK(h.flags & HH_F_BAD_CL);
	head_run(&h, "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", 512, &used);
	CHECK(h.flags & HH_F_BAD_CL);
	/* names are case-insensitive, on the word-compare path and the byte path alike */
	for (unsigned i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		CHECK_INT(head_run(&h,
				   "HTTP/1.1 200 OK\r\nCONTENT-TYPE: text/html; charset=utf-8\r\n"
				   "CONTENT-LENGTH:7\r\nServer: x\r\n\r\n",
				   pieces[i], &used),
			  1);
		CHECK_INT(h.clen, 7);
		CHECK_INT(h.flags, HH_F_CL);
	}
	/* look-alike names do not count */
	head_run(&h, "HTTP/1.1 200 OK\r\nContent-Lengthy: 5\r\nX-Content-Length: 7\r\n\r\n", 512,
		 &used);
	CHECK_INT(h.flags, 0);
	/* a CR right before the 8-byte boundary does not inflate the line length */
	head_run(&h, "GET /user/profile/2004 HTTP/1.1\r\n\r\n", 512, &used);
	CHECK_INT(h.first_len, 31);
}

static int chunk_run(const char *s, __u32 total, __u32 piece, __u32 *consumed)
{
	struct http_chunk k = {};
	__u32 off = 0;

	while (off < total) {
		__u32 n = total - off < piece ? total - off : piece, pos = 0;

		load(s + off, n);
		while (pos < n) {
			if (http_chunk__step(&k, win, &pos, n)) {
				*consumed = off + pos;
				return k.state == CK_DONE ? 1 : -1;
			}
		}
		/* data skipped past the window: pos may be beyond n */
		off += pos;
	}
	*consumed = off;
	return 0;
}

static void test_chunks(void)
{
	/* a body chunk that itself ends in "0\r\n" must not end the response */
	const char *body = "a\r\n0123456789\r\n5;ext=1\r\nab0\r\n\r\n0\r\nTrailer: x\r\n\r\nNEXT";
	__u32 used, total = (__u32)strlen(body), pieces[] = {1, 2, 5, 13, 512};

	for (unsigned i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		CHECK_INT(chunk_run(body, total, pieces[i], &used), 1);
		CHECK_INT(used, total - 4);
	}
	CHECK_INT(chunk_run("5\r\nab", 5, 512, &used), 0);
	CHECK_INT(chunk_run("zz\r\n", 4, 512, &used), -1);
	CHECK_INT(chunk_run("3\r\nabcX", 7, 512, &used), -1); /* missing CRLF after data */
	CHECK_INT(chunk_run("0\r\n\r\n", 5, 512, &used), 1);
}

int main(void)
{
	RUN(test_method);
	RUN(test_status);
	RUN(test_head);
	RUN(test_chunks);
	return CHECK_DONE();
}
