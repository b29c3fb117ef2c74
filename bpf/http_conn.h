/* http_conn.h: the per-connection HTTP/1.x state machine, built for BPF and for host tests. */
#ifndef HTTPLAT_HTTP_CONN_H
#define HTTPLAT_HTTP_CONN_H

/*
 * Requests come in on reads, responses go out on writes; the connection
 * pairs them in order and emits one record per request once its response
 * is complete (or the connection ends). Any number of requests per read
 * and responses per write, heads split at any byte: every read and write is
 * worked through in bounded steps (one window of bytes or one body skip
 * each) under env__loop, i.e. bpf_loop.
 *
 * The includer defines the environment declared below: memory reads, the
 * per-CPU scratch, bpf_loop, the queue map, the ring buffer and counters
 * (bpf/conn.bpf.h in the kernel, tests/unit/conn_host.h on the host), and
 * may define SM_FUNC (global functions in BPF, static ones on the host).
 */

#include "httplat.h"
#include "http_parse.h"

#ifndef barrier_var /* bpf_helpers.h has it; the host build gets the same */
#define barrier_var(var) asm volatile("" : "=r"(var) : "0"(var))
#endif

#ifndef SM_FUNC
#define SM_FUNC __noinline /* global in BPF: each step function is verified once */
#endif

struct scratch;
struct hreq;
struct hconn;
static struct scratch *env__scratch(void);
static int env__read_user(void *dst, __u32 n, __u64 src);
static long env__loop(__u32 n, long (*cb)(__u32, void *), void *ctx);
static struct hreq *env__q_lookup(__u64 sk, __u32 seq);
static int env__q_insert(__u64 sk, __u32 seq, const struct hreq *r);
static void env__q_delete(__u64 sk, __u32 seq);
static int env__output(const void *rec, __u64 size);
static void env__count(__u32 counter);
static __u32 env__pipe_max(void);
static int env__park(struct hconn *c, const struct httplat_request_event *e);

#define CONN_STEPS 65536     /* work steps per syscall: one window or one body skip each */
#define CONN_PIPE_TRACK HTTPLAT_PIPE_PER_CONN /* unanswered requests whose framing is followed */
#define CONN_PRE_MAX 24	     /* bytes of an undecided request-line start kept across reads */
#define CONN_IOV 64	     /* iovec entries looked into; bytes beyond count (parse_giveup) */

/* One request's identity and progress (the current one, or one queued behind it). */
struct hreq {
	__u64 start_ns;	 /* the read that carried its first byte */
	__u64 arrive_ns; /* its first byte arrived in the socket; 0 unknown */
	__u64 bytes_in;
	__u32 flags; /* HTTPLAT_F_* */
	__u32 tgid;  /* the process that read it */
	__u16 line_len;
	__u16 raw_len;
	__u8 method;
	__u8 version;
	__u8 line_open; /* the request line is still arriving */
	__u8 _pad;
	char raw[HTTPLAT_RAW_MAX];
	__u8 _slack[64]; /* lets a 64-byte append at raw_len < HTTPLAT_RAW_MAX fit */
};

enum req_state {
	RQ_IDLE = 0, /* expecting a request line */
	RQ_HEAD,     /* in the request head (line included) */
	RQ_BODY,     /* in a body of known length: req_left */
	RQ_CHUNKED,  /* in a chunked body */
};

enum resp_state {
	RS_NONE = 0,	/* waiting for the status line */
	RS_INTERIM,	/* in the head of a 1xx interim response */
	RS_HEAD,	/* in the response head */
	RS_BODY,	/* resp_left bytes to go */
	RS_CHUNKED,	/* following chunks */
	RS_UNTIL_CLOSE, /* no framing: ends at close or at the next request */
	RS_TAIL,	/* chunk framing lost: ends at a write ending in 0\r\n\r\n */
};

/*
 * Requests [resp_seq, req_seq) are unanswered: resp_seq is in cur, the
 * rest in the queue map keyed (sk, seq) unless they were lost to the
 * pipeline limit (counted then). The request side parses the newest
 * request (req_seq - 1), the response side answers resp_seq.
 */
