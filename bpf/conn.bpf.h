/* conn.bpf.h: the state machine's kernel environment, and connection lifetime keyed by socket. */
#ifndef HTTPLAT_CONN_BPF_H
#define HTTPLAT_CONN_BPF_H

#include "maps.bpf.h"
#include "proc.bpf.h"
#include "sock.bpf.h"
#include "tls.bpf.h"

const volatile __u64 targ_wakeup_bytes = HTTPLAT_WAKEUP_BYTES;
const volatile __u32 targ_pipe_max = HTTPLAT_PIPE_PER_CONN;
const volatile __u8 filter_ports = 0;	 /* only ports user space put in the ports map (--port) */
const volatile __u8 has_data_ready = 0;	 /* sock:sk_data_ready attached: arrival times known */

/* ---- the environment of http_conn.h ---- */

static struct scratch *env__scratch(void)
{
	__u32 zero = 0, *n = bpf_map_lookup_elem(&nest, &zero);
	__u32 slot = n && *n > 1 ? 1 : 0;

	return bpf_map_lookup_elem(&scratch_map, &slot);
}

static int env__read_user(void *dst, __u32 n, __u64 src)
{
	return bpf_probe_read_user(dst, n, (const void *)src) ? -1 : 0;
}

static long env__loop(__u32 n, long (*cb)(__u32, void *), void *ctx)
{
	return bpf_loop(n, cb, ctx, 0);
}

static struct hreq *env__q_lookup(__u64 sk, __u32 seq)
{
	struct pipe_key k = {.sk = sk, .seq = seq};

	return bpf_map_lookup_elem(&pipeq, &k);
}

static int env__q_insert(__u64 sk, __u32 seq, const struct hreq *r)
{
	struct pipe_key k = {.sk = sk, .seq = seq};

	return bpf_map_update_elem(&pipeq, &k, r, BPF_ANY) ? -1 : 0;
}

static void env__q_delete(__u64 sk, __u32 seq)
{
	struct pipe_key k = {.sk = sk, .seq = seq};

	bpf_map_delete_elem(&pipeq, &k);
}

/* Records go out without waking user space (it drains on a timer) until enough are waiting. */
static int env__output(const void *rec, __u64 size)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);

	return bpf_ringbuf_output(&events, (void *)rec, size,
				  avail >= targ_wakeup_bytes ? BPF_RB_FORCE_WAKEUP
							     : BPF_RB_NO_WAKEUP)
		       ? -1
		       : 0;
}

static void env__count(__u32 counter)
{
	count(counter);
}

static __u32 env__pipe_max(void)
{
	return targ_pipe_max;
}

/* ---- connection lifetime ---- */

#define HL_PF_EXITING 0x00000004

/* Creates the state of a server connection (replacing a stale one). */
static __always_inline struct hconn *conn__new(__u64 sk, __u16 lport, __u32 flags)
{
	struct scratch *s = env__scratch();
	struct hconn *c;

	if (!s)
		return NULL;
	if (bpf_map_update_elem(&conns, &sk, &s->zconn, BPF_ANY)) {
		count(HTTPLAT_C_CONN_FULL);
		return NULL;
	}
	c = bpf_map_lookup_elem(&conns, &sk);
	if (!c) {
		count(HTTPLAT_C_CONN_EVICTED);
		return NULL;
	}
	c->sk = sk;
	c->lport = lport;
	c->kind = HTTPLAT_CONN_SOCKET;
	c->flags = flags;
	return c;
}

/*
 * The state of a server connection a traced process uses: found, or made
 * for a connection on a server port that predates the tracer (or whose
 * passive open was not seen). NULL for other sockets.
 */
static __always_inline struct hconn *conn__of(struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct hconn *c = bpf_map_lookup_elem(&conns, &key);
	__u16 lport;

	if (c)
		return c;
	lport = sk__lport(sk);
	if (!port_is_server(lport) || !sk__is_tcp(sk))
		return NULL;
	return conn__new(key, lport, HTTPLAT_F_PREEXISTING);
}

