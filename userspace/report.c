// SPDX-License-Identifier: GPL-2.0
/*
 * allocstat-run: text output, and the "where the time went" breakdown
 * shared by the text, JSON and SVG outputs.
 */
#include <string.h>

#include "allocstat-run.h"

#define V(t, f) ((t)->val[ALLOCSTAT_##f])

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static double pct_s(int64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0;
}

double per_thread_ms(const struct run *r)
{
	return ms(r->bd.thread_ns) / r->cfg.threads;
}

/* whether any run of a table has the module's counters */
static bool any_counters(struct run *const *best, int n)
{
	for (int i = 0; i < n; i++)
		if (best[i]->counters)
			return true;
	return false;
}

/* a counter (in ms if it is a time), or "-" when the kernel does not give it */
static void put_val(FILE *out, const struct thread_result *t, int f, int width)
{
	if (!(t->present & (1u << f)))
		fprintf(out, " %*s", width, "-");
	else if (strstr(allocstat_field_name(f), "_ns"))
		fprintf(out, " %*.1f", width, ms(t->val[f]));
	else
		fprintf(out, " %*llu", width, (unsigned long long)t->val[f]);
}

/* a thread's module counters in the per-thread table, as its header names them */
/* the header of put_counters()'s columns */
static void put_counters_header(FILE *out)
{
	fprintf(out, " %8s %9s %10s %9s %10s %10s %10s %10s %10s",
		"faults", "fault_ms", "zero_pages", "zero_ms", "rd_wait_ms",
		"rd_hold_ms", "wr_wait_ms", "wr_hold_ms", "vma_faults");
}

static void put_counters(FILE *out, const struct thread_result *t)
{
	put_val(out, t, ALLOCSTAT_FAULTS, 8);
	put_val(out, t, ALLOCSTAT_FAULT_NS, 9);
	put_val(out, t, ALLOCSTAT_ZERO_PAGES, 10);
	put_val(out, t, ALLOCSTAT_ZERO_NS, 9);
	put_val(out, t, ALLOCSTAT_MMAP_READ_WAIT_NS, 10);
	put_val(out, t, ALLOCSTAT_MMAP_READ_HOLD_NS, 10);
	put_val(out, t, ALLOCSTAT_MMAP_WRITE_WAIT_NS, 10);
	put_val(out, t, ALLOCSTAT_MMAP_WRITE_HOLD_NS, 10);
	put_val(out, t, ALLOCSTAT_VMA_FAULTS, 10);
}

/* why buckets are unknown in this run, one clause each */
static void unknown_reasons(FILE *out, const struct run *r, const struct module_info *mi)
{
	const struct buckets *bd = &r->bd;
	bool module_part = false;

	for (int k = BUCKET_ZERO_CPU; k <= BUCKET_LOCK_WAIT; k++)
		module_part |= bd->known[k] < bd->threads;
	if (module_part) {
		if (!r->counters)
			fprintf(out, "  -: needs the module's counters (%s)\n",
				mi->loaded ? "a snapshot failed" : "see above");
		else if (bd->rows < bd->threads)
			fprintf(out, "  -: %d of %d threads have no row in %s\n",
				bd->threads - bd->rows, bd->threads, mi->path);
		for (int k = BUCKET_ZERO_CPU; r->counters && k <= BUCKET_LOCK_WAIT; k++) {
			static const int total[] = {
				[BUCKET_ZERO_CPU] = ALLOCSTAT_ZERO_NS,
				[BUCKET_FAULT_CPU] = ALLOCSTAT_FAULT_NS,
				[BUCKET_LOCK_WAIT] = ALLOCSTAT_MMAP_READ_WAIT_NS,
			};
			bool timed = false;

			if (bd->known[k] >= bd->rows)
				continue;
			for (int i = 0; i < r->cfg.threads; i++)
				timed |= r->thr[i].matched &&
					 (r->thr[i].present >> total[k] & 1);
			fprintf(out, "  -: %s: %s (hooks=%s; allocstat(4))\n", buckets[k].name,
				timed ? "the module times it but gives no runqueue/sleep split "
					"on this kernel" : "not timed by the module",
				mi->first.hooks);
		}
	}
	if (r->cfg.threads && r->thr[0].observed) {
		if (bd->known[BUCKET_USER] < bd->threads || bd->known[BUCKET_RUNQ] < bd->threads ||
		    bd->known[BUCKET_SLEEP_OTHER] < bd->threads)
			fprintf(out, "  -: a thread's CPU, runqueue or sleep time is unknown: it "
				"exited without the module's exit hook (task_* columns \"-\"), "
				"or /proc/<pid>/task/<tid>/ could not be read\n");
		if (bd->known[BUCKET_SLEEP_OTHER] < bd->threads && env.schedstats_why[0])
			fprintf(out, "  -: no sleep time: %s\n", env.schedstats_why);
		return;
	}
	if (bd->known[BUCKET_RUNQ] < bd->threads) {
		int failed = 0, err = 0;

		for (int i = 0; i < r->cfg.threads; i++)
			if (r->thr[i].sched_err) {
				failed++;
				err = r->thr[i].sched_err;
			}
		if (failed)
			fprintf(out, "  -: %d threads could not open /proc/self/task/<tid>/schedstat: %s\n",
				failed, strerror(err));
		else
			fprintf(out, "  -: no run_delay in /proc/self/task/<tid>/schedstat "
				"(a kernel without CONFIG_SCHED_INFO)\n");
	}
	if (bd->known[BUCKET_SLEEP_OTHER] < bd->threads)
		fprintf(out, "  -: no sleep time: %s\n",
			env.schedstats_why[0] ? env.schedstats_why :
			"no sum_sleep_runtime in /proc/self/task/<tid>/sched");
}