struct hconn {
	__u64 sk;	     /* the kernel socket (the map key) */
	__u64 est_ns;	     /* passive open completed; 0 unknown */
	__u64 accept_ns;     /* the app accepted it; 0 unknown */
	__u64 unread_ns;     /* the oldest unread byte arrived; 0 none or unknown */
	__u64 last_write_ns; /* of the current response */
	__u64 pre_ns;	     /* pre[]: read time and arrival of its first byte */
	__u64 pre_arrive_ns;
	__u64 req_left; /* request body bytes still to read */
	__u64 ttfb_ns;	/* of the current response */
	__u64 bytes_out;
	__u64 resp_left;
	struct http_head rhead; /* request head DFA (newest request) */
	struct http_chunk rchunk;
	struct http_head shead; /* response head DFA (current response) */
	struct http_chunk schunk;
	__u32 req_seq;	/* requests started */
	__u32 resp_seq; /* requests answered or finished */
	__u32 flags;	/* HTTPLAT_F_* for the connection (PREEXISTING...) */
	__u32 tgid;	/* the last process that read from it */
	__u16 lport;
	__u16 status;
	__u8 req_state;	 /* enum req_state */
	__u8 resp_state; /* enum resp_state */
	__u8 kind;	 /* enum httplat_conn_kind */
	__u8 dead;	 /* upgraded (101) or untrackable: no more HTTP */
	__u8 cur_lost;	 /* request resp_seq has no record (lost to the pipeline limit) */
	__u8 pre_len;	 /* bytes in pre[] */
	__u8 tls;	 /* enum conn_tls */
	__u8 tls_in_write; /* an SSL write is being worked through */
	__u8 _pad[4];
	__u8 pre[CONN_PRE_MAX];
	/*
	 * TLS: a response's record waits until its ciphertext is sent (bpf/tls.bpf.h).
	 * Plaintext bytes SSL-written and ciphertext bytes sent since the first SSL write;
	 * the SSL write in progress (its time, and tls_out after it); the ciphertext total
	 * that carries the current response's status line (0: known or none); records
	 * [park_lo, park_hi) waiting.
	 */
	__u64 tls_out;
	__u64 tls_tx;
	__u64 tls_now;
	__u64 tls_end;
	__u64 ttfb_target;
	__u32 park_lo;
	__u32 park_hi;
	__u64 head_bits[CONN_PIPE_TRACK / 64]; /* per unanswered seq: the method was HEAD */
	__u64 q_bits[CONN_PIPE_TRACK / 64];    /* per unanswered seq: its record was queued */
	struct hreq cur;		       /* request resp_seq */
};

/* A TLS connection's plaintext (kind HTTPLAT_CONN_TLS): */
enum conn_tls {
	TLS_NONE = 0,	/* none seen yet (the handshake) */
	TLS_PLAIN,	/* plaintext came through libssl */
	TLS_COUNTED,	/* ended without plaintext: counted once */
};

/* One syscall's data: a buffer or an iovec in user memory, behind an optional prefix. */
struct io_ctx {
	__u64 ptr;	 /* buffer, or iovec array (iovcnt > 0) */
	__u64 total;	 /* pre_len + bytes transferred: the "virtual" stream */
	__u64 now;	 /* time of the syscall (the read or write that carried these bytes) */
	__u64 arrive_ns; /* the first byte of these bytes arrived; 0 unknown */
	__u64 off;	 /* cursor in the virtual stream */
	__u64 win_off;	 /* virtual offset of scratch->win[0] */
	__u32 win_len;	 /* valid bytes in scratch->win */
	__u32 iovcnt;
	__u32 niov;	 /* iovec entries copied into scratch->iov */
	__u32 pre_len;	 /* bytes [0, pre_len) are scratch->pre (a stashed line start) */
	__u32 data;	 /* 0: bytes only (sendfile), nothing to look at */
	__u32 tgid;
};

struct sm_iovec {
	__u64 base;
	__u64 len;
};

/* Per-CPU scratch: windows of copied user bytes and records too big for the stack. */
struct scratch {
	__u8 win[2 * HP_WIN];
	__u8 pre[32];
	struct hconn zconn; /* zeroed template for new connections */
	struct hreq rq;	    /* staging for queued requests */
	struct httplat_request_event ev; /* staging for variable-length ring records */
	struct sm_iovec iov[CONN_IOV];
};

/* ---- the data of one syscall, a window at a time ---- */

struct iov_loop {
	struct io_ctx *io;
	struct scratch *s;
	__u64 want;
	__u64 doff; /* data offset of the window's first syscall byte */
	__u64 base; /* data offset of iovec entry i */
	__u32 got;  /* bytes in the window so far */
	__u32 pre;  /* of which from the stashed prefix */
};

/* One iovec entry's part of the window (bpf_loop keeps the verifier's work constant). */
static long iov_cb(__u32 i, void *vctx)
{
	struct iov_loop *x = vctx;
	struct sm_iovec *v;
	__u64 at, n;

	if (i >= x->io->niov || x->got >= x->want || x->got >= HP_WIN)
		return 1;
	v = &x->s->iov[i & (CONN_IOV - 1)];
	at = x->doff + (x->got - x->pre); /* data offset of the next byte wanted */
	if (at < x->base + v->len) {
		n = x->base + v->len - at;
		if (n > x->want - x->got)
			n = x->want - x->got;
		if (n > HP_WIN)
			n = HP_WIN;
		if (env__read_user(&x->s->win[x->got & (HP_WIN - 1)], (__u32)n,
				   v->base + (at - x->base)))
			return 1;
		x->got += (__u32)n;
	}
	x->base += v->len;
	return 0;
}

