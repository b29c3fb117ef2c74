/* probesite.c: choosing uprobe sites with a small x86-64 prologue decoder, and the ELF lookup. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "probesite.h"

enum insn_class {
	INSN_UNKNOWN,
	INSN_SAFE,     /* leaves the argument registers alone */
	INSN_EMULATED, /* the kernel emulates it on a uprobe hit */
};

struct insn {
	size_t len;
	int class;
	int writes_rsp;
	int writes_mem; /* might overwrite the return address at (%rsp) */
	const char *name;
};

enum { REG_RSP = 4 };
/* rcx(1) rdx(2) rsi(6) rdi(7) r8 r9: the System V argument registers */
#define ARG_REGS ((1u << 1) | (1u << 2) | (1u << 6) | (1u << 7) | (1u << 8) | (1u << 9))

/* The nops the kernel emulates: exactly its x86_nops[] table (arch/x86/kernel/alternative.c). */
static const unsigned char nops[][8] = {
    {0x90},
    {0x66, 0x90},
    {0x0f, 0x1f, 0x00},
    {0x0f, 0x1f, 0x40, 0x00},
    {0x0f, 0x1f, 0x44, 0x00, 0x00},
    {0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00},
    {0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00},
    {0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00},
};

static const unsigned char endbr64[] = {0xf3, 0x0f, 0x1e, 0xfa};

/* Bytes of a ModRM operand (ModRM, SIB, displacement) at p, or 0 when avail is too short. */
static size_t modrm_len(const unsigned char *p, size_t avail)
{
	unsigned mod, rm;
	size_t n = 1;

	if (avail < 1)
		return 0;
	mod = p[0] >> 6;
	rm = p[0] & 7;
	if (mod != 3 && rm == 4) {
		if (avail < 2)
			return 0;
		n++;
		if (mod == 0 && (p[1] & 7) == 5)
			n += 4;
	}
	if (mod == 0 && rm == 5)
		n += 4; /* rip-relative */
	else if (mod == 1)
		n += 1;
	else if (mod == 2)
		n += 4;
	return n <= avail ? n : 0;
}

/* A register write: safe unless it hits an argument register; rsp only where allowed. */
static int dest_ok(unsigned reg)
{
	return reg != REG_RSP && !(ARG_REGS & (1u << reg));
}

static void insn_set(struct insn *in, size_t len, int class, const char *name)
{
	in->len = len;
	in->class = class;
	in->name = name;
}

/* Decodes the instruction at p (avail bytes); an unknown one gets INSN_UNKNOWN. */
static void insn__decode(const unsigned char *p, size_t avail, struct insn *in)
{
	unsigned rex = 0, op, m, reg, rm;
	size_t i = 0, n, imm;
	int seg = 0;

	memset(in, 0, sizeof(*in));
	for (size_t k = 0; k < sizeof(nops) / sizeof(nops[0]); k++) {
		if (k + 1 <= avail && !memcmp(p, nops[k], k + 1)) {
			insn_set(in, k + 1, INSN_EMULATED, "nop");
			return;
		}
	}
	if (avail >= sizeof(endbr64) && !memcmp(p, endbr64, sizeof(endbr64))) {
		insn_set(in, sizeof(endbr64), INSN_SAFE, "endbr64");
		return;
	}
	if (i < avail && (p[i] == 0x64 || p[i] == 0x65)) {
		seg = 1;
		i++;
	}
	if (i < avail && (p[i] & 0xf0) == 0x40)
		rex = p[i++];
	if (i >= avail)
		return;
	op = p[i++];

	/* the emulated ones, in the forms the kernel accepts (no prefixes but push's REX.B) */
	if (!seg && (rex == 0 || rex == 0x41) && op >= 0x50 && op <= 0x57) {
		insn_set(in, i, INSN_EMULATED, "push");
		return;
	}
	if (!seg && !rex) {
		if ((op == 0xe8 || op == 0xe9) && i + 4 <= avail)
			insn_set(in, i + 4, INSN_EMULATED, op == 0xe8 ? "call" : "jmp");
		else if (op == 0xeb && i + 1 <= avail)
			insn_set(in, i + 1, INSN_EMULATED, "jmp");
		else if (op >= 0x70 && op <= 0x7f && i + 1 <= avail)
			insn_set(in, i + 1, INSN_EMULATED, "jcc");
		else if (op == 0x0f && i + 5 <= avail && p[i] >= 0x80 && p[i] <= 0x8f)
			insn_set(in, i + 5, INSN_EMULATED, "jcc");
		if (in->class)
			return;
	}

	/* the rest have a ModRM operand (or a register in the opcode) */
	if (op >= 0xb8 && op <= 0xbf && !seg) { /* mov $imm, reg */
		imm = (rex & 8) ? 8 : 4;
		if (i + imm <= avail && dest_ok((op - 0xb8) | ((rex & 1) << 3)))
			insn_set(in, i + imm, INSN_SAFE, "mov");
		return;
	}
	n = modrm_len(p + i, avail - i);
	if (!n)
		return;
	m = p[i];
	reg = ((m >> 3) & 7) | ((rex & 4) << 1);
	rm = (m & 7) | ((rex & 1) << 3);
	if (seg && op != 0x8b)
		return;
	switch (op) {
	case 0x84:
	case 0x85:
	case 0x38:
	case 0x39:
	case 0x3a:
	case 0x3b: /* test, cmp */
		insn_set(in, i + n, INSN_SAFE, "test");
		return;
	case 0x80:
	case 0x81:
	case 0x83: /* add/or/adc/sbb/and/sub/xor/cmp $imm */
		imm = op == 0x81 ? 4 : 1;
		if (i + n + imm > avail)
			return;
		if ((reg & 7) == 7) /* cmp */
			insn_set(in, i + n + imm, INSN_SAFE, "cmp");
		else if ((m >> 6) != 3) {
			insn_set(in, i + n + imm, INSN_SAFE, "alu");
			in->writes_mem = 1;
		} else if (rm == REG_RSP && (rex & 8)) {
			insn_set(in, i + n + imm, INSN_SAFE, "rsp");
			in->writes_rsp = 1;
		} else if (dest_ok(rm))
			insn_set(in, i + n + imm, INSN_SAFE, "alu");
		return;
	case 0xf6:
	case 0xf7: /* only test $imm (/0); the others are not/neg/mul/div */
		imm = op == 0xf7 ? 4 : 1;
		if ((reg & 7) == 0 && i + n + imm <= avail)
			insn_set(in, i + n + imm, INSN_SAFE, "test");
		return;
	case 0x89:
	case 0x31: /* mov, xor: r/m is written */
		if ((m >> 6) != 3 || dest_ok(rm))
			insn_set(in, i + n, INSN_SAFE, op == 0x89 ? "mov" : "xor");
		in->writes_mem = (m >> 6) != 3;
		return;
	case 0x8b:
	case 0x33:
	case 0x8d: /* mov, xor, lea: reg is written */
		if (dest_ok(reg) && !(op == 0x8d && (m >> 6) == 3))
			insn_set(in, i + n, INSN_SAFE,
				 op == 0x8b   ? "mov"
				 : op == 0x33 ? "xor"
					      : "lea");
		return;
	case 0xc7: /* mov $imm32, r/m */
		if ((reg & 7) == 0 && i + n + 4 <= avail && ((m >> 6) != 3 || dest_ok(rm)))
			insn_set(in, i + n + 4, INSN_SAFE, "mov");
		in->writes_mem = (m >> 6) != 3;
		return;
	}
}

