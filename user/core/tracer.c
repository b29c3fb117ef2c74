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
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "clock.h"
#include "counters.h"
#include "decode.h"
#include "discover.h"
#include "httplat.h"
#include "httplat.skel.h"
#include "tracer.h"
#include "probesite.h"
#include "uprobes.h"

#define RESCAN_MS 5000 /* safety net for missed exec events and dead pids */
#define MAX_TRACKED HTTPLAT_MAX_TARGETS

_Static_assert(HTTPLAT_C__COUNT <= 16, "tracer_stats.kernel[] too small");

struct tracer {
	struct httplat_bpf *skel;
	struct ring_buffer *rb;
	const struct selection *sel;
	tracer_record_fn fn;
	void *ctx;
	tracer_proc_fn proc_fn;
	void *proc_ctx;
	int64_t mono_to_real;
	int ncpus;
	__u64 *target_bits; /* the targets map, mmapped: one bit per tgid */
	__u64 *port_bits;   /* the ports map, mmapped: one bit per server port */
	enum tracer_hooks hooks; /* the data path in use */
	int data_ready;	    /* arrival times known (sock:sk_data_ready) */
	struct uprobes *uprobes;
	const unsigned long *ring_cons, *ring_prod; /* the ring's positions, mapped read-only */
	uint64_t ring_peak;
	struct uprobe_spec specs[12];
	int tls_spec; /* the index of the libssl read's return probe */
	int pids[MAX_TRACKED];
	int npids;
	unsigned short ports[TRACER_MAX_PORTS];
	int nports;
	int64_t next_scan_ms;
	uint64_t events, requests, decode_errors;
};


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

static void proc_note(struct tracer *t, enum tracer_proc_kind kind, int pid, int ppid,
		      unsigned short port)
{
	struct tracer_proc e = {kind, pid, ppid, port};

	if (t->proc_fn)
		t->proc_fn(t->proc_ctx, &e);
}

static int tracked_index(const struct tracer *t, int pid)
{
	for (int i = 0; i < t->npids; i++)
		if (t->pids[i] == pid)
			return i;
	return -1;
}

/* Sets or clears one bit of an mmapped bitmap map, as the kernel does with atomics. */
static void bitmap_set(__u64 *bits, unsigned n, int on)
{
	__u64 bit = 1ULL << (n & 63);

	if (on)
		__atomic_fetch_or(&bits[n >> 6], bit, __ATOMIC_SEQ_CST);
	else
		__atomic_fetch_and(&bits[n >> 6], ~bit, __ATOMIC_SEQ_CST);
}

static void port_add(struct tracer *t, unsigned short port, int pid)
{
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
	if (t->nports < TRACER_MAX_PORTS)
		t->ports[t->nports++] = port;
	bitmap_set(t->port_bits, port, 1);
	proc_note(t, TRACER_PORT_NEW, pid, 0, port);
}

static void target_ports(struct tracer *t, int pid)
{
	unsigned short ports[DISCOVER_MAX_PORTS];
	int n = discover__listen_ports("/proc", pid, ports, DISCOVER_MAX_PORTS);

	for (int i = 0; i < n; i++)
		port_add(t, ports[i], pid);
}

/* Flips pid's bit; the kernel's fork and exit programs do the same with atomics. */
static void target_bit(struct tracer *t, int pid, int on)
{
	if (pid > 0 && pid < HTTPLAT_PID_LIMIT)
		bitmap_set(t->target_bits, (unsigned)pid, on);
}

static void target_add(struct tracer *t, int pid, int parent)
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
				parent ? " (child)" : "");
		proc_note(t, TRACER_PROC_NEW, pid, parent, 0);
	}
	/* ports first, so the first read on an existing connection is recognised */
	target_ports(t, pid);
	target_bit(t, pid, 1);
	if (t->uprobes)
		uprobes__attach(t->uprobes, pid);
}

static void target_del(struct tracer *t, int pid)
{
	int i = tracked_index(t, pid);

	target_bit(t, pid, 0);
	if (t->uprobes)
		uprobes__detach(t->uprobes, pid);
	if (i < 0)
		return;
	t->pids[i] = t->pids[--t->npids];
	if (t->sel->verbose)
		fprintf(stderr, "httplat: pid %d gone\n", pid);
	proc_note(t, TRACER_PROC_GONE, pid, 0, 0);
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
		target_add(x->t, pid, parent);
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
	for (int i = 0; i < t->npids; i++) {
		target_ports(t, t->pids[i]);
		uprobes__attach(t->uprobes, t->pids[i]); /* libraries loaded since (idempotent) */
	}
}

/* ---- events ---- */

