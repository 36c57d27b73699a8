// SPDX-License-Identifier: GPL-2.0
/*
 * Per-task slots.
 *
 * All memory is allocated at load: max_tasks slots, a hash table of twice as
 * many buckets, and a set that remembers refused tasks.  Nothing is allocated
 * in probe context.
 *
 * Lifecycle of a slot.  A task's first event takes a never-used slot or,
 * when none is left, the oldest exited one (the FIFO of exited rows), and
 * links it into the hash chain of its task_struct.  When the task exits, the
 * exit hook unlinks it from the chain and appends it to the FIFO; the row
 * stays readable, marked exited, until a later task reuses the slot or a
 * reset clears the table.  Only live rows are in the chains, so the length
 * of a chain, and the cost of every probe's lookup, depends on the live tasks
 * with rows, never on how many tasks have existed since load.  A task is
 * refused a row (dropped) only when every slot belongs to a live task.
 * Without the exit hook no row is ever known to be exited: slots are not
 * reused, and the table fills as it did before recycling existed.
 *
 * Locking.  Lookups (every probe) take no lock: they walk a chain with
 * READ_ONCE.  Everything that changes a chain or the FIFO (creating a row,
 * retiring an exited one) takes table.lock, a raw spinlock, once per task
 * lifetime each; a task that gets no row (untracked, refused while the
 * table is full, exiting without a row) takes it at most once.  It is taken
 * only in task context or in an int3 kprobe that hit task context
 * (allocstat_ctx_ok()); an interrupt or NMI never takes it.  The code under
 * it calls no probed function, so an int3 cannot interrupt a holder on the
 * same CPU and spin on it; still, in NMI context (the int3) it is only tried
 * (raw_spin_trylock never deadlocks, and lockdep accepts a trylock in NMI),
 * and a failed try drops that one event into missed.
 *
 * A lockless walker can be on a slot while it is unlinked and reused for a
 * task of another chain.  It then walks the rest of the wrong chain and finds
 * nothing (a slot matches only its own task's (task_struct, start_time) key,
 * and keys are cleared before a slot is reused), or loops at most
 * LOOKUP_MAX_STEPS steps.  Such a miss is detected (table.reuses changed,
 * see task_lookup()), and creation walks the chain again under the lock
 * before it takes a slot, so a task never gets two rows.
 *
 * A probe never writes into a slot that became another task's.  Probes use
 * the slot they looked up within one preempt-disabled handler, and the slot
 * of a live task is never reused; a kretprobe that keeps a slot from entry to
 * return checks allocstat_task_owns() first (reset may have given the slot
 * away meanwhile).
 *
 * A reset pauses the probes, waits for every probe that may still run (see
 * pause_probes()), clears the table and resumes.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/hash.h>
#include <linux/log2.h>
#include <linux/mutex.h>
#include <linux/preempt.h>
#include <linux/rcupdate.h>
#include <linux/sched/cputime.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/tracepoint.h>
#include <linux/vmalloc.h>

#include "allocstat.h"
#include "compat.h"

#define DROPPED_SET_MIN		1024	/* remembers which tasks were refused */
#define DROPPED_PROBES		16
#define LOOKUP_MAX_STEPS	64	/* then the locked walk decides */
#define SNAPSHOT_TRIES		4	/* copies of a row being reinitialized */

/* Read by every probe, written at load, reset and track changes only. */
static struct allocstat_task *slots __read_mostly;
static struct allocstat_task **buckets __read_mostly;
static unsigned long *dropped_set __read_mostly;
static unsigned int dropped_bits __read_mostly;
static unsigned int hash_bits __read_mostly;
static bool paused __read_mostly;
static unsigned int epoch __read_mostly;

/*
 * The track filter, changed under ctl_mutex: nr_track is TRACK_ALL (every
 * task), or the number of tgids in track_tgids (0: no task).  A row is
 * tracked while its root is in the set.  The root of a row is its own tgid,
 * except for a row made at fork for the child of a tracked task
 * (probe_process_fork()), which takes its parent's root: so `track <tgid>`
 * follows the processes and threads a tracked task forks, recursively,
 * decided once when the row is made.  Rows made while every task is tracked
 * have their own tgid as root.
 */
#define TRACK_ALL	UINT_MAX
static pid_t track_tgids[ALLOCSTAT_MAX_TRACK] __read_mostly;
static unsigned int nr_track __read_mostly = TRACK_ALL;
static unsigned int filter_gen __read_mostly;

/*
 * Written when a row is created or exits, or a task is refused: on a cache
 * line of their own, away from the read-mostly variables above.
 */
static struct {
	raw_spinlock_t lock;
	unsigned int nr_used;		/* slots ever taken since load or reset */
	struct list_head exited;	/* exited rows, oldest first */
	u64 seen;			/* rows created, for their order */
	unsigned long recycled;		/* rows reused since load or reset */
	unsigned long reuses;		/* bumped before a reused slot is relinked */
	bool full;			/* every row is live: refuse without the lock */
	atomic_long_t dropped;
} table ____cacheline_aligned_in_smp = {
	.lock		= __RAW_SPIN_LOCK_UNLOCKED(table.lock),
	.exited		= LIST_HEAD_INIT(table.exited),
	.dropped	= ATOMIC_LONG_INIT(0),
};

