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
#define THP_PMD_SIZE_PATH "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size"
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
	NR_METHODS
};

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
	int arena_max;			/* 0: glibc default */
	long mmap_threshold;		/* -1: glibc default */
	long top_pad;			/* -1: glibc default */
	enum mode mode;
	bool json;
	bool quiet;
	bool require_module;
	const char *svg;
	/* found out, not set: */
	uint64_t memory_estimate;	/* of the largest run, by the memory check */
	uint64_t pmd_size;		/* a transparent huge page */
	bool pmd_size_guessed;		/* hpage_pmd_size unreadable: 2 MiB */
};

/* one workload configuration */
struct config {
	enum method method;
	uint64_t block;			/* 0: one block */
	int threads;
	uint64_t top_pad;		/* M_TOP_PAD; 0: as --top-pad says */
};

#define MAX_CONFIGS 64

/* per-thread counters, one cache line apart (will-it-scale style) */
struct thread_result {
	int index;
	pid_t tid;
	uint64_t alloc_ns, touch_ns, free_ns;
	uint64_t cpu_ns;		/* CPU time of the three phases */
	long minflt, majflt;		/* getrusage(RUSAGE_THREAD) deltas */
	/* /proc/allocstat deltas; bit i of present: counter i known */
	uint64_t val[ALLOCSTAT_NR_FIELDS];
	uint32_t present;
	bool matched;			/* rows found in /proc/allocstat */
	/* written by the thread while it runs, read by the progress line */
	uint64_t progress;		/* bytes touched so far */
	int err;			/* errno of a failed call */
	const char *failed_call;
	char call_arg[48];
} __attribute__((aligned(CACHELINE)));

/* where the time went: the parts, in the order they are shown */
enum part {
	PART_ZERO,			/* page zeroing */
	PART_FAULT,			/* fault handling other than zeroing */
	PART_LOCK,			/* waiting for the mmap_lock */
	PART_CPU_WAIT,			/* runnable, waiting for a CPU */
	PART_OTHER,			/* everything else */
	NR_PARTS
};

struct part_info {
	const char *name;		/* "page zeroing" */
	const char *name_no_module;	/* what the part holds without counters */
	const char *key;		/* JSON: "zero_ns" */
	const char *abbrev;		/* table column: "zeroing" */
	const char *abbrev_no_module;	/* its column without counters, if any */
	const char *color;		/* SVG */
	bool needs_module;
};

extern const struct part_info parts[NR_PARTS];

/* summed over the threads of one run; parts add up to thread_ns */
struct breakdown {
	uint64_t thread_ns;		/* alloc + touch + free of all threads */
	uint64_t cpu_ns;		/* CPU time of the same */
	uint64_t part[NR_PARTS];
	bool scaled;			/* counters overlapped; shares scaled */
};

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
	struct breakdown bd;
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

/* proc.c: /proc/allocstat, /proc/meminfo, THP */
int module_probe(struct module_info *mi);
int snapshot(struct allocstat_table *t, int index);
void apply_deltas(struct run *r, const struct allocstat_table *before,
		  const struct allocstat_table *after);
int mem_available(uint64_t *bytes);
bool thp_available(void);
uint64_t thp_pmd_size(const char *path, bool *guessed);
int max_map_count(uint64_t *n);

/* workload.c */
int workload_prepare(bool need_file);
int run_workload(struct run *r, const struct module_info *mi, int index,
		 int total);
void run_free(struct run *r);
void workload_cleanup(void);
const char *config_label(const struct config *c, char *buf, size_t len);

/* report.c */
void compute_breakdown(struct run *r);
const char *part_name(const struct run *r, enum part p);
uint64_t off_cpu_ns(const struct breakdown *bd);
void counters_kinds(struct run *const *best, int n, bool *with, bool *without);
void report_run(FILE *out, const struct run *r, const struct module_info *mi);
void report_sweep(FILE *out, struct run **best, int n);
void report_compare(FILE *out, struct run **best, int n);
double per_thread_ms(const struct run *r);
int online_cpus(void);
double ideal_wall_ns(const struct run *one, int threads);
double sweep_wall_slowdown(struct run *const *best, int i);
double sweep_thread_slowdown(struct run *const *best, int i);
void compare_order(struct run **best, int n, int *order, bool *within_spread);
void format_size(uint64_t bytes, char *buf, size_t len);

/* json.c */
void json_string(FILE *out, const char *s);
void json_write(FILE *out, const struct module_info *mi, struct run *runs,
		int nruns, struct run **best, int nbest);

/* svg.c */
int svg_write(const char *path, struct run **best, int n);

#endif /* ALLOCSTAT_RUN_H */
