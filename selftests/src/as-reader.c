// SPDX-License-Identifier: GPL-2.0
/*
 * as-reader: read /proc/allocstat whole and validate every line of it, once
 * or in a loop, for the stress selftests.
 *
 *   as-reader [-n READS] [-d SECONDS] [-s STOPFILE] [-q] [PATH]
 *
 * One read is open, read(2) to EOF, close.  A read that ends at EOF must be
 * complete and well-formed, stricter than the shared parser (which it also
 * runs, and which must agree):
 *   - line 1 is `# allocstat V kernel=R hooks=H init_on_alloc=B tasks=N
 *     dropped=N recycled=N missed=N track=T`, B 0 or 1, the counts u64
 *     decimals, T all, none or tgids separated by commas;
 *   - line 2 is exactly the documented column header;
 *   - every row has one field per column, separated by single spaces, and
 *     ends with a newline; tid and tgid are positive decimals; comm has only
 *     printable non-blank bytes, a backslash only as \ooo; state is alive or
 *     exited; counters are u64 decimals or `-`, and a column is `-` in every
 *     row or in none;
 *   - max <= sum for each *_max_ns, vma_faults <= faults,
 *     zero_alloc_pages <= zero_pages, and a total's _runq_ns + _sleep_ns
 *     <= the total (each total is written before its parts);
 *   - root and task_start_ns are numbers (root positive); the task_* life
 *     columns after them are `-` in a live row, and in an exited row either
 *     all `-` (its exit was not seen) or numbers with task_cpu_ns =
 *     task_utime_ns + task_stime_ns and task_end_ns >= task_start_ns;
 *   - tasks= is the number of rows.
 * An open that fails with ENOENT (module not loaded; the loop then sleeps
 * 2 ms) and a read that fails with EIO (module unloaded while open) are
 * counted, not errors.
 *
 * Loops until READS reads, SECONDS seconds, or STOPFILE exists (default: one
 * read).  Prints one line:
 *   reads=N ok=N enoent=N eio=N other=N bad=N rows_max=N rows_total=N
 * and, for the first bad reads, `# bad: ...` lines naming the line and the
 * reason.  Exit 0 when no read was bad and no other error happened, 1
 * otherwise, 2 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "allocstat_proc.h"

#define MAX_FIELDS	64
#define MAX_REPORTS	5

static const char *const header_cols[] = {
	"tid", "tgid", "comm", "state", "faults", "fault_ns", "fault_runq_ns",
	"fault_sleep_ns", "fault_max_ns", "vma_faults", "vma_retry", "zero_pages",
	"zero_ns", "zero_runq_ns", "zero_sleep_ns", "zero_huge",
	"zero_alloc_pages", "mmap_read", "mmap_read_wait_ns",
	"mmap_read_wait_runq_ns", "mmap_read_wait_sleep_ns",
	"mmap_read_wait_max_ns", "mmap_read_hold_ns", "mmap_read_hold_max_ns",
	"mmap_write", "mmap_write_wait_ns", "mmap_write_wait_runq_ns",
	"mmap_write_wait_sleep_ns", "mmap_write_wait_max_ns",
	"mmap_write_hold_ns", "mmap_write_hold_max_ns", "mmap_trylock_fail",
	"root", "task_start_ns", "task_end_ns", "task_cpu_ns", "task_utime_ns",
	"task_stime_ns", "task_runq_ns", "task_sleep_ns",
};
#define NCOLS	(sizeof(header_cols) / sizeof(header_cols[0]))
#define COL_ROOT	(NCOLS - 8)	/* the identity and life columns, at the end */
#define COL_START	(NCOLS - 7)
#define COL_END		(NCOLS - 6)
#define COL_CPU		(NCOLS - 5)
#define COL_UTIME	(NCOLS - 4)
#define COL_STIME	(NCOLS - 3)

/* (smaller, larger) column pairs: the first never exceeds the second */
static const char *const le_pairs[][2] = {
	{ "fault_max_ns", "fault_ns" },
	{ "fault_runq_ns", "fault_ns" },
	{ "fault_sleep_ns", "fault_ns" },
	{ "zero_runq_ns", "zero_ns" },
	{ "zero_sleep_ns", "zero_ns" },
	{ "mmap_read_wait_runq_ns", "mmap_read_wait_ns" },
	{ "mmap_read_wait_sleep_ns", "mmap_read_wait_ns" },
	{ "mmap_write_wait_runq_ns", "mmap_write_wait_ns" },
	{ "mmap_write_wait_sleep_ns", "mmap_write_wait_ns" },
	{ "vma_faults", "faults" },
	{ "zero_alloc_pages", "zero_pages" },
	{ "mmap_read_wait_max_ns", "mmap_read_wait_ns" },
	{ "mmap_read_hold_max_ns", "mmap_read_hold_ns" },
	{ "mmap_write_wait_max_ns", "mmap_write_wait_ns" },
	{ "mmap_write_hold_max_ns", "mmap_write_hold_ns" },
};