static DEFINE_MUTEX(ctl_mutex);

static size_t dropped_set_size(void)
{
	return (size_t)1 << dropped_bits;
}

size_t allocstat_table_bytes(void)
{
	return (size_t)allocstat_max_tasks * sizeof(*slots) +
	       (sizeof(*buckets) << hash_bits) +
	       dropped_set_size() * sizeof(*dropped_set);
}

int allocstat_table_init(void)
{
	hash_bits = ilog2(roundup_pow_of_two(allocstat_max_tasks)) + 1;
	dropped_bits = ilog2(roundup_pow_of_two(max_t(unsigned int, allocstat_max_tasks,
						      DROPPED_SET_MIN)));
	slots = vzalloc(array_size(allocstat_max_tasks, sizeof(*slots)));
	if (!slots)
		goto out_nomem;
	buckets = vzalloc(sizeof(*buckets) << hash_bits);
	if (!buckets)
		goto out_free_slots;
	dropped_set = vzalloc(array_size(dropped_set_size(), sizeof(*dropped_set)));
	if (!dropped_set)
		goto out_free_buckets;
	return 0;

out_free_buckets:
	vfree(buckets);
out_free_slots:
	vfree(slots);
out_nomem:
	return -ENOMEM;
}

void allocstat_table_exit(void)
{
	vfree(dropped_set);
	vfree(buckets);
	vfree(slots);
}

/*
 * Writers of the filter (under ctl_mutex) make filter_gen odd while they
 * change it, and even again after, as a seqcount: track_match() reads the
 * set again when it changed meanwhile, so it never sees a mix of two
 * changes (an entry moved by untrack and overwritten by the next track).
 * Every row also decides again at its next event once filter_gen moved.
 */
static void filter_begin(void)
{
	WRITE_ONCE(filter_gen, filter_gen + 1);
	smp_wmb();	/* odd before the set changes: pairs with track_match() */
}

static void filter_end(void)
{
	smp_wmb();	/* the set before even: pairs with track_match() */
	WRITE_ONCE(filter_gen, filter_gen + 1);
}

/*
 * Is a row of thread group @tgid whose root is @root tracked?  When the
 * root or the tgid is listed (a listed process is tracked even when it was
 * forked by another one that is unlisted later).  Lockless; a reader that
 * keeps meeting changes gives up after a few tries with the last set it
 * read, which its row corrects at its next event.
 */
static bool track_match(pid_t root, pid_t tgid)
{
	unsigned int i, n, gen, tries = 4;
	bool match;
	pid_t p;

	do {
		/* pairs with filter_end() */
		gen = smp_load_acquire(&filter_gen);
		n = READ_ONCE(nr_track);
		match = n == TRACK_ALL;
		for (i = 0; !match && i < min_t(unsigned int, n, ALLOCSTAT_MAX_TRACK); i++) {
			p = READ_ONCE(track_tgids[i]);
			match = p == root || p == tgid;
		}
		/* the set before filter_gen again: pairs with filter_begin() */
		smp_rmb();
	} while (((gen & 1) || READ_ONCE(filter_gen) != gen) && --tries);
	return match;
}

/*
 * The set of refused tasks: open addressing on a key of the task, cmpxchg
 * into an empty entry, never removed before a reset.  It makes a refused
 * task's later events return at once instead of taking the table lock, and
 * keeps a refused task refused (no row with a partial count appears for it
 * when a slot frees up later).  When the window of DROPPED_PROBES entries
 * is full the task is not remembered: its next event tries again and, if
 * still refused, counts again (dropped is then a count of refusals).
 */
static unsigned long dropped_key(const struct task_struct *t)
{
	return ((unsigned long)t ^ (unsigned long)t->start_time) | 1;
}

static bool dropped_known(const struct task_struct *t)
{
	unsigned long key = dropped_key(t);
	unsigned int i, h = hash_long(key, dropped_bits);

	for (i = 0; i < DROPPED_PROBES; i++) {
		unsigned long e = READ_ONCE(dropped_set[(h + i) & (dropped_set_size() - 1)]);

		if (e == key)
			return true;
		if (!e)
			return false;
	}
	return false;
}

/*
 * Count a refused task, once as far as the set remembers it.  Lock-free
 * (cmpxchg into an empty entry): it runs with or without table.lock.
 */
static void note_dropped(const struct task_struct *t)
{
	unsigned long key = dropped_key(t);
	unsigned int i, h = hash_long(key, dropped_bits);

	for (i = 0; i < DROPPED_PROBES; i++) {
		unsigned long *e = &dropped_set[(h + i) & (dropped_set_size() - 1)];
		unsigned long old = READ_ONCE(*e);

		if (old == key)
			return;
		if (!old && cmpxchg(e, 0UL, key) == 0UL)
			break;
		if (READ_ONCE(*e) == key)
			return;
	}
	atomic_long_inc(&table.dropped);
}

static bool slot_is(const struct allocstat_task *s, const struct task_struct *t)
{
	return READ_ONCE(s->key) == t && READ_ONCE(s->start_time) == t->start_time;
}

