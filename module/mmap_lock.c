// SPDX-License-Identifier: GPL-2.0
/*
 * mmap_lock: the kernel's own mmap_lock tracepoints, through the exported
 * register_trace_mmap_lock_*() with the kernel's trace header included, so
 * the compiler checks the probe prototypes.
 *
 * Why this hook: the mmap_lock is a rwsem inside mm_struct, taken through the
 * inline wrappers of include/linux/mmap_lock.h.  The three tracepoints in
 * those wrappers are the only place that sees every acquisition and release
 * of it, by fault handlers, mmap/munmap/mprotect/brk and remote users alike,
 * and nothing else: a kprobe on down_read()/up_read() would fire for every
 * rwsem in the kernel and could not tell which ones are mmap_locks.
 *
 * Per task: start_locking stamps the wait; acquire_returned ends it and, on
 * success, opens a hold; released closes the newest hold of that mm and
 * mode.  A lock on another process's mm counts for the task that took it.
 * mmap_write_downgrade() fires only acquire_returned(read): with a write hold
 * of that mm open and no wait pending, it ends the write hold and opens a
 * read hold.  Events in interrupt context (BPF's trylock from NMI and
 * mmap_read_unlock_non_owner() from irq_work) belong to no task and are
 * ignored; a trylock with IRQs off opens no hold (probe_acquire_returned()).
 * Holds and a pending wait left open when the track filter flips a task are
 * dropped (allocstat_task_current()), and a full set of holds makes room by
 * dropping its oldest (hold_open()): a hold whose release no probe saw never
 * blocks the timing of later ones.
 *
 * Tracepoint probes may sleep nowhere.  On the kernels tested (Debian 6.1
 * and 6.12, PREEMPT_RT included) they run with preemption disabled, under
 * the tracepoint's own preempt_disable; where a later kernel runs them
 * under SRCU instead, reset still waits for them (pause_probes()).
 *
 * The price of a tracepoint probe: before 6.14, while any probe is attached
 * to these tracepoints, every mmap_lock event on every CPU formats the
 * task's memcg path (cgroup_path() under the global kernfs_rename_lock),
 * inside the wait and hold windows it times, the deeper the cgroup the
 * dearer.  On PREEMPT_RT that lock is a sleeping rtmutex, so the events of
 * all CPUs serialize on it.
 *
 * Hence lock_hook= (allocstat(4)):
 *   direct      the inline wrappers call __mmap_lock_do_trace_*() (exported,
 *               with an fentry) only while the tracepoint is enabled, and
 *               those format the path and run the tracepoint.  Empty probes
 *               on the tracepoints enable them; ftrace direct calls
 *               (direct.c) on the three functions lead to trampolines
 *               (tramp.S) that call allocstat_lock_*() below with the same
 *               arguments, and skip the body unless another probe (perf,
 *               tracefs, BPF) is attached to that tracepoint, who then gets
 *               its events, path and all, as without allocstat.  The same
 *               events at the same places, without the path.  x86-64 only,
 *               one direct call per function (direct.c), and only before
 *               6.14: from then on the path is gone and the tracepoints are
 *               cheap, and the three functions are called from within
 *               mm/mmap_lock.c too (lock_mm_and_find_vma() moved there),
 *               where the compiler may inline them past their fentry.
 *   tracepoint  probes on the tracepoints, as described above.
 * The default, auto, tries direct where it applies and falls back to
 * tracepoint.  On
 * PREEMPT_RT the lock is rwbase_rt: a read trylock fails while a writer
 * merely waits, and readers are admitted until the writer owns the lock,
 * so mmap_trylock_fail is higher there and write waits can be longer.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/irqflags.h>
#include <linux/mm_types.h>
#include <linux/mmap_lock.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/tracepoint.h>
#include <trace/events/mmap_lock.h>

#include "allocstat.h"
#include "compat.h"
#include "direct.h"

/*
 * Open a hold.  When the task already has ALLOCSTAT_MAX_HOLDS open, the
 * oldest is dropped into missed: a hold that never closes (released where no
 * probe of this task sees it) must not keep every later hold of the task
 * from being timed.
 */
static void hold_open(struct allocstat_task *s, const struct mm_struct *mm,
		      bool write, u64 now)
{
	struct allocstat_hold *h;

	if (s->nr_holds == ALLOCSTAT_MAX_HOLDS) {
		atomic_long_inc(&allocstat_missed);
		memmove(&s->holds[0], &s->holds[1],
			(ALLOCSTAT_MAX_HOLDS - 1) * sizeof(s->holds[0]));
		s->nr_holds--;
	}
	h = &s->holds[s->nr_holds];
	h->mm_write = allocstat_hold_key(mm, write);
	h->start_ns = now;
	s->nr_holds++;
}

