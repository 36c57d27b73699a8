// SPDX-License-Identifier: GPL-2.0
/*
 * allocstat-run: text output, and the "where the time went" breakdown
 * shared by the text, JSON and SVG outputs.
 */
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "allocstat-run.h"

#define V(t, f) ((t)->val[ALLOCSTAT_##f])

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

int online_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		return CPU_COUNT(&set);
	return (int)sysconf(_SC_NPROCESSORS_ONLN);
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0;
}

static uint64_t busy_ns(const struct thread_result *t)
{
	return t->alloc_ns + t->touch_ns + t->free_ns;
}

double per_thread_ms(const struct run *r)
{
	return ms(r->bd.thread_ns) / r->cfg.threads;
}

const struct part_info parts[NR_PARTS] = {
	[PART_ZERO]	= { "page zeroing", NULL, "zeroing_ns", "zeroing", NULL,
			    "#d62728", true },
	[PART_FAULT]	= { "other fault handling", NULL, "other_fault_ns", "other_fault", NULL,
			    "#ff7f0e", true },
	[PART_LOCK]	= { "waiting for mmap_lock", NULL, "lock_wait_ns", "lock_wait", NULL,
			    "#1f77b4", true },
	[PART_CPU_WAIT]	= { "waiting for a CPU", "off CPU (CPU or lock waits)",
			    "cpu_wait_ns", "cpu_wait", "off_cpu", "#9467bd", false },
	[PART_OTHER]	= { "everything else", "on a CPU", "other_ns", "other", "on_cpu",
			    "#b8b8b8", false },
};

/* thread time off a CPU (runnable, or waiting); 0 if the CPU time is larger */
uint64_t off_cpu_ns(const struct breakdown *bd)
{
	return bd->thread_ns > bd->cpu_ns ? bd->thread_ns - bd->cpu_ns : 0;
}

/* which runs of a table have the module's counters: some, and some not */
void counters_kinds(struct run *const *best, int n, bool *with, bool *without)
{
	*with = *without = false;
	for (int i = 0; i < n; i++) {
		*with |= best[i]->counters;
		*without |= !best[i]->counters;
	}
}

const char *part_name(const struct run *r, enum part p)
{
	return !r->counters && parts[p].name_no_module ? parts[p].name_no_module
						       : parts[p].name;
}

/*
 * Where the threads' time went (thread time T = alloc + touch + free):
 *   zeroing     zero_ns
 *   lock        mmap_read_wait_ns + mmap_write_wait_ns (the fault path takes
 *               the mmap_lock before handle_mm_fault(): no overlap with faults)
 *   CPU wait    T - CPU time - lock wait: runnable but not running (more
 *               threads than CPUs), or sleeping on something else
 *   fault       fault_ns - zero_ns - the CPU wait that fell inside faults;
 *               preemption is attributed to faults in proportion to the
 *               time spent in them
 *   other       the rest: user space, syscalls, unmapping, ...
 * Without the module only the CPU wait and the rest are known.  If the
 * counters add up to more than T, the parts are scaled down to fit.
 */
