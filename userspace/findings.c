// SPDX-License-Identifier: GPL-2.0
/*
 * allocstat-run: findings, what to fix, from the numbers a run measured.
 *
 * Each rule looks at one run's buckets (breakdown.c) and the module's
 * counters summed over its threads.  A finding names the numbers that
 * triggered it, the fix, and the saving the same numbers allow: "up to",
 * with the arithmetic in basis[].  At most MAX_FINDINGS, largest saving
 * first.  A rule whose numbers are unknown ("-") does not fire.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "allocstat-run.h"

/* summed over a run's threads; has[f]: every thread with a row gave f */
struct sums {
	uint64_t v[ALLOCSTAT_NR_FIELDS];
	bool has[ALLOCSTAT_NR_FIELDS];
	int rows;
};

static void sum_counters(const struct run *r, struct sums *s)
{
	memset(s, 0, sizeof(*s));
	for (int f = 0; f < ALLOCSTAT_NR_FIELDS; f++)
		s->has[f] = true;
	for (int i = 0; i < r->cfg.threads; i++) {
		const struct thread_result *t = &r->thr[i];

		if (!t->matched)
			continue;
		s->rows++;
		for (int f = 0; f < ALLOCSTAT_NR_FIELDS; f++) {
			if (t->present >> f & 1)
				s->v[f] += t->val[f];
			else
				s->has[f] = false;
		}
	}
	if (!s->rows)
		memset(s->has, 0, sizeof(s->has));
}

#define SUM(s, f) ((s)->v[ALLOCSTAT_##f])
#define HAS(s, f) ((s)->has[ALLOCSTAT_##f])
/* a bucket of the run, if every thread measured it; else -1 */
static int64_t bucket(const struct run *r, enum bucket k)
{
	return r->bd.known[k] == r->bd.threads ? r->bd.ns[k] : -1;
}

/*
 * Is @ns at least every measured bucket other than the fault and zeroing
 * ones?  "Fault-bound": fault handling is where most of the time went,
 * whatever else the kernel does around it (a debug kernel's free() costs
 * nearly as much as the faults).
 */
static bool largest(const struct run *r, int64_t ns)
{
	int k;

	for (k = 0; k < NR_BUCKETS; k++)
		if (k != BUCKET_FAULT_CPU && k != BUCKET_ZERO_CPU && k != BUCKET_UNEXPLAINED &&
		    bucket(r, (enum bucket)k) > ns)
			return false;
	return true;
}

static double sec(int64_t ns)
{
	return (double)ns / 1e9;
}

static double share(int64_t ns, uint64_t of)
{
	return of ? 100.0 * (double)ns / (double)of : 0;
}

static struct finding *add(struct finding *f, int *n, const char *rule, int64_t saving)
{
	struct finding *x = &f[(*n)++];

	memset(x, 0, sizeof(*x));
	x->rule = rule;
	x->saving_ns = saving;
	return x;
}

/*
 * Double zeroing: with init_on_alloc, the page allocator zeroes a huge
 * page, and on kernels up to 6.x the fault clears it again.  The module
 * counts the pages the allocator zeroed (zero_alloc_pages) among
 * zero_pages; the rest were cleared by the fault's huge-page clears, and
 * those are the second clears.  7.x skips the fault's clear when the
 * allocator has zeroed (every zeroed page is then the allocator's): no
 * finding.
 */
static void rule_double_zeroing(const struct run *r, const struct sums *s,
				struct finding *f, int *n)
{
	int64_t zero = bucket(r, BUCKET_ZERO_CPU);
	uint64_t pages = SUM(s, ZERO_PAGES), alloc = SUM(s, ZERO_ALLOC_PAGES);
	uint64_t again = pages > alloc ? pages - alloc : 0;
	struct finding *x;
	int64_t saving;

