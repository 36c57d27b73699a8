/* SPDX-License-Identifier: GPL-2.0 */
/*
 * allocstat_proc: parser for /proc/allocstat, shared by allocstat-run and
 * the selftests' C helpers.
 *
 * Format (see the team contract / README):
 *   # allocstat <version> kernel=<release> hooks=<a,b,c> init_on_alloc=<0|1> tasks=<n> dropped=<n> recycled=<n> missed=<n> track=<all|none|tgid,...>
 *   (recycled= since 0.2.0; has_recycled says whether the header had it;
 *   init_on_alloc= since 0.4.0, -1 when absent;
 *   track= is kept as a string, "absent" when an older module omits it)
 *   tid tgid comm state faults fault_ns ... root task_start_ns ...  (column header)
 *   <one row per task, fields separated by single spaces>
 *
 * Columns are mapped by header name; unknown extra columns are ignored; a
 * known counter column missing from the header, or a `-` value, is "absent"
 * (bit clear in row->present).  comm is unescaped from \ooo.  An incomplete
 * last line (no trailing newline, or too few fields) is dropped and reported
 * in table->truncated; allocstat_table_problem() says so in words, and also
 * when tasks= differs from the rows read.  A missing header line, a version
 * that is not MAJOR.MINOR.PATCH or whose major is not ALLOCSTAT_MAJOR, and a
 * file larger than ALLOCSTAT_READ_MAX are errors.
 */
#ifndef ALLOCSTAT_PROC_H
#define ALLOCSTAT_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define ALLOCSTAT_PROC_PATH "/proc/allocstat"
#define ALLOCSTAT_COMM_LEN 64
/* the major version of the format this parser reads */
#define ALLOCSTAT_MAJOR 0
/*
 * allocstat_read() refuses a larger file (-EFBIG).  The module prints at
 * most 65536 rows of about 250 bytes: 16 MiB.
 */
#define ALLOCSTAT_READ_MAX (64 << 20)

/* Counter columns, in the order of the contract's header. */
#define ALLOCSTAT_FIELDS(X)			\
	X(FAULTS, faults)			\
	X(FAULT_NS, fault_ns)			\
	X(FAULT_RUNQ_NS, fault_runq_ns)		\
	X(FAULT_SLEEP_NS, fault_sleep_ns)	\
	X(FAULT_MAX_NS, fault_max_ns)		\
	X(VMA_FAULTS, vma_faults)		\
	X(VMA_RETRY, vma_retry)			\
	X(ZERO_PAGES, zero_pages)		\
	X(ZERO_NS, zero_ns)			\
	X(ZERO_RUNQ_NS, zero_runq_ns)		\
	X(ZERO_SLEEP_NS, zero_sleep_ns)		\
	X(ZERO_HUGE, zero_huge)			\
	X(ZERO_ALLOC_PAGES, zero_alloc_pages)	\
	X(MMAP_READ, mmap_read)			\
	X(MMAP_READ_WAIT_NS, mmap_read_wait_ns)	\
	X(MMAP_READ_WAIT_RUNQ_NS, mmap_read_wait_runq_ns) \
	X(MMAP_READ_WAIT_SLEEP_NS, mmap_read_wait_sleep_ns) \
	X(MMAP_READ_WAIT_MAX_NS, mmap_read_wait_max_ns) \
	X(MMAP_READ_HOLD_NS, mmap_read_hold_ns)	\
	X(MMAP_READ_HOLD_MAX_NS, mmap_read_hold_max_ns) \
	X(MMAP_WRITE, mmap_write)		\
	X(MMAP_WRITE_WAIT_NS, mmap_write_wait_ns) \
	X(MMAP_WRITE_WAIT_RUNQ_NS, mmap_write_wait_runq_ns) \
	X(MMAP_WRITE_WAIT_SLEEP_NS, mmap_write_wait_sleep_ns) \
	X(MMAP_WRITE_WAIT_MAX_NS, mmap_write_wait_max_ns) \
	X(MMAP_WRITE_HOLD_NS, mmap_write_hold_ns) \
	X(MMAP_WRITE_HOLD_MAX_NS, mmap_write_hold_max_ns) \
	X(MMAP_TRYLOCK_FAIL, mmap_trylock_fail)

enum allocstat_field {
#define X(id, name) ALLOCSTAT_##id,
	ALLOCSTAT_FIELDS(X)
#undef X
	ALLOCSTAT_NR_FIELDS
};

/*
 * The task's own lifetime columns, after root.  They are not counters of
 * allocstat's hooks (a consumer that sums or exports counters must not take
 * them for some), so they live apart from val[].  task_start_ns is the
 * task's start, CLOCK_MONOTONIC ns; the others are written by the exit hook
 * ("-" while the task lives): its end (CLOCK_MONOTONIC), CPU time
 * (= utime + stime), runqueue time (schedstat's run_delay) and sleep time
 * (sum_sleep_runtime).
 */
