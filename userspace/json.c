// SPDX-License-Identifier: GPL-2.0
/*
 * allocstat-run --json.  The schema is documented in allocstat-run(1)
 * (man/allocstat-run.1, section JSON); in short:
 *
 * {
 *   "schema": "allocstat-run/3",
 *   "config": { "mode", "threads", "size", "method", "block", "touch",
 *               "repeat", "loops", "arena_max", "mmap_threshold", "top_pad",
 *               "glibc_tunables", "file", "page_size", "cpus", "thp",
 *               "memory_estimate", "pmd_size", "pmd_size_guessed" },
 *   "warnings": [ string ],
 *   "module": { "loaded", "path", "reason", "version", "kernel", "hooks",
 *               "init_on_alloc" (null: not in the header), "dropped", "missed" },
 *   "runs": [ { "label", "method", "block", "top_pad", "arena_max",
 *               "threads", "rep",
 *               "median", "wall_ns", "max_rss", "counters", "table",
 *               "cpu_ns",
 *               "breakdown": { <bucket>_ns for the eight buckets (null:
 *                              unknown), "thread_ns", "lock_wait_sleep_ns",
 *                              "threads", "threads_with_rows",
 *                              "known_threads", "includes" },
 *               "findings": [ { "rule", "evidence", "fix", "saving_ns",
 *                               "basis" } ] or null,
 *               "per_thread": [ { "index", "tid", "alloc_ns", "touch_ns",
 *                                 "free_ns", "cpu_ns", "utime_ns",
 *                                 "stime_ns", "run_delay_ns", "sleep_ns",
 *                                 "minflt", "majflt", "matched",
 *                                 <every /proc/allocstat counter column:
 *                                  the thread's delta, null if absent>,
 *                                 "breakdown" } ] } ],
 *   "sweep":   [ { "threads", "run", "ideal_wall_ns", "wall_slowdown",
 *                  "thread_slowdown", "bucket_delta_ns": { bucket: ns } } ]
 *              or null,
 *   "compare": [ { "rank", "run", "label", "wall_ns", "wall_min_ns",
 *                  "wall_max_ns", "within_spread" } ] or null
 * }
 *
 * A key means one thing everywhere: the per-thread keys named after
 * /proc/allocstat's columns hold those columns' deltas, and the breakdown's
 * buckets have names of their own.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "allocstat-run.h"

/*
 * Length of the UTF-8 sequence at s (Unicode's table 3-7: no overlong
 * forms, no surrogates, nothing above U+10FFFF): n > 0 for a whole valid
 * one; -n for an invalid one, n being its longest valid start (at least
 * one byte), which becomes one U+FFFD.
 */
static int utf8_seq(const unsigned char *s)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	int n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return -1;
	}
	for (int i = 1; i < n; i++) {
		if (s[i] < lo || s[i] > hi)
			return -i;
		lo = 0x80;
		hi = 0xbf;
	}
	return n;
}

/*
 * A JSON string, or null.  Valid UTF-8 passes through as it is; a byte
 * that is not part of valid UTF-8 (a path or comm in another encoding)
 * becomes U+FFFD; '"', '\\' and control characters are escaped.
 */
