/* classify.h: route templating (ids collapsed) and API labelling of request paths. */
#ifndef HTTPLAT_CLASSIFY_H
#define HTTPLAT_CLASSIFY_H

#include <stddef.h>

#define CLASSIFY_MAX_RULES 64

struct classifier;

struct classifier *classifier__new(void);
void classifier__free(struct classifier *c);
/* "/model/{id}/mesh": a "{name}" segment matches any one segment. 0 or -errno. */
int classifier__add_route(struct classifier *c, const char *pattern);
/* "NAME=/prefix": paths at or below /prefix are labelled NAME. 0 or -errno. */
int classifier__add_api(struct classifier *c, const char *spec);
/* Whether add_route / add_api would take it (the config file checks with these). 0 or -EINVAL. */
int classifier__check_route(const char *pattern);
int classifier__check_api(const char *spec);
/* Writes the route template of path (NUL-terminated) into out. */
void classifier__route(const struct classifier *c, const char *path, char *out, size_t outsz);
/* Writes the API label of path into out ("other" when nothing matches). */
void classifier__api(const struct classifier *c, const char *path, char *out, size_t outsz);
/* True when a path segment looks like an id: number, UUID, long hex/hash token. */
int classifier__is_id_segment(const char *seg, size_t len);

#endif
