// SPDX-License-Identifier: GPL-2.0
/*
 * allocstat-run --json.  The schema is documented in allocstat-run.md;
 * in short:
 *
 * {
 *   "schema": "allocstat-run/1",
 *   "config": { "mode", "threads", "size", "method", "block", "touch",
 *               "repeat", "arena_max", "mmap_threshold", "top_pad",
 *               "glibc_tunables", "file",
 *               "page_size", "cpus", "thp", "memory_estimate", "pmd_size",
 *               "pmd_size_guessed" },
 *   "warnings": [ string ],
 *   "module": { "loaded", "path", "reason", "version", "kernel", "hooks",
 *               "dropped", "missed" },
 *   "runs": [ { "label", "method", "block", "top_pad", "threads", "rep", "median",
 *               "wall_ns", "max_rss", "counters",
 *               "breakdown": { "thread_ns", "cpu_ns", "zero_ns", "fault_ns",
 *                              "lock_wait_ns", "cpu_wait_ns", "other_ns",
 *                              "scaled" },
 *               "per_thread": [ { "index", "tid", "alloc_ns", "touch_ns",
 *                                 "free_ns", "cpu_ns", "minflt", "majflt",
 *                                 "matched",
 *                                 <every /proc/allocstat counter column:
 *                                  the thread's delta, null if absent> } ] } ],
 *   "sweep":   [ { "threads", "run", "ideal_wall_ns", "wall_slowdown",
 *                  "thread_slowdown" } ] or null,
 *   "compare": [ { "rank", "run", "label", "wall_ns", "wall_min_ns",
 *                  "wall_max_ns", "within_spread" } ] or null
 * }
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "allocstat-run.h"

static void jstr(FILE *out, const char *s)
{
	if (!s) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void ju64(FILE *out, const char *key, uint64_t v, bool comma)
{
	fprintf(out, "\"%s\": %llu%s", key, (unsigned long long)v, comma ? ", " : "");
}

/* "key": v, or "key": null when v is negative (not set) */
static void jlong(FILE *out, const char *key, long v)
{
	if (v >= 0)
		fprintf(out, "\"%s\": %ld, ", key, v);
	else
		fprintf(out, "\"%s\": null, ", key);
}

static void config_json(FILE *out, const struct module_info *mi)
{
	static const char *const modes[] = { "single", "sweep", "compare" };

	fprintf(out, "  \"config\": {\"mode\": \"%s\", \"threads\": %d, ",
		modes[env.mode], env.threads);
	ju64(out, "size", env.size, true);
	fprintf(out, "\"method\": \"%s\", ", method_names[env.method]);
	ju64(out, "block", env.block, true);
	fprintf(out, "\"touch\": \"%s\", \"repeat\": %d, ", touch_names[env.touch],
		env.repeat);
	if (env.arena_max)
		fprintf(out, "\"arena_max\": %d, ", env.arena_max);
	else
		fputs("\"arena_max\": null, ", out);
	jlong(out, "mmap_threshold", env.mmap_threshold);
	jlong(out, "top_pad", env.top_pad);
	fputs("\"glibc_tunables\": ", out);
	jstr(out, getenv("GLIBC_TUNABLES"));
	fputs(", ", out);
	fputs("\"file\": ", out);
	jstr(out, env.file);
	fprintf(out, ", \"page_size\": %ld, \"cpus\": %d, \"thp\": %s, ",
		sysconf(_SC_PAGESIZE), online_cpus(), thp_available() ? "true" : "false");
	ju64(out, "memory_estimate", env.memory_estimate, true);
	ju64(out, "pmd_size", env.pmd_size, true);
	fprintf(out, "\"pmd_size_guessed\": %s},\n", env.pmd_size_guessed ? "true" : "false");
	fputs("  \"warnings\": [", out);
	for (int i = 0; i < nr_warnings; i++) {
		jstr(out, warnings[i]);
		if (i + 1 < nr_warnings)
			fputs(", ", out);
	}
	fputs("],\n", out);

	fputs("  \"module\": {\"loaded\": ", out);
	fputs(mi->loaded ? "true" : "false", out);
	fputs(", \"path\": ", out);
	jstr(out, mi->path);
	fputs(", \"reason\": ", out);
	jstr(out, mi->loaded ? NULL : mi->why);
	if (mi->loaded) {
		const char *p = mi->first.hooks;

		fputs(", \"version\": ", out);
		jstr(out, mi->first.version);
		fputs(", \"kernel\": ", out);
		jstr(out, mi->first.kernel);
		fputs(", \"hooks\": [", out);
		while (*p) {
			size_t l = strcspn(p, ",");
			char name[64];

			snprintf(name, sizeof(name), "%.*s", (int)l, p);
			jstr(out, name);
			p += l;
			if (*p == ',' && *++p)
				fputs(", ", out);
		}
		fprintf(out, "], \"dropped\": %llu, \"missed\": %llu",
			(unsigned long long)mi->first.dropped,
			(unsigned long long)mi->first.missed);
	} else {
		fputs(", \"version\": null, \"kernel\": null, \"hooks\": null, "
		      "\"dropped\": null, \"missed\": null", out);
	}
	fputs("},\n", out);
}