/* "+0x16 (jcc, emulated)", "callee at -0x230 (thin wrapper)" */
static void how_offset(char *how, const char *prefix, long off, const char *what)
{
	unsigned long mag = off < 0 ? -(unsigned long)off : (unsigned long)off;

	if (!off)
		snprintf(how, PROBESITE_HOW_LEN, "%s+0 (%s)", prefix, what);
	else
		snprintf(how, PROBESITE_HOW_LEN, "%s%s0x%lx (%s)", prefix, off < 0 ? "-" : "+", mag,
			 what);
}

/* optional endbr64, sub $8,%rsp, call rel32: 1 with the callee's offset in target */
static int thin_wrapper(const unsigned char *code, size_t len, long *target)
{
	static const unsigned char sub8[] = {0x48, 0x83, 0xec, 0x08};
	size_t i = 0;
	int32_t rel;

	if (len >= sizeof(endbr64) && !memcmp(code, endbr64, sizeof(endbr64)))
		i = sizeof(endbr64);
	if (len < i + sizeof(sub8) + 5 || memcmp(code + i, sub8, sizeof(sub8)) ||
	    code[i + sizeof(sub8)] != 0xe8)
		return 0;
	i += sizeof(sub8) + 1;
	memcpy(&rel, code + i, sizeof(rel)); /* x86 is little-endian */
	*target = (long)(i + 4) + rel;
	return 1;
}

int probesite__choose(const unsigned char *code, size_t len, int kind, struct probesite *out)
{
	char what[32];
	struct insn in;
	size_t off = 0;

	if (!code || !out || (kind != PROBESITE_ENTRY && kind != PROBESITE_RETURN))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (len > PROBESITE_WALK_MAX)
		len = PROBESITE_WALK_MAX;
	while (off < len) {
		insn__decode(code + off, len - off, &in);
		if (in.class == INSN_EMULATED) {
			out->offset = off;
			out->emulated = 1;
			snprintf(what, sizeof(what), "%s, emulated", in.name);
			how_offset(out->how, "", (long)off, what);
			return 0;
		}
		/* a return site must come before anything moves rsp or stores to memory */
		if (in.class == INSN_UNKNOWN ||
		    (kind == PROBESITE_RETURN && (in.writes_rsp || in.writes_mem)))
			break;
		off += in.len;
	}
	if (kind == PROBESITE_RETURN && thin_wrapper(code, len, &out->target)) {
		out->callee = 1;
		how_offset(out->how, "callee at ", out->target, "thin wrapper");
		return 0;
	}
	how_offset(out->how, "", 0, "single-stepped");
	return 0;
}

