// SPDX-License-Identifier: GPL-2.0
/*
 * allocstat-run: the workload.  Each method is a small allocate / free
 * pair; every thread allocates its blocks, touches them and frees them,
 * timing the three phases (will-it-scale style: one shared main loop,
 * per-thread results on their own cache lines).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "allocstat-run.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23		/* Linux 5.14 */
#endif

#define CHUNK MIB		/* touch/read granularity, progress updates */

static struct {
	long page_size;
	int fd;			/* file for --method file, -1 if none */
} w = { .fd = -1 };

/* one thread's blocks: what was mapped, and the part it touches */
struct blocks {
	size_t n;
	void **base;
	size_t *map_len;
	char **data;
	size_t *len;
};

/* the start line: threads check in, main snapshots, then opens it */
struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int ready;
	bool open;
};

struct thread_arg {
	struct run *run;
	struct thread_result *res;
	struct gate *gate;
	uint64_t end_ns;
};

static int abort_run;		/* a thread failed: the others stop early */
static int threads_done;

static uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t tv_ns(const struct timeval *tv)
{
	return (uint64_t)tv->tv_sec * 1000000000ULL + (uint64_t)tv->tv_usec * 1000;
}

static int failed(struct thread_result *res, const char *call, size_t arg)
{
	res->err = errno ? errno : EIO;
	res->failed_call = call;
	snprintf(res->call_arg, sizeof(res->call_arg), "%zu bytes", arg);
	__atomic_store_n(&abort_run, 1, __ATOMIC_RELAXED);
	return -1;
}

/* ---- the methods: allocate and free one block ---- */

static int alloc_block(enum method m, size_t len, struct blocks *b, size_t i,
		       struct thread_result *res)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;
	size_t map_len = len;
	char *p;

	switch (m) {
	case METHOD_MALLOC:
	case METHOD_FILE:
	case METHOD_REUSE:
		p = malloc(len);
		if (!p)
			return failed(res, "malloc", len);
		b->base[i] = b->data[i] = p;
		b->map_len[i] = len;
		return 0;
	case METHOD_POPULATE:
		flags |= MAP_POPULATE;
		break;
	case METHOD_THP:
		map_len = len + env.pmd_size;	/* room to align */
		break;
	case METHOD_FILE_MMAP:
		/* the file's pages at this block's offset, copied on write */
		flags = MAP_PRIVATE;
		break;
	default:
		break;
	}
	p = mmap(NULL, map_len, PROT_READ | PROT_WRITE, flags,
		 m == METHOD_FILE_MMAP ? w.fd : -1,
		 m == METHOD_FILE_MMAP ? (off_t)(i * (b->n > 1 ? b->len[0] : 0)) : 0);
	if (p == MAP_FAILED)
		return failed(res, "mmap", map_len);
	b->base[i] = p;
	b->map_len[i] = map_len;
	if (m == METHOD_THP)
		p = (char *)(((uintptr_t)p + env.pmd_size - 1) &
			     ~(uintptr_t)(env.pmd_size - 1));
	b->data[i] = p;
	/*
	 * A kernel without THP (Debian's -rt kernels) refuses both advices
	 * with EINVAL: thp is then mmap, as plan_warnings() said, and nothp
	 * asked for nothing the kernel has.
	 */
	if (m == METHOD_THP && madvise(p, len, MADV_HUGEPAGE) &&
	    !(errno == EINVAL && !thp_compiled()))
		return failed(res, "madvise(MADV_HUGEPAGE)", len);
	if (m == METHOD_NOTHP && madvise(p, len, MADV_NOHUGEPAGE) &&
	    !(errno == EINVAL && !thp_compiled()))
		return failed(res, "madvise(MADV_NOHUGEPAGE)", len);
	if (m == METHOD_POPULATE_WRITE && madvise(p, len, MADV_POPULATE_WRITE))
		return failed(res, "madvise(MADV_POPULATE_WRITE)", len);
	return 0;
}

static void free_block(enum method m, struct blocks *b, size_t i)
{
	if (!b->base[i])
		return;
	if (method_mallocs(m))
		free(b->base[i]);
	else
		munmap(b->base[i], b->map_len[i]);
	b->base[i] = NULL;
}

/* ---- touching ---- */

static unsigned long touch_sink;

