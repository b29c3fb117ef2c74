/* counters.h: the kernel counters of bpf/httplat.h's table, by index: names and kinds for reports. */
#ifndef HTTPLAT_COUNTERS_H
#define HTTPLAT_COUNTERS_H

/* The column name ("ringbuf_full"), "?" past the end. */
const char *counter__name(int idx);
/* HTTPLAT_CK_LOSS, _GIVEUP, _ODDITY or _INFO; 0 past the end. */
int counter__kind(int idx);
/* Non-zero for counters that mean lost requests or connections (not mere oddities). */
int counter__is_loss(int idx);

#endif
