// SPDX-License-Identifier: GPL-2.0
/*
 * allocstat: per-task page-fault, page-zeroing and mmap_lock accounting,
 * read from /proc/allocstat.  Module init and exit.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/string.h>
#include <linux/tracepoint.h>

#include "allocstat.h"
#include "direct.h"

#define MAX_TASKS_LIMIT	65536

/* Rows in the task table: allocated at load, never in probe context. */
unsigned int allocstat_max_tasks = 8192;
module_param_named(max_tasks, allocstat_max_tasks, uint, 0444);
MODULE_PARM_DESC(max_tasks, "Rows in the task table, 1..65536 (default 8192)");

/* Hook groups to attach; the benchmark measures them one at a time. */
static char *hooks = "faults,zeroing,mmap_lock";
module_param(hooks, charp, 0444);
MODULE_PARM_DESC(hooks, "Comma-separated hook groups: faults, zeroing, mmap_lock (default: all)");

const char *const allocstat_hook_names[ALLOCSTAT_NR_HOOKS] = {
	[ALLOCSTAT_HOOK_FAULTS]		= "faults",
	[ALLOCSTAT_HOOK_ZEROING]	= "zeroing",
	[ALLOCSTAT_HOOK_MMAP_LOCK]	= "mmap_lock",
	[ALLOCSTAT_HOOK_EXIT]		= "exit",
	[ALLOCSTAT_HOOK_FORK]		= "fork",
};

unsigned long allocstat_hooks_active;
struct allocstat_provides allocstat_provided[ALLOCSTAT_NR_HOOKS];
atomic_long_t allocstat_missed = ATOMIC_LONG_INIT(0);

static unsigned long hooks_wanted;

static int parse_hooks(void)
{
	char buf[64], *cur, *tok;
	int i;

	if (strscpy(buf, hooks, sizeof(buf)) < 0) {
		pr_err("hooks=: longer than %zu characters\n", sizeof(buf) - 1);
		return -EINVAL;
	}
	cur = buf;
	while ((tok = strsep(&cur, ","))) {
		if (!*tok)
			continue;
		for (i = 0; i < ALLOCSTAT_HOOK_EXIT; i++)
			if (!strcmp(tok, allocstat_hook_names[i]))
				break;
		if (i == ALLOCSTAT_HOOK_EXIT) {
			pr_err("hooks=: unknown hook group '%s' (faults, zeroing, mmap_lock)\n", tok);
			return -EINVAL;
		}
		__set_bit(i, &hooks_wanted);
	}
	if (!hooks_wanted) {
		pr_err("hooks=: no hook group given (faults, zeroing, mmap_lock)\n");
		return -EINVAL;
	}
	return 0;
}

static int attach(enum allocstat_hook h, int (*init)(void))
{
	int ret;

	if (!test_bit(h, &hooks_wanted))
		return 0;
	ret = init();
	if (!ret)
		set_bit(h, &allocstat_hooks_active);
	return ret;
}

static void detach_all(void)
{
	if (test_and_clear_bit(ALLOCSTAT_HOOK_MMAP_LOCK, &allocstat_hooks_active))
		allocstat_mmap_lock_exit();
	if (test_and_clear_bit(ALLOCSTAT_HOOK_ZEROING, &allocstat_hooks_active))
		allocstat_zeroing_exit();
	if (test_and_clear_bit(ALLOCSTAT_HOOK_FAULTS, &allocstat_hooks_active))
		allocstat_faults_exit();
	/* the trampolines are our text, and their calls use the table */
	allocstat_direct_drain_pending();
	if (test_and_clear_bit(ALLOCSTAT_HOOK_FORK, &allocstat_hooks_active))
		allocstat_fork_hook_exit();
	if (test_and_clear_bit(ALLOCSTAT_HOOK_EXIT, &allocstat_hooks_active))
		allocstat_exit_hook_exit();
	allocstat_split_exit();
	/* No probe of ours runs after this; kretprobes waited for theirs. */
	tracepoint_synchronize_unregister();
}

