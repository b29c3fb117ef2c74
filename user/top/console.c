/* console.c: the ncurses view of `httplat top`; key handling is pure (console__key). */
#include <curses.h>
#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"

#define ROWS_MAX (AGG_MAX_ROUTES + 2)
#define PAGE 10
#define PAIR_WARN 1
#define PAIR_CRIT 2
#define SPARK_MAX AGG_MAX_SLOTS
#define BAR_MAX 40
#define PIDS_MAX 64

struct console {
	SCREEN *screen;
	struct top_thresholds t;
	struct console_view v;
	struct agg_row *rows[2]; /* snapshot: [0] API rows, [1] route rows, in agg order */
	int nrows[2];
	struct agg_row *shown; /* the table on screen: filtered and sorted */
	int nshown;
	int top; /* first shown row on screen */
	char sel_api[RECORD_API_MAX], sel_route[RECORD_PATH_MAX + 1];
	struct top_header h;
	int pids[PIDS_MAX];
	uint16_t ports[TOP_MAX_PORTS];
	const struct agg *a;
	int colour;
	int ascii; /* the locale is not UTF-8: ASCII lines, bars and sparklines */
	struct agg_point pts[SPARK_MAX]; /* detail panel scratch */
	double spark_v[SPARK_MAX];
};

void console_view__init(struct console_view *v)
{
	memset(v, 0, sizeof(*v));
	v->sort_col = TOP_COL_API;
}

/* Next sortable column in direction dir, skipping ROUTE in the per-API table. */
static int next_col(const struct console_view *v, int dir)
{
	int c = v->sort_col + dir;

	if (c == TOP_COL_ROUTE && !v->routes)
		c += dir;
	if (c < 0 || c >= TOP_NCOLS)
		return v->sort_col;
	return c;
}

