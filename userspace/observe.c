// SPDX-License-Identifier: GPL-2.0
/*
 * allocstat-run: observe a program instead of running the workload.
 *
 *   allocstat-run [OPTIONS] -- CMD [ARGS...]
 *	Fork a child that waits on a pipe, write "track <child>" to
 *	/proc/allocstat (the module follows the child's forks), let the child
 *	exec CMD, wait for it, then take every row whose root column is the
 *	child: the threads of CMD and of every process it forked.  A row that
 *	was created after tracking began counts from 0, so no deltas are
 *	needed; the exit hook's task_* columns give each thread's lifetime,
 *	CPU, runqueue and sleep time.  A row still alive (a daemonized
 *	descendant) is read from /proc/<tgid>/task/<tid>/ instead.
 *
 *   allocstat-run -p PID [-d SECONDS] [-i SECONDS]
 *	Write "track PID" and measure a window: /proc/PID/task/<tid>/ and
 *	/proc/allocstat at its start and at its end, per thread deltas.  A
 *	thread that exits in the window is taken from its row's task_*
 *	columns less the start; a thread born in the window counts from 0.
 *	Rows are told apart by (tid, task_start_ns): a tid can be reused.
 *
 * Both put the module's track= back as it was at the end, on error and on
 * SIGTERM and SIGHUP (and SIGINT for -p) too.  Without the module the
 * report has the scheduler's times only (-p), or the tree's getrusage
 * totals (-- CMD: per thread data needs the module's rows).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "allocstat-run.h"

#define NS_PER_SEC 1000000000ULL
/* stat's starttime is in ticks: a start that close is the same task's */
#define START_SLACK_NS (50 * 1000000ULL)

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* ---- the module's filter (track=), put back on every way out ---- */

/*
 * The command that undoes our "track", made before anything can fail so
 * that the signal handler only has to open, write and close (all three
 * async-signal-safe).  Empty: nothing to undo.
 */
static char restore_cmd[64];
static char control_path[256];
static volatile sig_atomic_t stop_window;	/* -p: SIGINT ends the window */

/*
 * Where the commands go: $ALLOCSTAT_CONTROL (tests: a plain file, opened
 * for appending, collects them), else the file that is read.
 */
static int control_write(const char *cmd)
{
	const char *test = getenv("ALLOCSTAT_CONTROL");
	int fd, ret = 0;
	size_t len = strlen(cmd);

	if (test && *test)
		fd = open(test, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	else
		fd = open(control_path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, cmd, len) != (ssize_t)len)
		ret = errno ? -errno : -EIO;
	/* a test file gets one command a line */
	if (!ret && test && *test && write(fd, "\n", 1) != 1)
		ret = -EIO;
	close(fd);
	return ret;
}

/* async-signal-safe: see restore_cmd */
static void filter_restore(void)
{
	const char *test = getenv("ALLOCSTAT_CONTROL");
	int fd;

	if (!restore_cmd[0])
		return;
	if (test && *test)
		fd = open(test, O_WRONLY | O_APPEND | O_CLOEXEC);
	else
		fd = open(control_path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, restore_cmd, strlen(restore_cmd)) > 0 && test && *test)
			(void)!write(fd, "\n", 1);
		close(fd);
	}
	restore_cmd[0] = '\0';
}