/* Fills the window with up to HP_WIN bytes from virtual offset off. 0 if any. */
SM_FUNC int io__fill(struct io_ctx *io, __u64 off)
{
	struct scratch *s = env__scratch();
	__u64 want, doff;
	__u32 got = 0, pre = 0;

	if (!io || !s)
		return -1;
	io->win_off = off;
	io->win_len = 0;
	if (off >= io->total)
		return -1;
	want = io->total - off;
	if (want > HP_WIN)
		want = HP_WIN;
	doff = off - io->pre_len;
	if (off < io->pre_len) {
		/* the stashed start of a request line comes first, then the syscall's bytes */
		pre = io->pre_len - (__u32)off;
		if (pre > CONN_PRE_MAX)
			return -1;
		for (__u32 i = 0; i < CONN_PRE_MAX; i++) {
			if (i >= pre)
				break;
			s->win[i] = s->pre[(off + i) & 31];
		}
		got = pre;
		doff = 0;
	}
	if (got < want && !io->iovcnt) {
		__u32 n = (__u32)(want - got);

		if (n > HP_WIN || got > CONN_PRE_MAX)
			return -1;
		if (!env__read_user(&s->win[got], n, io->ptr + doff))
			got += n;
	}
	if (got < want && io->iovcnt) {
		struct iov_loop x = {.io = io, .s = s, .want = want, .doff = doff, .got = got,
				     .pre = pre};

		env__loop(CONN_IOV, iov_cb, &x);
		got = x.got;
	}
	io->win_len = got;
	return got ? 0 : -1;
}

/* Makes sure the window starts at off (refills unless it already does). 0 if any bytes. */
static __always_inline int io__at(struct io_ctx *io, __u64 off)
{
	if (off == io->win_off && io->win_len)
		return 0;
	return io__fill(io, off);
}

/* ---- DFA windows ---- */

#define SCAN_DONE 0x80000000u
#define STEPS_PER_CALL 2 /* 3+ exceed Linux 6.1's 1M-instruction verifier limit */

struct dfa_loop {
	struct http_head *h; /* NULL: the chunk DFA */
	struct http_chunk *k;
	struct scratch *s;
	__u32 pos;
	__u32 len;
	__u32 done;
	__u32 _pad;
};

static long dfa_cb(__u32 i, void *vctx)
{
	struct dfa_loop *x = vctx;

	(void)i;
	if (!x->h) {
		if (!x->k || x->pos >= x->len) /* 6.1's verifier explores the NULL case too */
			return 1;
		x->done = http_chunk__step(x->k, x->s->win, &x->pos, x->len);
		return x->done ? 1 : 0;
	}
#ifdef __bpf__
#pragma unroll
#endif
	for (int j = 0; j < STEPS_PER_CALL; j++) {
		if (x->pos >= x->len)
			return 1;
		if (http_head__step(x->h, x->s->win, &x->pos, x->len)) {
			x->done = 1;
			return 1;
		}
	}
	return 0;
}

enum dfa_which { DFA_REQ_HEAD, DFA_RESP_HEAD, DFA_REQ_CHUNKS, DFA_RESP_CHUNKS };

/* Steps one of c's DFAs over the window: the new position, | SCAN_DONE when done. */
SM_FUNC __u32 dfa__window(struct hconn *c, int which, __u32 len)
{
	struct dfa_loop x = {.s = env__scratch(), .len = len};

	if (!c || !x.s || len > HP_WIN)
		return len;
	switch (which) {
	case DFA_REQ_HEAD:
		x.h = &c->rhead;
		break;
	case DFA_RESP_HEAD:
		x.h = &c->shead;
		break;
	case DFA_REQ_CHUNKS:
		x.k = &c->rchunk;
		break;
	default:
		x.k = &c->schunk;
	}
	env__loop(x.h ? HP_WIN / STEPS_PER_CALL + 1 : HP_WIN, dfa_cb, &x);
	return x.done ? x.pos | SCAN_DONE : x.pos;
}

/*
 * One window of a chunked body from io->off: chunk data is skipped without
 * copying. 1 done (io->off just past it), 0 go on, -1 broken framing.
 */
static __always_inline int chunk__step(struct io_ctx *io, struct hconn *c, int which)
{
	struct http_chunk *k = which == DFA_REQ_CHUNKS ? &c->rchunk : &c->schunk;
	__u32 r;

	if (k->state == CK_DATA) {
		__u64 avail = io->total - io->off;

		if (k->left >= avail) {
			k->left -= avail;
			io->off = io->total;
			return 0;
		}
		io->off += k->left;
		k->left = 0;
		k->state = CK_DATA_CR;
		return 0;
	}
	if (io__at(io, io->off))
		return -1;
	r = dfa__window(c, which, io->win_len);
	io->off = io->win_off + (r & ~SCAN_DONE); /* may lie beyond the window (data) */
	if (r & SCAN_DONE)
		return k->state == CK_DONE ? 1 : -1;
	return 0;
}

