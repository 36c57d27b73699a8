// SPDX-License-Identifier: GPL-2.0
/*
 * as-tidreuse: tasks that get a tid an earlier task had must get rows of
 * their own.
 *
 *   as-tidreuse [-n TASKS]
 *
 * Runs TASKS short-lived tasks (default 2500) one after the other,
 * alternately a thread and a forked child process.  Task j writes P(j) =
 * 64 * (1 + j % 4) fresh pages, so each row's faults tell whose they are:
 * a row that merged two tasks would hold at least 64 faults more than the
 * newest of them wrote.  With /proc/sys/kernel/pid_max lowered by the
 * caller, tids wrap and are reused several times.
 *
 * Then it reads /proc/allocstat and, for every tid, pairs the tasks that had
 * it (in start order) with the rows of that tid and comm as-tidreuse (in
 * row order, which is the order the tasks were first seen).  It prints
 *   tasks=N distinct_tids=N reused_tids=N max_uses=N rows=N matched=N bad=N
 * and the first bad pairings.  A pairing is bad when the numbers of tasks
 * and rows of a tid differ, or a row's tgid, state or faults (P(j) ..
 * P(j)+63) do not fit its task.  Exit 0 when no pairing is bad and some tid
 * was reused, 1 otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "allocstat_proc.h"

#define SLACK	64
#define COMM	"as-tidreuse"

struct task {
	pid_t tid;
	pid_t tgid;
	unsigned long pages;
};

static struct task *tasks;

static void touch(unsigned long pages)
{
	size_t len = pages * 4096;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t off;

	if (p == MAP_FAILED)
		return;
	madvise(p, len, MADV_NOHUGEPAGE);
	for (off = 0; off < len; off += 4096)
		p[off] = 1;
	munmap(p, len);
}

static void *thread_fn(void *arg)
{
	struct task *t = arg;

	t->tid = (pid_t)syscall(SYS_gettid);
	t->tgid = getpid();
	touch(t->pages);
	return NULL;
}

static int run_task(struct task *t, int fork_it)
{
	pthread_t th;
	pid_t pid;
	int st;

	if (!fork_it)
		return pthread_create(&th, NULL, thread_fn, t) || pthread_join(th, NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		touch(t->pages);
		_exit(0);
	}
	t->tid = pid;
	t->tgid = pid;
	return waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st);
}

static int by_tid(const void *a, const void *b)
{
	const struct task *x = *(struct task *const *)a, *y = *(struct task *const *)b;

	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	return x < y ? -1 : x > y;	/* start order */
}

int main(int argc, char **argv)
{
	unsigned long distinct = 0, reused = 0, max_uses = 0, rows = 0, matched = 0, nbad = 0;
	struct allocstat_table tab;
	struct task **order;
	long n = 2500, i, j;
	char err[256];
	int opt;

	while ((opt = getopt(argc, argv, "n:")) != -1) {
		if (opt != 'n') {
			fprintf(stderr, "usage: as-tidreuse [-n TASKS]\n");
			return 2;
		}
		n = strtol(optarg, NULL, 10);
	}
	if (n < 1)
		return 2;
	prctl(PR_SET_NAME, COMM);
	tasks = calloc((size_t)n, sizeof(*tasks));
	order = calloc((size_t)n, sizeof(*order));
	if (!tasks || !order)
		return 1;
	for (i = 0; i < n; i++) {
		tasks[i].pages = 64 * (1 + i % 4);
		if (run_task(&tasks[i], i % 2)) {
			printf("# task %ld failed: %s\n", i, strerror(errno));
			return 1;
		}
		order[i] = &tasks[i];
	}
	qsort(order, (size_t)n, sizeof(*order), by_tid);

	if (allocstat_read(NULL, &tab, err, sizeof(err))) {
		printf("# cannot read /proc/allocstat: %s\n", err);
		return 1;
	}
	for (size_t r = 0; r < tab.nr_rows; r++)
		if (!strcmp(tab.rows[r].comm, COMM) && tab.rows[r].tid != (uint64_t)getpid())
			rows++;
	for (i = 0; i < n; i = j) {
		pid_t tid = order[i]->tid;
		unsigned long uses, k = 0;
		size_t r;

		for (j = i; j < n && order[j]->tid == tid; j++)
			;
		uses = (unsigned long)(j - i);
		distinct++;
		if (uses > 1)
			reused++;
		if (uses > max_uses)
			max_uses = uses;
		for (r = 0; r < tab.nr_rows; r++) {
			const struct allocstat_row *row = &tab.rows[r];
			const struct task *t;
			uint64_t f;

			if (row->tid != (uint64_t)tid || strcmp(row->comm, COMM))
				continue;
			if (k >= uses) {
				k++;
				continue;
			}
			t = order[i + (long)k++];
			f = allocstat_has(row, ALLOCSTAT_FAULTS) ? row->val[ALLOCSTAT_FAULTS] : 0;
			if (row->tgid != (uint64_t)t->tgid || !row->exited ||
			    f < t->pages || f >= t->pages + SLACK) {
				if (++nbad <= 5)
					printf("# tid %d use %lu/%lu: row tgid=%llu %s faults=%llu, task tgid=%d wrote %lu pages\n",
					       tid, k, uses, (unsigned long long)row->tgid,
					       row->exited ? "exited" : "alive",
					       (unsigned long long)f, t->tgid, t->pages);
				continue;
			}
			matched++;
		}
		if (k != uses) {
			nbad++;
			if (nbad <= 5)
				printf("# tid %d: %lu tasks had it, %lu rows\n", tid, uses, k);
		}
	}
	printf("tasks=%ld distinct_tids=%lu reused_tids=%lu max_uses=%lu rows=%lu matched=%lu bad=%lu dropped=%llu\n",
	       n, distinct, reused, max_uses, rows, matched, nbad,
	       (unsigned long long)tab.dropped);
	allocstat_table_free(&tab);
	return nbad || !reused ? 1 : 0;
}
