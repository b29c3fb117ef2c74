/* httplat.h: the one header shared by the BPF programs and user space. */
#ifndef HTTPLAT_H
#define HTTPLAT_H

/*
 * Fixed-size types only, no pointers. Every ring-buffer record starts with
 * a type byte and carries explicit padding, so layout changes are loud
 * (-Wpadded on the BPF side, static asserts on the user side).
 */

#define HTTPLAT_RAW_MAX 320	     /* request-line bytes kept per request */
#define HTTPLAT_COMM_LEN 16
#define HTTPLAT_MAX_CONNS 32768	     /* tracked connections (LRU, ~730 bytes each) */
#define HTTPLAT_MAX_TARGETS 4096     /* traced processes (user space's list) */
#define HTTPLAT_PID_LIMIT 4194304    /* PID_MAX_LIMIT on 64-bit: one bit each */
#define HTTPLAT_PID_WORDS (HTTPLAT_PID_LIMIT / 64)
#define HTTPLAT_PORT_WORDS (65536 / 64) /* server ports: one bit each */
#define HTTPLAT_MAX_PIPELINED 16384  /* queued pipelined requests, all connections */
#define HTTPLAT_PIPE_PER_CONN 512    /* unanswered requests followed per connection (--pipeline-max) */
#define HTTPLAT_RINGBUF_BYTES (8 << 20)
#define HTTPLAT_WAKEUP_BYTES (256 << 10) /* wake the consumer early past this */
#define HTTPLAT_TLS_THREADS 8192     /* threads of traced processes that read TLS at once */
#define HTTPLAT_NS_UNKNOWN (~0ULL)	     /* queue_ns / wait_ns not known */

/*
 * Command names (comm prefixes) of processes that may start a uvicorn server: `python -m
 * uvicorn`, the `uvicorn` script, `gunicorn`. The exec program reports these; user space's
 * /proc discovery uses the same list.
 */
#define HTTPLAT_SERVER_COMMS(X) X(python) X(uvicorn) X(gunicorn)

enum httplat_event_type {
	HTTPLAT_EV_REQUEST = 1,	  /* one completed (or abandoned) request */
	HTTPLAT_EV_PROC_EXEC = 2, /* a candidate or traced process called exec */
	HTTPLAT_EV_PROC_FORK = 3, /* a traced process forked a new process */
	HTTPLAT_EV_PROC_EXIT = 4, /* a traced process exited */
	HTTPLAT_EV_PORT = 5,	  /* a traced process started listening on a port */
};

/* Methods the kernel tells apart (HEAD changes response framing); text is in raw[]. */
enum httplat_method {
	HTTPLAT_M_OTHER = 0,
	HTTPLAT_M_GET,
	HTTPLAT_M_HEAD,
	HTTPLAT_M_POST,
	HTTPLAT_M_PUT,
	HTTPLAT_M_PATCH,
	HTTPLAT_M_DELETE,
	HTTPLAT_M_OPTIONS,
	HTTPLAT_M_CONNECT,
	HTTPLAT_M_TRACE,
};

/* Where the plaintext of a connection comes from. */
enum httplat_conn_kind {
	HTTPLAT_CONN_SOCKET = 1, /* syscalls on a TCP socket fd */
	HTTPLAT_CONN_TLS = 2,	 /* TLS on a TCP socket: plaintext through libssl uprobes */
};

/*
 * Request flags (httplat_request_event.flags), defined once:
 * X(NAME, bit, json_name, meaning). The BPF side uses HTTPLAT_F_NAME; user
 * space generates flag names for --json, logs and the database from it.
 */
#define HTTPLAT_FLAGS(X)                                                                   \
	X(NO_RESPONSE, 0, no_response, "ended before a final status line")                  \
	X(RESP_INCOMPLETE, 1, resp_incomplete, "ended before the declared body was sent")   \
	X(END_INFERRED, 2, end_inferred, "no framing: end = last write before close/next")  \
	X(PIPELINED, 3, pipelined, "read while an earlier request was unanswered")          \
	X(PROC_EXIT, 4, proc_exit, "finalised because the process exited or exec'd")        \
	X(PREEXISTING, 5, preexisting, "connection accepted before tracing began")          \
	X(PEER_CLOSED, 6, peer_closed, "the client closed its side before the end")         \
	X(UPGRADED, 7, upgraded, "101 Switching Protocols: connection left")                \
	X(FRAMING_LOST, 8, framing_lost, "parse gave up; end found by heuristic")

#define HTTPLAT_F__ENUM(name, bit, json, doc) HTTPLAT_F_##name = 1u << (bit),
enum httplat_flag { HTTPLAT_FLAGS(HTTPLAT_F__ENUM) };
#undef HTTPLAT_F__ENUM

