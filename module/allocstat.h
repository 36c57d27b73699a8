/* SPDX-License-Identifier: GPL-2.0 */
/*
 * allocstat: per-task accounting of page faults, page zeroing and
 * mmap_lock waits and holds.  Shared declarations.
 */
#ifndef ALLOCSTAT_H
#define ALLOCSTAT_H

#include <linux/atomic.h>
#include <linux/cache.h>
#include <linux/cpumask.h>
#include <linux/list.h>
#include <linux/preempt.h>
#include <linux/mm_types.h>
#include <linux/sched.h>
#include <linux/sched/clock.h>
#include <linux/types.h>

#include "compat.h"

#define ALLOCSTAT_VERSION	"0.4.0"

/* Hook groups; each one can be switched off with the hooks= parameter. */
enum allocstat_hook {
	ALLOCSTAT_HOOK_FAULTS,
	ALLOCSTAT_HOOK_ZEROING,
	ALLOCSTAT_HOOK_MMAP_LOCK,
	ALLOCSTAT_HOOK_EXIT,		/* from here on: not in hooks=, always tried */
	ALLOCSTAT_HOOK_FORK,
	ALLOCSTAT_NR_HOOKS,
};

/*
 * What an attached hook group provides beyond its own columns.  Each group
 * publishes it in allocstat_provided[] from its init, before main.c sets its
 * bit in allocstat_hooks_active, and proc.c reads only this table, never a
 * hook file.  /proc/allocstat exists only while every group is attached
 * (created after the last attach, removed before the first detach), so a
 * reader never sees an entry change.
 */
enum allocstat_cap {
	ALLOCSTAT_CAP_VMA_LOCK,		/* faults: vma_faults, vma_retry */
	ALLOCSTAT_CAP_ZERO_HUGE,	/* zeroing: zero_huge, zero_huge_ns */
	ALLOCSTAT_CAP_ZERO_ALLOC,	/* zeroing: zero_alloc_pages */
};

struct allocstat_provides {
	unsigned long caps;		/* BIT(enum allocstat_cap) */
	unsigned long (*missed)(void);	/* events its kprobes missed, or NULL */
};

extern struct allocstat_provides allocstat_provided[ALLOCSTAT_NR_HOOKS];

/* mmap_lock holds a task can have open at once (several mms, see KERNEL-NOTES). */
#define ALLOCSTAT_MAX_HOLDS	4

struct allocstat_lock_stat {
	u64 count;
	u64 wait_ns;
	u64 wait_runq_ns;	/* parts of wait_ns: see struct allocstat_section */
	u64 wait_sleep_ns;
	u64 wait_max_ns;
	u64 hold_ns;
	u64 hold_max_ns;
};

/*
 * A moment in the current task's life as the scheduler accounts it, taken
 * at the start and at the end of every timed section (allocstat_stamp()).
 */
struct allocstat_stamp {
	u64 ns;			/* allocstat_now() */
	u64 oncpu_ns;		/* the task's CPU time until then */
	u64 runq_ns;		/* its time runnable but not running until then */
};

/*
 * A timed section and its two off-CPU parts: runq_ns runnable but waiting
 * for a CPU (preempted, or woken and not yet running), sleep_ns blocked.
 * The on-CPU part is ns - runq_ns - sleep_ns.
 */
struct allocstat_section {
	u64 ns;
	u64 runq_ns;
	u64 sleep_ns;
};

/*
 * An open hold: the mm (identity only, never dereferenced) with the mode in
 * its lowest bit (an mm_struct is word-aligned), 16 bytes, so that a slot
 * stays within 8 cache lines.
 */
struct allocstat_hold {
	unsigned long mm_write;
	u64 start_ns;
};

static inline unsigned long allocstat_hold_key(const struct mm_struct *mm, bool write)
{
	return (unsigned long)mm | write;
}

