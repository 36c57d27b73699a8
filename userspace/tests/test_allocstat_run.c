// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of allocstat-run's logic, with fixture data: the order of
 * the runs, the summary of repetitions, the --compare ranking and its
 * "within the spread" marks.
 *
 * Usage: test_allocstat_run
 *
 * Prints KTAP.  Exit 0 if every test passed, 1 otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "allocstat-run.h"
#include "ktap.h"

#define MS 1000000ULL

/* three configurations, three repetitions, wall times in ms by run */
static void fixture(struct run *runs, const uint64_t (*walls)[3], int ncfg,
		    struct thread_result *thr)
{
	struct config cfgs[3] = {
		{ .method = METHOD_MALLOC, .block = 0, .threads = 1 }, { .method = METHOD_MMAP, .block = 0, .threads = 1 }, { .method = METHOD_NOTHP, .block = 0, .threads = 1 },
	};

	plan_runs(cfgs, ncfg, 3, runs);
	for (int i = 0; i < 3 * ncfg; i++) {
		runs[i].wall_ns = walls[runs[i].config_index][runs[i].rep] * MS;
		runs[i].thr = thr;
		runs[i].bd.thread_ns = runs[i].wall_ns;
	}
}

static void test_order(void)
{
	struct config cfgs[3] = {
		{ .method = METHOD_MALLOC, .block = 0, .threads = 2 }, { .method = METHOD_MMAP, .block = 0, .threads = 2 }, { .method = METHOD_THP, .block = 0, .threads = 2 },
	};
	struct run runs[6];
	char got[64] = "";
	int ok = 1;

	plan_runs(cfgs, 3, 2, runs);
	for (int i = 0; i < 6; i++) {
		char one[16];

		snprintf(one, sizeof(one), "%s%s/%d", i ? " " : "",
			 method_names[runs[i].cfg.method], runs[i].rep);
		strncat(got, one, sizeof(got) - strlen(got) - 1);
		ok &= runs[i].config_index == i % 3 && runs[i].rep == i / 3 &&
		      runs[i].cfg.method == cfgs[i % 3].method;
	}
	diag("run order: %s", got);
	result(ok && !strcmp(got, "malloc/0 mmap/0 thp/0 malloc/1 mmap/1 thp/1"),
	       "3 configurations x 2 repetitions run interleaved: A B C A B C");
}

static void test_summary(void)
{
	static const uint64_t walls[3][3] = {
		{ 100, 120, 110 },	/* median 110, 100-120 */
		{ 125, 118, 130 },	/* median 125, 118-130 */
		{ 200, 210, 190 },	/* median 200, 190-210 */
	};
	struct thread_result thr = { 0 };
	struct run runs[9], *best[3];
	int ok = 1;

	fixture(runs, walls, 3, &thr);
	plan_summarize(runs, 9, 3, best);
	for (int c = 0; c < 3; c++) {
		diag("configuration %d: median %llu ms, %llu-%llu ms", c,
		     (unsigned long long)(best[c]->wall_ns / MS),
		     (unsigned long long)(best[c]->wall_min_ns / MS),
		     (unsigned long long)(best[c]->wall_max_ns / MS));
		ok &= best[c]->config_index == c;
	}
	ok &= best[0]->wall_ns == 110 * MS && best[0]->wall_min_ns == 100 * MS &&
	      best[0]->wall_max_ns == 120 * MS;
	ok &= best[1]->wall_ns == 125 * MS && best[1]->wall_min_ns == 118 * MS &&
	      best[1]->wall_max_ns == 130 * MS;
	ok &= best[2]->wall_ns == 200 * MS && best[2]->wall_min_ns == 190 * MS &&
	      best[2]->wall_max_ns == 210 * MS;
	/* every repetition carries its configuration's range */
	ok &= runs[3].wall_min_ns == 100 * MS && runs[8].wall_max_ns == 210 * MS;
	result(ok, "each configuration: the median repetition, min and max wall time");
}

static void test_spread(void)
{
	static const uint64_t walls[3][3] = {
		{ 125, 118, 130 },	/* B: median 125, 118-130 */
		{ 200, 210, 131 },	/* C: median 200, 131-210: apart from B */
		{ 100, 120, 110 },	/* A: median 110, 100-120: overlaps B */
	};
	static const uint64_t touch[3][3] = {
		{ 10, 12, 11 },		/* median 11, 10-12 */
		{ 12, 13, 14 },		/* median 13, 12-14: min = max above */
		{ 20, 30, 25 },		/* median 25, 20-30 */
	};
	struct thread_result thr = { 0 };
	struct run runs[9], *best[3];
	bool within[3];
	int order[3];

	fixture(runs, walls, 3, &thr);
	plan_summarize(runs, 9, 3, best);
	compare_order(best, 3, order, within);
	diag("order %d %d %d, within the spread %d %d %d", order[0], order[1], order[2],
	     within[0], within[1], within[2]);
	result(order[0] == 2 && order[1] == 0 && order[2] == 1,
	       "--compare ranks by the median wall time (110, 125, 200 ms)");
	result(!within[0] && within[1] && !within[2],
	       "rank 2 (118-130 ms) is within the spread of rank 1 (100-120), rank 3 (131-210) is not");

	/* ranges that only touch count as overlapping */
	fixture(runs, touch, 3, &thr);
	plan_summarize(runs, 9, 3, best);
	compare_order(best, 3, order, within);
	diag("touching ranges: order %d %d %d, within %d %d %d", order[0], order[1], order[2],
	     within[0], within[1], within[2]);
	result(order[1] == 1 && within[1] && !within[2],
	       "a range whose min equals the max of the rank above is within its spread");
}

