/* httplat.h: the one header shared by the BPF programs and user space. */
#ifndef HTTPLAT_H
#define HTTPLAT_H

/*
 * Fixed-size types only, no pointers. Every record starts with a type byte
 * and carries explicit padding, so layout changes are loud (-Wpadded).
 */

#define HTTPLAT_RAW_MAX 256	   /* request-target bytes kept per request */
#define HTTPLAT_COMM_LEN 16
#define HTTPLAT_MAX_CONNS 65536	   /* tracked connections (LRU) */
#define HTTPLAT_MAX_TARGETS 4096   /* traced processes */
#define HTTPLAT_MAX_INFLIGHT 16384 /* syscalls between enter and exit */
#define HTTPLAT_MAX_PIPELINED 4096 /* queued pipelined requests, all conns */
#define HTTPLAT_MAX_PORTS 64
#define HTTPLAT_RINGBUF_BYTES (16 << 20)

enum httplat_event_type {
	HTTPLAT_EV_REQUEST = 1,	  /* one completed (or abandoned) request */
	HTTPLAT_EV_PROC_EXEC = 2, /* some process called exec */
	HTTPLAT_EV_PROC_FORK = 3, /* a traced process forked a new process */
	HTTPLAT_EV_PROC_EXIT = 4, /* a traced process exited */
};

enum httplat_method {
	HTTPLAT_M_UNKNOWN = 0,
	HTTPLAT_M_GET,
	HTTPLAT_M_HEAD,
	HTTPLAT_M_POST,
	HTTPLAT_M_PUT,
	HTTPLAT_M_PATCH,
	HTTPLAT_M_DELETE,
	HTTPLAT_M_OPTIONS,
	HTTPLAT_M_CONNECT,
	HTTPLAT_M_TRACE,
	HTTPLAT_M__COUNT,
};

/* Where the plaintext of a connection comes from (key kind). */
enum httplat_conn_kind {
	HTTPLAT_CONN_SOCKET = 1, /* syscalls on a TCP socket fd; id = fd */
	HTTPLAT_CONN_TLS = 2,	 /* libssl uprobes; id = SSL pointer (future) */
};

/* Request flags (httplat_request_event.flags). */
#define HTTPLAT_F_NO_RESPONSE (1u << 0)	  /* closed/died before a status line */
#define HTTPLAT_F_RESP_INCOMPLETE (1u << 1) /* closed before the declared body */
#define HTTPLAT_F_END_INFERRED (1u << 2)  /* framing unknown: end = last write */
#define HTTPLAT_F_PIPELINED (1u << 3)	  /* request read together with another */
#define HTTPLAT_F_PROC_EXIT (1u << 4)	  /* finalised because the process exited */
#define HTTPLAT_F_PREEXISTING (1u << 5)	  /* connection accepted before tracing */

/* Per-CPU loss and oddity counters, index into the "counters" map. */
enum httplat_counter {
	HTTPLAT_C_RB_FULL = 0,	   /* ring-buffer reserve failed: event lost */
	HTTPLAT_C_CONN_FULL,	   /* connection state could not be stored */
	HTTPLAT_C_INFLIGHT_FULL,   /* syscall args could not be stored */
	HTTPLAT_C_PIPE_FULL,	   /* pipelined request could not be queued */
	HTTPLAT_C_PARSE_GIVEUP,	   /* framing lost: end inferred from next request */
	HTTPLAT_C_NON_HTTP,	   /* reads on a traced socket that were not HTTP */
	HTTPLAT_C_ORPHAN_RESPONSE, /* status line without a request we saw */
	HTTPLAT_C_REQUESTS,	   /* requests emitted (for cross-checks) */
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
	__u32 fd;	 /* socket fd, or 0 for TLS */
	__u8 method;	 /* enum httplat_method */
	__u8 conn_kind;	 /* enum httplat_conn_kind */
	__u16 status;	 /* 0 = no response */
	__u16 lport;	 /* server's local TCP port */
	__u16 raw_len;	 /* valid bytes in raw[] */
	__u32 flags;	 /* HTTPLAT_F_* */
	__u32 _pad1;
	__u64 conn_id;	 /* stable per connection (socket address) */
	__u64 accept_ns; /* accept4 exit, 0 if not seen */
	__u64 start_ns;	 /* read that returned the request line */
	__u64 ttfb_ns;	 /* write that carried the status line, 0 if none */
	__u64 end_ns;	 /* write that carried the last response byte */
	__u64 wait_ns;	 /* reserved: time the request sat in the socket */
	__u64 bytes_in;
	__u64 bytes_out;
	char raw[HTTPLAT_RAW_MAX]; /* bytes after "METHOD ": target, version */
};

struct httplat_proc_event {
	struct httplat_hdr hdr;
	__u32 ppid; /* parent tgid (fork), 0 otherwise */
	__u32 _pad1;
	char comm[HTTPLAT_COMM_LEN];
};

#endif /* HTTPLAT_H */
