// SPDX-License-Identifier: GPL-2.0
/*
 * allocstat-run: what runs.  The settings (struct env, filled in by
 * allocstat-run.c from the command line), the configurations of a mode,
 * the order of the runs, the summary of each configuration's repetitions,
 * and the memory check made before anything is allocated.
 */
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "allocstat-run.h"

#define COMPARE_BLOCK (64 * 1024ULL)
/* --compare's arena-growth fix: a whole 64 MiB heap at once */
#define COMPARE_TOP_PAD (64 * MIB)
/* glibc's largest dynamic mmap threshold on 64-bit: DEFAULT_MMAP_THRESHOLD_MAX */
#define MMAP_THRESHOLD_DYNAMIC_MAX (32 * MIB)

struct env env = {
	.threads = 8,
	.size = 600 * MIB,
	.method = METHOD_MALLOC,
	.block = 0,
	.touch = TOUCH_WRITE,
	.repeat = 0,
	.loops = 1,
	.arena_max = 0,
	.mmap_threshold = -1,
	.top_pad = -1,
	.findings = true,
	.mode = MODE_SINGLE,
};

const char *const method_names[NR_METHODS] = {
	[METHOD_MALLOC] = "malloc",
	[METHOD_MMAP] = "mmap",
	[METHOD_POPULATE] = "populate",
	[METHOD_THP] = "thp",
	[METHOD_NOTHP] = "nothp",
	[METHOD_FILE] = "file",
	[METHOD_POPULATE_WRITE] = "populate_write",
	[METHOD_REUSE] = "reuse",
	[METHOD_FILE_MMAP] = "file_mmap",
};

const char *const touch_names[] = {
	[TOUCH_WRITE] = "write",
	[TOUCH_READ] = "read",
	[TOUCH_MEMSET] = "memset",
};

char warnings[MAX_WARNINGS][320];
int nr_warnings;

/* a warning: on stderr at once, and kept for the JSON */
void warn(const char *fmt, ...)
{
	char msg[sizeof(warnings[0])];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "allocstat-run: warning: %s\n", msg);
	if (nr_warnings < MAX_WARNINGS)
		memcpy(warnings[nr_warnings++], msg, sizeof(msg));
}

/* the configurations of the mode, in the order given; returns how many */
int plan_configs(struct config *cfgs)
{
	int n = 0;

	switch (env.mode) {
	case MODE_SINGLE:
		cfgs[n++] = (struct config){ .method = env.method, .block = env.block,
					     .threads = env.threads };
		break;
	case MODE_SWEEP:
		for (int t = 1; ; t *= 2) {
			if (t > env.threads)
				t = env.threads;
			cfgs[n++] = (struct config){ .method = env.method, .block = env.block,
						     .threads = t };
			if (t == env.threads)
				break;
		}
		break;
	case MODE_COMPARE:
		for (int m = 0; m < NR_METHODS; m++)
			cfgs[n++] = (struct config){ .method = m, .block = env.block,
						     .threads = env.threads };
		cfgs[n++] = (struct config){ .method = METHOD_MALLOC, .block = COMPARE_BLOCK,
					     .threads = env.threads };
		cfgs[n++] = (struct config){ .method = METHOD_MALLOC, .block = COMPARE_BLOCK,
					     .threads = env.threads, .top_pad = COMPARE_TOP_PAD };
		cfgs[n++] = (struct config){ .method = METHOD_MALLOC, .block = COMPARE_BLOCK,
					     .threads = env.threads, .arena_max = 1 };
		break;
	}
	return n;
}

/*
 * The runs, repetitions interleaved (A B C A B C, not A A B B C C), so
 * that a drift of the machine (another load, the page cache, the CPU
 * clock) spreads over every configuration instead of favouring some.
 */
void plan_runs(const struct config *cfgs, int ncfg, int repeat, struct run *runs)
{
	for (int rep = 0; rep < repeat; rep++)
		for (int c = 0; c < ncfg; c++) {
			struct run *r = &runs[rep * ncfg + c];

			memset(r, 0, sizeof(*r));
			r->cfg = cfgs[c];
			r->config_index = c;
			r->rep = rep;
			r->init_on_alloc = -1;
			r->no_thp = !thp_compiled();
			r->thp_zeroed_twice = thp_zeroed_twice();
		}
}

/*
 * For each configuration: best[c] is the repetition with the median wall
 * time (the lower median for an even count), and every repetition gets the
 * configuration's smallest and largest wall time.
 */