/* the text table marks the rank and explains the mark */
static void test_report_marks(void)
{
	static const uint64_t walls[3][3] = {
		{ 100, 120, 110 }, { 125, 118, 130 }, { 200, 210, 190 },
	};
	struct thread_result thr = { 0 };
	struct run runs[9], *best[3];
	char *buf = NULL, *l2, *l3;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	env.size = 8 * MIB;
	env.repeat = 3;
	fixture(runs, walls, 3, &thr);
	plan_summarize(runs, 9, 3, best);
	report_compare(f, best, 3);
	fclose(f);
	for (char *p = strtok(strdup(buf), "\n"); p; p = strtok(NULL, "\n"))
		diag("%s", p);
	l2 = strstr(buf, "\n   ~2 mmap ");
	l3 = strstr(buf, "\n    3 nothp ");
	result(l2 && l3 && strstr(buf, "0.118-0.130") && strstr(buf, "~: within the spread"),
	       "the table shows min-max, marks rank 2 with ~ and explains it, not rank 3");
	free(buf);
}

/* the memory check counts what blocks really take, not only the payload */
static void test_footprint(void)
{
	uint64_t payload = 32 * MIB, f16, f4k, one, mm;

	env.size = payload;
	env.mmap_threshold = -1;
	f16 = run_footprint(&(struct config){ .method = METHOD_MALLOC, .block = 16, .threads = 1 });
	diag("-t 1 -s 32M -b 16: %llu bytes (%.2f x the payload)",
	     (unsigned long long)f16, (double)f16 / (double)payload);
	result(f16 >= 2 * payload,
	       "malloc -b 16: the estimate is at least 2 x the payload (chunk headers, bookkeeping)");

	f4k = run_footprint(&(struct config){ .method = METHOD_MMAP, .block = 100, .threads = 2 });
	diag("mmap -t 2 -s 32M -b 100: %llu bytes", (unsigned long long)f4k);
	result(f4k >= 2 * (payload / 100) * 4096,
	       "mmap -b 100: every block takes at least a page");

	one = run_footprint(&(struct config){ .method = METHOD_MALLOC, .block = 0, .threads = 1 });
	mm = run_footprint(&(struct config){ .method = METHOD_NOTHP, .block = 0, .threads = 4 });
	diag("one block: malloc x 1 %llu, nothp x 4 %llu bytes", (unsigned long long)one,
	     (unsigned long long)mm);
	result(one >= payload && one <= payload + payload / 256 + 3 * MIB &&
	       mm >= 4 * payload && mm <= 4 * (payload + payload / 256) + 3 * MIB,
	       "one large block: the payload, its page tables and at most 3 MiB for the process");

	env.mmap_threshold = 0;
	f16 = run_footprint(&(struct config){ .method = METHOD_MALLOC, .block = 16, .threads = 1 });
	diag("--mmap-threshold 0 -b 16: %llu bytes", (unsigned long long)f16);
	result(f16 >= 65536ULL * 4096,
	       "--mmap-threshold 0 -b 16: glibc's first 65536 blocks get a page each (M_MMAP_MAX)");
	env.mmap_threshold = -1;
}

/* hpage_pmd_size: read, or 2 MiB when it cannot be (and the caller is told) */
static void test_pmd_size(void)
{
	static const struct {
		const char *text;	/* NULL: no file */
		uint64_t want;
		bool guessed;
	} cases[] = {
		{ "2097152\n", 2 * MIB, false },
		{ "1048576", MIB, false },
		{ "536870912\n", 512 * MIB, false },
		{ NULL, 2 * MIB, true },
		{ "", 2 * MIB, true },
		{ "2M\n", 2 * MIB, true },
		{ "3000000\n", 2 * MIB, true },	/* not a power of two */
		{ "-2097152\n", 2 * MIB, true },
	};
	char path[] = "/tmp/test_allocstat_run.XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0) {
		result(0, "hpage_pmd_size: cannot make a fixture file");
		return;
	}
	close(fd);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool guessed = !cases[i].guessed;
		uint64_t got;
		FILE *f;

		unlink(path);
		if (cases[i].text) {
			f = fopen(path, "w");
			fputs(cases[i].text, f);
			fclose(f);
		}
		got = thp_pmd_size(path, &guessed);
		if (got != cases[i].want || guessed != cases[i].guessed)
			diag("got %llu, guessed %d", (unsigned long long)got, guessed);
		result(got == cases[i].want && guessed == cases[i].guessed,
		       "hpage_pmd_size %s%.*s%s: %llu bytes%s", cases[i].text ? "'" : "",
		       cases[i].text ? (int)strcspn(cases[i].text, "\n") : 7,
		       cases[i].text ? cases[i].text : "missing", cases[i].text ? "'" : "",
		       (unsigned long long)cases[i].want,
		       cases[i].guessed ? " (assumed, and said so)" : "");
	}
	unlink(path);
}

