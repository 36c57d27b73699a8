// SPDX-License-Identifier: GPL-2.0
/*
 * as-resetstorm: reset /proc/allocstat many times while threads fault huge
 * pages, and check every so often that no row was mixed up by a reset.
 *
 *   as-resetstorm [-n RESETS] [-e EVERY] [-u USECS] [-r USECS] [-t THREADS]
 *                 [-p HUGE] [-c PAGES]
 *
 * Starts THREADS huge-page threads (default 2): each loops writing one byte
 * per 2 MiB page of a 2 MiB-aligned MADV_HUGEPAGE region of HUGE huge pages
 * (default 4), then MADV_DONTNEED on it, so that huge-page clears are in
 * flight all the time.  Starts one control thread (64 KiB stack): it loops
 * mapping PAGES fresh MADV_NOHUGEPAGE pages (default 64), reading one byte
 * of each (4 KiB read faults: the shared zero page, no page of its own is
 * zeroed, never a huge page) and unmapping them.  Once every thread has done
 * a round, writes "reset" RESETS times (default 1000), one write(2) each,
 * sleeping -u USECS microseconds after each (default 1000), and after every
 * EVERY-th reset (default 20), -r USECS more (default 20000: time for every
 * thread to fault again and get a row), reads the table and checks:
 *   - the control thread's row, if any, has zero_huge 0;
 *   - every row whose state is alive names the tgid that /proc/<tid>/status
 *     gives for its tid (rows whose tid is gone by then are counted apart);
 *   - tasks= is the number of rows.
 * Prints `pid=P control_tid=T huge_tids=T,T...` before the resets and one
 * line after them:
 *   resets=N write_errors=N reads=N read_errors=N rows=N alive_checked=N
 *   gone=N tgid_mismatch=N tasks_mismatch=N control_rows=N
 *   control_zero_huge_max=N huge_rows=N huge_zero_huge_max=N huge_rounds=N
 *   control_rounds=N seconds=S
 * (huge_zero_huge_max: the largest zero_huge seen in a huge-page thread's
 * row, which shows that huge-page clears were being counted.)  The first few
 * violations are printed as `# ...` lines.  Exit 0 when every check held,
 * 1 otherwise, 2 on bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "allocstat_proc.h"

#define PAGE		4096UL
#define HUGE		(2UL << 20)
#define MAX_THREADS	16
#define MAX_REPORTS	5

struct worker {
	pthread_t thread;
	pid_t tid;
	int control;
	unsigned long rounds;		/* written by the worker only */
	volatile unsigned long sink;
	char pad[64];
};

static struct worker workers[MAX_THREADS + 1];
static int nr_huge = 2;
static unsigned long huge_pages = 4, control_pages = 64;
static int stop;

struct stats {
	unsigned long reads, read_errors, rows, alive_checked, gone;
	unsigned long tgid_mismatch, tasks_mismatch, control_rows, control_bad, huge_rows;
	uint64_t control_zero_huge_max, huge_zero_huge_max;
};

static void die(const char *what)
{
	fprintf(stderr, "as-resetstorm: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void huge_loop(struct worker *w)
{
	size_t len = huge_pages * HUGE, off;
	char *p = mmap(NULL, len + HUGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	p = (char *)(((unsigned long)p + HUGE - 1) & ~(HUGE - 1));
	if (madvise(p, len, MADV_HUGEPAGE))
		die("madvise(MADV_HUGEPAGE)");
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		for (off = 0; off < len; off += HUGE)
			p[off] = 1;
		if (madvise(p, len, MADV_DONTNEED))
			die("madvise(MADV_DONTNEED)");
		__atomic_store_n(&w->rounds, w->rounds + 1, __ATOMIC_RELEASE);
	}
}

static void control_loop(struct worker *w)
{
	size_t len = control_pages * PAGE, off;

	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			die("mmap");
		if (madvise(p, len, MADV_NOHUGEPAGE))
			die("madvise(MADV_NOHUGEPAGE)");
		for (off = 0; off < len; off += PAGE)
			w->sink += ((volatile char *)p)[off];
		munmap(p, len);
		__atomic_store_n(&w->rounds, w->rounds + 1, __ATOMIC_RELEASE);
	}
}

static void *run(void *arg)
{
	struct worker *w = arg;

	__atomic_store_n(&w->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	if (w->control)
		control_loop(w);
	else
		huge_loop(w);
	return NULL;
}

/* Tgid of a live tid from /proc/<tid>/status, or 0 if it is gone. */
static long real_tgid(uint64_t tid)
{
	char path[64], line[256];
	long tgid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%llu/status", (unsigned long long)tid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %ld", &tgid) == 1)
			break;
	fclose(f);
	return tgid;
}

