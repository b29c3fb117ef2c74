/* fuzz_conn.c: the kernel's HTTP state machine (bpf/http_conn.h) on the host, fed any reads and
 * writes on two connections, checking what it emits against what it was given. */
#include "conn_host.h"
#include "decode.h"
#include "fuzz.h"

/*
 * Input: one setup byte, then operations until the input ends. An operation
 * is a byte (bit 7: which connection; bits 0-2: what; bit 3: a 16-bit
 * length; bit 4: arrival time known) and its data:
 *   0-1 read LEN bytes     2-3 write LEN bytes    4 writev of 1-11 buffers (u8 length each)
 *   5 sendfile of LEN bytes (counted, not looked at)
 *   6 the connection ends (conn__finish), a new one takes its place
 *   7 the ring buffer refuses (or takes again) records
 * Setup byte: bits 0-1 the pipeline limit, 2-3 the queue map's size, 4 the
 * first connection predates the tracer, 5 accept-queue times known.
 */

#define NCONN 2
#define MAX_OPS 4096
#define MAX_STATUS_LINES 1024 /* per write: status lines looked for (12 bytes each at least) */

enum op_kind { OP_READ, OP_WRITE, OP_FINISH, OP_OTHER };

/* What one operation was, to tell what a record's times may point at. */
struct op {
	uint8_t kind; /* enum op_kind */
	uint8_t conn;
	uint16_t nstatus; /* status lines in a data write's bytes */
	uint16_t used;	  /* of those, taken by records (in order) */
	uint16_t status[MAX_STATUS_LINES];
};

static struct op ops[MAX_OPS + NCONN]; /* and the final finish of each connection */

struct fconn {
	struct hconn c;
	uint64_t gen;	      /* connections so far in this slot: a new sk each */
	uint64_t read, wrote; /* bytes given to the state machine */
	uint64_t sum_in, sum_out;
	uint64_t nrec, rb_full, pipe_full, giveups;
	int64_t last_seq;
	uint64_t last_ttfb_op; /* the write holding the last status line taken */
};

static struct fconn conns[NCONN];
static int checked; /* host_records[0..checked) have been looked at */

static uint64_t op_time(int i)
{
	return (uint64_t)(i + 1) * 1000;
}

/* The operation a record's timestamp names, or NULL when it names none. */
static const struct op *op_at(uint64_t t)
{
	if (!t || t % 1000 || t / 1000 > MAX_OPS + NCONN)
		return NULL;
	return &ops[t / 1000 - 1];
}

static void conn_open(int k, int preexisting, int accept_times)
{
	struct fconn *f = &conns[k];

	memset(&f->c, 0, sizeof(f->c));
	f->c.sk = 0xffff888000100000ULL + (uint64_t)k * 0x1000 + ++f->gen * 0x10;
	f->c.lport = 8000;
	f->c.kind = HTTPLAT_CONN_SOCKET;
	f->c.flags = preexisting ? HTTPLAT_F_PREEXISTING : 0;
	if (accept_times) {
		f->c.est_ns = 10;
		f->c.accept_ns = 20;
	}
	f->read = f->wrote = f->sum_in = f->sum_out = 0;
	f->nrec = f->rb_full = f->pipe_full = f->giveups = 0;
	f->last_seq = -1;
	f->last_ttfb_op = 0;
}

/* Finds the status lines the state machine could take from a write's bytes. */
static void op_status_lines(struct op *o, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i + 12 <= n && o->nstatus < MAX_STATUS_LINES; i++) {
		__u16 st;
		__u8 ver;

		if (b[i] == 'H' && !http__status(b + i, (__u32)(n - i), &st, &ver))
			o->status[o->nstatus++] = st;
	}
}

