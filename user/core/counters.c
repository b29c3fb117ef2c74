/* counters.c: names and kinds of the kernel counters, generated from HTTPLAT_COUNTERS. */
#include <linux/types.h>

#include "counters.h"
#include "httplat.h"

#define COUNTER_NAME(name, column, kind, doc) [HTTPLAT_C_##name] = #column,
static const char *const names[HTTPLAT_C__COUNT] = {HTTPLAT_COUNTERS(COUNTER_NAME)};
#undef COUNTER_NAME
#define COUNTER_KIND(name, column, kind, doc) [HTTPLAT_C_##name] = kind,
static const unsigned char kinds[HTTPLAT_C__COUNT] = {HTTPLAT_COUNTERS(COUNTER_KIND)};
#undef COUNTER_KIND

const char *counter__name(int idx)
{
	return idx >= 0 && idx < HTTPLAT_C__COUNT ? names[idx] : "?";
}

int counter__kind(int idx)
{
	return idx >= 0 && idx < HTTPLAT_C__COUNT ? kinds[idx] : 0;
}

int counter__is_loss(int idx)
{
	return counter__kind(idx) == HTTPLAT_CK_LOSS;
}