/* (runq, sleep, total) columns: the two off-CPU parts never exceed the total */
static const char *const parts[][3] = {
	{ "fault_runq_ns", "fault_sleep_ns", "fault_ns" },
	{ "zero_runq_ns", "zero_sleep_ns", "zero_ns" },
	{ "mmap_read_wait_runq_ns", "mmap_read_wait_sleep_ns", "mmap_read_wait_ns" },
	{ "mmap_write_wait_runq_ns", "mmap_write_wait_sleep_ns", "mmap_write_wait_ns" },
};

struct stats {
	unsigned long reads, ok, enoent, eio, other, bad;
	unsigned long rows_max, rows_total;
};

static int quiet;
static char why[512];

static int col_index(const char *name)
{
	unsigned int i;

	for (i = 0; i < NCOLS; i++)
		if (!strcmp(header_cols[i], name))
			return (int)i;
	return -1;
}

/* strict u64: digits only, no overflow; leading zero only for "0" */
static bool parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!len || (len > 1 && s[0] == '0'))
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

static bool comm_ok(const char *s, size_t len)
{
	size_t i;

	if (!len)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c >= 0x7f)
			return false;
		if (c == '\\') {
			unsigned int v;

			if (i + 3 >= len)
				return false;
			if (s[i + 1] < '0' || s[i + 1] > '3' || s[i + 2] < '0' ||
			    s[i + 2] > '7' || s[i + 3] < '0' || s[i + 3] > '7')
				return false;
			v = (unsigned int)((s[i + 1] - '0') << 6 | (s[i + 2] - '0') << 3 |
					   (s[i + 3] - '0'));
			/* only bytes that must be escaped are escaped */
			if (v > ' ' && v != '\\' && v < 0x7f)
				return false;
			i += 3;
		}
	}
	return true;
}

static int bad(int lineno, const char *reason, const char *line, size_t len)
{
	snprintf(why, sizeof(why), "line %d: %s: '%.*s'", lineno, reason,
		 (int)(len > 200 ? 200 : len), line);
	return -1;
}

static bool title_ok(const char *line, size_t len, unsigned long *tasks)
{
	static const char *const keys[] = { "kernel=", "hooks=", "init_on_alloc=", "tasks=",
					    "dropped=", "recycled=", "missed=", "track=" };
	const unsigned int nkeys = sizeof(keys) / sizeof(keys[0]);
	char buf[1024], *f[16], *save = NULL, *tok;
	unsigned int n = 0, i;
	uint64_t v;

	if (len >= sizeof(buf) || memchr(line, '\t', len) || strstr(line, "  "))
		return false;
	memcpy(buf, line, len);
	buf[len] = '\0';
	for (tok = strtok_r(buf, " ", &save); tok && n < 16; tok = strtok_r(NULL, " ", &save))
		f[n++] = tok;
	if (n != 3 + nkeys || strcmp(f[0], "#") || strcmp(f[1], "allocstat") || !*f[2])
		return false;
	for (i = 0; i < nkeys; i++)
		if (strncmp(f[3 + i], keys[i], strlen(keys[i])))
			return false;
	/* track=: all, none, or tgids separated by commas */
	tok = f[3 + nkeys - 1] + strlen("track=");
	if (strcmp(tok, "all") && strcmp(tok, "none") &&
	    (!*tok || strspn(tok, "0123456789,") != strlen(tok) || strstr(tok, ",,") ||
	     *tok == ',' || tok[strlen(tok) - 1] == ','))
		return false;
	/* init_on_alloc: 0 or 1 */
	tok = f[5] + strlen("init_on_alloc=");
	if (strcmp(tok, "0") && strcmp(tok, "1"))
		return false;
	/* tasks, dropped, recycled, missed */
	for (i = 3; i < nkeys - 1; i++) {
		const char *val = f[3 + i] + strlen(keys[i]);

		if (!parse_u64(val, strlen(val), &v))
			return false;
		if (i == 3)
			*tasks = (unsigned long)v;
	}
	return strlen(f[3]) > strlen("kernel=") && strlen(f[4]) > strlen("hooks=");
}

/*
 * The life columns of one row (see the top of the file): 0, or -1 with the
 * reason in why[].  runq and sleep may be "-" where the kernel lacks them.
 */
