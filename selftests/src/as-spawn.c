// SPDX-License-Identifier: GPL-2.0
/*
 * as-spawn: fork many short-lived processes, each faulting a page, so that
 * /proc/allocstat sees far more tasks than it has rows.
 *
 *   as-spawn [-n CHILDREN] [-c CONCURRENT]
 *
 * Forks CHILDREN processes in all (default 20000), at most CONCURRENT alive
 * at a time (default 2).  Each child writes one page of a fresh anonymous
 * mapping (a fault and a zeroed page), asks getrusage(RUSAGE_SELF) whether
 * it took a minor fault, and exits with status 0 if it did, 3 if not.
 * Prints one line:
 *   children=N faulted=N failed=N max_alive=N first_pid=P last_pid=P seconds=S
 * (faulted: children that exited 0; failed: fork errors and other exits).
 * Exit 0 when every child was forked and faulted, 1 otherwise, 2 on bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void child(void)
{
	char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct rusage ru;

	if (p == MAP_FAILED)
		_exit(4);
	*(volatile char *)p = 1;
	if (getrusage(RUSAGE_SELF, &ru))
		_exit(4);
	_exit(ru.ru_minflt > 0 ? 0 : 3);
}

static long parse_long(const char *s, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1) {
		fprintf(stderr, "as-spawn: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	long n = 20000, c = 2, started = 0, alive = 0, max_alive = 0;
	long faulted = 0, failed = 0;
	pid_t first = 0, last = 0;
	struct timespec t0, t1;
	int opt;

	while ((opt = getopt(argc, argv, "n:c:")) != -1) {
		switch (opt) {
		case 'n':
			n = parse_long(optarg, "child count");
			break;
		case 'c':
			c = parse_long(optarg, "concurrency");
			break;
		default:
			fprintf(stderr, "usage: as-spawn [-n CHILDREN] [-c CONCURRENT]\n");
			return 2;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (started < n || alive > 0) {
		int status;
		pid_t pid;

		if (started < n && alive < c) {
			pid = fork();
			if (pid == 0)
				child();
			started++;
			if (pid < 0) {
				if (++failed <= 5)
					printf("# fork #%ld: %s\n", started, strerror(errno));
				continue;
			}
			if (!first)
				first = pid;
			last = pid;
			if (++alive > max_alive)
				max_alive = alive;
			continue;
		}
		pid = wait(&status);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			printf("# wait: %s\n", strerror(errno));
			return 1;
		}
		alive--;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			faulted++;
		else if (++failed <= 5)
			printf("# child %d: status 0x%x\n", pid, status);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("children=%ld faulted=%ld failed=%ld max_alive=%ld first_pid=%d last_pid=%d seconds=%.1f\n",
	       started, faulted, failed, max_alive, first, last,
	       (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	return faulted == n && !failed ? 0 : 1;
}
