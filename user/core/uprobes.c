/* uprobes.c: per-process uprobes (libbpf), so processes httplat does not trace never hit one. */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "uprobes.h"

#define UPROBES_MAX_SPECS 16

struct uprobe_proc {
	int pid;
	struct bpf_link *links[UPROBES_MAX_SPECS];
};

struct uprobes {
	const struct uprobe_spec *specs;
	int nspecs;
	int verbose;
	struct uprobe_proc *procs;
	int nprocs, cap;
	unsigned long failed;
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

int uprobes__attach(struct uprobes *u, int pid)
{
	char lib[PATH_MAX], path[PATH_MAX + 32], *maps;
	struct uprobe_proc *p = proc_find(u, pid);
	int n = 0;

	if (!u->nspecs)
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
	}
	maps = read_maps(pid);
	if (!maps)
		return -errno;
	for (int i = 0; i < u->nspecs; i++) {
		const struct uprobe_spec *s = &u->specs[i];
		LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = s->func, .retprobe = s->retprobe);

		if (p->links[i]) {
			n++;
			continue;
		}
		if (uprobes__find_lib(maps, s->lib, lib, sizeof(lib)))
			continue;
		/* through the process's root, so a library in a container resolves too */
		snprintf(path, sizeof(path), "/proc/%d/root%s", pid, lib);
		p->links[i] = bpf_program__attach_uprobe_opts(s->prog, pid, path, 0, &opts);
		if (!p->links[i]) {
			u->failed++;
			if (u->verbose)
				fprintf(stderr, "httplat: pid %d: cannot attach to %s in %s: %s\n", pid,
					s->func, lib, strerror(errno));
			continue;
		}
		n++;
	}
	free(maps);
	return n;
}

void uprobes__detach(struct uprobes *u, int pid)
{
	struct uprobe_proc *p = proc_find(u, pid);

	if (!p)
		return;
	for (int i = 0; i < u->nspecs; i++)
		bpf_link__destroy(p->links[i]);
	*p = u->procs[--u->nprocs];
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
