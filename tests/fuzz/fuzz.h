/* fuzz.h: what every libFuzzer target shares: invariant checks that crash loudly, input reading. */
#ifndef HTTPLAT_FUZZ_H
#define HTTPLAT_FUZZ_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant is a crash: libFuzzer keeps the input as an artifact. */
#define FUZZ_CHECK(cond, ...)                                                              \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "invariant broken %s:%d: %s: ", __FILE__, __LINE__, \
				#cond);                                                    \
			fprintf(stderr, __VA_ARGS__);                                      \
			fputc('\n', stderr);                                               \
			abort();                                                           \
		}                                                                          \
	} while (0)

/* The input, read front to back; past its end every read gives zeros. */
struct fuzz_in {
	const uint8_t *p;
	size_t left;
};

static inline uint8_t fuzz__u8(struct fuzz_in *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static inline uint16_t fuzz__u16(struct fuzz_in *in)
{
	uint16_t v = fuzz__u8(in);

	return (uint16_t)(v | fuzz__u8(in) << 8);
}

/* Up to n bytes of the input (fewer at its end); *got says how many. */
static inline const uint8_t *fuzz__bytes(struct fuzz_in *in, size_t n, size_t *got)
{
	const uint8_t *p = in->p;

	if (n > in->left)
		n = in->left;
	in->p += n;
	in->left -= n;
	*got = n;
	return p;
}

/*
 * Splits the input at NUL bytes into at most max NUL-terminated strings (a
 * malloc'd copy the caller frees): the shape of the text targets' inputs.
 */
static inline char *fuzz__strings(const uint8_t *data, size_t size, char **v, int max, int *n)
{
	char *copy = malloc(size + 1), *s;

	*n = 0;
	if (!copy)
		return NULL;
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (s = copy; *n < max && s <= copy + size; s += strlen(s) + 1)
		v[(*n)++] = s;
	return copy;
}

/* True when s[0..n) is valid UTF-8 (RFC 3629) with no NUL. */
static inline int fuzz__valid_utf8(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		size_t k = u[i] ? text__utf8_seq(u + i, n - i) : 0;

		if (!k)
			return 0;
		i += k;
	}
	return 1;
}

#endif