/* What /proc/allocstat prints of a task, besides its identity. */
struct allocstat_counters {
	/* page faults */
	u64 faults;
	u64 fault_ns;
	u64 fault_runq_ns;
	u64 fault_sleep_ns;
	u64 fault_max_ns;
	u64 vma_faults;
	u64 vma_retry;

	/* page zeroing */
	u64 zero_pages;
	u64 zero_ns;
	u64 zero_runq_ns;
	u64 zero_sleep_ns;
	u64 zero_huge;
	u64 zero_alloc_pages;

	/* mmap_lock */
	struct allocstat_lock_stat lock[2];	/* [0] read, [1] write */
	u64 trylock_fail;
};

/*
 * A task's whole life as the scheduler accounted it, taken by the exit hook
 * (table.c, task_life()), so that a reader can tell where the time of a
 * task that is gone went: the same sources as getrusage(RUSAGE_THREAD),
 * /proc/<tid>/schedstat and /proc/<tid>/sched of a live one.
 */
struct allocstat_life {
	u64 end_ns;		/* CLOCK_MONOTONIC (ktime_get_ns()), as start_time */
	u64 cpu_ns;		/* utime_ns + stime_ns */
	u64 utime_ns;
	u64 stime_ns;
	u64 runq_ns;		/* sched_info.run_delay */
	u64 sleep_ns;		/* stats.sum_sleep_runtime (schedstats on only) */
};

/* One row as a reader gets it (a snapshot; see allocstat_snapshot()). */
struct allocstat_row {
	pid_t tid;
	pid_t tgid;
	pid_t root;		/* the tgid the track filter matches: see table.c */
	char comm[TASK_COMM_LEN];
	bool exited;
	bool ended;		/* life is written (by the exit hook) */
	u64 start_ns;		/* task_struct.start_time: CLOCK_MONOTONIC */
	struct allocstat_life life;
	struct allocstat_counters c;
};

/*
 * One task's slot.
 *
 * Identity (key, start_time, row.tid/tgid) is written while the slot is
 * being (re)initialized under the table lock, between two increments of
 * seq (odd while it is written: see table.c); the counters are then written
 * only by the task itself (every probe runs in the task's own context with
 * preemption disabled), so they need no atomics, and each slot has cache
 * lines of its own.  Readers use READ_ONCE and may see a row mid-update,
 * never a torn 64-bit value.
 */
struct allocstat_task {
	/* identity: a task_struct can be reused, so start_time is part of the key */
	const struct task_struct *key;
	u64 start_time;
	struct allocstat_task *next;	/* hash chain of live rows (table.c) */
	struct list_head exited;	/* FIFO of exited rows, oldest first */
	u64 seen;			/* creation order, for the /proc order */
	unsigned int seq;		/* odd while the slot is (re)initialized */
	bool valid;			/* published, see task_create() */
	bool tracked;			/* result of the track filter at filter_gen */
	unsigned int filter_gen;
	/* huge-page clears in progress (zeroing.c): their subpages are not timed */
	unsigned int huge_clears;

	struct allocstat_row row;	/* tid, tgid, comm, exited, counters */

	/* mmap_lock state in flight */
	const struct mm_struct *wait_mm;
	struct allocstat_stamp wait_start;
	bool waiting;
	bool wait_write;
	unsigned int nr_holds;
	struct allocstat_hold holds[ALLOCSTAT_MAX_HOLDS];

	/*
	 * Sleep that the kernel counted in sched_info.run_delay (delayed
	 * dequeue, see compat.h): added by probe_waking() in the waker's
	 * context while the task sleeps, subtracted by allocstat_stamp().
	 */
	u64 runq_fix_ns;
} ____cacheline_aligned;