static struct allocstat_task **bucket_of(const struct task_struct *t)
{
	return &buckets[hash_ptr(t, hash_bits)];
}

/*
 * Lockless: the slot of @t in its chain, or NULL.  A hit is always right.
 * A miss is right when *@sure: the walk reached the end of the chain and
 * no slot was reused meanwhile (table.reuses unchanged; slot_init() bumps
 * it before it relinks a slot), since reuse is the only thing that can lead
 * a walker astray (an unlink leaves the unlinked slot's next in place, and
 * a row pushed meanwhile is another task's: only a task creates its own,
 * or its parent at fork, before the child runs and before anything can
 * look it up).
 */
static struct allocstat_task *task_lookup(const struct task_struct *t, bool *sure)
{
	/* before the walk: pairs with slot_take()'s smp_wmb() */
	unsigned long reuses = smp_load_acquire(&table.reuses);
	struct allocstat_task *s = READ_ONCE(*bucket_of(t));
	unsigned int n;

	for (n = 0; s && n < LOOKUP_MAX_STEPS; n++, s = READ_ONCE(s->next))
		if (slot_is(s, t))
			return s;
	smp_rmb();	/* the walk before the second read: pairs with slot_take() */
	*sure = !s && READ_ONCE(table.reuses) == reuses;
	return NULL;
}

/* Under table.lock: a never-used slot, else the oldest exited row, else NULL. */
static struct allocstat_task *slot_take(void)
{
	struct allocstat_task *s;

	if (table.nr_used < allocstat_max_tasks)
		return &slots[table.nr_used++];
	s = list_first_entry_or_null(&table.exited, struct allocstat_task, exited);
	if (!s)
		return NULL;
	list_del_init(&s->exited);
	WRITE_ONCE(table.recycled, table.recycled + 1);
	WRITE_ONCE(table.reuses, table.reuses + 1);
	/* the count before slot_init() rewrites key and next: pairs with task_lookup() */
	smp_wmb();
	return s;
}

/*
 * Under table.lock: make @s the row of @t, every field cleared (a reused
 * slot keeps nothing of its last task: counters, holds, huge_clears).
 * Readers of /proc see seq odd meanwhile and copy the row again; lockless
 * walkers see key NULL (or @t once the row is whole), never a mix of the
 * two tasks' keys with @t's task_struct.
 */
static void slot_init(struct allocstat_task *s, struct task_struct *t, unsigned int gen,
		      pid_t root)
{
	unsigned int seq = s->seq + 1;

	WRITE_ONCE(s->seq, seq);
	smp_wmb();		/* seq odd before anything changes: pairs with row_read() */
	WRITE_ONCE(s->key, NULL);
	smp_wmb();		/* no walker matches the old key with the new start_time */
	/* the row and everything after it: the task's counters and state in flight */
	memset((char *)s + offsetof(struct allocstat_task, row), 0,
	       sizeof(*s) - offsetof(struct allocstat_task, row));
	s->huge_clears = 0;	/* before the row, beside the other identity fields */
	WRITE_ONCE(s->start_time, t->start_time);
	WRITE_ONCE(s->seen, ++table.seen);
	s->row.tid = task_pid_nr(t);
	s->row.tgid = task_tgid_nr(t);
	s->row.root = root;
	s->row.start_ns = t->start_time;
	memcpy(s->row.comm, t->comm, sizeof(s->row.comm));
	s->row.comm[sizeof(s->row.comm) - 1] = '\0';
	s->filter_gen = gen;
	s->tracked = true;
	smp_wmb();		/* the row is whole before the key matches */
	WRITE_ONCE(s->key, t);
	/* seq even again once the row is whole: pairs with row_read() */
	smp_store_release(&s->seq, seq + 1);
	/* Publish for /proc readers, which walk slots[] rather than chains. */
	smp_store_release(&s->valid, true);
}

/*
 * Give @t a row with @root (see track_match()), after a lockless miss
 * (@sure: see task_lookup()).  NULL when @t gets none.  @t is current, or a
 * child that current has just forked and that has not run yet.
 */
static struct allocstat_task *task_create(struct task_struct *t, unsigned int gen, bool sure,
					  pid_t root)
{
	struct allocstat_task **b = bucket_of(t), *s;

	/* An exiting task that has no row yet is not worth one. */
	if (t->flags & PF_EXITING)
		return NULL;
	if (!track_match(root, t->tgid) || dropped_known(t))
		return NULL;
	/* Every row is live: refuse without the lock (if @t surely has none). */
	if (sure && READ_ONCE(table.full)) {
		note_dropped(t);
		return NULL;
	}
	/* NMI context (an int3 kprobe): only try, see the top of this file */
	if (in_nmi()) {
		if (!raw_spin_trylock(&table.lock)) {
			atomic_long_inc(&allocstat_missed);
			return NULL;
		}
	} else {
		raw_spin_lock(&table.lock);
	}
	s = NULL;
	if (READ_ONCE(paused))
		goto out_unlock;	/* see pause_probes() */
	/* The lockless miss may have been a walker led astray: look again. */
	for (s = *b; s; s = s->next)
		if (slot_is(s, t))
			goto out_unlock;
	s = slot_take();
	if (!s) {
		WRITE_ONCE(table.full, true);
		note_dropped(t);
		goto out_unlock;
	}
	slot_init(s, t, gen, root);
	WRITE_ONCE(s->next, *b);
	/* the row is written before a walker can reach it */
	smp_store_release(b, s);
out_unlock:
	raw_spin_unlock(&table.lock);
	return s;
}