static void on_proc_event(struct tracer *t, const struct httplat_proc_event *e)
{
	int pid = (int)e->hdr.tgid;

	switch (e->hdr.type) {
	case HTTPLAT_EV_PROC_FORK:
		/* the kernel already traces it; keep our list in step */
		if (tracked_index(t, pid) < 0 && t->npids < MAX_TRACKED) {
			t->pids[t->npids++] = pid;
			proc_note(t, TRACER_PROC_NEW, pid, (int)e->ppid, 0);
		}
		if (t->uprobes) /* a forked child keeps none of its parent's per-process probes */
			uprobes__attach(t->uprobes, pid);
		if (t->sel->verbose)
			fprintf(stderr, "httplat: pid %d forked from %u\n", pid, e->ppid);
		break;
	case HTTPLAT_EV_PROC_EXEC:
		if (tracked_index(t, pid) >= 0) {
			/* a traced child that became something else (ffmpeg...) is let go */
			char comm[HTTPLAT_COMM_LEN + 1] = {0};

			memcpy(comm, e->comm, HTTPLAT_COMM_LEN);
			if (!discover__server_comm(comm) && !selected_pid(t, pid) &&
			    discover__pid_matches("/proc", pid) != 1)
				target_del(t, pid);
			else
				proc_note(t, TRACER_PROC_EXEC, pid, 0, 0);
		} else if (wanted(t, pid)) {
			target_add(t, pid, 0);
		}
		break;
	case HTTPLAT_EV_PROC_EXIT:
		target_del(t, pid);
		break;
	case HTTPLAT_EV_PORT:
		port_add(t, e->port, pid);
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
	if (r.lport) /* the kernel may learn a port on accept without telling */
		port_add(t, r.lport, (int)r.pid);
	t->fn(t->ctx, &r);
	return 0;
}

/* ---- lifetime ---- */

/* Maps a bitmap map (BPF_F_MMAPABLE) into our memory. NULL and errno on failure. */
static __u64 *map_bits(struct bpf_map *map, size_t words, const char *what)
{
	void *p = mmap(NULL, words * sizeof(__u64), PROT_READ | PROT_WRITE, MAP_SHARED,
		       bpf_map__fd(map), 0);

	if (p == MAP_FAILED) {
		fprintf(stderr, "httplat: cannot map the %s: %s\n", what, strerror(errno));
		return NULL;
	}
	return p;
}

/* The ring's consumer and producer positions (a page each at the map's start), read-only. */
static void ring_map_positions(struct tracer *t)
{
	long page = sysconf(_SC_PAGESIZE);
	int fd = bpf_map__fd(t->skel->maps.events);
	void *c = mmap(NULL, (size_t)page, PROT_READ, MAP_SHARED, fd, 0);
	void *p = mmap(NULL, (size_t)page, PROT_READ, MAP_SHARED, fd, page);

	if (c == MAP_FAILED || p == MAP_FAILED) {
		if (c != MAP_FAILED)
			munmap(c, (size_t)page);
		if (p != MAP_FAILED)
			munmap(p, (size_t)page);
		return;
	}
	t->ring_cons = c;
	t->ring_prod = p;
}

/* Does the running kernel have this raw tracepoint? (its btf_trace_* typedef in vmlinux BTF) */
static int kernel_has_tracepoint(const struct btf *vmlinux, const char *name)
{
	char tname[128];

	snprintf(tname, sizeof(tname), "btf_trace_%s", name);
	return vmlinux && btf__find_by_name_kind(vmlinux, tname, BTF_KIND_TYPEDEF) > 0;
}

/*
 * The data path, chosen before load: the socket tracepoints where the
 * kernel has them (Linux 6.3+), else raw_syscalls:sys_exit alone; --hooks
 * forces one. Programs of the other path are not loaded.
 */
static int tracer_choose_hooks(struct tracer *t)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	struct httplat_bpf *sk = t->skel;
	int have_sock = kernel_has_tracepoint(vmlinux, "sock_recv_length") &&
			kernel_has_tracepoint(vmlinux, "sock_send_length");

	t->data_ready = kernel_has_tracepoint(vmlinux, "sk_data_ready");
	btf__free(vmlinux);
	t->hooks = t->sel->hooks ? (enum tracer_hooks)t->sel->hooks
				 : have_sock ? TRACER_HOOKS_SOCKET : TRACER_HOOKS_SYSCALL;
	if (t->hooks == TRACER_HOOKS_SOCKET && !have_sock) {
		fprintf(stderr, "httplat: --hooks socket: this kernel has no sock:sock_recv_length / "
				"sock_send_length tracepoints (Linux 6.3+); use --hooks syscall\n");
		return -ENOTSUP;
	}
	bpf_program__set_autoload(sk->progs.httplat_sock_recv, t->hooks == TRACER_HOOKS_SOCKET);
	bpf_program__set_autoload(sk->progs.httplat_sock_send, t->hooks == TRACER_HOOKS_SOCKET);
	bpf_program__set_autoload(sk->progs.httplat_accept_ret, t->hooks == TRACER_HOOKS_SOCKET);
	bpf_program__set_autoload(sk->progs.httplat_listen, t->hooks == TRACER_HOOKS_SOCKET);
	bpf_program__set_autoload(sk->progs.httplat_sys_exit, t->hooks == TRACER_HOOKS_SYSCALL);
	bpf_program__set_autoload(sk->progs.httplat_data_ready, t->data_ready);
	return 0;
}

