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
 * The price of registering at all: before 6.14, while any probe is attached
 * to these tracepoints, every mmap_lock event on every CPU formats the
 * task's memcg path (cgroup_path() under the global kernfs_rename_lock),
 * inside the wait and hold windows it times.  On PREEMPT_RT that lock is a
 * sleeping rtmutex, so the events of all CPUs serialize on it.  On
 * PREEMPT_RT the lock is rwbase_rt: a read trylock fails while a writer
 * merely waits, and readers are admitted until the writer owns the lock,
 * so mmap_trylock_fail is higher there and write waits can be longer.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/irqflags.h>
#include <linux/mm_types.h>
#include <linux/string.h>
#include <linux/tracepoint.h>
#include <trace/events/mmap_lock.h>

#include "allocstat.h"
#include "compat.h"

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

static void probe_start_locking(ALLOCSTAT_MMAP_LOCK_PROTO(bool write))
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

static void probe_acquire_returned(ALLOCSTAT_MMAP_LOCK_PROTO(bool write, bool success))
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

static void probe_released(ALLOCSTAT_MMAP_LOCK_PROTO(bool write))
{
	unsigned int epoch;
	struct allocstat_task *s = allocstat_task_current(ALLOCSTAT_CTX_TASK, &epoch);

	/* A hold opened before load or reset has no start: it is ignored. */
	if (s)
		hold_close(s, mm, write, allocstat_now());
}

int allocstat_mmap_lock_init(void)
{
	int ret;

	ret = register_trace_mmap_lock_start_locking(probe_start_locking, NULL);
	if (ret)
		goto out;
	ret = register_trace_mmap_lock_acquire_returned(probe_acquire_returned, NULL);
	if (ret)
		goto out_unregister_start;
	ret = register_trace_mmap_lock_released(probe_released, NULL);
	if (ret)
		goto out_unregister_acquire;
	return 0;

out_unregister_acquire:
	unregister_trace_mmap_lock_acquire_returned(probe_acquire_returned, NULL);
out_unregister_start:
	unregister_trace_mmap_lock_start_locking(probe_start_locking, NULL);
out:
	pr_notice("cannot register the mmap_lock tracepoints (%d), disabling mmap_lock accounting\n",
		  ret);
	return ret;
}

void allocstat_mmap_lock_exit(void)
{
	unregister_trace_mmap_lock_released(probe_released, NULL);
	unregister_trace_mmap_lock_acquire_returned(probe_acquire_returned, NULL);
	unregister_trace_mmap_lock_start_locking(probe_start_locking, NULL);
}
