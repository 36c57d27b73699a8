// SPDX-License-Identifier: GPL-2.0
/*
 * allocstat-run: formatting helpers that the workload, the reports and the
 * plan share, so that none of them depends on another for them.
 */
#include "allocstat-run.h"

/* "600MiB", "64KiB", "1.5GiB", "4096B" */
void format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (v == (double)(uint64_t)v)
		snprintf(buf, len, "%llu%s", (unsigned long long)v, units[u]);
	else
		snprintf(buf, len, "%.1f%s", v, units[u]);
}

/* a configuration's name in tables: "nothp", "malloc/64KiB,top_pad=64MiB" */
const char *config_label(const struct config *c, char *buf, size_t len)
{
	char sz[32];
	int n;

	if (!c->block) {
		n = snprintf(buf, len, "%s", method_names[c->method]);
	} else {
		format_size(c->block, sz, sizeof(sz));
		n = snprintf(buf, len, "%s/%s", method_names[c->method], sz);
	}
	if (c->top_pad && n > 0 && (size_t)n < len) {
		format_size(c->top_pad, sz, sizeof(sz));
		n += snprintf(buf + n, len - (size_t)n, ",top_pad=%s", sz);
	}
	if (c->arena_max && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, ",arena_max=%d", c->arena_max);
	return buf;
}
