// SPDX-License-Identifier: GPL-2.0
/*
 * allocstat_floor.ko: the hooks of allocstat.ko with empty handlers, for
 * `make bench` only.  It attaches to the same functions and tracepoints by
 * the same mechanisms (allocstat's own direct-call trampolines, module/
 * tramp.S, on handle_mm_fault and on the three __mmap_lock_do_trace_*
 * functions behind empty probes on the mmap_lock tracepoints, kretprobes on
 * the clear_page variants or, on 7.x, on clear_highpages_kasan_tagged()),
 * and does nothing in them.  Its cost is what the kernel charges for the hooks
 * themselves: ftrace and optimized-kprobe entry, the return trampoline,
 * the tracepoints and, up to 6.13, their memcg path.  allocstat.ko's cost
 * above it is what its handlers add.
 *
 * The *_hook parameters attach other hook sets instead, with empty handlers
 * too: what a design on those hooks would cost at least (cost-notes.md,
 * `BENCH_PHASES=hooks`):
 *   fault_hook=direct    (the default, as allocstat.ko's) an ftrace direct
 *                        call to allocstat's trampoline (tramp.S, copied
 *                        in by the build), which calls the empty
 *                        allocstat_fault_enter() below, the body of
 *                        handle_mm_fault, then the empty allocstat_fault_leave().
 *                        They count the calls in flight, and unload waits
 *                        for them, as allocstat.ko's do
 *   fault_hook=kretprobe allocstat.ko's fault_hook=kretprobe
 *   fault_hook=entry     a kprobe on handle_mm_fault's entry, no return probe:
 *                        the cheapest kprobe per fault that rides on ftrace
 *   zeroing_hook=entry   kprobes on the clear_page variants, no return probe:
 *                        enough to count clears, not to time them
 *   zeroing_hook=range   kretprobes on post_alloc_hook() (the allocator's
 *                        zeroing, inlined there up to 7.1) and on the huge-page
 *                        clear, instead of one per 4 KiB clear
 *   lock_hook=direct     (the default before 6.14, as allocstat.ko's) empty probes on the
 *                        mmap_lock tracepoints, and allocstat's direct-call
 *                        trampolines on the __mmap_lock_do_trace_* functions
 *                        with handlers that only tell them to run the body
 *                        when another probe is attached to the tracepoint
 *   lock_hook=tp         (the default from 6.14) the empty tracepoint probes
 *                        alone: allocstat.ko's lock_hook=tracepoint
 *   lock_hook=rwsem      the mmap_lock without its tracepoints: kretprobes on
 *                        lock_mm_and_find_vma() and the rwsem lock calls,
 *                        kprobes on the unlock calls (every rwsem's, to be
 *                        filtered to &mm->mmap_lock by a real handler)
 */
#include <linux/delay.h>
#include <linux/ftrace.h>
#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/tracepoint.h>
#include <trace/events/mmap_lock.h>

#include "compat.h"	/* copied from module/ by the build */
#include "direct.h"

static bool faults = true, zeroing = true, mmap_lock = true;
module_param(faults, bool, 0444);
MODULE_PARM_DESC(faults, "kretprobe handle_mm_fault (default 1)");
module_param(zeroing, bool, 0444);
MODULE_PARM_DESC(zeroing, "kretprobe the clear_page variants (default 1)");
module_param(mmap_lock, bool, 0444);
MODULE_PARM_DESC(mmap_lock, "probe the mmap_lock tracepoints (default 1)");
/* lock_hook: as allocstat.ko's default, direct only where the path is formatted */
static char *fault_hook = "direct", *zeroing_hook = "page",
	    *lock_hook = ALLOCSTAT_MMAP_LOCK_MEMCG_PATH ? "direct" : "tp";