static void restore_and_die(int sig)
{
	filter_restore();
	schedstats_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void on_sigint(int sig)
{
	(void)sig;
	stop_window = 1;
}

/*
 * Write "track PID".  The undo: "track all" if the filter was all (our
 * command replaced it by the set {PID}); nothing if PID was in the set
 * already; else "untrack PID".  Returns 0, or -errno with a message said.
 */
static int filter_track(const struct module_info *mi, pid_t pid, struct observation *o)
{
	const struct allocstat_table *t = &mi->first;
	char cmd[48];
	int ret;

	snprintf(control_path, sizeof(control_path), "%s", mi->path);
	snprintf(o->track_before, sizeof(o->track_before), "%s", t->track);
	if (!strcmp(t->track, "all"))
		snprintf(restore_cmd, sizeof(restore_cmd), "track all");
	else if (!allocstat_track_has(t, (uint64_t)pid))
		snprintf(restore_cmd, sizeof(restore_cmd), "untrack %d", (int)pid);
	snprintf(cmd, sizeof(cmd), "track %d", (int)pid);
	ret = control_write(cmd);
	if (ret) {
		restore_cmd[0] = '\0';
		fprintf(stderr, "allocstat-run: cannot write '%s' to %s: %s%s\n", cmd,
			control_path, strerror(-ret), ret == -EPERM || ret == -EACCES ?
			" (it needs CAP_SYS_ADMIN: run as root)" : "");
	}
	if (!strcmp(t->track, "absent"))
		snprintf(o->note, sizeof(o->note), "this module's header has no track=: it may "
			 "not follow forks (allocstat %s)", t->version);
	return ret;
}

/* ---- one thread from /proc/<tgid>/task/<tid>/ ---- */

struct psnap {
	pid_t tgid, tid;
	uint64_t start_ticks;		/* stat's starttime: tells reused tids apart */
	uint64_t cpu_ns, run_delay_ns, uticks, sticks;
	uint64_t sleep_ns;
	bool cpu_ok, sleep_ok;		/* schedstat + stat; sched */
	char comm[ALLOCSTAT_COMM_LEN];
};

static ssize_t read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;
	ssize_t n = 0;

	if (fd < 0)
		return -1;
	while (got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	if (n < 0)
		return -1;
	buf[got] = '\0';
	return (ssize_t)got;
}

/*
 * /proc/<pid>/stat: utime (field 14), stime (15), starttime (22), all in
 * clock ticks.  The fields are counted after the last ')': comm may hold
 * blanks and parentheses.
 */
int observe_thread_stat(const char *s, uint64_t *utime, uint64_t *stime,
			uint64_t *start_ticks)
{
	const char *p = strrchr(s, ')');
	unsigned long long v[20];
	int field = 3;

	if (!p)
		return -1;
	p++;
	for (int i = 0; field <= 22; field++) {
		char *end;

		while (*p == ' ')
			p++;
		if (!*p)
			return -1;
		if (field >= 14 && field <= 22) {
			errno = 0;
			v[i] = strtoull(p, &end, 10);
			if (errno || end == p || (*end != ' ' && *end != '\n' && *end))
				return -1;
			i++;
			p = end;
		} else {
			p += strcspn(p, " ");
		}
	}
	*utime = v[0];
	*stime = v[1];
	*start_ticks = v[8];
	return 0;
}

/*
 * Split an exact CPU time in the ratio of the sampled tick counts, as the
 * kernel's cputime_adjust() does for getrusage: no system ticks, all user.
 */
void observe_split_cpu(uint64_t cpu_ns, uint64_t uticks, uint64_t sticks,
		       uint64_t *utime_ns, uint64_t *stime_ns)
{
	if (!sticks) {
		*utime_ns = cpu_ns;
	} else if (!uticks) {
		*utime_ns = 0;
	} else {
		*utime_ns = (uint64_t)((double)cpu_ns * (double)uticks /
				       (double)(uticks + sticks));
	}
	*stime_ns = cpu_ns - *utime_ns;
}

static int proc_thread(pid_t tgid, pid_t tid, struct psnap *p)
{
	char path[96], buf[8192];
	unsigned long long cpu, delay, slices;

	memset(p, 0, sizeof(*p));
	p->tgid = tgid;
	p->tid = tid;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)tgid, (int)tid);
	if (read_file(path, buf, sizeof(buf)) <= 0 ||
	    observe_thread_stat(buf, &p->uticks, &p->sticks, &p->start_ticks))
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)tgid, (int)tid);
	if (read_file(path, p->comm, sizeof(p->comm)) > 0)
		p->comm[strcspn(p->comm, "\n")] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", (int)tgid, (int)tid);
	p->cpu_ok = read_file(path, buf, sizeof(buf)) > 0 &&
		    sscanf(buf, "%llu %llu %llu", &cpu, &delay, &slices) == 3;
	if (p->cpu_ok) {
		p->cpu_ns = cpu;
		p->run_delay_ns = delay;
	}
	snprintf(path, sizeof(path), "/proc/%d/task/%d/sched", (int)tgid, (int)tid);
	p->sleep_ok = read_file(path, buf, sizeof(buf)) > 0 &&
		      !sched_parse_sleep(buf, &p->sleep_ns);
	return 0;
}

