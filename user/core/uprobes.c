/* uprobes.c: per-process uprobes (libbpf), so processes httplat does not trace never hit one. */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "clock.h"
#include "probesite.h"
#include "text.h"
#include "uprobes.h"

#define UPROBES_MAX_SPECS 16
#define UPROBES_RETRY_MS 200
#define UPROBES_RETRY_FOR_MS 30000

struct uprobe_proc {
	int pid;
	long long first_ms, next_ms; /* first seen; next retry (0: every spec attached) */
	struct bpf_link *links[UPROBES_MAX_SPECS];
};

struct uprobes {
	const struct uprobe_spec *specs;
	int nspecs;
	int verbose;
	struct uprobe_proc *procs;
	int nprocs, cap;
	unsigned long failed;
	long long now_ms; /* of the current attach round, for retries */
	int logged[UPROBES_MAX_SPECS]; /* -v: the site said once */
	void (*change_fn)(void *ctx, int pid, int spec, int on);
	void *change_ctx;
	int denied; /* the kernel refused a uprobe for want of privilege: not tried again */
};

int uprobes__find_lib(const char *maps, const char *lib, char *out, size_t outsz)
{
	size_t liblen = strlen(lib);

	for (const char *line = maps; line && *line;) {
		const char *end = strchr(line, '\n'), *path, *base;
		size_t len = end ? (size_t)(end - line) : strlen(line);

		/* "start-end perms offset dev inode   /path" */
		path = memchr(line, '/', len);
		if (path) {
			size_t plen = len - (size_t)(path - line);

			base = path;
			for (const char *p = path; p < path + plen; p++)
				if (*p == '/')
					base = p + 1;
			if ((size_t)(path + plen - base) >= liblen && !strncmp(base, lib, liblen) &&
			    !memmem(path, plen, " (deleted)", 10) && plen < outsz) {
				memcpy(out, path, plen);
				out[plen] = '\0';
				return 0;
			}
		}
		line = end ? end + 1 : NULL;
	}
	return -ENOENT;
}

int uprobes__find_exe(const char *maps, char *out, size_t outsz)
{
	/* the first file mapping is the executable's */
	for (const char *line = maps; line && *line;) {
		const char *end = strchr(line, '\n'), *path;
		size_t len = end ? (size_t)(end - line) : strlen(line);

		path = memchr(line, '/', len);
		if (path) {
			size_t plen = len - (size_t)(path - line);

			if (plen >= outsz || memmem(path, plen, " (deleted)", 10))
				return -ENOENT;
			memcpy(out, path, plen);
			out[plen] = '\0';
			return 0;
		}
		line = end ? end + 1 : NULL;
	}
	return -ENOENT;
}

struct uprobes *uprobes__new(const struct uprobe_spec *specs, int nspecs, int verbose)
{
	struct uprobes *u;

