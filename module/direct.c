// SPDX-License-Identifier: GPL-2.0
/*
 * ftrace direct calls: a hooked function's fentry call site calls one of
 * this module's trampolines (tramp.S) instead of ftrace's, and the
 * trampoline calls this module's C functions and, where it should, the
 * function's body.  A fraction of a kprobe's price: no pt_regs, no kprobe
 * or rethook machinery (docs/cost-notes.md).
 *
 * ftrace gives one direct call per function: attaching fails with -EBUSY
 * while another holds it (a BPF fentry/fexit program, a livepatch), and
 * while we hold it they cannot attach.  The callers fall back to their
 * kprobe or tracepoint then (faults.c, mmap_lock.c).
 *
 * The trampolines are this module's text, so unload must wait until no
 * task is inside one (allocstat_direct_drain_pending()).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/ftrace.h>
#include <linux/jiffies.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <asm/cpufeature.h>

#include "allocstat.h"
#include "compat.h"
#include "direct.h"

#if ALLOCSTAT_DIRECT
/*
 * The trampolines call the body at a fixed offset (direct.h): attach only
 * if the function begins as that assumes, with its fentry call site (a
 * 5-byte nop, or a call or jump if ftrace already uses it) right before the
 * body.
 */
static bool site_ok(const void *func)
{
	static const u8 nop5[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };
	u8 insn[5];

	if (copy_from_kernel_nofault(insn, (const u8 *)func + ALLOCSTAT_SITE_OFF, sizeof(insn)))
		return false;
	return !memcmp(insn, nop5, sizeof(insn)) || insn[0] == 0xe8 || insn[0] == 0xe9;
}

/* Attach @d: 0, or an error with nothing left attached. */
int allocstat_direct_attach(struct allocstat_direct *d)
{
	int ret;

#ifdef X86_FEATURE_CALL_DEPTH
	/*
	 * Call depth tracking (retbleed=stuff) accounts calls in thunks
	 * before each function; the trampolines' calls into the bodies skip
	 * them (objtool lists those calls, and the module loader's patching
	 * refuses them with "Invalid padding area", once per boot), so every
	 * hooked call would stuff the return stack buffer.  Use the fallback.
	 */
	if (cpu_feature_enabled(X86_FEATURE_CALL_DEPTH)) {
		pr_notice("call depth tracking is on (retbleed=stuff): no direct call on %s()\n",
			  d->name);
		return -EOPNOTSUPP;
	}
#endif /* X86_FEATURE_CALL_DEPTH */
	if (!site_ok(d->func)) {
		pr_notice("%s() does not begin with its fentry site at +%d\n",
			  d->name, ALLOCSTAT_SITE_OFF);
		return -ENOEXEC;
	}
	ret = ftrace_set_filter_ip(&d->ops, (unsigned long)d->func, 0, 0);
	if (ret)
		return ret;
	ret = allocstat_register_ftrace_direct(&d->ops, (unsigned long)d->tramp);
	if (ret) {
		ftrace_free_filter(&d->ops);
		return ret;
	}
	d->on = true;
	return 0;
}

/*
 * No new call enters @d's trampoline afterwards; some may still be inside.
 * If ftrace cannot detach it (only after ftrace has shut itself down on a
 * bug of its own), the call site keeps calling this module's text: unload
 * must never finish then, so it waits forever, and says so.
 */
bool allocstat_direct_detach(struct allocstat_direct *d)
{
	int ret;

	if (!d->on)
		return false;
	ret = allocstat_unregister_ftrace_direct(&d->ops, (unsigned long)d->tramp);
	if (ret) {
		pr_crit("cannot detach the direct call on %s() (%d): the module cannot be unloaded safely and waits forever\n",
			d->name, ret);
		for (;;)
			msleep(60 * 1000);
	}
	d->on = false;
	return true;
}

static long inflight_sum(long __percpu *inflight)
{
	long sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += READ_ONCE(*per_cpu_ptr(inflight, cpu));
	return sum;
}

/*
 * After every trampoline of a group is detached, wait until no task is
 * inside one of them.
 *
 * A task can still be between a call site and its count, or after the end
 * of its count on the way out: it cannot sleep voluntarily there, so an RCU
 * tasks grace period waits for it; the rude flavour also covers the idle
 * tasks and NMIs that plain RCU tasks does not watch (an NMI may take a
 * mmap_lock by trylock).  Between the two a fault may sleep for as long as
 * it waits (I/O, a userfaultfd handler): the per-CPU count covers that (a
 * call may end on another CPU than it began: only the sum means anything;
 * each CPU's value only falls once no call enters, so a sum read as zero is
 * zero).  Unload then waits, and says so every minute after 10 s.
 */
static long __percpu *pending[2];	/* the groups' counts, detached */
static unsigned int nr_pending;

/* Module init and exit only (module_mutex serializes them). */
void allocstat_direct_drain_pending(void)
{
	unsigned long start = jiffies, next = start + 10 * HZ;
	unsigned int i;
	long n;

	if (!nr_pending)
		return;
	synchronize_rcu_tasks_rude();
	synchronize_rcu_tasks();
	for (i = 0; i < nr_pending; i++) {
		while ((n = inflight_sum(pending[i])) > 0) {
			if (time_after(jiffies, next)) {
				pr_notice("unload waits for %ld hooked calls in flight, faults that block in handle_mm_fault() (%u s)\n",
					  n, jiffies_to_msecs(jiffies - start) / 1000);
				next = jiffies + 60 * HZ;
			}
			msleep(20);
		}
	}
	/* the calls that ended their count may still be on their way out */
	synchronize_rcu_tasks();
	nr_pending = 0;
}

/*
 * A group whose trampolines are detached: drained by the next
 * allocstat_direct_drain_pending(), which module exit calls once for all
 * groups (the grace periods take a while).
 */
void allocstat_direct_drain_later(long __percpu *inflight)
{
	if (nr_pending == ARRAY_SIZE(pending))
		allocstat_direct_drain_pending();
	pending[nr_pending++] = inflight;
}
#endif /* ALLOCSTAT_DIRECT */
