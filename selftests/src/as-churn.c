// SPDX-License-Identifier: GPL-2.0
/*
 * as-churn: create and join threads many times, each faulting a page, so
 * that /proc/allocstat gains and retires rows at a high rate.
 *
 *   as-churn [-n THREADS] [-c CONCURRENT] [-v]
 *
 * Starts THREADS threads in all (default 10000), CONCURRENT at a time
 * (default 4; each batch is joined before the next starts).  Each thread
 * maps one fresh page, writes it (a fault and a zeroed page) and unmaps it.
 * Prints `threads=N seconds=S`.  With -v it then reads /proc/allocstat and
 * checks that every thread it started has its own row, exited, with at
 * least one fault:
 *   rows=N found=N exited=N faulted=N missing=N
 * Exit 0 on success, 1 when a thread could not be created or (-v) a row is
 * missing or wrong.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "allocstat_proc.h"

#define MAX_CONCURRENT	64

static pid_t *tids;

static void *worker(void *arg)
{
	long idx = (long)arg;
	char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	tids[idx] = (pid_t)syscall(SYS_gettid);
	if (p != MAP_FAILED) {
		*(volatile char *)p = 1;
		munmap(p, 4096);
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* every started thread has an exited row with a fault, in our thread group */
static int verify(long n)
{
	unsigned long found = 0, exited = 0, faulted = 0, missing = 0;
	struct allocstat_table t;
	uint64_t *ours;
	size_t nr = 0, i;
	char err[256];
	long k;

	if (allocstat_read(NULL, &t, err, sizeof(err))) {
		printf("# cannot read /proc/allocstat: %s\n", err);
		return 1;
	}
	ours = calloc(t.nr_rows + 1, sizeof(*ours));
	if (!ours)
		return 1;
	for (i = 0; i < t.nr_rows; i++)
		if (t.rows[i].tgid == (uint64_t)getpid() && t.rows[i].tid != (uint64_t)getpid())
			ours[nr++] = t.rows[i].tid;
	qsort(ours, nr, sizeof(*ours), cmp_u64);
	for (k = 0; k < n; k++) {
		uint64_t key = (uint64_t)tids[k];
		const struct allocstat_row *r;

		if (!bsearch(&key, ours, nr, sizeof(*ours), cmp_u64)) {
			if (++missing <= 5)
				printf("# thread %ld (tid %d) has no row\n", k, tids[k]);
			continue;
		}
		found++;
		r = allocstat_find(&t, (uint64_t)getpid(), key);
		if (r && r->exited)
			exited++;
		if (r && allocstat_has(r, ALLOCSTAT_FAULTS) && r->val[ALLOCSTAT_FAULTS] > 0)
			faulted++;
	}
	printf("rows=%zu ours=%zu found=%lu exited=%lu faulted=%lu missing=%lu dropped=%llu\n",
	       t.nr_rows, nr, found, exited, faulted, missing, (unsigned long long)t.dropped);
	allocstat_table_free(&t);
	free(ours);
	return missing || exited != found || faulted != found ? 1 : 0;
}

int main(int argc, char **argv)
{
	pthread_t th[MAX_CONCURRENT];
	long n = 10000, c = 4, started = 0, i;
	struct timespec t0, t1;
	pthread_attr_t attr;
	int opt, check = 0;

	while ((opt = getopt(argc, argv, "n:c:v")) != -1) {
		switch (opt) {
		case 'n':
			n = strtol(optarg, NULL, 10);
			break;
		case 'c':
			c = strtol(optarg, NULL, 10);
			break;
		case 'v':
			check = 1;
			break;
		default:
			fprintf(stderr, "usage: as-churn [-n THREADS] [-c CONCURRENT] [-v]\n");
			return 2;
		}
	}
	if (n < 1 || c < 1 || c > MAX_CONCURRENT) {
		fprintf(stderr, "as-churn: -n must be > 0, -c 1..%d\n", MAX_CONCURRENT);
		return 2;
	}
	tids = calloc((size_t)n, sizeof(*tids));
	if (!tids)
		return 1;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 << 10);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (started < n) {
		long batch = n - started < c ? n - started : c;

		for (i = 0; i < batch; i++) {
			int err = pthread_create(&th[i], &attr, worker, (void *)(started + i));

			if (err) {
				printf("# pthread_create #%ld: %s\n", started + i, strerror(err));
				return 1;
			}
		}
		for (i = 0; i < batch; i++)
			pthread_join(th[i], NULL);
		started += batch;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("threads=%ld seconds=%.1f\n", started,
	       (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	fflush(stdout);
	return check ? verify(n) : 0;
}