static void report_breakdown(FILE *out, const struct run *r, const struct module_info *mi)
{
	const struct buckets *bd = &r->bd;
	char held[200];

	fprintf(out, "where the time went (%d threads, %.3f s of thread time; "
		"%d/%d threads have allocstat rows):\n",
		bd->threads, (double)bd->thread_ns / 1e9, bd->rows, bd->threads);
	for (int k = 0; k < NR_BUCKETS; k++) {
		fprintf(out, "  %-30s", buckets[k].name);
		if (!bd->known[k]) {
			fprintf(out, " %6s  %9s\n", "-", "-");
			continue;
		}
		fprintf(out, " %5.1f%%  %9.3f s", pct_s(bd->ns[k], bd->thread_ns),
			(double)bd->ns[k] / 1e9);
		if (bd->known[k] < bd->threads)
			fprintf(out, "  (%d/%d threads)", bd->known[k], bd->threads);
		if (k == BUCKET_LOCK_WAIT)
			fprintf(out, "  (asleep %.3f s, spinning %.3f s)",
				(double)bd->lock_sleep_ns / 1e9,
				(double)(bd->ns[k] - bd->lock_sleep_ns) / 1e9);
		if (bd->holds[k])
			fprintf(out, "  (includes %s)", held_names(bd->holds[k], held, sizeof(held)));
		fputc('\n', out);
	}
	unknown_reasons(out, r, mi);
}

/* a table column named @name: at least 6 wide */
static int col_width(const char *name)
{
	return strlen(name) > 6 ? (int)strlen(name) : 6;
}

/* the buckets of each thread, in ms */
static void report_thread_buckets(FILE *out, const struct run *r)
{
	bool observed = r->cfg.threads && r->thr[0].observed;

	/* an observed program's threads are known by tid, the workload's by index */
	fprintf(out, observed ? "%7s" : "%3s", observed ? "tid" : "thr");
	for (int k = 0; k < NR_BUCKETS; k++)
		fprintf(out, " %*s_ms", col_width(buckets[k].abbrev), buckets[k].abbrev);
	fprintf(out, " %10s\n", "thread_ms");
	for (int i = 0; i < r->cfg.threads; i++) {
		const struct buckets *b = &r->thr[i].bk;

		if (observed)
			fprintf(out, "%7d", (int)r->thr[i].tid);
		else
			fprintf(out, "%3d", i);
		for (int k = 0; k < NR_BUCKETS; k++) {
			int w = col_width(buckets[k].abbrev) + 3;	/* + "_ms" */

			if (b->known[k])
				fprintf(out, " %*.1f", w, (double)b->ns[k] / 1e6);
			else
				fprintf(out, " %*s", w, "-");
		}
		if (observed && !r->thr[i].life_ok)
			fprintf(out, " %10s\n", "-");
		else
			fprintf(out, " %10.1f\n", ms(b->thread_ns));
	}
}

/*
 * A warning when dropped= or missed= grew between the run's two snapshots:
 * tasks refused a row, or events lost, possibly this run's.  0 if not.
 */