/* Close the newest hold of @mm in @write mode; false if there is none. */
static bool hold_close(struct allocstat_task *s, const struct mm_struct *mm,
		       bool write, u64 now)
{
	struct allocstat_lock_stat *st = &s->row.c.lock[write];
	int i;

	for (i = (int)s->nr_holds - 1; i >= 0; i--) {
		struct allocstat_hold *h = &s->holds[i];
		u64 ns;

		if (h->mm_write != allocstat_hold_key(mm, write))
			continue;
		ns = allocstat_delta(h->start_ns, now);
		WRITE_ONCE(st->hold_ns, st->hold_ns + ns);
		if (ns > st->hold_max_ns)
			WRITE_ONCE(st->hold_max_ns, ns);
		for (; i + 1 < (int)s->nr_holds; i++)
			s->holds[i] = s->holds[i + 1];
		s->nr_holds--;
		return true;
	}
	return false;
}

static char lock_hook[32] = "auto";
module_param_string(lock_hook, lock_hook, sizeof(lock_hook), 0444);
MODULE_PARM_DESC(lock_hook, "auto (default), direct or tracepoint; reads back as the hook in use");

/* The events, from the tracepoint probes or the direct calls */
static void ev_start(struct mm_struct *mm, bool write)
{
	unsigned int epoch;
	struct allocstat_task *s = allocstat_task_current(ALLOCSTAT_CTX_TASK, &epoch);

	if (!s)
		return;
	s->wait_mm = mm;
	s->wait_write = write;
	allocstat_stamp(s, &s->wait_start);
	s->waiting = true;
}

static void ev_acquire(struct mm_struct *mm, bool write, bool success)
{
	unsigned int epoch;
	struct allocstat_task *s = allocstat_task_current(ALLOCSTAT_CTX_TASK, &epoch);
	struct allocstat_section wait = { 0 };
	struct allocstat_lock_stat *st;
	u64 now;

	if (!s)
		return;
	st = &s->row.c.lock[write];
	if (s->waiting && s->wait_mm == mm && s->wait_write == write) {
		s->waiting = false;
		now = allocstat_section_end(s, &s->wait_start, &wait);
	} else {
		now = allocstat_now();
		/* No wait pending: a downgrade if a write hold of mm is open. */
		if (!write && success)
			hold_close(s, mm, true, now);
	}
	if (!success) {
		WRITE_ONCE(s->row.c.trylock_fail, s->row.c.trylock_fail + 1);
		return;
	}
	WRITE_ONCE(st->count, st->count + 1);
	allocstat_add_section(&st->wait_ns, &st->wait_runq_ns, &st->wait_sleep_ns, &wait);
	if (wait.ns > st->wait_max_ns)
		WRITE_ONCE(st->wait_max_ns, wait.ns);
	/*
	 * With IRQs off only a trylock can succeed (a sleeping lock cannot be
	 * taken there), and BPF releases such a lock from irq_work
	 * (mmap_read_unlock_non_owner()), where no probe sees this task: it
	 * is counted, but no hold is opened that would never close.  (On
	 * PREEMPT_RT BPF never trylocks with IRQs off:
	 * bpf_mmap_unlock_guard_get() refuses.)
	 */
	if (!irqs_disabled())
		hold_open(s, mm, write, now);
}

static void ev_released(struct mm_struct *mm, bool write)
{
	unsigned int epoch;
	struct allocstat_task *s = allocstat_task_current(ALLOCSTAT_CTX_TASK, &epoch);

	/* A hold opened before load or reset has no start: it is ignored. */
	if (s)
		hold_close(s, mm, write, allocstat_now());
}

/* lock_hook=tracepoint */
static void probe_start_locking(ALLOCSTAT_MMAP_LOCK_PROTO(bool write))
{
	ev_start(mm, write);
}

static void probe_acquire_returned(ALLOCSTAT_MMAP_LOCK_PROTO(bool write, bool success))
{
	ev_acquire(mm, write, success);
}

static void probe_released(ALLOCSTAT_MMAP_LOCK_PROTO(bool write))
{
	ev_released(mm, write);
}

/*
 * lock_hook=direct: the tracepoints' probes are empty, and only enable the
 * tracepoints.  They run only where a trampoline calls the body.
 */
static void stub_start_locking(ALLOCSTAT_MMAP_LOCK_PROTO(bool write)) { }
static void stub_acquire_returned(ALLOCSTAT_MMAP_LOCK_PROTO(bool write, bool success)) { }
static void stub_released(ALLOCSTAT_MMAP_LOCK_PROTO(bool write)) { }