/*
 * The root of a new row of @t, current: its tgid, except for the kernel's
 * workers of a user process (io_uring's io-wq and sqpoll threads, vhost
 * workers), which copy_process() makes without sched_process_fork: they
 * take the root of their process's leader, if it has a row, so that they
 * follow a tracked tree like the process's other threads.  The leader's
 * slot is read locklessly: its root is taken only if the slot still belongs
 * to the leader afterwards.
 */
static pid_t worker_root(struct task_struct *t)
{
	struct task_struct *leader = t->group_leader;
	struct allocstat_task *l;
	pid_t root;
	bool sure;

	if (likely(!(t->flags & ALLOCSTAT_PF_WORKERS)) || leader == t)
		return t->tgid;
	l = task_lookup(leader, &sure);
	if (!l)
		return t->tgid;
	root = READ_ONCE(l->row.root);
	/* the root before the key again: pairs with slot_init() */
	smp_rmb();
	return slot_is(l, leader) ? root : t->tgid;
}

/*
 * The slot of current, created on first use.  NULL when the task is not
 * tracked, the table is full of live tasks, a reset is in progress, or the
 * probe does not run in a context that belongs to current (@ctx, see
 * allocstat_ctx_ok()).  *@epoch is what allocstat_task_owns() needs later.
 * Probe context only.
 */
struct allocstat_task *allocstat_task_current(enum allocstat_ctx ctx, unsigned int *epochp)
{
	struct task_struct *t = current;
	struct allocstat_task *s;
	unsigned int gen;
	bool tracked, sure;

	if (unlikely(!allocstat_ctx_ok(ctx)))
		return NULL;
	/*
	 * The epoch before paused: pause_probes() sets paused before it bumps
	 * the epoch, so a probe that reads the new epoch also sees paused, and
	 * one that read the old epoch sees it changed at return.
	 */
	*epochp = READ_ONCE(epoch);
	/* the epoch before paused: pairs with pause_probes()'s smp_wmb() */
	smp_rmb();
	/* acquire: a probe that sees !paused sees the table reset cleared */
	if (unlikely(smp_load_acquire(&paused)))
		return NULL;
	gen = READ_ONCE(filter_gen);
	/* the generation before the set: pairs with filter_end() */
	smp_rmb();
	s = task_lookup(t, &sure);
	if (unlikely(!s)) {
		s = task_create(t, gen, sure, worker_root(t));
		if (!s)
			return NULL;
	}
	if (unlikely(s->filter_gen != gen)) {
		tracked = track_match(s->row.root, s->row.tgid);
		if (tracked != s->tracked) {
			/* waits and holds opened before the flip never close */
			s->waiting = false;
			s->nr_holds = 0;
		}
		s->tracked = tracked;
		s->filter_gen = gen;
	}
	return s->tracked ? s : NULL;
}

/*
 * Is @s, taken by allocstat_task_current() at @epoch, still the row of
 * current?  For return probes: between entry and return the task can sleep,
 * and a reset may have cleared the slot or given it to another task.
 */
bool allocstat_task_owns(const struct allocstat_task *s, unsigned int epochp)
{
	return epochp == READ_ONCE(epoch) && slot_is(s, current);
}

/*
 * Called by every mutator of the table, with ctl_mutex held.  Afterwards no
 * probe runs on the table until resume_probes().
 *
 * Every probe runs with preemption disabled on the kernels tested (kprobe
 * and kretprobe handlers, and tracepoint probes under the tracepoint's
 * preempt_disable, PREEMPT_RT included), so synchronize_rcu() waits for all
 * of them; tracepoint_synchronize_unregister() also waits for tracepoint
 * probes run under SRCU, which later kernels do for preemptible
 * tracepoints (proposals also replace its synchronize_rcu() there, hence
 * ours, for the kprobe handlers).  Taking table.lock once more waits for a
 * holder that checked paused before it was set; holders re-check it under
 * the lock.
 */
static void pause_probes(void)
{
	WRITE_ONCE(paused, true);
	smp_wmb();	/* pairs with allocstat_task_current() */
	/* Return probes holding a slot of the old epoch drop their event. */
	WRITE_ONCE(epoch, epoch + 1);
	tracepoint_synchronize_unregister();
	synchronize_rcu();
	raw_spin_lock(&table.lock);
	raw_spin_unlock(&table.lock);
}

static void resume_probes(void)
{
	/* probes that see !paused see the cleared table */
	smp_store_release(&paused, false);
}

