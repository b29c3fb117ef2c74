/* parse.h: numbers, sizes and durations as a user types them (flags, the config file). */
#ifndef HTTPLAT_PARSE_H
#define HTTPLAT_PARSE_H

#include <stdint.h>

/* A whole decimal in [min, max]: "42". 0 or -EINVAL. */
int parse__long(const char *s, long min, long max, long *out);
/* A finite number in [min, max]: "0.25", "1e3". 0 or -EINVAL. */
int parse__double(const char *s, double min, double max, double *out);
/* Bytes: "65536", "64K", "512M", "2G" (powers of 1024, an optional B). 0 or -EINVAL. */
int parse__size(const char *s, uint64_t *out);
/* A duration: "90" (seconds), "90s", "1500ms", "2.5s", "5m", "1h" -> ms. 0 or -EINVAL. */
int parse__duration_ms(const char *s, long long *ms);
/* A duration in [min_s, max_s] seconds, as parse__duration_ms but to the microsecond: "0.5",
 * "250ms". */
int parse__seconds(const char *s, double min_s, double max_s, double *out);

#endif