static int touch_range(char *p, size_t len, uint64_t file_off,
		       const struct run *r, struct thread_result *res)
{
	size_t ps = (size_t)w.page_size;
	unsigned long sum = 0;

	if (r->cfg.method == METHOD_FILE) {
		/* read(2) faults the buffer in through copy_to_user */
		while (len) {
			ssize_t n = pread(w.fd, p, len, (off_t)file_off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				if (n == 0)
					errno = ENODATA;
				return failed(res, "read", len);
			}
			p += n;
			len -= (size_t)n;
			file_off += (uint64_t)n;
		}
		return 0;
	}
	/* file_mmap loads the file by reading its pages: no copy, no zeroing */
	switch (r->cfg.method == METHOD_FILE_MMAP ? TOUCH_READ : env.touch) {
	case TOUCH_WRITE:
		for (size_t off = 0; off < len; off += ps)
			((volatile char *)p)[off] = 1;
		break;
	case TOUCH_READ:
		for (size_t off = 0; off < len; off += ps)
			sum += ((volatile char *)p)[off];
		touch_sink += sum;
		break;
	case TOUCH_MEMSET:
		memset(p, 1, len);
		break;
	}
	return 0;
}

/* one pass over the blocks; *done counts the bytes of every pass so far */
static int touch_blocks(struct blocks *b, const struct run *r,
			struct thread_result *res, uint64_t *done)
{
	uint64_t file_off = 0;

	for (size_t i = 0; i < b->n; i++) {
		for (size_t off = 0; off < b->len[i]; off += CHUNK) {
			size_t n = b->len[i] - off < CHUNK ? b->len[i] - off : CHUNK;

			if (__atomic_load_n(&abort_run, __ATOMIC_RELAXED))
				return -1;
			if (touch_range(b->data[i] + off, n, file_off, r, res))
				return -1;
			file_off += n;
			*done += n;
			__atomic_store_n(&res->progress, *done, __ATOMIC_RELAXED);
		}
	}
	return 0;
}

/* ---- one thread ---- */

static int blocks_init(struct blocks *b, const struct run *r)
{
	uint64_t block = r->cfg.block ? r->cfg.block : env.size;

	b->n = (size_t)((env.size + block - 1) / block);
	b->base = calloc(b->n, sizeof(*b->base));
	b->map_len = calloc(b->n, sizeof(*b->map_len));
	b->data = calloc(b->n, sizeof(*b->data));
	b->len = calloc(b->n, sizeof(*b->len));
	if (!b->base || !b->map_len || !b->data || !b->len)
		return -1;
	for (size_t i = 0; i < b->n; i++)
		b->len[i] = (size_t)(i + 1 < b->n ? block : env.size - i * block);
	return 0;
}

static void blocks_free(struct blocks *b)
{
	free(b->base);
	free(b->map_len);
	free(b->data);
	free(b->len);
}

/*
 * A snapshot of the thread's counters: the scheduler's (run_delay, sleep),
 * then the CPU clock, then getrusage(), then the wall clock.  Every counter
 * is read before the wall clock, so the time between a counter's read and
 * the clock read is in one and not the other: at the start it counts in
 * the counter and not in the thread's time (unexplained below 0), at the
 * end in the thread's time and not in the counter (above 0).  Two things
 * make that gap long, and a snapshot with either is taken again:
 *   - the thread left the CPU during the snapshot (preempted, or asleep
 *     after the /proc files were formatted): its time off the CPU is in
 *     run_delay or sleep and maybe not in the thread's time, or the
 *     reverse;
 *   - getrusage() was slow after it had read the CPU time: its
 *     copy_to_user() can fault, and a kernel-mode fault takes the
 *     mmap_lock, on which it spun for 5 ms, on the CPU, while another
 *     thread's munmap() waited for it (file_mmap, 2 threads, 6.1 and 6.12:
 *     unexplained of -3.7 to +4.6 ms, one thread in seven).
 * SNAPSHOT_GAP_NS bounds both.  With the retries, unexplained in the same
 * runs was 0 to 30 us a thread on 6.1 and sid.  After SNAPSHOT_TRIES the
 * last snapshot is kept, as it is.
 */
#define SNAPSHOT_TRIES		5
#define SNAPSHOT_GAP_NS		50000

struct thread_snap {
	struct sched_sample sched;
	struct rusage ru;
	uint64_t cpu_ns;	/* CLOCK_THREAD_CPUTIME_ID */
	uint64_t wall_ns;	/* CLOCK_MONOTONIC, after every counter */
};