module_param(fault_hook, charp, 0444);
MODULE_PARM_DESC(fault_hook, "direct (default), kretprobe or entry");
module_param(zeroing_hook, charp, 0444);
MODULE_PARM_DESC(zeroing_hook, "page (default), entry or range");
module_param(lock_hook, charp, 0444);
MODULE_PARM_DESC(lock_hook, "direct (default before 6.14), tp (default from 6.14) or rwsem");
/* for selftests/host/58-direct-busy.sh: hold one function's direct call only */
static bool lock_direct_released_only;
module_param(lock_direct_released_only, bool, 0444);
MODULE_PARM_DESC(lock_direct_released_only,
		 "lock_hook=direct on __mmap_lock_do_trace_released() only (default 0)");

static int empty_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return 0;	/* keep the instance: the return probe fires too */
}

static int empty_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return 0;
}

/* copied before each registration: a registered kretprobe holds state */
static const struct kretprobe empty_krp = {
	.entry_handler	= empty_entry,
	.handler	= empty_return,
	.data_size	= 24,	/* as allocstat's struct fault_data and zero_data */
	.maxactive	= 1024,	/* as ALLOCSTAT_ZERO_MAXACTIVE */
};
static const char *const clear_page_syms[] = ALLOCSTAT_CLEAR_PAGE_SYMS;
static const char *const clear_range_syms[] = ALLOCSTAT_CLEAR_RANGE_SYMS;
static_assert(ARRAY_SIZE(clear_range_syms) <= ARRAY_SIZE(clear_page_syms));
static struct kretprobe fault_krp;
static struct kretprobe zero_krps[ARRAY_SIZE(clear_page_syms)];
static bool zero_on[ARRAY_SIZE(clear_page_syms)];
static bool fault_on, tp_on;

/* the other hook sets: kretprobes and plain kprobes by symbol */
static const char *const range_syms[] = { "post_alloc_hook", "folio_zero_user", "clear_huge_page" };
static const char *const lock_ret_syms[] = {
	"lock_mm_and_find_vma", "down_read", "down_read_killable", "down_read_trylock",
	"down_write", "down_write_killable", "down_write_trylock",
};
static const char *const lock_entry_syms[] = { "up_read", "up_write", "downgrade_write" };
#define NR_XRET		(ARRAY_SIZE(range_syms) + ARRAY_SIZE(lock_ret_syms))
#define NR_XENTRY	(ARRAY_SIZE(clear_page_syms) + ARRAY_SIZE(lock_entry_syms) + 1)
static struct kretprobe x_krps[NR_XRET];
static struct kprobe x_kps[NR_XENTRY];
static bool x_krp_on[NR_XRET], x_kp_on[NR_XENTRY];
static unsigned int nr_xret, nr_xentry;

static int empty_pre(struct kprobe *p, struct pt_regs *regs)
{
	return 0;
}

/* best effort, as for the clear_page variants: a symbol may be absent */
static void x_kretprobe(const char *sym)
{
	unsigned int i = nr_xret++;

	x_krps[i] = empty_krp;
	x_krps[i].kp.symbol_name = sym;
	x_krp_on[i] = !register_kretprobe(&x_krps[i]);
	pr_info("allocstat_floor: kretprobe %s: %s\n", sym, x_krp_on[i] ? "on" : "absent");
}

/* fault_hook=direct: tramp.S calls these around the body */
static DEFINE_PER_CPU(long, inflight);

asmlinkage __visible notrace void allocstat_fault_enter(struct fault_data *d, unsigned int flags)
{
	this_cpu_inc(inflight);
}

asmlinkage __visible notrace void allocstat_fault_leave(struct fault_data *d, unsigned int ret)
{
	this_cpu_dec(inflight);
}

static void tp_start(ALLOCSTAT_MMAP_LOCK_PROTO(bool write)) { }
static void tp_acquire(ALLOCSTAT_MMAP_LOCK_PROTO(bool write, bool success)) { }
static void tp_released(ALLOCSTAT_MMAP_LOCK_PROTO(bool write)) { }

