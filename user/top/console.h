/* console.h: the full-screen ncurses view of `httplat top`: tables, colours, keys, details. */
#ifndef HTTPLAT_CONSOLE_H
#define HTTPLAT_CONSOLE_H

#include "agg.h"
#include "topfmt.h"

#define CONSOLE_FILTER_MAX 64

/* Which requests the tables count: all, only those over TLS (record.tls), only plaintext. */
enum console_tls { CONSOLE_TLS_ALL, CONSOLE_TLS_ONLY, CONSOLE_TLS_NONE, CONSOLE_TLS_N };

/* "all", "tls", "plain": the --tls values and what the view line shows. */
const char *console_tls__name(int tls);
/* --tls VALUE: 0 and *tls set, or -EINVAL. */
int console_tls__parse(const char *s, int *tls);

/* What the person chose; changed only by console__key, so it is testable without a terminal. */
struct console_view {
	int sort_col; /* enum top_col */
	int reverse;
	int paused;
	int routes;   /* per-route table instead of per-API */
	int detail;   /* histogram and sparklines of the selected row */
	int selected; /* row index in the shown (sorted, filtered) table */
	int hscroll;  /* scrollable columns hidden on the left */
	int editing;  /* typing a filter */
	int quit;
	int tls; /* enum console_tls: which connections the tables count */
	char filter[CONSOLE_FILTER_MAX];
	char edit[CONSOLE_FILTER_MAX];
};

void console_view__init(struct console_view *v);
/*
 * Applies one key (a character or an ncurses KEY_* code) for a table of
 * nrows rows. Returns 1 when the screen must be redrawn, 0 otherwise.
 */
int console__key(struct console_view *v, int key, int nrows);
/* The help line for the current mode. */
const char *console__help(const struct console_view *v);

struct console;

/* Takes over the terminal (initscr); NULL and errno when there is none. */
struct console *console__open(const struct top_thresholds *t);
/* Gives the terminal back; NULL-safe. */
void console__close(struct console *c);
/* Takes new rows from a (unless paused) and redraws everything. */
void console__update(struct console *c, const struct agg *a, const struct top_header *h);
/* Handles pending keys without waiting; returns 1 when the person asked to quit. */
int console__input(struct console *c, const struct agg *a);
/* The view (the table's TLS choice, for the caller to pick the aggregation it shows). */
const struct console_view *console__view(const struct console *c);
/* Starts the view with this TLS choice (from --tls). */
void console__set_tls(struct console *c, int tls);

#endif