/* What a counter means for the user: a loss is reported as such everywhere. */
#define HTTPLAT_CK_LOSS 1   /* requests or records lost */
#define HTTPLAT_CK_GIVEUP 2 /* a request kept, but with less known about it */
#define HTTPLAT_CK_ODDITY 3 /* not a loss: bytes that were not what we expected */
#define HTTPLAT_CK_INFO 4   /* plain activity */

/*
 * Per-CPU kernel counters (index into the "counters" map), defined once:
 * X(NAME, column, kind, meaning). The BPF side uses HTTPLAT_C_NAME; the
 * tracer's names, the exit summaries, top's header and the httplat_health
 * columns are generated from this list, so a counter cannot be forgotten
 * in one of them.
 */
#define HTTPLAT_COUNTERS(X)                                                                \
	X(RB_FULL, ringbuf_full, HTTPLAT_CK_LOSS, "requests lost: ring buffer full")          \
	X(CONN_FULL, conn_table_full, HTTPLAT_CK_LOSS, "connection state not stored")        \
	X(PIPE_FULL, pipeline_full, HTTPLAT_CK_LOSS, "requests lost: pipeline limit or queue full")  \
	X(PARSE_GIVEUP, parse_giveup, HTTPLAT_CK_GIVEUP, "framing lost: end by heuristic")   \
	X(NON_HTTP, non_http_reads, HTTPLAT_CK_ODDITY, "reads on a server socket not HTTP")  \
	X(ORPHAN_RESPONSE, orphan_responses, HTTPLAT_CK_ODDITY, "status line, no request")   \
	X(REQUESTS, requests, HTTPLAT_CK_INFO, "request records emitted")                    \
	X(CONN_EVICTED, conn_evicted, HTTPLAT_CK_LOSS, "LRU pushed out live connection state")     \
	X(ACCEPTS, accepts, HTTPLAT_CK_INFO, "connections accepted by traced processes")      \
	X(TLS_CONNS, tls_conns, HTTPLAT_CK_INFO, "TLS connections seen on server ports")      \
	X(TLS_UNBOUND, tls_unbound, HTTPLAT_CK_LOSS, "TLS plaintext not tied to a connection") \
	X(TLS_NO_PLAINTEXT, tls_no_plaintext, HTTPLAT_CK_ODDITY, "TLS connection closed before any plaintext (failed handshake)") \
	X(TLS_UNPROBED, tls_unprobed, HTTPLAT_CK_LOSS, "TLS connections not seen: no libssl probes in the process")

#define HTTPLAT_C__ENUM(name, column, kind, doc) HTTPLAT_C_##name,
enum httplat_counter { HTTPLAT_COUNTERS(HTTPLAT_C__ENUM) HTTPLAT_C__COUNT };
#undef HTTPLAT_C__ENUM

/* Common record header: every ring-buffer record starts with this. */
struct httplat_hdr {
	__u8 type; /* enum httplat_event_type */
	__u8 _pad0[3];
	__u32 tgid;
};

struct httplat_request_event {
	struct httplat_hdr hdr;
	__u8 method;	 /* enum httplat_method */
	__u8 conn_kind;	 /* enum httplat_conn_kind */
	__u8 version;	 /* 10 = HTTP/1.0, 11 = HTTP/1.1, 0 unknown */
	__u8 _pad1;
	__u16 status;	 /* final status, 0 = no response */
	__u16 lport;	 /* server's local TCP port */
	__u16 raw_len;	 /* valid bytes in raw[] */
	__u16 line_len;	 /* length of the whole request line (may exceed raw_len) */
	__u32 flags;	 /* HTTPLAT_F_* */
	__u32 seq;	 /* the request's number on its connection, 0 = the first */
	__u32 _pad2;
	__u64 conn_id;	 /* the connection (kernel socket address) */
	__u64 start_ns;	 /* the read that carried the request's first byte (CLOCK_MONOTONIC) */
	__u64 ttfb_ns;	 /* the write that carried the status line, 0 if none */
	__u64 end_ns;	 /* the write that carried the last response byte */
	__u64 queue_ns;	 /* accept-queue wait (first request only); ~0 unknown */
	__u64 wait_ns;	 /* first byte arrived -> read; ~0 unknown */
	__u64 bytes_in;	 /* request head and body bytes */
	__u64 bytes_out; /* response head and body bytes */
	char raw[HTTPLAT_RAW_MAX]; /* the request line: "GET /path?q HTTP/1.1" */
};

struct httplat_proc_event {
	struct httplat_hdr hdr;
	__u32 ppid;	 /* parent tgid (fork), 0 otherwise */
	__u16 port;	 /* HTTPLAT_EV_PORT: the port */
	__u16 _pad1;
	char comm[HTTPLAT_COMM_LEN];
};

#endif /* HTTPLAT_H */