/* ---- records ---- */

static __always_inline int bit__get(const __u64 *bits, __u32 seq)
{
	__u32 i = seq % CONN_PIPE_TRACK;

	return (bits[(i / 64) & (CONN_PIPE_TRACK / 64 - 1)] >> (i % 64)) & 1;
}

static __always_inline void bit__put(__u64 *bits, __u32 seq, int on)
{
	__u32 i = seq % CONN_PIPE_TRACK;
	__u64 *w = &bits[(i / 64) & (CONN_PIPE_TRACK / 64 - 1)];

	if (on)
		*w |= 1ULL << (i % 64);
	else
		*w &= ~(1ULL << (i % 64));
}

/*
 * The accept-queue wait and the time the first byte sat unread, for
 * request cur of c (docs/tracing.md: queue + wait + duration is what the
 * client waited). The first request's wait starts at the later of arrival
 * and accept, so the two never overlap.
 */
static __always_inline void conn__split(const struct hconn *c, const struct hreq *r, __u64 *queue,
					__u64 *wait)
{
	int first = c->resp_seq == 0 && !(c->flags & HTTPLAT_F_PREEXISTING);
	__u64 base = r->arrive_ns;

	*queue = HTTPLAT_NS_UNKNOWN;
	*wait = HTTPLAT_NS_UNKNOWN;
	if (first && c->est_ns && c->accept_ns >= c->est_ns)
		*queue = c->accept_ns - c->est_ns;
	if (!base)
		return;
	if (first && c->accept_ns > base)
		base = c->accept_ns;
	*wait = r->start_ns > base ? r->start_ns - base : 0;
}

/*
 * Sends the record of request cur. Built in scratch; only the used part of
 * raw[] goes into the ring.
 */
static __always_inline void conn__emit(struct hconn *c, __u64 end_ns, __u32 flags)
{
	struct scratch *s = env__scratch();
	struct httplat_request_event *e;
	struct hreq *r = &c->cur;
	__u64 size;

	if (!s)
		return;
	e = &s->ev;
	e->hdr.type = HTTPLAT_EV_REQUEST;
	e->hdr._pad0[0] = e->hdr._pad0[1] = e->hdr._pad0[2] = 0;
	e->hdr.tgid = r->tgid;
	e->method = r->method;
	e->conn_kind = c->kind;
	e->version = r->version;
	e->_pad1 = 0;
	e->status = (flags & HTTPLAT_F_NO_RESPONSE) ? 0 : c->status;
	e->lport = c->lport;
	e->raw_len = r->raw_len;
	e->line_len = r->line_len;
	e->flags = flags | r->flags | c->flags;
	e->seq = c->resp_seq;
	e->conn_id = c->sk;
	e->start_ns = r->start_ns;
	e->ttfb_ns = (flags & HTTPLAT_F_NO_RESPONSE) ? 0 : c->ttfb_ns;
	e->end_ns = end_ns;
	conn__split(c, r, &e->queue_ns, &e->wait_ns);
	e->bytes_in = r->bytes_in;
	e->bytes_out = (flags & HTTPLAT_F_NO_RESPONSE) ? 0 : c->bytes_out;
	/* only the 64-byte blocks the line uses (most lines fit in one) */
	for (int i = 0; i < HTTPLAT_RAW_MAX / 64; i++) {
		if (i * 64 >= e->raw_len)
			break;
		__builtin_memcpy(&e->raw[i * 64], &r->raw[i * 64], 64);
	}
	size = offsetof(struct httplat_request_event, raw) + e->raw_len;
	if (size > sizeof(*e))
		size = sizeof(*e);
	if (c->kind == HTTPLAT_CONN_TLS && c->tls_in_write && !env__park(c, e))
		return; /* out when its ciphertext is sent */
	if (env__output(e, size)) {
		env__count(HTTPLAT_C_RB_FULL);
		return;
	}
	env__count(HTTPLAT_C_REQUESTS);
}

static __always_inline void resp__reset(struct hconn *c)
{
	c->status = 0;
	c->ttfb_ns = 0;
	c->bytes_out = 0;
	c->resp_left = 0;
	c->last_write_ns = 0;
	c->resp_state = RS_NONE;
	__builtin_memset(&c->shead, 0, sizeof(c->shead));
}

