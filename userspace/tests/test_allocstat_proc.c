// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of the /proc/allocstat parser (lib/allocstat_proc.c).
 *
 * Usage: test_allocstat_proc SAMPLES_DIR
 *
 * Prints KTAP: the samples (hand-written ones that follow the contract, and
 * every captured-*.txt from real kernels), then malformed input.  Exit 0 if
 * every test passed, 1 otherwise.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "allocstat_proc.h"
#include "ktap.h"

static const char *samples_dir;

#define HDR "# allocstat 0.1.0 kernel=6.1.0-56-amd64 hooks=faults,zeroing,mmap_lock tasks=2 dropped=0 missed=0\n"
#define COLS "tid tgid comm state faults fault_ns fault_max_ns vma_faults vma_retry " \
	"zero_pages zero_ns zero_huge zero_alloc_pages mmap_read mmap_read_wait_ns " \
	"mmap_read_wait_max_ns mmap_read_hold_ns mmap_read_hold_max_ns mmap_write " \
	"mmap_write_wait_ns mmap_write_wait_max_ns mmap_write_hold_ns " \
	"mmap_write_hold_max_ns mmap_trylock_fail\n"
#define ROW(tid, comm, state) #tid " 100 " comm " " state \
	" 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29\n"

static int parse(const char *s, struct allocstat_table *t, char *err, size_t len)
{
	return allocstat_parse(s, strlen(s), t, err, len);
}

/* the input must be rejected; the message is shown */
static void expect_error(const char *desc, const char *input, const char *needle)
{
	struct allocstat_table t;
	char err[256] = "";
	int ret = parse(input, &t, err, sizeof(err));

	if (ret == 0)
		allocstat_table_free(&t);
	diag("%s: error '%s'", desc, err);
	result(ret != 0 && strstr(err, needle) != NULL, "malformed: %s is rejected", desc);
}

/* checks shared by every well-formed sample */
static int check_table(const char *name, const struct allocstat_table *t)
{
	uint32_t all = (1u << ALLOCSTAT_NR_FIELDS) - 1;
	int ok = 1;

	if (!t->version[0]) {
		diag("%s: no version", name);
		ok = 0;
	}
	if (!t->kernel[0] || !t->hooks[0]) {
		diag("%s: kernel='%s' hooks='%s'", name, t->kernel, t->hooks);
		ok = 0;
	}
	if (t->columns != all) {
		diag("%s: header lacks known columns (mask %#x)", name, t->columns);
		ok = 0;
	}
	if (t->nr_rows == 0 || t->truncated) {
		diag("%s: %zu rows, truncated=%d", name, t->nr_rows, t->truncated);
		ok = 0;
	}
	for (size_t i = 0; i < t->nr_rows; i++) {
		const struct allocstat_row *r = &t->rows[i];
		/* vma_faults / vma_retry may be '-' (kernels without VMA locks) */
		uint32_t need = all & ~(1u << ALLOCSTAT_VMA_FAULTS) &
				~(1u << ALLOCSTAT_VMA_RETRY);

		if (!r->tid || !r->tgid || !r->comm[0] || (r->present & need) != need) {
			diag("%s: row %zu (tid %llu) incomplete, present %#x", name, i,
			     (unsigned long long)r->tid, r->present);
			ok = 0;
		}
	}
	diag("%s: allocstat %s kernel=%s hooks=%s, %zu rows", name, t->version,
	     t->kernel, t->hooks, t->nr_rows);
	return ok;
}

static int load_sample(const char *file, struct allocstat_table *t)
{
	char path[4096], err[256] = "";
	int ret;

	snprintf(path, sizeof(path), "%s/%s", samples_dir, file);
	ret = allocstat_read(path, t, err, sizeof(err));
	if (ret)
		diag("%s: %s", file, err);
	return ret;
}

