/* tls.bpf.h: HTTPS served by the app itself: plaintext from libssl uprobes, tied to its socket. */
#ifndef HTTPLAT_TLS_BPF_H
#define HTTPLAT_TLS_BPF_H

#include "maps.bpf.h"

/*
 * Python's ssl module (asyncio and uvloop alike) drives OpenSSL through
 * memory BIOs: the app reads ciphertext from the socket, BIO_write()s that
 * same buffer into the SSL object's read BIO, then SSL_read_ex()s the
 * plaintext; no libssl call makes a syscall, and the BIO has no fd. The
 * binding, exact for every SSL object created while httplat runs:
 *   - SSL_set_bio(ssl, rbio, wbio): which read BIO belongs to which SSL;
 *   - a socket read of ciphertext (a TLS connection, data.bpf.h) is noted
 *     per thread: socket, buffer, length, time;
 *   - BIO_write(bio, data, n) with data == that buffer and n <= its length,
 *     on the same thread: bio belongs to that socket;
 *   - SSL_read_ex / SSL_write_ex(ssl): ssl -> rbio -> socket.
 * An SSL object older than httplat (its SSL_set_bio not seen) is bound at
 * its first read: the SSL_read that follows, on the same thread, the
 * BIO_write that just tied a read BIO to a socket (asyncio's and uvloop's
 * sslproto call them in that order, in one call chain); the tie is used
 * once. Writes never bind: a write is only attributed through a bound SSL. A freed SSL's
 * entries are not removed (an SSL_free probe would cost every process a link to remove at the
 * end): a new SSL at the same address is bound afresh by its SSL_set_bio; the rest ages out of
 * the LRU maps.
 * User pointers are keyed with the tgid: forked workers share addresses.
 */

struct tls_rx {
	__u64 sk;	 /* the socket of the thread's last ciphertext read */
	__u64 ptr;	 /* its buffer; 0 once a BIO_write took it */
	__u64 len;	 /* bytes read */
	__u64 now;	 /* when */
	__u64 arrive_ns; /* when its first byte had arrived; 0 unknown */
	__u64 bio;	 /* the read BIO that buffer went into; 0 once an SSL_read used it */
};

struct tls_key {
	__u64 ptr; /* an SSL or BIO in the process */
	__u32 tgid;
	__u32 _pad;
};

struct tls_ssl {
	__u64 sk;   /* its socket, once known */
	__u64 rbio; /* its read BIO (SSL_set_bio), 0 unknown */
};

struct tls_args {
	__u64 ssl;
	__u64 buf;
	__u64 nread; /* size_t *readbytes */
};

/* Traced processes whose libssl read probes are attached (user space keeps it). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HTTPLAT_MAX_TARGETS);
	__type(key, __u32);
	__type(value, __u8);
} tls_procs SEC(".maps");

/* Server ports whose latest connections spoke TLS: one bit each (see tls__stray_plaintext). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HTTPLAT_PORT_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} tls_ports SEC(".maps");

/*
 * A TLS response's record, complete in plaintext, until the ciphertext that carries it is
 * sent: the app SSL-writes into a memory BIO and sends the ciphertext later (uvloop at the end
 * of the loop iteration, after whatever else runs in it). The targets are ciphertext byte
 * totals on the connection: every plaintext byte makes at least one ciphertext byte, so the
 * last byte of a response cannot have left before the connection sent as many ciphertext
 * bytes (since its first SSL write) as it had SSL-written plaintext bytes up to that response.
 */
struct tls_parked {
	__u64 end_target;
	__u64 ttfb_target; /* 0: ev.ttfb_ns is known */
	struct httplat_request_event ev;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HTTPLAT_TLS_PARKED);
	__type(key, struct pipe_key);
	__type(value, struct tls_parked);
} tls_park SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tls_parked);
} tls_stage SEC(".maps");