	/* with init_on_alloc=0 known, the allocator was asked (__GFP_ZERO) */
	if (zero <= 0 || r->init_on_alloc == 0 || !HAS(s, ZERO_HUGE) || !HAS(s, ZERO_ALLOC_PAGES) ||
	    !SUM(s, ZERO_HUGE) || !pages || alloc * 10 < pages * 4 || again * 10 < pages)
		return;
	saving = (int64_t)((double)zero * (double)again / (double)pages);
	x = add(f, n, "double_zeroing", saving);
	snprintf(x->evidence, sizeof(x->evidence),
		 "%" PRIu64 " of %" PRIu64 " zeroed pages (%.0f%%) were zeroed by the page "
		 "allocator, and %" PRIu64 " were cleared again by the fault's %" PRIu64
		 " huge-page clears; zeroing took %.3f s on a CPU", alloc, pages,
		 share((int64_t)alloc, pages), again, SUM(s, ZERO_HUGE), sec(zero));
	snprintf(x->fix, sizeof(x->fix),
		 "init_on_alloc zeroes every page before the fault clears it again: boot "
		 "with init_on_alloc=0 on the kernel command line");
	snprintf(x->basis, sizeof(x->basis),
		 "on-CPU zeroing x the share of the zeroed pages cleared a second time");
}

/*
 * More runnable threads than CPUs.  With no more threads than CPUs the
 * runqueue time is other processes' doing, which fewer threads would not
 * cure: no finding then.
 */
static void rule_runq(const struct run *r, struct finding *f, int *n)
{
	int64_t runq = bucket(r, BUCKET_RUNQ);
	struct finding *x;
	int cpus = online_cpus();

	if (runq < 0 || r->cfg.threads <= cpus || (uint64_t)runq * 5 < r->bd.thread_ns)
		return;
	x = add(f, n, "runqueue", runq);
	snprintf(x->evidence, sizeof(x->evidence),
		 "%d threads on %d CPU%s were runnable but not running for %.3f s of their "
		 "%.3f s (%.0f%%)", r->cfg.threads, cpus, cpus == 1 ? "" : "s", sec(runq),
		 sec((int64_t)r->bd.thread_ns),
		 share(runq, r->bd.thread_ns));
	snprintf(x->fix, sizeof(x->fix),
		 "run at most %d thread%s at a time, or give the program more CPUs", cpus,
		 cpus == 1 ? "" : "s");
	snprintf(x->basis, sizeof(x->basis),
		 "the threads' time in the runqueue, which fewer threads than CPUs avoid");
}

/*
 * Arena growth: glibc grows a thread's arena by mprotect() as it needs
 * more, each time with the mmap_lock held for write, which the other
 * threads' faults wait for.  Fires when the holds and waits are 2% of the
 * thread time or more.  (An earlier version asked for read waits alone
 * with per-VMA locks, because --top-pad 64M saved nothing on 6.12; that
 * was THP: the larger heap got huge pages, zeroed twice.  Measured with THP
 * on madvise, the fix saved 11% there, with the rule silent.)
 */
static void rule_arena_growth(const struct run *r, const struct sums *s,
			      struct finding *f, int *n)
{
	uint64_t writes = SUM(s, MMAP_WRITE), hold = SUM(s, MMAP_WRITE_HOLD_NS);
	uint64_t waits = SUM(s, MMAP_READ_WAIT_NS) + SUM(s, MMAP_WRITE_WAIT_NS);
	struct finding *x;