/* JSON strings: UTF-8 passes, invalid bytes are U+FFFD, controls escaped */
static void test_json_string(void)
{
	static const struct {
		const char *desc, *in, *want;
	} cases[] = {
		{ "ASCII", "plain /tmp/x", "\"plain /tmp/x\"" },
		{ "e acute (C3 A9) passes as UTF-8", "/tmp/\xc3\xa9", "\"/tmp/\xc3\xa9\"" },
		{ "an invalid byte (FF) is U+FFFD", "/tmp/\xc3\xa9\xff", "\"/tmp/\xc3\xa9\\ufffd\"" },
		{ "quote, backslash, newline, tab, 0x01, DEL", "\"\\\n\t\x01\x7f",
		  "\"\\\"\\\\\\n\\t\\u0001\\u007f\"" },
		{ "4-byte UTF-8 (U+1F600) passes", "\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"" },
		{ "a surrogate (ED A0 80) is three U+FFFD", "\xed\xa0\x80",
		  "\"\\ufffd\\ufffd\\ufffd\"" },
		{ "an overlong '/' (C0 AF) is two U+FFFD", "\xc0\xaf", "\"\\ufffd\\ufffd\"" },
		{ "a cut sequence (E2 82) at the end is one U+FFFD", "x\xe2\x82", "\"x\\ufffd\"" },
		{ "a cut sequence (E2 82) before ASCII is one U+FFFD", "\xe2\x82x", "\"\\ufffdx\"" },
		{ "a lone continuation byte (80) is U+FFFD", "a\x80" "b", "\"a\\ufffdb\"" },
		{ "above U+10FFFF (F4 90 80 80) is four U+FFFD", "\xf4\x90\x80\x80",
		  "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" },
		{ "NULL is null", NULL, "null" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		json_string(f, cases[i].in);
		fclose(f);
		if (strcmp(buf, cases[i].want))
			diag("got %s, want %s", buf, cases[i].want);
		result(!strcmp(buf, cases[i].want), "JSON string: %s", cases[i].desc);
		free(buf);
	}
}

/* the header line of a table (the line that starts with hdr) */
static char *header_of(char *text, const char *hdr)
{
	char *l = strstr(text, hdr), *nl;

	if (!l)
		return NULL;
	nl = strchr(l, '\n');
	if (nl)
		*nl = '\0';
	return l;
}

/* does the table's header have the column? (space-separated) */
static bool has_col(const char *header, const char *col)
{
	size_t n = strlen(col);

	for (const char *p = header; (p = strstr(p, col)); p += n)
		if ((p == header || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
	return false;
}

/*
 * The --sweep and --compare tables name each column for what it holds: the
 * eight buckets, "-" in the module's three when a run has no counters;
 * minflt/thr is getrusage's.
 */
static void test_column_names(void)
{
	static const uint64_t walls[3][3] = {
		{ 100, 120, 110 }, { 125, 118, 130 }, { 200, 210, 190 },
	};
	static const char *const cols[] = {
		"user", "zero_cpu", "fault_cpu", "lock_wait", "runq", "sys_other",
		"sleep_other", "unexplained",
	};
	struct thread_result thr = { 0 };
	struct run runs[9], *best[3];

	env.size = 8 * MIB;
	env.repeat = 3;
	for (int counters = 0; counters < 2; counters++) {
		for (int mode = 0; mode < 2; mode++) {
			char *buf = NULL, *h, *row;
			size_t len = 0;
			FILE *f = open_memstream(&buf, &len);
			int dashes = 0;
			bool ok;

			fixture(runs, walls, 3, &thr);
			for (int i = 0; i < 9; i++) {
				runs[i].counters = counters;
				for (int k = 0; k < NR_BUCKETS; k++)
					runs[i].bd.known[k] = counters ||
						k < BUCKET_ZERO_CPU || k > BUCKET_LOCK_WAIT;
			}
			plan_summarize(runs, 9, 3, best);
			if (mode)
				report_compare(f, best, 3);
			else
				report_sweep(f, best, 3);
			fclose(f);
			h = header_of(buf, mode ? " rank " : "threads ");
			diag("%s", h ? h : "(no header)");
			ok = h && !has_col(h, "cpu") && !has_col(h, "off_cpu") &&
			     !has_col(h, "zeroing") && !has_col(h, "other");
			for (size_t c = 0; ok && c < sizeof(cols) / sizeof(cols[0]); c++)
				ok = has_col(h, cols[c]);
			/* the first data row: three "-" without counters, none with */
			row = h ? h + strlen(h) + 1 : NULL;	/* header_of() cut it */
			for (char *p = row; p && *p && *p != '\n'; p++)
				dashes += p[0] == '-' && (p[1] == ' ' || p[1] == '\n') && p[-1] == ' ';
			diag("dashes in the first row: %d", dashes);
			ok = ok && dashes == (counters ? 0 : 3);
			if (mode)
				ok = ok && has_col(h, "minflt/thr") &&
				     has_col(h, "faults/thr") == (bool)counters;
			result(ok, "--%s %s the module's counters: each column named for what it holds",
			       mode ? "compare" : "sweep", counters ? "with" : "without");
			free(buf);
		}
	}
}

/* ---- the breakdown (breakdown.c) ---- */

#define SET(t, f, v) ((t)->val[ALLOCSTAT_##f] = (v) * MS, (t)->present |= 1u << ALLOCSTAT_##f)

/*
 * One thread whose numbers are consistent, in ms: 1000 of thread time,
 * user 100, kernel 600, runnable 200, asleep 100.  Faults 500 (100
 * runnable, 20 asleep), zeroing 200 (20 runnable), mmap_lock waits 150
 * (30 runnable, 60 asleep).
 */
static const struct {
	int field;
	uint64_t ms;		/* counts too are set in units of MS */
} fixture_ms[] = {
	{ ALLOCSTAT_FAULTS, 1 },
	{ ALLOCSTAT_FAULT_NS, 500 }, { ALLOCSTAT_FAULT_RUNQ_NS, 100 },
	{ ALLOCSTAT_FAULT_SLEEP_NS, 20 },
	{ ALLOCSTAT_ZERO_NS, 200 }, { ALLOCSTAT_ZERO_RUNQ_NS, 20 }, { ALLOCSTAT_ZERO_SLEEP_NS, 0 },
	{ ALLOCSTAT_MMAP_READ_WAIT_NS, 100 }, { ALLOCSTAT_MMAP_READ_WAIT_RUNQ_NS, 20 },
	{ ALLOCSTAT_MMAP_READ_WAIT_SLEEP_NS, 50 },
	{ ALLOCSTAT_MMAP_WRITE_WAIT_NS, 50 }, { ALLOCSTAT_MMAP_WRITE_WAIT_RUNQ_NS, 10 },
	{ ALLOCSTAT_MMAP_WRITE_WAIT_SLEEP_NS, 10 },
};

static void thread_fixture(struct thread_result *t)
{
	memset(t, 0, sizeof(*t));
	t->alloc_ns = 100 * MS;
	t->touch_ns = 850 * MS;
	t->free_ns = 50 * MS;
	t->utime_ns = 100 * MS;
	t->stime_ns = 600 * MS;
	t->run_delay_ns = 200 * MS;
	t->run_delay_ok = true;
	t->sleep_ns = 100 * MS;
	t->sleep_ok = true;
	t->matched = true;
	for (size_t i = 0; i < sizeof(fixture_ms) / sizeof(fixture_ms[0]); i++) {
		t->val[fixture_ms[i].field] = fixture_ms[i].ms * MS;
		t->present |= 1u << fixture_ms[i].field;
	}
}

static bool buckets_are(const struct buckets *b, const int64_t *want_ms, const char *what)
{
	bool ok = true;

	for (int k = 0; k < NR_BUCKETS; k++) {
		bool known = want_ms[k] != INT64_MIN;

		if (known != (b->known[k] > 0) || (known && b->ns[k] != want_ms[k] * (int64_t)MS)) {
			diag("%s: %s is %s%lld ns, want %s%lld ms", what, buckets[k].key,
			     b->known[k] ? "" : "unknown, ", (long long)b->ns[k],
			     known ? "" : "unknown, ", known ? (long long)want_ms[k] : 0LL);
			ok = false;
		}
	}
	return ok;
}

#define UNK INT64_MIN

/* the "where the time went" part of a report, a diagnostic per line */
static void diag_breakdown(const char *text)
{
	const char *p = strstr(text, "where the time went");

	while (p && *p) {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);

		diag("%.*s", n, p);
		p = nl ? nl + 1 : NULL;
	}
}

static char *report_of(struct run *r)
{
	struct module_info mi = { .loaded = true, .path = "/proc/allocstat" };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	snprintf(mi.first.hooks, sizeof(mi.first.hooks), "faults,mmap_lock");
	report_run(f, r, &mi);
	fclose(f);
	return buf;
}

static void test_breakdown_exact(void)
{
	static const int64_t want[NR_BUCKETS] = { 100, 180, 200, 120, 200, 160, 40, 0 };
	struct thread_result t;
	struct buckets b;

	thread_fixture(&t);
	thread_buckets(&t, &b);
	result(buckets_are(&b, want, "consistent") && b.lock_sleep_ns == 60 * (int64_t)MS,
	       "breakdown: user 100, zeroing 200-20, faults 500-100-20-180, lock 150-30, "
	       "runq 200, sys 600-380-60, sleep 100-60, unexplained 0 (ms)");
}

/*
 * Overlapping numbers, as the old report scaled them to fit: the module
 * claims more kernel CPU than getrusage has (faults 900 on CPU of 600).
 * Nothing is scaled: fault_cpu keeps the module's number, sys_other goes
 * negative, and the report prints both as measured.
 */
static void test_breakdown_not_scaled(void)
{
	static const int64_t want[NR_BUCKETS] = { 100, 180, 600, 120, 200, -240, 40, 0 };
	struct thread_result t;
	struct run r = { .cfg = { .threads = 1 }, .counters = true, .thr = &t };
	char *text;

	thread_fixture(&t);
	SET(&t, FAULT_NS, 900);
	compute_breakdown(&r);
	text = report_of(&r);
	diag_breakdown(text);
	result(buckets_are(&t.bk, want, "overlapping") &&
	       buckets_are(&r.bd, want, "run total") &&
	       strstr(text, "-24.0%") && strstr(text, " 60.0%") && !strstr(text, "scaled"),
	       "breakdown: overlapping counters are not scaled: fault_cpu 60.0%%, "
	       "sys_other -24.0%% shown as measured");
	free(text);
}

/* no zeroing or mmap_lock columns: unknown, and their time in their parents */
static void test_breakdown_missing_hooks(void)
{
	static const int64_t want[NR_BUCKETS] = { 100, UNK, 380, UNK, 200, 220, 100, 0 };
	struct thread_result t;
	struct run r = { .cfg = { .threads = 1 }, .counters = true, .thr = &t };
	char *text, held[200];
	bool ok;

	thread_fixture(&t);
	t.present &= ~(1u << ALLOCSTAT_ZERO_RUNQ_NS);		/* no split: "-" */
	t.present &= ~(1u << ALLOCSTAT_MMAP_READ_WAIT_NS);
	t.present &= ~(1u << ALLOCSTAT_MMAP_WRITE_WAIT_NS);
	compute_breakdown(&r);
	text = report_of(&r);
	diag_breakdown(text);
	ok = buckets_are(&r.bd, want, "missing hooks");
	ok = ok && r.bd.holds[BUCKET_FAULT_CPU] == 1u << BUCKET_ZERO_CPU &&
	     r.bd.holds[BUCKET_SYS_OTHER] == 1u << BUCKET_LOCK_WAIT &&
	     r.bd.holds[BUCKET_SLEEP_OTHER] == 1u << BUCKET_LOCK_WAIT;
	held_names(r.bd.holds[BUCKET_FAULT_CPU], held, sizeof(held));
	ok = ok && strstr(text, "page zeroing, on CPU                -          -") &&
	     strstr(text, "(includes page zeroing, on CPU)") &&
	     strstr(text, "-: page zeroing, on CPU: the module times it but gives no "
			  "runqueue/sleep split") &&
	     strstr(text, "-: waiting for the mmap_lock: not timed by the module");
	result(ok, "breakdown: without zeroing and mmap_lock columns they are '-', "
	       "their time is in fault_cpu, sys_other and sleep_other, which say so");
	free(text);
}

/* two threads, one without a row: the run says 1/2, the rowless thread's
 * module buckets are unknown and its faults are in sys_other */
static void test_breakdown_partial_rows(void)
{
	static const int64_t want1[NR_BUCKETS] = { 100, UNK, UNK, UNK, 200, 600, 100, 0 };
	static const int64_t want[NR_BUCKETS] = { 200, 180, 200, 120, 400, 760, 140, 0 };
	struct thread_result t[2];
	struct run r = { .cfg = { .threads = 2 }, .counters = true, .thr = t };
	char *text;
	bool ok;

	thread_fixture(&t[0]);
	thread_fixture(&t[1]);
	t[1].matched = false;
	compute_breakdown(&r);
	text = report_of(&r);
	diag_breakdown(text);
	ok = buckets_are(&t[1].bk, want1, "rowless thread") &&
	     buckets_are(&r.bd, want, "run total") && r.bd.rows == 1 &&
	     r.bd.known[BUCKET_ZERO_CPU] == 1 && r.bd.known[BUCKET_USER] == 2;
	ok = ok && strstr(text, "1/2 threads have allocstat rows") &&
	     strstr(text, "(1/2 threads)") && strstr(text, "1 of 2 threads have no row");
	result(ok, "breakdown: a thread without a row: its module buckets unknown, "
	       "the run says 1/2 threads and sums what it has");
	free(text);
}

/* no schedstat and no sleep time: runq and sleep unknown, in unexplained */
static void test_breakdown_no_schedstat(void)
{
	static const int64_t want[NR_BUCKETS] = { 100, 180, 200, 120, UNK, 160, UNK, 240 };
	struct thread_result t;
	struct run r = { .cfg = { .threads = 1 }, .counters = true, .thr = &t };
	char *text;
	bool ok;

	thread_fixture(&t);
	t.run_delay_ok = false;
	t.sleep_ok = false;
	snprintf(env.schedstats_why, sizeof(env.schedstats_why), "test: schedstats off");
	compute_breakdown(&r);
	text = report_of(&r);
	env.schedstats_why[0] = '\0';
	diag_breakdown(text);
	ok = buckets_are(&r.bd, want, "no schedstat") &&
	     r.bd.holds[BUCKET_UNEXPLAINED] == (1u << BUCKET_RUNQ | 1u << BUCKET_SLEEP_OTHER);
	ok = ok && strstr(text, "no run_delay") && strstr(text, "test: schedstats off") &&
	     strstr(text, "24.0%");
	result(ok, "breakdown: without schedstat and sleep time, runq and sleep_other are '-' "
	       "and unexplained (24.0%%) says it holds them");
	free(text);
}

/* ---- findings (findings.c) ---- */

#define MAX_FIXTURE_THREADS 65

/* the header's init_on_alloc= for findings_of(): Debian's default */
static int fixture_init_on_alloc = 1;
/* a kernel without THP (PREEMPT_RT) */
static bool fixture_no_thp;
/* a kernel that clears a THP again after init_on_alloc (up to 6.12) */
static bool fixture_thp_twice = true;

/* the run of @threads thread_fixture() threads, each changed by @tweak */
static int findings_of(void (*tweak)(struct thread_result *), struct finding *f,
		       struct thread_result *t, int threads)
{
	struct run r = { .cfg = { .threads = threads }, .counters = true, .thr = t,
			 .init_on_alloc = fixture_init_on_alloc, .no_thp = fixture_no_thp,
			 .thp_zeroed_twice = fixture_thp_twice };

	for (int i = 0; i < threads; i++) {
		thread_fixture(&t[i]);
		SET(&t[i], ZERO_PAGES, 0);
		SET(&t[i], ZERO_HUGE, 0);
		SET(&t[i], ZERO_ALLOC_PAGES, 0);
		SET(&t[i], MMAP_WRITE, 0);
		SET(&t[i], MMAP_WRITE_HOLD_NS, 0);
		t[i].run_delay_ns = 50 * MS;	/* 5%: no runqueue finding */
		t[i].stime_ns += 150 * MS;	/* the same total */
		tweak(&t[i]);
	}
	compute_breakdown(&r);
	return find_findings(&r, f);
}

static const struct finding *has_rule(const struct finding *f, int n, const char *rule)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(f[i].rule, rule))
			return &f[i];
	return NULL;
}

static void tw_none(struct thread_result *t) { (void)t; }

static void tw_double(struct thread_result *t)
{
	t->val[ALLOCSTAT_ZERO_PAGES] = 4096;
	t->val[ALLOCSTAT_ZERO_HUGE] = 8;
	t->val[ALLOCSTAT_ZERO_ALLOC_PAGES] = 2048;
}

static void tw_double_no(struct thread_result *t)
{
	tw_double(t);
	t->val[ALLOCSTAT_ZERO_ALLOC_PAGES] = 100;
}

/* 7.x: the allocator zeroed every huge page, the fault did not again */
static void tw_double_once(struct thread_result *t)
{
	tw_double(t);
	t->val[ALLOCSTAT_ZERO_PAGES] = 2048;
}

/* double zeroing, but a saving of 9 ms in 1 s: under 1%, not shown */
static void tw_double_tiny(struct thread_result *t)
{
	tw_double(t);
	t->val[ALLOCSTAT_ZERO_NS] = 18 * MS;
	t->val[ALLOCSTAT_ZERO_RUNQ_NS] = 0;
	t->val[ALLOCSTAT_ZERO_SLEEP_NS] = 0;
}

static void tw_runq(struct thread_result *t)
{
	t->run_delay_ns = 300 * MS;
	t->stime_ns -= 250 * MS;
}

static void tw_arena(struct thread_result *t)
{
	t->val[ALLOCSTAT_MMAP_WRITE] = 2000;
	t->val[ALLOCSTAT_MMAP_WRITE_HOLD_NS] = 50 * MS;
}

static void tw_arena_no(struct thread_result *t)
{
	tw_arena(t);
	t->val[ALLOCSTAT_MMAP_WRITE] = 20;
}

/* many writes, but brief: holds and waits 15 ms of 1 s (under 2%) */
static void tw_arena_brief(struct thread_result *t)
{
	tw_arena(t);
	SET(t, VMA_FAULTS, 0);
	t->val[ALLOCSTAT_MMAP_WRITE_HOLD_NS] = 5 * MS;
	t->val[ALLOCSTAT_MMAP_READ_WAIT_NS] = 5 * MS;
	t->val[ALLOCSTAT_MMAP_READ_WAIT_RUNQ_NS] = 0;
	t->val[ALLOCSTAT_MMAP_READ_WAIT_SLEEP_NS] = 0;
	t->val[ALLOCSTAT_MMAP_WRITE_WAIT_NS] = 5 * MS;
	t->val[ALLOCSTAT_MMAP_WRITE_WAIT_RUNQ_NS] = 0;
	t->val[ALLOCSTAT_MMAP_WRITE_WAIT_SLEEP_NS] = 0;
}

static void tw_small(struct thread_result *t)
{
	t->val[ALLOCSTAT_FAULTS] = 20000;
	t->val[ALLOCSTAT_FAULT_NS] = 700 * MS;
	t->stime_ns += 200 * MS;
	t->utime_ns -= 100 * MS;
	t->sleep_ns -= 40 * MS;
	t->run_delay_ns -= 40 * MS;
	t->val[ALLOCSTAT_MMAP_READ_WAIT_NS] = 40 * MS;	/* under 5%: no read_waits */
	t->val[ALLOCSTAT_MMAP_READ_WAIT_SLEEP_NS] = 10 * MS;
}

static void tw_small_no(struct thread_result *t)
{
	tw_small(t);
	t->val[ALLOCSTAT_ZERO_HUGE] = 10;
}

/* fault-bound by share (over a third), but the runqueue is larger: no finding */
static void tw_small_runq(struct thread_result *t)
{
	tw_small(t);
	t->run_delay_ns += 760 * MS;
}


static void tw_read(struct thread_result *t)
{
	t->val[ALLOCSTAT_MMAP_WRITE] = 3;
}

static void tw_read_no(struct thread_result *t)
{
	tw_read(t);
	SET(t, VMA_FAULTS, 0);		/* per-VMA locks: a number, not "-" */
}

static void test_findings_rules(void)
{
	int over = online_cpus() + 1;	/* more threads than CPUs */
	const struct {
		const char *rule;
		void (*on)(struct thread_result *), (*off)(struct thread_result *);
		int64_t saving_ms;
		const char *miss;
		int threads, miss_threads;	/* 0: 1 */
	} cases[] = {
		{ "double_zeroing", tw_double, tw_double_no, 90, "the allocator zeroed 2%" },
		{ "double_zeroing", tw_double, tw_double_once, 90,
		  "every zeroed page was the allocator's (7.x zeroes a huge page once)" },
		{ "double_zeroing", tw_double, tw_double_tiny, 90, "a saving under 1% of the time" },
		{ "runqueue", tw_runq, tw_none, 300, "runqueue 5%", over, over },
		{ "runqueue", tw_runq, tw_runq, 300, "30% runqueue with no more threads than CPUs "
		  "(other processes' load)", over, over - 1 },
		{ "arena_growth", tw_arena, tw_arena_no, 200, "10 writes per thread" },
		{ "arena_growth", tw_arena, tw_arena_brief, 200, "holds and waits 1.5% (per-VMA locks)" },
		{ "small_pages", tw_small, tw_small_no, 0, "huge pages" },
		{ "small_pages", tw_small, tw_small_runq, 0, "a third of the time, but the runqueue is larger" },
		{ "read_waits", tw_read, tw_read_no, 100, "per-VMA locks" },
	};
	static struct thread_result t[MAX_FIXTURE_THREADS];
	struct finding f[MAX_FINDINGS];

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		int threads = cases[c].threads ? cases[c].threads : 1;
		int n = findings_of(cases[c].on, f, t, threads);
		const struct finding *x = has_rule(f, n, cases[c].rule);
		int64_t want = cases[c].saving_ms * (int64_t)MS * threads;

		if (!cases[c].saving_ms)	/* small_pages: fault_cpu - fault_cpu / 512 */
			want = t[0].bk.ns[BUCKET_FAULT_CPU] - t[0].bk.ns[BUCKET_FAULT_CPU] / 512;
		diag("%s: %s", cases[c].rule, x ? x->evidence : "(did not fire)");
		result(x && x->saving_ns == want && *x->fix && *x->basis,
		       "findings: %s fires on its case, saving %lld ns as its basis says",
		       cases[c].rule, (long long)want);
		n = findings_of(cases[c].off, f, t,
				cases[c].miss_threads ? cases[c].miss_threads : 1);
		for (int i = 0; i < n; i++)
			diag("%s's near miss fired %s", cases[c].rule, f[i].rule);
		result(!has_rule(f, n, cases[c].rule),
		       "findings: %s does not fire on a near miss: %s", cases[c].rule, cases[c].miss);
	}
}