/* Per thread (pid_tgid): the last ciphertext read. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HTTPLAT_TLS_THREADS);
	__type(key, __u64);
	__type(value, struct tls_rx);
} tls_rx SEC(".maps");

/* Read BIO -> socket. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HTTPLAT_MAX_CONNS);
	__type(key, struct tls_key);
	__type(value, __u64);
} tls_bios SEC(".maps");

/* SSL -> read BIO and socket. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HTTPLAT_MAX_CONNS);
	__type(key, struct tls_key);
	__type(value, struct tls_ssl);
} tls_ssls SEC(".maps");

/* Per thread: the arguments of the SSL read in progress (entry to return). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HTTPLAT_TLS_THREADS);
	__type(key, __u64);
	__type(value, struct tls_args);
} tls_args SEC(".maps");

/* A socket read of ciphertext on TLS connection c (data.bpf.h): noted for BIO_write. */
static __always_inline void tls__socket_read(const struct hconn *c, __u64 ptr, __u64 len, __u64 now,
					     __u64 arrive_ns)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_rx rx = {
	    .sk = c->sk, .ptr = ptr, .len = len, .now = now, .arrive_ns = arrive_ns};

	bpf_map_update_elem(&tls_rx, &id, &rx, BPF_ANY);
}

static __always_inline void tls__set_bio(__u64 ssl, __u64 rbio)
{
	struct tls_key k = {.ptr = ssl, .tgid = bpf_get_current_pid_tgid() >> 32};
	struct tls_ssl e = {.rbio = rbio};

	bpf_map_update_elem(&tls_ssls, &k, &e, BPF_ANY);
}

/* BIO_write(bio, data, n): the ciphertext this thread just read from a socket? */
static __always_inline void tls__bio_write(__u64 bio, __u64 data, int n)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_rx *rx = bpf_map_lookup_elem(&tls_rx, &id);
	struct tls_key k = {.ptr = bio, .tgid = id >> 32};

	if (!rx || !rx->ptr || rx->ptr != data || n <= 0 || (__u64)n > rx->len)
		return;
	bpf_map_update_elem(&tls_bios, &k, &rx->sk, BPF_ANY);
	rx->bio = bio;
	rx->ptr = 0;
}

/* The socket of ssl (see the top of this file); 0 unknown. reading: may bind by order. */
static __always_inline __u64 tls__sk_of(__u64 ssl, int reading)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_key k = {.ptr = ssl, .tgid = id >> 32}, b = {.tgid = id >> 32};
	struct tls_ssl *e = bpf_map_lookup_elem(&tls_ssls, &k), ne = {};
	struct tls_rx *rx;
	__u64 *sk;

	if (e && e->sk)
		return e->sk;
	if (e && e->rbio) {
		b.ptr = e->rbio;
		sk = bpf_map_lookup_elem(&tls_bios, &b);
		if (sk) {
			e->sk = *sk;
			return *sk;
		}
	}
	if (!reading)
		return 0;
	rx = bpf_map_lookup_elem(&tls_rx, &id);
	if (!rx || !rx->bio || (e && e->rbio && e->rbio != rx->bio))
		return 0;
	b.ptr = rx->bio;
	sk = bpf_map_lookup_elem(&tls_bios, &b);
	if (!sk)
		return 0;
	ne.sk = *sk;
	ne.rbio = rx->bio;
	rx->bio = 0;
	bpf_map_update_elem(&tls_ssls, &k, &ne, BPF_ANY);
	return ne.sk;
}

/* The TLS connection of ssl, or NULL (counted: its requests are lost). */
static __always_inline struct hconn *tls__conn(__u64 ssl, int reading)
{
	__u64 sk = tls__sk_of(ssl, reading);
	struct hconn *c = sk ? bpf_map_lookup_elem(&conns, &sk) : NULL;

	if (!c || c->kind != HTTPLAT_CONN_TLS) {
		count(HTTPLAT_C_TLS_UNBOUND);
		return NULL;
	}
	return c;
}

static __always_inline void tls__read_enter(__u64 ssl, __u64 buf, __u64 nread)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_args a = {.ssl = ssl, .buf = buf, .nread = nread};

	bpf_map_update_elem(&tls_args, &id, &a, BPF_ANY);
}

