/* check.h: a tiny assertion runner in the style of the BPF selftests. */
#ifndef HTTPLAT_CHECK_H
#define HTTPLAT_CHECK_H

#include <stdio.h>
#include <string.h>

/* Each test is a function; a failed CHECK marks it failed and goes on. */
static int check__failed;
static int check__npass, check__nfail;

#define CHECK(cond)                                                                    \
	do {                                                                           \
		if (!(cond)) {                                                         \
			printf("  check failed %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			check__failed = 1;                                             \
		}                                                                      \
	} while (0)

#define CHECK_STR(got, want)                                                              \
	do {                                                                              \
		const char *g_ = (got), *w_ = (want);                                     \
		if (strcmp(g_, w_) != 0) {                                                \
			printf("  check failed %s:%d: %s = \"%s\", want \"%s\"\n", __FILE__, \
			       __LINE__, #got, g_, w_);                                   \
			check__failed = 1;                                                \
		}                                                                         \
	} while (0)

#define CHECK_INT(got, want)                                                                   \
	do {                                                                                   \
		long long g_ = (long long)(got), w_ = (long long)(want);                       \
		if (g_ != w_) {                                                                \
			printf("  check failed %s:%d: %s = %lld, want %lld\n", __FILE__, __LINE__, \
			       #got, g_, w_);                                                  \
			check__failed = 1;                                                     \
		}                                                                              \
	} while (0)

#define RUN(fn)                                                                  \
	do {                                                                     \
		check__failed = 0;                                               \
		fn();                                                            \
		printf("%s %s\n", check__failed ? "FAIL" : "PASS", #fn);         \
		if (check__failed)                                               \
			check__nfail++;                                          \
		else                                                             \
			check__npass++;                                          \
	} while (0)

/* Exit status: 0 when everything passed. */
#define CHECK_DONE() (check__nfail ? 1 : 0)

#endif
