// SPDX-License-Identifier: GPL-2.0
/*
 * Per-task slots.
 *
 * All memory is allocated at load: max_tasks slots and a hash table of twice
 * as many buckets.  A probe finds the slot of current by hashing the
 * task_struct pointer and walking a short chain; it never takes a lock and
 * never writes to a shared cache line, except once per task to claim a slot
 * (one atomic on a global counter).  Chains only grow (lockless push); slots
 * of exited tasks stay in their chains, marked exited, until a reset.
 *
 * Only the task itself inserts its own key, and probes in interrupt context
 * are ignored, so one key is never inserted twice concurrently.
 *
 * A reset pauses the probes, waits for every probe that may still run
 * (all of them run with preemption disabled, so synchronize_rcu() suffices),
 * clears the table and resumes.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/hash.h>
#include <linux/log2.h>
#include <linux/mutex.h>
#include <linux/preempt.h>
#include <linux/rcupdate.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/tracepoint.h>
#include <linux/vmalloc.h>

#include "allocstat.h"
#include "compat.h"

#define ALLOCSTAT_MAX_TRACK	64
#define DROPPED_SET_SIZE	1024	/* remembers which tasks were counted as dropped */
#define DROPPED_PROBES		16

static struct allocstat_task *slots;
static struct allocstat_task **buckets;
static unsigned int hash_bits;
static atomic_t nr_used = ATOMIC_INIT(0);
static atomic_long_t nr_dropped = ATOMIC_LONG_INIT(0);
static unsigned long *dropped_set;
static bool paused;
static unsigned int epoch;

/* The track filter: nr_track == 0 means every task. Changed under ctl_mutex. */
static pid_t track_tgids[ALLOCSTAT_MAX_TRACK];
static unsigned int nr_track;
static unsigned int filter_gen;

static DEFINE_MUTEX(ctl_mutex);

size_t allocstat_table_bytes(void)
{
	return (size_t)allocstat_max_tasks * sizeof(*slots) +
	       (sizeof(*buckets) << hash_bits) +
	       DROPPED_SET_SIZE * sizeof(*dropped_set);
}

int allocstat_table_init(void)
{
	hash_bits = ilog2(roundup_pow_of_two(allocstat_max_tasks)) + 1;
	slots = vzalloc(array_size(allocstat_max_tasks, sizeof(*slots)));
	if (!slots)
		goto out_nomem;
	buckets = vzalloc(sizeof(*buckets) << hash_bits);
	if (!buckets)
		goto out_free_slots;
	dropped_set = kcalloc(DROPPED_SET_SIZE, sizeof(*dropped_set), GFP_KERNEL);
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
	kfree(dropped_set);
	vfree(buckets);
	vfree(slots);
}

unsigned int allocstat_epoch(void)
{
	return READ_ONCE(epoch);
}

static bool track_match(pid_t tgid)
{
	/* pairs with allocstat_track(): the first n entries are written */
	unsigned int i, n = smp_load_acquire(&nr_track);

	if (!n)
		return true;
	for (i = 0; i < n; i++)
		if (READ_ONCE(track_tgids[i]) == tgid)
			return true;
	return false;
}

/* Count a task that found the table full, once per task as far as the set remembers. */
static void note_dropped(const struct task_struct *t)
{
	unsigned long key = (unsigned long)t ^ (unsigned long)t->start_time;
	unsigned int i, h = hash_long(key, ilog2(DROPPED_SET_SIZE));

	for (i = 0; i < DROPPED_PROBES; i++) {
		unsigned long *e = &dropped_set[(h + i) % DROPPED_SET_SIZE];
		unsigned long old = READ_ONCE(*e);

		if (old == key)
			return;
		if (!old && cmpxchg(e, 0UL, key) == 0UL)
			break;
		if (READ_ONCE(*e) == key)
			return;
	}
	/* A full window counts again: dropped is then a lower bound on events, not tasks. */
	atomic_long_inc(&nr_dropped);
}