#define ALLOCSTAT_TASK_FIELDS(X)		\
	X(START, task_start_ns)			\
	X(END, task_end_ns)			\
	X(CPU, task_cpu_ns)			\
	X(UTIME, task_utime_ns)			\
	X(STIME, task_stime_ns)			\
	X(RUNQ, task_runq_ns)			\
	X(SLEEP, task_sleep_ns)

enum allocstat_task_field {
#define X(id, name) ALLOCSTAT_TASK_##id,
	ALLOCSTAT_TASK_FIELDS(X)
#undef X
	ALLOCSTAT_NR_TASK_FIELDS
};

struct allocstat_row {
	uint64_t tid;
	uint64_t tgid;
	char comm[ALLOCSTAT_COMM_LEN];	/* unescaped, NUL-terminated */
	bool exited;			/* state column: alive / exited */
	uint64_t val[ALLOCSTAT_NR_FIELDS];
	uint32_t present;		/* bit i set: val[i] was a number */
	/* root: the tgid through which the row is tracked (has_root: a number) */
	uint64_t root;
	bool has_root;
	uint64_t task[ALLOCSTAT_NR_TASK_FIELDS];
	uint32_t task_present;		/* bit i set: task[i] was a number */
};

struct allocstat_table {
	/* line 1 */
	char version[32];
	char kernel[128];
	char hooks[256];		/* comma-separated, opaque */
	uint64_t tasks, dropped, recycled, missed;
	bool has_recycled;		/* recycled= was in the header (0.2.0+) */
	int init_on_alloc;		/* init_on_alloc=: 1, 0, or -1 absent (0.4.0+) */
	char track[256];		/* track=: "all", "none", "12,34"; "absent" */
	/* rows in file order (oldest task first) */
	struct allocstat_row *rows;
	size_t nr_rows;
	size_t nr_extra_cols;		/* unknown columns ignored */
	uint32_t columns;		/* bit i: counter i is in the header */
	uint32_t task_columns;		/* bit i: task column i is in the header */
	bool has_root_col;		/* root is in the header */
	bool truncated;			/* an incomplete last line was dropped */
};

/*
 * Parse buf[0..len).  Returns 0, or -1 with a message in err (may be NULL)
 * naming the line.  On success free the table with allocstat_table_free().
 */
int allocstat_parse(const char *buf, size_t len, struct allocstat_table *t,
		    char *err, size_t errlen);

/*
 * Read and parse path (NULL: $ALLOCSTAT_PROC, else /proc/allocstat).
 * Returns 0; -errno if the file cannot be opened or read (err says which);
 * -EFBIG if it is larger than ALLOCSTAT_READ_MAX; -EINVAL if it does not
 * parse.
 */
int allocstat_read(const char *path, struct allocstat_table *t,
		   char *err, size_t errlen);

/* $ALLOCSTAT_PROC if set and not empty, else /proc/allocstat. */
const char *allocstat_path(void);

void allocstat_table_free(struct allocstat_table *t);

/*
 * What is wrong with a table that parsed: an incomplete last line that was
 * dropped, tasks= that differs from the rows read.  Returns buf with one
 * line (no newline), or NULL if nothing is.
 */
const char *allocstat_table_problem(const struct allocstat_table *t, char *buf,
				    size_t len);

/* Newest row (the last one) of task tid in thread group tgid, or NULL. */
const struct allocstat_row *allocstat_find(const struct allocstat_table *t,
					   uint64_t tgid, uint64_t tid);

static inline bool allocstat_has(const struct allocstat_row *r,
				 enum allocstat_field f)
{
	return r && (r->present & (1u << f));
}

static inline bool allocstat_has_task(const struct allocstat_row *r,
				      enum allocstat_task_field f)
{
	return r && (r->task_present & (1u << f));
}

/* Column name of a task column ("task_start_ns", ...), or NULL. */
const char *allocstat_task_field_name(enum allocstat_task_field f);

/*
 * Whether tgid is in the table's track= set: 1 yes, 0 no (also for "all",
 * "none", "absent"), as a list of tgids.
 */
bool allocstat_track_has(const struct allocstat_table *t, uint64_t tgid);

/* Column name of a counter ("faults", ...), or NULL. */
const char *allocstat_field_name(enum allocstat_field f);
/* Counter index of a column name, or -1. */
int allocstat_field_index(const char *name);

/* true if name is one of the comma-separated hooks of the table header */
bool allocstat_hook_active(const struct allocstat_table *t, const char *name);

#endif /* ALLOCSTAT_PROC_H */