/* lock_hook=direct: run the body only for another probe, as allocstat.ko */
static __always_inline bool others(struct tracepoint *tp, void *stub)
{
	struct tracepoint_func *f;
	bool ret;

	preempt_disable_notrace();
	f = rcu_dereference_sched(tp->funcs);
	ret = f && (f[0].func != stub || f[1].func);
	if (ret)
		this_cpu_inc(inflight);
	preempt_enable_notrace();
	return ret;
}

asmlinkage __visible notrace bool allocstat_lock_start(struct mm_struct *mm, bool write)
{
	return others(&__tracepoint_mmap_lock_start_locking, tp_start);
}

asmlinkage __visible notrace bool allocstat_lock_acquire(struct mm_struct *mm, bool write,
							 bool success)
{
	return others(&__tracepoint_mmap_lock_acquire_returned, tp_acquire);
}

asmlinkage __visible notrace bool allocstat_lock_released(struct mm_struct *mm, bool write)
{
	return others(&__tracepoint_mmap_lock_released, tp_released);
}

asmlinkage __visible notrace void allocstat_lock_body_done(void)
{
	this_cpu_dec(inflight);
}

struct floor_direct {
	void *func;
	void (*tramp)(void);
	struct ftrace_ops ops;
	bool on;
};

static struct floor_direct directs[] = {
	{ handle_mm_fault, allocstat_fault_tramp },
	{ __mmap_lock_do_trace_start_locking, allocstat_lock_start_tramp },
	{ __mmap_lock_do_trace_acquire_returned, allocstat_lock_acquire_tramp },
	{ __mmap_lock_do_trace_released, allocstat_lock_released_tramp },
};

static int direct_register(struct floor_direct *d)
{
	int ret = ftrace_set_filter_ip(&d->ops, (unsigned long)d->func, 0, 0);

	if (ret)
		return ret;
	ret = allocstat_register_ftrace_direct(&d->ops, (unsigned long)d->tramp);
	if (ret)
		ftrace_free_filter(&d->ops);
	d->on = !ret;
	pr_info("allocstat_floor: direct call on %ps: %d\n", d->func, ret);
	return ret;
}

static void direct_unregister(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(directs); i++) {
		if (!directs[i].on)
			continue;
		allocstat_unregister_ftrace_direct(&directs[i].ops, (unsigned long)directs[i].tramp);
		directs[i].on = false;
	}
	/* as allocstat.ko's allocstat_direct_drain() */
	synchronize_rcu_tasks_rude();
	synchronize_rcu_tasks();
	for (;;) {
		long sum = 0;
		int cpu;

		for_each_possible_cpu(cpu)
			sum += READ_ONCE(per_cpu(inflight, cpu));
		if (sum <= 0)
			break;
		msleep(20);
	}
	synchronize_rcu_tasks();
}

static void x_kprobe(const char *sym)
{
	unsigned int i = nr_xentry++;

	x_kps[i] = (struct kprobe) { .symbol_name = sym, .pre_handler = empty_pre };
	x_kp_on[i] = !register_kprobe(&x_kps[i]);
	pr_info("allocstat_floor: kprobe %s: %s\n", sym, x_kp_on[i] ? "on" : "absent");
}

static void floor_exit(void)
{
	unsigned int i;

	direct_unregister();
	for (i = 0; i < nr_xentry; i++)
		if (x_kp_on[i])
			unregister_kprobe(&x_kps[i]);
	for (i = 0; i < nr_xret; i++)
		if (x_krp_on[i])
			unregister_kretprobe(&x_krps[i]);

	if (tp_on) {
		unregister_trace_mmap_lock_released(tp_released, NULL);
		unregister_trace_mmap_lock_acquire_returned(tp_acquire, NULL);
		unregister_trace_mmap_lock_start_locking(tp_start, NULL);
		tracepoint_synchronize_unregister();
	}
	for (i = 0; i < ARRAY_SIZE(zero_krps); i++)
		if (zero_on[i])
			unregister_kretprobe(&zero_krps[i]);
	if (fault_on)
		unregister_kretprobe(&fault_krp);
}