static void thread_snap(const struct sched_files *sf, struct thread_snap *s)
{
	for (int try = 0; try < SNAPSHOT_TRIES; try++) {
		uint64_t w = clock_ns(CLOCK_MONOTONIC), c = clock_ns(CLOCK_THREAD_CPUTIME_ID);
		uint64_t ru_w, off_cpu;

		sched_sample(sf, &s->sched);
		/* brings the runtime that getrusage() reads up to date */
		s->cpu_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID);
		ru_w = clock_ns(CLOCK_MONOTONIC);
		getrusage(RUSAGE_THREAD, &s->ru);
		s->wall_ns = clock_ns(CLOCK_MONOTONIC);
		off_cpu = (s->wall_ns - w) - (clock_ns(CLOCK_THREAD_CPUTIME_ID) - c);
		if ((int64_t)off_cpu <= SNAPSHOT_GAP_NS && s->wall_ns - ru_w <= SNAPSHOT_GAP_NS)
			break;
	}
}

static void *thread_main(void *p)
{
	struct thread_arg *a = p;
	struct thread_result *res = a->res;
	enum method m = a->run->cfg.method;
	struct sched_files sf;
	struct thread_snap s0, s1;
	struct blocks b = { 0 };
	uint64_t t0, t1, t2, t3, done = 0;
	char name[16];
	int err;

	res->tid = gettid();
	snprintf(name, sizeof(name), "allocstat-w%d", res->index);
	pthread_setname_np(pthread_self(), name);
	sched_open(&sf);
	res->sched_err = sf.err;
	errno = ENOMEM;
	if (blocks_init(&b, a->run))
		failed(res, "calloc", 4 * sizeof(void *) * b.n);

	/*
	 * One snapshot before the gate, for its side effects: the first copy
	 * into sched_sample()'s 8 KiB stack buffer faults in the kernel
	 * (copy_to_user), and a kernel-mode fault on a user address takes the
	 * mmap_lock (x86 tries no per-VMA lock there).  In the timed sample it
	 * slept while another thread's mmap() or munmap() held the lock for
	 * write, after the sched file had been formatted and before t0: a
	 * sleep in sleep_ns (and its wakeup in run_delay_ns) outside the
	 * thread's time (unexplained -2 to -11 ms in file_mmap, 2 threads, on
	 * 6.12 and sid alike).
	 */
	thread_snap(&sf, &s1);

	pthread_mutex_lock(&a->gate->lock);
	a->gate->ready++;
	pthread_cond_broadcast(&a->gate->cond);
	while (!a->gate->open)		/* main takes its snapshot */
		pthread_cond_wait(&a->gate->cond, &a->gate->lock);
	pthread_mutex_unlock(&a->gate->lock);
	if (res->err || __atomic_load_n(&abort_run, __ATOMIC_RELAXED))
		goto out;

	/* the thread's time starts when the snapshot has been read */
	thread_snap(&sf, &s0);
	t0 = s0.wall_ns;
	/*
	 * --loops times: allocate, touch, free, each phase's time summed;
	 * reuse allocates before the first pass and frees after the last.
	 */
	err = 0;
	t3 = t0;
	for (int loop = 0; loop < env.loops && !err; loop++) {
		bool first = loop == 0, last = loop == env.loops - 1;

		for (size_t i = 0; i < b.n && !err && (first || m != METHOD_REUSE); i++)
			err = alloc_block(m, b.len[i], &b, i, res);
		t1 = clock_ns(CLOCK_MONOTONIC);
		if (!err)
			err = touch_blocks(&b, a->run, res, &done);
		t2 = clock_ns(CLOCK_MONOTONIC);
		for (size_t i = 0; i < b.n && (last || err || m != METHOD_REUSE); i++)
			free_block(m, &b, i);
		res->alloc_ns += t1 - t3;
		res->touch_ns += t2 - t1;
		t3 = clock_ns(CLOCK_MONOTONIC);
		res->free_ns += t3 - t2;
	}
	/*
	 * The end snapshot belongs to the last free phase: a preemption while
	 * it reads is in run_delay_ns, so it must be in the thread's time too
	 * (outside it, unexplained went below 0: -3.9 ms of 24.6 ms in a
	 * 2-thread file_mmap run on 6.12-rt, runnable 60% of the time).
	 */
	thread_snap(&sf, &s1);
	res->free_ns += s1.wall_ns - t3;
	res->cpu_ns = s1.cpu_ns - s0.cpu_ns;

	res->minflt = s1.ru.ru_minflt - s0.ru.ru_minflt;
	res->majflt = s1.ru.ru_majflt - s0.ru.ru_majflt;
	res->utime_ns = tv_ns(&s1.ru.ru_utime) - tv_ns(&s0.ru.ru_utime);
	res->stime_ns = tv_ns(&s1.ru.ru_stime) - tv_ns(&s0.ru.ru_stime);
	res->run_delay_ok = s0.sched.run_delay_ok && s1.sched.run_delay_ok;
	if (res->run_delay_ok)
		res->run_delay_ns = s1.sched.run_delay - s0.sched.run_delay;
	res->sleep_ok = s0.sched.sleep_ok && s1.sched.sleep_ok;
	if (res->sleep_ok)
		res->sleep_ns = s1.sched.sleep - s0.sched.sleep;
	a->end_ns = t3;
out:
	sched_close(&sf);
	blocks_free(&b);
	__atomic_add_fetch(&threads_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* ---- progress line ---- */

/* on a terminal that understands \r and ESC[K, unless --quiet */
static bool show_progress(void)
{
	const char *term = getenv("TERM");

	return !env.quiet && isatty(STDERR_FILENO) && term && *term &&
	       strcmp(term, "dumb") != 0;
}

static void progress(const struct run *r, int index, int total, bool show)
{
	uint64_t total_bytes = env.size * (uint64_t)r->cfg.threads * (uint64_t)env.loops;
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	int ticks = 0, shown = -1;
	char label[48];

	config_label(&r->cfg, label, sizeof(label));
	while (__atomic_load_n(&threads_done, __ATOMIC_ACQUIRE) < r->cfg.threads) {
		uint64_t done = 0;
		int pct;

		nanosleep(&ts, NULL);
		/* from 1 s on, twice a second, when the number changes */
		if (!show || ++ticks < 10 || ticks % 5)
			continue;
		for (int i = 0; i < r->cfg.threads; i++)
			done += __atomic_load_n(&r->thr[i].progress, __ATOMIC_RELAXED);
		pct = (int)(done * 100 / total_bytes);
		if (pct == shown)
			continue;
		shown = pct;
		fprintf(stderr, "\rallocstat-run: run %d/%d: %s x %d threads: %3d%% touched",
			index + 1, total, label, r->cfg.threads, pct);
	}
	if (shown >= 0)
		fprintf(stderr, "\r\033[K");
}

/* ---- one run ---- */

static int run_threads(struct run *r, const struct module_info *mi, int index,
		       int total)
{
	struct gate gate = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false };
	struct allocstat_table before = { 0 }, after = { 0 };
	int n = r->cfg.threads, started = 0, err = 0;
	struct thread_arg *args;
	bool counters;
	pthread_t *tids;
	uint64_t start;

	args = calloc((size_t)n, sizeof(*args));
	tids = calloc((size_t)n, sizeof(*tids));
	if (!args || !tids) {
		fprintf(stderr, "allocstat-run: out of memory\n");
		err = -1;
		goto out_free;
	}
	abort_run = 0;
	threads_done = 0;

	for (int i = 0; i < n; i++) {
		r->thr[i].index = i;
		args[i] = (struct thread_arg){ r, &r->thr[i], &gate, 0 };
		errno = pthread_create(&tids[i], NULL, thread_main, &args[i]);
		if (errno) {
			fprintf(stderr, "allocstat-run: pthread_create: %s\n",
				strerror(errno));
			abort_run = 1;
			err = -1;
			break;
		}
		started++;
	}

	pthread_mutex_lock(&gate.lock);
	while (gate.ready < started)
		pthread_cond_wait(&gate.cond, &gate.lock);
	pthread_mutex_unlock(&gate.lock);
	counters = mi->loaded && !err;
	if (counters && snapshot(&before, index)) {
		counters = false;
		if (env.require_module) {
			abort_run = 1;
			err = -1;
		}
	}
	start = clock_ns(CLOCK_MONOTONIC);
	pthread_mutex_lock(&gate.lock);
	gate.open = true;
	pthread_cond_broadcast(&gate.cond);
	pthread_mutex_unlock(&gate.lock);

	if (!err)
		progress(r, index, total, show_progress());
	for (int i = 0; i < started; i++)
		pthread_join(tids[i], NULL);

	for (int i = 0; i < n && !err; i++) {
		struct thread_result *t = &r->thr[i];

		if (t->err) {
			fprintf(stderr, "allocstat-run: thread %d: %s of %s failed: %s\n",
				i, t->failed_call, t->call_arg, strerror(t->err));
			if (t->err == ENOMEM || t->err == EAGAIN)
				plan_map_count_hint(&r->cfg);
			err = -1;
		}
		if (args[i].end_ns > start && args[i].end_ns - start > r->wall_ns)
			r->wall_ns = args[i].end_ns - start;
	}
	if (!err && counters) {
		if (!snapshot(&after, index)) {
			apply_deltas(r, &before, &after);
			r->tables = true;
			r->dropped[0] = before.dropped;
			r->dropped[1] = after.dropped;
			r->missed[0] = before.missed;
			r->missed[1] = after.missed;
			r->init_on_alloc = after.init_on_alloc;
		}
		else if (env.require_module)
			err = -1;
	}
	allocstat_table_free(&before);
	allocstat_table_free(&after);
out_free:
	free(args);
	free(tids);
	return err;
}

/*
 * Each run happens in a child process of its own, so that runs do not
 * inherit each other's malloc state (arenas keep freed memory, and glibc
 * raises its mmap threshold after freeing mmapped chunks).  The results
 * come back through a shared mapping.
 */
int run_workload(struct run *r, const struct module_info *mi, int index,
		 int total)
{
	size_t len = sizeof(*r) + CACHELINE + sizeof(*r->thr) * (size_t)r->cfg.threads;
	struct rusage ru;
	struct run *shared;
	int status;
	pid_t pid, parent;
	char *mem;

	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		fprintf(stderr, "allocstat-run: mmap(%zu): %s\n", len, strerror(errno));
		return -1;
	}
	shared = (struct run *)mem;
	*shared = *r;
	shared->thr = (struct thread_result *)(mem + CACHELINE *
		((sizeof(*r) + CACHELINE - 1) / CACHELINE));
	r->thr = shared->thr;
	r->thr_map_len = len;
	r->thr_map = mem;

	fflush(NULL);
	parent = getpid();
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "allocstat-run: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		schedstats_child(parent);
		_exit(set_malloc_knobs(&r->cfg) || run_threads(shared, mi, index, total) ? 1 : 0);
	}
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "allocstat-run: wait4: %s\n", strerror(errno));
			return -1;
		}
	}
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "allocstat-run: run %d killed by signal %d%s\n", index + 1,
			WTERMSIG(status), WTERMSIG(status) == SIGKILL ? " (out of memory?)" : "");
		return -1;
	}
	if (WEXITSTATUS(status))
		return -1;	/* the child said why */
	*r = *shared;
	r->thr_map_len = len;
	r->thr_map = mem;
	r->max_rss = (uint64_t)ru.ru_maxrss * 1024;
	return 0;
}

