// SPDX-License-Identifier: GPL-2.0
/*
 * allocstat-run: what the scheduler says about a thread, for the breakdown
 * (breakdown.c).
 *
 *   /proc/self/task/<tid>/schedstat  "<on-CPU ns> <run_delay ns> <slices>":
 *       run_delay is the time the thread was runnable but not running
 *       (CONFIG_SCHED_INFO, on in Debian's kernels).  It is brought up to
 *       date when the thread gets a CPU, so a thread that reads its own
 *       has every wait in it.
 *   /proc/self/task/<tid>/sched      its "sum_sleep_runtime" line: the time
 *       the thread was asleep, interruptibly or not (CONFIG_SCHEDSTATS and
 *       CONFIG_SCHED_DEBUG, on in Debian's kernels).  The kernel keeps it
 *       only while kernel.sched_schedstats is 1, which is off by default:
 *       schedstats_enable() turns it on for the run and
 *       schedstats_restore() puts the old value back, also on SIGINT,
 *       SIGTERM and SIGHUP.  It is added to when the thread wakes up, so a
 *       thread that reads its own has every sleep in it.
 *
 * The on-CPU time of schedstat is not used: it lags by up to a tick for a
 * running thread.  CLOCK_THREAD_CPUTIME_ID brings it up to date first.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "allocstat-run.h"

#define SCHEDSTATS_PATH "/proc/sys/kernel/sched_schedstats"

void sched_open(struct sched_files *f)
{
	char path[64];
	pid_t tid = gettid();

	snprintf(path, sizeof(path), "/proc/self/task/%d/schedstat", (int)tid);
	f->schedstat = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/self/task/%d/sched", (int)tid);
	f->sched = open(path, O_RDONLY | O_CLOEXEC);
}

void sched_close(struct sched_files *f)
{
	if (f->schedstat >= 0)
		close(f->schedstat);
	if (f->sched >= 0)
		close(f->sched);
	f->schedstat = f->sched = -1;
}

/* the whole of a small /proc file, NUL-terminated; its length or -1 */
static ssize_t read_whole(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	if (fd < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return -1;
	while (got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	if (n < 0 || got == len - 1)
		return -1;	/* an error, or more than we expect */
	buf[got] = '\0';
	return (ssize_t)got;
}

/* "<on-CPU> <run_delay> <slices>": the run_delay */
int sched_parse_schedstat(const char *s, uint64_t *run_delay)
{
	unsigned long long cpu, delay, slices;
	char end;

	if (sscanf(s, "%llu %llu %llu%c", &cpu, &delay, &slices, &end) != 4 ||
	    end != '\n')
		return -1;
	*run_delay = delay;
	return 0;
}

/*
 * The "sum_sleep_runtime" line of /proc/<pid>/sched ("se.statistics." in
 * front of it before 5.13), in ms with six decimals: ns.  -1 when there is
 * no such line (kernel.sched_schedstats is 0) or it does not parse.
 */
int sched_parse_sleep(const char *s, uint64_t *ns)
{
	static const char *const names[] = {
		"sum_sleep_runtime", "se.statistics.sum_sleep_runtime",
	};
	const char *line, *next;

	for (line = s; line && *line; line = next) {
		unsigned long long ms, frac;
		const char *p = line + strspn(line, " ");
		size_t len = 0;
		int n = -1;

		next = strchr(line, '\n');
		if (next)
			next++;
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !len; i++)
			if (!strncmp(p, names[i], strlen(names[i])) &&
			    (p[strlen(names[i])] == ' ' || p[strlen(names[i])] == ':'))
				len = strlen(names[i]);
		if (!len)
			continue;
		if (sscanf(p + len, " : %llu.%6llu%n", &ms, &frac, &n) != 2 || n < 0 ||
		    (p[len + n] != '\n' && p[len + n] != '\0'))
			return -1;
		*ns = ms * 1000000 + frac;
		return 0;
	}
	return -1;
}

void sched_sample(const struct sched_files *f, struct sched_sample *s)
{
	char buf[8192];

	s->run_delay_ok = read_whole(f->schedstat, buf, sizeof(buf)) > 0 &&
			  !sched_parse_schedstat(buf, &s->run_delay);
	s->sleep_ok = read_whole(f->sched, buf, sizeof(buf)) > 0 &&
		      !sched_parse_sleep(buf, &s->sleep);
}

/* ---- kernel.sched_schedstats ---- */

static char saved = '\0';	/* '0' when we turned it on */

static int write_sysctl(char c)
{
	int fd = open(SCHEDSTATS_PATH, O_WRONLY | O_CLOEXEC);
	int ok;

	if (fd < 0)
		return -1;
	ok = write(fd, &c, 1) == 1;
	close(fd);
	return ok ? 0 : -1;
}

static void restore_on_signal(int sig)
{
	/* async-signal-safe: open, write, close, signal, raise */
	schedstats_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * Turn kernel.sched_schedstats on for the run, if it is off.  Returns 0
 * when it is on; else -1 and why in why[].
 */
int schedstats_enable(char *why, size_t len)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	char c = '\0';
	int fd = open(SCHEDSTATS_PATH, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(why, len, "%s: %s (a kernel without CONFIG_SCHEDSTATS)",
			 SCHEDSTATS_PATH, strerror(errno));
		return -1;
	}
	if (read(fd, &c, 1) != 1)
		c = '\0';
	close(fd);
	if (c == '1')
		return 0;
	if (c != '0') {
		snprintf(why, len, "%s: unreadable", SCHEDSTATS_PATH);
		return -1;
	}
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction sa = { .sa_handler = restore_on_signal };

		sigemptyset(&sa.sa_mask);
		sa.sa_flags = SA_RESETHAND;
		sigaction(sigs[i], &sa, NULL);
	}
	saved = '0';
	if (write_sysctl('1')) {
		saved = '\0';
		snprintf(why, len, "kernel.sched_schedstats is 0 and cannot be set: %s "
			 "(run as root, or sysctl kernel.sched_schedstats=1)", strerror(errno));
		return -1;
	}
	return 0;
}

void schedstats_restore(void)
{
	if (saved && !write_sysctl(saved))
		saved = '\0';
}