/* ---- results ---- */

/* room for n threads, in a mapping as run_workload() makes (run_free()) */
static int run_alloc(struct run *r, int n)
{
	size_t len = (size_t)(n ? n : 1) * sizeof(struct thread_result);
	void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);

	if (mem == MAP_FAILED)
		return -1;
	r->thr = mem;
	r->thr_map = mem;
	r->thr_map_len = len;
	r->cfg.threads = 0;
	r->init_on_alloc = -1;
	r->no_thp = !thp_compiled();
	r->thp_zeroed_twice = thp_zeroed_twice();
	return 0;
}

static struct thread_result *add_thread(struct run *r, pid_t tgid, pid_t tid,
					const char *comm)
{
	struct thread_result *t = &r->thr[r->cfg.threads];

	memset(t, 0, sizeof(*t));
	t->index = r->cfg.threads++;
	t->observed = true;
	t->tgid = tgid;
	t->tid = tid;
	snprintf(t->comm, sizeof(t->comm), "%s", comm);
	t->minflt = t->majflt = -1;	/* not measured */
	return t;
}

/* the scheduler's times from the values of a psnap (or their deltas) */
static void set_sched(struct thread_result *t, const struct psnap *p)
{
	t->cpu_ok = p->cpu_ok;
	t->run_delay_ok = p->cpu_ok;
	t->sleep_ok = p->sleep_ok;
	if (p->cpu_ok) {
		t->cpu_ns = p->cpu_ns;
		t->run_delay_ns = p->run_delay_ns;
		observe_split_cpu(p->cpu_ns, p->uticks, p->sticks, &t->utime_ns,
				  &t->stime_ns);
	}
	t->sleep_ns = p->sleep_ns;
}

/* the exit hook's values, from a row; what the row lacks stays unknown */
static void set_task(struct thread_result *t, const struct allocstat_row *row)
{
	t->cpu_ok = allocstat_has_task(row, ALLOCSTAT_TASK_UTIME) &&
		    allocstat_has_task(row, ALLOCSTAT_TASK_STIME);
	if (t->cpu_ok) {
		t->utime_ns = row->task[ALLOCSTAT_TASK_UTIME];
		t->stime_ns = row->task[ALLOCSTAT_TASK_STIME];
		t->cpu_ns = t->utime_ns + t->stime_ns;
	}
	t->run_delay_ok = allocstat_has_task(row, ALLOCSTAT_TASK_RUNQ);
	t->run_delay_ns = row->task[ALLOCSTAT_TASK_RUNQ];
	t->sleep_ok = allocstat_has_task(row, ALLOCSTAT_TASK_SLEEP);
	t->sleep_ns = row->task[ALLOCSTAT_TASK_SLEEP];
}

static bool in_tree(const struct allocstat_table *t, const struct allocstat_row *row,
		    pid_t root)
{
	/* an older module without root: the process itself only */
	if (!t->has_root_col)
		return row->tgid == (uint64_t)root;
	return row->has_root && row->root == (uint64_t)root;
}

/*
 * -- CMD: every row of the tree rooted at root, in table order.  A row of
 * a thread that has exited has its lifetime in the task_* columns; a live
 * one (a daemon left behind) is read from /proc now.  Returns the number
 * of threads, or -1 when out of memory.
 */
int observe_from_rows(struct run *r, const struct allocstat_table *t, pid_t root,
		      uint64_t mono_now)
{
	int n = 0;

	for (size_t i = 0; i < t->nr_rows; i++)
		n += in_tree(t, &t->rows[i], root);
	if (run_alloc(r, n))
		return -1;
	r->counters = true;
	r->init_on_alloc = t->init_on_alloc;
	for (size_t i = 0; i < t->nr_rows; i++) {
		const struct allocstat_row *row = &t->rows[i];
		bool started = allocstat_has_task(row, ALLOCSTAT_TASK_START);
		uint64_t start = row->task[ALLOCSTAT_TASK_START];
		struct thread_result *th;
		struct psnap p;

		if (!in_tree(t, row, root))
			continue;
		th = add_thread(r, (pid_t)row->tgid, (pid_t)row->tid, row->comm);
		th->exited = row->exited;
		th->matched = true;
		th->present = row->present;
		memcpy(th->val, row->val, sizeof(th->val));
		if (allocstat_has_task(row, ALLOCSTAT_TASK_END)) {
			set_task(th, row);
			th->life_ok = started && row->task[ALLOCSTAT_TASK_END] >= start;
			if (th->life_ok)
				th->life_ns = row->task[ALLOCSTAT_TASK_END] - start;
		} else if (!row->exited && !proc_thread(th->tgid, th->tid, &p)) {
			set_sched(th, &p);
			th->life_ok = started && mono_now >= start;
			if (th->life_ok)
				th->life_ns = mono_now - start;
		}
		/* else: exited without the exit hook's values, or gone: unknown */
	}
	return n;
}