/* One record just emitted for connection f: everything it says must be true of the input. */
static void check_record(struct fconn *f, const struct httplat_request_event *e, __u64 size)
{
	const struct op *start = op_at(e->start_ns), *end = op_at(e->end_ns), *t;
	struct record r;
	int idx = -1;

	f->nrec++;
	FUZZ_CHECK((int64_t)e->seq > f->last_seq, "seq %u after %lld: out of order or twice", e->seq,
		   (long long)f->last_seq);
	FUZZ_CHECK(e->seq < f->c.req_seq, "seq %u of %u requests", e->seq, f->c.req_seq);
	f->last_seq = e->seq;
	f->sum_in += e->bytes_in;
	f->sum_out += e->bytes_out;
	FUZZ_CHECK(f->sum_in <= f->read, "records hold %llu bytes in, %llu were read",
		   (unsigned long long)f->sum_in, (unsigned long long)f->read);
	FUZZ_CHECK(f->sum_out <= f->wrote, "records hold %llu bytes out, %llu were written",
		   (unsigned long long)f->sum_out, (unsigned long long)f->wrote);
	FUZZ_CHECK(start && start->kind == OP_READ && start->conn == (f - conns),
		   "start_ns %llu is no read of this connection", (unsigned long long)e->start_ns);
	FUZZ_CHECK(end && end->conn == (f - conns) && e->end_ns >= e->start_ns,
		   "end_ns %llu (start %llu) is no operation of this connection after the start",
		   (unsigned long long)e->end_ns, (unsigned long long)e->start_ns);
	FUZZ_CHECK(e->raw_len <= HTTPLAT_RAW_MAX, "raw_len %u", e->raw_len);
	if (e->flags & HTTPLAT_F_NO_RESPONSE)
		FUZZ_CHECK(!e->status && !e->ttfb_ns && !e->bytes_out,
			   "no response, yet status %u ttfb %llu out %llu", e->status,
			   (unsigned long long)e->ttfb_ns, (unsigned long long)e->bytes_out);
	if (e->status) {
		/* a status line with that code, in the write at ttfb, after the previous one's */
		uint64_t opi = e->ttfb_ns / 1000 - 1;
		struct op *w;

		t = op_at(e->ttfb_ns);
		FUZZ_CHECK(t && t->kind == OP_WRITE && t->conn == (f - conns),
			   "status %u with ttfb %llu: no write of this connection", e->status,
			   (unsigned long long)e->ttfb_ns);
		FUZZ_CHECK(e->ttfb_ns > e->start_ns && e->ttfb_ns <= e->end_ns,
			   "ttfb %llu outside start %llu .. end %llu", (unsigned long long)e->ttfb_ns,
			   (unsigned long long)e->start_ns, (unsigned long long)e->end_ns);
		FUZZ_CHECK(opi >= f->last_ttfb_op, "status line before the previous request's");
		w = &ops[opi];
		for (int i = w->used; i < w->nstatus && idx < 0; i++)
			if (w->status[i] == e->status)
				idx = i;
		FUZZ_CHECK(idx >= 0 || w->nstatus == MAX_STATUS_LINES,
			   "status %u: no status line written for it (write %llu has %u)", e->status,
			   (unsigned long long)opi, w->nstatus);
		if (idx >= 0)
			w->used = (uint16_t)(idx + 1); /* the next record's is further on */
		f->last_ttfb_op = opi;
	} else {
		FUZZ_CHECK(!e->ttfb_ns, "status 0 with a ttfb");
	}
	/* what the kernel emits, user space decodes */
	FUZZ_CHECK(decode__request(e, size, 0, NULL, &r) == 0, "record does not decode: \"%.*s\"",
		   (int)e->raw_len, e->raw);
	FUZZ_CHECK(r.status == e->status && r.seq == e->seq, "decode changed status or seq");
}

/* Looks at the records emitted since the last call; the connection that ran is k. */
static void check_new(int k, uint64_t rb0, uint64_t pipe0)
{
	struct fconn *f = &conns[k];

	for (; checked < host_nrecords; checked++) {
		const struct httplat_request_event *e = &host_records[checked];

		FUZZ_CHECK(e->conn_id == f->c.sk, "a record of another connection");
		check_record(f, e, host_record_size[checked]);
	}
	f->rb_full += host_counters[HTTPLAT_C_RB_FULL] - rb0;
	f->pipe_full += host_counters[HTTPLAT_C_PIPE_FULL] - pipe0;
	FUZZ_CHECK(host_counters[HTTPLAT_C_REQUESTS] == (uint64_t)host_nrecords,
		   "requests counter %llu, %d records", (unsigned long long)host_counters[HTTPLAT_C_REQUESTS],
		   host_nrecords);
	FUZZ_CHECK(f->c.resp_seq <= f->c.req_seq && f->c.req_seq - f->c.resp_seq <= CONN_PIPE_TRACK,
		   "seq %u/%u", f->c.resp_seq, f->c.req_seq);
}