void allocstat_table_reset(void)
{
	mutex_lock(&ctl_mutex);
	pause_probes();
	/*
	 * No probe runs now, and none takes table.lock until resume (the exit
	 * hook also returns while paused): clearing needs no lock, and a
	 * table of 65536 rows is not cleared with preemption disabled.
	 */
	memset(slots, 0, array_size(table.nr_used, sizeof(*slots)));
	memset(buckets, 0, sizeof(*buckets) << hash_bits);
	memset(dropped_set, 0, dropped_set_size() * sizeof(*dropped_set));
	table.nr_used = 0;
	INIT_LIST_HEAD(&table.exited);
	table.seen = 0;
	WRITE_ONCE(table.recycled, 0);
	WRITE_ONCE(table.full, false);
	atomic_long_set(&table.dropped, 0);
	resume_probes();
	mutex_unlock(&ctl_mutex);
}

/* Add @tgid to the set (a set of one when every task was tracked). */
int allocstat_track(pid_t tgid)
{
	unsigned int i, n;
	int ret = 0;

	mutex_lock(&ctl_mutex);
	n = nr_track == TRACK_ALL ? 0 : nr_track;
	for (i = 0; i < n; i++)
		if (track_tgids[i] == tgid)
			goto out;
	if (n == ALLOCSTAT_MAX_TRACK) {
		ret = -EINVAL;
		goto out;
	}
	filter_begin();
	WRITE_ONCE(track_tgids[n], tgid);
	WRITE_ONCE(nr_track, n + 1);
	filter_end();
out:
	mutex_unlock(&ctl_mutex);
	return ret;
}

/*
 * Remove @tgid from the set: -EINVAL if it is not there.  The last entry
 * moves into its place.  An empty set tracks no task.
 */
int allocstat_untrack(pid_t tgid)
{
	unsigned int i, last;
	int ret = -EINVAL;

	mutex_lock(&ctl_mutex);
	if (nr_track == TRACK_ALL)
		goto out;
	for (i = 0; i < nr_track; i++)
		if (track_tgids[i] == tgid)
			break;
	if (i == nr_track)
		goto out;
	last = nr_track - 1;
	filter_begin();
	WRITE_ONCE(track_tgids[i], track_tgids[last]);
	WRITE_ONCE(nr_track, last);
	filter_end();
	ret = 0;
out:
	mutex_unlock(&ctl_mutex);
	return ret;
}

static void track_set(unsigned int n)
{
	mutex_lock(&ctl_mutex);
	filter_begin();
	WRITE_ONCE(nr_track, n);
	filter_end();
	mutex_unlock(&ctl_mutex);
}

void allocstat_track_all(void)
{
	track_set(TRACK_ALL);
}

void allocstat_track_none(void)
{
	track_set(0);
}

/* The filter as the header's track= shows it: all, none or 12,345,... */
void allocstat_track_show(char *buf, size_t len)
{
	unsigned int i;
	size_t off = 0;

	mutex_lock(&ctl_mutex);
	if (nr_track == TRACK_ALL)
		strscpy(buf, "all", len);
	else if (!nr_track)
		strscpy(buf, "none", len);
	else
		for (i = 0, *buf = '\0'; i < nr_track && off < len; i++)
			off += scnprintf(buf + off, len - off, "%s%d", i ? "," : "",
					 track_tgids[i]);
	mutex_unlock(&ctl_mutex);
}

unsigned int allocstat_nr_rows(void)
{
	return min_t(unsigned int, READ_ONCE(table.nr_used), allocstat_max_tasks);
}

long allocstat_nr_dropped(void)
{
	return atomic_long_read(&table.dropped);
}

unsigned long allocstat_nr_recycled(void)
{
	return READ_ONCE(table.recycled);
}

/*
 * Is the task (@key, @start) of this row still running?  Refreshes comm for
 * live tasks (pthread_setname_np and exec change it after the row was made).
 */
static bool row_alive(const struct task_struct *key, u64 start, struct allocstat_row *row)
{
	struct task_struct *t;
	bool alive = false;

	rcu_read_lock();
	t = pid_task(find_pid_ns(row->tid, &init_pid_ns), PIDTYPE_PID);
	if (t && t == key && t->start_time == start && !(t->flags & PF_EXITING)) {
		alive = true;
		get_task_comm(row->comm, t);
	}
	rcu_read_unlock();
	return alive;
}

/*
 * Copy a row that its task may be updating.  Each counter is read once and
 * whole (READ_ONCE, never torn).  The probes write the larger of each pair
 * first (fault_ns before fault_max_ns and before its runqueue and sleep
 * parts, faults before vma_faults, zero_pages before zero_alloc_pages,
 * wait_ns and hold_ns before their parts and maxima), and x86 keeps stores
 * in order; reading the smaller ones first, then the rest, keeps
 * max <= sum, runq + sleep <= the total, vma_faults <= faults and
 * zero_alloc_pages <= zero_pages in every copy.  A plain memcpy() could read
 * zero_pages before an update and zero_alloc_pages after it (seen by
 * selftests/src/as-reader once in ~3,000 reads on the debug kernel).
 */