static int life_bad(const char *const *fs, const size_t *fl, uint64_t *val, bool alive,
		    const char *line, size_t l, int lineno)
{
	unsigned int i, dashes = 0;

	for (i = COL_END; i < NCOLS; i++) {
		if (fl[i] == 1 && fs[i][0] == '-')
			dashes++;
		else if (!parse_u64(fs[i], fl[i], &val[i]))
			return bad(lineno, "bad task_* life value", line, l);
	}
	if (dashes == NCOLS - COL_END)
		return 0;
	if (alive)
		return bad(lineno, "a live row with task_* life values", line, l);
	for (i = COL_END; i <= COL_STIME; i++)
		if (fl[i] == 1 && fs[i][0] == '-')
			return bad(lineno, "life values only in part", line, l);
	if (val[COL_CPU] != val[COL_UTIME] + val[COL_STIME])
		return bad(lineno, "task_cpu_ns != task_utime_ns + task_stime_ns", line, l);
	if (val[COL_END] < val[COL_START])
		return bad(lineno, "task_end_ns < task_start_ns", line, l);
	return 0;
}

/* Validate one complete read; 0 or -1 with the reason in why[]. */
static int validate(const char *buf, size_t len, unsigned long *rows_out)
{
	int dash[NCOLS], lineno = 0;
	unsigned long rows = 0, tasks = 0;
	struct allocstat_table t;
	char err[256];
	size_t pos = 0;
	unsigned int i;

	for (i = 0; i < NCOLS; i++)
		dash[i] = -1;
	if (!len || buf[len - 1] != '\n')
		return bad(0, "does not end with a newline", "", 0);
	if (memchr(buf, '\0', len))
		return bad(0, "NUL byte", "", 0);
	while (pos < len) {
		const char *line = buf + pos, *nl = memchr(line, '\n', len - pos);
		size_t l = (size_t)(nl - line), fpos = 0;
		const char *fs[MAX_FIELDS];
		size_t fl[MAX_FIELDS];
		uint64_t val[NCOLS];
		unsigned int nf = 0;

		pos += l + 1;
		lineno++;
		if (lineno == 1) {
			if (!title_ok(line, l, &tasks))
				return bad(lineno, "bad first line", line, l);
			continue;
		}
		/* split on single spaces: an empty field is an error */
		for (;;) {
			const char *sp = memchr(line + fpos, ' ', l - fpos);
			size_t fend = sp ? (size_t)(sp - line) : l;

			if (nf == MAX_FIELDS)
				return bad(lineno, "too many fields", line, l);
			fs[nf] = line + fpos;
			fl[nf] = fend - fpos;
			if (!fl[nf])
				return bad(lineno, "empty field (double or edge space)", line, l);
			nf++;
			if (!sp)
				break;
			fpos = fend + 1;
		}
		if (lineno == 2) {
			if (nf != NCOLS)
				return bad(lineno, "column header has the wrong number of columns",
					   line, l);
			for (i = 0; i < NCOLS; i++)
				if (fl[i] != strlen(header_cols[i]) ||
				    memcmp(fs[i], header_cols[i], fl[i]))
					return bad(lineno, "column header differs from the contract",
						   line, l);
			continue;
		}
		if (nf != NCOLS)
			return bad(lineno, "wrong number of fields", line, l);
		if (!parse_u64(fs[0], fl[0], &val[0]) || !val[0])
			return bad(lineno, "bad tid", line, l);
		if (!parse_u64(fs[1], fl[1], &val[1]) || !val[1])
			return bad(lineno, "bad tgid", line, l);
		if (!comm_ok(fs[2], fl[2]))
			return bad(lineno, "bad comm escaping", line, l);
		if (!(fl[3] == 5 && !memcmp(fs[3], "alive", 5)) &&
		    !(fl[3] == 6 && !memcmp(fs[3], "exited", 6)))
			return bad(lineno, "bad state", line, l);
		for (i = 4; i < COL_ROOT; i++) {
			int is_dash = fl[i] == 1 && fs[i][0] == '-';

			if (!is_dash && !parse_u64(fs[i], fl[i], &val[i]))
				return bad(lineno, "bad counter", line, l);
			if (dash[i] < 0)
				dash[i] = is_dash;
			else if (dash[i] != is_dash)
				return bad(lineno, "'-' in some rows of a column only", line, l);
		}
		if (!parse_u64(fs[COL_ROOT], fl[COL_ROOT], &val[COL_ROOT]) || !val[COL_ROOT])
			return bad(lineno, "bad root", line, l);
		if (!parse_u64(fs[COL_START], fl[COL_START], &val[COL_START]))
			return bad(lineno, "bad task_start_ns", line, l);
		if (life_bad(fs, fl, val, fl[3] == 5, line, l, lineno))
			return -1;
		for (i = 0; i < sizeof(le_pairs) / sizeof(le_pairs[0]); i++) {
			int a = col_index(le_pairs[i][0]), b = col_index(le_pairs[i][1]);

			if (!dash[a] && !dash[b] && val[a] > val[b]) {
				char r[128];

				snprintf(r, sizeof(r), "%s > %s", le_pairs[i][0], le_pairs[i][1]);
				return bad(lineno, r, line, l);
			}
		}
		for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
			int a = col_index(parts[i][0]), b = col_index(parts[i][1]);
			int c = col_index(parts[i][2]);

			if (!dash[a] && !dash[b] && !dash[c] && val[a] + val[b] > val[c]) {
				char r[160];

				snprintf(r, sizeof(r), "%s + %s > %s", parts[i][0], parts[i][1],
					 parts[i][2]);
				return bad(lineno, r, line, l);
			}
		}
		rows++;
	}
	if (lineno < 2)
		return bad(lineno, "no column header", "", 0);
	if (rows != tasks) {
		snprintf(why, sizeof(why), "tasks=%lu but %lu rows", tasks, rows);
		return -1;
	}
	/* the shared parser must agree */
	if (allocstat_parse(buf, len, &t, err, sizeof(err))) {
		snprintf(why, sizeof(why), "allocstat_parse: %s", err);
		return -1;
	}
	if (t.nr_rows != rows || t.truncated || t.tasks != tasks) {
		snprintf(why, sizeof(why), "allocstat_parse saw %zu rows (truncated=%d), we %lu",
			 t.nr_rows, t.truncated, rows);
		allocstat_table_free(&t);
		return -1;
	}
	allocstat_table_free(&t);
	*rows_out = rows;
	return 0;
}