static int __init allocstat_init(void)
{
	char faults[40];
	int ret;

	if (allocstat_max_tasks < 1 || allocstat_max_tasks > MAX_TASKS_LIMIT) {
		pr_err("max_tasks=%u is out of range 1..%u\n",
		       allocstat_max_tasks, MAX_TASKS_LIMIT);
		return -EINVAL;
	}
	ret = parse_hooks();
	if (!ret)
		ret = allocstat_faults_parse();
	if (!ret)
		ret = allocstat_mmap_lock_parse();
	if (ret)
		return ret;

	ret = allocstat_table_init();
	if (ret) {
		pr_err("cannot allocate the table for %u tasks\n", allocstat_max_tasks);
		return ret;
	}

	/* Without the exit hook rows still work; exits are noticed on read. */
	set_bit(ALLOCSTAT_HOOK_EXIT, &hooks_wanted);
	attach(ALLOCSTAT_HOOK_EXIT, allocstat_exit_hook_init);
	if (!allocstat_hook_on(ALLOCSTAT_HOOK_EXIT))
		pr_notice("sched_process_exit not found, exits are noticed on read\n");
	/*
	 * Without the fork hook `track` matches tgids, not their children.
	 * Without the exit hook it is not attached: rows are never reused
	 * then, and every short-lived child of a tracked process would keep
	 * its row until the table is full.
	 */
	if (allocstat_hook_on(ALLOCSTAT_HOOK_EXIT)) {
		set_bit(ALLOCSTAT_HOOK_FORK, &hooks_wanted);
		attach(ALLOCSTAT_HOOK_FORK, allocstat_fork_hook_init);
	}
	if (!allocstat_hook_on(ALLOCSTAT_HOOK_FORK))
		pr_notice("no fork hook: track does not follow fork\n");
	allocstat_split_init();
	/* a hook asked for by name (fault_hook=direct, ...) is not optional */
	ret = attach(ALLOCSTAT_HOOK_FAULTS, allocstat_faults_init);
	if (ret && !strcmp(allocstat_faults_hook(), "direct"))
		goto out_detach;
	attach(ALLOCSTAT_HOOK_ZEROING, allocstat_zeroing_init);
	ret = attach(ALLOCSTAT_HOOK_MMAP_LOCK, allocstat_mmap_lock_init);
	if (ret && !strcmp(allocstat_mmap_lock_hook(), "direct"))
		goto out_detach;
	if (!(allocstat_hooks_active & (BIT(ALLOCSTAT_HOOK_FAULTS) |
					BIT(ALLOCSTAT_HOOK_ZEROING) |
					BIT(ALLOCSTAT_HOOK_MMAP_LOCK)))) {
		pr_err("no hook could be attached\n");
		ret = -ENODEV;
		goto out_detach;
	}

	ret = allocstat_proc_init();
	if (ret) {
		pr_err("cannot create /proc/allocstat\n");
		goto out_detach;
	}
	if (allocstat_hook_on(ALLOCSTAT_HOOK_FAULTS) && !strcmp(allocstat_faults_hook(), "kretprobe"))
		snprintf(faults, sizeof(faults), "kretprobe, %d instances", allocstat_fault_maxactive());
	else
		strscpy(faults, allocstat_hook_on(ALLOCSTAT_HOOK_FAULTS) ?
			allocstat_faults_hook() : "off", sizeof(faults));
	pr_info("version %s, %u task slots, %zu KiB; faults: %s; mmap_lock: %s; %d kretprobe instances per zeroing probe\n",
		ALLOCSTAT_VERSION, allocstat_max_tasks, allocstat_table_bytes() >> 10, faults,
		allocstat_hook_on(ALLOCSTAT_HOOK_MMAP_LOCK) ? allocstat_mmap_lock_hook() : "off",
		ALLOCSTAT_ZERO_MAXACTIVE);
	return 0;

out_detach:
	detach_all();
	allocstat_table_exit();
	return ret;
}

static void __exit allocstat_exit(void)
{
	allocstat_proc_exit();
	detach_all();
	allocstat_table_exit();
}

module_init(allocstat_init);
module_exit(allocstat_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Per-task page-fault, page-zeroing and mmap_lock accounting");
MODULE_VERSION(ALLOCSTAT_VERSION);
