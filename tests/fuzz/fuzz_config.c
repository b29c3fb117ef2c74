/* fuzz_config.c: any text as /etc/httplat.conf (libinih + config.c), then the whole layering. */
#include "classify.h"
#include "config.h"
#include "fuzz.h"

static struct httplat_config cfg;

#define TERMINATED(f) (strnlen((f), sizeof(f)) < sizeof(f))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), err[512];
	struct classifier *cls;
	int ret;

	memcpy(text, data, size);
	text[size] = '\0';
	config__defaults(&cfg);
	memset(err, 'x', sizeof(err));
	ret = config__parse_string(&cfg, text, err, sizeof(err));
	FUZZ_CHECK(ret == 0 || ret == -EINVAL, "parse returned %d", ret);
	if (ret) {
		/* a reason, naming the line */
		FUZZ_CHECK(TERMINATED(err) && !strncmp(err, "config:", 7) && err[7] >= '1' &&
				   err[7] <= '9',
			   "error: %.80s", err);
		free(text);
		return 0;
	}
	FUZZ_CHECK(cfg.select.npids <= CONFIG_SELECT_MAX && cfg.select.nports <= CONFIG_SELECT_MAX &&
			   cfg.select.napi <= CONFIG_LIST_MAX && cfg.select.nroute <= CONFIG_LIST_MAX,
		   "list counts past their arrays");
	FUZZ_CHECK(TERMINATED(cfg.database.db) && TERMINATED(cfg.database.host) &&
			   TERMINATED(cfg.database.spool_dir) && TERMINATED(cfg.slack.webhook) &&
			   TERMINATED(cfg.slack.channel),
		   "a string setting is not terminated");
	/* what the file accepted, the classifier takes */
	cls = classifier__new();
	for (int i = 0; i < cfg.select.napi; i++)
		FUZZ_CHECK(TERMINATED(cfg.select.api[i]) && !classifier__add_api(cls, cfg.select.api[i]),
			   "api rule '%s' accepted by the file, refused by the classifier",
			   cfg.select.api[i]);
	for (int i = 0; i < cfg.select.nroute; i++)
		FUZZ_CHECK(TERMINATED(cfg.select.route[i]) &&
				   !classifier__add_route(cls, cfg.select.route[i]),
			   "route rule '%s' accepted by the file, refused by the classifier",
			   cfg.select.route[i]);
	classifier__free(cls);
	memset(err, 'x', sizeof(err));
	if (config__check(&cfg, err, sizeof(err)))
		FUZZ_CHECK(TERMINATED(err) && err[0], "check failed without a reason");
	free(text);
	return 0;
}
