// SPDX-License-Identifier: GPL-2.0
/*
 * Page faults: handle_mm_fault(), timed from entry to return.
 *
 * Why this function: every user-address fault, from the fault handler and
 * from get_user_pages() alike, is handled by handle_mm_fault(), on every
 * kernel.  It is exported and has an fentry.  The callers before it
 * (exc_page_fault, do_user_addr_fault) are noinstr or kprobe-blacklisted,
 * and the page_fault_user tracepoint has no exit.
 *
 * Two hooks, chosen by fault_hook= (allocstat(4)):
 *   direct     an ftrace direct call (direct.c) to allocstat_fault_tramp
 *              (tramp.S), which calls allocstat_fault_enter(), the body,
 *              then allocstat_fault_leave(), as a BPF fexit trampoline does.
 *              The fault's start rides in the trampoline's frame.  A fraction
 *              of a kretprobe's price.  x86-64 only, and one direct call per
 *              function (direct.c).
 *   kretprobe  a kretprobe riding on ftrace.  The fault's start rides in the
 *              kretprobe instance.
 * The default, auto, tries direct and falls back to kretprobe.  The
 * parameter reads back as the hook in use.
 *
 * The third argument carries FAULT_FLAG_VMA_LOCK on kernels with per-VMA
 * locks, and the return value VM_FAULT_RETRY when the attempt must be
 * repeated, which is how vma_faults and vma_retry are told apart without a
 * hook on lock_vma_under_rcu().  Like the kernel's own fault accounting
 * (mm_account_fault(), and so getrusage()'s minflt + majflt), an attempt
 * that returns VM_FAULT_RETRY is not a fault of its own, and neither is one
 * that fails (VM_FAULT_ERROR: SIGSEGV, SIGBUS, OOM, hwpoison); the time of
 * both still counts in fault_ns.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/ptrace.h>
#include <linux/string.h>

#include "allocstat.h"
#include "compat.h"
#include "direct.h"

static char fault_hook[32] = "auto";
module_param_string(fault_hook, fault_hook, sizeof(fault_hook), 0444);
MODULE_PARM_DESC(fault_hook, "auto (default), direct or kretprobe; reads back as the hook in use");

struct fault_data {
	struct allocstat_task *slot;
	struct allocstat_stamp start;
	unsigned int epoch;
	unsigned int flags;
};
/* the direct call keeps it in the trampoline's frame */
static_assert(sizeof(struct fault_data) <= ALLOCSTAT_FAULT_DATA_SIZE);

/* The fault begins: false when current is not tracked.  Probe context. */
static __always_inline bool fault_begin(struct fault_data *d, unsigned int flags)
{
	d->slot = allocstat_task_current(ALLOCSTAT_CTX_TASK, &d->epoch);
	if (!d->slot)
		return false;
	d->flags = flags;
	allocstat_stamp(d->slot, &d->start);
	return true;
}

/* The fault begun by fault_begin() returned @ret.  Probe context. */
static __always_inline void fault_end(struct fault_data *d, vm_fault_t ret)
{
	struct allocstat_task *s = d->slot;
	struct allocstat_counters *c = &s->row.c;
	struct allocstat_section sec;

	allocstat_section_end(s, &d->start, &sec);
	if (!allocstat_task_owns(s, d->epoch))
		return;	/* the table was reset meanwhile */
	allocstat_add_section(&c->fault_ns, &c->fault_runq_ns, &c->fault_sleep_ns, &sec);
	if (sec.ns > c->fault_max_ns)
		WRITE_ONCE(c->fault_max_ns, sec.ns);
	if (ret & VM_FAULT_RETRY) {
		if (d->flags & ALLOCSTAT_FAULT_FLAG_VMA_LOCK)
			WRITE_ONCE(s->row.c.vma_retry, s->row.c.vma_retry + 1);
		return;
	}
	/* as mm_account_fault(): a failed fault is no fault of the task's */
	if (ret & VM_FAULT_ERROR)
		return;
	WRITE_ONCE(s->row.c.faults, s->row.c.faults + 1);
	if (d->flags & ALLOCSTAT_FAULT_FLAG_VMA_LOCK)
		WRITE_ONCE(s->row.c.vma_faults, s->row.c.vma_faults + 1);
}

/* fault_hook=kretprobe.  Handlers run with preemption disabled. */
static int fault_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct fault_data *d = (struct fault_data *)ri->data;

	/* not tracked: skip the return probe */
	return !fault_begin(d, (unsigned int)regs_get_kernel_argument(regs, 2));
}

static int fault_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	fault_end((struct fault_data *)ri->data,
		  (__force vm_fault_t)regs_return_value(regs));
	return 0;
}

static struct kretprobe fault_krp = {
	.kp.symbol_name	= "handle_mm_fault",
	.entry_handler	= fault_entry,
	.handler	= fault_return,
	.data_size	= sizeof(struct fault_data),
	/* .maxactive is set at init: faults sleep (see allocstat_fault_maxactive()) */
};

