// SPDX-License-Identifier: GPL-2.0
/*
 * as-workload: the small, exact workloads the allocstat selftests measure.
 *
 * Each thread maps its own region, touches every page once and reports, as
 * key=value lines, its tid, what it did and what the kernel's own accounting
 * saw over its work (getrusage(RUSAGE_THREAD) faults and voluntary switches,
 * /proc/thread-self/schedstat on-CPU and runqueue time, and its lifetime),
 * so that a test can compare allocstat's row for that tid with ground truth.  Threads are joined before the report, so
 * their rows are "exited" when the test reads /proc/allocstat (with -B they
 * are still alive while it is printed).
 *
 *   as-workload [-m MODE] [-p PAGES[,PAGES...]] [-t THREADS] [-d SECONDS]
 *               [-B] [-H] [-T] [-R]
 *
 *   -m write    write one byte per page of a fresh MADV_NOHUGEPAGE mapping
 *   -m read     read one byte per page of a fresh MADV_NOHUGEPAGE mapping
 *   -m thp      write one byte per 2 MiB huge page of a 2 MiB-aligned
 *               MADV_HUGEPAGE mapping (PAGES counts huge pages)
 *   -m populate map PAGES pages with MAP_POPULATE, touching none (4 KiB
 *               pages: the process disables THP with PR_SET_THP_DISABLE)
 *   -m contend  thread 0 loops mprotect() over a populated 64 MiB region for
 *               as long as the other threads fault their PAGES fresh pages
 *   -p          pages per thread; a list gives each thread its own count
 *   -t          threads (default: one per -p entry)
 *   -d SECONDS  write, read, thp and populate modes: unmap and repeat the work until
 *               SECONDS have passed
 *   -B          barrier: a thread that finished its work waits, alive, until
 *               every thread has finished; the report is printed while they
 *               wait, and they exit after it (with -H: at stdin EOF), so
 *               that every thread is alive at the same time
 *   -H          hold: after the work, print "ready" and wait for stdin EOF
 *               (with -B the threads are still alive then; without it they
 *               have been joined)
 *   -T          write "track <our pid>" to /proc/allocstat before starting
 *               the threads: only this process gets new rows
 *   -R          write "reset" to /proc/allocstat (after -T's write) before
 *               starting the threads: the table holds nothing else
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PAGE		4096UL
#define HUGE		(2UL << 20)
#define MAX_THREADS	256
#define CONTEND_BYTES	(64UL << 20)

enum mode { M_WRITE, M_READ, M_THP, M_POPULATE, M_CONTEND };

struct worker {
	pthread_t thread;
	int idx;
	pid_t tid;
	unsigned long pages;
	long minflt, majflt;
	unsigned long long work_ns;	/* time of the touch loop / inside mprotect */
	unsigned long long calls;
	/* the scheduler's account of the thread over its work (schedstat deltas) */
	unsigned long long run_ns;	/* the thread's lifetime from start to end of work */
	unsigned long long cpu_ns;	/* on a CPU */
	unsigned long long runq_ns;	/* runnable, waiting for one */
	long nvcsw;			/* voluntary context switches (sleeps) */
	volatile unsigned long sink;
	char pad[64];
};

static enum mode mode = M_WRITE;
static struct worker workers[MAX_THREADS];
static int nr_threads;
static volatile int faulters_left;
static volatile int contender_ready;
static int hold;
static unsigned long duration_s;

/* -B: threads park here until every thread did its work and main lets go */
static int barrier;
static pthread_mutex_t park_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_cond = PTHREAD_COND_INITIALIZER;
static int nr_parked;
static int released;

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "as-workload: %s: %s\n", what, strerror(errno));
	exit(1);
}