/*
 * Where a probe may run and still charge its event to current.
 *
 * Task context, always.  Hard and soft interrupts and NMIs, never: their work
 * is not the interrupted task's (and BPF takes mmap_lock by trylock from NMI
 * and releases it from irq_work).  On PREEMPT_RT, softirqs run in tasks
 * (ksoftirqd, or the task at local_bh_enable()) and are still refused here
 * through in_serving_softirq(), which RT reads from the task's own count;
 * forced-threaded interrupt handlers run in irq/N kthreads, task context,
 * so what they zero is charged to those threads' rows.
 *
 * ALLOCSTAT_CTX_INT3 adds an int3 kprobe that hit task context.  clear_page_*
 * have no fentry, so their kprobes are int3 breakpoints until the kprobe
 * optimizer replaces them with a jump (some jiffies after registration; never
 * with debug.kprobes-optimization=0 or a second kprobe with a post_handler on
 * the same address).  A kernel-mode int3 enters through irqentry_nmi_enter(),
 * which adds exactly NMI_OFFSET + HARDIRQ_OFFSET to the preempt count of the
 * task it interrupted, so in_task() is false there.  An int3 inside a hard
 * interrupt or NMI has a count above that, one inside a softirq has
 * in_serving_softirq().  A real NMI that hit task context has the same count
 * as an int3, which is why only the clear_page probes accept it: no NMI
 * handler allocates or clears a page.  (selftests/tests/98-int3.sh runs the
 * zeroing tests with the optimizer off.)
 */
enum allocstat_ctx {
	ALLOCSTAT_CTX_TASK,
	ALLOCSTAT_CTX_INT3,
};

static __always_inline bool allocstat_ctx_ok(enum allocstat_ctx ctx)
{
	unsigned long irq = preempt_count() & (NMI_MASK | HARDIRQ_MASK);

	if (in_serving_softirq())
		return false;
	return !irq || (ctx == ALLOCSTAT_CTX_INT3 && irq == NMI_OFFSET + HARDIRQ_OFFSET);
}

/* main.c */
extern unsigned int allocstat_max_tasks;
extern unsigned long allocstat_hooks_active;	/* bit per enum allocstat_hook */
extern const char *const allocstat_hook_names[ALLOCSTAT_NR_HOOKS];
extern atomic_long_t allocstat_missed;		/* events lost outside kprobe nmissed */

static inline bool allocstat_hook_on(enum allocstat_hook h)
{
	return test_bit(h, &allocstat_hooks_active);
}

/* table.c */
int allocstat_table_init(void);
void allocstat_table_exit(void);
struct allocstat_task *allocstat_task_current(enum allocstat_ctx ctx, unsigned int *epoch);
bool allocstat_task_owns(const struct allocstat_task *s, unsigned int epoch);
extern bool allocstat_split_on;	/* the _runq_ns and _sleep_ns columns are known */
void allocstat_table_reset(void);
/* The track filter's set; track= shows "all", "none" or the tgids (7 digits, comma) */
#define ALLOCSTAT_MAX_TRACK		64
#define ALLOCSTAT_TRACK_SHOW_MAX	(ALLOCSTAT_MAX_TRACK * 8 + 1)
int allocstat_track(pid_t tgid);
int allocstat_untrack(pid_t tgid);
void allocstat_track_all(void);
void allocstat_track_none(void);
void allocstat_track_show(char *buf, size_t len);
int allocstat_fork_hook_init(void);
void allocstat_fork_hook_exit(void);
unsigned int allocstat_nr_rows(void);
long allocstat_nr_dropped(void);
unsigned long allocstat_nr_recycled(void);
int allocstat_snapshot(struct allocstat_row *dst, unsigned int max);
size_t allocstat_table_bytes(void);
int allocstat_exit_hook_init(void);
void allocstat_exit_hook_exit(void);
void allocstat_split_init(void);
void allocstat_split_exit(void);

/* faults.c */
int allocstat_faults_parse(void);
int allocstat_faults_init(void);
const char *allocstat_faults_hook(void);
void allocstat_faults_exit(void);

/* zeroing.c */
int allocstat_zeroing_init(void);
void allocstat_zeroing_exit(void);