static void row_copy(struct allocstat_row *dst, const struct allocstat_row *src)
{
	const struct allocstat_counters *c = &src->c;
	struct allocstat_counters *d = &dst->c;
	int w;

	d->fault_max_ns = READ_ONCE(c->fault_max_ns);
	d->fault_runq_ns = READ_ONCE(c->fault_runq_ns);
	d->fault_sleep_ns = READ_ONCE(c->fault_sleep_ns);
	d->vma_faults = READ_ONCE(c->vma_faults);
	d->zero_alloc_pages = READ_ONCE(c->zero_alloc_pages);
	d->zero_runq_ns = READ_ONCE(c->zero_runq_ns);
	d->zero_sleep_ns = READ_ONCE(c->zero_sleep_ns);
	for (w = 0; w < 2; w++) {
		d->lock[w].wait_max_ns = READ_ONCE(c->lock[w].wait_max_ns);
		d->lock[w].wait_runq_ns = READ_ONCE(c->lock[w].wait_runq_ns);
		d->lock[w].wait_sleep_ns = READ_ONCE(c->lock[w].wait_sleep_ns);
		d->lock[w].hold_max_ns = READ_ONCE(c->lock[w].hold_max_ns);
	}
	smp_rmb();	/* the smaller of each pair before the larger */
	d->faults = READ_ONCE(c->faults);
	d->fault_ns = READ_ONCE(c->fault_ns);
	d->vma_retry = READ_ONCE(c->vma_retry);
	d->zero_pages = READ_ONCE(c->zero_pages);
	d->zero_ns = READ_ONCE(c->zero_ns);
	d->zero_huge = READ_ONCE(c->zero_huge);
	for (w = 0; w < 2; w++) {
		d->lock[w].count = READ_ONCE(c->lock[w].count);
		d->lock[w].wait_ns = READ_ONCE(c->lock[w].wait_ns);
		d->lock[w].hold_ns = READ_ONCE(c->lock[w].hold_ns);
	}
	d->trylock_fail = READ_ONCE(c->trylock_fail);
	dst->tid = src->tid;
	dst->tgid = src->tgid;
	dst->root = src->root;
	dst->start_ns = src->start_ns;
	memcpy(dst->comm, src->comm, sizeof(dst->comm));
	dst->exited = READ_ONCE(src->exited);
	/* ended before life: pairs with probe_process_exit()'s store-release */
	dst->ended = smp_load_acquire(&src->ended);
	if (dst->ended) {
		dst->life.end_ns = READ_ONCE(src->life.end_ns);
		dst->life.cpu_ns = READ_ONCE(src->life.cpu_ns);
		dst->life.utime_ns = READ_ONCE(src->life.utime_ns);
		dst->life.stime_ns = READ_ONCE(src->life.stime_ns);
		dst->life.runq_ns = READ_ONCE(src->life.runq_ns);
		dst->life.sleep_ns = READ_ONCE(src->life.sleep_ns);
	}
}

/*
 * Copy the row of @s into @row if it is still the row first seen as number
 * @seen.  A slot being reused (seq odd, or changed during the copy) is
 * copied again, SNAPSHOT_TRIES times at most; a slot that became another
 * task's row since the order was taken is left out, as if the read had
 * happened before that task's first event.
 */
static bool row_read(const struct allocstat_task *s, u64 seen, struct allocstat_row *row)
{
	const struct task_struct *key;
	unsigned int try, seq;
	u64 start;

	for (try = 0; try < SNAPSHOT_TRIES; try++) {
		/* pairs with slot_init() */
		seq = smp_load_acquire(&s->seq);
		if (seq & 1) {
			cpu_relax();
			continue;
		}
		if (READ_ONCE(s->seen) != seen)
			return false;
		key = READ_ONCE(s->key);
		start = READ_ONCE(s->start_time);
		row_copy(row, &s->row);
		/* the copy before the second read of seq: pairs with slot_init() */
		smp_rmb();
		if (READ_ONCE(s->seq) != seq)
			continue;
		if (!row->exited && !row_alive(key, start, row))
			row->exited = true;
		return true;
	}
	return false;
}

struct row_order {
	u64 seen;
	unsigned int idx;
};

static int row_order_cmp(const void *a, const void *b)
{
	const struct row_order *x = a, *y = b;

	return x->seen < y->seen ? -1 : x->seen > y->seen;
}

/*
 * Copy up to @max published rows into @dst (process context): the number of
 * rows, or -ENOMEM.  Rows are in the order in which their tasks were first
 * seen (a reused slot moves to the end), whatever slots they occupy.
 */
int allocstat_snapshot(struct allocstat_row *dst, unsigned int max)
{
	unsigned int i, n = 0, nr = 0, used;
	struct row_order *order;

	mutex_lock(&ctl_mutex);
	used = allocstat_nr_rows();
	order = kvmalloc_array(max_t(unsigned int, used, 1), sizeof(*order), GFP_KERNEL_ACCOUNT);
	if (!order) {
		mutex_unlock(&ctl_mutex);
		return -ENOMEM;
	}
	for (i = 0; i < used; i++) {
		struct allocstat_task *s = &slots[i];

		/* pairs with slot_init(): the row is written before valid */
		if (!smp_load_acquire(&s->valid))
			continue;
		order[nr].seen = READ_ONCE(s->seen);
		order[nr].idx = i;
		nr++;
	}
	sort(order, nr, sizeof(*order), row_order_cmp, NULL);
	for (i = 0; i < nr && n < max; i++)
		if (row_read(&slots[order[i].idx], order[i].seen, &dst[n]))
			n++;
	mutex_unlock(&ctl_mutex);
	kvfree(order);
	return n;
}

