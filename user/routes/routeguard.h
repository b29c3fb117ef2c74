/* routeguard.h: bounds the routes made up from raw paths when the app's own templates are unknown.
 */
#ifndef HTTPLAT_ROUTEGUARD_H
#define HTTPLAT_ROUTEGUARD_H

#include <stddef.h>
#include <stdint.h>

#define ROUTEGUARD_PARAM "{param}"
#define ROUTEGUARD_OTHER "other"
#define ROUTEGUARD_APIS 80

struct routeguard_config {
	/*
	 * Distinct values one segment position may show under the same prefix;
	 * one more and the position becomes {param} for every later request.
	 * The first segment never collapses (it names the app's top-level
	 * resources); the per-API cap bounds it instead.
	 */
	int max_values;
	int max_routes; /* distinct routes per API; later ones are "other" */
	int max_nodes;	/* memory bound: segments kept in all */
};

struct routeguard_stats {
	uint64_t collapses; /* positions turned into {param} */
	uint64_t capped;    /* requests named "other" by the per-API cap (or the memory bound) */
	int routes;	    /* distinct routes known now */
	int nodes;
};

struct routeguard;

/* Defaults: 10 values, 100 routes per API, 20000 segments. */
void routeguard_config__defaults(struct routeguard_config *c);
/* NULL and errno (EINVAL: a limit below 1). */
struct routeguard *routeguard__new(const struct routeguard_config *c);
void routeguard__free(struct routeguard *g);

/*
 * route: a path with ids already collapsed ("/user/{id}/avatar"), starting
 * with '/'. learn = 1 counts its segments (and may collapse a position) and
 * writes the route to use into out: route as is, with collapsed positions
 * as {param}, or "other" past the API's cap; returns 1, or 0 when capped.
 * learn = 0 only looks up: 1 and out set when that route is known, else 0.
 */
int routeguard__route(struct routeguard *g, const char *api, const char *route, int learn,
		      char *out, size_t outsz);
void routeguard__stats(const struct routeguard *g, struct routeguard_stats *out);

#endif