static void check_table(struct stats *st)
{
	struct allocstat_table t;
	char err[256];
	size_t i;
	int k;

	st->reads++;
	if (allocstat_read(NULL, &t, err, sizeof(err))) {
		if (++st->read_errors <= MAX_REPORTS)
			printf("# read %lu: %s\n", st->reads, err);
		return;
	}
	st->rows += t.nr_rows;
	if (t.tasks != t.nr_rows && ++st->tasks_mismatch <= MAX_REPORTS)
		printf("# read %lu: tasks=%llu but %zu rows\n", st->reads,
		       (unsigned long long)t.tasks, t.nr_rows);
	for (i = 0; i < t.nr_rows; i++) {
		const struct allocstat_row *r = &t.rows[i];
		uint64_t huge = allocstat_has(r, ALLOCSTAT_ZERO_HUGE) ?
				r->val[ALLOCSTAT_ZERO_HUGE] : 0;

		for (k = 0; k <= nr_huge; k++) {
			if (r->tid != (uint64_t)workers[k].tid)
				continue;
			if (workers[k].control) {
				st->control_rows++;
				if (huge > st->control_zero_huge_max)
					st->control_zero_huge_max = huge;
				if (huge && ++st->control_bad <= MAX_REPORTS)
					printf("# read %lu: control thread %llu has zero_huge=%llu\n",
					       st->reads, (unsigned long long)r->tid,
					       (unsigned long long)huge);
			} else {
				st->huge_rows++;
				if (huge > st->huge_zero_huge_max)
					st->huge_zero_huge_max = huge;
			}
		}
		if (!r->exited) {
			long tgid = real_tgid(r->tid);

			if (!tgid) {
				st->gone++;
			} else {
				st->alive_checked++;
				if ((uint64_t)tgid != r->tgid && ++st->tgid_mismatch <= MAX_REPORTS)
					printf("# read %lu: row of tid %llu (%s) says tgid %llu, the task's is %ld\n",
					       st->reads, (unsigned long long)r->tid, r->comm,
					       (unsigned long long)r->tgid, tgid);
			}
		}
	}
	allocstat_table_free(&t);
}

static unsigned long parse_ulong(const char *s, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end) {
		fprintf(stderr, "as-resetstorm: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	unsigned long resets = 1000, every = 20, usecs = 1000, read_usecs = 20000, n;
	unsigned long write_errors = 0;
	unsigned long huge_rounds = 0;
	struct stats st = { 0 };
	struct timespec t0, t1;
	pthread_attr_t attr;
	const char *path;
	int opt, fd, k;

	while ((opt = getopt(argc, argv, "n:e:u:r:t:p:c:")) != -1) {
		switch (opt) {
		case 'n':
			resets = parse_ulong(optarg, "reset count");
			break;
		case 'e':
			every = parse_ulong(optarg, "read interval");
			break;
		case 'u':
			usecs = parse_ulong(optarg, "sleep");
			break;
		case 'r':
			read_usecs = parse_ulong(optarg, "read delay");
			break;
		case 't':
			nr_huge = (int)parse_ulong(optarg, "thread count");
			break;
		case 'p':
			huge_pages = parse_ulong(optarg, "huge page count");
			break;
		case 'c':
			control_pages = parse_ulong(optarg, "control page count");
			break;
		default:
			fprintf(stderr, "usage: as-resetstorm [-n RESETS] [-e EVERY] [-u USECS] [-r USECS] [-t THREADS] [-p HUGE] [-c PAGES]\n");
			return 2;
		}
	}
	if (nr_huge < 1 || nr_huge > MAX_THREADS || !every || !huge_pages || !control_pages) {
		fprintf(stderr, "as-resetstorm: -t must be 1..%d; -e, -p, -c > 0\n", MAX_THREADS);
		return 2;
	}
	path = allocstat_path();
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		die(path);

	workers[nr_huge].control = 1;
	for (k = 0; k <= nr_huge; k++) {
		pthread_attr_init(&attr);
		if (workers[k].control)
			pthread_attr_setstacksize(&attr, 64 << 10);
		if (pthread_create(&workers[k].thread, &attr, run, &workers[k])) {
			errno = EAGAIN;
			die("pthread_create");
		}
		pthread_attr_destroy(&attr);
	}
	/* every thread has its tid and has done a round */
	for (k = 0; k <= nr_huge; k++)
		while (!__atomic_load_n(&workers[k].rounds, __ATOMIC_ACQUIRE))
			usleep(1000);
	printf("pid=%d control_tid=%d huge_tids=", getpid(), workers[nr_huge].tid);
	for (k = 0; k < nr_huge; k++)
		printf("%s%d", k ? "," : "", workers[k].tid);
	printf("\n");
	fflush(stdout);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (n = 1; n <= resets; n++) {
		if (write(fd, "reset", 5) != 5 && ++write_errors <= MAX_REPORTS)
			printf("# reset %lu: %s\n", n, strerror(errno));
		usleep((useconds_t)usecs);
		if (n % every == 0) {
			usleep((useconds_t)read_usecs);
			check_table(&st);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	close(fd);

	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (k = 0; k <= nr_huge; k++) {
		pthread_join(workers[k].thread, NULL);
		if (!workers[k].control)
			huge_rounds += workers[k].rounds;
	}
	printf("resets=%lu write_errors=%lu reads=%lu read_errors=%lu rows=%lu alive_checked=%lu "
	       "gone=%lu tgid_mismatch=%lu tasks_mismatch=%lu control_rows=%lu "
	       "control_zero_huge_max=%llu huge_rows=%lu huge_zero_huge_max=%llu "
	       "huge_rounds=%lu control_rounds=%lu seconds=%.1f\n",
	       resets, write_errors, st.reads, st.read_errors, st.rows, st.alive_checked,
	       st.gone, st.tgid_mismatch, st.tasks_mismatch, st.control_rows,
	       (unsigned long long)st.control_zero_huge_max, st.huge_rows,
	       (unsigned long long)st.huge_zero_huge_max, huge_rounds,
	       workers[nr_huge].rounds,
	       (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	return write_errors || st.read_errors || st.tgid_mismatch || st.tasks_mismatch ||
	       st.control_zero_huge_max ? 1 : 0;
}
