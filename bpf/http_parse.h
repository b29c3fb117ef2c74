/* http_parse.h: bounded HTTP/1.x parsing predicates and byte-level DFAs, built for BPF and host. */
#ifndef HTTPLAT_HTTP_PARSE_H
#define HTTPLAT_HTTP_PARSE_H

/*
 * Everything here works on a window of bytes already copied out of user
 * memory (HP_WIN bytes, valid length given by the caller, allocated with
 * HP_WIN extra bytes behind it so 8-byte loads past the end stay in
 * bounds). Indices are masked with HP_MASK so the verifier can see every
 * access is inside the window. Host unit tests include this file as is.
 *
 * The DFAs keep their state in small structs so a head or a chunked body
 * split over several syscalls (at any byte) parses the same as one.
 */

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#define HP_WIN 512
#define HP_MASK (HP_WIN - 1)

#define HP_NEED_MORE (-2)

/*
 * Returns enum httplat_method (>= 0) and the method length; -1: not a
 * request line; HP_NEED_MORE: every byte so far fits a request line but
 * there are too few to tell (a request sent a byte at a time).
 */
static __always_inline int http__method(const __u8 *w, __u32 len, __u32 *mlen)
{
	__u32 i;
	int m = HTTPLAT_M_OTHER;

	/* token of 3..15 upper-case letters, then one space, then '/', '*' or an absolute URI */
	for (i = 0; i < 16; i++) {
		__u8 c;

		if (i >= len)
			return HP_NEED_MORE;
		c = w[i & HP_MASK];
		if (c == ' ')
			break;
		if (c < 'A' || c > 'Z')
			return -1;
	}
	if (i < 3 || i >= 16)
		return -1;
	if (i + 1 >= len)
		return HP_NEED_MORE;
	{
		__u8 t = w[(i + 1) & HP_MASK];

		if (t != '/' && t != '*' && t != 'h' && t != 'H')
			return -1;
	}
	switch (i) {
	case 3:
		if (w[0] == 'G' && w[1] == 'E' && w[2] == 'T')
			m = HTTPLAT_M_GET;
		else if (w[0] == 'P' && w[1] == 'U' && w[2] == 'T')
			m = HTTPLAT_M_PUT;
		break;
	case 4:
		if (w[0] == 'H' && w[1] == 'E' && w[2] == 'A' && w[3] == 'D')
			m = HTTPLAT_M_HEAD;
		else if (w[0] == 'P' && w[1] == 'O' && w[2] == 'S' && w[3] == 'T')
			m = HTTPLAT_M_POST;
		break;
	case 5:
		if (w[0] == 'P' && w[1] == 'A' && w[2] == 'T')
			m = HTTPLAT_M_PATCH;
		else if (w[0] == 'T' && w[1] == 'R' && w[2] == 'A')
			m = HTTPLAT_M_TRACE;
		break;
	case 6:
		if (w[0] == 'D' && w[1] == 'E' && w[2] == 'L')
			m = HTTPLAT_M_DELETE;
		break;
	case 7:
		if (w[0] == 'O' && w[1] == 'P' && w[2] == 'T')
			m = HTTPLAT_M_OPTIONS;
		else if (w[0] == 'C' && w[1] == 'O' && w[2] == 'N')
			m = HTTPLAT_M_CONNECT;
		break;
	}
	*mlen = i;
	return m;
}

/*
 * The header of a TLS record (RFC 8446 5.1): change_cipher_spec, alert,
 * handshake or application_data (20..23), version 3.x. No request line
 * starts with those bytes.
 */
static __always_inline int http__tls_record(const __u8 *w, __u32 len)
{
	return len >= 3 && w[0] >= 20 && w[0] <= 23 && w[1] == 3 && w[2] <= 4;
}