struct lock_probes {
	void (*start)(ALLOCSTAT_MMAP_LOCK_PROTO(bool write));
	void (*acquire)(ALLOCSTAT_MMAP_LOCK_PROTO(bool write, bool success));
	void (*released)(ALLOCSTAT_MMAP_LOCK_PROTO(bool write));
};

static const struct lock_probes tp_probes = {
	probe_start_locking, probe_acquire_returned, probe_released,
};

static const struct lock_probes stub_probes = {
	stub_start_locking, stub_acquire_returned, stub_released,
};

static const struct lock_probes *registered;

#define LOCK_DIRECT	(ALLOCSTAT_DIRECT && ALLOCSTAT_MMAP_LOCK_MEMCG_PATH)

#if ALLOCSTAT_DIRECT
/* the trampolines pass the functions' own arguments on */
static_assert(__same_type(&__mmap_lock_do_trace_start_locking,
			  void (*)(struct mm_struct *, bool)));
static_assert(__same_type(&__mmap_lock_do_trace_acquire_returned,
			  void (*)(struct mm_struct *, bool, bool)));
static_assert(__same_type(&__mmap_lock_do_trace_released,
			  void (*)(struct mm_struct *, bool)));

/*
 * Is a probe other than our stub attached to @tp?  Then the trampoline calls
 * the body, which runs them all.  Preemption disabled: up to 6.13 (the only
 * kernels this runs on, LOCK_DIRECT) the array is freed after an RCU grace
 * period (release_probes()), which waits for preempt-disabled readers, NMIs
 * included.  (7.x reads it under SRCU instead.)
 */
static __always_inline bool others(struct tracepoint *tp, void *stub)
{
	struct tracepoint_func *f = rcu_dereference_sched(tp->funcs);

	return f && (f[0].func != stub || f[1].func);
}

/*
 * Called by the trampolines in the context of the lock operation: task
 * context mostly, preemptible or not, with interrupts on or off (a trylock),
 * and from NMI (BPF's trylock) and irq_work (BPF's unlock), where
 * allocstat_task_current() refuses.  Never sleeps: preemption is disabled
 * for the work, as under a tracepoint, which is what the table's
 * pause_probes() waits for.  A call that runs the body counts itself in
 * flight until allocstat_lock_body_done(): on PREEMPT_RT the body may block
 * on the path's kernfs_rename_lock, which RCU tasks takes for a voluntary
 * switch.
 */
static DEFINE_PER_CPU(long, lock_inflight);

static __always_inline bool lock_body(struct tracepoint *tp, void *stub)
{
	bool body = others(tp, stub);

	if (body)
		allocstat_direct_enter(&lock_inflight);
	return body;
}

/* tramp.S, after a body it called: the end of that call's count */
asmlinkage __visible notrace void allocstat_lock_body_done(void)
{
	allocstat_direct_leave(&lock_inflight);
}

asmlinkage __visible notrace bool allocstat_lock_start(struct mm_struct *mm, bool write)
{
	bool body;

	preempt_disable_notrace();
	ev_start(mm, write);
	body = lock_body(&__tracepoint_mmap_lock_start_locking, stub_start_locking);
	preempt_enable_notrace();
	return body;
}

asmlinkage __visible notrace bool allocstat_lock_acquire(struct mm_struct *mm, bool write,
							 bool success)
{
	bool body;

	preempt_disable_notrace();
	ev_acquire(mm, write, success);
	body = lock_body(&__tracepoint_mmap_lock_acquire_returned, stub_acquire_returned);
	preempt_enable_notrace();
	return body;
}

asmlinkage __visible notrace bool allocstat_lock_released(struct mm_struct *mm, bool write)
{
	bool body;

	preempt_disable_notrace();
	ev_released(mm, write);
	body = lock_body(&__tracepoint_mmap_lock_released, stub_released);
	preempt_enable_notrace();
	return body;
}

static struct allocstat_direct lock_direct[] = {
	{ .name = "__mmap_lock_do_trace_start_locking",
	  .func = __mmap_lock_do_trace_start_locking, .tramp = allocstat_lock_start_tramp },
	{ .name = "__mmap_lock_do_trace_acquire_returned",
	  .func = __mmap_lock_do_trace_acquire_returned, .tramp = allocstat_lock_acquire_tramp },
	{ .name = "__mmap_lock_do_trace_released",
	  .func = __mmap_lock_do_trace_released, .tramp = allocstat_lock_released_tramp },
};
#define LOCK_INFLIGHT	(&lock_inflight)
#else /* !ALLOCSTAT_DIRECT */
static struct allocstat_direct lock_direct[1];
#define LOCK_INFLIGHT	NULL
#endif /* ALLOCSTAT_DIRECT */