const char *tracer__hooks_name(const struct tracer *t)
{
	if (t->hooks == TRACER_HOOKS_SOCKET)
		return t->data_ready ? "socket tracepoints (sock_recv_length, sock_send_length, "
				       "sk_data_ready) + libc accept/listen and libssl uprobes"
				     : "socket tracepoints (sock_recv_length, sock_send_length) + "
				       "libc accept/listen and libssl uprobes";
	return t->data_ready ? "syscall exit (fallback: raw_syscalls:sys_exit), sk_data_ready + "
			       "libssl uprobes"
			     : "syscall exit (fallback: raw_syscalls:sys_exit) + libssl uprobes; no "
			       "arrival times (wait_ms unknown)";
}

/*
 * Per traced process: on the socket path, libc's accept ends the accept-queue wait and listen
 * names a new port; on both paths, libssl gives HTTPS plaintext (bpf/tls.bpf.h). Entry probes
 * sit where the kernel emulates the instruction; the SSL read's pair where a return probe can.
 */
/* The kernel's tls_procs set follows which processes have the libssl read probe. */
static void tracer_probes_changed(void *ctx, int pid, int spec, int on)
{
	struct tracer *t = ctx;
	__u32 key = (__u32)pid;
	__u8 one = 1;
	int fd = bpf_map__fd(t->skel->maps.tls_procs);

	if (spec != t->tls_spec)
		return;
	if (on)
		bpf_map_update_elem(fd, &key, &one, BPF_ANY);
	else
		bpf_map_delete_elem(fd, &key);
}

static struct uprobes *tracer_uprobes(struct tracer *t)
{
	struct httplat_bpf *sk = t->skel;
	struct uprobes *u;
	int n = 0;

#define SPEC(lib, func, prog, ret, site, linked)                                           \
	t->specs[n++] = (struct uprobe_spec){lib, func, sk->progs.prog, ret, PROBESITE_##site, linked}
	if (t->hooks == TRACER_HOOKS_SOCKET) {
		SPEC("libc.so", "accept4", httplat_accept_ret, 1, RETURN, 0);
		SPEC("libc.so", "accept", httplat_accept_ret, 1, RETURN, 0);
		SPEC("libc.so", "listen", httplat_listen, 0, ENTRY, 0);
	}
	SPEC("libssl.so", "SSL_set_bio", httplat_ssl_set_bio, 0, ENTRY, 1);
	SPEC("libcrypto.so", "BIO_write", httplat_bio_write, 0, ENTRY, 1);
	SPEC("libssl.so", "SSL_read_ex", httplat_ssl_read, 0, RETURN, 1);
	t->tls_spec = n; /* with it attached, the process's TLS plaintext is seen */
	SPEC("libssl.so", "SSL_read_ex", httplat_ssl_read_ret, 1, RETURN, 1);
	SPEC("libssl.so", "SSL_write_ex", httplat_ssl_write, 0, ENTRY, 1);
	SPEC("libssl.so", "SSL_free", httplat_ssl_free, 0, ENTRY, 1);
#undef SPEC
	_Static_assert(sizeof(t->specs) / sizeof(t->specs[0]) >= 9, "specs[] too small");
	u = uprobes__new(t->specs, n, t->sel->verbose);
	if (u)
		uprobes__on_change(u, tracer_probes_changed, t);
	return u;
}

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
	err = tracer_choose_hooks(t);
	if (err)
		goto cleanup;
	t->skel->rodata->filter_ports = sel->nports > 0;
	t->skel->rodata->filter_discover = sel->npids == 0;
	t->skel->rodata->has_data_ready = t->data_ready;
	if (sel->pipeline_max)
		t->skel->rodata->targ_pipe_max = (__u32)sel->pipeline_max;
	err = httplat_bpf__load(t->skel);
	if (err) {
		fprintf(stderr,
			"httplat: cannot load the BPF programs: %s\n"
			"  (needs root, a kernel with BTF (/sys/kernel/btf/vmlinux), ring buffers and "
			"bpf_loop: Linux 5.17 or later; -vv shows the verifier log)\n",
			strerror(-err));
		goto cleanup;
	}
	t->target_bits = map_bits(t->skel->maps.targets, HTTPLAT_PID_WORDS, "target set");
	t->port_bits = map_bits(t->skel->maps.ports, HTTPLAT_PORT_WORDS, "port set");
	if (!t->target_bits || !t->port_bits) {
		err = -errno;
		goto cleanup;
	}
	for (int i = 0; i < sel->nports; i++)
		port_add(t, sel->ports[i], 0);