static char *map_region(size_t len, size_t align, int advice)
{
	char *p = mmap(NULL, len + align, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	if (align)
		p = (char *)(((unsigned long)p + align - 1) & ~(align - 1));
	/*
	 * A kernel without THP (Debian's -rt kernels) refuses both advices
	 * with EINVAL; MADV_NOHUGEPAGE asks for nothing it lacks then.
	 */
	if (advice >= 0 && madvise(p, len, advice) &&
	    !(advice == MADV_NOHUGEPAGE && errno == EINVAL &&
	      access("/sys/kernel/mm/transparent_hugepage", F_OK)))
		die("madvise");
	return p;
}

/* MAP_POPULATE: the kernel faults every page in before mmap() returns */
static void populate(struct worker *w)
{
	size_t len = w->pages * PAGE;
	unsigned long long t0 = now_ns(), end = t0 + duration_s * 1000000000ULL;

	for (;;) {
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

		if (p == MAP_FAILED)
			die("mmap(MAP_POPULATE)");
		w->calls++;
		if (!duration_s || now_ns() >= end)
			break;
		if (munmap(p, len))
			die("munmap");
	}
	w->work_ns = now_ns() - t0;
}

static void touch(struct worker *w)
{
	size_t step = mode == M_THP ? HUGE : PAGE;
	size_t len = w->pages * step;
	char *p;
	unsigned long long t0, end;
	size_t off;

	if (mode == M_POPULATE) {
		populate(w);
		return;
	}
	p = map_region(len, mode == M_THP ? HUGE : 0,
		       mode == M_THP ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	t0 = now_ns();
	end = t0 + duration_s * 1000000000ULL;
	for (;;) {
		for (off = 0; off < len; off += step) {
			if (mode == M_READ)
				w->sink += p[off];
			else
				p[off] = 1;
		}
		w->calls++;
		if (!duration_s || now_ns() >= end)
			break;
		if (madvise(p, len, MADV_DONTNEED))
			die("madvise(MADV_DONTNEED)");
	}
	w->work_ns = now_ns() - t0;
}

static void contend(struct worker *w)
{
	char *p = map_region(CONTEND_BYTES, 0, MADV_NOHUGEPAGE);
	size_t off;

	for (off = 0; off < CONTEND_BYTES; off += PAGE)
		p[off] = 1;
	__atomic_store_n(&contender_ready, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&faulters_left, __ATOMIC_ACQUIRE) > 0) {
		unsigned long long t0 = now_ns();

		if (mprotect(p, CONTEND_BYTES, PROT_READ) ||
		    mprotect(p, CONTEND_BYTES, PROT_READ | PROT_WRITE))
			die("mprotect");
		w->work_ns += now_ns() - t0;
		w->calls += 2;
	}
}

/* /proc/thread-self/schedstat: on-CPU ns, runqueue ns (0 0 if unreadable) */
static void schedstat(unsigned long long *cpu, unsigned long long *runq)
{
	FILE *f = fopen("/proc/thread-self/schedstat", "r");

	*cpu = *runq = 0;
	if (f) {
		if (fscanf(f, "%llu %llu", cpu, runq) != 2)
			*cpu = *runq = 0;
		fclose(f);
	}
}

static void *run(void *arg)
{
	struct worker *w = arg;
	struct rusage ru0, ru1;
	unsigned long long t0, cpu0, runq0, cpu1, runq1;

	w->tid = (pid_t)syscall(SYS_gettid);
	t0 = now_ns();
	schedstat(&cpu0, &runq0);
	getrusage(RUSAGE_THREAD, &ru0);
	if (mode == M_CONTEND && w->idx == 0) {
		contend(w);
	} else {
		while (mode == M_CONTEND && !__atomic_load_n(&contender_ready, __ATOMIC_ACQUIRE))
			sched_yield();
		touch(w);
		if (mode == M_CONTEND)
			__atomic_sub_fetch(&faulters_left, 1, __ATOMIC_RELEASE);
	}
	getrusage(RUSAGE_THREAD, &ru1);
	schedstat(&cpu1, &runq1);
	w->run_ns = now_ns() - t0;
	w->cpu_ns = cpu1 - cpu0;
	w->runq_ns = runq1 - runq0;
	w->minflt = ru1.ru_minflt - ru0.ru_minflt;
	w->majflt = ru1.ru_majflt - ru0.ru_majflt;
	w->nvcsw = ru1.ru_nvcsw - ru0.ru_nvcsw;
	if (barrier) {
		pthread_mutex_lock(&park_lock);
		nr_parked++;
		pthread_cond_broadcast(&park_cond);
		while (!released)
			pthread_cond_wait(&park_cond, &park_lock);
		pthread_mutex_unlock(&park_lock);
	}
	return NULL;
}

/* -T, -R: one write(2) of a command to /proc/allocstat */
static void control(const char *cmd)
{
	int fd = open("/proc/allocstat", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		die("open /proc/allocstat");
	if (write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
		die(cmd);
	close(fd);
}

static void report(unsigned long long wall_ns)
{
	int i;

	for (i = 0; i < nr_threads; i++) {
		struct worker *w = &workers[i];

		printf("thread=%d tid=%d pages=%lu minflt=%ld majflt=%ld work_ns=%llu calls=%llu "
		       "run_ns=%llu cpu_ns=%llu runq_ns=%llu nvcsw=%ld\n",
		       i, w->tid, mode == M_CONTEND && i == 0 ? 0 : w->pages, w->minflt,
		       w->majflt, w->work_ns, w->calls, w->run_ns, w->cpu_ns, w->runq_ns,
		       w->nvcsw);
	}
	printf("wall_ns=%llu\n", wall_ns);
	fflush(stdout);
}

static void wait_stdin_eof(void)
{
	char c;

	printf("ready\n");
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
}

static unsigned long parse_ulong(const char *s, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || (*end && *end != ',')) {
		fprintf(stderr, "as-workload: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	unsigned long pages[MAX_THREADS];
	unsigned long long t_start, t_end;
	int nr_pages = 0, opt, i, track = 0, reset = 0;
	const char *s;

	pages[0] = 1024;
	while ((opt = getopt(argc, argv, "m:p:t:d:BHTR")) != -1) {
		switch (opt) {
		case 'm':
			if (!strcmp(optarg, "write"))
				mode = M_WRITE;
			else if (!strcmp(optarg, "read"))
				mode = M_READ;
			else if (!strcmp(optarg, "thp"))
				mode = M_THP;
			else if (!strcmp(optarg, "populate"))
				mode = M_POPULATE;
			else if (!strcmp(optarg, "contend"))
				mode = M_CONTEND;
			else {
				fprintf(stderr, "as-workload: bad mode '%s'\n", optarg);
				return 2;
			}
			break;
		case 'p':
			for (s = optarg, nr_pages = 0; s && nr_pages < MAX_THREADS;
			     s = strchr(s, ',') ? strchr(s, ',') + 1 : NULL)
				pages[nr_pages++] = parse_ulong(s, "page count");
			break;
		case 't':
			nr_threads = (int)parse_ulong(optarg, "thread count");
			if (nr_threads < 1 || nr_threads > MAX_THREADS) {
				fprintf(stderr, "as-workload: threads must be 1..%d\n", MAX_THREADS);
				return 2;
			}
			break;
		case 'd':
			duration_s = parse_ulong(optarg, "duration");
			break;
		case 'B':
			barrier = 1;
			break;
		case 'H':
			hold = 1;
			break;
		case 'T':
			track = 1;
			break;
		case 'R':
			reset = 1;
			break;
		default:
			return 2;
		}
	}
	if (!nr_pages)
		nr_pages = 1;
	if (!nr_threads)
		nr_threads = mode == M_CONTEND ? nr_pages + 1 : nr_pages;

	for (i = 0; i < nr_threads; i++) {
		int k = mode == M_CONTEND ? i - 1 : i;

		workers[i].idx = i;
		workers[i].pages = pages[k < 0 ? 0 : (k < nr_pages ? k : nr_pages - 1)];
	}
	if (mode == M_CONTEND)
		faulters_left = nr_threads - 1;
	/* no THP for MAP_POPULATE (a kernel without THP refuses: nothing to do) */
	if (mode == M_POPULATE)
		prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	printf("pid=%d mode=%s threads=%d\n", getpid(),
	       (const char *[]){ "write", "read", "thp", "populate", "contend" }[mode], nr_threads);
	fflush(stdout);
	if (track) {
		char cmd[32];

		snprintf(cmd, sizeof(cmd), "track %d", getpid());
		control(cmd);
	}
	if (reset)
		control("reset");
	t_start = now_ns();
	for (i = 0; i < nr_threads; i++)
		if (pthread_create(&workers[i].thread, NULL, run, &workers[i])) {
			errno = EAGAIN;
			die("pthread_create");
		}
	if (barrier) {
		/* every thread is alive and parked: report, hold, let go */
		pthread_mutex_lock(&park_lock);
		while (nr_parked < nr_threads)
			pthread_cond_wait(&park_cond, &park_lock);
		pthread_mutex_unlock(&park_lock);
		t_end = now_ns();
		report(t_end - t_start);
		if (hold)
			wait_stdin_eof();
		pthread_mutex_lock(&park_lock);
		released = 1;
		pthread_cond_broadcast(&park_cond);
		pthread_mutex_unlock(&park_lock);
		for (i = 0; i < nr_threads; i++)
			pthread_join(workers[i].thread, NULL);
		return 0;
	}
	for (i = 0; i < nr_threads; i++)
		pthread_join(workers[i].thread, NULL);
	t_end = now_ns();
	report(t_end - t_start);
	if (hold)
		wait_stdin_eof();
	return 0;
}