/*
 * What the header's init_on_alloc= changes: known off, the allocator's
 * zeroing was asked for (__GFP_ZERO) and booting with init_on_alloc=0
 * would not remove it; known on, THP alone zeroes each huge page twice, so
 * small_pages names init_on_alloc=0 with THP.
 */
static void test_findings_init_on_alloc(void)
{
	static struct thread_result t[MAX_FIXTURE_THREADS];
	struct finding f[MAX_FINDINGS];
	const struct finding *x;
	int n;

	fixture_init_on_alloc = 0;
	n = findings_of(tw_double, f, t, 1);
	result(!has_rule(f, n, "double_zeroing"),
	       "findings: double_zeroing does not fire with init_on_alloc=0 in the header");
	fixture_init_on_alloc = -1;
	n = findings_of(tw_double, f, t, 1);
	result(has_rule(f, n, "double_zeroing") != NULL,
	       "findings: double_zeroing fires when the header has no init_on_alloc= (older module)");

	fixture_init_on_alloc = 1;
	n = findings_of(tw_small, f, t, 1);
	x = has_rule(f, n, "small_pages");
	diag("init_on_alloc=1: %s", x ? x->fix : "(did not fire)");
	result(x && strstr(x->fix, "with init_on_alloc=0") && strstr(x->fix, "twice") &&
	       strstr(x->fix, "reuse the buffer") &&
	       x->saving_ns == t[0].bk.ns[BUCKET_FAULT_CPU] - t[0].bk.ns[BUCKET_FAULT_CPU] / 512,
	       "findings: small_pages with init_on_alloc=1: THP with init_on_alloc=0, "
	       "and what THP alone would leave");
	fixture_thp_twice = false;
	n = findings_of(tw_small, f, t, 1);
	x = has_rule(f, n, "small_pages");
	diag("init_on_alloc=1, 6.13 or later: %s", x ? x->fix : "(did not fire)");
	result(x && !strstr(x->fix, "init_on_alloc"),
	       "findings: small_pages with init_on_alloc=1 on a kernel that zeroes a THP once "
	       "(6.13 or later): THP, no boot parameter");
	fixture_thp_twice = true;
	fixture_init_on_alloc = 0;
	n = findings_of(tw_small, f, t, 1);
	x = has_rule(f, n, "small_pages");
	diag("init_on_alloc=0: %s", x ? x->fix : "(did not fire)");
	result(x && !strstr(x->fix, "init_on_alloc"),
	       "findings: small_pages with init_on_alloc=0: THP, no boot parameter");
	fixture_init_on_alloc = 1;
	fixture_no_thp = true;
	n = findings_of(tw_small, f, t, 1);
	x = has_rule(f, n, "small_pages");
	diag("no THP: %s", x ? x->fix : "(did not fire)");
	result(x && strstr(x->fix, "no transparent huge pages") && strstr(x->fix, "MAP_HUGETLB") &&
	       !strstr(x->fix, "MADV_HUGEPAGE") && !strstr(x->fix, "init_on_alloc"),
	       "findings: small_pages on a kernel without THP: hugetlbfs, populate or reuse, "
	       "not MADV_HUGEPAGE");
	fixture_no_thp = false;
}

