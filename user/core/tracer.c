/* tracer.c: loads the BPF programs, keeps the target process set, drains the ring buffer. */
#include <errno.h>
#include <linux/types.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "decode.h"
#include "discover.h"
#include "httplat.h"
#include "httplat.skel.h"
#include "tracer.h"

#define RESCAN_MS 5000 /* safety net for missed exec events and dead pids */
#define MAX_TRACKED HTTPLAT_MAX_TARGETS
#define MAX_PORTS 256

_Static_assert(HTTPLAT_C__COUNT <= 16, "tracer_stats.kernel[] too small");

struct tracer {
	struct httplat_bpf *skel;
	struct ring_buffer *rb;
	const struct selection *sel;
	tracer_record_fn fn;
	void *ctx;
	int64_t mono_to_real;
	int ncpus;
	int ports_fd;
	__u64 *target_bits; /* the targets map, mmapped: one bit per tgid */
	int pids[MAX_TRACKED];
	int npids;
	unsigned short ports[MAX_PORTS];
	int nports;
	int64_t next_scan_ms;
	uint64_t events, requests, decode_errors;
};

#define COUNTER_NAME(name, column, kind, doc) [HTTPLAT_C_##name] = #column,
static const char *const counter_names[HTTPLAT_C__COUNT] = {HTTPLAT_COUNTERS(COUNTER_NAME)};
#undef COUNTER_NAME
#define COUNTER_KIND(name, column, kind, doc) [HTTPLAT_C_##name] = kind,
static const unsigned char counter_kinds[HTTPLAT_C__COUNT] = {HTTPLAT_COUNTERS(COUNTER_KIND)};
#undef COUNTER_KIND

const char *tracer__counter_name(int idx)
{
	return idx >= 0 && idx < HTTPLAT_C__COUNT ? counter_names[idx] : "?";
}

int tracer__counter_is_loss(int idx)
{
	return idx >= 0 && idx < HTTPLAT_C__COUNT && counter_kinds[idx] == HTTPLAT_CK_LOSS;
}

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	(void)level;
	return vfprintf(stderr, fmt, args);
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG || level == LIBBPF_INFO)
		return 0;
	return vfprintf(stderr, fmt, args);
}

/* ---- targets ---- */

static int tracked_index(const struct tracer *t, int pid)
{
	for (int i = 0; i < t->npids; i++)
		if (t->pids[i] == pid)
			return i;
	return -1;
}

static void port_add(struct tracer *t, unsigned short port)
{
	__u8 one = 1;

	for (int i = 0; i < t->nports; i++)
		if (t->ports[i] == port)
			return;
	if (t->sel->nports) {
		/* --port: only the ports asked for */
		int wanted = 0;

		for (int i = 0; i < t->sel->nports; i++)
			wanted |= t->sel->ports[i] == port;
		if (!wanted)
			return;
	}
	if (t->nports < MAX_PORTS)
		t->ports[t->nports++] = port;
	bpf_map_update_elem(t->ports_fd, &port, &one, BPF_ANY);
}

static void target_ports(struct tracer *t, int pid)
{
	unsigned short ports[DISCOVER_MAX_PORTS];
	int n = discover__listen_ports("/proc", pid, ports, DISCOVER_MAX_PORTS);

	for (int i = 0; i < n; i++)
		port_add(t, ports[i]);
}

/* Flips pid's bit; the kernel's fork and exit programs do the same with atomics. */
static void target_bit(struct tracer *t, int pid, int on)
{
	__u64 bit = 1ULL << (pid & 63), *word;

	if (pid <= 0 || pid >= HTTPLAT_PID_LIMIT)
		return;
	word = &t->target_bits[pid >> 6];
	if (on)
		__atomic_fetch_or(word, bit, __ATOMIC_SEQ_CST);
	else
		__atomic_fetch_and(word, ~bit, __ATOMIC_SEQ_CST);
}

static void target_add(struct tracer *t, int pid, int inherited)
{
	if (tracked_index(t, pid) < 0) {
		if (t->npids >= MAX_TRACKED) {
			fprintf(stderr, "httplat: more than %d processes to trace; %d ignored\n",
				MAX_TRACKED, pid);
			return;
		}
		t->pids[t->npids++] = pid;
		if (t->sel->verbose)
			fprintf(stderr, "httplat: tracing pid %d%s\n", pid,
				inherited ? " (child)" : "");
	}
	/* ports first, so the first read on an existing connection is recognised */
	target_ports(t, pid);
	target_bit(t, pid, 1);
}

static void target_del(struct tracer *t, int pid)
{
	int i = tracked_index(t, pid);

	target_bit(t, pid, 0);
	if (i < 0)
		return;
	t->pids[i] = t->pids[--t->npids];
	if (t->sel->verbose)
		fprintf(stderr, "httplat: pid %d gone\n", pid);
}

static int selected_pid(const struct tracer *t, int pid)
{
	for (int i = 0; i < t->sel->npids; i++)
		if (t->sel->pids[i] == pid)
			return 1;
	return 0;
}

