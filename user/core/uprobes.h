/* uprobes.h: uprobes attached to one traced process at a time, on the libraries it has mapped. */
#ifndef HTTPLAT_UPROBES_H
#define HTTPLAT_UPROBES_H

#include <stddef.h>

struct bpf_program;

/* One probe: prog on func of the first mapped library whose file name starts with lib. */
struct uprobe_spec {
	const char *lib;  /* "libc.so", "libssl.so" */
	const char *func; /* "accept4" */
	struct bpf_program *prog;
	int retprobe;
	int site;   /* PROBESITE_ENTRY or _RETURN: what the probe needs of its place (probesite.h) */
	int linked; /* lib not mapped: look for func in the executable and its modules too */
};

struct uprobes_stats {
	unsigned long attached;	  /* probes attached now */
	unsigned long failed;	  /* attach calls that failed (counted, the process stays traced) */
	unsigned long processes;  /* processes with at least one probe */
};

struct uprobes;

/* specs must outlive the set. NULL and errno on failure. */
struct uprobes *uprobes__new(const struct uprobe_spec *specs, int nspecs, int verbose);
/* Attaches every spec whose library pid has mapped; returns how many (>= 0). Idempotent. */
int uprobes__attach(struct uprobes *u, int pid);
/* Drops pid's probes (it exited or left the target set). */
void uprobes__detach(struct uprobes *u, int pid);
/*
 * Attaches again, every UPROBES_RETRY_MS for UPROBES_RETRY_FOR_MS after a process was first
 * seen, where specs are still missing: an exec'd server maps libssl only once it imports it.
 */
void uprobes__retry(struct uprobes *u, long long now_ms);
/* fn(ctx, pid, spec, on) whenever spec (its index) is attached to pid (on = 1) or dropped. */
void uprobes__on_change(struct uprobes *u, void (*fn)(void *ctx, int pid, int spec, int on),
			void *ctx);
void uprobes__stats(const struct uprobes *u, struct uprobes_stats *out);
void uprobes__free(struct uprobes *u);

/*
 * Finds in a /proc/PID/maps text the path of the first file mapping whose
 * base name starts with lib ("libc.so" matches ".../libc.so.6"). 0 with
 * the path in out, or -ENOENT.
 */
int uprobes__find_lib(const char *maps, const char *lib, char *out, size_t outsz);

/* The executable's path in a /proc/PID/maps text (its first file mapping). 0, or -ENOENT. */
int uprobes__find_exe(const char *maps, char *out, size_t outsz);

#endif