void plan_summarize(struct run *runs, int nruns, int ncfg, struct run **best)
{
	for (int c = 0; c < ncfg; c++) {
		uint64_t lo = UINT64_MAX, hi = 0;
		int reps = 0;

		best[c] = NULL;
		for (int i = 0; i < nruns; i++) {
			if (runs[i].config_index != c)
				continue;
			reps++;
			if (runs[i].wall_ns < lo)
				lo = runs[i].wall_ns;
			if (runs[i].wall_ns > hi)
				hi = runs[i].wall_ns;
		}
		for (int i = 0; i < nruns; i++) {
			int below = 0;

			if (runs[i].config_index != c)
				continue;
			runs[i].wall_min_ns = lo;
			runs[i].wall_max_ns = hi;
			/* rank among the repetitions; ties broken by run order */
			for (int j = 0; j < nruns; j++)
				below += runs[j].config_index == c &&
					 (runs[j].wall_ns < runs[i].wall_ns ||
					  (j < i && runs[j].wall_ns == runs[i].wall_ns));
			if (below == (reps - 1) / 2)
				best[c] = &runs[i];
		}
	}
}

bool plan_uses_file(const struct config *cfgs, int n)
{
	for (int i = 0; i < n; i++)
		if (method_reads_file(cfgs[i].method))
			return true;
	return false;
}

/*
 * What the blocks of a run take, not only their payload.  glibc: a chunk
 * has a header (8 bytes, counted as 16) and is rounded to 16 bytes; a block
 * at or above the mmap threshold (128 KiB until --mmap-threshold sets it;
 * glibc may raise it up to 32 MiB on its own) is mmapped on its own and
 * rounded to pages, up to M_MMAP_MAX (65536) such blocks at a time, and
 * arena chunks after that.  The mmap methods round each block to pages.
 * allocstat-run itself keeps 4 words per block, and its process takes
 * about 1 MiB before any block (counted as 2 MiB, and 64 KiB per thread for
 * its stack and results).  Page tables: 8 bytes per 4 KiB page.
 */
#define CHUNK_HEADER 16
#define MALLOC_ALIGN 16
#define MMAP_THRESHOLD_DEFAULT (128 * 1024ULL)
#define MMAP_MAX_DEFAULT 65536ULL
#define BLOCK_BOOKKEEPING (4 * sizeof(void *))
#define PROCESS_BASE (2 * MIB)
#define THREAD_BASE (64 * 1024ULL)

static uint64_t round_up(uint64_t v, uint64_t to)
{
	return (v + to - 1) / to * to;
}

/* a malloc chunk of len bytes, from an arena or mmapped on its own */
static uint64_t chunk_bytes(uint64_t len, bool mapped, uint64_t page)
{
	return round_up(len + CHUNK_HEADER, mapped ? page : MALLOC_ALIGN);
}

static uint64_t config_block(const struct config *c)
{
	return c->block ? c->block : env.size;
}

/* blocks per thread */
static uint64_t config_blocks(const struct config *c)
{
	return (env.size + config_block(c) - 1) / config_block(c);
}

/* saturating: a request too large to count is simply too large */
static uint64_t mul_sat(uint64_t a, uint64_t b)
{
	uint64_t r;

	return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

uint64_t run_footprint(const struct config *c)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t block = config_block(c), n = config_blocks(c);
	uint64_t last = env.size - (n - 1) * block;
	uint64_t threads = (uint64_t)c->threads, total = mul_sat(threads, n), bytes;

	if (env.size > UINT64_MAX / 4)
		return UINT64_MAX;
	if (method_mallocs(c->method)) {
		uint64_t threshold = env.mmap_threshold >= 0 ?
			(uint64_t)env.mmap_threshold : MMAP_THRESHOLD_DEFAULT;
		uint64_t maps = total < MMAP_MAX_DEFAULT ? total : MMAP_MAX_DEFAULT;

		if (block < threshold)
			maps = 0;
		bytes = mul_sat(threads, add_sat(mul_sat(n - 1, chunk_bytes(block, false, page)),
						 chunk_bytes(last, false, page)));
		bytes = add_sat(bytes, maps * (chunk_bytes(block, true, page) -
					       chunk_bytes(block, false, page)));
	} else {
		bytes = mul_sat(threads, add_sat(mul_sat(n - 1, round_up(block, page)),
						 round_up(last, page)));
	}
	bytes = add_sat(bytes, mul_sat(total, BLOCK_BOOKKEEPING));
	return add_sat(bytes, bytes / 512 + PROCESS_BASE + threads * THREAD_BASE);
}