/*
 * The life of current, which is exiting (after exit_mm(): its memory is
 * torn down, the rest of do_exit() is short).  The user/system split is
 * getrusage()'s own (task_cputime_adjusted(), which takes the task's
 * prev_cputime raw spinlock: task context, not under table.lock); it covers
 * sum_exec_runtime up to the scheduler's last update, and the slice since,
 * read as allocstat_stamp() reads it, is added to the system time: the task
 * has been in the kernel since its exit began.
 */
static void task_life(struct task_struct *p, struct allocstat_life *l)
{
	u64 ut, st, now;

	task_cputime_adjusted(p, &ut, &st);
	/* the running slice is in local_clock() only without IRQ/steal time accounting */
	l->cpu_ns = ALLOCSTAT_CLOCK_TASK_IS_CLOCK ? max(allocstat_oncpu(p, &now), ut + st) : ut + st;
	l->utime_ns = ut;
	l->stime_ns = l->cpu_ns - ut;
	l->runq_ns = allocstat_run_delay(p);
	l->sleep_ns = allocstat_sleep_time(p);
	l->end_ns = ktime_get_ns();
}

/*
 * Exit hook: marks the row exited and keeps the last comm and the task's
 * life (task_life()), unlinks it from
 * its chain (so that a later task reusing the tid or the task_struct gets a
 * row of its own, and no lookup walks past it again) and queues it for
 * reuse.  sched_process_exit is not exported: find it by name.  It fires in
 * do_exit() after exit_mm(); a probe that fires later in the exit path finds
 * no row and creates none (PF_EXITING).  It always runs in task context,
 * where table.lock may spin.  It takes the lock only for a task with a row,
 * or when the lockless walk cannot be sure the task has none (a slot was
 * reused during the walk): a wrong miss would leave the row linked for good.
 */
static struct tracepoint *exit_tp, *fork_tp;

static void probe_process_exit(ALLOCSTAT_EXIT_TP_PROTO)
{
	struct allocstat_task **pp, *s;
	struct allocstat_life life;
	bool sure;

	if (p != current || !allocstat_ctx_ok(ALLOCSTAT_CTX_TASK))
		return;
	/* a reset clears the row anyway; see allocstat_table_reset() */
	if (READ_ONCE(paused))
		return;
	/* Most exiting tasks have no row (untracked, refused): no lock for them. */
	if (!task_lookup(p, &sure) && sure)
		return;
	task_life(p, &life);
	raw_spin_lock(&table.lock);
	if (READ_ONCE(paused))
		goto out_unlock;
	for (pp = bucket_of(p); (s = *pp); pp = &s->next)
		if (slot_is(s, p))
			break;
	if (s) {
		/* a walker on s goes on to s->next, which stays until reuse */
		WRITE_ONCE(*pp, s->next);
		/* No task_lock in probe context: a racing rename gives a mixed name. */
		memcpy(s->row.comm, p->comm, sizeof(s->row.comm));
		s->row.comm[sizeof(s->row.comm) - 1] = '\0';
		WRITE_ONCE(s->row.life.end_ns, life.end_ns);
		WRITE_ONCE(s->row.life.cpu_ns, life.cpu_ns);
		WRITE_ONCE(s->row.life.utime_ns, life.utime_ns);
		WRITE_ONCE(s->row.life.stime_ns, life.stime_ns);
		WRITE_ONCE(s->row.life.runq_ns, life.runq_ns);
		WRITE_ONCE(s->row.life.sleep_ns, life.sleep_ns);
		/* life before ended: pairs with row_copy() */
		smp_store_release(&s->row.ended, true);
		WRITE_ONCE(s->row.exited, true);
		list_add_tail(&s->exited, &table.exited);
		WRITE_ONCE(table.full, false);
	}
out_unlock:
	raw_spin_unlock(&table.lock);
}

/*
 * The delayed-dequeue correction of run_delay (see compat.h), on kernels
 * that have delayed dequeue.  sched_waking fires in try_to_wake_up() under
 * p->pi_lock, after p's state matched: p sleeps, or is about to.  A task
 * that sleeps has sched_info.last_queued 0 (it was cleared when it last got
 * a CPU, and a blocking task is not queued for sched_info), except when it
 * was migrated while its dequeue was delayed: then the wait the kernel will
 * add to run_delay when p runs again starts at that migration, not at this
 * wakeup, and the part before now is sleep.  Only a task whose dequeue is
 * still delayed, or that has left the queue since, is corrected: a task
 * preempted after it set a sleep state is still queued, not delayed, and
 * its last_queued (from a migration) is a real wait.  The sleep is recorded
 * in p's slot, which only wakers write (serialized by p->pi_lock) while p
 * sleeps, and which p reads once it runs again.  The common case costs one
 * load (last_queued 0); a task without a row costs a lockless lookup.  Runs
 * in any context a wakeup comes from (hard interrupts included): it takes
 * no lock and writes only p's slot.
 *
 * Not corrected, and counted as runnable: the sleep before a second
 * migration while delayed, and before a dequeue without DEQUEUE_SAVE of a
 * delayed task (wait_task_inactive(), a class change in rt_mutex_setprio()):
 * those add it to run_delay before any hook sees it.
 */