/* Request resp_seq is done: its record out, the next unanswered one becomes cur. */
SM_FUNC int conn__complete(struct hconn *c, __u64 end_ns, __u32 flags)
{
	struct hreq *q;

	if (!c || c->resp_seq == c->req_seq)
		return 0;
	if (!c->cur_lost)
		conn__emit(c, end_ns, flags);
	resp__reset(c);
	c->resp_seq++;
	c->cur_lost = 0;
	if (c->resp_seq == c->req_seq)
		return 0;
	q = env__q_lookup(c->sk, c->resp_seq);
	if (!q) {
		c->cur_lost = 1;
		if (bit__get(c->q_bits, c->resp_seq)) /* queued, then pushed out of the map */
			env__count(HTTPLAT_C_PIPE_FULL); /* (else counted when it could not be queued) */
		return 0;
	}
	__builtin_memcpy(&c->cur, q, sizeof(c->cur));
	env__q_delete(c->sk, c->resp_seq);
	return 0;
}

struct finish_loop {
	struct hconn *c;
	__u64 now;
	__u32 why;
	__u32 _pad;
};

static long finish_cb(__u32 i, void *vctx)
{
	struct finish_loop *x = vctx;
	struct hconn *c = x->c;
	__u32 flags = x->why;
	__u64 end = x->now;

	(void)i;
	if (c->resp_seq == c->req_seq)
		return 1;
	switch (c->resp_state) {
	case RS_NONE:
	case RS_INTERIM:
		flags |= HTTPLAT_F_NO_RESPONSE;
		break;
	case RS_UNTIL_CLOSE:
		flags |= HTTPLAT_F_END_INFERRED;
		end = c->last_write_ns;
		break;
	default:
		flags |= HTTPLAT_F_RESP_INCOMPLETE;
		end = c->last_write_ns;
		break;
	}
	conn__complete(c, end, flags);
	return 0;
}

/*
 * The connection ends (close, reset, process exit): every request still
 * unanswered gets its record, without a phantom latency: no status line ->
 * status 0.
 */
SM_FUNC int conn__finish(struct hconn *c, __u64 now, __u32 why)
{
	struct finish_loop x = {.c = c, .now = now, .why = why};

	if (!c)
		return 0;
	env__loop(CONN_PIPE_TRACK + 1, finish_cb, &x);
	c->req_state = RQ_IDLE;
	c->pre_len = 0;
	return 0;
}

/* ---- request side ---- */

/* The newest request's record, or NULL when it has none (lost to the pipeline limit). */
static __always_inline struct hreq *conn__newest(struct hconn *c)
{
	if (c->req_seq == c->resp_seq)
		return NULL; /* answered already (e.g. before its body was read) */
	if (c->req_seq - 1 == c->resp_seq)
		return c->cur_lost ? NULL : &c->cur;
	return env__q_lookup(c->sk, c->req_seq - 1);
}

static __always_inline void conn__add_in(struct hconn *c, __u64 n)
{
	struct hreq *r = conn__newest(c);

	if (r)
		r->bytes_in += n;
}

/* The request line is complete (fl bytes): its length, kept part and version. */
static __always_inline void req__line_done(struct hreq *r, __u32 fl)
{
	r->line_open = 0;
	r->line_len = fl > 0xffff ? 0xffff : fl;
	if (fl <= HTTPLAT_RAW_MAX)
		r->raw_len = fl;
	if (fl >= 8 && fl <= HTTPLAT_RAW_MAX) {
		__u32 at = fl - 8;

		if (at <= HTTPLAT_RAW_MAX - 8)
			r->version = http__line_version((const __u8 *)&r->raw[at]);
	}
}

/* Appends the window (the next bytes of a request line) to r->raw. */
static __always_inline void req__line_append(struct hreq *r, struct io_ctx *io, struct scratch *s)
{
	__u32 done = 0;

	for (int i = 0; i < HTTPLAT_RAW_MAX / 64; i++) {
		__u32 at = r->raw_len, n = 64;

		if (at >= HTTPLAT_RAW_MAX || done >= io->win_len || done >= HP_WIN)
			break;
		if (n > HTTPLAT_RAW_MAX - at)
			n = HTTPLAT_RAW_MAX - at;
		if (n > io->win_len - done)
			n = io->win_len - done;
		barrier_var(n); /* keep the clamp: clang proves it redundant, 6.1's verifier cannot */
		if (n > 64)
			n = 64;
		barrier_var(done);
		/* a constant 64-byte copy: the bytes past n land in raw's slack */
		__builtin_memcpy(&r->raw[at], &s->win[done & (HP_WIN - 1)], 64);
		r->raw_len = at + n;
		done += n;
	}
}

/*
 * A request line starts at io->off (valid method m). Answers an unframed
 * response it ends, then gives the request a sequence number and a record
 * (cur, a queued one, or none beyond the pipeline limit: counted lost).
 */