	if (!HAS(s, MMAP_WRITE) || !HAS(s, MMAP_WRITE_HOLD_NS) || !HAS(s, MMAP_READ_WAIT_NS) ||
	    writes < 100 * (uint64_t)s->rows)
		return;
	/* with per-VMA locks too: faults hardly wait, but the writes still cost */
	if (hold + waits < r->bd.thread_ns / 50)
		return;
	x = add(f, n, "arena_growth", (int64_t)(hold + waits));
	snprintf(x->evidence, sizeof(x->evidence),
		 "the threads took the mmap_lock for write %" PRIu64 " times (%" PRIu64
		 " per thread), held it %.3f s and waited %.3f s for it",
		 writes, writes / (uint64_t)s->rows, sec((int64_t)hold), sec((int64_t)waits));
	snprintf(x->fix, sizeof(x->fix),
		 "grow malloc arenas in larger steps: mallopt(M_TOP_PAD, 64 MiB) or "
		 "GLIBC_TUNABLES=glibc.malloc.top_pad=67108864 (--top-pad 64M), "
		 "mallopt(M_ARENA_MAX, 1), or one large allocation (with transparent huge "
		 "pages always on, larger steps also get huge pages: see double_zeroing)");
	snprintf(x->basis, sizeof(x->basis),
		 "the write-lock hold time plus the mmap_lock waits, if the writes go away");
}

/*
 * Fault CPU with 4 KiB pages: THP would take one fault per 512 pages.  The
 * zeroing stays: the same bytes are cleared once either way, unless the
 * kernel zeroes at allocation too (init_on_alloc=1, the header says so)
 * and, up to 6.12, clears every huge page again: about zero_cpu more, which
 * on Debian 6.1 and 6.12 takes all of THP's saving.  Then the fix is THP with init_on_alloc=0, and
 * the evidence says what THP alone would leave.  The estimate leaves out
 * what freeing 512 times fewer pages saves at munmap or exit, which is not
 * measured: the test that applies the fix (selftests/host/56-findings-hold.sh)
 * measured more than the estimate on both kernels.
 */
static void rule_small_pages(const struct run *r, const struct sums *s,
			     struct finding *f, int *n)
{
	int64_t fault = bucket(r, BUCKET_FAULT_CPU), zero = bucket(r, BUCKET_ZERO_CPU);
	uint64_t faults = SUM(s, FAULTS);
	struct finding *x;
	char huge[320];
	int64_t saving;

	if (fault < 0 || zero < 0 || !HAS(s, FAULTS) || !HAS(s, ZERO_HUGE) ||
	    SUM(s, ZERO_HUGE) || faults < 1000 * (uint64_t)s->rows ||
	    (uint64_t)(fault + zero) * 3 < r->bd.thread_ns || !largest(r, fault + zero))
		return;
	saving = fault - fault / 512;
	x = add(f, n, "small_pages", saving);
	snprintf(x->evidence, sizeof(x->evidence),
		 "%" PRIu64 " faults on 4 KiB pages took %.3f s on a CPU (%.0f%%), "
		 "%.1f us each besides zeroing (%.3f s)", faults, sec(fault + zero),
		 share(fault + zero, r->bd.thread_ns), (double)fault / 1e3 / (double)faults,
		 sec(zero));
	/* the huge-page option, with its punctuation, differs by kernel; the rest does not */
	if (r->no_thp) {
		snprintf(huge, sizeof(huge),
			 "this kernel has no transparent huge pages (CONFIG_TRANSPARENT_HUGEPAGE "
			 "is off, as on PREEMPT_RT): huge pages from hugetlbfs (mmap MAP_HUGETLB, "
			 "with vm.nr_hugepages reserved),");
	} else if (r->init_on_alloc == 1 && r->thp_zeroed_twice) {
		char alone[64];

		if (saving > zero)
			snprintf(alone, sizeof(alone), "leaving up to %.3f s for THP alone",
				 sec(saving - zero));
		else
			snprintf(alone, sizeof(alone), "as much as THP alone saves");
		snprintf(huge, sizeof(huge),
			 "transparent huge pages (madvise(MADV_HUGEPAGE) on 2 MiB-aligned memory) "
			 "with init_on_alloc=0 on the kernel command line: this kernel zeroes at "
			 "allocation (init_on_alloc=1), so each huge page would be zeroed twice, "
			 "about %.3f s more, %s; or", sec(zero), alone);
	} else {
		snprintf(huge, sizeof(huge),
			 "transparent huge pages (madvise(MADV_HUGEPAGE) on 2 MiB-aligned memory)%s,",
			 r->init_on_alloc < 0 && r->thp_zeroed_twice ?
			 " (if the kernel zeroes at allocation, init_on_alloc=1, also boot "
			 "with init_on_alloc=0)" : "");
	}
	snprintf(x->fix, sizeof(x->fix),
		 "fault fewer pages: %s MAP_POPULATE or MADV_POPULATE_WRITE up front, "
		 "or reuse the buffer instead of allocating it again", huge);
	snprintf(x->basis, sizeof(x->basis),
		 "fault handling other than zeroing, of which huge pages keep one fault "
		 "in 512; the zeroing stays%s",
		 r->init_on_alloc == 1 && !r->no_thp && r->thp_zeroed_twice ?
		 " (with init_on_alloc=0)" : "");
}