static unsigned long faults_missed(void)
{
	return fault_krp.nmissed + fault_krp.kp.nmissed;
}

static int fault_krp_attach(void)
{
	fault_krp.maxactive = allocstat_fault_maxactive();
	return register_kretprobe(&fault_krp);
}

#if ALLOCSTAT_DIRECT
/*
 * fault_hook=direct.  tramp.S's allocstat_fault_tramp calls these two around
 * the body, in the context handle_mm_fault() was called in: task context,
 * preemptible, interrupts on (it sleeps; faults in atomic context never
 * reach it, do_user_addr_fault() stops them at faulthandler_disabled()).
 * Each disables preemption for its work, as a kprobe handler runs, which is
 * what the table's pause_probes() waits for with synchronize_rcu().
 * Between the two the task may sleep; the slot is checked again at the end
 * (allocstat_task_owns()), as the kretprobe's return handler does.  The
 * call counts itself in flight from the first to the end of the second
 * (direct.c: unload waits for it).
 */
static DEFINE_PER_CPU(long, fault_inflight);

asmlinkage __visible notrace void allocstat_fault_enter(struct fault_data *d, unsigned int flags)
{
	allocstat_direct_enter(&fault_inflight);
	preempt_disable_notrace();
	fault_begin(d, flags);
	preempt_enable_notrace();
}

asmlinkage __visible notrace void allocstat_fault_leave(struct fault_data *d, unsigned int ret)
{
	if (d->slot) {
		preempt_disable_notrace();
		fault_end(d, (__force vm_fault_t)ret);
		preempt_enable_notrace();
	}
	/* last: once no call is counted, unload frees the table */
	allocstat_direct_leave(&fault_inflight);
}

static struct allocstat_direct fault_direct = {
	.name	= "handle_mm_fault",
	.func	= handle_mm_fault,
	.tramp	= allocstat_fault_tramp,
};
#define FAULT_INFLIGHT	(&fault_inflight)
#else /* !ALLOCSTAT_DIRECT */
static struct allocstat_direct fault_direct;
#define FAULT_INFLIGHT	NULL
#endif /* ALLOCSTAT_DIRECT */

static bool fault_direct_on;

/* fault_hook=: checked at load, before anything is attached */
int allocstat_faults_parse(void)
{
	if (strcmp(fault_hook, "auto") && strcmp(fault_hook, "direct") &&
	    strcmp(fault_hook, "kretprobe")) {
		pr_err("fault_hook=%s: not auto, direct or kretprobe\n", fault_hook);
		return -EINVAL;
	}
	if (!ALLOCSTAT_DIRECT && !strcmp(fault_hook, "direct")) {
		pr_err("fault_hook=direct: needs x86-64 and CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS\n");
		return -EOPNOTSUPP;
	}
	return 0;
}

/* The hook in use, for the load message. */
const char *allocstat_faults_hook(void)
{
	return fault_hook;
}

/*
 * fault_hook=direct fails here if the direct call cannot be attached, and
 * main.c then fails the load: it was asked for by name.
 */
int allocstat_faults_init(void)
{
	bool want_direct = !strcmp(fault_hook, "direct");
	int ret;

	/* auto tries the direct call only where it is built in */
	if (want_direct || (ALLOCSTAT_DIRECT && !strcmp(fault_hook, "auto"))) {
		ret = allocstat_direct_attach(&fault_direct);
		fault_direct_on = !ret;
		if (ret && want_direct) {
			pr_err("fault_hook=direct: cannot attach to handle_mm_fault() (%d%s)\n",
			       ret, ret == -EBUSY ? ": another direct call holds it, a BPF program's or a livepatch's" : "");
			return ret;
		}
		if (ret)
			pr_notice("no direct call on handle_mm_fault() (%d), using a kretprobe\n",
				  ret);
	}
	if (!fault_direct_on) {
		ret = fault_krp_attach();
		if (ret) {
			pr_notice("cannot probe %s (%d), disabling fault accounting\n",
				  fault_krp.kp.symbol_name, ret);
			return ret;
		}
	}
	strscpy(fault_hook, fault_direct_on ? "direct" : "kretprobe", sizeof(fault_hook));
	allocstat_provided[ALLOCSTAT_HOOK_FAULTS] = (struct allocstat_provides) {
		.caps	= ALLOCSTAT_HAVE_VMA_LOCK ? BIT(ALLOCSTAT_CAP_VMA_LOCK) : 0,
		/* a direct call never misses */
		.missed	= fault_direct_on ? NULL : faults_missed,
	};
	return 0;
}

void allocstat_faults_exit(void)
{
	if (fault_direct_on) {
		allocstat_direct_detach(&fault_direct);
		/* main.c's detach_all() waits for the calls inside */
		allocstat_direct_drain_later(FAULT_INFLIGHT);
	} else {
		unregister_kretprobe(&fault_krp);
	}
	fault_direct_on = false;
	allocstat_provided[ALLOCSTAT_HOOK_FAULTS] = (struct allocstat_provides) {};
}