/* ---- output ---- */

static FILE *open_output(FILE *dflt)
{
	FILE *f;

	if (!env.output)
		return dflt;
	f = fopen(env.output, "we");
	if (!f)
		fprintf(stderr, "allocstat-run: %s: %s\n", env.output, strerror(errno));
	return f;
}

static int close_output(FILE *out)
{
	int bad = fflush(out) || ferror(out);

	if (out != stdout && out != stderr)
		bad |= fclose(out) != 0;
	if (bad)
		fprintf(stderr, "allocstat-run: write error on %s\n",
			env.output ? env.output : out == stdout ? "stdout" : "stderr");
	return bad;
}

static void emit(FILE *out, struct run *r, const struct module_info *mi,
		 const struct observation *o)
{
	compute_breakdown(r);
	if (env.json) {
		json_observed(out, mi, r, o);
	} else {
		report_observed(out, r, mi, o);
		if (env.findings && r->cfg.threads)
			report_findings(out, r);
		if (o->attach)
			fputc('\n', out);	/* between the windows of -i */
	}
}

/* ---- -- CMD ---- */

static void set_handlers(bool attach)
{
	/* SIGPIPE: a reader of the report that went away (-p -i | head) */
	static const int fatal[] = { SIGTERM, SIGHUP, SIGPIPE };
	struct sigaction sa = { .sa_handler = restore_and_die };

	/* after schedstats_enable(): these replace its handlers, and do its part */
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		sigaction(fatal[i], &sa, NULL);
	if (attach) {
		sigaction(SIGQUIT, &sa, NULL);
		/* no SA_RESTART: poll() returns, and the window ends */
		sa.sa_handler = on_sigint;
		sigaction(SIGINT, &sa, NULL);
	} else {
		/* the terminal sends them to CMD too: CMD decides */
		signal(SIGINT, SIG_IGN);
		signal(SIGQUIT, SIG_IGN);
	}
}

/* in the child, before exec: CMD starts with the default dispositions */
static void child_defaults(void)
{
	static const int sigs[] = { SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGPIPE };

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
}