/* "HTTP/1.x NNN": status code and version (10/11), or -1. */
static __always_inline int http__status(const __u8 *w, __u32 len, __u16 *status, __u8 *version)
{
	__u16 s = 0;

	if (len < 12)
		return -1;
	if (w[0] != 'H' || w[1] != 'T' || w[2] != 'T' || w[3] != 'P' || w[4] != '/' ||
	    w[5] != '1' || w[6] != '.' || (w[7] != '0' && w[7] != '1') || w[8] != ' ')
		return -1;
	for (int i = 9; i < 12; i++) {
		__u8 c = w[i];

		if (c < '0' || c > '9')
			return -1;
		s = s * 10 + (c - '0');
	}
	if (s < 100 || s > 599)
		return -1;
	*status = s;
	*version = w[7] == '1' ? 11 : 10;
	return 0;
}

/*
 * HTTP version at the end of a request line "... HTTP/1.x", given the
 * bytes before the '\r' (tail must hold the last 8 bytes of the line).
 */
static __always_inline __u8 http__line_version(const __u8 *tail8)
{
	if (tail8[0] == 'H' && tail8[1] == 'T' && tail8[2] == 'T' && tail8[3] == 'P' &&
	    tail8[4] == '/' && tail8[5] == '1' && tail8[6] == '.')
		return tail8[7] == '0' ? 10 : tail8[7] == '1' ? 11 : 0;
	return 0;
}

/* ---- head DFA: finds the end of the header block, Content-Length and chunked ---- */

enum http_head_state {
	HH_FIRST = 0, /* in the request/status line */
	HH_LINE,      /* at the start of a header line */
	HH_NAME,      /* matching a header name we care about */
	HH_CL,	      /* in a Content-Length value */
	HH_TE,	      /* in a Transfer-Encoding value */
	HH_SKIP,      /* skipping to the end of the line */
	HH_END_LF,    /* saw "\r" on an empty line */
	HH_DONE,      /* head complete */
};

#define HH_F_CL 1	 /* Content-Length seen */
#define HH_F_CHUNKED 2	 /* Transfer-Encoding: chunked */
#define HH_F_BAD_CL 4	 /* unparsable or conflicting Content-Length */
#define HH_NAME_CL 1
#define HH_NAME_TE 2

struct http_head {
	__u64 clen;	/* Content-Length value */
	__u32 first_len; /* length of the first line, without CRLF (capped) */
	__u8 state;	/* enum http_head_state */
	__u8 match;	/* bytes of the header name matched so far */
	__u8 which;	/* HH_NAME_* */
	__u8 flags;	/* HH_F_* */
	__u8 te;	/* bytes of "chunked" matched in the TE value */
	__u8 cl_digits; /* digits in this Content-Length value */
	__u8 _pad[6];
};