/* Does pid listen on one of the --port ports? */
static int listens_on_selected(const struct tracer *t, int pid)
{
	unsigned short ports[DISCOVER_MAX_PORTS];
	int n;

	if (!t->sel->nports)
		return 0;
	n = discover__listen_ports("/proc", pid, ports, DISCOVER_MAX_PORTS);
	for (int i = 0; i < n; i++)
		for (int j = 0; j < t->sel->nports; j++)
			if (ports[i] == t->sel->ports[j])
				return 1;
	return 0;
}

/* Should this (untraced) process be traced on its own merits? */
static int wanted(const struct tracer *t, int pid)
{
	if (t->sel->npids)
		return selected_pid(t, pid);
	return discover__pid_matches("/proc", pid) == 1 || listens_on_selected(t, pid);
}

struct scan_ctx {
	struct tracer *t;
	int found;
};

/* Is pid a descendant of a traced process? Returns the traced ancestor or 0. */
static int traced_ancestor(const struct tracer *t, int pid)
{
	for (int depth = 0; depth < 32; depth++) {
		pid_t pp = discover__ppid("/proc", pid);

		if (pp <= 1)
			return 0;
		if (tracked_index(t, pp) >= 0)
			return pp;
		pid = pp;
	}
	return 0;
}

static int scan_one(void *vctx, pid_t pid)
{
	struct scan_ctx *x = vctx;
	struct tracer *t = x->t;

	if (pid == getpid() || tracked_index(t, pid) >= 0)
		return 0;
	if (wanted(t, pid)) {
		target_add(t, pid, 0);
		x->found++;
	}
	return 0;
}

static int scan_children(void *vctx, pid_t pid)
{
	struct scan_ctx *x = vctx;
	int parent;

	if (tracked_index(x->t, pid) >= 0)
		return 0;
	parent = traced_ancestor(x->t, pid);
	if (parent) {
		target_add(x->t, pid, 1);
		x->found++;
	}
	return 0;
}

/* Finds new servers, their children, and forgets processes that are gone. */
static void tracer_scan(struct tracer *t)
{
	struct scan_ctx x = {.t = t};

	for (int i = t->npids - 1; i >= 0; i--)
		if (kill(t->pids[i], 0) && errno == ESRCH)
			target_del(t, t->pids[i]);
	discover__each_pid("/proc", scan_one, &x);
	/* children of servers (--workers, gunicorn) started before us */
	do {
		x.found = 0;
		discover__each_pid("/proc", scan_children, &x);
	} while (x.found);
	for (int i = 0; i < t->npids; i++)
		target_ports(t, t->pids[i]);
}

/* ---- events ---- */

static int is_interpreter_comm(const char *comm)
{
	return !strncmp(comm, "python", 6) || !strncmp(comm, "uvicorn", 7) ||
	       !strncmp(comm, "gunicorn", 8);
}

static void on_proc_event(struct tracer *t, const struct httplat_proc_event *e)
{
	int pid = (int)e->hdr.tgid;

	switch (e->hdr.type) {
	case HTTPLAT_EV_PROC_FORK:
		/* the kernel already traces it; keep our list in step */
		if (tracked_index(t, pid) < 0 && t->npids < MAX_TRACKED)
			t->pids[t->npids++] = pid;
		if (t->sel->verbose)
			fprintf(stderr, "httplat: pid %d forked from %u\n", pid, e->ppid);
		break;
	case HTTPLAT_EV_PROC_EXEC:
		if (tracked_index(t, pid) >= 0) {
			/* a traced child that became something else (ffmpeg...) is let go */
			char comm[HTTPLAT_COMM_LEN + 1] = {0};

			memcpy(comm, e->comm, HTTPLAT_COMM_LEN);
			if (!is_interpreter_comm(comm) && !selected_pid(t, pid) &&
			    discover__pid_matches("/proc", pid) != 1)
				target_del(t, pid);
		} else if (wanted(t, pid)) {
			target_add(t, pid, 0);
		}
		break;
	case HTTPLAT_EV_PROC_EXIT:
		target_del(t, pid);
		break;
	case HTTPLAT_EV_PORT:
		port_add(t, e->port);
		break;
	}
}

static int on_event(void *vctx, void *data, size_t size)
{
	struct tracer *t = vctx;
	const struct httplat_hdr *h = data;
	struct record r;

	t->events++;
	if (size < sizeof(*h)) {
		t->decode_errors++;
		return 0;
	}
	if (h->type != HTTPLAT_EV_REQUEST) {
		if (size >= sizeof(struct httplat_proc_event))
			on_proc_event(t, data);
		else
			t->decode_errors++;
		return 0;
	}
	if (decode__request(data, size, t->mono_to_real, t->sel->classifier, &r)) {
		t->decode_errors++;
		return 0;
	}
	t->requests++;
	t->fn(t->ctx, &r);
	return 0;
}

/* ---- lifetime ---- */