static int __init floor_init(void)
{
	bool any_zero = false;
	unsigned int i;
	int ret;

	if (strcmp(fault_hook, "kretprobe") && strcmp(fault_hook, "entry") &&
	    strcmp(fault_hook, "direct"))
		return -EINVAL;
	if (strcmp(zeroing_hook, "page") && strcmp(zeroing_hook, "entry") &&
	    strcmp(zeroing_hook, "range"))
		return -EINVAL;
	if (strcmp(lock_hook, "direct") && strcmp(lock_hook, "tp") && strcmp(lock_hook, "rwsem"))
		return -EINVAL;
	if (faults && !strcmp(fault_hook, "entry")) {
		x_kprobe("handle_mm_fault");
		faults = false;
	}
	if (faults && !strcmp(fault_hook, "direct")) {
		ret = direct_register(&directs[0]);
		if (ret)
			return ret;
		faults = false;
	}
	/* then the tracepoints' empty probes below, which enable the calls */
	for (i = lock_direct_released_only ? 3 : 1;
	     mmap_lock && !strcmp(lock_hook, "direct") && i < ARRAY_SIZE(directs); i++) {
		ret = direct_register(&directs[i]);
		if (ret)
			goto fail;
	}
	if (zeroing && !strcmp(zeroing_hook, "entry")) {
		for (i = 0; i < ARRAY_SIZE(clear_page_syms); i++)
			x_kprobe(clear_page_syms[i]);
		zeroing = false;
	}
	if (zeroing && !strcmp(zeroing_hook, "range")) {
		for (i = 0; i < ARRAY_SIZE(range_syms); i++)
			x_kretprobe(range_syms[i]);
		zeroing = false;
	}
	if (mmap_lock && !strcmp(lock_hook, "rwsem")) {
		for (i = 0; i < ARRAY_SIZE(lock_ret_syms); i++)
			x_kretprobe(lock_ret_syms[i]);
		for (i = 0; i < ARRAY_SIZE(lock_entry_syms); i++)
			x_kprobe(lock_entry_syms[i]);
		mmap_lock = false;
	}

	if (faults) {
		fault_krp = empty_krp;
		fault_krp.kp.symbol_name = "handle_mm_fault";
		/* as allocstat_fault_maxactive() with the default max_tasks */
		fault_krp.maxactive = 8192;
		ret = register_kretprobe(&fault_krp);
		if (ret)
			goto fail;
		fault_on = true;
	}
	for (i = 0; zeroing && i < ARRAY_SIZE(zero_krps); i++) {
		zero_krps[i] = empty_krp;
		zero_krps[i].kp.symbol_name = clear_page_syms[i];
		zero_on[i] = !register_kretprobe(&zero_krps[i]);
		any_zero |= zero_on[i];
	}
	/* 7.x: clear_page() is inline; allocstat hooks the allocator's clear */
	for (i = 0; zeroing && !any_zero && i < ARRAY_SIZE(clear_range_syms); i++) {
		zero_krps[i] = empty_krp;
		zero_krps[i].kp.symbol_name = clear_range_syms[i];
		zero_on[i] = !register_kretprobe(&zero_krps[i]);
	}
	if (mmap_lock) {
		ret = register_trace_mmap_lock_start_locking(tp_start, NULL);
		if (ret)
			goto fail;
		ret = register_trace_mmap_lock_acquire_returned(tp_acquire, NULL);
		if (ret)
			goto fail_start;
		ret = register_trace_mmap_lock_released(tp_released, NULL);
		if (ret)
			goto fail_acquire;
		tp_on = true;
	}
	return 0;

fail_acquire:
	unregister_trace_mmap_lock_acquire_returned(tp_acquire, NULL);
fail_start:
	unregister_trace_mmap_lock_start_locking(tp_start, NULL);
	tracepoint_synchronize_unregister();
fail:
	floor_exit();
	return ret;
}

static void __exit floor_module_exit(void)
{
	floor_exit();
}

module_init(floor_init);
module_exit(floor_module_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("allocstat bench: allocstat's hooks with empty handlers");
