/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel-version differences, in one place.  Where a difference can be seen
 * from a header or a symbol, it is tested that way; kprobe targets are tried
 * by name at load time (register_kprobe fails with -ENOENT where a symbol
 * does not exist), which is the most reliable feature test of all.
 */
#ifndef ALLOCSTAT_COMPAT_H
#define ALLOCSTAT_COMPAT_H

#include <linux/sched.h>
#include <linux/version.h>

/*
 * mmap_lock tracepoints.  Up to 6.13 every event carries the memcg path
 * (TP_PROTO(mm, memcg_path, write[, success])); "mm: mmap_lock: optimize
 * mmap_lock tracepoints" (6.14) dropped it.  A prototype cannot be tested by
 * the preprocessor, so this is the one version test; the kernel's own trace
 * header is included, so a wrong prototype fails to compile instead of
 * corrupting arguments.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 14, 0)
#define ALLOCSTAT_MMAP_LOCK_PROTO(...)	void *data, struct mm_struct *mm, \
					const char *memcg_path, __VA_ARGS__
#define ALLOCSTAT_MMAP_LOCK_MEMCG_PATH	1	/* formatted for every event */
#else /* >= 6.14 */
#define ALLOCSTAT_MMAP_LOCK_PROTO(...)	void *data, struct mm_struct *mm, __VA_ARGS__
#define ALLOCSTAT_MMAP_LOCK_MEMCG_PATH	0
#endif /* LINUX_VERSION_CODE < 6.14 */

/*
 * sched_process_exit is not exported, so the compiler cannot check this
 * prototype against the tracepoint: it is (struct task_struct *p) in 6.1 and
 * 6.12 (include/trace/events/sched.h).  Arguments appended by a later kernel
 * would be ignored harmlessly by this probe on x86-64.
 */
#define ALLOCSTAT_EXIT_TP_PROTO		void *data, struct task_struct *p

/* sched_process_fork, unexported too: (parent, child) in 6.1 and 6.12. */

/*
 * The kernel's workers of a user process, which copy_process() makes
 * without sched_process_fork (create_io_thread(), vhost_task_create()):
 * io_uring's PF_IO_WORKER, and from 6.4 PF_USER_WORKER for both.
 */
#ifdef PF_USER_WORKER
#define ALLOCSTAT_PF_WORKERS		(PF_IO_WORKER | PF_USER_WORKER)
#else /* !PF_USER_WORKER */
#define ALLOCSTAT_PF_WORKERS		PF_IO_WORKER
#endif /* PF_USER_WORKER */
#define ALLOCSTAT_FORK_TP_PROTO		void *data, struct task_struct *parent, \
					struct task_struct *child

/*
 * Per-VMA locks (6.4+): user faults first try the VMA lock and call
 * handle_mm_fault() with FAULT_FLAG_VMA_LOCK.  The config symbol exists only
 * on kernels that have the feature.
 */
#ifdef CONFIG_PER_VMA_LOCK
#define ALLOCSTAT_HAVE_VMA_LOCK		1
#define ALLOCSTAT_FAULT_FLAG_VMA_LOCK	FAULT_FLAG_VMA_LOCK
#else /* !CONFIG_PER_VMA_LOCK */
#define ALLOCSTAT_HAVE_VMA_LOCK		0
#define ALLOCSTAT_FAULT_FLAG_VMA_LOCK	0
#endif /* CONFIG_PER_VMA_LOCK */

/*
 * Page zeroing, by one of two hook sets, whichever the running kernel has
 * (zeroing.c tries them in this order; the test is the symbol, never the
 * version):
 *
 * 1. Up to 6.x, clear_page() is an alternative call to one of
 *    ALLOCSTAT_CLEAR_PAGE_SYMS, for every 4 KiB clear.
 *
 * 2. Linux 7.0 made clear_page() an inline clear_pages() (`rep stosb` on
 *    CPUs with ERMS): no clear_page_* is left.  Every inlined site is, in the
 *    vmlinux file, a `call __clear_pages_unrolled` that the alternatives patch
 *    at boot, so the sites can be listed.  In Debian sid's 7.2.13+deb14
 *    (objdump -d of the vmlinuz's vmlinux, names from /proc/kallsyms):
 *      clear_highpages_kasan_tagged(page, numpages)  the page allocator's
 *          zeroing, __GFP_ZERO and init_on_alloc (from post_alloc_hook) and
 *          init_on_free's (from the free paths): out of line, with an fentry
 *      folio_zero_user       huge and mTHP pages, hugetlb (ALLOCSTAT_CLEAR_HUGE_SYMS)
 *      shmem_get_folio_gfp, do_wp_page, __mfill_atomic_pte,
 *      collapse_huge_page, collapse_file, dax_fault_iter, copy_process
 *                            inline in large functions: not seen
 *    and boot, hibernation, kexec and driver sites.  The hook is the first
 *    of ALLOCSTAT_CLEAR_RANGE_SYMS; its arguments are read as (struct page *,
 *    int), which holds for a symbol without a .isra/.constprop suffix (gcc
 *    renames a function whose calling convention it changed).
 */