SM_FUNC int req__begin(struct hconn *c, struct io_ctx *io, int method)
{
	struct scratch *s = env__scratch();
	__u32 depth;
	struct hreq *r;

	if (!c || !io || !s)
		return 1;
	if (c->resp_seq != c->req_seq && c->resp_state == RS_UNTIL_CLOSE && c->status)
		conn__complete(c, c->last_write_ns, HTTPLAT_F_END_INFERRED);
	depth = c->req_seq - c->resp_seq;
	if (depth >= CONN_PIPE_TRACK) {
		/* framing cannot be followed further: give the connection up, loudly */
		env__count(HTTPLAT_C_PIPE_FULL);
		env__count(HTTPLAT_C_PARSE_GIVEUP);
		c->dead = 1;
		io->off = io->total;
		return 1;
	}
	bit__put(c->head_bits, c->req_seq, method == HTTPLAT_M_HEAD);
	bit__put(c->q_bits, c->req_seq, 0);
	r = depth ? &s->rq : &c->cur;
	r->start_ns = io->off < io->pre_len ? c->pre_ns : io->now;
	r->arrive_ns = io->off < io->pre_len ? c->pre_arrive_ns : io->arrive_ns;
	r->bytes_in = 0;
	r->flags = depth ? HTTPLAT_F_PIPELINED : 0;
	r->tgid = io->tgid;
	r->line_len = 0;
	r->raw_len = 0;
	r->method = (__u8)method;
	r->version = 0;
	r->line_open = 1;
	if (!depth) {
		c->cur_lost = 0;
		resp__reset(c);
	} else if (depth > env__pipe_max() || env__q_insert(c->sk, c->req_seq, r)) {
		env__count(HTTPLAT_C_PIPE_FULL); /* one request lost, its framing kept */
	} else {
		bit__put(c->q_bits, c->req_seq, 1);
	}
	c->req_seq++;
	c->pre_len = 0;
	__builtin_memset(&c->rhead, 0, sizeof(c->rhead));
	c->req_state = RQ_HEAD;
	return 0;
}

/* Body framing of the newest request once its head is complete. */
static __always_inline void req__head_done(struct hconn *c)
{
	struct http_head *h = &c->rhead;

	if (h->flags & HH_F_CHUNKED) {
		__builtin_memset(&c->rchunk, 0, sizeof(c->rchunk));
		c->req_state = RQ_CHUNKED;
	} else if ((h->flags & HH_F_CL) && !(h->flags & HH_F_BAD_CL) && h->clen) {
		c->req_left = h->clen;
		c->req_state = RQ_BODY;
	} else {
		c->req_state = RQ_IDLE;
	}
}

static __always_inline int req__head_step(struct hconn *c, struct io_ctx *io, struct scratch *s)
{
	struct hreq *r = conn__newest(c);
	__u64 start = io->off;
	__u32 res;

	if (io__at(io, io->off))
		return 1;
	if (r && r->line_open)
		req__line_append(r, io, s);
	res = dfa__window(c, DFA_REQ_HEAD, io->win_len);
	io->off = io->win_off + (res & ~SCAN_DONE);
	if (r) {
		r->bytes_in += io->off - start;
		if (r->line_open && c->rhead.state != HH_FIRST)
			req__line_done(r, c->rhead.first_len);
	}
	if (res & SCAN_DONE)
		req__head_done(c);
	return 0;
}

/* At RQ_IDLE: a request line, a start too short to tell (kept for the next read), or junk. */
static __always_inline int req__detect(struct hconn *c, struct io_ctx *io, struct scratch *s)
{
	__u32 mlen = 0;
	int m;

	if (io__at(io, io->off))
		return 1;
	m = http__method(s->win, io->win_len, &mlen);
	if (m >= 0)
		return req__begin(c, io, m) ?: req__head_step(c, io, s); /* its head at once */
	if (m == HP_NEED_MORE && io->win_len <= CONN_PRE_MAX) {
		/* a request sent a few bytes at a time: keep its start for the next read */
		if (io->off >= io->pre_len) {
			c->pre_ns = io->now;
			c->pre_arrive_ns = io->arrive_ns;
		}
		__builtin_memcpy(c->pre, s->win, CONN_PRE_MAX);
		c->pre_len = (__u8)io->win_len;
		io->off = io->total;
		return 1;
	}
	if (c->kind != HTTPLAT_CONN_TLS && !c->req_seq && http__tls_record(s->win, io->win_len)) {
		/*
		 * TLS (a ClientHello, or a record of a connection older than the tracer): the
		 * ciphertext is not parsed; the plaintext comes through libssl (bpf/tls.bpf.h).
		 */
		c->kind = HTTPLAT_CONN_TLS;
		env__count(HTTPLAT_C_TLS_CONNS);
		io->off = io->total;
		return 1;
	}
	env__count(HTTPLAT_C_NON_HTTP); /* not HTTP: the rest of this read is ignored */
	c->pre_len = 0;
	io->off = io->total;
	return 1;
}