/* largest saving first; the text says "up to" and names the fix */
static void tw_all(struct thread_result *t)
{
	tw_double(t);
	tw_read(t);
	tw_arena(t);
	tw_runq(t);
}

static void test_findings_order(void)
{
	static struct thread_result t[MAX_FIXTURE_THREADS];
	int threads = online_cpus() + 1;
	struct run r = { .cfg = { .threads = threads }, .counters = true, .thr = t,
			 .init_on_alloc = 1 };
	struct finding f[MAX_FINDINGS];
	char *buf = NULL;
	size_t len = 0;
	FILE *out;
	int n = findings_of(tw_all, f, t, threads);
	bool sorted = n >= 3;
	char want[64];

	for (int i = 1; i < n; i++)
		sorted &= f[i - 1].saving_ns >= f[i].saving_ns;
	for (int i = 0; i < n; i++)
		diag("%d. %s, up to %lld ns", i + 1, f[i].rule, (long long)f[i].saving_ns);
	compute_breakdown(&r);
	out = open_memstream(&buf, &len);
	report_findings(out, &r);
	fclose(out);
	snprintf(want, sizeof(want), "saving: up to %.3f s", 0.3 * threads);
	result(sorted && n == 4 && !strcmp(f[0].rule, "runqueue") && strstr(buf, "  1. runqueue: ") &&
	       strstr(buf, want) && strstr(buf, "fix: run at most"),
	       "findings: %d rules fire, largest saving first, printed with 'up to' and the fix", n);
	free(buf);
}

