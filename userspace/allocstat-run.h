/* SPDX-License-Identifier: GPL-2.0 */
/* allocstat-run: shared types of the driver's source files. */
#ifndef ALLOCSTAT_RUN_H
#define ALLOCSTAT_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "allocstat_proc.h"

#define CACHELINE 64
#define MIB (1024ULL * 1024)
#define THP_DIR "/sys/kernel/mm/transparent_hugepage"
#define THP_PMD_SIZE_PATH THP_DIR "/hpage_pmd_size"
#define PMD_SIZE_FALLBACK (2 * MIB)
#define MAX_MAP_COUNT_PATH "/proc/sys/vm/max_map_count"
#define MAX_WARNINGS 8

enum method {
	METHOD_MALLOC,
	METHOD_MMAP,
	METHOD_POPULATE,
	METHOD_THP,
	METHOD_NOTHP,
	METHOD_FILE,
	METHOD_POPULATE_WRITE,		/* mmap, then MADV_POPULATE_WRITE */
	METHOD_REUSE,			/* malloc once, touched --loops times */
	METHOD_FILE_MMAP,		/* the file mmapped, its pages read */
	NR_METHODS
};

/* the methods whose blocks come from malloc() (glibc's knobs apply) */
static inline bool method_mallocs(enum method m)
{
	return m == METHOD_MALLOC || m == METHOD_FILE || m == METHOD_REUSE;
}

/* the methods that read the file */
static inline bool method_reads_file(enum method m)
{
	return m == METHOD_FILE || m == METHOD_FILE_MMAP;
}

enum touch {
	TOUCH_WRITE,
	TOUCH_READ,
	TOUCH_MEMSET,
};

enum mode {
	MODE_SINGLE,
	MODE_SWEEP,
	MODE_COMPARE,
};

/* settings, from the command line (allocstat-run.c) */
struct env {
	int threads;
	uint64_t size;			/* per thread */
	enum method method;
	const char *file;		/* -f: file for --method file */
	uint64_t block;			/* 0: one block of size */
	enum touch touch;
	int repeat;			/* 0 until parsed: 3 for --compare, else 1 */
	int loops;			/* allocate, touch, free this many times */
	int arena_max;			/* 0: glibc default */
	long mmap_threshold;		/* -1: glibc default */
	long top_pad;			/* -1: glibc default */
	enum mode mode;
	bool json;
	bool quiet;
	bool require_module;
	bool findings;			/* --findings=yes (the default) */
	const char *svg;
	/* found out, not set: */
	uint64_t memory_estimate;	/* of the largest run, by the memory check */
	uint64_t pmd_size;		/* a transparent huge page */
	bool pmd_size_guessed;		/* hpage_pmd_size unreadable: 2 MiB */
	bool schedstats;		/* kernel.sched_schedstats on for the runs */
	char schedstats_why[256];	/* if not, why not */
	/* observing a program instead of the workload (observe.c) */
	char **command;			/* -- CMD [ARGS...], NULL-terminated */
	pid_t attach;			/* -p PID; 0: not set */
	uint64_t duration_ns;		/* -d; 0: until PID exits or Ctrl-C */
	uint64_t interval_ns;		/* -i; 0: one report */
	const char *output;		/* -o FILE; NULL: stderr (CMD), stdout (-p) */
};

/* one workload configuration */
struct config {
	enum method method;
	uint64_t block;			/* 0: one block */
	int threads;
	uint64_t top_pad;		/* M_TOP_PAD; 0: as --top-pad says */
	int arena_max;			/* M_ARENA_MAX; 0: as --arena-max says */
};

#define MAX_CONFIGS 64

/* where the time went: the buckets, in the order they are shown */
enum bucket {
	BUCKET_USER,			/* user-mode CPU */
	BUCKET_ZERO_CPU,		/* page zeroing, on CPU */
	BUCKET_FAULT_CPU,		/* other fault handling, on CPU */
	BUCKET_LOCK_WAIT,		/* mmap_lock wait, asleep or spinning */
	BUCKET_RUNQ,			/* runnable, waiting for a CPU */
	BUCKET_SYS_OTHER,		/* other kernel CPU */
	BUCKET_SLEEP_OTHER,		/* asleep, not on the mmap_lock */
	BUCKET_UNEXPLAINED,		/* the thread's time minus the above */
	NR_BUCKETS
};

struct bucket_info {
	const char *name;		/* "page zeroing, on CPU" */
	const char *key;		/* JSON: "zero_cpu_ns" */
	const char *abbrev;		/* table column: "zero_cpu" */
	const char *color;		/* SVG */
};

