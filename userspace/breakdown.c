// SPDX-License-Identifier: GPL-2.0
/*
 * allocstat-run: where each thread's time went, as a sum of measured,
 * disjoint buckets.  Nothing is scaled and nothing is estimated; what is
 * not measured is shown as unknown, and what the measurements do not
 * account for is shown as unexplained.
 *
 * A thread's time T is its wall time from the start of the allocation to
 * the end of the free; for a thread of an observed program (observe.c) it
 * is its lifetime (inside -p's window), and U, S, R, Z come from
 * /proc/allocstat's task_* columns or /proc/<pid>/task/<tid>/ instead.
 * The thread reads, at both ends (workload.c):
 *   U, S   user and kernel CPU time: getrusage(RUSAGE_THREAD).  The kernel
 *          samples which of the two a tick hit and splits the exact CPU
 *          time in that proportion, so the split is good to a few ticks;
 *          U + S is the exact CPU time, brought up to date by reading
 *          CLOCK_THREAD_CPUTIME_ID just before.
 *   R      runnable, not running: schedstat's run_delay (sched.c).
 *   Z      asleep: sched's sum_sleep_runtime (sched.c), with
 *          kernel.sched_schedstats on.
 * and the module gives, for the thread's faults, page clears and mmap_lock
 * waits, each section's time and the parts of it spent runnable (runq) and
 * asleep (sleep); on-CPU is the rest (allocstat(4)):
 *   Fc = fault_ns - fault_runq_ns - fault_sleep_ns
 *   Zc = zero_ns - zero_runq_ns - zero_sleep_ns
 *   Lc = on-CPU mmap_lock wait (spinning), Ls = asleep on the mmap_lock
 *
 * The buckets:
 *   user         U
 *   zero_cpu     Zc
 *   fault_cpu    Fc - Zc            (page clears happen inside faults)
 *   lock_wait    Lc + Ls            (the fault path takes the mmap_lock
 *                                    before handle_mm_fault(): no overlap)
 *   runq         R                  (anywhere: in faults, locks, user)
 *   sys_other    S - Fc - Lc        (mmap, munmap, fault entry and exit...)
 *   sleep_other  Z - Ls
 *   unexplained  T - the sum of the above
 * The sum of the measured buckets is U + S + R + Z, so unexplained is
 * T - (U + S) - R - Z: four counters of the scheduler against the thread's
 * own clock, which agree when the scheduler accounted for every
 * nanosecond.  The module's parts only move time between buckets; a part
 * that is too large shows as a negative bucket (sys_other < 0: the module
 * counted more kernel CPU than getrusage; fault_cpu < 0: more zeroing than
 * fault time), never hidden.
 *
 * A bucket without data is unknown (JSON null, "-" in text).  Its time then
 * lands in the bucket it is a part of, which says that it holds it
 * (holds[]): no zeroing columns, zeroing is in fault_cpu; no fault columns,
 * faults are in sys_other; no mmap_lock columns, the spinning is in
 * sys_other and the sleeping in sleep_other; no run_delay or no sleep
 * time, they are in unexplained.
 */
#include <string.h>

#include "allocstat-run.h"

#define V(t, f) ((int64_t)(t)->val[ALLOCSTAT_##f])
#define BIT(b) (1u << (b))

const struct bucket_info buckets[NR_BUCKETS] = {
	[BUCKET_USER]		= { "user-mode CPU", "user_ns", "user", "#2ca02c" },
	[BUCKET_ZERO_CPU]	= { "page zeroing, on CPU", "zero_cpu_ns", "zero_cpu", "#d62728" },
	[BUCKET_FAULT_CPU]	= { "other fault handling, on CPU", "fault_cpu_ns", "fault_cpu",
				    "#ff7f0e" },
	[BUCKET_LOCK_WAIT]	= { "waiting for the mmap_lock", "lock_wait_ns", "lock_wait",
				    "#1f77b4" },
	[BUCKET_RUNQ]		= { "waiting for a CPU (runqueue)", "runq_ns", "runq", "#9467bd" },
	[BUCKET_SYS_OTHER]	= { "other kernel CPU", "sys_other_ns", "sys_other", "#8c564b" },
	[BUCKET_SLEEP_OTHER]	= { "asleep, not on the mmap_lock", "sleep_other_ns",
				    "sleep_other", "#17becf" },
	[BUCKET_UNEXPLAINED]	= { "unexplained", "unexplained_ns", "unexplained", "#b8b8b8" },
};