static struct allocstat_task *task_create(struct task_struct *t,
					  struct allocstat_task **b,
					  unsigned int gen)
{
	struct allocstat_task *s, *head;
	int idx;

	/* An exiting task that has no row yet is not worth one. */
	if (t->flags & PF_EXITING)
		return NULL;
	if (!track_match(t->tgid))
		return NULL;
	idx = atomic_fetch_add_unless(&nr_used, 1, allocstat_max_tasks);
	if (idx >= allocstat_max_tasks) {
		note_dropped(t);
		return NULL;
	}
	s = &slots[idx];
	s->key = t;
	s->start_time = t->start_time;
	s->row.tid = task_pid_nr(t);
	s->row.tgid = task_tgid_nr(t);
	memcpy(s->row.comm, t->comm, sizeof(s->row.comm));
	s->row.comm[sizeof(s->row.comm) - 1] = '\0';
	s->filter_gen = gen;
	s->tracked = true;
	do {
		head = READ_ONCE(*b);
		s->next = head;
	} while (cmpxchg_release(b, head, s) != head);
	/* Publish for /proc readers, which walk slots[] rather than chains. */
	smp_store_release(&s->valid, true);
	return s;
}

static struct allocstat_task *task_lookup(struct task_struct *t,
					  struct allocstat_task ***bucket)
{
	struct allocstat_task **b = &buckets[hash_ptr(t, hash_bits)];
	struct allocstat_task *s;

	*bucket = b;
	for (s = READ_ONCE(*b); s; s = READ_ONCE(s->next))
		if (s->key == t && s->start_time == t->start_time &&
		    !READ_ONCE(s->row.exited))
			return s;
	return NULL;
}

/*
 * The slot of current, created on first use.  NULL when the task is not
 * tracked, the table is full, a reset is in progress, or we are not in task
 * context (interrupt work is not the interrupted task's).  Probe context only.
 */
struct allocstat_task *allocstat_task_current(void)
{
	struct task_struct *t = current;
	struct allocstat_task **b, *s;
	unsigned int gen;

	if (unlikely(!in_task() || READ_ONCE(paused)))
		return NULL;
	gen = READ_ONCE(filter_gen);
	s = task_lookup(t, &b);
	if (unlikely(!s))
		return task_create(t, b, gen);
	if (unlikely(s->filter_gen != gen)) {
		s->tracked = track_match(s->row.tgid);
		s->filter_gen = gen;
	}
	return s->tracked ? s : NULL;
}

/* The slot of current if it has one; never creates.  Probe context only. */
struct allocstat_task *allocstat_task_find(void)
{
	struct allocstat_task **b;

	if (unlikely(!in_task() || READ_ONCE(paused)))
		return NULL;
	return task_lookup(current, &b);
}

/* Called by every mutator of the table, with ctl_mutex held. */
static void pause_probes(void)
{
	WRITE_ONCE(paused, true);
	/* Return probes holding a slot of the old epoch drop their event. */
	WRITE_ONCE(epoch, epoch + 1);
	/* Every probe runs with preemption disabled: this waits for all of them. */
	synchronize_rcu();
}

static void resume_probes(void)
{
	/* probes that see !paused see the cleared table */
	smp_store_release(&paused, false);
}

void allocstat_table_reset(void)
{
	unsigned int used;

	mutex_lock(&ctl_mutex);
	pause_probes();
	used = min_t(unsigned int, atomic_read(&nr_used), allocstat_max_tasks);
	memset(slots, 0, array_size(used, sizeof(*slots)));
	memset(buckets, 0, sizeof(*buckets) << hash_bits);
	memset(dropped_set, 0, DROPPED_SET_SIZE * sizeof(*dropped_set));
	atomic_set(&nr_used, 0);
	atomic_long_set(&nr_dropped, 0);
	resume_probes();
	mutex_unlock(&ctl_mutex);
}

int allocstat_track(pid_t tgid)
{
	unsigned int i;
	int ret = 0;

	mutex_lock(&ctl_mutex);
	for (i = 0; i < nr_track; i++)
		if (track_tgids[i] == tgid)
			goto out;
	if (nr_track == ALLOCSTAT_MAX_TRACK) {
		ret = -EINVAL;
		goto out;
	}
	WRITE_ONCE(track_tgids[nr_track], tgid);
	/* the entry before the count: pairs with track_match() */
	smp_store_release(&nr_track, nr_track + 1);
	WRITE_ONCE(filter_gen, filter_gen + 1);
out:
	mutex_unlock(&ctl_mutex);
	return ret;
}

void allocstat_track_all(void)
{
	mutex_lock(&ctl_mutex);
	/* pairs with track_match() */
	smp_store_release(&nr_track, 0);
	WRITE_ONCE(filter_gen, filter_gen + 1);
	mutex_unlock(&ctl_mutex);
}

