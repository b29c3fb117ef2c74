/* conn.bpf.h: per-connection HTTP/1.x state machine: requests in, responses out, records emitted. */
#ifndef HTTPLAT_CONN_BPF_H
#define HTTPLAT_CONN_BPF_H

#include "io.bpf.h"

#define SCAN_WINDOWS 8	 /* windows scanned per syscall: 4 KiB of head */
#define PER_SYSCALL 4	 /* requests (or responses) handled in one syscall */

const volatile __u64 targ_wakeup_bytes = HTTPLAT_WAKEUP_BYTES;

/* ---- scanning with a DFA: a request/response head, or a chunked body ---- */

/*
 * bpf_loop keeps the verifier's work constant (a plain loop over the DFA
 * is too rich for it); its indirect call costs about 25 ns here, so each
 * call takes several head steps.
 */
#define SCAN_DONE 0x80000000u
#define STEPS_PER_CALL 8

enum dfa_which { DFA_REQ_HEAD, DFA_RESP_HEAD, DFA_CHUNKS };

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

	if (!x->h) {
		if (x->pos >= x->len)
			return 1;
		x->done = http_chunk__step(x->k, x->s->win, &x->pos, x->len);
		return x->done;
	}
#pragma unroll
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

/* Steps a DFA of c over the window from pos to len: the new position, | SCAN_DONE when done. */
__noinline __u32 scan_window(struct hconn *c, int which, __u32 pos, __u32 len)
{
	struct dfa_loop x = {.s = scratch_get(), .pos = pos, .len = len};

	if (!c || !x.s)
		return len;
	if (which == DFA_CHUNKS)
		x.k = &c->chunk;
	else
		x.h = which == DFA_REQ_HEAD ? &c->rhead : &c->shead;
	bpf_loop(x.h ? HP_WIN / STEPS_PER_CALL + 1 : HP_WIN, dfa_cb, &x, 0);
	return x.done ? x.pos | SCAN_DONE : x.pos;
}

/*
 * Runs a DFA of c from data offset io->off across windows (chunk data is
 * skipped without copying it). Returns 1 when the head or body completed
 * (io->off just past it), 0 when the data ran out first (all consumed),
 * -1 when the scan budget ran out or the chunk framing is broken.
 */
__noinline int scan(struct io_ctx *io, struct hconn *c, int which)
{
	struct http_chunk *k;

	if (!io || !c)
		return -1;
	k = &c->chunk;
	for (int i = 0; i < SCAN_WINDOWS; i++) {
		__u32 r;
		int at;

		if (which == DFA_CHUNKS && k->state == CK_DATA) {
			__u64 avail = io->total - io->off;

			if (k->left >= avail) {
				k->left -= avail;
				io->off = io->total;
				return 0;
			}
			io->off += k->left;
			k->left = 0;
			k->state = CK_DATA_CR;
		}
		if (io->off >= io->total)
			return 0;
		at = io__at(io, io->off);
		if (at < 0)
			return -1;
		r = scan_window(c, which, (__u32)at, io->win_len);
		io->off = io->win_off + (r & ~SCAN_DONE);
		if (r & SCAN_DONE)
			return which != DFA_CHUNKS || k->state == CK_DONE ? 1 : -1;
	}
	return io->off >= io->total ? 0 : -1;
}

/* ---- records ---- */

/*
 * Sends one request record. It is built in per-CPU scratch and only the
 * used part of raw[] goes into the ring: a typical record is 3 cache lines
 * instead of 7, which is most of what a record costs.
 */
static __always_inline void emit(struct hconn *c, struct conn_key *k, __u64 end_ns,
				 __u32 flags)
{
	struct scratch *s = scratch_get();
	struct httplat_request_event *e;
	__u64 avail, size;

	if (!s)
		return;
	e = &s->ev;
	e->hdr.type = HTTPLAT_EV_REQUEST;
	e->hdr.tgid = k->tgid;
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->fd = k->fd;
	e->method = c->cur.method;
	e->conn_kind = HTTPLAT_CONN_SOCKET;
	e->version = c->cur.version;
	e->status = (flags & HTTPLAT_F_NO_RESPONSE) ? 0 : c->status;
	e->lport = c->lport;
	e->raw_len = c->cur.raw_len;
	e->line_len = c->cur.line_len;
	e->flags = flags | c->cur.flags | c->flags;
	e->conn_id = c->sk;
	e->accept_ns = c->accept_ns;
	e->start_ns = c->cur.start_ns;
	e->ttfb_ns = (flags & HTTPLAT_F_NO_RESPONSE) ? 0 : c->ttfb_ns;
	e->end_ns = end_ns;
	e->wait_ns = 0;
	e->bytes_in = c->cur.bytes_in;
	e->bytes_out = c->bytes_out;
	__builtin_memcpy(e->raw, c->cur.raw, HTTPLAT_RAW_MAX);
	size = offsetof(struct httplat_request_event, raw) + e->raw_len;
	if (size > sizeof(*e))
		size = sizeof(*e);
	avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	if (bpf_ringbuf_output(&events, e, size,
			       avail >= targ_wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP)) {
		count(HTTPLAT_C_RB_FULL);
		return;
	}
	count(HTTPLAT_C_REQUESTS);
}