static __always_inline __u8 hp__lower(__u8 c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static __always_inline __u8 hp__name_char(__u8 which, __u32 i)
{
	/* "content-length:" and "transfer-encoding:", lower case */
	if (which == HH_NAME_CL) {
		switch (i) {
		case 0: return 'c';
		case 1: return 'o';
		case 2: return 'n';
		case 3: return 't';
		case 4: return 'e';
		case 5: return 'n';
		case 6: return 't';
		case 7: return '-';
		case 8: return 'l';
		case 9: return 'e';
		case 10: return 'n';
		case 11: return 'g';
		case 12: return 't';
		case 13: return 'h';
		case 14: return ':';
		}
		return 0;
	}
	switch (i) {
	case 0: return 't';
	case 1: return 'r';
	case 2: return 'a';
	case 3: return 'n';
	case 4: return 's';
	case 5: return 'f';
	case 6: return 'e';
	case 7: return 'r';
	case 8: return '-';
	case 9: return 'e';
	case 10: return 'n';
	case 11: return 'c';
	case 12: return 'o';
	case 13: return 'd';
	case 14: return 'i';
	case 15: return 'n';
	case 16: return 'g';
	case 17: return ':';
	}
	return 0;
}

static __always_inline __u8 hp__chunked_char(__u32 i)
{
	switch (i) {
	case 0: return 'c';
	case 1: return 'h';
	case 2: return 'u';
	case 3: return 'n';
	case 4: return 'k';
	case 5: return 'e';
	case 6: return 'd';
	}
	return 0;
}

/*
 * Index (0-7) of the first '\r' or '\n' among the 8 bytes at w[pos], 8 if
 * none (pos + 8 <= valid length). SWAR zero-byte test: a borrow can only
 * mark bytes after a real match, so the lowest marked byte is exact.
 */
static __always_inline __u32 hp__crlf_index8(const __u8 *w, __u32 pos)
{
	__u64 v, a, b, m;
	__u32 i = 0;

	__builtin_memcpy(&v, &w[pos & HP_MASK], 8);
	a = v ^ 0x0a0a0a0a0a0a0a0aULL;
	b = v ^ 0x0d0d0d0d0d0d0d0dULL;
	m = (((a - 0x0101010101010101ULL) & ~a) | ((b - 0x0101010101010101ULL) & ~b)) &
	    0x8080808080808080ULL;
	if (!m)
		return 8;
	m &= -m;
	if (!(m & 0x80808080ULL)) {
		i += 4;
		m >>= 32;
	}
	if (!(m & 0x8080ULL)) {
		i += 2;
		m >>= 16;
	}
	if (!(m & 0x80ULL))
		i += 1;
	return i;
}

/* Little-endian 8-byte constant from characters (BPF and its hosts are little-endian). */
#define HP_LE8(a, b, c, d, e, f, g, h)                                                     \
	((__u64)(a) | (__u64)(b) << 8 | (__u64)(c) << 16 | (__u64)(d) << 24 |             \
	 (__u64)(e) << 32 | (__u64)(f) << 40 | (__u64)(g) << 48 | (__u64)(h) << 56)
#define HP_LOWER8 0x2020202020202020ULL /* ORing 0x20 lowers letters, keeps "-: " */

static __always_inline void hh__begin_value(struct http_head *h, __u8 which)
{
	if (which == HH_NAME_CL) {
		if (h->flags & HH_F_CL)
			h->flags |= HH_F_BAD_CL; /* repeated: RFC 9112 says reject */
		h->flags |= HH_F_CL;
		h->clen = 0;
		h->cl_digits = 0;
		h->state = HH_CL;
	} else {
		h->te = 0;
		h->state = HH_TE;
	}
}

static __always_inline __u64 hp__load8(const __u8 *w, __u32 pos)
{
	__u64 v = 0;

	__builtin_memcpy(&v, &w[pos & HP_MASK], 8);
	return v;
}

/*
 * At the start of a header line with 24 bytes in view: decides the line in
 * one step by comparing words (most lines are skipped at once).
 */
static __always_inline void hh__line_fast(struct http_head *h, const __u8 *w, __u32 *pos)
{
	__u32 p = *pos;
	__u64 a = hp__load8(w, p) | HP_LOWER8;
	__u64 b = hp__load8(w, p + 8) | HP_LOWER8;

	if (a == HP_LE8('c', 'o', 'n', 't', 'e', 'n', 't', '-')) {
		if ((b & 0x00ffffffffffffffULL) == HP_LE8('l', 'e', 'n', 'g', 't', 'h', ':', 0)) {
			hh__begin_value(h, HH_NAME_CL);
			*pos = p + 15;
			return;
		}
		h->state = HH_SKIP;
		*pos = p + 8;
		return;
	}
	if (a == HP_LE8('t', 'r', 'a', 'n', 's', 'f', 'e', 'r') &&
	    b == HP_LE8('-', 'e', 'n', 'c', 'o', 'd', 'i', 'n') &&
	    ((hp__load8(w, p + 16) | HP_LOWER8) & 0xffff) == HP_LE8('g', ':', 0, 0, 0, 0, 0, 0)) {
		hh__begin_value(h, HH_NAME_TE);
		*pos = p + 18;
		return;
	}
	h->state = HH_SKIP;
	*pos = p + 1;
}

/*
 * One step of the head DFA over w[*pos]; consumes 1 byte, or several when
 * skipping a line or deciding a header name by words. Returns 1 once the
 * head is done. The caller stops when *pos reaches len.
 */
static __always_inline int http_head__step(struct http_head *h, const __u8 *w, __u32 *pos,
					   __u32 len)
{
	__u32 p = *pos;
	__u8 c;

	if ((h->state == HH_SKIP || h->state == HH_FIRST) && p + 8 <= len) {
		/* jump to the end of the line a word at a time, up to four words a step */
		__u32 i = 8, skipped = 0;

#ifdef __bpf__
#pragma unroll
#endif
		for (int k = 0; k < 4; k++) {
			if (p + skipped + 8 > len)
				break;
			i = hp__crlf_index8(w, p + skipped);
			if (i < 8)
				break;
			skipped += 8;
		}
		if (i < 8) {
			__u32 e = p + skipped + i;

			if (e + 2 <= len && w[e & HP_MASK] == '\r' && w[(e + 1) & HP_MASK] == '\n') {
				/* the line ends here with CRLF: on to the next line in one step */
				if (h->state == HH_FIRST)
					h->first_len += skipped + i;
				h->state = HH_LINE;
				*pos = e + 2;
				return 0;
			}
			skipped += i;
		}
		if (skipped) {
			if (h->state == HH_FIRST)
				h->first_len += skipped;
			*pos = p + skipped;
			return 0;
		}
	}
	c = w[p & HP_MASK];
	if (h->state == HH_LINE && c == '\r' && p + 2 <= len && w[(p + 1) & HP_MASK] == '\n') {
		*pos = p + 2; /* the empty line: the head is complete */
		h->state = HH_DONE;
		return 1;
	}
	if (h->state == HH_LINE && p + 24 <= len && c != '\r' && c != '\n') {
		hh__line_fast(h, w, pos);
		return 0;
	}
	*pos = p + 1;
	switch (h->state) {
	case HH_FIRST:
		if (c == '\n')
			h->state = HH_LINE;
		else if (c != '\r')
			h->first_len++;
		return 0;
	case HH_LINE:
		if (c == '\r') {
			h->state = HH_END_LF;
		} else if (c == '\n') {
			h->state = HH_DONE;
			return 1;
		} else if (hp__lower(c) == 'c') {
			h->state = HH_NAME, h->which = HH_NAME_CL, h->match = 1;
		} else if (hp__lower(c) == 't') {
			h->state = HH_NAME, h->which = HH_NAME_TE, h->match = 1;
		} else {
			h->state = HH_SKIP;
		}
		return 0;
	case HH_END_LF:
		h->state = HH_DONE;
		return 1;
	case HH_NAME:
		if (c == '\n') {
			h->state = HH_LINE;
		} else if (hp__lower(c) != hp__name_char(h->which, h->match)) {
			h->state = HH_SKIP;
		} else if (c == ':') {
			hh__begin_value(h, h->which);
		} else {
			h->match++;
		}
		return 0;
	case HH_CL:
		if (c == '\n') {
			if (!h->cl_digits)
				h->flags |= HH_F_BAD_CL;
			h->state = HH_LINE;
		} else if (c >= '0' && c <= '9') {
			if (h->cl_digits++ > 15)
				h->flags |= HH_F_BAD_CL;
			else
				h->clen = h->clen * 10 + (c - '0');
		} else if (c != ' ' && c != '\t' && c != '\r') {
			h->flags |= HH_F_BAD_CL;
			h->state = HH_SKIP;
		}
		return 0;
	case HH_TE:
		if (c == '\n') {
			h->state = HH_LINE;
		} else if (h->te < 7 && hp__lower(c) == hp__chunked_char(h->te)) {
			if (++h->te == 7)
				h->flags |= HH_F_CHUNKED;
		} else {
			h->te = hp__lower(c) == 'c' ? 1 : 0;
		}
		return 0;
	case HH_SKIP:
		if (c == '\n')
			h->state = HH_LINE;
		return 0;
	}
	return 1;
}

/* ---- chunked-body DFA: follows chunk sizes to the terminating empty chunk ---- */

enum http_chunk_state {
	CK_SIZE = 0,   /* hex digits of a chunk size */
	CK_EXT,	       /* chunk extension, to the end of the line */
	CK_DATA,       /* chunk data: left bytes to skip */
	CK_DATA_CR,    /* the CRLF after chunk data */
	CK_DATA_LF,
	CK_TRAILER,    /* at the start of a trailer line (after the 0 chunk) */
	CK_TRAILER_SKIP,
	CK_END_LF,
	CK_DONE,
	CK_BAD,
};

struct http_chunk {
	__u64 left;   /* data bytes left in this chunk */
	__u64 size;   /* chunk size being parsed */
	__u8 state;   /* enum http_chunk_state */
	__u8 digits;
	__u8 _pad[6];
};

static __always_inline int hp__hex(__u8 c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = hp__lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * One step of the chunk DFA at w[*pos] (len valid bytes). Chunk data is
 * skipped in one step, possibly past len: the caller then moves its window
 * to *pos. Returns 1 when done (CK_DONE) or broken (CK_BAD).
 */
static __always_inline int http_chunk__step(struct http_chunk *k, const __u8 *w, __u32 *pos,
					    __u32 len)
{
	__u32 p = *pos;
	__u8 c;
	int d;

	if (k->state == CK_DATA) {
		__u64 avail = len - p;

		if (k->left > avail) {
			k->left -= avail;
			*pos = len;
		} else {
			*pos = p + (__u32)k->left;
			k->left = 0;
			k->state = CK_DATA_CR;
		}
		return 0;
	}
	c = w[p & HP_MASK];
	*pos = p + 1;
	switch (k->state) {
	case CK_SIZE:
		d = hp__hex(c);
		if (d >= 0 && k->digits < 15) {
			k->size = (k->size << 4) | (__u64)d;
			k->digits++;
			return 0;
		}
		if (!k->digits) {
			k->state = CK_BAD;
			return 1;
		}
		if (c == '\n')
			goto size_done;
		if (c == ';' || c == ' ' || c == '\t' || c == '\r') {
			k->state = CK_EXT;
			return 0;
		}
		k->state = CK_BAD;
		return 1;
	case CK_EXT:
		if (c == '\n')
			goto size_done;
		return 0;
	case CK_DATA_CR:
		if (c == '\r') {
			k->state = CK_DATA_LF;
			return 0;
		}
		if (c != '\n') {
			k->state = CK_BAD;
			return 1;
		}
		goto next_chunk;
	case CK_DATA_LF:
		if (c != '\n') {
			k->state = CK_BAD;
			return 1;
		}
		goto next_chunk;
	case CK_TRAILER:
		if (c == '\r')
			k->state = CK_END_LF;
		else if (c == '\n')
			goto done;
		else
			k->state = CK_TRAILER_SKIP;
		return 0;
	case CK_TRAILER_SKIP:
		if (c == '\n')
			k->state = CK_TRAILER;
		return 0;
	case CK_END_LF:
		if (c == '\n')
			goto done;
		k->state = CK_BAD;
		return 1;
	}
	return 1;
size_done:
	if (k->size == 0) {
		k->state = CK_TRAILER;
		return 0;
	}
	k->left = k->size;
	k->state = CK_DATA;
	return 0;
next_chunk:
	k->size = 0;
	k->digits = 0;
	k->state = CK_SIZE;
	return 0;
done:
	k->state = CK_DONE;
	return 1;
}

#endif /* HTTPLAT_HTTP_PARSE_H */