void run_free(struct run *r)
{
	if (r->thr_map)
		munmap(r->thr_map, r->thr_map_len);
	r->thr_map = NULL;
	r->thr = NULL;
}

/* ---- setup and cleanup ---- */

static int make_temp_file(void)
{
	const char *dir = getenv("TMPDIR");
	char path[4096], *buf;
	uint64_t left = env.size;
	int fd;

	snprintf(path, sizeof(path), "%s/allocstat-run.XXXXXX",
		 dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0) {
		fprintf(stderr, "allocstat-run: mkstemp(%s): %s\n", path, strerror(errno));
		return -1;
	}
	unlink(path);		/* removed when closed, even on a crash */
	buf = malloc(CHUNK);
	if (!buf) {
		fprintf(stderr, "allocstat-run: malloc(%llu): %s\n",
			(unsigned long long)CHUNK, strerror(ENOMEM));
		close(fd);
		return -1;
	}
	memset(buf, 0x5a, CHUNK);
	while (left) {
		size_t n = left < CHUNK ? (size_t)left : CHUNK;
		ssize_t done = write(fd, buf, n);

		if (done < 0 && errno == EINTR)
			continue;
		if (done <= 0) {
			fprintf(stderr, "allocstat-run: write(%s): %s\n", path,
				done < 0 ? strerror(errno) : "short write");
			free(buf);
			close(fd);
			return -1;
		}
		left -= (uint64_t)done;
	}
	free(buf);
	return fd;
}

int workload_prepare(bool need_file)
{
	struct stat st;

	w.page_size = sysconf(_SC_PAGESIZE);
	if (!need_file)
		return 0;
	if (!env.file) {
		w.fd = make_temp_file();
		return w.fd < 0 ? -1 : 0;
	}
	w.fd = open(env.file, O_RDONLY | O_CLOEXEC);
	if (w.fd < 0) {
		fprintf(stderr, "allocstat-run: open(%s): %s\n", env.file, strerror(errno));
		return -1;
	}
	if (fstat(w.fd, &st)) {
		fprintf(stderr, "allocstat-run: fstat(%s): %s\n", env.file, strerror(errno));
		return -1;
	}
	if ((uint64_t)st.st_size < env.size) {
		fprintf(stderr, "allocstat-run: %s has %lld bytes, --size needs %llu\n",
			env.file, (long long)st.st_size, (unsigned long long)env.size);
		return -1;
	}
	return 0;
}

void workload_cleanup(void)
{
	if (w.fd >= 0)
		close(w.fd);
	w.fd = -1;
}