extern const struct bucket_info buckets[NR_BUCKETS];

/* the buckets of one thread, or summed over the threads of a run */
struct buckets {
	int64_t ns[NR_BUCKETS];		/* ns[k] counts only if known[k] */
	int known[NR_BUCKETS];		/* threads in which bucket k was measured */
	uint32_t holds[NR_BUCKETS];	/* bit j: k holds unknown bucket j's time */
	int64_t lock_sleep_ns;		/* of lock_wait: asleep (the rest spun) */
	uint64_t thread_ns;		/* alloc + touch + free */
	int threads;
	int rows;			/* threads with a /proc/allocstat row */
};

/* per-thread counters, one cache line apart (will-it-scale style) */
struct thread_result {
	int index;
	pid_t tid;
	uint64_t alloc_ns, touch_ns, free_ns;
	uint64_t cpu_ns;		/* CPU time of the three phases */
	long minflt, majflt;		/* getrusage(RUSAGE_THREAD) deltas */
	uint64_t utime_ns, stime_ns;	/* the same */
	uint64_t run_delay_ns;		/* schedstat delta (sched.c) */
	uint64_t sleep_ns;		/* sum_sleep_runtime delta (sched.c) */
	bool run_delay_ok, sleep_ok;	/* both ends read */
	int sched_err;			/* errno of opening them, else 0 */
	/* /proc/allocstat deltas; bit i of present: counter i known */
	uint64_t val[ALLOCSTAT_NR_FIELDS];
	uint32_t present;
	bool matched;			/* rows found in /proc/allocstat */
	/*
	 * An observed thread (-- CMD, -p): its time is its lifetime (in the
	 * window), not alloc + touch + free; cpu_ok false: U and S unknown.
	 */
	bool observed;
	bool cpu_ok, life_ok;
	uint64_t life_ns;
	pid_t tgid;
	bool exited;
	char comm[ALLOCSTAT_COMM_LEN];
	struct buckets bk;		/* compute_breakdown() */
	/* written by the thread while it runs, read by the progress line */
	uint64_t progress;		/* bytes touched so far */
	int err;			/* errno of a failed call */
	const char *failed_call;
	char call_arg[48];
} __attribute__((aligned(CACHELINE)));

struct run {
	struct config cfg;
	int config_index;		/* which configuration, in the order given */
	int rep;			/* 0 .. repeat-1 */
	uint64_t wall_ns;
	uint64_t max_rss;		/* peak resident bytes of the run's process */
	/* of all repetitions of this configuration (plan_summarize) */
	uint64_t wall_min_ns, wall_max_ns;
	struct thread_result *thr;	/* cfg.threads entries */
	void *thr_map;			/* shared mapping holding thr */
	size_t thr_map_len;
	bool counters;			/* module counters available */
	bool tables;			/* both snapshots read: */
	uint64_t dropped[2], missed[2];	/* their header's dropped=, missed= */
	int init_on_alloc;		/* the header's init_on_alloc=, -1 unknown */
	bool no_thp;			/* the kernel has no THP at all (thp_compiled()) */
	bool thp_zeroed_twice;		/* init_on_alloc and the fault clear a THP (thp_zeroed_twice()) */
	uint64_t cpu_ns;		/* CPU time of all threads */
	struct buckets bd;		/* summed over the threads */
};

/* state of /proc/allocstat, found once at start (proc.c) */
struct module_info {
	bool loaded;			/* readable and parsed */
	const char *path;
	char why[256];			/* why not, one line */
	struct allocstat_table first;	/* header of the first read */
};

extern struct env env;
extern const char *const method_names[NR_METHODS];
extern const char *const touch_names[];

/* plan.c: the configurations, the order of the runs, the memory check */
int plan_configs(struct config *cfgs);
void plan_runs(const struct config *cfgs, int ncfg, int repeat, struct run *runs);
void plan_summarize(struct run *runs, int nruns, int ncfg, struct run **best);
bool plan_uses_file(const struct config *cfgs, int n);
uint64_t run_footprint(const struct config *c);
int plan_check_memory(const struct config *cfgs, int n);
int set_malloc_knobs(const struct config *c);
long config_top_pad(const struct config *c);
uint64_t run_mappings(const struct config *c);
void plan_warnings(const struct config *cfgs, int n);
void plan_map_count_hint(const struct config *c);
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern char warnings[MAX_WARNINGS][320];
extern int nr_warnings;