/* stat fields counted after the last ')': a comm with ") (" in it */
static void test_observe_stat(void)
{
	static const char stat[] = "4242 (a) (b c) S 1 4242 4242 0 -1 4194560 100 0 0 0 "
		"17 23 0 0 20 0 1 0 98765 1000000 200 18446744073709551615\n";
	uint64_t u = 0, st = 0, start = 0, un, sn;
	int ret = observe_thread_stat(stat, &u, &st, &start);

	diag("stat: ret %d utime %llu stime %llu starttime %llu", ret, (unsigned long long)u,
	     (unsigned long long)st, (unsigned long long)start);
	result(ret == 0 && u == 17 && st == 23 && start == 98765,
	       "observe: stat's utime 17, stime 23, starttime 98765 past a comm with ')'");
	result(observe_thread_stat("4242 (x) S 1 2\n", &u, &st, &start) == -1,
	       "observe: a short stat line is rejected");
	observe_split_cpu(1000, 1, 3, &un, &sn);
	result(un == 250 && sn == 750, "observe: 1000 ns CPU, 1:3 ticks -> 250 user, 750 system");
	observe_split_cpu(1000, 0, 0, &un, &sn);
	result(un == 1000 && sn == 0, "observe: no ticks: all user (as cputime_adjust())");
}