int table_growth(const struct run *r, char *buf, size_t len)
{
	uint64_t d = r->dropped[1] - r->dropped[0], m = r->missed[1] - r->missed[0];
	char label[48];

	if (!r->tables || (r->dropped[1] <= r->dropped[0] && r->missed[1] <= r->missed[0]))
		return 0;
	snprintf(buf, len, "%s: /proc/allocstat's dropped= grew by %llu, missed= by %llu "
		 "during the run; its counters may fall short (allocstat(4))",
		 config_label(&r->cfg, label, sizeof(label)),
		 (unsigned long long)(r->dropped[1] > r->dropped[0] ? d : 0),
		 (unsigned long long)(r->missed[1] > r->missed[0] ? m : 0));
	return 1;
}

void report_run(FILE *out, const struct run *r, const struct module_info *mi)
{

	char size[32], block[32], label[48];
	bool any = false;

	format_size(env.size, size, sizeof(size));
	if (r->cfg.block)
		format_size(r->cfg.block, block, sizeof(block));
	else
		snprintf(block, sizeof(block), "one block");
	fprintf(out, "allocstat-run: %d threads x %s, method %s, %s%s, touch %s, run %d/%d\n",
		r->cfg.threads, size, method_names[r->cfg.method], block,
		r->cfg.block ? " blocks" : "", touch_names[env.touch], r->rep + 1,
		env.repeat);
	if (r->counters)
		fprintf(out, "allocstat %s, kernel %s, hooks %s, dropped %llu, missed %llu\n",
			mi->first.version, mi->first.kernel, mi->first.hooks,
			(unsigned long long)mi->first.dropped,
			(unsigned long long)mi->first.missed);

	fprintf(out, "%3s %7s %9s %9s %8s %8s", "thr", "tid", "alloc_ms",
		"touch_ms", "free_ms", "minflt");
	if (r->counters)
		put_counters_header(out);
	fputc('\n', out);
	for (int i = 0; i < r->cfg.threads; i++) {
		const struct thread_result *t = &r->thr[i];

		fprintf(out, "%3d %7d %9.1f %9.1f %8.1f %8ld", i, (int)t->tid,
			ms(t->alloc_ns), ms(t->touch_ns), ms(t->free_ns), t->minflt);
		if (r->counters) {
			put_counters(out, t);
			any |= t->matched;
		}
		fputc('\n', out);
	}
	fprintf(out, "wall time: %.3f s for %s\n", (double)r->wall_ns / 1e9,
		config_label(&r->cfg, label, sizeof(label)));
	if (r->counters && !any)
		fprintf(out, "note: no row of these threads in %s (is tracking limited to other processes?)\n",
			mi->path);
	report_thread_buckets(out, r);
	report_breakdown(out, r, mi);
	fputc('\n', out);
}

/* The shares of the buckets in a table ("-": not measured in that run). */
static void breakdown_cols(FILE *out, const struct run *r)
{
	for (int k = 0; k < NR_BUCKETS; k++) {
		if (!r->bd.known[k])
			fprintf(out, " %*s", col_width(buckets[k].abbrev), "-");
		else
			fprintf(out, " %*.1f%%", col_width(buckets[k].abbrev) - 1,
				pct_s(r->bd.ns[k], r->bd.thread_ns));
	}
}

static void breakdown_header(FILE *out)
{
	for (int k = 0; k < NR_BUCKETS; k++)
		fprintf(out, " %*s", col_width(buckets[k].abbrev), buckets[k].abbrev);
}

/* wall time if the threads scaled perfectly on the online CPUs */
double ideal_wall_ns(const struct run *one, int threads)
{
	int cpus = online_cpus();

	return (double)one->wall_ns * ((threads + cpus - 1) / cpus);
}

double sweep_wall_slowdown(struct run *const *best, int i)
{
	return (double)best[i]->wall_ns / ideal_wall_ns(best[0], best[i]->cfg.threads);
}

double sweep_thread_slowdown(struct run *const *best, int i)
{
	return per_thread_ms(best[i]) / per_thread_ms(best[0]);
}

