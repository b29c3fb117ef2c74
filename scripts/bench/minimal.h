/* minimal.h: what minimal.bpf.c and its loader minimal.c share: the record and the map sizes. */
#ifndef MINIMAL_H
#define MINIMAL_H

#define MIN_PID_WORDS (4194304 / 64) /* one bit per PID, as httplat's target set */
#define MIN_CONNS 65536
#define MIN_RINGBUF_BYTES (4 << 20)

/* One record per response: when its request's first bytes were read, when it was written. */
struct min_record {
	__u64 start_ns; /* 0: no request seen on this connection */
	__u64 end_ns;
	__u32 tgid;
	__u32 bytes;
};

#endif