/*
 * An SSL read returned ret (> 0: *readbytes bytes of plaintext in buf):
 * requests in, timed by the socket read that carried their ciphertext.
 */
static __always_inline void tls__read_done(long ret)
{
	__u64 id = bpf_get_current_pid_tgid(), n = 0;
	struct tls_args *ap = bpf_map_lookup_elem(&tls_args, &id), a;
	struct io_ctx io = {};
	struct tls_rx *rx;
	struct hconn *c;

	if (!ap)
		return;
	a = *ap;
	bpf_map_delete_elem(&tls_args, &id);
	if (ret <= 0 || bpf_probe_read_user(&n, sizeof(n), (void *)a.nread) || !n)
		return;
	c = tls__conn(a.ssl, 1);
	if (!c)
		return;
	rx = bpf_map_lookup_elem(&tls_rx, &id);
	io.tgid = id >> 32;
	io.ptr = a.buf;
	io.total = n;
	io.data = 1;
	if (rx && rx->sk == c->sk) {
		io.now = rx->now;
		io.arrive_ns = rx->arrive_ns;
	} else {
		io.now = bpf_ktime_get_ns();
	}
	c->tgid = io.tgid;
	c->tls = TLS_PLAIN;
	conn__on_read(c, &io);
}

/* A record completed in SSL write of c: parked until its ciphertext is sent. 0 parked. */
static __always_inline int tls__park(struct hconn *c, const struct httplat_request_event *e)
{
	__u32 zero = 0;
	struct tls_parked *p = bpf_map_lookup_elem(&tls_stage, &zero);
	struct pipe_key k = {.sk = c->sk, .seq = e->seq};
	__u64 ttfb_target = c->ttfb_target;

	c->ttfb_target = 0; /* the next response's, from now */
	if (!p)
		return -1;
	p->end_target = c->tls_end;
	p->ttfb_target = !e->ttfb_ns ? 0 : e->ttfb_ns == c->tls_now ? c->tls_end : ttfb_target;
	__builtin_memcpy(&p->ev, e, sizeof(*e));
	if (bpf_map_update_elem(&tls_park, &k, p, BPF_NOEXIST)) {
		count(HTTPLAT_C_TLS_PARK_FULL); /* out now, timed at the SSL write */
		return -1;
	}
	if (c->park_lo == c->park_hi)
		c->park_lo = e->seq;
	c->park_hi = e->seq + 1;
	return 0;
}

struct tls_flush {
	struct hconn *c;
	__u64 now;
	__u32 end; /* the connection ended: every record out */
	__u32 why; /* then, HTTPLAT_F_* for them (proc_exit) */
};

/* The oldest parked record of x->c: out if its ciphertext has been sent (or the end came). */
static long tls__flush_cb(__u32 i, void *vctx)
{
	struct tls_flush *x = vctx;
	struct hconn *c = x->c;
	struct pipe_key k = {.sk = c->sk, .seq = c->park_lo};
	struct tls_parked *p;
	__u64 size;

	(void)i;
	if (c->park_lo == c->park_hi)
		return 1;
	p = bpf_map_lookup_elem(&tls_park, &k);
	if (!p) {
		c->park_lo++; /* a request without a record (lost, and counted, before) */
		return 0;
	}
	if (!x->end) {
		if (p->ttfb_target && c->tls_tx >= p->ttfb_target) {
			p->ev.ttfb_ns = x->now;
			p->ttfb_target = 0;
		}
		if (c->tls_tx < p->end_target)
			return 1;
		p->ev.end_ns = x->now;
	} else {
		/* its ciphertext never left: timed at the SSL write */
		p->ev.flags |= x->why | HTTPLAT_F_RESP_INCOMPLETE;
	}
	size = offsetof(struct httplat_request_event, raw) + p->ev.raw_len;
	if (size > sizeof(p->ev))
		size = sizeof(p->ev);
	if (env__output(&p->ev, size))
		count(HTTPLAT_C_RB_FULL);
	else
		count(HTTPLAT_C_REQUESTS);
	bpf_map_delete_elem(&tls_park, &k);
	c->park_lo++;
	return 0;
}