	t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.events), on_event, t, NULL);
	if (!t->rb) {
		err = -errno;
		fprintf(stderr, "httplat: cannot create the ring buffer: %s\n", strerror(errno));
		goto cleanup;
	}
	ring_map_positions(t); /* for the ring's fill level in reports; optional */
	/* attach before scanning, so a server started meanwhile is seen by exec or scan */
	err = httplat_bpf__attach(t->skel);
	if (err) {
		fprintf(stderr, "httplat: cannot attach to the tracepoints: %s\n", strerror(-err));
		goto cleanup;
	}
	t->uprobes = tracer_uprobes(t);
	if (!t->uprobes) {
		err = -errno;
		goto cleanup;
	}
	if (sel->verbose)
		fprintf(stderr, "httplat: hooks: %s\n", tracer__hooks_name(t));
	t->mono_to_real = clock__ns(CLOCK_REALTIME) - clock__ns(CLOCK_MONOTONIC);
	for (int i = 0; i < sel->npids; i++) {
		if (kill(sel->pids[i], 0) && errno == ESRCH) {
			fprintf(stderr, "httplat: no process %d\n", sel->pids[i]);
			err = -ESRCH;
			goto cleanup;
		}
		target_add(t, sel->pids[i], 0);
	}
	tracer_scan(t);
	t->next_scan_ms = clock__ns(CLOCK_MONOTONIC) / 1000000 + RESCAN_MS;
	return t;
cleanup:
	tracer__free(t);
	errno = -err;
	return NULL;
}

/* Bytes the kernel has written to the ring and we have not read yet. */
static uint64_t ring_used(const struct tracer *t)
{
	return __atomic_load_n(t->ring_prod, __ATOMIC_ACQUIRE) -
	       __atomic_load_n(t->ring_cons, __ATOMIC_ACQUIRE);
}

/* Entries in a hash map (walks its keys). */
static uint64_t map_entries(const struct bpf_map *map)
{
	size_t ksz = bpf_map__key_size(map);
	char key[64], next[64];
	uint64_t n = 0;
	int fd = bpf_map__fd(map);
	void *prev = NULL;

	if (ksz > sizeof(key))
		return 0;
	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, ksz);
		prev = key;
		n++;
	}
	return n;
}

void tracer__occupancy(struct tracer *t, struct tracer_occupancy *out)
{
	memset(out, 0, sizeof(*out));
	out->conns = map_entries(t->skel->maps.conns);
	out->conns_max = bpf_map__max_entries(t->skel->maps.conns);
	out->queued = map_entries(t->skel->maps.pipeq);
	out->queued_max = bpf_map__max_entries(t->skel->maps.pipeq);
	out->ring_size = bpf_map__max_entries(t->skel->maps.events);
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
	t->mono_to_real = clock__ns(CLOCK_REALTIME) - clock__ns(CLOCK_MONOTONIC);
	if (t->ring_prod) {
		uint64_t used = ring_used(t);

		if (used > t->ring_peak)
			t->ring_peak = used;
	}
	err = ring_buffer__consume(t->rb);
	if (err < 0 && err != -EINTR)
		return err;
	now_ms = clock__ns(CLOCK_MONOTONIC) / 1000000;
	uprobes__retry(t->uprobes, now_ms);
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
	out->ring_bytes = t->ring_prod ? ring_used(t) : 0;
	out->ring_peak = t->ring_peak;
	for (__u32 i = 0; vals && i < HTTPLAT_C__COUNT; i++) {
		if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.counters), &i, vals))
			continue;
		for (int c = 0; c < t->ncpus; c++)
			out->kernel[i] += vals[c];
		if (counter__is_loss((int)i))
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

void tracer__set_proc_fn(struct tracer *t, tracer_proc_fn fn, void *ctx)
{
	t->proc_fn = fn;
	t->proc_ctx = ctx;
}

void tracer__free(struct tracer *t)
{
	if (!t)
		return;
	ring_buffer__free(t->rb);
	uprobes__free(t->uprobes);
	if (t->target_bits)
		munmap(t->target_bits, (size_t)HTTPLAT_PID_WORDS * sizeof(__u64));
	if (t->port_bits)
		munmap(t->port_bits, (size_t)HTTPLAT_PORT_WORDS * sizeof(__u64));
	if (t->ring_cons)
		munmap((void *)t->ring_cons, (size_t)sysconf(_SC_PAGESIZE));
	if (t->ring_prod)
		munmap((void *)t->ring_prod, (size_t)sysconf(_SC_PAGESIZE));
	httplat_bpf__destroy(t->skel);
	free(t);
}
