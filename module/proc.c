// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/allocstat, in the manner of /proc/lock_stat: a snapshot of the table
 * is taken at open, printed through seq_file and freed at release.  Writes
 * are control commands.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/stddef.h>
#include <linux/string.h>
#include <linux/threads.h>
#include <linux/uaccess.h>
#include <linux/utsname.h>

#include "allocstat.h"

#define PROC_NAME	"allocstat"
#define CMD_MAX		64

/* What a column needs to be meaningful; without it the column prints "-". */
enum column_need {
	NEED_FAULTS,
	NEED_FAULTS_SPLIT,
	NEED_VMA,
	NEED_ZERO,
	NEED_ZERO_SPLIT,
	NEED_ZERO_HUGE,
	NEED_ZERO_ALLOC,
	NEED_LOCK,
	NEED_LOCK_SPLIT,
};

struct column {
	const char *name;
	size_t offset;		/* of a u64 in struct allocstat_counters */
	enum column_need need;
};

#define COL(name, field, need) { name, offsetof(struct allocstat_counters, field), need }

static const struct column columns[] = {
	COL("faults",			faults,			NEED_FAULTS),
	COL("fault_ns",			fault_ns,		NEED_FAULTS),
	COL("fault_runq_ns",		fault_runq_ns,		NEED_FAULTS_SPLIT),
	COL("fault_sleep_ns",		fault_sleep_ns,		NEED_FAULTS_SPLIT),
	COL("fault_max_ns",		fault_max_ns,		NEED_FAULTS),
	COL("vma_faults",		vma_faults,		NEED_VMA),
	COL("vma_retry",		vma_retry,		NEED_VMA),
	COL("zero_pages",		zero_pages,		NEED_ZERO),
	COL("zero_ns",			zero_ns,		NEED_ZERO),
	COL("zero_runq_ns",		zero_runq_ns,		NEED_ZERO_SPLIT),
	COL("zero_sleep_ns",		zero_sleep_ns,		NEED_ZERO_SPLIT),
	COL("zero_huge",		zero_huge,		NEED_ZERO_HUGE),
	COL("zero_alloc_pages",		zero_alloc_pages,	NEED_ZERO_ALLOC),
	COL("mmap_read",		lock[0].count,		NEED_LOCK),
	COL("mmap_read_wait_ns",	lock[0].wait_ns,	NEED_LOCK),
	COL("mmap_read_wait_runq_ns",	lock[0].wait_runq_ns,	NEED_LOCK_SPLIT),
	COL("mmap_read_wait_sleep_ns",	lock[0].wait_sleep_ns,	NEED_LOCK_SPLIT),
	COL("mmap_read_wait_max_ns",	lock[0].wait_max_ns,	NEED_LOCK),
	COL("mmap_read_hold_ns",	lock[0].hold_ns,	NEED_LOCK),
	COL("mmap_read_hold_max_ns",	lock[0].hold_max_ns,	NEED_LOCK),
	COL("mmap_write",		lock[1].count,		NEED_LOCK),
	COL("mmap_write_wait_ns",	lock[1].wait_ns,	NEED_LOCK),
	COL("mmap_write_wait_runq_ns",	lock[1].wait_runq_ns,	NEED_LOCK_SPLIT),
	COL("mmap_write_wait_sleep_ns",	lock[1].wait_sleep_ns,	NEED_LOCK_SPLIT),
	COL("mmap_write_wait_max_ns",	lock[1].wait_max_ns,	NEED_LOCK),
	COL("mmap_write_hold_ns",	lock[1].hold_ns,	NEED_LOCK),
	COL("mmap_write_hold_max_ns",	lock[1].hold_max_ns,	NEED_LOCK),
	COL("mmap_trylock_fail",	trylock_fail,		NEED_LOCK),
};

static bool provides(enum allocstat_hook h, enum allocstat_cap cap)
{
	return allocstat_hook_on(h) && (allocstat_provided[h].caps & BIT(cap));
}

static bool need_met(enum column_need need)
{
	switch (need) {
	case NEED_FAULTS:
		return allocstat_hook_on(ALLOCSTAT_HOOK_FAULTS);
	case NEED_FAULTS_SPLIT:
		return allocstat_hook_on(ALLOCSTAT_HOOK_FAULTS) && allocstat_split_on;
	case NEED_VMA:
		return provides(ALLOCSTAT_HOOK_FAULTS, ALLOCSTAT_CAP_VMA_LOCK);
	case NEED_ZERO:
		return allocstat_hook_on(ALLOCSTAT_HOOK_ZEROING);
	case NEED_ZERO_SPLIT:
		return allocstat_hook_on(ALLOCSTAT_HOOK_ZEROING) && allocstat_split_on;
	case NEED_ZERO_HUGE:
		return provides(ALLOCSTAT_HOOK_ZEROING, ALLOCSTAT_CAP_ZERO_HUGE);
	case NEED_ZERO_ALLOC:
		return provides(ALLOCSTAT_HOOK_ZEROING, ALLOCSTAT_CAP_ZERO_ALLOC);
	case NEED_LOCK:
		return allocstat_hook_on(ALLOCSTAT_HOOK_MMAP_LOCK);
	case NEED_LOCK_SPLIT:
		return allocstat_hook_on(ALLOCSTAT_HOOK_MMAP_LOCK) && allocstat_split_on;
	}
	return false;
}