static int run_command(const struct module_info *mi)
{
	struct observation o = { 0 };
	struct allocstat_table t = { 0 };
	struct run r = { 0 };
	int go[2] = { -1, -1 }, errp[2] = { -1, -1 }, status, child_errno = 0;
	bool counters = mi->loaded;
	struct rusage ru;
	FILE *out;
	pid_t pid;
	ssize_t n;
	int err = 1;

	out = open_output(stderr);
	if (!out)
		return 1;
	if (pipe2(go, O_CLOEXEC) || pipe2(errp, O_CLOEXEC)) {
		fprintf(stderr, "allocstat-run: pipe: %s\n", strerror(errno));
		goto out;
	}
	env.schedstats = !schedstats_enable(env.schedstats_why, sizeof(env.schedstats_why));
	fflush(NULL);	/* nothing buffered twice */
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "allocstat-run: fork: %s\n", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		char c;

		child_defaults();
		close(go[1]);
		close(errp[0]);
		/* wait until we are tracked; EOF: the parent gave up */
		if (read(go[0], &c, 1) != 1)
			_exit(127);
		execvp(env.command[0], env.command);
		child_errno = errno;
		(void)!write(errp[1], &child_errno, sizeof(child_errno));
		_exit(127);
	}
	close(go[0]);
	close(errp[1]);
	go[0] = errp[1] = -1;
	o.pid = pid;
	o.exit_status = -1;
	set_handlers(false);
	if (counters && filter_track(mi, pid, &o)) {
		counters = false;
		if (env.require_module) {
			close(go[1]);	/* the child exits 127 unexecuted */
			go[1] = -1;
			waitpid(pid, NULL, 0);
			goto out;
		}
	}
	if (write(go[1], "g", 1) != 1) {
		fprintf(stderr, "allocstat-run: cannot start %s: %s\n", env.command[0],
			strerror(errno));
	}
	close(go[1]);
	go[1] = -1;
	/* EOF when exec succeeded (O_CLOEXEC), the errno when it failed */
	do
		n = read(errp[0], &child_errno, sizeof(child_errno));
	while (n < 0 && errno == EINTR);
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "allocstat-run: wait: %s\n", strerror(errno));
			goto out;
		}
	}
	if (counters) {
		char why[200];

		if (allocstat_read(mi->path, &t, why, sizeof(why))) {
			fprintf(stderr, "allocstat-run: %s\n", why);
			counters = false;
		}
	}
	/* before any output: a reader that goes away must not leave them changed */
	filter_restore();
	schedstats_restore();

	if (n == (ssize_t)sizeof(child_errno)) {
		fprintf(stderr, "allocstat-run: %s: %s\n", env.command[0], strerror(child_errno));
		err = child_errno == EACCES || child_errno == ENOEXEC ? 126 : 127;
		goto out;
	}
	o.exit_status = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);

	if (counters) {
		if (observe_from_rows(&r, &t, pid, now_ns(CLOCK_MONOTONIC)) < 0) {
			fprintf(stderr, "allocstat-run: out of memory\n");
			goto out;
		}
	} else if (run_alloc(&r, 0)) {
		goto out;
	}
	if (!counters)
		fprintf(stderr, "allocstat-run: per-thread data needs the module's rows: "
			"showing the command's getrusage totals only\n");
	r.counters = counters;
	emit(out, &r, mi, &o);
	if (!env.json) {
		fprintf(out, "process tree (getrusage of the waited-for processes): "
			"user %.3f s, system %.3f s, minflt %ld, majflt %ld, max RSS %ld KiB\n",
			(double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
			(double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6,
			ru.ru_minflt, ru.ru_majflt, ru.ru_maxrss);
	}
	err = close_output(out) ? 1 : o.exit_status;
	out = NULL;
out:
	filter_restore();
	schedstats_restore();
	if (out)
		close_output(out);
	for (int i = 0; i < 2; i++) {
		if (go[i] >= 0)
			close(go[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	allocstat_table_free(&t);
	run_free(&r);
	return err;
}

/* ---- -p PID ---- */

struct window_end {
	struct psnap *snaps;		/* live threads */
	size_t n, cap;
	struct allocstat_table table;
	bool table_ok;
	uint64_t mono_ns;
};

static int snaps_add(struct window_end *w, pid_t tgid, pid_t tid)
{
	struct psnap p;

	for (size_t i = 0; i < w->n; i++)
		if (w->snaps[i].tgid == tgid && w->snaps[i].tid == tid)
			return 0;
	if (proc_thread(tgid, tid, &p))
		return 0;	/* gone meanwhile: its row, if any, has it */
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 64;
		struct psnap *s = realloc(w->snaps, cap * sizeof(*s));

		if (!s)
			return -1;
		w->snaps = s;
		w->cap = cap;
	}
	w->snaps[w->n++] = p;
	return 0;
}

/*
 * The threads of pid, and the live rows of processes it forked since we
 * track it (root = pid), with the module's table.
 */
static int take_snapshot(struct window_end *w, pid_t pid, bool counters)
{
	char path[64], why[200];
	struct dirent *de;
	DIR *d;

	memset(w, 0, sizeof(*w));
	if (counters) {
		w->table_ok = !allocstat_read(NULL, &w->table, why, sizeof(why));
		if (!w->table_ok)
			fprintf(stderr, "allocstat-run: %s\n", why);
	}
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		char *end;
		long tid = strtol(de->d_name, &end, 10);

		if (*end || tid <= 0)
			continue;
		if (snaps_add(w, pid, (pid_t)tid))
			break;
	}
	if (d)
		closedir(d);
	for (size_t i = 0; w->table_ok && i < w->table.nr_rows; i++) {
		const struct allocstat_row *row = &w->table.rows[i];

		if (!row->exited && in_tree(&w->table, row, pid) &&
		    snaps_add(w, (pid_t)row->tgid, (pid_t)row->tid))
			return -1;
	}
	w->mono_ns = now_ns(CLOCK_MONOTONIC);
	return 0;
}

static void snapshot_free(struct window_end *w)
{
	free(w->snaps);
	allocstat_table_free(&w->table);
	memset(w, 0, sizeof(*w));
}

static const struct psnap *find_snap(const struct window_end *w, pid_t tgid, pid_t tid,
				     uint64_t start_ticks)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->snaps[i].tgid == tgid && w->snaps[i].tid == tid &&
		    w->snaps[i].start_ticks == start_ticks)
			return &w->snaps[i];
	return NULL;
}