static bool all_present(const struct thread_result *t, const int *f, int n)
{
	if (!t->matched)
		return false;
	for (int i = 0; i < n; i++)
		if (!((t->present >> f[i]) & 1))
			return false;
	return true;
}

/* the module's on-CPU part of a section: total - runq - sleep */
static int64_t on_cpu(const struct thread_result *t, int total, int runq, int sleep)
{
	return (int64_t)t->val[total] - (int64_t)t->val[runq] - (int64_t)t->val[sleep];
}

void thread_buckets(const struct thread_result *t, struct buckets *b)
{
	static const int zero_f[] = { ALLOCSTAT_ZERO_NS, ALLOCSTAT_ZERO_RUNQ_NS,
				      ALLOCSTAT_ZERO_SLEEP_NS };
	static const int fault_f[] = { ALLOCSTAT_FAULT_NS, ALLOCSTAT_FAULT_RUNQ_NS,
				       ALLOCSTAT_FAULT_SLEEP_NS };
	static const int lock_f[] = {
		ALLOCSTAT_MMAP_READ_WAIT_NS, ALLOCSTAT_MMAP_READ_WAIT_RUNQ_NS,
		ALLOCSTAT_MMAP_READ_WAIT_SLEEP_NS, ALLOCSTAT_MMAP_WRITE_WAIT_NS,
		ALLOCSTAT_MMAP_WRITE_WAIT_RUNQ_NS, ALLOCSTAT_MMAP_WRITE_WAIT_SLEEP_NS,
	};
	bool zk = all_present(t, zero_f, 3), fk = all_present(t, fault_f, 3);
	bool lk = all_present(t, lock_f, 6);
	int64_t zc = 0, fc = 0, lc = 0, ls = 0, sum = 0;

	memset(b, 0, sizeof(*b));
	b->threads = 1;
	b->rows = t->matched;
	b->thread_ns = t->observed ? t->life_ns : t->alloc_ns + t->touch_ns + t->free_ns;
	if (zk)
		zc = on_cpu(t, ALLOCSTAT_ZERO_NS, ALLOCSTAT_ZERO_RUNQ_NS, ALLOCSTAT_ZERO_SLEEP_NS);
	if (fk)
		fc = on_cpu(t, ALLOCSTAT_FAULT_NS, ALLOCSTAT_FAULT_RUNQ_NS,
			    ALLOCSTAT_FAULT_SLEEP_NS);
	if (lk) {
		lc = on_cpu(t, ALLOCSTAT_MMAP_READ_WAIT_NS, ALLOCSTAT_MMAP_READ_WAIT_RUNQ_NS,
			    ALLOCSTAT_MMAP_READ_WAIT_SLEEP_NS) +
		     on_cpu(t, ALLOCSTAT_MMAP_WRITE_WAIT_NS, ALLOCSTAT_MMAP_WRITE_WAIT_RUNQ_NS,
			    ALLOCSTAT_MMAP_WRITE_WAIT_SLEEP_NS);
		ls = V(t, MMAP_READ_WAIT_SLEEP_NS) + V(t, MMAP_WRITE_WAIT_SLEEP_NS);
	}

	b->ns[BUCKET_USER] = (int64_t)t->utime_ns;
	b->known[BUCKET_USER] = !t->observed || t->cpu_ok;

	if (zk) {
		b->ns[BUCKET_ZERO_CPU] = zc;
		b->known[BUCKET_ZERO_CPU] = 1;
	}
	if (fk) {
		b->ns[BUCKET_FAULT_CPU] = fc - zc;
		b->known[BUCKET_FAULT_CPU] = 1;
		if (!zk)
			b->holds[BUCKET_FAULT_CPU] |= BIT(BUCKET_ZERO_CPU);
	}
	if (lk) {
		b->ns[BUCKET_LOCK_WAIT] = lc + ls;
		b->lock_sleep_ns = ls;
		b->known[BUCKET_LOCK_WAIT] = 1;
	}
	if (t->run_delay_ok) {
		b->ns[BUCKET_RUNQ] = (int64_t)t->run_delay_ns;
		b->known[BUCKET_RUNQ] = 1;
	} else {
		b->holds[BUCKET_UNEXPLAINED] |= BIT(BUCKET_RUNQ);
	}

	/* kernel CPU: without fault columns, faults (and any zeroing) are in it */
	b->ns[BUCKET_SYS_OTHER] = (int64_t)t->stime_ns - (fk ? fc : zc) - lc;
	b->known[BUCKET_SYS_OTHER] = b->known[BUCKET_USER];
	if (!fk)
		b->holds[BUCKET_SYS_OTHER] |= BIT(BUCKET_FAULT_CPU) |
					      (zk ? 0 : BIT(BUCKET_ZERO_CPU));
	if (!lk)
		b->holds[BUCKET_SYS_OTHER] |= BIT(BUCKET_LOCK_WAIT);

	if (t->sleep_ok) {
		b->ns[BUCKET_SLEEP_OTHER] = (int64_t)t->sleep_ns - ls;
		b->known[BUCKET_SLEEP_OTHER] = 1;
		if (!lk)
			b->holds[BUCKET_SLEEP_OTHER] |= BIT(BUCKET_LOCK_WAIT);
	} else {
		b->holds[BUCKET_UNEXPLAINED] |= BIT(BUCKET_SLEEP_OTHER) |
						(lk ? 0 : BIT(BUCKET_LOCK_WAIT));
	}

	for (int k = 0; k < BUCKET_UNEXPLAINED; k++)
		if (b->known[k])
			sum += b->ns[k];
	b->ns[BUCKET_UNEXPLAINED] = (int64_t)b->thread_ns - sum;
	/* without the CPU time or the thread's time, the rest is not known */
	b->known[BUCKET_UNEXPLAINED] = !t->observed || (t->cpu_ok && t->life_ok);
	if (!b->known[BUCKET_UNEXPLAINED])
		b->ns[BUCKET_UNEXPLAINED] = 0;
}