struct tracer *tracer__open(const struct selection *sel, tracer_record_fn fn, void *ctx)
{
	struct tracer *t = calloc(1, sizeof(*t));
	int err = 0;

	if (!t)
		return NULL;
	t->sel = sel;
	t->fn = fn;
	t->ctx = ctx;
	t->ncpus = libbpf_num_possible_cpus();
	libbpf_set_print(sel->verbose > 1 ? libbpf_print : libbpf_quiet);

	t->skel = httplat_bpf__open();
	if (!t->skel) {
		err = -errno;
		fprintf(stderr, "httplat: cannot open the BPF object: %s\n", strerror(errno));
		goto cleanup;
	}
	t->skel->rodata->filter_ports = sel->nports > 0;
	t->skel->rodata->filter_discover = sel->npids == 0;
	err = httplat_bpf__load(t->skel);
	if (err) {
		fprintf(stderr,
			"httplat: cannot load the BPF programs: %s\n"
			"  (needs root, a kernel with BTF (/sys/kernel/btf/vmlinux), ring buffers and "
			"bpf_loop: Linux 5.17 or later; -vv shows the verifier log)\n",
			strerror(-err));
		goto cleanup;
	}
	t->target_bits = mmap(NULL, (size_t)HTTPLAT_PID_WORDS * sizeof(__u64),
			      PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(t->skel->maps.targets), 0);
	if (t->target_bits == MAP_FAILED) {
		err = -errno;
		t->target_bits = NULL;
		fprintf(stderr, "httplat: cannot map the target set: %s\n", strerror(errno));
		goto cleanup;
	}
	t->ports_fd = bpf_map__fd(t->skel->maps.ports);
	for (int i = 0; i < sel->nports; i++)
		port_add(t, sel->ports[i]);

	t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.events), on_event, t, NULL);
	if (!t->rb) {
		err = -errno;
		fprintf(stderr, "httplat: cannot create the ring buffer: %s\n", strerror(errno));
		goto cleanup;
	}
	/* attach before scanning, so a server started meanwhile is seen by exec or scan */
	err = httplat_bpf__attach(t->skel);
	if (err) {
		fprintf(stderr, "httplat: cannot attach to the tracepoints: %s\n", strerror(-err));
		goto cleanup;
	}
	t->mono_to_real = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
	for (int i = 0; i < sel->npids; i++) {
		if (kill(sel->pids[i], 0) && errno == ESRCH) {
			fprintf(stderr, "httplat: no process %d\n", sel->pids[i]);
			err = -ESRCH;
			goto cleanup;
		}
		target_add(t, sel->pids[i], 0);
	}
	tracer_scan(t);
	t->next_scan_ms = clock_ns(CLOCK_MONOTONIC) / 1000000 + RESCAN_MS;
	return t;
cleanup:
	tracer__free(t);
	errno = -err;
	return NULL;
}

int tracer__poll(struct tracer *t, int timeout_ms)
{
	uint64_t before = t->requests;
	int64_t now_ms;
	int err;

	/* the kernel wakes us only past a fill threshold: wait, then drain all */
	err = ring_buffer__poll(t->rb, timeout_ms);
	if (err < 0 && err != -EINTR)
		return err;
	t->mono_to_real = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
	err = ring_buffer__consume(t->rb);
	if (err < 0 && err != -EINTR)
		return err;
	now_ms = clock_ns(CLOCK_MONOTONIC) / 1000000;
	if (now_ms >= t->next_scan_ms) {
		tracer_scan(t);
		t->next_scan_ms = now_ms + RESCAN_MS;
	}
	return (int)(t->requests - before);
}

void tracer__stats(struct tracer *t, struct tracer_stats *out)
{
	__u64 *vals = calloc((size_t)t->ncpus, sizeof(__u64));

	memset(out, 0, sizeof(*out));
	out->events = t->events;
	out->requests = t->requests;
	out->decode_errors = t->decode_errors;
	out->ntargets = t->npids;
	for (__u32 i = 0; vals && i < HTTPLAT_C__COUNT; i++) {
		if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.counters), &i, vals))
			continue;
		for (int c = 0; c < t->ncpus; c++)
			out->kernel[i] += vals[c];
		if (tracer__counter_is_loss((int)i))
			out->dropped += out->kernel[i];
	}
	free(vals);
}

int tracer__pids(struct tracer *t, int *pids, int max)
{
	int n = t->npids < max ? t->npids : max;

	memcpy(pids, t->pids, (size_t)n * sizeof(int));
	return n;
}

int tracer__ports(struct tracer *t, unsigned short *ports, int max)
{
	int n = t->nports < max ? t->nports : max;

	memcpy(ports, t->ports, (size_t)n * sizeof(*ports));
	return n;
}

void tracer__free(struct tracer *t)
{
	if (!t)
		return;
	ring_buffer__free(t->rb);
	if (t->target_bits)
		munmap(t->target_bits, (size_t)HTTPLAT_PID_WORDS * sizeof(__u64));
	httplat_bpf__destroy(t->skel);
	free(t);
}