void report_sweep(FILE *out, struct run **best, int n)
{
	char size[32], label[48];

	format_size(env.size, size, sizeof(size));
	fprintf(out, "allocstat-run --sweep: %s per thread, method %s, %d CPUs, median of %d\n",
		size, config_label(&best[0]->cfg, label, sizeof(label)), online_cpus(),
		env.repeat);
	fprintf(out, "%7s %9s %9s %7s %13s %9s", "threads", "wall_s", "ideal_s",
		"wall_x", "per_thread_ms", "thread_x");
	breakdown_header(out);
	fputc('\n', out);
	for (int i = 0; i < n; i++) {
		fprintf(out, "%7d %9.3f %9.3f %6.2fx %13.1f %8.2fx", best[i]->cfg.threads,
			(double)best[i]->wall_ns / 1e9,
			ideal_wall_ns(best[0], best[i]->cfg.threads) / 1e9,
			sweep_wall_slowdown(best, i), per_thread_ms(best[i]),
			sweep_thread_slowdown(best, i));
		breakdown_cols(out, best[i]);
		fputc('\n', out);
	}
	fprintf(out, "wall_x: wall time / (1-thread wall x ceil(threads / CPUs)); "
		"thread_x: per-thread time / 1-thread time\n");

	/* what the extra threads cost each thread, bucket by bucket */
	fprintf(out, "\nper-thread time added against 1 thread, by bucket (ms):\n%7s", "threads");
	breakdown_header(out);
	fprintf(out, " %9s\n", "total");
	for (int i = 1; i < n; i++) {
		double d;

		fprintf(out, "%7d", best[i]->cfg.threads);
		for (int k = 0; k < NR_BUCKETS; k++) {
			if (sweep_bucket_delta(best, i, k, &d))
				fprintf(out, " %*.1f", col_width(buckets[k].abbrev), d / 1e6);
			else
				fprintf(out, " %*s", col_width(buckets[k].abbrev), "-");
		}
		fprintf(out, " %9.1f\n", per_thread_ms(best[i]) - per_thread_ms(best[0]));
	}
}

/*
 * The average per-thread time of bucket k at sweep step i less that at 1
 * thread, in ns; false when either run did not measure it in every thread.
 */
bool sweep_bucket_delta(struct run *const *best, int i, int k, double *ns)
{
	const struct buckets *a = &best[i]->bd, *b = &best[0]->bd;

	if (a->known[k] != a->threads || b->known[k] != b->threads)
		return false;
	*ns = (double)a->ns[k] / a->threads - (double)b->ns[k] / b->threads;
	return true;
}

/*
 * Indexes of best[] sorted by (median) wall time.  within_spread[k]: the
 * wall times of rank k and of rank k - 1 overlap (the fastest repetition
 * of k is not slower than the slowest of k - 1), so the repetitions do not
 * tell which of the two is faster.
 */
void compare_order(struct run **best, int n, int *order, bool *within_spread)
{
	for (int i = 0; i < n; i++)
		order[i] = i;
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && best[order[j]]->wall_ns < best[order[j - 1]]->wall_ns; j--) {
			int tmp = order[j];

			order[j] = order[j - 1];
			order[j - 1] = tmp;
		}
	for (int k = 0; k < n; k++)
		within_spread[k] = k > 0 &&
			best[order[k]]->wall_min_ns <= best[order[k - 1]]->wall_max_ns;
}

void report_compare(FILE *out, struct run **best, int n)
{
	char size[32], label[48], range[48], rank[16];
	bool within[MAX_CONFIGS], any = false, with = any_counters(best, n);
	int order[MAX_CONFIGS], width = (int)strlen("configuration");

	format_size(env.size, size, sizeof(size));
	compare_order(best, n, order, within);
	for (int k = 0; k < n; k++)
		if ((int)strlen(config_label(&best[k]->cfg, label, sizeof(label))) > width)
			width = (int)strlen(label);
	fprintf(out, "allocstat-run --compare: %d threads x %s, touch %s, median of %d, fastest first\n",
		best[0]->cfg.threads, size, touch_names[env.touch], env.repeat);
	fprintf(out, "%5s %-*s %9s %17s %13s %10s", "rank", width, "configuration", "wall_s",
		"wall_min-max_s", "per_thread_ms", "minflt/thr");
	if (with)
		fprintf(out, " %10s", "faults/thr");
	breakdown_header(out);
	fputc('\n', out);
	for (int k = 0; k < n; k++) {
		const struct run *r = best[order[k]];
		uint64_t faults = 0, minflt = 0;

		for (int i = 0; i < r->cfg.threads; i++) {
			faults += V(&r->thr[i], FAULTS);
			minflt += (uint64_t)r->thr[i].minflt;
		}
		snprintf(range, sizeof(range), "%.3f-%.3f", (double)r->wall_min_ns / 1e9,
			 (double)r->wall_max_ns / 1e9);
		snprintf(rank, sizeof(rank), "%s%d", within[k] ? "~" : "", k + 1);
		fprintf(out, "%5s %-*s %9.3f %17s %13.1f %10llu", rank, width,
			config_label(&r->cfg, label, sizeof(label)),
			(double)r->wall_ns / 1e9, range, per_thread_ms(r),
			(unsigned long long)(minflt / (uint64_t)r->cfg.threads));
		if (with && r->counters)
			fprintf(out, " %10llu", (unsigned long long)(faults / (uint64_t)r->cfg.threads));
		else if (with)
			fprintf(out, " %10s", "-");
		breakdown_cols(out, r);
		fputc('\n', out);
		any |= within[k];
	}
	if (env.repeat < 2)
		fprintf(out, "note: one run per configuration: no spread to judge the ranks by (use -r 3 or more)\n");
	else if (any)
		fprintf(out, "~: within the spread of the rank above (their min-max wall times overlap): "
			"the order of the two is not known\n");
	if (!thp_available())
		fprintf(out, "note: transparent huge pages are off here: thp behaves like mmap\n");
}