/* The passive open completed (SYN_RECV -> ESTABLISHED): the accept-queue wait starts. */
static __always_inline void conn__established(struct sock *sk)
{
	__u16 lport = sk__lport(sk);
	struct hconn *c;

	if (!port_is_server(lport))
		return;
	c = conn__new((__u64)sk, lport, 0);
	if (c)
		c->est_ns = bpf_ktime_get_ns();
}

/* A traced process accepted fd: the accept-queue wait ends; its port is a server port. */
static __always_inline void conn__accepted(__u32 fd, __u32 tgid)
{
	struct sock *sk = fd__tcp_sock(fd);
	__u64 key = (__u64)sk;
	struct hconn *c;
	__u16 lport;

	if (!sk)
		return;
	lport = sk__lport(sk);
	if (!port_is_server(lport)) {
		if (filter_ports)
			return;
		port__add(lport, tgid);
	}
	count(HTTPLAT_C_ACCEPTS);
	c = bpf_map_lookup_elem(&conns, &key);
	if (!c) /* passive open not seen (the port was not known yet) */
		c = conn__new(key, lport, 0);
	if (c && !c->accept_ns)
		c->accept_ns = bpf_ktime_get_ns();
}

/*
 * Data arrived on a socket (softirq; tp_btf: sk is read directly). Every socket of the host
 * passes here, so the port test comes first. Marks when the oldest unread byte arrived, if
 * none is pending; an app that already read it (another CPU) leaves nothing unread: no mark.
 */
static __always_inline void conn__arrived(struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct hconn *c;

	if (!port_is_server(sk->__sk_common.skc_num))
		return;
	c = bpf_map_lookup_elem(&conns, &key);
	if (c && !c->unread_ns && sk__unread_btf(sk))
		c->unread_ns = bpf_ktime_get_ns();
}

/* The app closed (or the connection broke): unanswered requests get their records. */
static __always_inline void conn__ended(struct hconn *c)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 why = 0;

	if ((task->flags & HL_PF_EXITING) && task->tgid == c->tgid)
		why = HTTPLAT_F_PROC_EXIT; /* its fds closed as it died */
	tls__ended(c);
	if (tls__stray_plaintext(c))
		return;
	conn__finish(c, bpf_ktime_get_ns(), why);
}

#define HL_TCP_ESTABLISHED 1
#define HL_TCP_SYN_RECV 3
#define HL_TCP_FIN_WAIT1 4
#define HL_TCP_CLOSE 7
#define HL_TCP_CLOSE_WAIT 8
#define HL_TCP_LAST_ACK 9

static __always_inline void conn__state(struct sock *sk, int old, int new)
{
	__u64 key = (__u64)sk;
	struct hconn *c;

	if (old == HL_TCP_SYN_RECV && new == HL_TCP_ESTABLISHED) {
		conn__established(sk);
		return;
	}
	if (old != HL_TCP_ESTABLISHED && old != HL_TCP_CLOSE_WAIT)
		return;
	if (!port_is_server(sk__lport(sk)))
		return;
	c = bpf_map_lookup_elem(&conns, &key);
	if (!c)
		return;
	if (new == HL_TCP_CLOSE_WAIT) {
		/* the client is gone (or half-closed): what is unanswered may stay so */
		if (c->resp_seq != c->req_seq)
			c->cur.flags |= HTTPLAT_F_PEER_CLOSED;
		return;
	}
	conn__ended(c); /* FIN_WAIT1, LAST_ACK or CLOSE: the app closed, or a reset */
}

static __always_inline void conn__destroyed(struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct hconn *c = bpf_map_lookup_elem(&conns, &key);

	if (!c)
		return;
	conn__ended(c);
	bpf_map_delete_elem(&conns, &key);
}

#endif /* HTTPLAT_CONN_BPF_H */