static void test_hand_written(void)
{
	struct allocstat_table t;
	const struct allocstat_row *r;
	int ok;

	/* hand-written from the contract, not captured from a kernel */
	ok = !load_sample("hand-written-6.1.txt", &t);
	if (ok) {
		ok = check_table("hand-written-6.1.txt", &t) && t.nr_rows == 5 &&
		     t.tasks == 5 && !allocstat_has(&t.rows[0], ALLOCSTAT_VMA_FAULTS);
		r = allocstat_find(&t, 251, 252);
		ok = ok && r && r->exited && r->val[ALLOCSTAT_FAULTS] == 16402 &&
		     !strcmp(t.rows[2].comm, "allocstat run");
		allocstat_table_free(&t);
	}
	result(ok, "hand-written sample for 6.1 (no VMA locks: vma columns '-')");

	ok = !load_sample("hand-written-6.12.txt", &t);
	if (ok) {
		ok = check_table("hand-written-6.12.txt", &t) && t.nr_rows == 5 &&
		     allocstat_has(&t.rows[0], ALLOCSTAT_VMA_FAULTS);
		/* tid 252 appears twice: the later row is the newer task */
		r = allocstat_find(&t, 251, 252);
		ok = ok && r == &t.rows[4] && r->val[ALLOCSTAT_FAULTS] == 16396;
		allocstat_table_free(&t);
	}
	result(ok, "hand-written sample for 6.12 (VMA locks, reused tid: last row wins)");
}

/* every captured-*.txt the lead adds from real kernels */
static void test_captured(void)
{
	struct dirent **names;
	int n = scandir(samples_dir, &names, NULL, alphasort), found = 0;

	for (int i = 0; i < n; i++) {
		const char *f = names[i]->d_name;
		size_t l = strlen(f);

		if (!strncmp(f, "captured-", 9) && l > 4 && !strcmp(f + l - 4, ".txt")) {
			struct allocstat_table t;
			int ok = !load_sample(f, &t);

			if (ok) {
				ok = check_table(f, &t);
				allocstat_table_free(&t);
			}
			result(ok, "captured sample %s: header parses, every row complete", f);
			found++;
		}
		free(names[i]);
	}
	if (n >= 0)
		free(names);
	if (!found)
		result(1, "captured samples # SKIP no samples/captured-*.txt yet");
}

