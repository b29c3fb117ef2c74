/* fuzz_classify.c: route templating and API labels of any path, under any rules. */
#include "classify.h"
#include "fuzz.h"

/* Slashes in a path: a template without rules keeps every segment. */
static int slashes(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '/';
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct classifier *rules = classifier__new(), *none = classifier__new();
	char *v[96], *copy, out[1024], again[1024], small[64], api[64];
	int nv, i = 0;

	copy = fuzz__strings(data, size, v, 96, &nv);
	if (!copy)
		goto done;
	/* rules up to the first empty string, then paths */
	for (; i < nv && v[i][0]; i++) {
		int check = strchr(v[i], '=') && v[i][0] != '/' ? classifier__check_api(v[i])
								   : classifier__check_route(v[i]);
		int add = strchr(v[i], '=') && v[i][0] != '/' ? classifier__add_api(rules, v[i])
							      : classifier__add_route(rules, v[i]);

		FUZZ_CHECK(add == check || add == -ENOSPC, "check %d, add %d for '%s'", check, add,
			   v[i]);
	}
	for (i++; i < nv; i++) {
		const char *p = v[i];
		size_t sz = 1 + (unsigned char)p[0] % sizeof(small);

		classifier__route(rules, p, out, sizeof(out));
		FUZZ_CHECK(strlen(out) < sizeof(out), "route not terminated");
		classifier__route(rules, p, small, sz);
		FUZZ_CHECK(strlen(small) < sz && !strncmp(small, out, strlen(small)),
			   "a short buffer is not a prefix");
		classifier__api(rules, p, api, sizeof(api));
		FUZZ_CHECK(api[0] && strlen(api) < sizeof(api), "no api label");
		/* without rules: ids collapse, every segment stays, and once is enough */
		classifier__route(none, p, out, sizeof(out));
		if (p[0] == '/' && strlen(p) < 200) {
			FUZZ_CHECK(slashes(out) == slashes(p), "'%s' became '%s'", p, out);
			classifier__route(none, out, again, sizeof(again));
			FUZZ_CHECK(!strcmp(out, again), "templating twice: '%s' then '%s'", out, again);
		}
	}
	free(copy);
done:
	classifier__free(rules);
	classifier__free(none);
	return 0;
}