/* mmap_lock.c */
int allocstat_mmap_lock_parse(void);
int allocstat_mmap_lock_init(void);
const char *allocstat_mmap_lock_hook(void);
void allocstat_mmap_lock_exit(void);

/* proc.c */
int allocstat_proc_init(void);
void allocstat_proc_exit(void);

/*
 * Timestamps: local_clock(), the clock of the scheduler, perf and ftrace.
 * It is TSC-based wherever the kernel trusts the TSC at all, and safe in
 * any context, NMI included.  ktime_get_mono_fast_ns() reads the
 * clocksource instead, which is the HPET where the kernel found the TSCs
 * unsynchronized: one MMIO read per timestamp, the dearest part of every
 * probe in an emulated guest (README, Cost).  local_clock() is monotonic
 * per CPU and, where the TSCs are not synchronized, may differ between
 * CPUs by up to a tick: an interval measured across a migration is clamped
 * at 0 rather than wrapped.
 */
static __always_inline u64 allocstat_now(void)
{
	return local_clock();
}

static __always_inline u64 allocstat_delta(u64 start, u64 now)
{
	return now > start ? now - start : 0;
}

/* end - start if positive, as a signed difference: for counters that may wrap */
static __always_inline u64 allocstat_sdelta(u64 start, u64 end)
{
	s64 d = (s64)(end - start);

	return d > 0 ? (u64)d : 0;
}

static __always_inline u64 allocstat_since(u64 start)
{
	return allocstat_delta(start, allocstat_now());
}

/*
 * Where the time of a section went, from the scheduler's own per-task
 * accounting, read by the task itself at both ends (no sched_switch hook):
 *
 *   on-CPU   se.sum_exec_runtime, the CPU time the scheduler charges the
 *            task, plus the slice now running: now - se.exec_start.  Both
 *            clocks are the rq clock of the task's CPU, which is
 *            sched_clock_cpu(), the clock local_clock() reads on that CPU.
 *   runqueue sched_info.run_delay (CONFIG_SCHED_INFO): time runnable but
 *            not running, added when the task gets a CPU again, so a task
 *            that is running has every wait of the section in it; minus
 *            the sleep that delayed dequeue puts there (runq_fix_ns).
 *   sleep    the rest of the section: time blocked, neither running nor
 *            runnable.
 *
 * The tick, and update_curr() from another CPU under the task's rq lock (a
 * wakeup onto its CPU, task_sched_runtime()), move exec_start and
 * sum_exec_runtime one after the other; the pair is read again while
 * either moved under us.  A remote writer caught between its two stores by
 * all four reads would skew on-CPU by the time since the last update, at
 * most a tick, and lengthen the section by as much (see below).  Interrupts that run
 * during the section count as the task's on-CPU time, as the scheduler
 * charges them; kernels with IRQ or steal time accounting have no split at
 * all (compat.h).  A task preempted after it set a sleep state (between
 * set_current_state() and schedule()) is not queued for sched_info, so
 * its wait for the CPU counts as asleep, as the kernel's run_delay counts
 * it.  On PREEMPT_RT, threaded interrupt handlers preempt the task, so
 * their time counts as runqueue, and a contended spinlock_t (an rtmutex
 * there) inside a section counts as asleep.
 *
 * A section during which the task migrated has its two ends read on two
 * CPUs' clocks, which may disagree by up to a tick (allocstat_now()).  The
 * on-CPU and runqueue parts do not: the scheduler sums each slice on the
 * CPU that ran it.  So they are taken as they are, and the section is at
 * least their sum; only the sleep part, the remainder, carries the skew.
 * Clamping the on-CPU part to the skewed wall time instead can lose it,
 * and then a fault's on-CPU time can come out below that of the zeroing
 * nested inside it (seen once on 6.12, 2 vCPUs: allocstat-run's fault_cpu
 * at -2% of thread time); taken unclamped, nested on-CPU times nest.
 */