static void test_malformed(void)
{
	struct allocstat_table t;
	char err[256];
	int ok;

	expect_error("empty input", "", "missing header");
	expect_error("missing title line", COLS ROW(5, "a", "alive"), "missing");
	expect_error("missing column header", HDR ROW(5, "a", "alive"), "missing column header");
	expect_error("title only", HDR, "missing column header");
	expect_error("header without tid", HDR "tgid comm state faults\n", "missing column header");
	expect_error("duplicate column", HDR "tid tgid comm state faults faults\n", "duplicate");
	expect_error("bad number", HDR COLS "5 100 a alive 1x 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29\n"
		     ROW(6, "b", "alive"), "bad faults");
	expect_error("u64 overflow", HDR COLS "5 100 a alive 18446744073709551616 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29\n"
		     ROW(6, "b", "alive"), "bad faults");
	expect_error("negative number", HDR COLS "5 100 a alive -1 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29\n"
		     ROW(6, "b", "alive"), "bad faults");
	expect_error("bad state", HDR COLS ROW(5, "a", "zombie") ROW(6, "b", "alive"), "bad state");
	expect_error("short row before the last", HDR COLS "5 100 a alive 1 2 3\n" ROW(6, "b", "alive"),
		     "too few fields");
	expect_error("too many fields", HDR COLS "5 100 a alive 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30\n",
		     "fields, header has");
	expect_error("bad title number", "# allocstat 0.1.0 kernel=x hooks=a tasks=z dropped=0 missed=0\n" COLS,
		     "bad number");

	/* recycled= (0.2.0): parsed when present, known to be absent otherwise */
	ok = !parse("# allocstat 0.2.0 kernel=x hooks=faults tasks=0 dropped=3 recycled=12345 missed=7\n" COLS,
		    &t, err, sizeof(err));
	if (ok) {
		ok = t.has_recycled && t.recycled == 12345 && t.dropped == 3 && t.missed == 7;
		allocstat_table_free(&t);
	}
	result(ok, "recycled= is parsed (12345), next to dropped= and missed=");
	ok = !parse(HDR COLS, &t, err, sizeof(err));
	if (ok) {
		ok = !t.has_recycled && t.recycled == 0;
		allocstat_table_free(&t);
	}
	result(ok, "a 0.1.0 header without recycled= says so (has_recycled false)");
	expect_error("bad recycled number", "# allocstat 0.2.0 kernel=x hooks=a tasks=0 dropped=0 recycled=-1 missed=0\n" COLS,
		     "bad number");

	/* extra unknown columns, known ones in another order */
	ok = !parse("# allocstat 0.2.0 kernel=7.0 hooks=faults,new_hook tasks=1 dropped=0 missed=0 future=1\n"
		    "comm new_a tgid tid faults state new_b zero_pages\n"
		    "w0 7 100 101 5000 alive 8 4096\n", &t, err, sizeof(err));
	if (ok) {
		const struct allocstat_row *r = allocstat_find(&t, 100, 101);

		ok = t.nr_extra_cols == 2 && r && !strcmp(r->comm, "w0") &&
		     r->val[ALLOCSTAT_FAULTS] == 5000 && r->val[ALLOCSTAT_ZERO_PAGES] == 4096 &&
		     !allocstat_has(r, ALLOCSTAT_ZERO_NS) &&
		     allocstat_hook_active(&t, "new_hook") && !allocstat_hook_active(&t, "new");
		allocstat_table_free(&t);
	}
	result(ok, "extra columns are ignored, known ones mapped by name, missing ones absent");

	/* '-' values */
	ok = !parse(HDR COLS "5 100 a alive 10 11 12 - - 15 16 17 18 19 20 21 22 23 24 25 26 27 28 -\n",
		    &t, err, sizeof(err));
	if (ok) {
		const struct allocstat_row *r = &t.rows[0];

		ok = !allocstat_has(r, ALLOCSTAT_VMA_FAULTS) && !allocstat_has(r, ALLOCSTAT_VMA_RETRY) &&
		     !allocstat_has(r, ALLOCSTAT_MMAP_TRYLOCK_FAIL) &&
		     allocstat_has(r, ALLOCSTAT_FAULT_MAX_NS) && r->val[ALLOCSTAT_ZERO_PAGES] == 15;
		allocstat_table_free(&t);
	}
	result(ok, "'-' values are absent, the others present");

	/* truncated last line: no newline */
	ok = !parse(HDR COLS ROW(5, "a", "alive") "6 100 b alive 10 11 12 13", &t, err, sizeof(err));
	ok = ok && t.nr_rows == 1 && t.truncated && t.rows[0].tid == 5;
	if (ok)
		allocstat_table_free(&t);
	result(ok, "truncated last line (cut mid-row) is dropped and reported");

	/* a complete-looking last row without its newline is dropped too */
	ok = !parse(HDR COLS ROW(5, "a", "alive") "6 100 b alive 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 2",
		    &t, err, sizeof(err));
	ok = ok && t.nr_rows == 1 && t.truncated;
	if (ok)
		allocstat_table_free(&t);
	result(ok, "last line without its newline is dropped (it may be cut mid-number)");

	/* short last line with a newline */
	ok = !parse(HDR COLS ROW(5, "a", "alive") "6 100 b\n", &t, err, sizeof(err));
	ok = ok && t.nr_rows == 1 && t.truncated;
	if (ok)
		allocstat_table_free(&t);
	result(ok, "short last line is dropped and reported");

	/* comm with escapes */
	ok = !parse(HDR COLS ROW(5, "my\\040prog", "alive") ROW(6, "back\\134slash\\011tab", "exited")
		    ROW(7, "odd\\9x\\", "alive"), &t, err, sizeof(err));
	if (ok) {
		ok = t.nr_rows == 3 && !strcmp(t.rows[0].comm, "my prog") &&
		     !strcmp(t.rows[1].comm, "back\\slash\ttab") && t.rows[1].exited &&
		     !strcmp(t.rows[2].comm, "odd\\9x\\");
		diag("comms: '%s' '%s' '%s'", t.rows[0].comm, t.rows[1].comm, t.rows[2].comm);
		allocstat_table_free(&t);
	}
	result(ok, "comm: \\ooo escapes decoded, other backslashes kept");

	/* largest u64, empty table */
	ok = !parse(HDR COLS "5 100 a alive 18446744073709551615 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29\n",
		    &t, err, sizeof(err));
	ok = ok && t.rows[0].val[ALLOCSTAT_FAULTS] == UINT64_MAX;
	if (ok)
		allocstat_table_free(&t);
	result(ok, "u64 maximum parses");
	ok = !parse(HDR COLS, &t, err, sizeof(err)) && t.nr_rows == 0 && !t.truncated;
	result(ok, "header without rows is an empty table");

	/* reading: a missing file says ENOENT */
	ok = allocstat_read("/nonexistent/allocstat", &t, err, sizeof(err)) == -ENOENT;
	diag("missing file: %s", err);
	result(ok, "allocstat_read of a missing file returns -ENOENT");
}