/* the newest row of (tgid, tid); alive_only: skip exited rows */
static const struct allocstat_row *find_row(const struct window_end *w, pid_t tgid,
					    pid_t tid, bool alive_only)
{
	if (!w->table_ok)
		return NULL;
	for (size_t i = w->table.nr_rows; i-- > 0;) {
		const struct allocstat_row *row = &w->table.rows[i];

		if (row->tid == (uint64_t)tid && row->tgid == (uint64_t)tgid &&
		    (!alive_only || !row->exited))
			return row;
	}
	return NULL;
}

/* the row of the same task (tid and task_start_ns) in another table */
static const struct allocstat_row *same_task(const struct window_end *w,
					     const struct allocstat_row *row)
{
	if (!w->table_ok || !row || !allocstat_has_task(row, ALLOCSTAT_TASK_START))
		return NULL;
	for (size_t i = w->table.nr_rows; i-- > 0;) {
		const struct allocstat_row *x = &w->table.rows[i];

		if (x->tid == row->tid && x->tgid == row->tgid &&
		    allocstat_has_task(x, ALLOCSTAT_TASK_START) &&
		    x->task[ALLOCSTAT_TASK_START] == row->task[ALLOCSTAT_TASK_START])
			return x;
	}
	return NULL;
}

/* counters of row a less those of row b (NULL: born in the window) */
static void set_counters(struct thread_result *t, const struct allocstat_row *a,
			 const struct allocstat_row *b)
{
	if (!a)
		return;
	t->matched = true;
	t->present = a->present;
	for (int f = 0; f < ALLOCSTAT_NR_FIELDS; f++) {
		uint64_t base = allocstat_has(b, f) ? b->val[f] : 0;

		if (!allocstat_has(a, f))
			continue;
		/* maxima are the task's, not deltas (as apply_deltas()) */
		if (strstr(allocstat_field_name(f), "_max_ns"))
			t->val[f] = a->val[f];
		else
			t->val[f] = a->val[f] > base ? a->val[f] - base : 0;
	}
}

