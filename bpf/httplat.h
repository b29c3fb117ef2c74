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
#define HTTPLAT_MAX_CONNS 65536	     /* tracked connections (LRU) */
#define HTTPLAT_MAX_SKIP 65536	     /* fds known not to be server sockets (LRU) */
#define HTTPLAT_MAX_TARGETS 4096     /* traced processes (user space's list) */
#define HTTPLAT_PID_LIMIT 4194304    /* PID_MAX_LIMIT on 64-bit: one bit each */
#define HTTPLAT_PID_WORDS (HTTPLAT_PID_LIMIT / 64)
#define HTTPLAT_MAX_PORTS 1024	     /* server ports */
#define HTTPLAT_MAX_PIPELINED 4096   /* queued pipelined requests, all conns */
#define HTTPLAT_PIPE_PER_CONN 8	     /* queued pipelined requests per conn */
#define HTTPLAT_RINGBUF_BYTES (8 << 20)
#define HTTPLAT_WAKEUP_BYTES (256 << 10) /* wake the consumer early past this */

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
	HTTPLAT_CONN_TLS = 2,	 /* libssl uprobes (future): key id = SSL pointer */
};

/* Request flags (httplat_request_event.flags). */
#define HTTPLAT_F_NO_RESPONSE (1u << 0)	    /* ended before a final status line */
#define HTTPLAT_F_RESP_INCOMPLETE (1u << 1) /* ended before the declared body was sent */
#define HTTPLAT_F_END_INFERRED (1u << 2)    /* no framing: end = last write before close/next */
#define HTTPLAT_F_PIPELINED (1u << 3)	    /* read while an earlier request was unanswered */
#define HTTPLAT_F_PROC_EXIT (1u << 4)	    /* finalised because the process exited or exec'd */
#define HTTPLAT_F_PREEXISTING (1u << 5)	    /* connection accepted before tracing began */
#define HTTPLAT_F_PEER_CLOSED (1u << 6)	    /* the client closed its side before the end */
#define HTTPLAT_F_UPGRADED (1u << 7)	    /* 101 Switching Protocols: connection left */
#define HTTPLAT_F_FRAMING_LOST (1u << 8)    /* parse gave up; end found by heuristic */

/* Per-CPU loss and oddity counters, index into the "counters" map. */
enum httplat_counter {
	HTTPLAT_C_RB_FULL = 0,	   /* ring-buffer reserve failed: event lost */
	HTTPLAT_C_CONN_FULL,	   /* connection state could not be stored */
	HTTPLAT_C_INFLIGHT_FULL,   /* syscall args could not be stored */
	HTTPLAT_C_PIPE_FULL,	   /* pipelined request could not be queued: lost */
	HTTPLAT_C_PARSE_GIVEUP,	   /* framing lost: end found by heuristic */
	HTTPLAT_C_NON_HTTP,	   /* reads on a server socket that were not HTTP */
	HTTPLAT_C_ORPHAN_RESPONSE, /* status line without a request we saw */
	HTTPLAT_C_REQUESTS,	   /* request records emitted */
	HTTPLAT_C_CONN_EVICTED,	   /* LRU pushed out live state (conn table too small) */
	HTTPLAT_C__COUNT,
};

/* Common record header: every ring-buffer record starts with this. */
struct httplat_hdr {
	__u8 type; /* enum httplat_event_type */
	__u8 _pad0[3];
	__u32 tgid;
};

struct httplat_request_event {
	struct httplat_hdr hdr;
	__u32 tid;	 /* thread that read the request */
	__u32 fd;	 /* socket fd */
	__u8 method;	 /* enum httplat_method */
	__u8 conn_kind;	 /* enum httplat_conn_kind */
	__u8 version;	 /* 10 = HTTP/1.0, 11 = HTTP/1.1, 0 unknown */
	__u8 _pad1;
	__u16 status;	 /* final status, 0 = no response */
	__u16 lport;	 /* server's local TCP port */
	__u16 raw_len;	 /* valid bytes in raw[] */
	__u16 line_len;	 /* length of the whole request line (may exceed raw_len) */
	__u32 flags;	 /* HTTPLAT_F_* */
	__u64 conn_id;	 /* stable per connection (kernel socket address) */
	__u64 accept_ns; /* accept exit (CLOCK_MONOTONIC), 0 if not seen */
	__u64 start_ns;	 /* exit of the read that returned the request line */
	__u64 ttfb_ns;	 /* exit of the write that carried the status line, 0 if none */
	__u64 end_ns;	 /* exit of the write that carried the last response byte */
	__u64 wait_ns;	 /* reserved: time the request sat in the socket before the read */
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