void json_string(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (!s) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	while (*p) {
		int n = utf8_seq(p);

		if (n < 0) {
			fputs("\\ufffd", out);
			p -= n;
		} else if (n > 1) {
			fwrite(p, 1, (size_t)n, out);
			p += n;
		} else {
			if (*p == '"' || *p == '\\')
				fprintf(out, "\\%c", *p);
			else if (*p == '\n')
				fputs("\\n", out);
			else if (*p == '\t')
				fputs("\\t", out);
			else if (*p < 0x20 || *p == 0x7f)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
			p++;
		}
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

static void module_json(FILE *out, const struct module_info *mi);

static void config_json(FILE *out, const struct module_info *mi)
{
	static const char *const modes[] = { "single", "sweep", "compare" };

	fprintf(out, "  \"config\": {\"mode\": \"%s\", \"threads\": %d, ",
		modes[env.mode], env.threads);
	ju64(out, "size", env.size, true);
	fprintf(out, "\"method\": \"%s\", ", method_names[env.method]);
	ju64(out, "block", env.block, true);
	fprintf(out, "\"touch\": \"%s\", \"repeat\": %d, \"loops\": %d, ",
		touch_names[env.touch], env.repeat, env.loops);
	if (env.arena_max)
		fprintf(out, "\"arena_max\": %d, ", env.arena_max);
	else
		fputs("\"arena_max\": null, ", out);
	jlong(out, "mmap_threshold", env.mmap_threshold);
	jlong(out, "top_pad", env.top_pad);
	fputs("\"glibc_tunables\": ", out);
	json_string(out, getenv("GLIBC_TUNABLES"));
	fputs(", ", out);
	fputs("\"file\": ", out);
	json_string(out, env.file);
	fprintf(out, ", \"page_size\": %ld, \"cpus\": %d, \"thp\": %s, ",
		sysconf(_SC_PAGESIZE), online_cpus(), thp_available() ? "true" : "false");
	ju64(out, "memory_estimate", env.memory_estimate, true);
	ju64(out, "pmd_size", env.pmd_size, true);
	fprintf(out, "\"pmd_size_guessed\": %s},\n", env.pmd_size_guessed ? "true" : "false");
	fputs("  \"warnings\": [", out);
	for (int i = 0; i < nr_warnings; i++) {
		json_string(out, warnings[i]);
		if (i + 1 < nr_warnings)
			fputs(", ", out);
	}
	fputs("],\n", out);

	module_json(out, mi);
}

static void module_json(FILE *out, const struct module_info *mi)
{
	fputs("  \"module\": {\"loaded\": ", out);
	fputs(mi->loaded ? "true" : "false", out);
	fputs(", \"path\": ", out);
	json_string(out, mi->path);
	fputs(", \"reason\": ", out);
	json_string(out, mi->loaded ? NULL : mi->why);
	if (mi->loaded) {
		const char *p = mi->first.hooks;

		fputs(", \"version\": ", out);
		json_string(out, mi->first.version);
		fputs(", \"kernel\": ", out);
		json_string(out, mi->first.kernel);
		fputs(", \"hooks\": [", out);
		while (*p) {
			size_t l = strcspn(p, ",");
			char name[64];

			snprintf(name, sizeof(name), "%.*s", (int)l, p);
			json_string(out, name);
			p += l;
			if (*p == ',' && *++p)
				fputs(", ", out);
		}
		fprintf(out, "], \"init_on_alloc\": %s, \"dropped\": %llu, \"missed\": %llu",
			mi->first.init_on_alloc < 0 ? "null" :
			mi->first.init_on_alloc ? "true" : "false",
			(unsigned long long)mi->first.dropped,
			(unsigned long long)mi->first.missed);
	} else {
		fputs(", \"version\": null, \"kernel\": null, \"hooks\": null, "
		      "\"init_on_alloc\": null, \"dropped\": null, \"missed\": null", out);
	}
	fputs("},\n", out);
}

/*
 * "breakdown": each bucket in ns (null: not measured), thread_ns, and for a
 * run the threads each bucket was measured in; "includes": the unknown
 * buckets whose time is in a known one.
 */
static void buckets_json(FILE *out, const struct buckets *b, bool run)
{
	bool first = true;

	fputs("\"breakdown\": {", out);
	for (int k = 0; k < NR_BUCKETS; k++) {
		if (b->known[k])
			fprintf(out, "\"%s\": %lld, ", buckets[k].key, (long long)b->ns[k]);
		else
			fprintf(out, "\"%s\": null, ", buckets[k].key);
	}
	ju64(out, "thread_ns", b->thread_ns, true);
	if (b->known[BUCKET_LOCK_WAIT])
		fprintf(out, "\"lock_wait_sleep_ns\": %lld, ", (long long)b->lock_sleep_ns);
	else
		fputs("\"lock_wait_sleep_ns\": null, ", out);
	if (run) {
		fprintf(out, "\"threads\": %d, \"threads_with_rows\": %d, \"known_threads\": {",
			b->threads, b->rows);
		for (int k = 0; k < NR_BUCKETS; k++)
			fprintf(out, "\"%s\": %d%s", buckets[k].key, b->known[k],
				k + 1 < NR_BUCKETS ? ", " : "}, ");
	}
	fputs("\"includes\": {", out);
	for (int k = 0; k < NR_BUCKETS; k++) {
		bool f2 = true;

		if (!b->holds[k])
			continue;
		fprintf(out, "%s\"%s\": [", first ? "" : ", ", buckets[k].key);
		first = false;
		for (int j = 0; j < NR_BUCKETS; j++)
			if (b->holds[k] & (1u << j)) {
				fprintf(out, "%s\"%s\"", f2 ? "" : ", ", buckets[j].key);
				f2 = false;
			}
		fputc(']', out);
	}
	fputs("}}", out);
}

/* a thread's counters (null where unknown), then its buckets */
static void counters_json(FILE *out, const struct thread_result *t, bool counters)
{
	for (int f = 0; f < ALLOCSTAT_NR_FIELDS; f++) {
		if (counters && (t->present & (1u << f)))
			fprintf(out, ", \"%s\": %llu", allocstat_field_name(f),
				(unsigned long long)t->val[f]);
		else
			fprintf(out, ", \"%s\": null", allocstat_field_name(f));
	}
	fputs(", ", out);
	buckets_json(out, &t->bk, false);
}

/* "findings": [ { "rule", "evidence", "fix", "saving_ns", "basis" } ], or null */
static void findings_json(FILE *out, const struct run *r)
{
	struct finding f[MAX_FINDINGS];
	int n;

	fputs("      \"findings\": ", out);
	if (!env.findings) {
		fputs("null,\n", out);
		return;
	}
	n = find_findings(r, f);
	fputc('[', out);
	for (int i = 0; i < n; i++) {
		fputs(i ? ", {\"rule\": " : "{\"rule\": ", out);
		json_string(out, f[i].rule);
		fputs(", \"evidence\": ", out);
		json_string(out, f[i].evidence);
		fputs(", \"fix\": ", out);
		json_string(out, f[i].fix);
		fprintf(out, ", \"saving_ns\": %lld, \"basis\": ", (long long)f[i].saving_ns);
		json_string(out, f[i].basis);
		fputc('}', out);
	}
	fputs("],\n", out);
}

static void jopt(FILE *out, const char *key, uint64_t v, bool ok)
{
	if (ok)
		ju64(out, key, v, true);
	else
		fprintf(out, "\"%s\": null, ", key);
}

static void thread_json(FILE *out, const struct thread_result *t, bool counters)
{
	fprintf(out, "        {\"index\": %d, \"tid\": %d, ", t->index, (int)t->tid);
	ju64(out, "alloc_ns", t->alloc_ns, true);
	ju64(out, "touch_ns", t->touch_ns, true);
	ju64(out, "free_ns", t->free_ns, true);
	ju64(out, "cpu_ns", t->cpu_ns, true);
	ju64(out, "utime_ns", t->utime_ns, true);
	ju64(out, "stime_ns", t->stime_ns, true);
	jopt(out, "run_delay_ns", t->run_delay_ns, t->run_delay_ok);
	jopt(out, "sleep_ns", t->sleep_ns, t->sleep_ok);
	fprintf(out, "\"minflt\": %ld, \"majflt\": %ld, \"matched\": %s", t->minflt,
		t->majflt, counters && t->matched ? "true" : "false");
	counters_json(out, t, counters);
	fputc('}', out);
}

static void run_json(FILE *out, const struct run *r, bool median)
{
	char label[48];

	fputs("    {\"label\": ", out);
	json_string(out, config_label(&r->cfg, label, sizeof(label)));
	fprintf(out, ", \"method\": \"%s\", ", method_names[r->cfg.method]);
	ju64(out, "block", r->cfg.block, true);
	jlong(out, "top_pad", config_top_pad(&r->cfg));
	jlong(out, "arena_max", r->cfg.arena_max ? r->cfg.arena_max :
				  env.arena_max ? env.arena_max : -1);
	fprintf(out, "\"threads\": %d, \"rep\": %d, \"median\": %s, ", r->cfg.threads,
		r->rep, median ? "true" : "false");
	ju64(out, "wall_ns", r->wall_ns, true);
	ju64(out, "max_rss", r->max_rss, true);
	fprintf(out, "\"counters\": %s,\n", r->counters ? "true" : "false");
	fputs("      \"table\": ", out);
	if (r->tables)
		fprintf(out, "{\"dropped_before\": %llu, \"dropped_after\": %llu, "
			"\"missed_before\": %llu, \"missed_after\": %llu},\n",
			(unsigned long long)r->dropped[0], (unsigned long long)r->dropped[1],
			(unsigned long long)r->missed[0], (unsigned long long)r->missed[1]);
	else
		fputs("null,\n", out);
	fputs("      ", out);
	ju64(out, "cpu_ns", r->cpu_ns, true);
	buckets_json(out, &r->bd, true);
	fputs(",\n", out);
	findings_json(out, r);
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

	fputs("{\n  \"schema\": \"allocstat-run/3\",\n", out);
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
		for (int i = 0; i < nbest; i++) {
			fprintf(out, "    {\"threads\": %d, \"run\": %d, \"ideal_wall_ns\": %.0f, "
				"\"wall_slowdown\": %.4f, \"thread_slowdown\": %.4f, "
				"\"bucket_delta_ns\": {",
				best[i]->cfg.threads, (int)(best[i] - runs),
				ideal_wall_ns(best[0], best[i]->cfg.threads),
				sweep_wall_slowdown(best, i), sweep_thread_slowdown(best, i));
			for (int k = 0; k < NR_BUCKETS; k++) {
				double d;

				if (sweep_bucket_delta(best, i, k, &d))
					fprintf(out, "\"%s\": %.0f", buckets[k].key, d);
				else
					fprintf(out, "\"%s\": null", buckets[k].key);
				fputs(k + 1 < NR_BUCKETS ? ", " : "}}", out);
			}
			fputs(i + 1 < nbest ? ",\n" : "\n", out);
		}
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
			json_string(out, config_label(&r->cfg, label, sizeof(label)));
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

/*
 * --json for an observed program (-- CMD, -p): schema allocstat-run/4.
 *
 * {
 *   "schema": "allocstat-run/4",
 *   "command": { "argv": [ string ], "pid", "exit_status" } or null,
 *   "attach": { "pid", "window", "window_ns", "exited" } or null,
 *   "warnings": [ string ],
 *   "module": { as allocstat-run/3, and "track_before" },
 *   "runs": [ { "threads", "processes", "counters", "cpu_ns",
 *               "breakdown", "findings",
 *               "per_thread": [ { "tid", "tgid", "comm", "state",
 *                 "thread_ns", "cpu_ns", "utime_ns", "stime_ns",
 *                 "run_delay_ns", "sleep_ns", "matched",
 *                 <every /proc/allocstat counter column>, "breakdown" } ] } ]
 * }
 *
 * Unknown values are null.  -p -i writes one such document per window.
 */
void json_observed(FILE *out, const struct module_info *mi, const struct run *r,
		   const struct observation *o)
{
	int procs = 0;

	fputs("{\n  \"schema\": \"allocstat-run/4\",\n  \"command\": ", out);
	if (o->attach) {
		fputs("null,\n", out);
	} else {
		fputs("{\"argv\": [", out);
		for (int i = 0; env.command[i]; i++) {
			if (i)
				fputs(", ", out);
			json_string(out, env.command[i]);
		}
		fprintf(out, "], \"pid\": %d, \"exit_status\": %d},\n", (int)o->pid,
			o->exit_status);
	}
	fputs("  \"attach\": ", out);
	if (o->attach)
		fprintf(out, "{\"pid\": %d, \"window\": %d, \"window_ns\": %llu, "
			"\"exited\": %s},\n", (int)o->pid, o->interval,
			(unsigned long long)o->window_ns, o->exited ? "true" : "false");
	else
		fputs("null,\n", out);
	fputs("  \"warnings\": [", out);
	for (int i = 0; i < nr_warnings; i++) {
		json_string(out, warnings[i]);
		if (i + 1 < nr_warnings)
			fputs(", ", out);
	}
	fputs(o->note[0] ? "], \"note\": " : "], \"note\": null", out);
	if (o->note[0])
		json_string(out, o->note);
	fputs(",\n", out);
	module_json(out, mi);
	fputs("  \"track_before\": ", out);
	json_string(out, mi->loaded ? o->track_before : NULL);
	fputs(",\n", out);
	for (int i = 0; i < r->cfg.threads; i++) {
		bool first = true;

		for (int j = 0; j < i && first; j++)
			first = r->thr[j].tgid != r->thr[i].tgid;
		procs += first;
	}
	fprintf(out, "  \"runs\": [\n    {\"threads\": %d, \"processes\": %d, "
		"\"counters\": %s,\n      ", r->cfg.threads, procs,
		r->counters ? "true" : "false");
	ju64(out, "cpu_ns", r->cpu_ns, true);
	buckets_json(out, &r->bd, true);
	fputs(",\n", out);
	findings_json(out, r);
	fputs("      \"per_thread\": [\n", out);
	for (int i = 0; i < r->cfg.threads; i++) {
		const struct thread_result *t = &r->thr[i];

		fprintf(out, "        {\"tid\": %d, \"tgid\": %d, \"comm\": ", (int)t->tid,
			(int)t->tgid);
		json_string(out, t->comm);
		fprintf(out, ", \"state\": \"%s\", ", t->exited ? "exited" : "alive");
		jopt(out, "thread_ns", t->life_ns, t->life_ok);
		jopt(out, "cpu_ns", t->cpu_ns, t->cpu_ok);
		jopt(out, "utime_ns", t->utime_ns, t->cpu_ok);
		jopt(out, "stime_ns", t->stime_ns, t->cpu_ok);
		jopt(out, "run_delay_ns", t->run_delay_ns, t->run_delay_ok);
		jopt(out, "sleep_ns", t->sleep_ns, t->sleep_ok);
		fprintf(out, "\"matched\": %s", r->counters && t->matched ? "true" : "false");
		counters_json(out, t, r->counters);
		fputs(i + 1 < r->cfg.threads ? "},\n" : "}\n", out);
	}
	fputs("      ]}\n  ]\n}\n", out);
}