static void thread_json(FILE *out, const struct thread_result *t, bool counters)
{
	fprintf(out, "        {\"index\": %d, \"tid\": %d, ", t->index, (int)t->tid);
	ju64(out, "alloc_ns", t->alloc_ns, true);
	ju64(out, "touch_ns", t->touch_ns, true);
	ju64(out, "free_ns", t->free_ns, true);
	ju64(out, "cpu_ns", t->cpu_ns, true);
	fprintf(out, "\"minflt\": %ld, \"majflt\": %ld, \"matched\": %s", t->minflt,
		t->majflt, counters && t->matched ? "true" : "false");
	for (int f = 0; f < ALLOCSTAT_NR_FIELDS; f++) {
		if (counters && (t->present & (1u << f)))
			fprintf(out, ", \"%s\": %llu", allocstat_field_name(f),
				(unsigned long long)t->val[f]);
		else
			fprintf(out, ", \"%s\": null", allocstat_field_name(f));
	}
	fputc('}', out);
}

static void run_json(FILE *out, const struct run *r, bool median)
{
	const struct breakdown *bd = &r->bd;
	char label[48];

	fputs("    {\"label\": ", out);
	jstr(out, config_label(&r->cfg, label, sizeof(label)));
	fprintf(out, ", \"method\": \"%s\", ", method_names[r->cfg.method]);
	ju64(out, "block", r->cfg.block, true);
	jlong(out, "top_pad", config_top_pad(&r->cfg));
	fprintf(out, "\"threads\": %d, \"rep\": %d, \"median\": %s, ", r->cfg.threads,
		r->rep, median ? "true" : "false");
	ju64(out, "wall_ns", r->wall_ns, true);
	ju64(out, "max_rss", r->max_rss, true);
	fprintf(out, "\"counters\": %s,\n", r->counters ? "true" : "false");
	fputs("      \"breakdown\": {", out);
	ju64(out, "thread_ns", bd->thread_ns, true);
	ju64(out, "cpu_ns", bd->cpu_ns, true);
	for (int p = 0; p < NR_PARTS; p++) {
		if (parts[p].needs_module && !r->counters)
			fprintf(out, "\"%s\": null, ", parts[p].key);
		else
			ju64(out, parts[p].key, bd->part[p], true);
	}
	fprintf(out, "\"scaled\": %s},\n", bd->scaled ? "true" : "false");
	fputs("      \"per_thread\": [\n", out);
	for (int i = 0; i < r->cfg.threads; i++) {
		thread_json(out, &r->thr[i], r->counters);
		fputs(i + 1 < r->cfg.threads ? ",\n" : "\n", out);
	}
	fputs("      ]}", out);
}

void json_write(FILE *out, const struct module_info *mi, struct run *runs,
		int nruns, struct run **best, int nbest)
{
	bool within[MAX_CONFIGS];
	int order[MAX_CONFIGS];

	fputs("{\n  \"schema\": \"allocstat-run/1\",\n", out);
	config_json(out, mi);
	fputs("  \"runs\": [\n", out);
	for (int i = 0; i < nruns; i++) {
		bool median = false;

		for (int k = 0; k < nbest; k++)
			median |= best[k] == &runs[i];
		run_json(out, &runs[i], median);
		fputs(i + 1 < nruns ? ",\n" : "\n", out);
	}
	fputs("  ],\n  \"sweep\": ", out);
	if (env.mode == MODE_SWEEP) {
		fputs("[\n", out);
		for (int i = 0; i < nbest; i++)
			fprintf(out, "    {\"threads\": %d, \"run\": %d, \"ideal_wall_ns\": %.0f, "
				"\"wall_slowdown\": %.4f, \"thread_slowdown\": %.4f}%s\n",
				best[i]->cfg.threads, (int)(best[i] - runs),
				ideal_wall_ns(best[0], best[i]->cfg.threads),
				sweep_wall_slowdown(best, i), sweep_thread_slowdown(best, i),
				i + 1 < nbest ? "," : "");
		fputs("  ]", out);
	} else {
		fputs("null", out);
	}
	fputs(",\n  \"compare\": ", out);
	if (env.mode == MODE_COMPARE) {
		char label[48];

		compare_order(best, nbest, order, within);
		fputs("[\n", out);
		for (int k = 0; k < nbest; k++) {
			const struct run *r = best[order[k]];

			fprintf(out, "    {\"rank\": %d, \"run\": %d, \"label\": ", k + 1,
				(int)(r - runs));
			jstr(out, config_label(&r->cfg, label, sizeof(label)));
			fprintf(out, ", \"wall_ns\": %llu, \"wall_min_ns\": %llu, "
				"\"wall_max_ns\": %llu, \"within_spread\": %s",
				(unsigned long long)r->wall_ns,
				(unsigned long long)r->wall_min_ns,
				(unsigned long long)r->wall_max_ns,
				within[k] ? "true" : "false");
			fputs(k + 1 < nbest ? "},\n" : "}\n", out);
		}
		fputs("  ]", out);
	} else {
		fputs("null", out);
	}
	fputs("\n}\n", out);
}