/*
 * At most how many memory mappings the blocks of a run make: one per block
 * for the mmap methods (adjacent ones with the same flags are merged into
 * one), and up to three for thp (the aligned block with MADV_HUGEPAGE
 * between the unaligned ends); mmapped malloc chunks, up to M_MMAP_MAX.
 */
uint64_t run_mappings(const struct config *c)
{
	uint64_t total = mul_sat((uint64_t)c->threads, config_blocks(c));

	switch (c->method) {
	case METHOD_MALLOC:
	case METHOD_FILE:
	case METHOD_REUSE:
		return total < MMAP_MAX_DEFAULT ? total : MMAP_MAX_DEFAULT;
	case METHOD_THP:
		return mul_sat(3, total);
	default:
		return total;
	}
}

/* glibc.malloc.mmap_threshold=N of $GLIBC_TUNABLES, or -1 */
static long tunable_mmap_threshold(void)
{
	static const char name[] = "glibc.malloc.mmap_threshold=";
	const char *t = getenv("GLIBC_TUNABLES");
	unsigned long long v;
	char *end;

	for (const char *p = t; p && *p; p = strchr(p, ':') ? strchr(p, ':') + 1 : NULL) {
		if (strncmp(p, name, sizeof(name) - 1))
			continue;
		errno = 0;
		v = strtoull(p + sizeof(name) - 1, &end, 0);
		if (!errno && (*end == ':' || !*end) && v <= MMAP_THRESHOLD_DYNAMIC_MAX)
			return (long)v;
	}
	return -1;
}

/*
 * glibc's knobs act on its arenas (--arena-max, --top-pad) or decide which
 * blocks go there (--mmap-threshold).  A block at or above the mmap
 * threshold is mmapped on its own and never touches an arena.  Without a
 * set threshold, glibc starts at 128 KiB and raises it, up to 32 MiB, to
 * the size of an mmapped block that is freed: a block of 32 MiB or more is
 * always mmapped, a smaller one may come from an arena after a while.
 */
static void knob_warnings(const struct config *cfgs, int n)
{
	long threshold = env.mmap_threshold, tunable = tunable_mmap_threshold();
	bool any_malloc = false, any_arena = false, any_below_max = false;
	const char *arena_knob = env.arena_max ? "--arena-max" :
				 env.top_pad >= 0 ? "--top-pad" : NULL;
	char b[32], t[32];
	uint64_t smallest = UINT64_MAX;

	if (threshold < 0)
		threshold = tunable;
	for (int i = 0; i < n; i++) {
		uint64_t block = config_block(&cfgs[i]);
		/* the last block of a thread holds the remainder */
		uint64_t last = env.size - (config_blocks(&cfgs[i]) - 1) * block;

		if (!method_mallocs(cfgs[i].method))
			continue;
		any_malloc = true;
		if (last < smallest)
			smallest = last;
		any_arena |= threshold >= 0 ? last < (uint64_t)threshold
					    : last < MMAP_THRESHOLD_DYNAMIC_MAX;
		any_below_max |= last < MMAP_THRESHOLD_DYNAMIC_MAX;
	}
	if (!any_malloc) {
		if (arena_knob || env.mmap_threshold >= 0)
			warn("%s has no effect: glibc's knobs are only for --method malloc, file and reuse",
			     arena_knob ? arena_knob : "--mmap-threshold");
		return;
	}
	format_size(smallest, b, sizeof(b));
	if (arena_knob && !any_arena) {
		if (threshold >= 0)
			format_size((uint64_t)threshold, t, sizeof(t));
		warn("%s has no effect: every block (%s or more) is at or above glibc's mmap "
		     "threshold (%s%s), so malloc() mmaps each one on its own and no arena is used",
		     arena_knob, b, threshold >= 0 ? t : "at most 32MiB",
		     env.mmap_threshold >= 0 ? ", --mmap-threshold" :
		     threshold >= 0 ? ", from GLIBC_TUNABLES" : "");
	}
	if (env.mmap_threshold >= 0 && !any_below_max)
		warn("--mmap-threshold has no effect: every block (%s or more) is above the "
		     "largest threshold glibc allows (32MiB) and is mmapped anyway", b);
}