/* add one thread's buckets to a run's */
static void buckets_add(struct buckets *sum, const struct buckets *b)
{
	sum->thread_ns += b->thread_ns;
	sum->threads += b->threads;
	sum->rows += b->rows;
	sum->lock_sleep_ns += b->lock_sleep_ns;
	for (int k = 0; k < NR_BUCKETS; k++) {
		if (b->known[k])
			sum->ns[k] += b->ns[k];
		sum->known[k] += b->known[k];
		sum->holds[k] |= b->holds[k];
	}
}

/* Each thread's buckets, and their sum over the run's threads. */
void compute_breakdown(struct run *r)
{
	memset(&r->bd, 0, sizeof(r->bd));
	r->cpu_ns = 0;
	for (int i = 0; i < r->cfg.threads; i++) {
		struct thread_result *t = &r->thr[i];

		thread_buckets(t, &t->bk);
		buckets_add(&r->bd, &t->bk);
		r->cpu_ns += t->cpu_ns;
	}
}

/* "page zeroing, other fault handling" for the unknown buckets in holds */
const char *held_names(uint32_t holds, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = '\0';
	for (int k = 0; k < NR_BUCKETS && at < len; k++)
		if (holds & BIT(k))
			at += (size_t)snprintf(buf + at, len - at, "%s%s", at ? ", " : "",
					       buckets[k].name);
	return buf;
}