static __always_inline void resp_reset(struct hconn *c)
{
	c->status = 0;
	c->ttfb_ns = 0;
	c->bytes_out = 0;
	c->resp_left = 0;
	c->resp_state = RS_NONE;
	__builtin_memset(&c->shead, 0, sizeof(c->shead));
}

/* The current request is done: emit it and promote the next queued one. */
__noinline int complete(struct hconn *c, struct conn_key *k, __u64 end_ns, __u32 flags)
{
	struct pipe_key pk = {};
	struct hreq *q;

	if (!c || !k)
		return 0;
	pk.conn = *k;
	emit(c, k, end_ns, flags);
	resp_reset(c);
	c->active = 0;
	if (c->pipe_head == c->pipe_tail)
		return 0;
	pk.seq = c->pipe_head++;
	q = bpf_map_lookup_elem(&pipeq, &pk);
	if (!q)
		return 0; /* counted when it failed to queue */
	__builtin_memcpy(&c->cur, q, sizeof(c->cur));
	bpf_map_delete_elem(&pipeq, &pk);
	c->active = 1;
	return 0;
}

/*
 * The connection ends (close, exit, exec, fd reuse): every request still
 * open is emitted, without a phantom latency: no status line -> status 0.
 */
__noinline int conn_finish(struct hconn *c, struct conn_key *k, __u64 now, __u32 why)
{
	if (!c || !k)
		return 0;
	for (int i = 0; i < HTTPLAT_PIPE_PER_CONN + 1; i++) {
		__u32 flags = why;
		__u64 end = now;

		if (!c->active)
			break;
		switch (c->resp_state) {
		case RS_NONE:
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
		complete(c, k, end, flags);
	}
	return 0;
}

/* ---- request side ---- */

/* Adds request bytes to the newest request (the current one or the last queued). */
static __always_inline void add_in(struct hconn *c, struct conn_key *k, __u64 n)
{
	struct pipe_key pk = {.conn = *k};
	struct hreq *q;

	if (c->pipe_head == c->pipe_tail) {
		c->cur.bytes_in += n;
		return;
	}
	pk.seq = c->pipe_tail - 1;
	q = bpf_map_lookup_elem(&pipeq, &pk);
	if (q)
		q->bytes_in += n;
}

/* Sets the body state of the newest request once its head is complete. */
static __always_inline void req_head_done(struct hconn *c)
{
	struct http_head *h = &c->rhead;

	if (h->flags & HH_F_CHUNKED) {
		c->req_state = RQ_BODY_ANY;
	} else if ((h->flags & HH_F_CL) && !(h->flags & HH_F_BAD_CL) && h->clen) {
		c->req_left = h->clen;
		c->req_state = RQ_BODY;
	} else {
		c->req_state = RQ_IDLE;
	}
}

/* Head scan result -> request state. */
static __always_inline void req_scanned(struct hconn *c, int done)
{
	if (done == 1) {
		req_head_done(c);
	} else if (done == 0) {
		c->req_state = RQ_HEAD;
	} else {
		count(HTTPLAT_C_PARSE_GIVEUP);
		c->req_state = RQ_BODY_ANY;
	}
}

/* The request line is complete (fl bytes): its length, kept part and version. */
static __always_inline void req_line_done(struct hreq *r, __u32 fl)
{
	r->line_len = fl > 0xffff ? 0xffff : fl;
	if (fl >= 8 && fl <= HTTPLAT_RAW_MAX) {
		r->raw_len = fl;
		r->version = http__line_version((const __u8 *)&r->raw[fl - 8]);
	}
}

/* Appends the window (the next bytes of a request line split over reads) to cur.raw. */
static __always_inline void req_line_append(struct hconn *c, struct io_ctx *io, struct scratch *s)
{
	__u32 done = 0;

	for (int i = 0; i < HTTPLAT_RAW_MAX / 64; i++) {
		__u32 at = c->cur.raw_len, n = 64;

		if (at >= HTTPLAT_RAW_MAX || done >= io->win_len || done >= HP_WIN)
			break;
		if (n > HTTPLAT_RAW_MAX - at)
			n = HTTPLAT_RAW_MAX - at;
		if (n > io->win_len - done)
			n = io->win_len - done;
		if (n > 64)
			n = 64;
		bpf_probe_read_kernel(&c->cur.raw[at], n, &s->win[done]);
		c->cur.raw_len = at + n;
		done += n;
	}
}

/*
 * A request line starts at io->off, where the window has just been filled.
 * Starts the request (or queues it behind the unanswered one) and scans its
 * head; io->off ends past what was consumed.
 */
static __always_inline void req_start(struct hconn *c, struct conn_key *k, struct io_ctx *io,
				      struct scratch *s, int method)
{
	struct hreq *r;
	__u32 n;

	if (c->active && c->resp_state == RS_UNTIL_CLOSE && c->status) {
		/* the previous response had no framing: it ended with its last write */
		complete(c, k, c->last_write_ns, HTTPLAT_F_END_INFERRED);
	}
	r = c->active ? &s->rq : &c->cur;
	r->start_ns = io->now;
	r->bytes_in = 0;
	r->method = (__u8)method;
	r->version = 0;
	r->flags = c->active ? HTTPLAT_F_PIPELINED : 0;
	__builtin_memcpy(r->raw, s->win, HTTPLAT_RAW_MAX);
	n = io->win_len;
	r->raw_len = n > HTTPLAT_RAW_MAX ? HTTPLAT_RAW_MAX : n;
	r->line_len = r->raw_len;

	__builtin_memset(&c->rhead, 0, sizeof(c->rhead));
	req_scanned(c, scan(io, c, DFA_REQ_HEAD));
	c->line_open = 0;
	if (c->rhead.state != HH_FIRST)
		req_line_done(r, c->rhead.first_len);
	else if (!c->active)
		c->line_open = 1; /* the rest of the line comes in later reads */
	if (!c->active) {
		c->active = 1;
		resp_reset(c);
	} else {
		struct pipe_key pk = {.conn = *k};

		pk.seq = c->pipe_tail;
		if (c->pipe_tail - c->pipe_head >= HTTPLAT_PIPE_PER_CONN ||
		    bpf_map_update_elem(&pipeq, &pk, r, BPF_ANY)) {
			count(HTTPLAT_C_PIPE_FULL);
			io->off = io->total;
			return;
		}
		c->pipe_tail++;
	}
}

__noinline int on_read(struct hconn *c, struct conn_key *k, struct io_ctx *io)
{
	struct scratch *s = scratch_get();

	if (!c || !k || !io || !s || c->upgraded)
		return 0;
	io->off = 0;
	for (int i = 0; i < PER_SYSCALL; i++) {
		__u64 start = io->off;
		__u32 mlen;
		int m;

		if (io->off >= io->total)
			return 0;
		if (c->req_state == RQ_BODY) {
			__u64 avail = io->total - io->off;

			if (c->req_left > avail) {
				c->req_left -= avail;
				add_in(c, k, avail);
				return 0;
			}
			io->off += c->req_left;
			add_in(c, k, c->req_left);
			c->req_left = 0;
			c->req_state = RQ_IDLE;
			continue;
		}
		if (c->req_state == RQ_HEAD) {
			if (c->line_open) {
				if (io__fill(io, io->off))
					return 0;
				req_line_append(c, io, s);
			}
			req_scanned(c, scan(io, c, DFA_REQ_HEAD));
			if (c->line_open && c->rhead.state != HH_FIRST) {
				c->line_open = 0;
				req_line_done(&c->cur, c->rhead.first_len);
			}
			add_in(c, k, io->off - start);
			continue;
		}
		/* RQ_IDLE or RQ_BODY_ANY: does a request line start here? */
		if (io__fill(io, io->off))
			return 0;
		m = http__method(s->win, io->win_len, &mlen);
		if (m < 0) {
			if (c->req_state == RQ_BODY_ANY)
				add_in(c, k, io->total - io->off);
			else if (io->off == 0)
				count(HTTPLAT_C_NON_HTTP);
			return 0;
		}
		if (c->req_state == RQ_BODY_ANY && c->active && c->resp_state != RS_UNTIL_CLOSE) {
			/* an unanswered request with a body of unknown length: still its body */
			add_in(c, k, io->total - io->off);
			return 0;
		}
		req_start(c, k, io, s, m);
		add_in(c, k, io->off - start);
	}
	return 0;
}

/* ---- response side ---- */

/* Sets the framing of the current response once its head is complete. 1: already done. */
static __always_inline int resp_head_done(struct hconn *c)
{
	struct http_head *h = &c->shead;
	__u16 st = c->status;

	if (st == 101) {
		c->upgraded = 1;
		c->cur.flags |= HTTPLAT_F_UPGRADED;
		return 1;
	}
	if (c->cur.method == HTTPLAT_M_HEAD || st == 204 || st == 304)
		return 1;
	if (h->flags & HH_F_CHUNKED) {
		__builtin_memset(&c->chunk, 0, sizeof(c->chunk));
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
static __always_inline int ends_chunked(struct io_ctx *io, struct scratch *s)
{
	const __u8 *w = s->win;

	if (io->total < 5 || io__fill(io, io->total - 5) || io->win_len < 5)
		return 0;
	return w[0] == '0' && w[1] == '\r' && w[2] == '\n' && w[3] == '\r' && w[4] == '\n';
}

/* Data-less bytes (sendfile) or bytes we cannot parse: count them, follow known lengths. */
static __always_inline int resp_opaque(struct hconn *c, struct conn_key *k, struct io_ctx *io)
{
	__u64 avail = io->total - io->off;

	if (c->resp_state != RS_BODY) {
		c->bytes_out += avail;
		io->off = io->total;
		return 0;
	}
	if (c->resp_left > avail) {
		c->resp_left -= avail;
		c->bytes_out += avail;
		io->off = io->total;
		return 0;
	}
	io->off += c->resp_left;
	c->bytes_out += c->resp_left;
	c->resp_left = 0;
	complete(c, k, io->now, 0);
	return 1;
}

__noinline int on_write(struct hconn *c, struct conn_key *k, struct io_ctx *io, int data)
{
	struct scratch *s = scratch_get();

	if (!c || !k || !io || !s || c->upgraded)
		return 0;
	io->off = 0;
	for (int i = 0; i < PER_SYSCALL; i++) {
		__u64 start = io->off;
		__u16 st = 0;
		__u8 ver = 0;
		int done;

		if (io->off >= io->total)
			return 0;
		if (!c->active) {
			/* a response to a request we did not see (or stray bytes) */
			if (data && !io__fill(io, io->off) &&
			    !http__status(s->win, io->win_len, &st, &ver))
				count(HTTPLAT_C_ORPHAN_RESPONSE);
			return 0;
		}
		c->last_write_ns = io->now;
		if (!data || c->resp_state == RS_BODY || c->resp_state == RS_UNTIL_CLOSE) {
			if (!resp_opaque(c, k, io))
				return 0;
			continue;
		}
		if (c->resp_state == RS_TAIL) {
			c->bytes_out += io->total - io->off;
			if (ends_chunked(io, s))
				complete(c, k, io->now, 0);
			return 0;
		}
		if (c->resp_state == RS_CHUNKED) {
			done = scan(io, c, DFA_CHUNKS);
			c->bytes_out += io->off - start;
			if (done == 1) {
				complete(c, k, io->now, 0);
				continue;
			}
			if (done < 0) {
				/* lost the chunk framing: fall back to the terminator */
				count(HTTPLAT_C_PARSE_GIVEUP);
				c->cur.flags |= HTTPLAT_F_FRAMING_LOST;
				c->resp_state = RS_TAIL;
				c->bytes_out += io->total - io->off;
				if (ends_chunked(io, s))
					complete(c, k, io->now, 0);
			}
			return 0;
		}
		if (c->resp_state == RS_NONE) {
			if (io__fill(io, io->off) || http__status(s->win, io->win_len, &st, &ver)) {
				/* not a status line: cannot frame it, just count it */
				c->bytes_out += io->total - io->off;
				return 0;
			}
			__builtin_memset(&c->shead, 0, sizeof(c->shead));
			if (st >= 100 && st < 200 && st != 101) {
				/* interim (100 Continue): skip its head, keep waiting */
				done = scan(io, c, DFA_RESP_HEAD);
				c->bytes_out += io->off - start;
				if (done != 1)
					return 0;
				__builtin_memset(&c->shead, 0, sizeof(c->shead));
				continue;
			}
			c->status = st;
			c->ttfb_ns = io->now;
			c->resp_state = RS_HEAD;
		}
		/* RS_HEAD */
		done = scan(io, c, DFA_RESP_HEAD);
		c->bytes_out += io->off - start;
		if (done < 0) {
			count(HTTPLAT_C_PARSE_GIVEUP);
			c->cur.flags |= HTTPLAT_F_FRAMING_LOST;
			c->resp_state = RS_UNTIL_CLOSE;
			return 0;
		}
		if (done == 0)
			return 0;
		if (resp_head_done(c)) {
			complete(c, k, io->now, 0);
			if (c->upgraded)
				return 0;
		}
	}
	return 0;
}

#endif