void compute_breakdown(struct run *r)
{
	struct breakdown *bd = &r->bd;
	uint64_t fault = 0, off_cpu, sum = 0;
	double in_faults;

	memset(bd, 0, sizeof(*bd));
	for (int i = 0; i < r->cfg.threads; i++) {
		const struct thread_result *t = &r->thr[i];

		bd->thread_ns += busy_ns(t);
		bd->cpu_ns += t->cpu_ns;
		bd->part[PART_ZERO] += V(t, ZERO_NS);
		fault += V(t, FAULT_NS);
		bd->part[PART_LOCK] += V(t, MMAP_READ_WAIT_NS) + V(t, MMAP_WRITE_WAIT_NS);
	}
	off_cpu = bd->thread_ns > bd->cpu_ns ? bd->thread_ns - bd->cpu_ns : 0;
	if (off_cpu > bd->part[PART_LOCK])
		bd->part[PART_CPU_WAIT] = off_cpu - bd->part[PART_LOCK];
	in_faults = bd->cpu_ns + bd->part[PART_CPU_WAIT] ?
		(double)bd->part[PART_CPU_WAIT] * (double)fault /
		(double)(bd->cpu_ns + bd->part[PART_CPU_WAIT]) : 0;
	if ((double)fault > (double)bd->part[PART_ZERO] + in_faults)
		bd->part[PART_FAULT] = fault - bd->part[PART_ZERO] - (uint64_t)in_faults;

	for (int p = 0; p < PART_OTHER; p++)
		sum += bd->part[p];
	if (sum > bd->thread_ns) {
		double k = (double)bd->thread_ns / (double)sum;

		sum = 0;
		for (int p = 0; p < PART_OTHER; p++) {
			bd->part[p] = (uint64_t)((double)bd->part[p] * k);
			sum += bd->part[p];
		}
		bd->scaled = true;
	}
	bd->part[PART_OTHER] = bd->thread_ns > sum ? bd->thread_ns - sum : 0;
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

static void report_breakdown(FILE *out, const struct run *r)
{
	const struct breakdown *bd = &r->bd;

	fprintf(out, "where the time went (%d threads, %.3f s of thread time, %.3f s on a CPU):\n",
		r->cfg.threads, (double)bd->thread_ns / 1e9, (double)bd->cpu_ns / 1e9);
	for (int p = 0; p < NR_PARTS; p++) {
		if (parts[p].needs_module && !r->counters)
			continue;
		fprintf(out, "  %-27s %5.1f%%  %9.3f s\n", part_name(r, p),
			pct(bd->part[p], bd->thread_ns), (double)bd->part[p] / 1e9);
	}
	if (bd->scaled)
		fprintf(out, "  (fault, zeroing and wait times overlap here; scaled to 100%%)\n");
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
		fprintf(out, " %8s %9s %10s %9s %10s %10s %10s %10s %10s",
			"faults", "fault_ms", "zero_pages", "zero_ms", "rd_wait_ms",
			"rd_hold_ms", "wr_wait_ms", "wr_hold_ms", "vma_faults");
	fputc('\n', out);
	for (int i = 0; i < r->cfg.threads; i++) {
		const struct thread_result *t = &r->thr[i];

		fprintf(out, "%3d %7d %9.1f %9.1f %8.1f %8ld", i, (int)t->tid,
			ms(t->alloc_ns), ms(t->touch_ns), ms(t->free_ns), t->minflt);
		if (r->counters) {
			put_val(out, t, ALLOCSTAT_FAULTS, 8);
			put_val(out, t, ALLOCSTAT_FAULT_NS, 9);
			put_val(out, t, ALLOCSTAT_ZERO_PAGES, 10);
			put_val(out, t, ALLOCSTAT_ZERO_NS, 9);
			put_val(out, t, ALLOCSTAT_MMAP_READ_WAIT_NS, 10);
			put_val(out, t, ALLOCSTAT_MMAP_READ_HOLD_NS, 10);
			put_val(out, t, ALLOCSTAT_MMAP_WRITE_WAIT_NS, 10);
			put_val(out, t, ALLOCSTAT_MMAP_WRITE_HOLD_NS, 10);
			put_val(out, t, ALLOCSTAT_VMA_FAULTS, 10);
			any |= t->matched;
		}
		fputc('\n', out);
	}
	fprintf(out, "wall time: %.3f s for %s\n", (double)r->wall_ns / 1e9,
		config_label(&r->cfg, label, sizeof(label)));
	if (r->counters && !any)
		fprintf(out, "note: no row of these threads in %s (is tracking limited to other processes?)\n",
			mi->path);
	report_breakdown(out, r);
	fputc('\n', out);
}

/*
 * The shares of the breakdown in a table: the five parts if any run has
 * the module's counters ("-" for a run without), and off_cpu and on_cpu,
 * the two parts known without them, if any run has not.
 */
static int col_width(const char *name)
{
	return strlen(name) > 6 ? (int)strlen(name) : 6;
}

static void breakdown_cols(FILE *out, const struct run *r, bool with, bool without)
{
	uint64_t off = off_cpu_ns(&r->bd);

	for (int p = 0; with && p < NR_PARTS; p++) {
		if (!r->counters)
			fprintf(out, " %*s", col_width(parts[p].abbrev), "-");
		else
			fprintf(out, " %*.1f%%", col_width(parts[p].abbrev) - 1,
				pct(r->bd.part[p], r->bd.thread_ns));
	}
	if (without)
		fprintf(out, " %*.1f%% %*.1f%%",
			col_width(parts[PART_CPU_WAIT].abbrev_no_module) - 1,
			pct(off, r->bd.thread_ns),
			col_width(parts[PART_OTHER].abbrev_no_module) - 1,
			pct(r->bd.thread_ns - off, r->bd.thread_ns));
}

static void breakdown_header(FILE *out, bool with, bool without)
{
	for (int p = 0; with && p < NR_PARTS; p++)
		fprintf(out, " %*s", col_width(parts[p].abbrev), parts[p].abbrev);
	for (int p = 0; without && p < NR_PARTS; p++)
		if (parts[p].abbrev_no_module)
			fprintf(out, " %*s", col_width(parts[p].abbrev_no_module),
				parts[p].abbrev_no_module);
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
	bool with, without;

	format_size(env.size, size, sizeof(size));
	fprintf(out, "allocstat-run --sweep: %s per thread, method %s, %d CPUs, median of %d\n",
		size, config_label(&best[0]->cfg, label, sizeof(label)), online_cpus(),
		env.repeat);
	counters_kinds(best, n, &with, &without);
	fprintf(out, "%7s %9s %9s %7s %13s %9s", "threads", "wall_s", "ideal_s",
		"wall_x", "per_thread_ms", "thread_x");
	breakdown_header(out, with, without);
	fputc('\n', out);
	for (int i = 0; i < n; i++) {
		fprintf(out, "%7d %9.3f %9.3f %6.2fx %13.1f %8.2fx", best[i]->cfg.threads,
			(double)best[i]->wall_ns / 1e9,
			ideal_wall_ns(best[0], best[i]->cfg.threads) / 1e9,
			sweep_wall_slowdown(best, i), per_thread_ms(best[i]),
			sweep_thread_slowdown(best, i));
		breakdown_cols(out, best[i], with, without);
		fputc('\n', out);
	}
	fprintf(out, "wall_x: wall time / (1-thread wall x ceil(threads / CPUs)); "
		"thread_x: per-thread time / 1-thread time\n");
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
	bool within[MAX_CONFIGS], any = false, with, without;
	int order[MAX_CONFIGS], width = (int)strlen("configuration");

	format_size(env.size, size, sizeof(size));
	compare_order(best, n, order, within);
	for (int k = 0; k < n; k++)
		if ((int)strlen(config_label(&best[k]->cfg, label, sizeof(label))) > width)
			width = (int)strlen(label);
	fprintf(out, "allocstat-run --compare: %d threads x %s, touch %s, median of %d, fastest first\n",
		best[0]->cfg.threads, size, touch_names[env.touch], env.repeat);
	counters_kinds(best, n, &with, &without);
	fprintf(out, "%5s %-*s %9s %17s %13s %10s", "rank", width, "configuration", "wall_s",
		"wall_min-max_s", "per_thread_ms", "minflt/thr");
	if (with)
		fprintf(out, " %10s", "faults/thr");
	breakdown_header(out, with, without);
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
		breakdown_cols(out, r, with, without);
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