static struct tracepoint *waking_tp;
bool allocstat_split_on __read_mostly;

static void probe_waking(void *data, struct task_struct *p)
{
	u64 queued = allocstat_last_queued(p), now;
	struct allocstat_task *s;
	bool sure;

	if (likely(!queued) || READ_ONCE(paused))
		return;
	if (READ_ONCE(p->on_rq) && !allocstat_sched_delayed(p))
		return;
	s = task_lookup(p, &sure);
	if (!s)
		return;
	now = allocstat_now();
	if (now > queued)
		WRITE_ONCE(s->runq_fix_ns, s->runq_fix_ns + now - queued);
}

static void find_tps(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "sched_process_exit"))
		exit_tp = tp;
	else if (!strcmp(tp->name, "sched_process_fork"))
		fork_tp = tp;
	else if (!strcmp(tp->name, "sched_waking"))
		waking_tp = tp;
}

/*
 * The exit hook.  Without it rows are not recycled (see the top of this
 * file).  sched_process_exit is unexported: found by name; its probe's
 * prototype is (struct task_struct *p) in 6.1 through 7.x.
 */
int allocstat_exit_hook_init(void)
{
	int ret;

	for_each_kernel_tracepoint(find_tps, NULL);
	ret = exit_tp ? tracepoint_probe_register(exit_tp, probe_process_exit, NULL) : -ENOENT;
	if (ret)
		exit_tp = NULL;
	return ret;
}

void allocstat_exit_hook_exit(void)
{
	if (exit_tp)
		tracepoint_probe_unregister(exit_tp, probe_process_exit, NULL);
	exit_tp = NULL;
}

/*
 * Fork hook: the child of a tracked task gets its row now, with the
 * parent's root, so that the filter follows it (see track_match()).
 * sched_process_fork fires in kernel_clone() in the parent's context, after
 * copy_process() has given the child its pids and before
 * wake_up_new_task(): the child has not run, so it has no row yet and
 * nothing else writes its slot.  Task context, preemption disabled by the
 * tracepoint: task_create() may spin on table.lock.  When every task is
 * tracked (or none), there is nothing to follow and the hook returns at
 * once: a fork then costs one load.  A child refused a row (table full of
 * live tasks) is counted in dropped= and stays untracked; it never gets a
 * row of its own root later, since it is remembered as refused.
 */
static void probe_process_fork(ALLOCSTAT_FORK_TP_PROTO)
{
	unsigned int n = READ_ONCE(nr_track), gen, ep;
	struct allocstat_task *s;

	if (n == TRACK_ALL || !n || parent != current)
		return;
	/* before the parent's row: a filter change after it re-decides the child's */
	gen = READ_ONCE(filter_gen);
	/* the generation before the set: pairs with filter_end() */
	smp_rmb();
	s = allocstat_task_current(ALLOCSTAT_CTX_TASK, &ep);
	if (s)
		task_create(child, gen, true, s->row.root);
}

/* The fork hook.  Without it `track` matches tgids only (a notice says so). */
int allocstat_fork_hook_init(void)
{
	int ret;

	if (!fork_tp)
		for_each_kernel_tracepoint(find_tps, NULL);
	ret = fork_tp ? tracepoint_probe_register(fork_tp, probe_process_fork, NULL) : -ENOENT;
	if (ret)
		fork_tp = NULL;
	return ret;
}

void allocstat_fork_hook_exit(void)
{
	if (fork_tp)
		tracepoint_probe_unregister(fork_tp, probe_process_fork, NULL);
	fork_tp = NULL;
}

/*
 * Whether the _runq_ns and _sleep_ns columns are known, and on kernels with
 * delayed dequeue the waking hook they need there (unexported, found by
 * name, prototype (struct task_struct *p)).  Never fails the load: without
 * it the columns print "-", with a notice.
 */
void allocstat_split_init(void)
{
	allocstat_split_on = ALLOCSTAT_HAVE_SCHED_INFO && ALLOCSTAT_CLOCK_TASK_IS_CLOCK;
	if (!allocstat_split_on) {
		pr_notice("no sched_info, or IRQ/steal time accounting: the _runq_ns and _sleep_ns columns show -\n");
		return;
	}
	if (!ALLOCSTAT_HAVE_DELAY_DEQUEUE)
		return;
	if (!waking_tp)
		for_each_kernel_tracepoint(find_tps, NULL);
	if (!waking_tp || tracepoint_probe_register(waking_tp, probe_waking, NULL)) {
		pr_notice("cannot hook sched_waking: the _runq_ns and _sleep_ns columns show -\n");
		waking_tp = NULL;
		allocstat_split_on = false;
	}
}

/* Unregisters; the caller waits for running probes (detach_all()). */
void allocstat_split_exit(void)
{
	if (allocstat_split_on && ALLOCSTAT_HAVE_DELAY_DEQUEUE && waking_tp)
		tracepoint_probe_unregister(waking_tp, probe_waking, NULL);
	waking_tp = NULL;
	allocstat_split_on = false;
}