/* One step of a read: 0 go on, 1 done with this read. */
SM_FUNC int conn__read_step(struct hconn *c, struct io_ctx *io)
{
	struct scratch *s = env__scratch();
	__u64 avail, start;
	int done;

	if (!c || !io || !s || c->dead || io->off >= io->total)
		return 1;
	avail = io->total - io->off;
	switch (c->req_state) {
	case RQ_BODY:
		if (c->req_left > avail) {
			c->req_left -= avail;
			conn__add_in(c, avail);
			io->off = io->total;
			return 1;
		}
		io->off += c->req_left;
		conn__add_in(c, c->req_left);
		c->req_left = 0;
		c->req_state = RQ_IDLE;
		return 0;
	case RQ_CHUNKED:
		start = io->off;
		done = chunk__step(io, c, DFA_REQ_CHUNKS);
		if (io->off > io->total)
			io->off = io->total;
		conn__add_in(c, io->off - start);
		if (done == 1) {
			c->req_state = RQ_IDLE;
		} else if (done < 0) {
			/* lost the body framing: what follows on this read cannot be placed */
			struct hreq *r = conn__newest(c);

			env__count(HTTPLAT_C_PARSE_GIVEUP);
			if (r)
				r->flags |= HTTPLAT_F_FRAMING_LOST;
			conn__add_in(c, io->total - io->off);
			io->off = io->total;
			c->req_state = RQ_IDLE;
			return 1;
		}
		return 0;
	case RQ_HEAD:
		return req__head_step(c, io, s);
	}
	return req__detect(c, io, s);
}

struct step_loop {
	struct hconn *c;
	struct io_ctx *io;
};

static long read_cb(__u32 i, void *vctx)
{
	struct step_loop *x = vctx;

	(void)i;
	return conn__read_step(x->c, x->io) ? 1 : 0;
}

/* Requests in: every byte of one read. */
SM_FUNC int conn__on_read(struct hconn *c, struct io_ctx *io)
{
	struct step_loop x = {.c = c, .io = io};

	struct scratch *s = env__scratch();

	if (!c || !io || !s)
		return 0;
	io->off = 0;
	io->win_off = 0;
	io->win_len = 0;
	io->pre_len = 0;
	if (c->pre_len && c->req_state == RQ_IDLE && c->pre_len <= CONN_PRE_MAX) {
		/* a line start kept from earlier reads: these bytes follow it */
		__builtin_memcpy(s->pre, c->pre, CONN_PRE_MAX);
		io->pre_len = c->pre_len;
		io->total += c->pre_len;
	}
	c->pre_len = 0;
	env__loop(CONN_STEPS, read_cb, &x);
	if (io->off < io->total && !c->dead) {
		/* out of steps: cannot tell where the next request starts */
		env__count(HTTPLAT_C_PARSE_GIVEUP);
		c->req_state = RQ_IDLE;
	}
	return 0;
}

/* ---- response side ---- */

/* Framing of the current response once its head is complete. 1: it is already done. */
static __always_inline int resp__head_done(struct hconn *c)
{
	struct http_head *h = &c->shead;
	__u16 st = c->status;

	if (st == 101) {
		c->dead = 1;
		c->cur.flags |= HTTPLAT_F_UPGRADED;
		return 1;
	}
	if (bit__get(c->head_bits, c->resp_seq) || st == 204 || st == 304)
		return 1;
	if (h->flags & HH_F_CHUNKED) {
		__builtin_memset(&c->schunk, 0, sizeof(c->schunk));
		c->resp_state = RS_CHUNKED;
		return 0;
	}
	if ((h->flags & HH_F_CL) && !(h->flags & HH_F_BAD_CL)) {
		if (!h->clen)
			return 1;
		c->resp_left = h->clen;
		c->resp_state = RS_BODY;
		return 0;
	}
	c->resp_state = RS_UNTIL_CLOSE;
	return 0;
}

/* True when the write's last 5 bytes are the chunked terminator "0\r\n\r\n". */
static __always_inline int resp__ends_chunked(struct io_ctx *io, struct scratch *s)
{
	const __u8 *w = s->win;

	if (io->total < 5 || io__fill(io, io->total - 5) || io->win_len < 5)
		return 0;
	return w[0] == '0' && w[1] == '\r' && w[2] == '\n' && w[3] == '\r' && w[4] == '\n';
}

