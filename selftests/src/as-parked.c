// SPDX-License-Identifier: GPL-2.0
/*
 * as-parked: many threads parked inside a page fault at the same time, for
 * the selftest of allocstat's fault timing (its kretprobe instances).
 *
 *   as-parked [-n THREADS] [-w HOLD_MS] [-s SETTLE_MS]
 *
 * Maps THREADS pages (default 1100) and registers them with userfaultfd
 * (UFFDIO_REGISTER_MODE_MISSING).  Each of THREADS threads (64 KiB stacks)
 * bumps a shared counter and reads one byte of its own page: the fault
 * blocks in handle_userfault() until the page is resolved.  The main thread
 * is the fault handler: it reads the fault events, waits until it has seen
 * one from every thread and the counter says every thread got there, sleeps
 * SETTLE_MS (default 20), holds them HOLD_MS more (default 200), then
 * resolves the pages one by one with UFFDIO_ZEROPAGE.
 *
 * For each thread it prints
 *   thread=I tid=T blocked_ns=B touch_ns=U
 * blocked_ns: from the handler reading that thread's fault event to the
 * handler resolving its page, both while the thread was inside the fault: a
 * lower bound of that fault's duration.  touch_ns: the thread's own clock
 * around the read (includes its scheduling delay after the fault; an upper
 * bound).  Then one line:
 *   threads=N events=N duplicates=N min_blocked_ns=B max_blocked_ns=B seconds=S
 * Exit 0 on success, 1 on an error, 4 when userfaultfd is unavailable (the
 * reason is printed as `# ...`), 2 on bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PAGE	4096UL

struct parked {
	pthread_t thread;
	pid_t tid;
	unsigned long long t_touch, t_back;	/* thread: around the read */
	unsigned long long t_seen, t_wake;	/* handler: event read, page resolved */
	char pad[64];
};

static struct parked *threads;
static char *region;
static long nr_threads = 1100;
static int armed;

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "as-parked: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void *run(void *arg)
{
	struct parked *p = arg;
	long i = p - threads;

	p->tid = (pid_t)syscall(SYS_gettid);
	__atomic_add_fetch(&armed, 1, __ATOMIC_SEQ_CST);
	p->t_touch = now_ns();
	(void)*(volatile char *)(region + i * PAGE);
	p->t_back = now_ns();
	return NULL;
}

static long parse_long(const char *s, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0) {
		fprintf(stderr, "as-parked: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { 0 };
	unsigned long long t0, min_b = ~0ULL, max_b = 0;
	long hold_ms = 200, settle_ms = 20, events = 0, dups = 0, i;
	pthread_attr_t attr;
	char *seen;
	int uffd, opt;

	while ((opt = getopt(argc, argv, "n:w:s:")) != -1) {
		switch (opt) {
		case 'n':
			nr_threads = parse_long(optarg, "thread count");
			break;
		case 'w':
			hold_ms = parse_long(optarg, "hold time");
			break;
		case 's':
			settle_ms = parse_long(optarg, "settle time");
			break;
		default:
			fprintf(stderr, "usage: as-parked [-n THREADS] [-w HOLD_MS] [-s SETTLE_MS]\n");
			return 2;
		}
	}
	if (nr_threads < 1)
		return 2;
	threads = calloc((size_t)nr_threads, sizeof(*threads));
	seen = calloc((size_t)nr_threads, 1);
	if (!threads || !seen)
		die("calloc");

	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	if (uffd < 0) {
		printf("# userfaultfd(): %s\n", strerror(errno));
		return 4;
	}
	if (ioctl(uffd, UFFDIO_API, &api)) {
		printf("# UFFDIO_API: %s\n", strerror(errno));
		return 4;
	}
	if (!(api.ioctls & (1ULL << _UFFDIO_REGISTER))) {
		printf("# UFFDIO_API: no UFFDIO_REGISTER\n");
		return 4;
	}
	region = mmap(NULL, (size_t)nr_threads * PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED)
		die("mmap");
	/* refused with EINVAL, and moot, where the kernel has no THP (PREEMPT_RT) */
	if (madvise(region, (size_t)nr_threads * PAGE, MADV_NOHUGEPAGE) &&
	    !(errno == EINVAL && access("/sys/kernel/mm/transparent_hugepage", F_OK)))
		die("madvise");
	reg.range.start = (unsigned long)region;
	reg.range.len = (unsigned long)nr_threads * PAGE;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		printf("# UFFDIO_REGISTER: %s\n", strerror(errno));
		return 4;
	}
	if (!(reg.ioctls & (1ULL << _UFFDIO_ZEROPAGE))) {
		printf("# UFFDIO_REGISTER: no UFFDIO_ZEROPAGE for anonymous memory\n");
		return 4;
	}

	t0 = now_ns();
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 << 10);
	for (i = 0; i < nr_threads; i++) {
		int err = pthread_create(&threads[i].thread, &attr, run, &threads[i]);

		if (err) {
			printf("# pthread_create #%ld: %s\n", i, strerror(err));
			return 1;
		}
	}

	/* every thread's fault event, read while the thread is inside the fault */
	while (events < nr_threads) {
		struct pollfd pfd = { .fd = uffd, .events = POLLIN };
		struct uffd_msg msg;
		unsigned long idx;
		ssize_t n;

		if (poll(&pfd, 1, 60000) != 1) {
			printf("# no fault event for 60 s; %ld of %ld seen, %d armed\n",
			       events, nr_threads, __atomic_load_n(&armed, __ATOMIC_SEQ_CST));
			return 1;
		}
		n = read(uffd, &msg, sizeof(msg));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n != sizeof(msg))
			die("read(userfaultfd)");
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		idx = (unsigned long)((msg.arg.pagefault.address - (unsigned long)region) / PAGE);
		if (idx >= (unsigned long)nr_threads) {
			printf("# fault event outside the region: 0x%llx\n",
			       (unsigned long long)msg.arg.pagefault.address);
			return 1;
		}
		if (seen[idx]) {
			dups++;
			continue;
		}
		seen[idx] = 1;
		threads[idx].t_seen = now_ns();
		events++;
	}
	while (__atomic_load_n(&armed, __ATOMIC_SEQ_CST) < nr_threads)
		usleep(1000);
	usleep((useconds_t)(settle_ms + hold_ms) * 1000);

	for (i = 0; i < nr_threads; i++) {
		struct uffdio_zeropage zp = {
			.range = { .start = (unsigned long)(region + i * PAGE), .len = PAGE },
		};

		threads[i].t_wake = now_ns();
		if (ioctl(uffd, UFFDIO_ZEROPAGE, &zp))
			die("UFFDIO_ZEROPAGE");
	}
	for (i = 0; i < nr_threads; i++)
		pthread_join(threads[i].thread, NULL);

	for (i = 0; i < nr_threads; i++) {
		struct parked *p = &threads[i];
		unsigned long long b = p->t_wake - p->t_seen;

		if (b < min_b)
			min_b = b;
		if (b > max_b)
			max_b = b;
		printf("thread=%ld tid=%d blocked_ns=%llu touch_ns=%llu\n", i, p->tid, b,
		       p->t_back - p->t_touch);
	}
	printf("threads=%ld events=%ld duplicates=%ld min_blocked_ns=%llu max_blocked_ns=%llu seconds=%.1f\n",
	       nr_threads, events, dups, min_b, max_b, (now_ns() - t0) / 1e9);
	return 0;
}