/* "sh -c 'exit 7'": the command line, quoted where a shell would need it */
static void put_argv(FILE *out, char *const *argv)
{
	for (int i = 0; argv[i]; i++) {
		const char *a = argv[i];

		if (i)
			fputc(' ', out);
		if (*a && !a[strcspn(a, " \t\n'\"\\$`*?[]{}()<>|&;#~")]) {
			fputs(a, out);
			continue;
		}
		fputc('\'', out);
		for (; *a; a++)
			if (*a == '\'')
				fputs("'\\''", out);
			else
				fputc(*a, out);
		fputc('\'', out);
	}
}

/* a time in ms, "-" when unknown */
static void put_ms(FILE *out, uint64_t ns, bool ok, int width)
{
	if (ok)
		fprintf(out, " %*.1f", width, ms(ns));
	else
		fprintf(out, " %*s", width, "-");
}

/*
 * The report on an observed program (-- CMD, -p): what it ran, each thread
 * of the tree with its lifetime, CPU time and the module's counters, then
 * the breakdown as for the workload.
 */
void report_observed(FILE *out, const struct run *r, const struct module_info *mi,
		     const struct observation *o)
{
	int procs = 0, with_rows = 0;

	if (o->attach)
		fprintf(out, "allocstat-run: pid %d, window %d: %.3f s%s\n", (int)o->pid,
			o->interval, (double)o->window_ns / 1e9,
			o->exited ? " (the process exited)" : "");
	else {
		fprintf(out, "allocstat-run: command: ");
		put_argv(out, env.command);
		fprintf(out, "\nallocstat-run: pid %d, exit status %d\n", (int)o->pid,
			o->exit_status);
	}
	for (int i = 0; i < r->cfg.threads; i++) {
		bool first = true;

		for (int j = 0; j < i && first; j++)
			first = r->thr[j].tgid != r->thr[i].tgid;
		procs += first;
		with_rows += r->thr[i].matched;
	}
	fprintf(out, "process tree: %d thread%s in %d process%s, %d with allocstat rows\n",
		r->cfg.threads, r->cfg.threads == 1 ? "" : "s", procs, procs == 1 ? "" : "es",
		with_rows);
	if (r->counters)
		fprintf(out, "allocstat %s, kernel %s, hooks %s, dropped %llu, missed %llu, "
			"track=%s before (%s)\n", mi->first.version, mi->first.kernel,
			mi->first.hooks, (unsigned long long)mi->first.dropped,
			(unsigned long long)mi->first.missed, o->track_before,
			o->attach ? "put back when allocstat-run ends" : "put back");
	if (o->note[0])
		fprintf(out, "note: %s\n", o->note);
	if (!r->cfg.threads) {
		fprintf(out, "no threads to show%s\n", r->counters ?
			" (no row of the process tree in /proc/allocstat)" : "");
		return;
	}
	fprintf(out, "%7s %7s %-16s %-6s %9s %9s", "tid", "tgid", "comm", "state",
		"thread_ms", "cpu_ms");
	if (r->counters)
		put_counters_header(out);
	fputc('\n', out);
	for (int i = 0; i < r->cfg.threads; i++) {
		const struct thread_result *t = &r->thr[i];
		char comm[17];
		int j;

		/* comm as one word: blanks would shift the columns */
		snprintf(comm, sizeof(comm), "%.16s", t->comm[0] ? t->comm : "-");
		for (j = 0; comm[j]; j++)
			if (comm[j] == ' ' || comm[j] == '\t' || comm[j] < 0x20)
				comm[j] = '_';
		fprintf(out, "%7d %7d %-16s %-6s", (int)t->tid, (int)t->tgid, comm,
			t->exited ? "exited" : "alive");
		put_ms(out, t->life_ns, t->life_ok, 9);
		put_ms(out, t->cpu_ns, t->cpu_ok, 9);
		if (r->counters) {
			put_counters(out, t);
		}
		fputc('\n', out);
	}
	report_thread_buckets(out, r);
	report_breakdown(out, r, mi);
}