#define ALLOCSTAT_CLEAR_PAGE_SYMS	{ "clear_page_erms", "clear_page_rep", "clear_page_orig" }
#define ALLOCSTAT_CLEAR_RANGE_SYMS	{ "clear_highpages_kasan_tagged" }

/*
 * Huge-page clears: folio_zero_user() since 6.10 (it replaced
 * clear_huge_page()).  Tried in this order.
 */
#define ALLOCSTAT_CLEAR_HUGE_SYMS	{ "folio_zero_user", "clear_huge_page" }

/*
 * Where the page allocator zeroes (__GFP_ZERO, init_on_alloc): in
 * kernel_init_pages(), called by post_alloc_hook(), called by
 * prep_new_page().  Compilers inline them into their callers to different
 * depths, so the zeroing call sits in whichever of these functions the
 * compiler kept it; every name that exists contributes its text range.
 * Found in Debian's vmlinux (the -dbg packages: objdump -d for every call
 * of clear_page_orig, the site the alternatives patch into _rep/_erms, and
 * addr2line -i for its inline chain):
 *   6.1.0-56:  get_page_from_freelist, __alloc_pages_direct_compact,
 *              __alloc_pages_bulk (vmalloc, page_pool), post_alloc_hook
 *              (out of line, for compaction and alloc_contig_range);
 *   6.12.117:  get_page_from_freelist, __alloc_pages_direct_compact,
 *              alloc_pages_bulk_noprof, alloc_contig_range_noprof (2),
 *              post_alloc_hook (compaction_alloc, release_free_list);
 *   7.2.13 (sid, the clear_highpages_kasan_tagged() hook): post_alloc_hook
 *              tail-calls it, so the return address lies in post_alloc_hook's
 *              callers: get_page_from_freelist, __alloc_pages_slowpath
 *              (a .constprop.0 clone, listed under both names),
 *              alloc_contig_frozen_range_noprof, compaction_alloc,
 *              release_free_list, alloc_pages_bulk_noprof (a direct call);
 *              and post_alloc_hook.cold.
 * prep_new_page and kernel_init_pages have no symbol on either; they stay
 * listed for kernels that keep them out of line.  The other clear_page()
 * callers (free-side init_on_free, huge-page clears, COW copies of the zero
 * page, shmem, page tables) are not the allocator.
 */
#define ALLOCSTAT_ALLOC_ZERO_SYMS	{ "kernel_init_pages", "post_alloc_hook", \
					  "prep_new_page", "get_page_from_freelist", \
					  "__alloc_pages_direct_compact", \
					  "__alloc_pages_bulk", "alloc_pages_bulk_noprof", \
					  "alloc_contig_range_noprof", \
					  "__alloc_pages_slowpath", \
					  "__alloc_pages_slowpath.constprop.0", \
					  "alloc_contig_frozen_range_noprof", \
					  "compaction_alloc", "release_free_list", \
					  "post_alloc_hook.cold" }

/*
 * The runqueue part of a timed section needs the scheduler's per-task
 * sched_info (CONFIG_SCHED_INFO: on in Debian's kernels, selected by
 * SCHEDSTATS, TASK_DELAY_ACCT and others).  Without it the *_runq_ns and
 * *_sleep_ns columns print "-".
 */
#ifdef CONFIG_SCHED_INFO
#define ALLOCSTAT_HAVE_SCHED_INFO	1
static __always_inline u64 allocstat_run_delay(const struct task_struct *t)
{
	return READ_ONCE(t->sched_info.run_delay);
}
#else /* !CONFIG_SCHED_INFO */
#define ALLOCSTAT_HAVE_SCHED_INFO	0
static __always_inline u64 allocstat_run_delay(const struct task_struct *t)
{
	return 0;
}
#endif /* CONFIG_SCHED_INFO */