/* Parked records of c out: those whose ciphertext was sent, or (end) all, flagged why. */
static __always_inline void tls__flush(struct hconn *c, __u64 now, __u32 end, __u32 why)
{
	struct tls_flush x = {.c = c, .now = now, .end = end, .why = why};

	if (c->park_lo != c->park_hi)
		bpf_loop(CONN_PIPE_TRACK + 1, tls__flush_cb, &x, 0);
}

/* ret bytes of ciphertext sent on TLS connection c, at now. */
static __always_inline void tls__socket_send(struct hconn *c, long ret, __u64 now)
{
	c->tls_tx += (__u64)ret;
	if (c->ttfb_target && c->tls_tx >= c->ttfb_target) {
		c->ttfb_ns = now; /* the current response's status line is out */
		c->ttfb_target = 0;
	}
	tls__flush(c, now, 0, 0);
}

/* SSL_write_ex(ssl, buf, num): responses out (a memory BIO takes all of it). */
static __always_inline void tls__write(__u64 ssl, __u64 buf, __u64 num)
{
	struct io_ctx io = {};
	struct hconn *c;

	if (!num)
		return;
	c = tls__conn(ssl, 0);
	if (!c)
		return;
	io.tgid = bpf_get_current_pid_tgid() >> 32;
	io.ptr = buf;
	io.total = num;
	io.data = 1;
	io.now = bpf_ktime_get_ns();
	c->tls = TLS_PLAIN;
	if (!c->tls_out)
		c->tls_tx = 0; /* the handshake's ciphertext is not the responses' */
	c->tls_now = io.now;
	c->tls_out += num;
	c->tls_end = c->tls_out;
	c->tls_in_write = 1;
	conn__on_write(c, &io); /* completed responses are parked (tls__park) */
	c->tls_in_write = 0;
	if (c->resp_seq != c->req_seq && c->ttfb_ns == io.now && !c->ttfb_target)
		c->ttfb_target = c->tls_end; /* a status line in this write: out with it */
}

/*
 * A connection just found to be TLS marks its port a TLS one; a plaintext response written on
 * a port unmarks it (a plaintext server on it now).
 */
static __always_inline void tls__port_mark(const struct hconn *c)
{
	if (c->kind == HTTPLAT_CONN_TLS)
		bits__set(&tls_ports, c->lport, 1);
	else if (bits__test(&tls_ports, c->lport))
		bits__set(&tls_ports, c->lport, 0);
}

/*
 * http:// sent to an https:// port: a plaintext request where a ClientHello belongs never
 * reaches the app and nothing answers it; when such a connection ends unanswered on a TLS
 * port its one request is dropped as not HTTP (counted in non_http_reads), not recorded.
 * 1: dropped.
 */
static __always_inline int tls__stray_plaintext(struct hconn *c)
{
	if (c->kind == HTTPLAT_CONN_TLS || c->req_seq != 1 || c->resp_seq != 0 ||
	    c->resp_state != RS_NONE || !bits__test(&tls_ports, c->lport))
		return 0;
	count(HTTPLAT_C_NON_HTTP);
	c->resp_seq = c->req_seq; /* nothing left to emit */
	return 1;
}

/*
 * A TLS connection ends without any plaintext seen: a failed or abandoned handshake if its
 * process has the libssl probes, else a connection httplat could not see into (a loss).
 */
static __always_inline void tls__ended(struct hconn *c)
{
	if (c->kind != HTTPLAT_CONN_TLS || c->tls != TLS_NONE)
		return;
	c->tls = TLS_COUNTED;
	count(bpf_map_lookup_elem(&tls_procs, &c->tgid) ? HTTPLAT_C_TLS_NO_PLAINTEXT
							: HTTPLAT_C_TLS_UNPROBED);
}

#endif /* HTTPLAT_TLS_BPF_H */
