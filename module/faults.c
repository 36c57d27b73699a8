// SPDX-License-Identifier: GPL-2.0
/*
 * Page faults: a kretprobe on handle_mm_fault().
 *
 * Why this hook: every user-address fault, from the fault handler and from
 * get_user_pages() alike, is handled by handle_mm_fault(), on every kernel.
 * It is exported and has an fentry, so the kprobe rides on ftrace (no int3).
 * The callers before it (exc_page_fault, do_user_addr_fault) are noinstr or
 * kprobe-blacklisted, and the page_fault_user tracepoint has no exit.
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
#include <linux/ptrace.h>

#include "allocstat.h"
#include "compat.h"

struct fault_data {
	struct allocstat_task *slot;
	struct allocstat_stamp start;
	unsigned int epoch;
	unsigned int flags;
};

static int fault_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct fault_data *d = (struct fault_data *)ri->data;

	d->slot = allocstat_task_current(ALLOCSTAT_CTX_TASK, &d->epoch);
	if (!d->slot)
		return 1;	/* not tracked: skip the return probe */
	d->flags = (unsigned int)regs_get_kernel_argument(regs, 2);
	allocstat_stamp(d->slot, &d->start);
	return 0;
}

static int fault_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct fault_data *d = (struct fault_data *)ri->data;
	struct allocstat_task *s = d->slot;
	vm_fault_t ret = (__force vm_fault_t)regs_return_value(regs);
	struct allocstat_counters *c = &s->row.c;
	struct allocstat_section sec;

	allocstat_section_end(s, &d->start, &sec);
	if (!allocstat_task_owns(s, d->epoch))
		return 0;	/* the table was reset meanwhile */
	allocstat_add_section(&c->fault_ns, &c->fault_runq_ns, &c->fault_sleep_ns, &sec);
	if (sec.ns > c->fault_max_ns)
		WRITE_ONCE(c->fault_max_ns, sec.ns);
	if (ret & VM_FAULT_RETRY) {
		if (d->flags & ALLOCSTAT_FAULT_FLAG_VMA_LOCK)
			WRITE_ONCE(s->row.c.vma_retry, s->row.c.vma_retry + 1);
		return 0;
	}
	/* as mm_account_fault(): a failed fault is no fault of the task's */
	if (ret & VM_FAULT_ERROR)
		return 0;
	WRITE_ONCE(s->row.c.faults, s->row.c.faults + 1);
	if (d->flags & ALLOCSTAT_FAULT_FLAG_VMA_LOCK)
		WRITE_ONCE(s->row.c.vma_faults, s->row.c.vma_faults + 1);
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

int allocstat_faults_init(void)
{
	int ret;

	fault_krp.maxactive = allocstat_fault_maxactive();
	ret = register_kretprobe(&fault_krp);

	if (ret) {
		pr_notice("cannot probe %s (%d), disabling fault accounting\n",
			  fault_krp.kp.symbol_name, ret);
		return ret;
	}
	allocstat_provided[ALLOCSTAT_HOOK_FAULTS] = (struct allocstat_provides) {
		.caps	= ALLOCSTAT_HAVE_VMA_LOCK ? BIT(ALLOCSTAT_CAP_VMA_LOCK) : 0,
		.missed	= faults_missed,
	};
	return 0;
}

void allocstat_faults_exit(void)
{
	unregister_kretprobe(&fault_krp);
	allocstat_provided[ALLOCSTAT_HOOK_FAULTS] = (struct allocstat_provides) {};
}
