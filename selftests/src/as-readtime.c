// SPDX-License-Identifier: GPL-2.0
/*
 * as-readtime FILE [N]: read FILE to the end N times (default 10) and print
 * "bytes=B lines=L min_ns=.. median_ns=.. max_ns=.." for one full read,
 * open to close: what a reader of /proc/allocstat pays.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_RUNS 101

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static char buf[1 << 16];
	unsigned long long ns[MAX_RUNS], bytes = 0, lines = 0;
	int runs = argc > 2 ? atoi(argv[2]) : 10, i;

	if (argc < 2 || runs < 1 || runs > MAX_RUNS) {
		fprintf(stderr, "usage: as-readtime FILE [1..%d]\n", MAX_RUNS);
		return 2;
	}
	for (i = 0; i < runs; i++) {
		unsigned long long t0 = now_ns();
		int fd = open(argv[1], O_RDONLY);
		ssize_t n;

		if (fd < 0) {
			fprintf(stderr, "as-readtime: %s: %s\n", argv[1], strerror(errno));
			return 1;
		}
		bytes = lines = 0;
		while ((n = read(fd, buf, sizeof(buf))) > 0) {
			bytes += n;
			for (ssize_t k = 0; k < n; k++)
				lines += buf[k] == '\n';
		}
		close(fd);
		ns[i] = now_ns() - t0;
		if (n < 0) {
			fprintf(stderr, "as-readtime: read: %s\n", strerror(errno));
			return 1;
		}
	}
	qsort(ns, runs, sizeof(ns[0]), cmp);
	printf("bytes=%llu lines=%llu min_ns=%llu median_ns=%llu max_ns=%llu\n",
	       bytes, lines, ns[0], ns[runs / 2], ns[runs - 1]);
	return 0;
}