static int clamp(int x, int lo, int hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

static int key_edit(struct console_view *v, int key)
{
	size_t len = strlen(v->edit);

	switch (key) {
	case '\n':
	case '\r':
	case KEY_ENTER:
		memcpy(v->filter, v->edit, sizeof(v->filter));
		v->editing = 0;
		v->selected = 0;
		return 1;
	case 27: /* Esc: keep the old filter */
		v->editing = 0;
		return 1;
	case KEY_BACKSPACE:
	case 127:
	case 8:
		if (len)
			v->edit[len - 1] = '\0';
		return 1;
	default:
		if (key < 32 || key > 126 || len + 1 >= sizeof(v->edit))
			return 0;
		v->edit[len] = (char)key;
		v->edit[len + 1] = '\0';
		return 1;
	}
}

static const char *const tls_names[CONSOLE_TLS_N] = {"all", "tls", "plain"};

const char *console_tls__name(int tls)
{
	return tls >= 0 && tls < CONSOLE_TLS_N ? tls_names[tls] : "?";
}

int console_tls__parse(const char *s, int *tls)
{
	for (int i = 0; s && i < CONSOLE_TLS_N; i++)
		if (!strcmp(s, tls_names[i])) {
			*tls = i;
			return 0;
		}
	return -EINVAL;
}

int console__key(struct console_view *v, int key, int nrows)
{
	if (v->editing)
		return key_edit(v, key);
	switch (key) {
	case 'q':
	case 'Q':
		v->quit = 1;
		return 0;
	case '<':
	case '>':
		v->sort_col = next_col(v, key == '<' ? -1 : 1);
		v->reverse = 0;
		break;
	case 'r':
		v->reverse = !v->reverse;
		break;
	case '/':
		v->editing = 1;
		memcpy(v->edit, v->filter, sizeof(v->edit));
		break;
	case 27: /* Esc: drop the filter */
		v->filter[0] = '\0';
		break;
	case 'p':
	case ' ':
		v->paused = !v->paused;
		break;
	case 's': /* all -> TLS only -> plaintext only */
		v->tls = (v->tls + 1) % CONSOLE_TLS_N;
		v->selected = 0;
		break;
	case 't':
	case '\t':
		v->routes = !v->routes;
		if (v->sort_col == TOP_COL_ROUTE)
			v->sort_col = TOP_COL_API;
		v->selected = 0;
		break;
	case '\n':
	case '\r':
	case KEY_ENTER:
	case 'h':
		v->detail = !v->detail;
		break;
	case KEY_UP:
	case 'k':
		v->selected--;
		break;
	case KEY_DOWN:
	case 'j':
		v->selected++;
		break;
	case KEY_PPAGE:
		v->selected -= PAGE;
		break;
	case KEY_NPAGE:
		v->selected += PAGE;
		break;
	case KEY_HOME:
	case 'g':
		v->selected = 0;
		break;
	case KEY_END:
	case 'G':
		v->selected = nrows - 1;
		break;
	case KEY_LEFT:
		v->hscroll = v->hscroll > 0 ? v->hscroll - 1 : 0;
		break;
	case KEY_RIGHT:
		v->hscroll = clamp(v->hscroll + 1, 0, TOP_NCOLS - TOP_COL_RPS - 1);
		break;
	case KEY_RESIZE:
		break;
	default:
		return 0;
	}
	v->selected = clamp(v->selected, 0, nrows > 0 ? nrows - 1 : 0);
	return 1;
}

const char *console__help(const struct console_view *v)
{
	if (v->editing)
		return "filter by api or path substring; Enter applies, Esc cancels, empty clears";
	return "q quit  < > sort  r reverse  / filter  t routes  s tls  p pause  "
	       "up/down select  Enter histogram  left/right scroll";
}

const struct console_view *console__view(const struct console *c)
{
	return &c->v;
}

void console__set_tls(struct console *c, int tls)
{
	c->v.tls = tls >= 0 && tls < CONSOLE_TLS_N ? tls : CONSOLE_TLS_ALL;
}

struct console *console__open(const struct top_thresholds *t)
{
	struct console *c = calloc(1, sizeof(*c));
	int err = ENOMEM;

	if (!c)
		goto fail;
	c->rows[0] = calloc(ROWS_MAX, sizeof(struct agg_row));
	c->rows[1] = calloc(ROWS_MAX, sizeof(struct agg_row));
	c->shown = calloc(ROWS_MAX, sizeof(struct agg_row));
	if (!c->rows[0] || !c->rows[1] || !c->shown)
		goto fail;
	c->t = *t;
	console_view__init(&c->v);
	setlocale(LC_ALL, ""); /* UTF-8 lines, bars and sparklines where the locale has them */
	c->ascii = strcmp(nl_langinfo(CODESET), "UTF-8") != 0;
	c->screen = newterm(NULL, stdout, stdin);
	if (!c->screen) {
		err = ENOTTY;
		goto fail;
	}
	cbreak();
	noecho();
	nodelay(stdscr, TRUE);
	keypad(stdscr, TRUE);
	curs_set(0);
	set_escdelay(25);
	if (has_colors()) {
		start_color();
		use_default_colors();
		init_pair(PAIR_WARN, COLOR_YELLOW, -1);
		init_pair(PAIR_CRIT, COLOR_RED, -1);
		c->colour = 1;
	}
	return c;
fail:
	console__close(c);
	errno = err;
	return NULL;
}

void console__close(struct console *c)
{
	if (!c)
		return;
	if (c->screen) {
		endwin();
		delscreen(c->screen);
	}
	free(c->rows[0]);
	free(c->rows[1]);
	free(c->shown);
	free(c);
}

/* Rebuilds the shown table from the snapshot and keeps the selected row selected. */
static void console__prepare(struct console *c)
{
	int r = !!c->v.routes, n = c->nrows[r];

	memcpy(c->shown, c->rows[r], (size_t)n * sizeof(struct agg_row));
	n = topfmt__filter(c->shown, n, c->v.filter);
	topfmt__sort(c->shown, n, c->v.sort_col, c->v.reverse);
	c->nshown = n;
	for (int i = 0; i < n; i++) {
		if (!strcmp(c->shown[i].api, c->sel_api) &&
		    !strcmp(c->shown[i].route, c->sel_route)) {
			c->v.selected = i;
			break;
		}
	}
	c->v.selected = clamp(c->v.selected, 0, n > 0 ? n - 1 : 0);
	if (n) {
		snprintf(c->sel_api, sizeof(c->sel_api), "%s", c->shown[c->v.selected].api);
		snprintf(c->sel_route, sizeof(c->sel_route), "%s", c->shown[c->v.selected].route);
	}
}

static attr_t level_attr(const struct console *c, enum top_level l)
{
	if (l == TOP_NORMAL)
		return A_NORMAL;
	if (!c->colour)
		return l == TOP_CRIT ? A_BOLD | A_UNDERLINE : A_BOLD;
	return COLOR_PAIR(l == TOP_CRIT ? PAIR_CRIT : PAIR_WARN) | A_BOLD;
}

/* Columns on screen, left to right, and their x; returns how many fit. */
static int layout(const struct console *c, int route_w, int *colv, int *xv)
{
	int n = 0, x = 0;

	for (int col = 0; col < TOP_NCOLS; col++) {
		int w = topfmt__width(col, route_w);

		if (col == TOP_COL_ROUTE && !c->v.routes)
			continue;
		if (col >= TOP_COL_RPS && col < TOP_COL_RPS + c->v.hscroll)
			continue;
		if (x + w > COLS)
			break;
		colv[n] = col;
		xv[n++] = x;
		x += w + 1;
	}
	return n;
}

/* A horizontal rule: box-drawing in UTF-8 (line-drawing ACS shows as "q" in some terminals). */
static void draw_rule(const struct console *c, int y, int x, int len)
{
	move(y, x);
	for (int i = 0; i < len; i++)
		addstr(c->ascii ? "-" : "\u2500");
}

static void draw_cell(int y, int x, int w, int left, const char *text, attr_t attr)
{
	attron(attr);
	mvprintw(y, x, left ? "%-*.*s" : "%*.*s", w, w, text);
	attroff(attr);
}

/* "──── last 1s ────" over the visible columns of one group. */
static void draw_group(const struct console *c, int y, const int *colv, const int *xv, int n,
		       int route_w, int from, int to, const char *title)
{
	int x0 = -1, x1 = -1, len = (int)strlen(title);

	for (int i = 0; i < n; i++) {
		if (colv[i] < from || colv[i] >= to)
			continue;
		if (x0 < 0)
			x0 = xv[i];
		x1 = xv[i] + topfmt__width(colv[i], route_w);
	}
	if (x0 < 0)
		return;
	draw_rule(c, y, x0, x1 - x0);
	if (len + 2 <= x1 - x0)
		mvprintw(y, x0 + (x1 - x0 - len) / 2 - 1, " %s ", title);
}

static void draw_titles(const struct console *c, int y, const int *colv, const int *xv, int n,
			int route_w)
{
	char g1[32], g2[48];

	snprintf(g1, sizeof(g1), "last %gs", c->h.interval_s);
	snprintf(g2, sizeof(g2), "last %gs (%gs so far)", c->h.interval_s * c->h.slots,
		 c->h.interval_s * c->h.filled);
	draw_group(c, y, colv, xv, n, route_w, TOP_COL_RPS, TOP_COL_WINDOW, g1);
	draw_group(c, y, colv, xv, n, route_w, TOP_COL_WINDOW, TOP_NCOLS, g2);
	attron(A_REVERSE);
	mvhline(y + 1, 0, ' ', COLS);
	for (int i = 0; i < n; i++) {
		char t[16];
		int sorted = colv[i] == c->v.sort_col;

		snprintf(t, sizeof(t), "%s%s", topfmt__title(colv[i]),
			 sorted ? (c->v.reverse ? "^" : "v") : "");
		draw_cell(y + 1, xv[i], topfmt__width(colv[i], route_w), topfmt__is_text(colv[i]),
			  t, sorted ? A_BOLD | A_UNDERLINE : A_NORMAL);
	}
	attroff(A_REVERSE);
}

static void draw_row(const struct console *c, int y, const struct agg_row *r, int selected,
		     const int *colv, const int *xv, int n, int route_w)
{
	char cell[RECORD_PATH_MAX + 8];
	attr_t base = selected ? A_REVERSE : A_NORMAL;

	if (selected) {
		attron(A_REVERSE);
		mvhline(y, 0, ' ', COLS);
		attroff(A_REVERSE);
	}
	for (int i = 0; i < n; i++) {
		int w = topfmt__width(colv[i], route_w);
		enum top_level l = topfmt__cell(r, colv[i], &c->t, cell, sizeof(cell));

		if (colv[i] == TOP_COL_ROUTE && (int)strlen(cell) > w)
			cell[w - 1] = '~', cell[w] = '\0';
		draw_cell(y, xv[i], w, topfmt__is_text(colv[i]), cell, base | level_attr(c, l));
	}
}

/* Sparklines and latency histogram of the selected row; returns the lines used. */
static int draw_detail(struct console *c, int y, int lines)
{
	struct agg_point *pts = c->pts;
	double *v = c->spark_v;
	char spark[SPARK_MAX * 3 + 1], lo[16], hi[16];
	const struct agg_row *r = &c->shown[c->v.selected];
	struct top_bin bins[32];
	struct hist h;
	int n, nb, used = 0, width = COLS - 34;
	uint64_t most = 0;

	if (lines < 4 || width < 8)
		return 0;
	n = agg__series(c->a, r->id, pts, width < SPARK_MAX ? width : SPARK_MAX);
	draw_rule(c, y, 0, COLS);
	attron(A_BOLD);
	mvprintw(y + used++, 2, " %s %s: last %d intervals ", r->api, r->route, n);
	attroff(A_BOLD);
	for (int i = 0; i < n; i++)
		v[i] = pts[i].rps;
	topfmt__sparkline(v, n, c->ascii, spark, sizeof(spark));
	mvprintw(y + used++, 0, "req/s    %s", spark);
	for (int i = 0; i < n; i++)
		v[i] = pts[i].p95;
	topfmt__sparkline(v, n, c->ascii, spark, sizeof(spark));
	mvprintw(y + used++, 0, "p95 ms   %s", spark);
	if (agg__hist(c->a, r->id, &h))
		return used;
	nb = topfmt__bins(&h, bins, 32);
	for (int i = 0; i < nb; i++)
		if (bins[i].count > most)
			most = bins[i].count;
	mvprintw(y + used++, 0, "latency in the window (%llu requests with a response):",
		 (unsigned long long)h.count);
	for (int i = 0; i < nb && used < lines; i++) {
		int bar = (int)((bins[i].count * BAR_MAX + most - 1) / (most ? most : 1));
		/* a bin takes the colour of its lower edge, as a cell with that value would */
		enum top_level l = topfmt__level(&c->t, r->api, bins[i].lo);

		topfmt__ms(bins[i].lo, 1, lo, sizeof(lo));
		topfmt__ms(bins[i].hi, 1, hi, sizeof(hi));
		mvprintw(y + used, 0, "%8s - %-6s ms ", lo, hi);
		attron(level_attr(c, l));
		for (int k = 0; k < bar; k++)
			addstr(c->ascii ? "#" : "\u2588");
		attroff(level_attr(c, l));
		printw(" %llu", (unsigned long long)bins[i].count);
		used++;
	}
	return used;
}

/*
 * Writes text from line y, breaking between its "  "-separated fields where
 * the terminal is too narrow; with draw unset only counts. Returns lines used.
 */
static int draw_wrapped(int y, const char *text, int draw)
{
	const char *p = text;
	int x = 0, lines = 1;

	while (*p) {
		const char *sep = strstr(p, "  ");
		int len = sep ? (int)(sep - p) : (int)strlen(p);

		if (x > 0 && x + 2 + len > COLS) {
			lines++;
			x = 0;
		} else if (x > 0) {
			x += 2;
		}
		if (draw)
			mvaddnstr(y + lines - 1, x, p, len < COLS - x ? len : COLS - x);
		x += len;
		p += len;
		while (*p == ' ')
			p++;
	}
	return lines;
}

static void console__draw(struct console *c)
{
	char line[512], help[256];
	int colv[TOP_NCOLS], xv[TOP_NCOLS], n, route_w, body, detail = 0, y = 0, first, nhelp;

	console__prepare(c);
	route_w = topfmt__route_width(c->shown, c->nshown);
	erase();
	topfmt__header(&c->h, line, sizeof(line));
	y += draw_wrapped(y, line, 1);
	snprintf(line, sizeof(line),
		 "view: %s (t)  sort: %s%s  filter: %s%s%s  tls: %s (s)  rows: %d%s",
		 c->v.routes ? "per route" : "per API", topfmt__title(c->v.sort_col),
		 c->v.reverse ? " reversed" : "", c->v.filter[0] ? "\"" : "",
		 c->v.filter[0] ? c->v.filter : "none", c->v.filter[0] ? "\"" : "",
		 console_tls__name(c->v.tls), c->nshown, c->v.paused ? "  PAUSED (p resumes)" : "");
	y += draw_wrapped(y, line, 1);
	n = layout(c, route_w, colv, xv);
	draw_titles(c, y, colv, xv, n, route_w);
	y += 2;
	first = y;
	if (c->v.editing)
		snprintf(help, sizeof(help), "filter: %s_  %s", c->v.edit, console__help(&c->v));
	else
		snprintf(help, sizeof(help), "%s", console__help(&c->v));
	nhelp = draw_wrapped(0, help, 0);
	body = LINES - first - nhelp;
	if (c->v.detail && c->nshown) {
		/* the table keeps its rows up to half the screen; the panel gets the rest */
		detail = body - (c->nshown < body / 2 ? c->nshown : body / 2);
		body -= detail;
	}
	if (c->v.selected < c->top)
		c->top = c->v.selected;
	if (body > 0 && c->v.selected >= c->top + body)
		c->top = c->v.selected - body + 1;
	c->top = clamp(c->top, 0, c->nshown > 0 ? c->nshown - 1 : 0);
	for (int i = c->top; i < c->nshown && y < first + body; i++, y++)
		draw_row(c, y, &c->shown[i], i == c->v.selected, colv, xv, n, route_w);
	if (!c->nshown)
		mvaddnstr(y, 0,
			  c->v.filter[0] ? "no row matches the filter (Esc clears it)"
					 : "no requests yet",
			  COLS);
	if (detail)
		draw_detail(c, first + body, detail);
	attron(A_REVERSE);
	for (int i = 0; i < nhelp; i++)
		mvhline(LINES - nhelp + i, 0, ' ', COLS);
	draw_wrapped(LINES - nhelp, help, 1);
	attroff(A_REVERSE);
	refresh();
}

void console__update(struct console *c, const struct agg *a, const struct top_header *h)
{
	c->a = a;
	if (!c->v.paused) {
		c->h = *h;
		c->h.npids = h->npids < PIDS_MAX ? h->npids : PIDS_MAX;
		c->h.nports = h->nports < TOP_MAX_PORTS ? h->nports : TOP_MAX_PORTS;
		memcpy(c->pids, h->pids, (size_t)c->h.npids * sizeof(*c->pids));
		memcpy(c->ports, h->ports, (size_t)c->h.nports * sizeof(*c->ports));
		c->h.pids = c->pids;
		c->h.ports = c->ports;
		for (int r = 0; r < 2; r++) {
			int n = agg__rows(a, r, c->rows[r], ROWS_MAX);

			c->nrows[r] = n < ROWS_MAX ? n : ROWS_MAX;
		}
	}
	console__draw(c);
}

int console__input(struct console *c, const struct agg *a)
{
	int key, redraw = 0;

	c->a = a;
	while ((key = getch()) != ERR) {
		int before = c->v.selected;

		redraw |= console__key(&c->v, key, c->nshown);
		if (c->v.selected != before && c->v.selected < c->nshown) {
			snprintf(c->sel_api, sizeof(c->sel_api), "%s", c->shown[c->v.selected].api);
			snprintf(c->sel_route, sizeof(c->sel_route), "%s",
				 c->shown[c->v.selected].route);
		}
		if (c->v.quit)
			return 1;
	}
	if (redraw)
		console__draw(c);
	return 0;
}
