/* test_conn.c: the kernel's connection state machine on the host: pipelines cut at every split. */
#include <stdint.h>
#include <stdio.h>

#include "check.h"
#include "conn_host.h"

/* ---- building exchanges ---- */

enum body { B_NONE, B_CL, B_CHUNKED };
enum resp { R_CL, R_CHUNKED, R_EMPTY, R_CONTINUE_CL };

struct exch {
	const char *method;
	char path[64];
	enum body body;
	int body_len;
	int status;
	enum resp resp;
	int resp_len;
	/* where it lands in the streams */
	size_t req_off, req_len, resp_off, resp_len_total, final_off;
};

struct stream {
	char *buf;
	size_t len, cap;
};

static void put(struct stream *s, const void *p, size_t n)
{
	if (s->len + n > s->cap) {
		s->cap = (s->len + n) * 2 + 4096;
		s->buf = realloc(s->buf, s->cap);
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
}

static void puts_(struct stream *s, const char *str)
{
	put(s, str, strlen(str));
}

static void put_body(struct stream *s, enum body kind, int len, char fill)
{
	char line[64], *data = malloc((size_t)len + 1);

	memset(data, fill, (size_t)len);
	if (kind == B_CL) {
		put(s, data, (size_t)len);
	} else if (kind == B_CHUNKED) {
		/* chunks of uneven size, one that itself ends in "0\r\n" */
		int off = 0, k = 0;

		while (off < len) {
			int n = len - off < 7 + 13 * k ? len - off : 7 + 13 * k;

			snprintf(line, sizeof(line), "%x;ext=%d\r\n", n, k++);
			puts_(s, line);
			put(s, data + off, (size_t)n);
			puts_(s, "\r\n");
			off += n;
		}
		puts_(s, "0\r\nTrailer: x\r\n\r\n");
	}
	free(data);
}

static uint64_t rnd_state = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* A random exchange: mixed methods, bodies and response kinds. */
static void exch_random(struct exch *e, int i)
{
	static const char *const methods[] = {"GET", "GET", "HEAD", "POST", "DELETE", "PUT",
					      "PROPFIND"};
	int k = (int)(rnd() % 7);

	memset(e, 0, sizeof(*e));
	e->method = methods[k];
	snprintf(e->path, sizeof(e->path), "/api/%c/%d", 'a' + (int)(rnd() % 26), i);
	if (!strcmp(e->method, "POST") || !strcmp(e->method, "PUT")) {
		e->body = rnd() % 2 ? B_CL : B_CHUNKED;
		e->body_len = 1 + (int)(rnd() % (rnd() % 8 ? 200 : 5000));
	}
	e->status = 200;
	switch (rnd() % 6) {
	case 0:
		e->resp = R_CHUNKED;
		break;
	case 1:
		e->resp = R_EMPTY;
		e->status = rnd() % 2 ? 204 : 304;
		break;
	case 2:
		if (e->body == B_CL) {
			e->resp = R_CONTINUE_CL;
			break;
		}
		/* fall through */
	default:
		e->resp = R_CL;
		e->status = (int[]){200, 201, 301, 400, 401, 403, 404, 500, 502, 503}[rnd() % 10];
	}
	e->resp_len = (int)(rnd() % (rnd() % 8 ? 300 : 100000));
	if (!strcmp(e->method, "HEAD") && e->resp == R_CHUNKED)
		e->resp = R_CL;
}

static void exch_request(struct stream *s, struct exch *e)
{
	char head[512];

	e->req_off = s->len;
	snprintf(head, sizeof(head), "%s %s?q=%d HTTP/1.1\r\nHost: example\r\nUser-Agent: t\r\n%s%s",
		 e->method, e->path, (int)e->req_off,
		 e->resp == R_CONTINUE_CL ? "Expect: 100-continue\r\n" : "",
		 e->body == B_CL ? "" : e->body == B_CHUNKED ? "Transfer-Encoding: chunked\r\n" : "");
	puts_(s, head);
	if (e->body == B_CL) {
		snprintf(head, sizeof(head), "Content-Length: %d\r\n", e->body_len);
		puts_(s, head);
	}
	puts_(s, "\r\n");
	put_body(s, e->body, e->body_len, 'q');
	e->req_len = s->len - e->req_off;
}

static void exch_response(struct stream *s, struct exch *e)
{
	char head[512];
	int head_only = !strcmp(e->method, "HEAD") || e->resp == R_EMPTY;

	e->resp_off = s->len;
	if (e->resp == R_CONTINUE_CL)
		puts_(s, "HTTP/1.1 100 Continue\r\n\r\n");
	e->final_off = s->len;
	if (e->resp == R_CHUNKED) {
		snprintf(head, sizeof(head),
			 "HTTP/1.1 %d OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n",
			 e->status);
		puts_(s, head);
		put_body(s, B_CHUNKED, e->resp_len ? e->resp_len : 1, 'r');
	} else if (e->resp == R_EMPTY) {
		snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nserver: t\r\n\r\n", e->status);
		puts_(s, head);
	} else {
		snprintf(head, sizeof(head),
			 "HTTP/1.1 %d X\r\nserver: uvicorn\r\ncontent-length: %d\r\n\r\n", e->status,
			 e->resp_len);
		puts_(s, head);
		if (!head_only)
			put_body(s, B_CL, e->resp_len, 'r');
	}
	e->resp_len_total = s->len - e->resp_off;
}

/* ---- driving the state machine ---- */

struct script {
	struct exch *ex;
	int n;
	struct stream req, resp;
	/* the time of the syscall that carried each byte, filled as the script runs */
	__u64 *req_time, *resp_time;
	__u64 now;
};

static void script_build(struct script *sc, int n)
{
	memset(sc, 0, sizeof(*sc));
	sc->n = n;
	sc->ex = calloc((size_t)n, sizeof(*sc->ex));
	for (int i = 0; i < n; i++) {
		exch_random(&sc->ex[i], i);
		exch_request(&sc->req, &sc->ex[i]);
		exch_response(&sc->resp, &sc->ex[i]);
	}
	sc->req_time = calloc(sc->req.len + 1, sizeof(__u64));
	sc->resp_time = calloc(sc->resp.len + 1, sizeof(__u64));
}

static void script_free(struct script *sc)
{
	free(sc->ex);
	free(sc->req.buf);
	free(sc->resp.buf);
	free(sc->req_time);
	free(sc->resp_time);
}

static size_t piece(size_t left, int max_piece)
{
	size_t n = max_piece <= 1 ? 1 : 1 + rnd() % (size_t)max_piece;

	return n < left ? n : left;
}

/*
 * Runs the script: the client's bytes cut into reads of up to max_piece
 * bytes; after each read the server answers every request whose bytes it
 * has read by then (when `interleave`), in writes of up to wpiece bytes
 * (0: each response in one write, coalesced when several are ready).
 */
static void script_run(struct script *sc, struct hconn *c, int max_piece, int wpiece, int interleave)
{
	size_t roff = 0, woff = 0;
	int answered = 0;

	while (roff < sc->req.len || woff < sc->resp.len) {
		if (roff < sc->req.len) {
			size_t n = piece(sc->req.len - roff, max_piece);

			sc->now += 1000;
			for (size_t i = 0; i < n; i++)
				sc->req_time[roff + i] = sc->now;
			host__io(c, 0, sc->req.buf + roff, n, sc->now, sc->now - 100);
			roff += n;
		}
		/* responses for requests read completely (the interim one when the head is in) */
		while (answered < sc->n) {
			struct exch *e = &sc->ex[answered];
			size_t upto;

			if (roff < sc->req.len && (!interleave || roff < e->req_off + e->req_len))
				break;
			upto = e->resp_off + e->resp_len_total;
			while (woff < upto) {
				size_t n = wpiece ? piece(upto - woff, wpiece) : upto - woff;

				/* the interim response is a write of its own (as servers send it) */
				if (woff < e->final_off && woff + n > e->final_off)
					n = e->final_off - woff;
				/* a status line's first 12 bytes come in one write (docs/tracing.md) */
				if (n < 12 && upto - woff >= 12 &&
				    (woff == e->resp_off || woff == e->final_off))
					n = 12;

				if (!wpiece && !interleave && roff >= sc->req.len)
					n = sc->resp.len - woff; /* everything left in one write */
				sc->now += 1000;
				for (size_t i = 0; i < n; i++)
					sc->resp_time[woff + i] = sc->now;
				host__io(c, 1, sc->resp.buf + woff, n, sc->now, 0);
				woff += n;
			}
			answered++;
			while (answered < sc->n && sc->ex[answered].resp_off + sc->ex[answered].resp_len_total <= woff)
				answered++;
		}
	}
}

/* Every request recognised once, in order, with the right fields and times. */
static int script_check(const struct script *sc, const char *what)
{
	int bad = 0;

	if (host_nrecords != sc->n) {
		printf("  %s: %d records for %d requests (pipeline_full %llu parse_giveup %llu)\n",
		       what, host_nrecords, sc->n, (unsigned long long)host_counters[HTTPLAT_C_PIPE_FULL],
		       (unsigned long long)host_counters[HTTPLAT_C_PARSE_GIVEUP]);
		return 1;
	}
	for (int i = 0; i < sc->n && bad < 3; i++) {
		const struct httplat_request_event *r = &host_records[i];
		const struct exch *e = &sc->ex[i];
		char want[128];
		size_t wl;

		snprintf(want, sizeof(want), "%s %s?q=%d HTTP/1.1", e->method, e->path, (int)e->req_off);
		wl = strlen(want);
		if (r->seq != (__u32)i || r->status != e->status || r->raw_len != wl ||
		    memcmp(r->raw, want, wl) || r->version != 11 ||
		    r->bytes_in != e->req_len || r->bytes_out != e->resp_len_total ||
		    r->start_ns != sc->req_time[e->req_off] ||
		    r->end_ns != sc->resp_time[e->resp_off + e->resp_len_total - 1] ||
		    r->ttfb_ns != sc->resp_time[e->final_off] ||
		    (r->flags & ~(__u32)HTTPLAT_F_PIPELINED)) {
			printf("  %s: request %d (%s, body %d/%d, resp %d/%d status %d): got seq %u "
			       "status %u line \"%.*s\" in %llu/%zu out %llu/%zu start %llu/%llu end "
			       "%llu/%llu ttfb %llu/%llu flags %#x\n",
			       what, i, want, e->body, e->body_len, e->resp, e->resp_len, e->status,
			       r->seq, r->status, r->raw_len, r->raw,
			       (unsigned long long)r->bytes_in, e->req_len,
			       (unsigned long long)r->bytes_out, e->resp_len_total,
			       (unsigned long long)r->start_ns,
			       (unsigned long long)sc->req_time[e->req_off],
			       (unsigned long long)r->end_ns,
			       (unsigned long long)sc->resp_time[e->resp_off + e->resp_len_total - 1],
			       (unsigned long long)r->ttfb_ns,
			       (unsigned long long)sc->resp_time[e->final_off], r->flags);
			bad++;
		}
	}
	return bad;
}

static struct hconn conn;

static void conn_reset(void)
{
	host__reset();
	memset(&conn, 0, sizeof(conn));
	conn.sk = 0xffff888000001000ULL;
	conn.lport = 8000;
	conn.kind = HTTPLAT_CONN_SOCKET;
}

static int run_case(int n, int rpiece, int wpiece, int interleave, const char *what)
{
	struct script sc;
	int bad;

	conn_reset();
	script_build(&sc, n);
	script_run(&sc, &conn, rpiece, wpiece, interleave);
	bad = script_check(&sc, what);
	if (!bad && (host_queue_used || conn.resp_seq != conn.req_seq)) {
		printf("  %s: state left behind (queue %d, seq %u/%u)\n", what, host_queue_used,
		       conn.resp_seq, conn.req_seq);
		bad = 1;
	}
	script_free(&sc);
	return bad;
}

/* Pipelines of 1-300 requests, every split size for short ones, random splits for long ones. */
static void test_pipelines(void)
{
	char what[96];
	int fails = 0;

	for (int n = 1; n <= 6 && fails < 5; n++) {
		for (int rp = 1; rp <= 64 && fails < 5; rp = rp < 8 ? rp + 1 : rp * 2) {
			snprintf(what, sizeof(what), "n=%d read<=%d all-then-answer", n, rp);
			fails += run_case(n, rp, 0, 0, what) != 0;
			snprintf(what, sizeof(what), "n=%d read<=%d interleaved w<=%d", n, rp, rp);
			fails += run_case(n, rp, rp, 1, what) != 0;
		}
	}
	for (int round = 0; round < 40 && fails < 5; round++) {
		int n = 1 + (int)(rnd() % 300), rp = 1 + (int)(rnd() % 4096);

		snprintf(what, sizeof(what), "round %d n=%d read<=%d all-then-answer", round, n, rp);
		fails += run_case(n, rp, 0, 0, what) != 0;
		snprintf(what, sizeof(what), "round %d n=%d read<=%d interleaved", round, n, rp);
		fails += run_case(n, rp, 1 + (int)(rnd() % 2000), 1, what) != 0;
	}
	snprintf(what, sizeof(what), "300 requests in one read, answered in one write");
	fails += run_case(300, 1 << 30, 0, 0, what) != 0;
	CHECK_INT(fails, 0);
}

/* One request a byte at a time, over many reads: one record, start at its first byte. */
static void test_byte_at_a_time(void)
{
	const char *req = "POST /model/generate?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";
	const char *resp = "HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok";
	__u64 t = 0;

	conn_reset();
	for (size_t i = 0; i < strlen(req); i++) {
		t += 1000;
		host__io(&conn, 0, req + i, 1, t, t - 10);
	}
	host__io(&conn, 1, resp, strlen(resp), t += 1000, 0);
	CHECK_INT(host_nrecords, 1);
	CHECK_INT(host_records[0].status, 201);
	CHECK_INT(host_records[0].start_ns, 1000);
	CHECK_INT(host_records[0].method, HTTPLAT_M_POST);
	CHECK_INT(host_records[0].bytes_in, strlen(req));
	CHECK_INT(host_records[0].raw_len, strlen("POST /model/generate?x=1 HTTP/1.1"));
	CHECK_INT(host_records[0].wait_ns, 10);
	CHECK_INT(host_counters[HTTPLAT_C_NON_HTTP], 0);
}

/* A response that starts before the request body was read; 100-continue; HEAD with a length. */
static void test_odd_orders(void)
{
	const char *head = "PUT /user/x HTTP/1.1\r\nContent-Length: 10\r\n\r\n";
	const char *h2 = "HEAD /data HTTP/1.1\r\n\r\nGET /data HTTP/1.1\r\n\r\n";

	conn_reset();
	host__io(&conn, 0, head, strlen(head), 1000, 0);
	host__io(&conn, 1, "HTTP/1.1 413 Too Large\r\ncontent-length: 0\r\n\r\n", 46, 2000, 0);
	host__io(&conn, 0, "0123456789", 10, 3000, 0);
	host__io(&conn, 0, "GET /n HTTP/1.1\r\n\r\n", 19, 4000, 0);
	host__io(&conn, 1, "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", 38, 5000, 0);
	CHECK_INT(host_nrecords, 2);
	CHECK_INT(host_records[0].status, 413);
	CHECK_INT(host_records[1].status, 200);
	CHECK_INT(host_records[1].start_ns, 4000);

	/* HEAD answered with a Content-Length and no body, then the GET's response */
	conn_reset();
	host__io(&conn, 0, h2, strlen(h2), 1000, 0);
	host__io(&conn, 1,
		 "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello",
		 38 + 38 + 5, 2000, 0);
	CHECK_INT(host_nrecords, 2);
	CHECK_INT(host_records[0].method, HTTPLAT_M_HEAD);
	CHECK_INT(host_records[0].bytes_out, 38);
	CHECK_INT(host_records[1].bytes_out, 43);
	CHECK_INT(host_records[1].flags, HTTPLAT_F_PIPELINED);
}

/* writev: status line and body in separate iovecs; several responses in one writev. */
static void test_writev(void)
{
	const char *reqs = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
	static char h[] = "HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n";
	struct sm_iovec iov[4] = {{(uintptr_t)h, sizeof(h) - 1},
				  {(uintptr_t) "abc", 3},
				  {(uintptr_t)h, sizeof(h) - 1},
				  {(uintptr_t) "def", 3}};

	conn_reset();
	host__io(&conn, 0, reqs, strlen(reqs), 1000, 0);
	host__writev(&conn, iov, 4, 2000);
	CHECK_INT(host_nrecords, 2);
	CHECK_INT(host_records[1].bytes_out, sizeof(h) - 1 + 3);
	CHECK_INT(host_records[1].end_ns, 2000);

	/* 30 pipelined responses in one writev of 60 buffers (head, body each) */
	{
		struct sm_iovec many[60];

		conn_reset();
		for (int i = 0; i < 30; i++) {
			host__io(&conn, 0, "GET /m HTTP/1.1\r\n\r\n", 19, 1000 + i, 0);
			many[2 * i] = (struct sm_iovec){(uintptr_t)h, sizeof(h) - 1};
			many[2 * i + 1] = (struct sm_iovec){(uintptr_t) "abc", 3};
		}
		host__writev(&conn, many, 60, 5000);
		CHECK_INT(host_nrecords, 30);
		CHECK_INT(host_records[29].end_ns, 5000);
		CHECK_INT(host_records[29].bytes_out, sizeof(h) - 1 + 3);
		CHECK_INT(conn.resp_seq, 30);
	}
}

/* Beyond --pipeline-max the excess is counted exactly and the framing kept. */
static void test_pipeline_limit(void)
{
	struct script sc;

	conn_reset();
	host_pipe_max = 10;
	script_build(&sc, 50);
	script_run(&sc, &conn, 1 << 30, 0, 0);
	CHECK_INT(host_nrecords, 11); /* the current one and ten queued behind it */
	CHECK_INT(host_counters[HTTPLAT_C_PIPE_FULL], 39);
	CHECK_INT(host_records[10].seq, 10);
	CHECK_INT(host_records[10].status, sc.ex[10].status);
	CHECK_INT(conn.resp_seq, conn.req_seq);
	script_free(&sc);

	/* the queue map full: the same, counted */
	conn_reset();
	host_queue_cap = 5;
	script_build(&sc, 20);
	script_run(&sc, &conn, 1 << 30, 0, 0);
	CHECK_INT(host_nrecords, 6);
	CHECK_INT(host_counters[HTTPLAT_C_PIPE_FULL], 14);
	script_free(&sc);
}

/* The connection ends with requests unanswered: status 0, no phantom latency. */
static void test_finish(void)
{
	const char *reqs = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n";

	conn_reset();
	host__io(&conn, 0, reqs, strlen(reqs), 1000, 0);
	host__io(&conn, 1, "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc", 42, 2000, 0);
	conn__finish(&conn, 9000, HTTPLAT_F_PROC_EXIT);
	CHECK_INT(host_nrecords, 3);
	CHECK_INT(host_records[0].status, 200);
	CHECK(host_records[0].flags & HTTPLAT_F_RESP_INCOMPLETE);
	CHECK_INT(host_records[0].end_ns, 2000);
	CHECK_INT(host_records[1].status, 0);
	CHECK(host_records[1].flags & HTTPLAT_F_NO_RESPONSE);
	CHECK(host_records[2].flags & HTTPLAT_F_PROC_EXIT);
	CHECK_INT(host_queue_used, 0);
}

/* Garbage is counted and ignored; a response without framing ends at the next request. */
static void test_garbage_and_unframed(void)
{
	conn_reset();
	host__io(&conn, 0, "\x01\x03\x01\x00\x05hello", 10, 1000, 0);
	CHECK_INT(host_counters[HTTPLAT_C_NON_HTTP], 1);
	CHECK_INT(conn.kind, HTTPLAT_CONN_SOCKET);
	CHECK_INT(conn.req_seq, 0);
	host__io(&conn, 0, "GET / HTTP/1.0\r\n\r\n", 18, 2000, 0);
	host__io(&conn, 1, "HTTP/1.0 200 OK\r\n\r\nstream", 25, 3000, 0);
	host__io(&conn, 1, "more", 4, 4000, 0);
	host__io(&conn, 0, "GET /2 HTTP/1.0\r\n\r\n", 19, 5000, 0);
	CHECK_INT(host_nrecords, 1);
	CHECK_INT(host_records[0].end_ns, 4000);
	CHECK(host_records[0].flags & HTTPLAT_F_END_INFERRED);
	CHECK_INT(host_records[0].version, 10);
	/* a response nobody asked for */
	conn_reset();
	host__io(&conn, 1, "HTTP/1.1 200 OK\r\n\r\n", 19, 1000, 0);
	CHECK_INT(host_counters[HTTPLAT_C_ORPHAN_RESPONSE], 1);
}

/*
 * TLS: a connection whose first bytes are a TLS record becomes a TLS one (its ciphertext
 * is not parsed, nor counted as garbage); its plaintext (fed as the libssl probes do)
 * goes through the same machine, and its records say TLS. A TLS record after HTTP on a
 * plaintext connection is garbage.
 */
static void test_tls(void)
{
	static const char hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
	static const char appdata[] = "\x17\x03\x03\x00\x40";
	const char *req = "GET /t HTTP/1.1\r\n\r\n";

	conn_reset();
	host__io(&conn, 0, hello, sizeof(hello) - 1, 1000, 0);
	CHECK_INT(conn.kind, HTTPLAT_CONN_TLS);
	CHECK_INT(host_counters[HTTPLAT_C_TLS_CONNS], 1);
	CHECK_INT(host_counters[HTTPLAT_C_NON_HTTP], 0);
	CHECK_INT(conn.req_seq, 0);
	host__io(&conn, 0, req, strlen(req), 2000, 1500);
	host__io(&conn, 1, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", 41, 3000, 0);
	CHECK_INT(host_nrecords, 1);
	CHECK_INT(host_records[0].conn_kind, HTTPLAT_CONN_TLS);
	CHECK_INT(host_records[0].status, 200);
	CHECK_INT(host_records[0].end_ns, 3000);
	CHECK_INT(host_counters[HTTPLAT_C_TLS_CONNS], 1);
	/* a keep-alive connection older than the tracer: application data first */
	conn_reset();
	conn.flags = HTTPLAT_F_PREEXISTING;
	host__io(&conn, 0, appdata, sizeof(appdata) - 1, 1000, 0);
	CHECK_INT(conn.kind, HTTPLAT_CONN_TLS);
	/* too short to tell: kept as a possible line start, then junk */
	conn_reset();
	host__io(&conn, 0, "\x16\x03", 2, 1000, 0);
	CHECK_INT(conn.kind, HTTPLAT_CONN_SOCKET);
	/* after plaintext HTTP: garbage */
	conn_reset();
	host__io(&conn, 0, req, strlen(req), 1000, 0);
	host__io(&conn, 1, "HTTP/1.1 204 No\r\n\r\n", 19, 2000, 0);
	host__io(&conn, 0, hello, sizeof(hello) - 1, 3000, 0);
	CHECK_INT(conn.kind, HTTPLAT_CONN_SOCKET);
	CHECK_INT(host_counters[HTTPLAT_C_NON_HTTP], 1);
	CHECK_INT(host_counters[HTTPLAT_C_TLS_CONNS], 0);
}

/* The latency split: accept-queue wait for the first request, unread time for each. */
static void test_split(void)
{
	const char *req = "GET /q HTTP/1.1\r\n\r\n";
	const char *resp = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";

	conn_reset();
	conn.est_ns = 1000;
	conn.accept_ns = 5000;	/* 4 µs in the accept queue */
	host__io(&conn, 0, req, strlen(req), 9000, 1500); /* arrived before the accept */
	host__io(&conn, 1, resp, strlen(resp), 9500, 0);
	host__io(&conn, 0, req, strlen(req), 20000, 12000);
	host__io(&conn, 1, resp, strlen(resp), 20500, 0);
	host__io(&conn, 0, req, strlen(req), 30000, 0); /* arrival unknown */
	host__io(&conn, 1, resp, strlen(resp), 30500, 0);
	CHECK_INT(host_nrecords, 3);
	CHECK_INT(host_records[0].queue_ns, 4000);
	CHECK_INT(host_records[0].wait_ns, 4000); /* from the accept, not the arrival */
	CHECK(host_records[1].queue_ns == HTTPLAT_NS_UNKNOWN);
	CHECK_INT(host_records[1].wait_ns, 8000);
	CHECK(host_records[2].wait_ns == HTTPLAT_NS_UNKNOWN);
	/* a connection older than the tracer: no queue time */
	conn_reset();
	conn.flags = HTTPLAT_F_PREEXISTING;
	host__io(&conn, 0, req, strlen(req), 9000, 8000);
	host__io(&conn, 1, resp, strlen(resp), 9500, 0);
	CHECK(host_records[0].queue_ns == HTTPLAT_NS_UNKNOWN);
	CHECK_INT(host_records[0].wait_ns, 1000);
	CHECK(host_records[0].flags & HTTPLAT_F_PREEXISTING);
}

/* A full ring buffer: each lost record is counted. */
static void test_ring_full(void)
{
	conn_reset();
	host_output_fail = 1;
	host__io(&conn, 0, "GET / HTTP/1.1\r\n\r\n", 18, 1000, 0);
	host__io(&conn, 1, "HTTP/1.1 204 No\r\n\r\n", 19, 2000, 0);
	CHECK_INT(host_counters[HTTPLAT_C_RB_FULL], 1);
	CHECK_INT(host_counters[HTTPLAT_C_REQUESTS], 0);
}

int main(void)
{
	RUN(test_pipelines);
	RUN(test_byte_at_a_time);
	RUN(test_odd_orders);
	RUN(test_writev);
	RUN(test_pipeline_limit);
	RUN(test_finish);
	RUN(test_garbage_and_unframed);
	RUN(test_split);
	RUN(test_tls);
	RUN(test_ring_full);
	return CHECK_DONE();
}