/* The function's symbol in .dynsym, else .symtab. 0, -ENOENT, -EOPNOTSUPP (an ifunc). */
static int elf_find_func(Elf *elf, const char *func, GElf_Sym *out)
{
	static const GElf_Word types[] = {SHT_DYNSYM, SHT_SYMTAB};

	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		Elf_Scn *scn = NULL;

		while ((scn = elf_nextscn(elf, scn))) {
			Elf_Data *data;
			GElf_Shdr sh;

			if (!gelf_getshdr(scn, &sh) || sh.sh_type != types[t] || !sh.sh_entsize)
				continue;
			data = elf_getdata(scn, NULL);
			for (size_t i = 0; data && i < sh.sh_size / sh.sh_entsize; i++) {
				const char *name;
				GElf_Sym sym;
				int type;

				if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF)
					continue;
				type = GELF_ST_TYPE(sym.st_info);
				if (type != STT_FUNC && type != STT_GNU_IFUNC)
					continue;
				name = elf_strptr(elf, sh.sh_link, sym.st_name);
				if (!name || strcmp(name, func))
					continue;
				if (type == STT_GNU_IFUNC)
					return -EOPNOTSUPP; /* its code is the resolver */
				*out = sym;
				return 0;
			}
		}
	}
	return -ENOENT;
}

/* File offset of a virtual address in an executable PT_LOAD, and the file bytes left there. */
static int elf_code_offset(Elf *elf, GElf_Addr addr, unsigned long *off, size_t *avail)
{
	size_t n;

	if (elf_getphdrnum(elf, &n))
		return -ENOEXEC;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
			continue;
		if (addr < ph.p_vaddr || addr >= ph.p_vaddr + ph.p_filesz)
			continue;
		*off = addr - ph.p_vaddr + ph.p_offset;
		*avail = ph.p_vaddr + ph.p_filesz - addr;
		return 0;
	}
	return -ENOEXEC;
}

/* Reads up to PROBESITE_WALK_MAX (and at most size, when known) code bytes at addr. */
static ssize_t elf_read_code(Elf *elf, int fd, GElf_Addr addr, GElf_Xword size, unsigned char *buf,
			     unsigned long *off)
{
	size_t n = PROBESITE_WALK_MAX, avail;
	ssize_t got;
	int err;

	err = elf_code_offset(elf, addr, off, &avail);
	if (err)
		return err;
	if (n > avail)
		n = avail;
	if (size && n > size)
		n = size;
	got = pread(fd, buf, n, (off_t)*off);
	return got < 0 ? -errno : got;
}

/* RETURN on a thin wrapper: the callee's site when its entry is emulated, else the wrapper's start.
 */
static void site_follow(Elf *elf, int fd, const GElf_Sym *sym, const struct probesite *ps,
			struct probesite_site *site)
{
	unsigned char code[PROBESITE_WALK_MAX];
	struct probesite cs;
	unsigned long off;
	ssize_t n;

	n = elf_read_code(elf, fd, sym->st_value + (GElf_Addr)ps->target, 0, code, &off);
	if (n > 0 && !probesite__choose(code, (size_t)n, PROBESITE_RETURN, &cs) && cs.emulated) {
		site->file_offset = off + cs.offset;
		site->emulated = 1;
		snprintf(site->how, sizeof(site->how), "%s, %s", ps->how, cs.how);
		return;
	}
	site->emulated = 0;
	snprintf(site->how, sizeof(site->how), "+0 (single-stepped; %s not emulated)", ps->how);
}

int probesite__find(const char *path, const char *func, int kind, struct probesite_site *site)
{
	unsigned char code[PROBESITE_WALK_MAX];
	struct probesite ps;
	unsigned long off;
	Elf *elf = NULL;
	GElf_Ehdr eh;
	GElf_Sym sym;
	int fd = -1, err;
	ssize_t n;

	if (!path || !func || !site || (kind != PROBESITE_ENTRY && kind != PROBESITE_RETURN))
		return -EINVAL;
	memset(site, 0, sizeof(*site));
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOEXEC;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto cleanup;
	}
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh)) {
		err = -ENOEXEC;
		goto cleanup;
	}
	err = elf_find_func(elf, func, &sym);
	if (err)
		goto cleanup;
	n = elf_read_code(elf, fd, sym.st_value, sym.st_size, code, &off);
	if (n < 0) {
		err = (int)n;
		goto cleanup;
	}
	site->file_offset = off;
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64) {
		snprintf(site->how, sizeof(site->how), "+0 (not x86-64)");
		goto cleanup;
	}
	err = probesite__choose(code, (size_t)n, kind, &ps);
	if (err)
		goto cleanup;
	if (ps.callee) {
		site_follow(elf, fd, &sym, &ps, site);
		goto cleanup;
	}
	site->file_offset = off + ps.offset;
	site->emulated = ps.emulated;
	memcpy(site->how, ps.how, sizeof(ps.how));
cleanup:
	elf_end(elf);
	if (fd >= 0)
		close(fd);
	return err;
}