/* proc.c: /proc/allocstat, /proc/meminfo, THP, the CPUs */
int module_probe(struct module_info *mi);
int snapshot(struct allocstat_table *t, int index);
void apply_deltas(struct run *r, const struct allocstat_table *before,
		  const struct allocstat_table *after);
int mem_available(uint64_t *bytes);
int online_cpus(void);
bool thp_compiled(void);
bool thp_zeroed_twice(void);
bool thp_available(void);
uint64_t thp_pmd_size(const char *path, bool *guessed);
int max_map_count(uint64_t *n);

/* format.c */
void format_size(uint64_t bytes, char *buf, size_t len);
const char *config_label(const struct config *c, char *buf, size_t len);

/* workload.c */
int workload_prepare(bool need_file);
int run_workload(struct run *r, const struct module_info *mi, int index,
		 int total);
void run_free(struct run *r);
void workload_cleanup(void);

/* sched.c */
struct sched_files {
	int schedstat, sched;		/* fds of /proc/self/task/<tid>/..., or -1 */
	int err;			/* errno of a failed open, else 0 */
};

struct sched_sample {
	uint64_t run_delay, sleep;
	bool run_delay_ok, sleep_ok;
};

void sched_open(struct sched_files *f);
void sched_close(struct sched_files *f);
void raise_fd_limit(int threads);
void sched_sample(const struct sched_files *f, struct sched_sample *s);
void schedstats_child(pid_t parent);
int sched_parse_schedstat(const char *s, uint64_t *run_delay);
int sched_parse_sleep(const char *s, uint64_t *ns);
int schedstats_enable(char *why, size_t len);
void schedstats_restore(void);

/* breakdown.c */
void thread_buckets(const struct thread_result *t, struct buckets *b);
void compute_breakdown(struct run *r);
const char *held_names(uint32_t holds, char *buf, size_t len);

/* findings.c */
#define NR_RULES 5
#define MAX_FINDINGS 5

struct finding {
	const char *rule;		/* "runqueue" */
	char evidence[320];		/* the measured numbers that triggered it */
	char fix[480];
	int64_t saving_ns;		/* up to, in thread time */
	char basis[160];		/* how saving_ns was reckoned */
};

int find_findings(const struct run *r, struct finding *f);
void report_findings(FILE *out, const struct run *r);

/* report.c */
void report_run(FILE *out, const struct run *r, const struct module_info *mi);
int table_growth(const struct run *r, char *buf, size_t len);
void report_sweep(FILE *out, struct run **best, int n);
void report_compare(FILE *out, struct run **best, int n);
double per_thread_ms(const struct run *r);
double ideal_wall_ns(const struct run *one, int threads);
double sweep_wall_slowdown(struct run *const *best, int i);
double sweep_thread_slowdown(struct run *const *best, int i);
bool sweep_bucket_delta(struct run *const *best, int i, int k, double *ns);
void compare_order(struct run **best, int n, int *order, bool *within_spread);

/* observe.c: -- CMD and -p PID */
struct observation {
	bool attach;			/* -p, else -- CMD */
	pid_t pid;			/* CMD's process, or the -p process */
	int exit_status;		/* CMD's (128 + N if killed by signal N) */
	bool exited;			/* -p: the process exited in the window */
	uint64_t window_ns;		/* -p: the window's length */
	int interval;			/* -p -i: which window, from 1 */
	char track_before[256];		/* the module's track= before */
	char note[320];			/* one line about the rows, or "" */
};

int observe_main(const struct module_info *mi);
int observe_thread_stat(const char *s, uint64_t *utime, uint64_t *stime,
			uint64_t *start_ticks);
void observe_split_cpu(uint64_t cpu_ns, uint64_t uticks, uint64_t sticks,
		       uint64_t *utime_ns, uint64_t *stime_ns);
int observe_from_rows(struct run *r, const struct allocstat_table *t, pid_t root,
		      uint64_t now_ns);
void report_observed(FILE *out, const struct run *r, const struct module_info *mi,
		     const struct observation *o);

/* json.c */
void json_observed(FILE *out, const struct module_info *mi, const struct run *r,
		   const struct observation *o);
void json_string(FILE *out, const char *s);
void json_write(FILE *out, const struct module_info *mi, struct run *runs,
		int nruns, struct run **best, int nbest);

/* svg.c */
int svg_write(const char *path, struct run **best, int n);

#endif /* ALLOCSTAT_RUN_H */