unsigned int allocstat_nr_rows(void)
{
	return min_t(unsigned int, atomic_read(&nr_used), allocstat_max_tasks);
}

long allocstat_nr_dropped(void)
{
	return atomic_long_read(&nr_dropped);
}

/*
 * Is the task of this row still running?  Refreshes comm for live tasks
 * (pthread_setname_np and exec change it after the row was made).
 */
static bool row_refresh(const struct allocstat_task *s, struct allocstat_row *row)
{
	struct task_struct *t;
	bool alive = false;

	rcu_read_lock();
	t = pid_task(find_pid_ns(row->tid, &init_pid_ns), PIDTYPE_PID);
	if (t == s->key && t->start_time == s->start_time &&
	    !(t->flags & PF_EXITING)) {
		alive = true;
		get_task_comm(row->comm, t);
	}
	rcu_read_unlock();
	return alive;
}

/*
 * Copy a row that its task may be updating.  Each counter is read once and
 * whole (READ_ONCE, never torn).  The probes write the larger of each pair
 * first (fault_ns before fault_max_ns, faults before vma_faults, zero_pages
 * before zero_alloc_pages, wait_ns and hold_ns before their maxima), and x86
 * keeps stores in order; reading the smaller ones first, then the rest,
 * keeps max <= sum, vma_faults <= faults and zero_alloc_pages <= zero_pages
 * in every copy.  A plain memcpy() could read zero_pages before an update
 * and zero_alloc_pages after it (seen by selftests/src/as-reader once in
 * ~3,000 reads on the debug kernel).
 */
static void row_copy(struct allocstat_row *dst, const struct allocstat_row *src)
{
	const struct allocstat_counters *c = &src->c;
	struct allocstat_counters *d = &dst->c;
	int w;

	d->fault_max_ns = READ_ONCE(c->fault_max_ns);
	d->vma_faults = READ_ONCE(c->vma_faults);
	d->zero_alloc_pages = READ_ONCE(c->zero_alloc_pages);
	for (w = 0; w < 2; w++) {
		d->lock[w].wait_max_ns = READ_ONCE(c->lock[w].wait_max_ns);
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
	memcpy(dst->comm, src->comm, sizeof(dst->comm));
	dst->exited = READ_ONCE(src->exited);
}

/*
 * Copy up to @max published rows into @dst (process context).  Rows keep the
 * order in which tasks were first seen.
 */
unsigned int allocstat_snapshot(struct allocstat_row *dst, unsigned int max)
{
	unsigned int i, n = 0, used;

	mutex_lock(&ctl_mutex);
	used = allocstat_nr_rows();
	for (i = 0; i < used && n < max; i++) {
		struct allocstat_task *s = &slots[i];

		/* pairs with task_create(): the row is written before valid */
		if (!smp_load_acquire(&s->valid))
			continue;
		row_copy(&dst[n], &s->row);
		if (!dst[n].exited && !row_refresh(s, &dst[n]))
			dst[n].exited = true;
		n++;
	}
	mutex_unlock(&ctl_mutex);
	return n;
}

/*
 * Exit hook: marks the row exited, so that a later task reusing the tid (or
 * the task_struct) gets a row of its own, and keeps the last comm.
 * sched_process_exit is not exported: find it by name.
 */
static struct tracepoint *exit_tp;

static void probe_process_exit(ALLOCSTAT_EXIT_TP_PROTO)
{
	struct allocstat_task *s;

	if (p != current)
		return;
	s = allocstat_task_find();
	if (!s)
		return;
	/* No task_lock in probe context: a racing rename gives a mixed name. */
	memcpy(s->row.comm, p->comm, sizeof(s->row.comm));
	s->row.comm[sizeof(s->row.comm) - 1] = '\0';
	WRITE_ONCE(s->row.exited, true);
}

static void find_exit_tp(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "sched_process_exit"))
		exit_tp = tp;
}

int allocstat_exit_hook_init(void)
{
	int ret;

	for_each_kernel_tracepoint(find_exit_tp, NULL);
	if (!exit_tp)
		return -ENOENT;
	ret = tracepoint_probe_register(exit_tp, probe_process_exit, NULL);
	if (ret)
		exit_tp = NULL;
	return ret;
}

void allocstat_exit_hook_exit(void)
{
	if (!exit_tp)
		return;
	tracepoint_probe_unregister(exit_tp, probe_process_exit, NULL);
	exit_tp = NULL;
}