/* the version line: a major version the parser does not know is refused */
static void test_version(void)
{
	struct allocstat_table t;
	char err[256];
	int ok;

	expect_error("major version 1", "# allocstat 1.0.0 kernel=x hooks=a tasks=0 dropped=0 missed=0\n" COLS,
		     "major version 0");
	expect_error("version that is not MAJOR.MINOR.PATCH",
		     "# allocstat v0.2 kernel=x hooks=a tasks=0 dropped=0 missed=0\n" COLS, "not MAJOR.MINOR");
	expect_error("version with a trailing word",
		     "# allocstat 0.2.0rc1 kernel=x hooks=a tasks=0 dropped=0 missed=0\n" COLS, "not MAJOR.MINOR");
	ok = !parse("# allocstat 0.10.3 kernel=x hooks=a tasks=0 dropped=0 missed=0\n" COLS,
		    &t, err, sizeof(err));
	if (ok) {
		ok = !strcmp(t.version, "0.10.3");
		allocstat_table_free(&t);
	} else {
		diag("0.10.3: %s", err);
	}
	result(ok, "version 0.10.3 (major 0, two-digit minor) is accepted");
}

/* tasks= against the rows, and truncation: parsed, but reported */
static void test_problems(void)
{
	struct allocstat_table t;
	char err[256], msg[256];
	const char *p;
	int ok;

	ok = !parse(HDR COLS ROW(5, "a", "alive") ROW(6, "b", "alive"), &t, err, sizeof(err));
	p = ok ? allocstat_table_problem(&t, msg, sizeof(msg)) : "parse failed";
	diag("tasks=2, 2 rows: %s", p ? p : "(no problem)");
	result(ok && !p, "tasks=2 with 2 rows: nothing to report");
	if (ok)
		allocstat_table_free(&t);

	ok = !parse(HDR COLS ROW(5, "a", "alive"), &t, err, sizeof(err));
	p = ok ? allocstat_table_problem(&t, msg, sizeof(msg)) : NULL;
	diag("tasks=2, 1 row: %s", p ? p : "(no problem)");
	result(ok && p && strstr(p, "tasks=2") && strstr(p, "1 row") && !t.truncated,
	       "tasks=2 with 1 complete row: the mismatch is reported");
	if (ok)
		allocstat_table_free(&t);

	ok = !parse(HDR COLS ROW(5, "a", "alive") "6 100 b alive 10 11", &t, err, sizeof(err));
	p = ok ? allocstat_table_problem(&t, msg, sizeof(msg)) : NULL;
	diag("cut in the second row: %s", p ? p : "(no problem)");
	result(ok && p && strstr(p, "incomplete") && strstr(p, "tasks=2"),
	       "a cut last row: truncation and the row count are reported");
	if (ok)
		allocstat_table_free(&t);
}