struct snapshot {
	char track[ALLOCSTAT_TRACK_SHOW_MAX];
	unsigned int nr;
	long dropped;
	unsigned long recycled;
	unsigned long missed;
	struct allocstat_row rows[];
};

static void *as_start(struct seq_file *m, loff_t *pos)
{
	struct snapshot *snap = m->private;

	if (!snap)
		return NULL;	/* opened for writing only */
	if (*pos == 0)
		return SEQ_START_TOKEN;
	if (*pos - 1 < snap->nr)
		return &snap->rows[*pos - 1];
	return NULL;
}

static void *as_next(struct seq_file *m, void *v, loff_t *pos)
{
	++*pos;
	return as_start(m, pos);
}

static void as_stop(struct seq_file *m, void *v)
{
}

static void show_header(struct seq_file *m, const struct snapshot *snap)
{
	const char *sep = "";
	unsigned int i;

	seq_printf(m, "# allocstat %s kernel=%s hooks=", ALLOCSTAT_VERSION,
		   init_utsname()->release);
	for (i = 0; i < ALLOCSTAT_NR_HOOKS; i++) {
		if (!allocstat_hook_on(i))
			continue;
		seq_printf(m, "%s%s", sep, allocstat_hook_names[i]);
		sep = ",";
		if (provides(i, ALLOCSTAT_CAP_VMA_LOCK))
			seq_puts(m, ",vma_lock");
	}
	/*
	 * Whether the allocator zeroes every page it hands out, as
	 * post_alloc_hook() decides it: init_on_free=1 zeroes at free instead
	 * and turns the zeroing at allocation off (allocstat(4), init_on_alloc=).
	 */
	seq_printf(m, " init_on_alloc=%d", want_init_on_alloc(0) && !want_init_on_free());
	seq_printf(m, " tasks=%u dropped=%ld recycled=%lu missed=%lu track=%s\n", snap->nr,
		   snap->dropped, snap->recycled, snap->missed, snap->track);
	seq_puts(m, "tid tgid comm state");
	for (i = 0; i < ARRAY_SIZE(columns); i++)
		seq_printf(m, " %s", columns[i].name);
	seq_puts(m, " root task_start_ns task_end_ns task_cpu_ns task_utime_ns task_stime_ns");
	seq_puts(m, " task_runq_ns task_sleep_ns\n");
}

/* comm with whitespace, backslashes and unprintable bytes as \ooo. */
static void show_comm(struct seq_file *m, const char *comm)
{
	const unsigned char *c;

	for (c = (const unsigned char *)comm; *c; c++) {
		if (*c <= ' ' || *c == '\\' || *c >= 0x7f)
			seq_printf(m, "\\%03o", *c);
		else
			seq_putc(m, *c);
	}
}

/*
 * The task_* columns after task_start_ns: written by the exit hook, so "-"
 * for a live task (and for one that exited unseen, without the hook).
 * runq needs sched_info, sleep schedstats (compat.h).
 */
static void show_life(struct seq_file *m, const struct allocstat_row *row)
{
	const struct allocstat_life *l = &row->life;

	if (!row->ended) {
		seq_puts(m, " - - - - - -");
		return;
	}
	seq_put_decimal_ull(m, " ", l->end_ns);
	seq_put_decimal_ull(m, " ", l->cpu_ns);
	seq_put_decimal_ull(m, " ", l->utime_ns);
	seq_put_decimal_ull(m, " ", l->stime_ns);
	if (ALLOCSTAT_HAVE_SCHED_INFO)
		seq_put_decimal_ull(m, " ", l->runq_ns);
	else
		seq_puts(m, " -");
	if (ALLOCSTAT_HAVE_SLEEP_TIME)
		seq_put_decimal_ull(m, " ", l->sleep_ns);
	else
		seq_puts(m, " -");
}

static int as_show(struct seq_file *m, void *v)
{
	const struct allocstat_row *row = v;
	unsigned int i;

	if (v == SEQ_START_TOKEN) {
		show_header(m, m->private);
		return 0;
	}
	/* seq_put_decimal_ull(): 10,000 rows of 24 numbers, without printf. */
	seq_put_decimal_ull(m, "", row->tid);
	seq_put_decimal_ull(m, " ", row->tgid);
	seq_putc(m, ' ');
	show_comm(m, row->comm);
	seq_puts(m, row->exited ? " exited" : " alive");
	for (i = 0; i < ARRAY_SIZE(columns); i++) {
		if (need_met(columns[i].need))
			seq_put_decimal_ull(m, " ",
					    *(const u64 *)((const char *)&row->c + columns[i].offset));
		else
			seq_puts(m, " -");
	}
	seq_put_decimal_ull(m, " ", row->root);
	seq_put_decimal_ull(m, " ", row->start_ns);
	show_life(m, row);
	seq_putc(m, '\n');
	return 0;
}