static __always_inline u64 allocstat_oncpu(struct task_struct *t, u64 *now)
{
	u64 start, sum;
	int tries = 3;

	do {
		start = READ_ONCE(t->se.exec_start);
		/* exec_start before sum: see above */
		smp_rmb();
		sum = READ_ONCE(t->se.sum_exec_runtime);
		*now = allocstat_now();
		/* the pair before its second read */
		smp_rmb();
	} while ((READ_ONCE(t->se.exec_start) != start ||
		  READ_ONCE(t->se.sum_exec_runtime) != sum) && --tries);
	return sum + allocstat_delta(start, *now);
}

static __always_inline void allocstat_stamp(const struct allocstat_task *s,
					    struct allocstat_stamp *st)
{
	struct task_struct *t = current;

	st->oncpu_ns = allocstat_oncpu(t, &st->ns);
	st->runq_ns = allocstat_run_delay(t) - READ_ONCE(s->runq_fix_ns);
}

/* End the section begun at @start: its parts in @sec; returns the time now. */
static __always_inline u64 allocstat_section_end(const struct allocstat_task *s,
						 const struct allocstat_stamp *start,
						 struct allocstat_section *sec)
{
	struct allocstat_stamp end;
	u64 oncpu;

	allocstat_stamp(s, &end);
	oncpu = allocstat_sdelta(start->oncpu_ns, end.oncpu_ns);
	/* signed: runq_ns may have wrapped (run_delay - runq_fix_ns) */
	sec->runq_ns = allocstat_sdelta(start->runq_ns, end.runq_ns);
	sec->ns = max(allocstat_delta(start->ns, end.ns), oncpu + sec->runq_ns);
	sec->sleep_ns = sec->ns - oncpu - sec->runq_ns;
	return end.ns;
}

/* Add @sec to a total and its parts: the total first (see row_copy()). */
static __always_inline void allocstat_add_section(u64 *ns, u64 *runq_ns, u64 *sleep_ns,
						  const struct allocstat_section *sec)
{
	WRITE_ONCE(*ns, *ns + sec->ns);
	smp_wmb();	/* pairs with row_copy()'s smp_rmb() */
	WRITE_ONCE(*runq_ns, *runq_ns + sec->runq_ns);
	WRITE_ONCE(*sleep_ns, *sleep_ns + sec->sleep_ns);
}

/*
 * Instances per kretprobe.  A call holds one from entry to return.
 *
 * handle_mm_fault() can sleep for as long as the fault waits (I/O, reclaim,
 * a lock, a userfaultfd handler): one instance per row, since a task is
 * inside it at most once and only tasks with a row keep theirs past the
 * entry handler.  Untracked tasks hold one only while their entry handler
 * runs.  If every row's task is parked in a fault at once (or, right after
 * a reset, tasks of the old table are still parked while new rows' tasks
 * fault), an entry finds the pool empty and is counted in missed=.
 *
 * clear_page() and the huge-page clear never sleep: a task inside them is
 * running or preempted (a huge clear's cond_resched() only yields, and is
 * a no-op on PREEMPT_RT, where the clear is simply preempted).  The
 * pool must cover the tracked tasks preempted inside a clear at the same
 * moment, which ALLOCSTAT_ZERO_MAXACTIVE does with room to spare; the
 * excess, if ever, is counted in missed=.
 *
 * Memory: each instance is about 50 bytes plus its data (24-32); from 6.7
 * the pool (objpool) also gives every possible CPU a ring of
 * roundup_pow_of_two(maxactive) pointers, 64 KiB per CPU for the fault
 * probe at the default 8192 rows, 512 KiB at 65536.  The load message
 * prints the instance counts; `make bench` measures the memory a load takes.
 */
static inline int allocstat_fault_maxactive(void)
{
	return allocstat_max_tasks;
}

#define ALLOCSTAT_ZERO_MAXACTIVE	1024

#endif /* ALLOCSTAT_H */