/* a file larger than ALLOCSTAT_READ_MAX is refused; one of that size is read */
static void test_size_bound(void)
{
	char path[] = "/tmp/test_allocstat_proc.XXXXXX", err[256] = "";
	struct allocstat_table t;
	int fd = mkstemp(path), ret;

	if (fd < 0 || ftruncate(fd, (off_t)ALLOCSTAT_READ_MAX + 1)) {
		result(0, "a file of ALLOCSTAT_READ_MAX + 1 bytes is refused (cannot make it: %s)",
		       strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	ret = allocstat_read(path, &t, err, sizeof(err));
	diag("%d MiB + 1 byte: %d, '%s'", ALLOCSTAT_READ_MAX >> 20, ret, err);
	result(ret == -EFBIG && strstr(err, "64 MiB"),
	       "a file of 64 MiB + 1 byte is refused (-EFBIG), the message names the bound");

	/* at the bound it is read: the sparse file's NUL bytes do not parse */
	err[0] = '\0';
	ret = ftruncate(fd, (off_t)ALLOCSTAT_READ_MAX) ? -errno :
	      allocstat_read(path, &t, err, sizeof(err));
	diag("64 MiB: %d, '%s'", ret, err);
	result(ret == -EINVAL && strstr(err, "NUL"),
	       "a file of exactly 64 MiB is read (then rejected by the parser: NUL bytes)");
	close(fd);
	unlink(path);
}

/*
 * The fork-following format: track= in the header, root and the task_*
 * columns after the counters; '-' in them is absent, not 0; they are not
 * counters (present and columns do not change).
 */
static void test_task_columns(void)
{
	static const char text[] =
		"# allocstat 0.4.0 kernel=6.12.0 hooks=faults,fork init_on_alloc=1 tasks=3 "
		"dropped=0 recycled=0 missed=0 track=41,4242\n"
		"tid tgid comm state faults zero_pages root task_start_ns task_end_ns "
		"task_cpu_ns task_utime_ns task_stime_ns task_runq_ns task_sleep_ns\n"
		"4242 4242 sh exited 7 8 4242 1000 9000 500 200 300 40 6000\n"
		"4250 4250 cc1 alive 9 - 4242 2000 - - - - - -\n"
		"17 17 old alive 1 2 - 5 - - - - - -\n";
	struct allocstat_table t;
	const struct allocstat_row *a, *b, *c;
	char err[256] = "";
	int ret = parse(text, &t, err, sizeof(err));

	result(ret == 0, "task columns: the fork-following format parses (%s)", err);
	if (ret)
		return;
	a = &t.rows[0];
	b = &t.rows[1];
	c = &t.rows[2];
	diag("track='%s' has_root_col=%d task_columns=%#x columns=%#x", t.track,
	     t.has_root_col, t.task_columns, t.columns);
	result(t.init_on_alloc == 1, "header: init_on_alloc=1 is read");
	result(!strcmp(t.track, "41,4242") && allocstat_track_has(&t, 4242) &&
	       allocstat_track_has(&t, 41) && !allocstat_track_has(&t, 424) &&
	       !allocstat_track_has(&t, 42420),
	       "task columns: track=41,4242 kept as is; 41 and 4242 in it, 424 and 42420 not");
	result(t.has_root_col && t.task_columns == (1u << ALLOCSTAT_NR_TASK_FIELDS) - 1 &&
	       t.columns == ((1u << ALLOCSTAT_FAULTS) | (1u << ALLOCSTAT_ZERO_PAGES)) &&
	       t.nr_extra_cols == 0,
	       "task columns: root and the 7 task_* columns known, not counted as counters");
	result(a->has_root && a->root == 4242 && a->task_present == 0x7f &&
	       a->task[ALLOCSTAT_TASK_START] == 1000 && a->task[ALLOCSTAT_TASK_END] == 9000 &&
	       a->task[ALLOCSTAT_TASK_CPU] == 500 && a->task[ALLOCSTAT_TASK_UTIME] == 200 &&
	       a->task[ALLOCSTAT_TASK_STIME] == 300 && a->task[ALLOCSTAT_TASK_RUNQ] == 40 &&
	       a->task[ALLOCSTAT_TASK_SLEEP] == 6000 && a->val[ALLOCSTAT_FAULTS] == 7,
	       "task columns: an exited row's root and task_* values");
	result(b->has_root && b->root == 4242 &&
	       b->task_present == 1u << ALLOCSTAT_TASK_START &&
	       !allocstat_has_task(b, ALLOCSTAT_TASK_END) && !allocstat_has(b, ALLOCSTAT_ZERO_PAGES),
	       "task columns: a live row's '-' are absent, task_start_ns present");
	result(!c->has_root && allocstat_has_task(c, ALLOCSTAT_TASK_START),
	       "task columns: root '-' is absent");
	allocstat_table_free(&t);

	ret = parse(HDR COLS ROW(1, "a", "alive"), &t, err, sizeof(err));
	result(ret == 0 && !strcmp(t.track, "absent") && !t.has_root_col && !t.task_columns &&
	       t.init_on_alloc == -1,
	       "task columns: an older header: track 'absent', no root, no task columns, "
	       "init_on_alloc -1");
	if (!ret)
		allocstat_table_free(&t);
	expect_error("a bad task_start_ns",
		     "# allocstat 0.3.0 track=all\ntid tgid comm state task_start_ns\n1 1 a alive x\n",
		     "bad task_start_ns");
	expect_error("a bad root", "# allocstat 0.3.0\ntid tgid comm state root\n1 1 a alive -3\n",
		     "bad root");
	expect_error("an empty track=", "# allocstat 0.3.0 track=\ntid tgid comm state\n",
		     "bad track=");
	expect_error("init_on_alloc=2", "# allocstat 0.4.0 init_on_alloc=2\ntid tgid comm state\n",
		     "bad init_on_alloc=");
	ret = parse("# allocstat 0.4.0 init_on_alloc=0\ntid tgid comm state\n", &t, err,
		    sizeof(err));
	result(ret == 0 && t.init_on_alloc == 0, "header: init_on_alloc=0 is 0, not absent");
	if (!ret)
		allocstat_table_free(&t);
}

int main(int argc, char **argv)
{
	samples_dir = argc > 1 ? argv[1] : "samples";
	test_hand_written();
	test_captured();
	test_malformed();
	test_version();
	test_problems();
	test_size_bound();
	test_task_columns();

	return ktap_finish();
}
