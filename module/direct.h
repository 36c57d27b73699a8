/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ftrace direct calls to trampolines of this module (tramp.S, direct.c):
 * what the assembly and the C code must agree on.  x86-64 only.
 */
#ifndef ALLOCSTAT_DIRECT_H
#define ALLOCSTAT_DIRECT_H

/*
 * Unload waits with RCU tasks (direct.c): without it a preemptible kernel's
 * synchronize_rcu_tasks() would not wait for a task preempted inside a
 * trampoline.
 */
#if defined(CONFIG_X86_64) && defined(CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS) && \
	defined(CONFIG_TASKS_RUDE_RCU) && (defined(CONFIG_TASKS_RCU) || !defined(CONFIG_PREEMPTION))
#define ALLOCSTAT_DIRECT		1
#else
#define ALLOCSTAT_DIRECT		0
#endif

/*
 * A hooked function begins with its fentry call site (5 bytes), after an
 * endbr64 (4 bytes) when the kernel is built with IBT.  A trampoline calls
 * the body right after the call site, directly (a relative call, so neither
 * IBT nor retpolines are involved); direct.c checks the bytes before
 * attaching.
 */
#ifdef CONFIG_X86_KERNEL_IBT
#define ALLOCSTAT_SITE_OFF		4
#else
#define ALLOCSTAT_SITE_OFF		0
#endif
#define ALLOCSTAT_BODY_OFF		(ALLOCSTAT_SITE_OFF + 5)

/* Bytes of the fault trampoline's frame for struct fault_data (faults.c). */
#define ALLOCSTAT_FAULT_DATA_SIZE	48

#ifndef __ASSEMBLY__
#include <linux/ftrace.h>
#include <linux/linkage.h>
#include <linux/percpu.h>
#include <linux/types.h>

struct fault_data;
struct mm_struct;

/* tramp.S: the trampolines, and the functions they call */
void allocstat_fault_tramp(void);
asmlinkage void allocstat_fault_enter(struct fault_data *d, unsigned int flags);
asmlinkage void allocstat_fault_leave(struct fault_data *d, unsigned int ret);
void allocstat_lock_start_tramp(void);
void allocstat_lock_acquire_tramp(void);
void allocstat_lock_released_tramp(void);
/*
 * Each returns true when the trampoline must call the body after it, and
 * allocstat_lock_body_done() after that.
 */
asmlinkage bool allocstat_lock_start(struct mm_struct *mm, bool write);
asmlinkage bool allocstat_lock_acquire(struct mm_struct *mm, bool write, bool success);
asmlinkage bool allocstat_lock_released(struct mm_struct *mm, bool write);
asmlinkage void allocstat_lock_body_done(void);

/* direct.c */
struct allocstat_direct {
	const char *name;		/* for messages */
	void *func;			/* the hooked function */
	void (*tramp)(void);
	struct ftrace_ops ops;
	bool on;
};

#if ALLOCSTAT_DIRECT
/*
 * A call that sleeps, or may, between a trampoline's C functions counts
 * itself in its group's per-CPU count, from the first to the end of the
 * second, so that the group's detach can wait for it
 * (allocstat_direct_drain_pending()).  One count per group: a group waits only
 * for its own calls.
 */
static __always_inline void allocstat_direct_enter(long __percpu *inflight)
{
	this_cpu_inc(*inflight);
}

static __always_inline void allocstat_direct_leave(long __percpu *inflight)
{
	this_cpu_dec(*inflight);
}

int allocstat_direct_attach(struct allocstat_direct *d);
bool allocstat_direct_detach(struct allocstat_direct *d);
void allocstat_direct_drain_later(long __percpu *inflight);
void allocstat_direct_drain_pending(void);
#else /* !ALLOCSTAT_DIRECT */
static inline int allocstat_direct_attach(struct allocstat_direct *d)
{
	return -EOPNOTSUPP;
}

static inline bool allocstat_direct_detach(struct allocstat_direct *d)
{
	return false;
}

static inline void allocstat_direct_drain_later(long __percpu *inflight) { }
static inline void allocstat_direct_drain_pending(void) { }
#endif /* ALLOCSTAT_DIRECT */
#endif /* !__ASSEMBLY__ */

#endif /* ALLOCSTAT_DIRECT_H */
