/* minimal.c: loads minimal.bpf.c on one data path for `make bench`, traces PIDs, counts records. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <linux/types.h>

#include "minimal.h"
#include "minimal.skel.h"

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	(void)sig;
	exiting = 1;
}

static int on_record(void *ctx, void *data, size_t size)
{
	const struct min_record *r = data;
	unsigned long long *n = ctx;

	if (size >= sizeof(*r) && r->end_ns >= r->start_ns)
		n[0]++;
	return 0;
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, args) : 0;
}

int main(int argc, char **argv)
{
	struct minimal_bpf *skel = NULL;
	struct ring_buffer *rb = NULL;
	unsigned long long records[1] = {0}, lost = 0;
	int sock, err = 1, ncpus;
	__u64 *vals = NULL;
	__u32 zero = 0;

	if (argc < 3 || (strcmp(argv[1], "socket") && strcmp(argv[1], "syscall"))) {
		fprintf(stderr, "usage: %s socket|syscall PID...\n", argv[0]);
		return 2;
	}
	sock = !strcmp(argv[1], "socket");
	libbpf_set_print(quiet);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	skel = minimal_bpf__open();
	if (!skel) {
		fprintf(stderr, "minimal: cannot open the BPF object: %s\n", strerror(errno));
		goto cleanup;
	}
	bpf_program__set_autoload(skel->progs.min_sock_recv, sock);
	bpf_program__set_autoload(skel->progs.min_sock_send, sock);
	bpf_program__set_autoload(skel->progs.min_sys_exit, !sock);
	if (minimal_bpf__load(skel)) {
		fprintf(stderr, "minimal: cannot load: %s\n", strerror(errno));
		goto cleanup;
	}
	for (int i = 2; i < argc; i++) {
		long pid = strtol(argv[i], NULL, 10);
		__u32 w = (__u32)pid >> 6;
		__u64 bits = 0;

		if (pid <= 0 || w >= MIN_PID_WORDS) {
			fprintf(stderr, "minimal: bad PID %s\n", argv[i]);
			goto cleanup;
		}
		bpf_map_lookup_elem(bpf_map__fd(skel->maps.pids), &w, &bits);
		bits |= 1ULL << (pid & 63);
		bpf_map_update_elem(bpf_map__fd(skel->maps.pids), &w, &bits, BPF_ANY);
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_record, records, NULL);
	if (!rb || minimal_bpf__attach(skel)) {
		fprintf(stderr, "minimal: cannot attach: %s\n", strerror(errno));
		goto cleanup;
	}
	fprintf(stderr, "minimal: tracing on the %s path\n", argv[1]);
	while (!exiting) {
		/* records are submitted without a wake-up: wait 100 ms, then drain */
		if (ring_buffer__poll(rb, 100) < 0 && errno != EINTR)
			break;
		ring_buffer__consume(rb);
	}
	ring_buffer__consume(rb);
	ncpus = libbpf_num_possible_cpus();
	vals = calloc((size_t)ncpus, sizeof(*vals));
	if (vals && !bpf_map_lookup_elem(bpf_map__fd(skel->maps.lost), &zero, vals))
		for (int c = 0; c < ncpus; c++)
			lost += vals[c];
	printf("minimal: records %llu lost %llu\n", records[0], lost);
	err = 0;
cleanup:
	free(vals);
	ring_buffer__free(rb);
	minimal_bpf__destroy(skel);
	return err;
}
