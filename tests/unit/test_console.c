/* test_console.c: the keys of the `httplat top` console, without a terminal. */
#include <curses.h>
#include <errno.h>

#include "check.h"
#include "console.h"

static void type(struct console_view *v, const char *s, int nrows)
{
	for (; *s; s++)
		console__key(v, *s, nrows);
}

static void test_sort_keys(void)
{
	struct console_view v;

	console_view__init(&v);
	CHECK_INT(v.sort_col, TOP_COL_API);
	CHECK_INT(console__key(&v, '>', 5), 1);
	CHECK_INT(v.sort_col, TOP_COL_RPS); /* ROUTE is skipped in the per-API table */
	console__key(&v, '>', 5);
	CHECK_INT(v.sort_col, TOP_COL_P50);
	console__key(&v, 'r', 5);
	CHECK_INT(v.reverse, 1);
	console__key(&v, '<', 5); /* a new column starts in its natural order */
	CHECK_INT(v.reverse, 0);
	console__key(&v, '<', 5);
	console__key(&v, '<', 5);
	CHECK_INT(v.sort_col, TOP_COL_API);
	console__key(&v, '<', 5); /* stays at the edge */
	CHECK_INT(v.sort_col, TOP_COL_API);
	console__key(&v, 't', 5);
	console__key(&v, '>', 5);
	CHECK_INT(v.sort_col, TOP_COL_ROUTE);
	console__key(&v, 't', 5); /* back to APIs: ROUTE is not a column there */
	CHECK_INT(v.sort_col, TOP_COL_API);
	for (int i = 0; i < 2 * TOP_NCOLS; i++)
		console__key(&v, '>', 5);
	CHECK_INT(v.sort_col, TOP_COL_ERR);
}

static void test_filter_typing(void)
{
	struct console_view v;

	console_view__init(&v);
	console__key(&v, '/', 5);
	CHECK_INT(v.editing, 1);
	type(&v, "modx", 5);
	console__key(&v, KEY_BACKSPACE, 5);
	CHECK_STR(v.edit, "mod");
	CHECK_STR(v.filter, ""); /* not applied before Enter */
	type(&v, "q", 5);	 /* q is text while typing, not quit */
	CHECK_INT(v.quit, 0);
	console__key(&v, KEY_BACKSPACE, 5);
	console__key(&v, '\n', 5);
	CHECK_INT(v.editing, 0);
	CHECK_STR(v.filter, "mod");
	console__key(&v, '/', 5);
	type(&v, "zzz", 5);
	console__key(&v, 27, 5); /* Esc while typing keeps the old filter */
	CHECK_STR(v.filter, "mod");
	console__key(&v, 27, 5); /* Esc otherwise drops it */
	CHECK_STR(v.filter, "");
	console__key(&v, '/', 5);
	for (int i = 0; i < 100; i++)
		console__key(&v, 'a', 5);
	CHECK_INT(strlen(v.edit), CONSOLE_FILTER_MAX - 1);
}

static void test_selection_and_toggles(void)
{
	struct console_view v;

	console_view__init(&v);
	console__key(&v, KEY_UP, 3);
	CHECK_INT(v.selected, 0);
	console__key(&v, KEY_DOWN, 3);
	console__key(&v, 'j', 3);
	console__key(&v, 'j', 3);
	CHECK_INT(v.selected, 2);
	console__key(&v, KEY_HOME, 3);
	CHECK_INT(v.selected, 0);
	console__key(&v, KEY_END, 3);
	CHECK_INT(v.selected, 2);
	console__key(&v, KEY_END, 0);
	CHECK_INT(v.selected, 0);
	console__key(&v, 'p', 3);
	CHECK_INT(v.paused, 1);
	console__key(&v, ' ', 3);
	CHECK_INT(v.paused, 0);
	console__key(&v, '\n', 3);
	CHECK_INT(v.detail, 1);
	console__key(&v, KEY_LEFT, 3);
	CHECK_INT(v.hscroll, 0);
	console__key(&v, KEY_RIGHT, 3);
	CHECK_INT(v.hscroll, 1);
	CHECK_INT(console__key(&v, 'x', 3), 0); /* unknown keys change nothing */
	console__key(&v, 'q', 3);
	CHECK_INT(v.quit, 1);
}

/* s: every request, only TLS ones, only plaintext ones, and round again; --tls names them. */
static void test_tls_filter(void)
{
	struct console_view v;
	int tls = -1;

	console_view__init(&v);
	CHECK_INT(v.tls, CONSOLE_TLS_ALL);
	console__key(&v, 'j', 3);
	CHECK_INT(console__key(&v, 's', 3), 1);
	CHECK_INT(v.tls, CONSOLE_TLS_ONLY);
	CHECK_INT(v.selected, 0); /* another table: the selection starts again */
	console__key(&v, 's', 3);
	CHECK_INT(v.tls, CONSOLE_TLS_NONE);
	console__key(&v, 's', 3);
	CHECK_INT(v.tls, CONSOLE_TLS_ALL);
	CHECK(strstr(console__help(&v), "s tls") != NULL);
	CHECK_INT(console_tls__parse("tls", &tls), 0);
	CHECK_INT(tls, CONSOLE_TLS_ONLY);
	CHECK_INT(console_tls__parse("plain", &tls), 0);
	CHECK_INT(tls, CONSOLE_TLS_NONE);
	CHECK_INT(console_tls__parse("https", &tls), -EINVAL);
	CHECK_STR(console_tls__name(CONSOLE_TLS_ALL), "all");
	/* typed into a filter, s is a letter */
	console__key(&v, '/', 3);
	console__key(&v, 's', 3);
	CHECK_INT(v.tls, CONSOLE_TLS_ALL);
	CHECK_STR(v.edit, "s");
}

int main(void)
{
	RUN(test_sort_keys);
	RUN(test_filter_typing);
	RUN(test_selection_and_toggles);
	RUN(test_tls_filter);
	return CHECK_DONE();
}