static uint64_t sub(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

/* a psnap's times less another's (the start of the window) */
static void psnap_delta(struct psnap *d, const struct psnap *b)
{
	d->cpu_ns = sub(d->cpu_ns, b->cpu_ns);
	d->run_delay_ns = sub(d->run_delay_ns, b->run_delay_ns);
	d->uticks = sub(d->uticks, b->uticks);
	d->sticks = sub(d->sticks, b->sticks);
	d->cpu_ok &= b->cpu_ok;
	d->sleep_ok &= b->sleep_ok;
	d->sleep_ns = sub(d->sleep_ns, b->sleep_ns);
}

/*
 * A thread's start from stat's starttime (ticks since boot, CLOCK_BOOTTIME)
 * in CLOCK_MONOTONIC ns, to a tick: when it has no row to say it exactly.
 */
static uint64_t ticks_to_mono(uint64_t ticks)
{
	long hz = sysconf(_SC_CLK_TCK);
	uint64_t boot = now_ns(CLOCK_BOOTTIME), mono = now_ns(CLOCK_MONOTONIC);
	uint64_t at = ticks * (NS_PER_SEC / (uint64_t)(hz > 0 ? hz : 100));

	return sub(at, boot - mono);
}

/* the window from a to b: one thread_result per thread seen in it */
static int window_results(struct run *r, const struct window_end *a,
			  const struct window_end *b, pid_t pid)
{
	size_t max = b->n + (b->table_ok ? b->table.nr_rows : 0);

	if (run_alloc(r, (int)max))
		return -1;
	r->counters = b->table_ok && a->table_ok;
	r->init_on_alloc = b->table_ok ? b->table.init_on_alloc : -1;
	/* the threads alive at the end */
	for (size_t i = 0; i < b->n; i++) {
		struct psnap d = b->snaps[i];
		const struct psnap *s = find_snap(a, d.tgid, d.tid, d.start_ticks);
		const struct allocstat_row *row = find_row(b, d.tgid, d.tid, true);
		struct thread_result *t = add_thread(r, d.tgid, d.tid, d.comm);
		uint64_t start;

		if (s) {
			psnap_delta(&d, s);
			start = a->mono_ns;
		} else if (allocstat_has_task(row, ALLOCSTAT_TASK_START)) {
			start = row->task[ALLOCSTAT_TASK_START];
		} else {
			start = ticks_to_mono(d.start_ticks);
		}
		if (start < a->mono_ns)
			start = a->mono_ns;
		set_sched(t, &d);
		t->life_ok = true;
		t->life_ns = sub(b->mono_ns, start);
		if (r->counters)
			set_counters(t, row, same_task(a, row));
	}
	/* the threads that exited in the window: their rows */
	for (size_t i = 0; b->table_ok && i < b->table.nr_rows; i++) {
		const struct allocstat_row *row = &b->table.rows[i];
		const struct allocstat_row *before;
		const struct psnap *s = NULL;
		uint64_t start, end = row->task[ALLOCSTAT_TASK_END];
		struct thread_result *t;
		struct psnap d = { 0 };

		if (!row->exited || !in_tree(&b->table, row, pid) ||
		    !allocstat_has_task(row, ALLOCSTAT_TASK_END) || end < a->mono_ns)
			continue;
		before = same_task(a, row);
		/*
		 * Alive at the start: the same tid, and the same task (its row
		 * then, or, if it had none yet, a start within a few ticks).
		 */
		for (size_t k = 0; k < a->n && !s; k++) {
			const struct psnap *x = &a->snaps[k];
			uint64_t at = ticks_to_mono(x->start_ticks);
			uint64_t rs = row->task[ALLOCSTAT_TASK_START];

			if (x->tgid != (pid_t)row->tgid || x->tid != (pid_t)row->tid)
				continue;
			if (before ? !before->exited :
			    allocstat_has_task(row, ALLOCSTAT_TASK_START) &&
			    (at > rs ? at - rs : rs - at) < START_SLACK_NS)
				s = x;
		}
		t = add_thread(r, (pid_t)row->tgid, (pid_t)row->tid, row->comm);
		t->exited = true;
		set_task(t, row);
		if (s) {
			/* from the exit hook's totals less the start of the window */
			d.cpu_ns = t->cpu_ns;
			d.run_delay_ns = t->run_delay_ns;
			d.sleep_ns = t->sleep_ns;
			d.cpu_ok = t->cpu_ok && t->run_delay_ok;
			d.sleep_ok = t->sleep_ok;
			psnap_delta(&d, s);
			if (t->cpu_ok) {
				/* the exit hook's split, scaled to the window's CPU time */
				uint64_t cpu = d.cpu_ns;

				observe_split_cpu(cpu, t->utime_ns, t->stime_ns, &t->utime_ns,
						  &t->stime_ns);
				t->cpu_ns = cpu;
			}
			t->run_delay_ns = d.run_delay_ns;
			t->sleep_ns = d.sleep_ns;
			t->cpu_ok &= s->cpu_ok;
			t->run_delay_ok &= s->cpu_ok;
			t->sleep_ok &= s->sleep_ok;
		}
		start = allocstat_has_task(row, ALLOCSTAT_TASK_START) ?
			row->task[ALLOCSTAT_TASK_START] : 0;
		if (start < a->mono_ns)
			start = a->mono_ns;
		t->life_ok = true;
		t->life_ns = sub(end, start);
		set_counters(t, row, before);
	}
	return 0;
}

/* whether the process is gone (pidfd: works for a process not our child) */
static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

static bool process_gone(pid_t pid, int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	if (pidfd >= 0)
		return poll(&p, 1, 0) > 0;
	return kill(pid, 0) && errno == ESRCH;
}

/*
 * Sleep until deadline (0: none), until the process exits or SIGINT.
 * Returns true if the process is gone.
 */
static bool wait_window(pid_t pid, int pidfd, uint64_t deadline)
{
	while (!stop_window) {
		uint64_t now = now_ns(CLOCK_MONOTONIC);
		int ms = 200;	/* without a pidfd, how often to look */
		struct pollfd p = { .fd = pidfd, .events = POLLIN };

		if (deadline && now >= deadline)
			return false;
		if (deadline && (deadline - now) / 1000000 < (uint64_t)ms)
			ms = (int)((deadline - now + 999999) / 1000000);
		if (pidfd >= 0) {
			if (poll(&p, 1, deadline ? ms : -1) > 0)
				return true;
		} else {
			if (process_gone(pid, -1))
				return true;
			poll(NULL, 0, ms);
		}
	}
	return process_gone(pid, pidfd);
}

static int run_attach(const struct module_info *mi)
{
	struct observation o = { .attach = true, .pid = env.attach, .exit_status = -1 };
	struct window_end w[2];
	bool counters = mi->loaded, gone = false;
	uint64_t t0;
	FILE *out;
	int pidfd, err = 1, cur = 0;
	char path[64];

	memset(w, 0, sizeof(w));
	snprintf(path, sizeof(path), "/proc/%d", (int)env.attach);
	if (access(path, F_OK) || (kill(env.attach, 0) && errno == ESRCH)) {
		fprintf(stderr, "allocstat-run: -p %d: no such process\n", (int)env.attach);
		return 127;
	}
	pidfd = open_pidfd(env.attach);
	out = open_output(stdout);
	if (!out)
		goto out_pidfd;
	env.schedstats = !schedstats_enable(env.schedstats_why, sizeof(env.schedstats_why));
	set_handlers(true);
	if (counters && filter_track(mi, env.attach, &o)) {
		counters = false;
		if (env.require_module)
			goto out;
	}
	if (take_snapshot(&w[0], env.attach, counters))
		goto out_oom;
	if (!w[0].n) {
		fprintf(stderr, "allocstat-run: -p %d: the process is gone\n", (int)env.attach);
		err = 127;
		goto out;
	}
	t0 = w[0].mono_ns;
	for (o.interval = 1; !gone && !stop_window; o.interval++) {
		uint64_t deadline = 0, until = env.duration_ns ? t0 + env.duration_ns : 0;
		struct run r = { 0 };

		if (env.interval_ns)
			deadline = w[cur].mono_ns + env.interval_ns;
		if (until && (!deadline || until < deadline))
			deadline = until;
		gone = wait_window(env.attach, pidfd, deadline);
		if (take_snapshot(&w[!cur], env.attach, counters))
			goto out_oom;
		o.exited = gone;
		o.window_ns = w[!cur].mono_ns - w[cur].mono_ns;
		if (window_results(&r, &w[cur], &w[!cur], env.attach))
			goto out_oom;
		emit(out, &r, mi, &o);
		fflush(out);
		run_free(&r);
		snapshot_free(&w[cur]);
		cur = !cur;
		if (until && w[cur].mono_ns >= until)
			break;
		if (!env.interval_ns)
			break;
	}
	err = 0;
	goto out;
out_oom:
	fprintf(stderr, "allocstat-run: out of memory\n");
out:
	filter_restore();
	schedstats_restore();
	if (out && close_output(out))
		err = 1;
	snapshot_free(&w[0]);
	snapshot_free(&w[1]);
out_pidfd:
	if (pidfd >= 0)
		close(pidfd);
	return err;
}

int observe_main(const struct module_info *mi)
{
	if (!mi->loaded)
		fprintf(stderr, "allocstat-run: %s%s\n", mi->why,
			env.require_module ? " (--require-module)" : "");
	if (!mi->loaded && env.require_module)
		return 1;
	return env.command ? run_command(mi) : run_attach(mi);
}