/*
 * Detach what is attached; the calls inside are waited for by
 * allocstat_direct_drain_pending(), at once with @now, else by main.c's
 * detach_all().
 */
static void lock_direct_detach(bool now)
{
	bool any = false;
	int i;

	for (i = ARRAY_SIZE(lock_direct) - 1; i >= 0; i--)
		any |= allocstat_direct_detach(&lock_direct[i]);
	if (!any)
		return;
	allocstat_direct_drain_later(LOCK_INFLIGHT);
	if (now)
		allocstat_direct_drain_pending();
}

/* All three, or none (and an error). */
static int lock_direct_attach(void)
{
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(lock_direct); i++) {
		ret = allocstat_direct_attach(&lock_direct[i]);
		if (ret) {
			if (!strcmp(lock_hook, "direct"))
				pr_err("lock_hook=direct: cannot attach to %s() (%d%s)\n",
				       lock_direct[i].name, ret, ret == -EBUSY ?
				       ": another direct call holds it, a BPF program's or a livepatch's" : "");
			lock_direct_detach(true);
			return ret;
		}
	}
	return 0;
}

static void unregister_probes(void)
{
	unregister_trace_mmap_lock_released(registered->released, NULL);
	unregister_trace_mmap_lock_acquire_returned(registered->acquire, NULL);
	unregister_trace_mmap_lock_start_locking(registered->start, NULL);
	registered = NULL;
}

static int register_probes(const struct lock_probes *p)
{
	int ret;

	ret = register_trace_mmap_lock_start_locking(p->start, NULL);
	if (ret)
		return ret;
	ret = register_trace_mmap_lock_acquire_returned(p->acquire, NULL);
	if (ret)
		goto out_unregister_start;
	ret = register_trace_mmap_lock_released(p->released, NULL);
	if (ret)
		goto out_unregister_acquire;
	registered = p;
	return 0;

out_unregister_acquire:
	unregister_trace_mmap_lock_acquire_returned(p->acquire, NULL);
out_unregister_start:
	unregister_trace_mmap_lock_start_locking(p->start, NULL);
	/* no probe of ours may run after this when we give up */
	tracepoint_synchronize_unregister();
	return ret;
}

/* lock_hook=: checked at load, before anything is attached */
int allocstat_mmap_lock_parse(void)
{
	if (strcmp(lock_hook, "auto") && strcmp(lock_hook, "direct") &&
	    strcmp(lock_hook, "tracepoint")) {
		pr_err("lock_hook=%s: not auto, direct or tracepoint\n", lock_hook);
		return -EINVAL;
	}
	if (!ALLOCSTAT_DIRECT && !strcmp(lock_hook, "direct")) {
		pr_err("lock_hook=direct: needs x86-64 and CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS\n");
		return -EOPNOTSUPP;
	}
	if (!LOCK_DIRECT && !strcmp(lock_hook, "direct")) {
		pr_err("lock_hook=direct: only before 6.14, whose mmap_lock tracepoints format the memcg path\n");
		return -EINVAL;
	}
	return 0;
}

const char *allocstat_mmap_lock_hook(void)
{
	return lock_hook;
}

/*
 * The direct calls first, then the empty probes that enable the tracepoints
 * (until then the trampolines run only if someone else enabled them, and
 * then call the body).  lock_hook=direct fails here if the direct calls
 * cannot be had, and main.c then fails the load.
 */
int allocstat_mmap_lock_init(void)
{
	bool want_direct = !strcmp(lock_hook, "direct");
	bool direct = false;
	int ret;

	/* auto tries the direct calls only where they are built in */
	if (want_direct || (LOCK_DIRECT && !strcmp(lock_hook, "auto"))) {
		ret = lock_direct_attach();
		if (!ret) {
			ret = register_probes(&stub_probes);
			if (ret)
				lock_direct_detach(true);
		}
		direct = !ret;
		if (ret && want_direct) {
			pr_err("lock_hook=direct: cannot attach (%d)\n", ret);
			return ret;
		}
		if (ret)
			pr_notice("no direct calls on the mmap_lock trace functions (%d), using the tracepoints\n",
				  ret);
	}
	if (!direct) {
		ret = register_probes(&tp_probes);
		if (ret) {
			pr_notice("cannot register the mmap_lock tracepoints (%d), disabling mmap_lock accounting\n",
				  ret);
			return ret;
		}
	}
	strscpy(lock_hook, direct ? "direct" : "tracepoint", sizeof(lock_hook));
	return 0;
}

void allocstat_mmap_lock_exit(void)
{
	bool direct = registered == &stub_probes;

	unregister_probes();
	if (direct)
		lock_direct_detach(false);
}