/* Head bytes of the current (or interim) response: one window. */
static __always_inline int resp__head_step(struct hconn *c, struct io_ctx *io)
{
	__u64 start = io->off;
	__u32 res;

	if (io__at(io, io->off))
		return 1;
	res = dfa__window(c, DFA_RESP_HEAD, io->win_len);
	io->off = io->win_off + (res & ~SCAN_DONE);
	c->bytes_out += io->off - start;
	if (!(res & SCAN_DONE))
		return 0;
	if (c->resp_state == RS_INTERIM) {
		/* 100 Continue and friends: the final response is still to come */
		c->resp_state = RS_NONE;
		__builtin_memset(&c->shead, 0, sizeof(c->shead));
		return 0;
	}
	if (resp__head_done(c)) {
		conn__complete(c, io->now, 0);
		return c->dead;
	}
	return 0;
}

/* At RS_NONE: a status line starts the response (or an interim one). */
static __always_inline int resp__start(struct hconn *c, struct io_ctx *io, struct scratch *s)
{
	__u16 st = 0;
	__u8 ver = 0;

	if (io__at(io, io->off) || http__status(s->win, io->win_len, &st, &ver)) {
		/* not a status line: cannot frame it, just count it */
		c->bytes_out += io->total - io->off;
		io->off = io->total;
		return 1;
	}
	__builtin_memset(&c->shead, 0, sizeof(c->shead));
	if (st >= 100 && st < 200 && st != 101) {
		c->resp_state = RS_INTERIM;
		return 0;
	}
	c->status = st;
	c->ttfb_ns = io->now;
	c->resp_state = RS_HEAD;
	return resp__head_step(c, io); /* its head at once, in the same step */
}

/* One step of a write: 0 go on, 1 done with this write. */
SM_FUNC int conn__write_step(struct hconn *c, struct io_ctx *io)
{
	struct scratch *s = env__scratch();
	__u64 avail, start;
	__u16 st = 0;
	__u8 ver = 0;
	int done;

	if (!c || !io || !s || c->dead || io->off >= io->total)
		return 1;
	if (c->resp_seq == c->req_seq) {
		/* a response to a request we did not see (or stray bytes) */
		if (io->data && !io__at(io, io->off) && !http__status(s->win, io->win_len, &st, &ver))
			env__count(HTTPLAT_C_ORPHAN_RESPONSE);
		io->off = io->total;
		return 1;
	}
	c->last_write_ns = io->now;
	avail = io->total - io->off;
	if (!io->data && c->resp_state != RS_BODY) {
		c->bytes_out += avail; /* bytes only (sendfile): counted */
		io->off = io->total;
		return 1;
	}
	switch (c->resp_state) {
	case RS_BODY:
		if (c->resp_left > avail) {
			c->resp_left -= avail;
			c->bytes_out += avail;
			io->off = io->total;
			return 1;
		}
		io->off += c->resp_left;
		c->bytes_out += c->resp_left;
		c->resp_left = 0;
		conn__complete(c, io->now, 0);
		return 0;
	case RS_UNTIL_CLOSE:
		c->bytes_out += avail;
		io->off = io->total;
		return 1;
	case RS_TAIL:
		c->bytes_out += avail;
		if (resp__ends_chunked(io, s))
			conn__complete(c, io->now, 0);
		io->off = io->total;
		return 1;
	case RS_CHUNKED:
		start = io->off;
		done = chunk__step(io, c, DFA_RESP_CHUNKS);
		if (io->off > io->total)
			io->off = io->total;
		c->bytes_out += io->off - start;
		if (done == 1) {
			conn__complete(c, io->now, 0);
		} else if (done < 0) {
			/* lost the chunk framing: fall back to the terminator */
			env__count(HTTPLAT_C_PARSE_GIVEUP);
			c->cur.flags |= HTTPLAT_F_FRAMING_LOST;
			c->resp_state = RS_TAIL;
			c->bytes_out += io->total - io->off;
			if (resp__ends_chunked(io, s))
				conn__complete(c, io->now, 0);
			io->off = io->total;
			return 1;
		}
		return 0;
	case RS_HEAD:
	case RS_INTERIM:
		return resp__head_step(c, io);
	}
	return resp__start(c, io, s);
}

static long write_cb(__u32 i, void *vctx)
{
	struct step_loop *x = vctx;

	(void)i;
	return conn__write_step(x->c, x->io) ? 1 : 0;
}

/* Responses out: every byte of one write. */
SM_FUNC int conn__on_write(struct hconn *c, struct io_ctx *io)
{
	struct step_loop x = {.c = c, .io = io};

	if (!c || !io)
		return 0;
	io->off = 0;
	io->win_off = 0;
	io->win_len = 0;
	env__loop(CONN_STEPS, write_cb, &x);
	if (io->off < io->total && !c->dead && c->resp_seq != c->req_seq) {
		env__count(HTTPLAT_C_PARSE_GIVEUP);
		c->cur.flags |= HTTPLAT_F_FRAMING_LOST;
		c->resp_state = RS_UNTIL_CLOSE;
	}
	return 0;
}

#endif /* HTTPLAT_HTTP_CONN_H */