/* The connection ends: every request accounted for exactly once, nothing left behind. */
static void conn_end(int k, uint64_t now, uint32_t why)
{
	struct fconn *f = &conns[k];
	uint64_t rb0 = host_counters[HTTPLAT_C_RB_FULL], pipe0 = host_counters[HTTPLAT_C_PIPE_FULL];

	conn__finish(&f->c, now, why);
	check_new(k, rb0, pipe0);
	FUZZ_CHECK(f->c.resp_seq == f->c.req_seq, "unanswered after finish: %u/%u", f->c.resp_seq,
		   f->c.req_seq);
	FUZZ_CHECK(f->c.req_state == RQ_IDLE && !f->c.pre_len, "request state left: %u, %u bytes",
		   f->c.req_state, f->c.pre_len);
	for (int i = 0; i < host_queue_hi; i++)
		FUZZ_CHECK(!host_queue[i].used || host_queue[i].sk != f->c.sk,
			   "queued request %u left behind", host_queue[i].seq);
	/* each request: a record, a full ring, or lost to the pipeline limit (counted once) */
	FUZZ_CHECK(f->c.req_seq == f->nrec + f->rb_full + (f->pipe_full - f->giveups),
		   "%u requests: %llu records + %llu ring full + %llu pipeline lost",
		   f->c.req_seq, (unsigned long long)f->nrec, (unsigned long long)f->rb_full,
		   (unsigned long long)(f->pipe_full - f->giveups));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const __u32 pipe_max[4] = {HTTPLAT_PIPE_PER_CONN, 1, 4, 64};
	static const int queue_cap[4] = {HOST_QUEUE_MAX, 0, 2, 16};
	static uint8_t vbuf[11 * 255];
	struct fuzz_in in = {data, size};
	uint8_t setup = fuzz__u8(&in);
	int nops = 0;

	host__reset();
	host_pipe_max = pipe_max[setup & 3];
	host_queue_cap = queue_cap[setup >> 2 & 3];
	checked = 0;
	for (int k = 0; k < NCONN; k++) {
		conns[k].gen = 0;
		conn_open(k, k == 0 && (setup & 16), setup & 32);
	}
	while (in.left && nops < MAX_OPS) {
		uint8_t b = fuzz__u8(&in), what = b & 7;
		int k = b >> 7;
		struct fconn *f = &conns[k];
		struct op *o = &ops[nops];
		uint64_t now = op_time(nops++), arrive = (b & 16) ? now - 100 : 0;
		uint64_t rb0 = host_counters[HTTPLAT_C_RB_FULL];
		uint64_t pipe0 = host_counters[HTTPLAT_C_PIPE_FULL];
		size_t len = (b & 8) ? fuzz__u16(&in) : fuzz__u8(&in), got;
		const uint8_t *p;
		int dead = f->c.dead;

		memset(o, 0, sizeof(*o));
		o->conn = (uint8_t)k;
		o->kind = OP_OTHER;
		switch (what) {
		case 0:
		case 1:
			p = fuzz__bytes(&in, len, &got);
			o->kind = OP_READ;
			f->read += got;
			host__io(&f->c, 0, p, got, now, arrive);
			if (!dead && f->c.dead)
				f->giveups++; /* the pipeline beyond tracking: counted, no request */
			break;
		case 2:
		case 3:
			p = fuzz__bytes(&in, len, &got);
			o->kind = OP_WRITE;
			op_status_lines(o, p, got);
			f->wrote += got;
			host__io(&f->c, 1, p, got, now, 0);
			break;
		case 4: {
			struct sm_iovec iov[11];
			__u32 n = 1 + (__u32)(len % 11);
			size_t used = 0, looked = 0;

			for (__u32 i = 0; i < n; i++) {
				p = fuzz__bytes(&in, fuzz__u8(&in), &got);
				memcpy(vbuf + used, p, got);
				iov[i].base = (__u64)(uintptr_t)(vbuf + used);
				iov[i].len = got;
				used += got;
				if (i < CONN_IOV)
					looked = used;
			}
			/* bytes past the first CONN_IOV buffers are counted, not looked at */
			op_status_lines(o, vbuf, looked);
			o->kind = OP_WRITE;
			f->wrote += used;
			host__writev(&f->c, iov, n, now);
			break;
		}
		case 5: {
			struct io_ctx io = {.total = len, .now = now, .data = 0, .tgid = 42};

			o->kind = OP_WRITE;
			f->wrote += len;
			conn__on_write(&f->c, &io);
			break;
		}
		case 6:
			o->kind = OP_FINISH;
			conn_end(k, now, len & 1 ? HTTPLAT_F_PEER_CLOSED : HTTPLAT_F_PROC_EXIT);
			conn_open(k, 0, setup & 32);
			continue;
		default:
			host_output_fail = !host_output_fail;
			break;
		}
		check_new(k, rb0, pipe0);
	}
	for (int k = 0; k < NCONN; k++) {
		ops[nops] = (struct op){.kind = OP_FINISH, .conn = (uint8_t)k};
		conn_end(k, op_time(nops++), HTTPLAT_F_PROC_EXIT);
	}
	return 0;
}