/*
 * EEVDF's delayed dequeue (6.12, "sched/fair: Implement delayed dequeue"): a
 * task that blocks may stay queued until it is picked.  If it is migrated
 * meanwhile (load balancing, an affinity or NUMA move), the enqueue on the
 * new CPU sets sched_info.last_queued although the task still sleeps, and
 * the rest of its sleep ends up in run_delay when it runs again.  table.c
 * corrects that from sched_waking (probe_waking()).  There is no header symbol for the feature,
 * so this is a version test.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#define ALLOCSTAT_HAVE_DELAY_DEQUEUE	1	/* struct sched_entity has sched_delayed */
#else /* < 6.12 */
#define ALLOCSTAT_HAVE_DELAY_DEQUEUE	0
#endif /* LINUX_VERSION_CODE >= 6.12 */

/* Is @t's dequeue delayed (it blocked, and is still queued)? */
static __always_inline bool allocstat_sched_delayed(const struct task_struct *t)
{
#if ALLOCSTAT_HAVE_DELAY_DEQUEUE
	return READ_ONCE(t->se.sched_delayed);
#else /* !ALLOCSTAT_HAVE_DELAY_DEQUEUE */
	return false;
#endif /* ALLOCSTAT_HAVE_DELAY_DEQUEUE */
}

/*
 * The on-CPU part reads se.exec_start, which is in rq_clock_task(): the rq
 * clock minus IRQ time (CONFIG_IRQ_TIME_ACCOUNTING) and steal time
 * (CONFIG_PARAVIRT_TIME_ACCOUNTING) since boot.  With either, it cannot be
 * compared with local_clock(), and the split is off (columns "-").  Both are
 * off in Debian's 6.1 and 6.12.
 */
#if defined(CONFIG_IRQ_TIME_ACCOUNTING) || defined(CONFIG_PARAVIRT_TIME_ACCOUNTING)
#define ALLOCSTAT_CLOCK_TASK_IS_CLOCK	0
#else
#define ALLOCSTAT_CLOCK_TASK_IS_CLOCK	1
#endif

/*
 * A task's time asleep, as /proc/<tid>/sched's sum_sleep_runtime: only
 * counted while kernel.sched_schedstats is on (CONFIG_SCHEDSTATS; on in
 * Debian's kernels, the sysctl off by default).  In task_struct.stats since
 * 5.16 ("sched: Make struct sched_statistics independent of fair sched
 * class").
 */
#ifdef CONFIG_SCHEDSTATS
#define ALLOCSTAT_HAVE_SLEEP_TIME	1
static __always_inline u64 allocstat_sleep_time(const struct task_struct *t)
{
	return READ_ONCE(t->stats.sum_sleep_runtime);
}
#else /* !CONFIG_SCHEDSTATS */
#define ALLOCSTAT_HAVE_SLEEP_TIME	0
static __always_inline u64 allocstat_sleep_time(const struct task_struct *t)
{
	return 0;
}
#endif /* CONFIG_SCHEDSTATS */

static __always_inline u64 allocstat_last_queued(const struct task_struct *t)
{
#ifdef CONFIG_SCHED_INFO
	return READ_ONCE(t->sched_info.last_queued);
#else /* !CONFIG_SCHED_INFO */
	return 0;
#endif /* CONFIG_SCHED_INFO */
}

/*
 * ftrace direct calls (faults.c).  5.16 to 6.5 had register_ftrace_direct()
 * for one function and register_ftrace_direct_multi() for an ftrace_ops;
 * "ftrace: Rename _ftrace_direct_multi APIs to _ftrace_direct APIs" (6.6)
 * kept only the ops form, under the old name, and unregister takes
 * free_filters.  The prototypes cannot be told apart by the preprocessor.
 */
#ifdef CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS
#include <linux/ftrace.h>
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 6, 0)
#define allocstat_register_ftrace_direct(ops, addr)	\
	register_ftrace_direct_multi(ops, addr)
static inline int allocstat_unregister_ftrace_direct(struct ftrace_ops *ops,
						     unsigned long addr)
{
	int ret = unregister_ftrace_direct_multi(ops, addr);

	if (!ret)
		ftrace_free_filter(ops);
	return ret;
}
#else /* >= 6.6 */
#define allocstat_register_ftrace_direct(ops, addr)	\
	register_ftrace_direct(ops, addr)
static inline int allocstat_unregister_ftrace_direct(struct ftrace_ops *ops,
						     unsigned long addr)
{
	return unregister_ftrace_direct(ops, addr, true);	/* and free the filter */
}
#endif /* LINUX_VERSION_CODE < 6.6 */
#endif /* CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS */

#endif /* ALLOCSTAT_COMPAT_H */