/*
 * -- CMD's threads from the rows of a table: only root 500's rows; an
 * exited row's lifetime and CPU from its task_* columns, exactly; a row
 * that exited without the exit hook's values is unknown, not 0.
 */
static void test_observe_rows(void)
{
	static const char text[] =
		"# allocstat 0.3.0 kernel=k hooks=faults,zeroing,fork tasks=4 dropped=0 "
		"recycled=0 missed=0 track=500\n"
		"tid tgid comm state faults zero_pages zero_ns zero_runq_ns zero_sleep_ns "
		"root task_start_ns task_end_ns task_cpu_ns task_utime_ns task_stime_ns "
		"task_runq_ns task_sleep_ns\n"
		"500 500 sh exited 10 4 2000000 0 0 500 1000000000 1100000000 30000000 "
		"10000000 20000000 5000000 60000000\n"
		"600 600 other exited 99 99 1 0 0 600 1 2 1 1 0 0 0\n"
		"501 501 my\\040prog exited 4096 4096 1000000 0 0 500 1000000000 1010000000 "
		"8000000 6000000 2000000 1000000 0\n"
		"502 501 noexit exited 1 - - - - 500 1000000000 - - - - - -\n";
	struct allocstat_table t;
	struct run r = { 0 };
	char err[200] = "";
	int n;

	if (allocstat_parse(text, strlen(text), &t, err, sizeof(err))) {
		result(0, "observe: the fixture parses (%s)", err);
		return;
	}
	n = observe_from_rows(&r, &t, 500, 2000000000);
	compute_breakdown(&r);
	diag("threads %d: tids %d %d %d", n, n > 0 ? r.thr[0].tid : -1,
	     n > 1 ? r.thr[1].tid : -1, n > 2 ? r.thr[2].tid : -1);
	result(n == 3 && r.cfg.threads == 3 && r.thr[0].tid == 500 && r.thr[1].tid == 501 &&
	       r.thr[2].tid == 502 && r.thr[1].tgid == 501 && !strcmp(r.thr[1].comm, "my prog"),
	       "observe: the 3 rows of root 500, not root 600's; comm unescaped");
	if (n != 3)
		goto out;
	diag("sh: life %llu cpu %llu user %lld sys_other %lld runq %lld sleep %lld unexpl %lld",
	     (unsigned long long)r.thr[0].life_ns, (unsigned long long)r.thr[0].cpu_ns,
	     (long long)r.thr[0].bk.ns[BUCKET_USER], (long long)r.thr[0].bk.ns[BUCKET_SYS_OTHER],
	     (long long)r.thr[0].bk.ns[BUCKET_RUNQ], (long long)r.thr[0].bk.ns[BUCKET_SLEEP_OTHER],
	     (long long)r.thr[0].bk.ns[BUCKET_UNEXPLAINED]);
	/* T 100 ms = U 10 + S 20 + R 5 + Z 60 + 5 unexplained; zero_cpu 2 of S */
	result(r.thr[0].life_ok && r.thr[0].life_ns == 100 * MS && r.thr[0].cpu_ns == 30 * MS &&
	       r.thr[0].bk.ns[BUCKET_USER] == 10 * (int64_t)MS &&
	       r.thr[0].bk.ns[BUCKET_ZERO_CPU] == 2 * (int64_t)MS &&
	       r.thr[0].bk.ns[BUCKET_RUNQ] == 5 * (int64_t)MS &&
	       r.thr[0].bk.ns[BUCKET_SLEEP_OTHER] == 60 * (int64_t)MS &&
	       r.thr[0].bk.ns[BUCKET_UNEXPLAINED] == 5 * (int64_t)MS &&
	       r.thr[0].bk.thread_ns == 100 * MS,
	       "observe: an exited thread: T = end - start, U S R Z from task_*, 5 ms unexplained");
	result(r.thr[1].val[ALLOCSTAT_FAULTS] == 4096 && r.thr[1].matched &&
	       r.thr[1].bk.ns[BUCKET_UNEXPLAINED] == 1 * (int64_t)MS,
	       "observe: counters as they are (4096 faults), no deltas");
	result(!r.thr[2].cpu_ok && !r.thr[2].life_ok && !r.thr[2].bk.known[BUCKET_USER] &&
	       !r.thr[2].bk.known[BUCKET_UNEXPLAINED] && !r.thr[2].bk.known[BUCKET_RUNQ] &&
	       !r.thr[2].bk.known[BUCKET_SYS_OTHER],
	       "observe: exited without task_* values: CPU, T and the buckets unknown, not 0");
	result(r.bd.known[BUCKET_USER] == 2 && r.bd.threads == 3,
	       "observe: the sum knows user time in 2 of 3 threads");
out:
	run_free(&r);
	allocstat_table_free(&t);
}

int main(void)
{
	test_order();
	test_summary();
	test_spread();
	test_report_marks();
	test_footprint();
	test_pmd_size();
	test_json_string();
	test_breakdown_exact();
	test_breakdown_not_scaled();
	test_breakdown_missing_hooks();
	test_breakdown_partial_rows();
	test_breakdown_no_schedstat();
	test_findings_rules();
	test_findings_init_on_alloc();
	test_findings_order();
	test_column_names();
	test_observe_stat();
	test_observe_rows();
	return ktap_finish();
}
