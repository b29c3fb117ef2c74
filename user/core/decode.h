/* decode.h: kernel request events -> struct record (pure; unit-tested without a kernel). */
#ifndef HTTPLAT_DECODE_H
#define HTTPLAT_DECODE_H

#include <linux/types.h>
#include <stdint.h>

#include "httplat.h"
#include "record.h"

struct classifier;

/*
 * Fills r from e. mono_to_real_ns converts the kernel's CLOCK_MONOTONIC
 * stamps to wall-clock time. c may be NULL (default API labels and ids).
 * Returns 0, or -EINVAL for a record that is too short or inconsistent.
 */
int decode__request(const struct httplat_request_event *e, size_t size, int64_t mono_to_real_ns,
		    const struct classifier *c, struct record *r);

/* Names of HTTPLAT_F_* / RECORD_F_* flag bits, for --json and logs; NULL past the end. */
const char *decode__flag_name(int bit);

#endif