/* say what will not work as the options suggest, before the runs */
void plan_warnings(const struct config *cfgs, int n)
{
	bool thp = false;
	char b[32], p[32];

	knob_warnings(cfgs, n);

	env.pmd_size = thp_pmd_size(NULL, &env.pmd_size_guessed);
	format_size(env.pmd_size, p, sizeof(p));
	for (int i = 0; i < n; i++)
		thp |= cfgs[i].method == METHOD_THP;
	if (thp && !thp_compiled()) {
		warn("this kernel has no transparent huge pages (no " THP_DIR ", as on "
		     "PREEMPT_RT kernels): thp behaves like mmap");
		return;
	}
	if (thp && env.pmd_size_guessed)
		warn("cannot read " THP_PMD_SIZE_PATH ": the PMD size (of a huge page) is assumed to be %s",
		     p);
	for (int i = 0; i < n; i++) {
		if (cfgs[i].method != METHOD_THP || config_block(&cfgs[i]) >= env.pmd_size)
			continue;
		format_size(config_block(&cfgs[i]), b, sizeof(b));
		warn("--method thp with %s blocks: a block smaller than the PMD size (%s) "
		     "cannot get huge pages; thp behaves like mmap here", b, p);
		break;
	}
}

/*
 * mmap() fails with ENOMEM, and madvise() with EAGAIN, when a process
 * would have more than vm.max_map_count mappings: after such a failure,
 * say so if the run may make that many.
 */
void plan_map_count_hint(const struct config *c)
{
	uint64_t limit, need = run_mappings(c);

	if (max_map_count(&limit) || need < limit)
		return;
	fprintf(stderr, "allocstat-run: this run makes up to %llu memory mappings "
		"(%d threads x %llu blocks%s), more than " MAX_MAP_COUNT_PATH " (%llu) allows: "
		"use larger blocks, or raise it (sysctl -w vm.max_map_count=%llu)\n",
		(unsigned long long)need, c->threads, (unsigned long long)config_blocks(c),
		c->method == METHOD_THP ? " x 3 for thp's aligned part and its two ends" : "",
		(unsigned long long)limit, (unsigned long long)add_sat(need, 65536));
}

/* refuse before allocating anything if the largest run cannot fit */
int plan_check_memory(const struct config *cfgs, int n)
{
	uint64_t avail, need = 0, file = 0;
	int largest = 0;
	char a[32], b[32], c[32], label[48];

	for (int i = 0; i < n; i++) {
		uint64_t f = run_footprint(&cfgs[i]);

		if (f > need) {
			need = f;
			largest = i;
		}
	}
	/* a temporary file lives in memory when TMPDIR is a tmpfs */
	if (plan_uses_file(cfgs, n) && !env.file)
		file = env.size;
	if (mem_available(&avail)) {
		fprintf(stderr, "allocstat-run: cannot read MemAvailable from /proc/meminfo\n");
		return -1;
	}
	need = add_sat(need, file);
	env.memory_estimate = need;
	if (need <= avail)
		return 0;
	format_size(env.size, a, sizeof(a));
	format_size(need, b, sizeof(b));
	format_size(avail, c, sizeof(c));
	fprintf(stderr,
		"allocstat-run: refusing to allocate: %d threads x %s of %s = %s needed "
		"(%llu bytes, with block overhead and page tables%s), but MemAvailable is %s (%llu bytes)\n",
		cfgs[largest].threads, a, config_label(&cfgs[largest], label, sizeof(label)),
		b, (unsigned long long)need,
		file ? " and the temporary file" : "", c, (unsigned long long)avail);
	return -1;
}

long config_top_pad(const struct config *c)
{
	return c->top_pad ? (long)c->top_pad : env.top_pad;
}

/* in the run's process, before its threads start */
int set_malloc_knobs(const struct config *c)
{
	long top_pad = config_top_pad(c);
	int arena_max = c->arena_max ? c->arena_max : env.arena_max;

	if (arena_max && !mallopt(M_ARENA_MAX, arena_max)) {
		fprintf(stderr, "allocstat-run: mallopt(M_ARENA_MAX, %d) failed\n", arena_max);
		return -1;
	}
	if (env.mmap_threshold >= 0 &&
	    !mallopt(M_MMAP_THRESHOLD, (int)env.mmap_threshold)) {
		fprintf(stderr, "allocstat-run: mallopt(M_MMAP_THRESHOLD, %ld) failed\n",
			env.mmap_threshold);
		return -1;
	}
	if (top_pad >= 0 && !mallopt(M_TOP_PAD, (int)top_pad)) {
		fprintf(stderr, "allocstat-run: mallopt(M_TOP_PAD, %ld) failed\n", top_pad);
		return -1;
	}
	return 0;
}