	if (nspecs > UPROBES_MAX_SPECS) {
		errno = EINVAL;
		return NULL;
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->specs = specs;
	u->nspecs = nspecs;
	u->verbose = verbose;
	return u;
}

static struct uprobe_proc *proc_find(struct uprobes *u, int pid)
{
	for (int i = 0; i < u->nprocs; i++)
		if (u->procs[i].pid == pid)
			return &u->procs[i];
	return NULL;
}

static char *read_maps(int pid)
{
	char path[64], *buf = NULL;
	size_t len = 0, cap = 0, n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	do {
		if (len + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 65536);

			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	return buf;
}

/*
 * Said once, whatever -v: without its uprobes the tracer still sees every
 * request, but not everything about it. Since "perf: Revert to requiring
 * CAP_SYS_ADMIN for uprobes" (Linux 6.16, and stable kernels updated since
 * July 2025) CAP_PERFMON is not enough; other users' libraries need
 * CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (through /proc/PID/root) too.
 */
static void uprobes__denied(struct uprobes *u, int err)
{
	u->denied = 1;
	fprintf(stderr,
		"httplat: uprobes not permitted (%s): requests are traced, but without "
		"accept-queue times (queue_ms), and new listening ports are found by the 5 s "
		"rescan; uprobes need CAP_SYS_ADMIN on this kernel (Linux 6.16+ and stable "
		"updates since July 2025; CAP_PERFMON before) (docs/deploy.md)\n",
		strerror(err));
}

/*
 * Where spec s goes in the file at path (through the process's root): 0 and
 * the file offset, or -ENOENT when the file lacks the function. The site is
 * one the kernel emulates where the code allows (probesite.h: ~1 us a hit
 * instead of ~10 us single-stepped); else the function's entry, by name.
 */
static int uprobes__site(struct uprobes *u, int i, const char *path, const char *shown,
			 size_t *off, const char **name)
{
	const struct uprobe_spec *s = &u->specs[i];
	struct probesite_site site;
	int err = probesite__find(path, s->func, s->site, &site);

	if (err == -ENOENT)
		return err;
	*off = err ? 0 : (size_t)site.file_offset;
	*name = err ? s->func : NULL;
	if (u->verbose && !u->logged[i]) {
		char safe[TEXT_ESCAPED_MAX(PATH_MAX)]; /* a file name, any bytes */

		u->logged[i] = 1;
		text__terminal_escape(shown, safe, sizeof(safe));
		if (err)
			fprintf(stderr, "httplat: %s%s in %s: at its entry (%s)\n", s->func,
				s->retprobe ? " return" : "", safe, strerror(-err));
		else
			fprintf(stderr, "httplat: %s%s in %s: %s\n", s->func,
				s->retprobe ? " return" : "", safe, site.how);
	}
	return 0;
}

/*
 * libbpf's own lines for a failed attach (a refused uprobe, a symbol missing) would repeat
 * ours, once per process: kept for -vv.
 */
static struct bpf_link *uprobes__attach_quietly(const struct uprobes *u,
						 const struct bpf_program *prog, int pid,
						 const char *path, size_t off,
						 const struct bpf_uprobe_opts *opts)
{
	libbpf_print_fn_t old = u->verbose > 1 ? NULL : libbpf_set_print(NULL);
	struct bpf_link *l = bpf_program__attach_uprobe_opts(prog, pid, path, off, opts);
	int err = errno;

	if (u->verbose <= 1)
		libbpf_set_print(old);
	errno = err;
	return l;
}

/* The files that may hold spec s's function in a process with these maps; how many. */
static int uprobes__files(const struct uprobe_spec *s, const char *maps, char out[][PATH_MAX])
{
	int n = 0;

	if (!uprobes__find_lib(maps, s->lib, out[0], PATH_MAX))
		return 1;
	if (!s->linked)
		return 0;
	/* OpenSSL linked into the interpreter, or into Python's _ssl module */
	if (!uprobes__find_exe(maps, out[n], PATH_MAX))
		n++;
	if (!uprobes__find_lib(maps, "_ssl.", out[n], PATH_MAX))
		n++;
	return n;
}

/* Spec i in process p (maps: its /proc/PID/maps): 1 attached now or before, 0 not. */
static int uprobes__attach_one(struct uprobes *u, struct uprobe_proc *p, int i, const char *maps)
{
	const struct uprobe_spec *s = &u->specs[i];
	char files[2][PATH_MAX], path[PATH_MAX + 32];
	int nfiles;

	if (p->links[i])
		return 1;
	nfiles = uprobes__files(s, maps, files);
	for (int f = 0; f < nfiles && !p->links[i] && !u->denied; f++) {
		LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = s->retprobe);
		size_t off;

		/* through the process's root, so a library in a container resolves too */
		snprintf(path, sizeof(path), "/proc/%d/root%s", p->pid, files[f]);
		if (uprobes__site(u, i, path, files[f], &off, &opts.func_name))
			continue; /* not in this file */
		p->links[i] = uprobes__attach_quietly(u, s->prog, p->pid, path, off, &opts);
		if (p->links[i]) {
			if (u->change_fn)
				u->change_fn(u->change_ctx, p->pid, i, 1);
			break;
		}
		u->failed++;
		if (errno == EACCES || errno == EPERM) {
			uprobes__denied(u, errno);
			break;
		}
		if (u->verbose) {
			char safe[TEXT_ESCAPED_MAX(PATH_MAX)]; /* a file name, any bytes */
			int err = errno;

			text__terminal_escape(files[f], safe, sizeof(safe));
			fprintf(stderr, "httplat: pid %d: cannot attach to %s in %s: %s\n", p->pid,
				s->func, safe, strerror(err));
		}
	}
	return p->links[i] != NULL;
}

int uprobes__attach(struct uprobes *u, int pid)
{
	struct uprobe_proc *p = proc_find(u, pid);
	char *maps;
	int n = 0;

	if (!u->nspecs || u->denied)
		return 0;
	if (!p) {
		if (u->nprocs == u->cap) {
			int cap = u->cap ? u->cap * 2 : 16;
			struct uprobe_proc *np = realloc(u->procs, (size_t)cap * sizeof(*np));

			if (!np)
				return -ENOMEM;
			u->procs = np;
			u->cap = cap;
		}
		p = &u->procs[u->nprocs++];
		memset(p, 0, sizeof(*p));
		p->pid = pid;
		p->first_ms = u->now_ms ? u->now_ms : clock__ns(CLOCK_MONOTONIC) / 1000000;
	}
	maps = read_maps(pid);
	if (!maps)
		return -errno;
	for (int i = 0; i < u->nspecs && !u->denied; i++)
		n += uprobes__attach_one(u, p, i, maps);
	free(maps);
	p->next_ms = n < u->nspecs ? p->first_ms + UPROBES_RETRY_MS : 0;
	return n;
}

void uprobes__retry(struct uprobes *u, long long now_ms)
{
	u->now_ms = now_ms;
	for (int i = 0; i < u->nprocs; i++) {
		struct uprobe_proc *p = &u->procs[i];

		if (!p->next_ms || now_ms < p->next_ms)
			continue;
		if (now_ms - p->first_ms > UPROBES_RETRY_FOR_MS) {
			p->next_ms = 0; /* the 5 s rescan still tries (uprobes__attach) */
			continue;
		}
		uprobes__attach(u, p->pid);
		if (p->next_ms)
			p->next_ms = now_ms + UPROBES_RETRY_MS;
	}
	u->now_ms = 0;
}

void uprobes__detach(struct uprobes *u, int pid)
{
	struct uprobe_proc *p = proc_find(u, pid);

	if (!p)
		return;
	for (int i = 0; i < u->nspecs; i++) {
		if (p->links[i] && u->change_fn)
			u->change_fn(u->change_ctx, pid, i, 0);
		bpf_link__destroy(p->links[i]);
	}
	*p = u->procs[--u->nprocs];
}

void uprobes__on_change(struct uprobes *u, void (*fn)(void *ctx, int pid, int spec, int on),
			void *ctx)
{
	u->change_fn = fn;
	u->change_ctx = ctx;
}

void uprobes__stats(const struct uprobes *u, struct uprobes_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->failed = u->failed;
	for (int i = 0; i < u->nprocs; i++) {
		int any = 0;

		for (int j = 0; j < u->nspecs; j++)
			if (u->procs[i].links[j]) {
				out->attached++;
				any = 1;
			}
		out->processes += any;
	}
}

void uprobes__free(struct uprobes *u)
{
	if (!u)
		return;
	while (u->nprocs)
		uprobes__detach(u, u->procs[0].pid);
	free(u->procs);
	free(u);
}