static const struct seq_operations allocstat_seq_ops = {
	.start	= as_start,
	.next	= as_next,
	.stop	= as_stop,
	.show	= as_show,
};

/*
 * Who may open it: the rows name every task on the machine, with what it
 * waited for and when, so reading needs CAP_PERFMON or CAP_SYS_ADMIN, and
 * writing CAP_SYS_ADMIN, in the initial user namespace.  The file's mode
 * (0600, root) is not enough: root of a container without a user namespace,
 * or root of a user namespace whose uid 0 maps to the host's, passes it.
 * Writes check CAP_SYS_ADMIN again at write time (allocstat_write()).
 */
static int allocstat_open(struct inode *inode, struct file *file)
{
	struct snapshot *snap = NULL;
	unsigned int max, i;
	int ret;

	if ((file->f_mode & FMODE_WRITE) && !capable(CAP_SYS_ADMIN))
		return -EPERM;
	if ((file->f_mode & FMODE_READ) && !perfmon_capable())
		return -EPERM;

	/* Only a reader gets a snapshot; its memory is charged to the reader. */
	if (file->f_mode & FMODE_READ) {
		max = allocstat_nr_rows();
		snap = kvmalloc(struct_size(snap, rows, max), GFP_KERNEL_ACCOUNT);
		if (!snap)
			return -ENOMEM;
		ret = allocstat_snapshot(snap->rows, max);
		if (ret < 0)
			goto out_free;
		snap->nr = ret;
		allocstat_track_show(snap->track, sizeof(snap->track));
		snap->dropped = allocstat_nr_dropped();
		snap->recycled = allocstat_nr_recycled();
		snap->missed = atomic_long_read(&allocstat_missed);
		for (i = 0; i < ALLOCSTAT_NR_HOOKS; i++)
			if (allocstat_hook_on(i) && allocstat_provided[i].missed)
				snap->missed += allocstat_provided[i].missed();
	}

	ret = seq_open(file, &allocstat_seq_ops);
	if (ret)
		goto out_free;
	((struct seq_file *)file->private_data)->private = snap;
	return 0;

out_free:
	kvfree(snap);
	return ret;
}

static int allocstat_release(struct inode *inode, struct file *file)
{
	kvfree(((struct seq_file *)file->private_data)->private);
	return seq_release(inode, file);
}

/* A tgid: digits only (kstrtoint() alone would also take "+7" and "7\n"). */
static int parse_tgid(const char *s, int *tgid)
{
	if (!*s || strspn(s, "0123456789") != strlen(s))
		return -EINVAL;
	if (kstrtoint(s, 10, tgid) || *tgid <= 0 || *tgid > PID_MAX_LIMIT)
		return -EINVAL;
	return 0;
}

/*
 * "reset", "track all", "track none", "track <tgid>" or "untrack <tgid>",
 * one per write; anything else is -EINVAL.
 */
static int run_command(char *cmd)
{
	int tgid;

	if (!strcmp(cmd, "reset")) {
		allocstat_table_reset();
		return 0;
	}
	if (!strcmp(cmd, "track all")) {
		allocstat_track_all();
		return 0;
	}
	if (!strcmp(cmd, "track none")) {
		allocstat_track_none();
		return 0;
	}
	if (!strncmp(cmd, "track ", 6))
		return parse_tgid(cmd + 6, &tgid) ?: allocstat_track(tgid);
	if (!strncmp(cmd, "untrack ", 8))
		return parse_tgid(cmd + 8, &tgid) ?: allocstat_untrack(tgid);
	return -EINVAL;
}

static ssize_t allocstat_write(struct file *file, const char __user *ubuf,
			       size_t count, loff_t *ppos)
{
	char cmd[CMD_MAX + 1];
	size_t len = count;
	int ret;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (count == 0 || count > CMD_MAX)
		return -EINVAL;
	if (copy_from_user(cmd, ubuf, count))
		return -EFAULT;
	cmd[len] = '\0';
	if (cmd[len - 1] == '\n')
		cmd[--len] = '\0';
	if (strlen(cmd) != len)
		return -EINVAL;		/* embedded NUL */
	ret = run_command(cmd);
	return ret ? ret : count;
}

static const struct proc_ops allocstat_proc_ops = {
	.proc_open	= allocstat_open,
	.proc_read_iter	= seq_read_iter,
	.proc_lseek	= seq_lseek,
	.proc_release	= allocstat_release,
	.proc_write	= allocstat_write,
};

int allocstat_proc_init(void)
{
	if (!proc_create(PROC_NAME, 0600, NULL, &allocstat_proc_ops))
		return -ENOMEM;
	return 0;
}

void allocstat_proc_exit(void)
{
	remove_proc_entry(PROC_NAME, NULL);
}
