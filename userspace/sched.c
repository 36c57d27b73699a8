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
 *       schedstats_restore() puts the old value back, before any output,
 *       and on SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGPIPE.  It is added
 *       to when the thread wakes up, so a thread that reads its own has
 *       every sleep in it.
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
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "allocstat-run.h"

#define SCHEDSTATS_PATH "/proc/sys/kernel/sched_schedstats"

/* $ALLOCSTAT_SCHEDSTATS replaces the sysctl's path (for tests); read once */
static char sysctl_path[256] = SCHEDSTATS_PATH;

/*
 * Each thread holds its two files open from its start to its end, so that
 * a sample costs two reads; raise_fd_limit() makes room for them.
 */
void sched_open(struct sched_files *f)
{
	char path[64];
	pid_t tid = gettid();

	f->err = 0;
	snprintf(path, sizeof(path), "/proc/self/task/%d/schedstat", (int)tid);
	f->schedstat = open(path, O_RDONLY | O_CLOEXEC);
	if (f->schedstat < 0)
		f->err = errno;
	snprintf(path, sizeof(path), "/proc/self/task/%d/sched", (int)tid);
	f->sched = open(path, O_RDONLY | O_CLOEXEC);
	if (f->sched < 0 && !f->err)
		f->err = errno;
}

void sched_close(struct sched_files *f)
{
	if (f->schedstat >= 0)
		close(f->schedstat);
	if (f->sched >= 0)
		close(f->sched);
	f->schedstat = f->sched = -1;
}

/*
 * Two descriptors per thread: raise the soft limit on open files to the
 * hard one (the usual soft limit, 1024, would run out at 512 threads), and
 * warn when even that is short.
 */
void raise_fd_limit(int threads)
{
	struct rlimit rl;
	rlim_t need = 2 * (rlim_t)threads + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur < need && rl.rlim_cur < rl.rlim_max) {
		struct rlimit raised = { rl.rlim_max, rl.rlim_max };

		if (!setrlimit(RLIMIT_NOFILE, &raised))
			rl = raised;
	}
	if (rl.rlim_cur < need)
		warn("%d threads need %llu open files and the limit is %llu (ulimit -n): "
		     "some threads' runqueue and sleep times will be unknown", threads,
		     (unsigned long long)need, (unsigned long long)rl.rlim_cur);
}

/* the whole of a small /proc file, NUL-terminated; its length or -1 */
static ssize_t read_whole(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n = 0;

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

/* '0' when we turned it on; read by the signal handler */
static volatile sig_atomic_t saved;

static const int restore_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE };

static int write_sysctl(char c)
{
	int fd = open(sysctl_path, O_WRONLY | O_CLOEXEC);
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
	const char *env_path = getenv("ALLOCSTAT_SCHEDSTATS");
	char c = '\0';
	int fd;

	if (env_path && *env_path)
		snprintf(sysctl_path, sizeof(sysctl_path), "%s", env_path);
	fd = open(sysctl_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, len, "%s: %s (a kernel without CONFIG_SCHEDSTATS)",
			 sysctl_path, strerror(errno));
		return -1;
	}
	if (read(fd, &c, 1) != 1)
		c = '\0';
	close(fd);
	if (c == '1')
		return 0;
	if (c != '0') {
		snprintf(why, len, "%s: unreadable", sysctl_path);
		return -1;
	}
	saved = '0';
	if (write_sysctl('1')) {
		saved = 0;
		snprintf(why, len, "kernel.sched_schedstats is 0 and cannot be set: %s "
			 "(run as root, or sysctl kernel.sched_schedstats=1)", strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < sizeof(restore_signals) / sizeof(restore_signals[0]); i++) {
		struct sigaction sa = { .sa_handler = restore_on_signal };

		sigemptyset(&sa.sa_mask);
		sa.sa_flags = SA_RESETHAND;
		sigaction(restore_signals[i], &sa, NULL);
	}
	return 0;
}

/*
 * In a run's child process: the parent restores the sysctl, not the child,
 * and the child dies with the parent (a SIGTERM to allocstat-run alone
 * must not leave a run going on, holding its memory).
 */
void schedstats_child(pid_t parent)
{
	saved = 0;
	for (size_t i = 0; i < sizeof(restore_signals) / sizeof(restore_signals[0]); i++)
		signal(restore_signals[i], SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);	/* the parent is already gone */
}

/*
 * Put 0 back, if this process turned it on.  Another allocstat-run that
 * found it on because this one had turned it on loses its sleep times from
 * then on (allocstat-run(1), BUGS).
 */
void schedstats_restore(void)
{
	if (saved && !write_sysctl((char)saved))
		saved = 0;
}