static void one_read(const char *path, struct stats *st)
{
	static char *buf;
	static size_t cap;
	size_t len = 0;
	unsigned long rows;
	int fd;

	st->reads++;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			st->enoent++;
		else
			st->other++;
		if (errno != ENOENT && st->other <= MAX_REPORTS)
			printf("# open %s: %s\n", path, strerror(errno));
		return;
	}
	for (;;) {
		ssize_t n;

		if (cap - len < 65536) {
			cap = cap ? cap * 2 : 1 << 20;
			buf = realloc(buf, cap);
			if (!buf) {
				perror("as-reader: realloc");
				exit(1);
			}
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno == EIO)
				st->eio++;
			else
				st->other++;
			if (errno != EIO && st->other <= MAX_REPORTS)
				printf("# read %s: %s\n", path, strerror(errno));
			close(fd);
			return;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (validate(buf, len, &rows)) {
		st->bad++;
		if (st->bad <= MAX_REPORTS && !quiet)
			printf("# bad: read %lu (%zu bytes): %s\n", st->reads, len, why);
		return;
	}
	st->ok++;
	st->rows_total += rows;
	if (rows > st->rows_max)
		st->rows_max = rows;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	unsigned long max_reads = 0;
	const char *stop = NULL, *path;
	struct stats st = { 0 };
	unsigned long last_enoent = 0;
	double secs = 0, end;
	int opt;

	while ((opt = getopt(argc, argv, "n:d:s:q")) != -1) {
		switch (opt) {
		case 'n':
			max_reads = strtoul(optarg, NULL, 10);
			break;
		case 'd':
			secs = strtod(optarg, NULL);
			break;
		case 's':
			stop = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		default:
			fprintf(stderr, "usage: as-reader [-n READS] [-d SECONDS] [-s STOPFILE] [-q] [PATH]\n");
			return 2;
		}
	}
	path = optind < argc ? argv[optind] : allocstat_path();
	if (!max_reads && !secs && !stop)
		max_reads = 1;
	end = now_s() + secs;
	for (;;) {
		one_read(path, &st);
		if (max_reads && st.reads >= max_reads)
			break;
		if (secs && now_s() >= end)
			break;
		if (stop && !access(stop, F_OK))
			break;
		/* not loaded: do not starve the insmod that will load it */
		if (st.enoent && last_enoent != st.enoent)
			usleep(2000);
		last_enoent = st.enoent;
	}
	printf("reads=%lu ok=%lu enoent=%lu eio=%lu other=%lu bad=%lu rows_max=%lu rows_total=%lu\n",
	       st.reads, st.ok, st.enoent, st.eio, st.other, st.bad, st.rows_max,
	       st.rows_total);
	return st.bad || st.other ? 1 : 0;
}