/* mmap_lock read waits behind writers, on kernels without per-VMA locks */
static void rule_read_waits(const struct run *r, const struct sums *s,
			    struct finding *f, int *n)
{
	uint64_t wait = SUM(s, MMAP_READ_WAIT_NS);
	struct finding *x;

	if (!HAS(s, MMAP_READ_WAIT_NS) || HAS(s, VMA_FAULTS) ||
	    wait * 20 < r->bd.thread_ns || !SUM(s, MMAP_WRITE))
		return;
	x = add(f, n, "read_waits", (int64_t)wait);
	snprintf(x->evidence, sizeof(x->evidence),
		 "faults waited %.3f s (%.0f%%) for the mmap_lock behind %" PRIu64
		 " write acquisitions; this kernel has no per-VMA locks (vma_faults -)",
		 sec((int64_t)wait), share((int64_t)wait, r->bd.thread_ns), SUM(s, MMAP_WRITE));
	snprintf(x->fix, sizeof(x->fix),
		 "keep mmap, munmap and mprotect out of the phase that faults; "
		 "kernels 6.4 and later fault under per-VMA locks and avoid most of it");
	snprintf(x->basis, sizeof(x->basis), "the mmap_lock read waits");
}

static int by_saving(const void *a, const void *b)
{
	const struct finding *x = a, *y = b;

	return (x->saving_ns < y->saving_ns) - (x->saving_ns > y->saving_ns);
}

int find_findings(const struct run *r, struct finding *f)
{
	struct finding all[NR_RULES];
	struct sums s;
	int n = 0;

	if (!r->bd.thread_ns)
		return 0;
	sum_counters(r, &s);
	rule_double_zeroing(r, &s, all, &n);
	rule_runq(r, all, &n);
	rule_arena_growth(r, &s, all, &n);
	rule_small_pages(r, &s, all, &n);
	rule_read_waits(r, &s, all, &n);
	qsort(all, (size_t)n, sizeof(all[0]), by_saving);
	/* a fix that saves under 1% of the time is not worth a line */
	while (n > 0 && all[n - 1].saving_ns * 100 < (int64_t)r->bd.thread_ns)
		n--;
	if (n > MAX_FINDINGS)
		n = MAX_FINDINGS;
	memcpy(f, all, sizeof(all[0]) * (size_t)n);
	return n;
}

void report_findings(FILE *out, const struct run *r)
{
	struct finding f[MAX_FINDINGS];
	int n = find_findings(r, f);

	fprintf(out, "findings:%s\n", n ? "" : " none of allocstat-run's rules fired");
	for (int i = 0; i < n; i++)
		fprintf(out, "  %d. %s: %s.\n     fix: %s.\n     saving: up to %.3f s of "
			"thread time (%.0f%%): %s.\n", i + 1, f[i].rule, f[i].evidence, f[i].fix,
			sec(f[i].saving_ns), share(f[i].saving_ns, r->bd.thread_ns), f[i].basis);
}
