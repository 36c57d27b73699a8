// SPDX-License-Identifier: GPL-2.0
/*
 * allocstat-export: /proc/allocstat in the Prometheus text exposition
 * format (version 0.0.4), for node_exporter's textfile collector or any
 * scraper that reads a file or a pipe.
 *
 * One series per process by default (labels tgid and comm): the rows of a
 * process's threads, alive and exited, are summed, so the counters only go
 * back at a reset or a module reload, which Prometheus handles as a counter
 * reset.  --per-tid adds a tid label and one series per thread; that
 * multiplies the series by the threads, hence off by default.
 *
 * A pid can be reused: rows are in allocation order (oldest first), so a
 * leader row (tid == tgid) that follows earlier rows of the same tgid starts
 * a new process.  Two processes that end up with the same labels (same tgid
 * and comm) are summed rather than printed twice.
 *
 * Documentation: allocstat-export(1).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "allocstat_proc.h"

#ifndef ALLOCSTAT_VERSION
#define ALLOCSTAT_VERSION "unknown"
#endif

#define NSEC_PER_SEC 1000000000ULL
#define MAX_INTERVAL (24 * 3600)

static const char usage[] =
"Usage: allocstat-export [OPTION]...\n"
"Print /proc/allocstat's per-task counters in the Prometheus text format,\n"
"summed per process (labels tgid, comm), for node_exporter's textfile\n"
"collector or any scraper.  Counters end in _total, times are in seconds.\n"
"\n"
"  -o, --output FILE     write FILE atomically (temporary file in the same\n"
"                        directory, then rename); default: standard output\n"
"  -i, --input FILE      read FILE instead of /proc/allocstat ($ALLOCSTAT_PROC)\n"
"      --per-tid         one series per thread (adds the label tid)\n"
"      --interval SEC    with --output: rewrite FILE every SEC seconds until\n"
"                        SIGINT or SIGTERM (1 to 86400)\n"
"  -h, --help            this text\n"
"  -V, --version         the version\n"
"\n"
"When the input cannot be read, the output holds only allocstat_up 0 and the\n"
"exit status is 1 (with --interval: the error is logged and the loop goes on).\n"
"Exit status: 0 success, 1 read or write error, 2 usage error.\n"
"\n"
"EXAMPLES\n"
"  allocstat-export\n"
"  allocstat-export -o /var/lib/prometheus/node-exporter/allocstat.prom\n"
"  allocstat-export -o /var/lib/prometheus/node-exporter/allocstat.prom --interval 15\n";

static const struct option long_options[] = {
	{ "output",   required_argument, NULL, 'o' },
	{ "input",    required_argument, NULL, 'i' },
	{ "per-tid",  no_argument,       NULL, 'T' },
	{ "interval", required_argument, NULL, 'I' },
	{ "help",     no_argument,       NULL, 'h' },
	{ "version",  no_argument,       NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static struct {
	const char *output;
	const char *input;
	bool per_tid;
	unsigned int interval;
} opt;

/* How a /proc/allocstat column becomes a metric. */
enum kind { SUM_COUNT, SUM_NS, MAX_NS };

struct family {
	const char *name;
	enum kind kind;
	const char *mode;		/* NULL, or the value of label mode */
	enum allocstat_field field;
	const char *help;
};

/*
 * Families with a mode label come as read/write pairs, one after the other:
 * HELP and TYPE are printed once for the pair.
 */
static const struct family families[] = {
	{ "allocstat_faults_total", SUM_COUNT, NULL, ALLOCSTAT_FAULTS,
	  "User-address faults handled (handle_mm_fault calls that did not return VM_FAULT_RETRY)." },
	{ "allocstat_fault_seconds_total", SUM_NS, NULL, ALLOCSTAT_FAULT_NS,
	  "Time inside handle_mm_fault, entry to return, page zeroing included." },
	{ "allocstat_fault_runq_seconds_total", SUM_NS, NULL, ALLOCSTAT_FAULT_RUNQ_NS,
	  "The part of allocstat_fault_seconds_total spent runnable, waiting for a CPU." },
	{ "allocstat_fault_sleep_seconds_total", SUM_NS, NULL, ALLOCSTAT_FAULT_SLEEP_NS,
	  "The part of allocstat_fault_seconds_total spent asleep (blocked)." },
	{ "allocstat_fault_max_seconds", MAX_NS, NULL, ALLOCSTAT_FAULT_MAX_NS,
	  "Longest single handle_mm_fault call of any of the tasks." },
	{ "allocstat_vma_faults_total", SUM_COUNT, NULL, ALLOCSTAT_VMA_FAULTS,
	  "Faults completed under the per-VMA lock, without the mmap_lock." },
	{ "allocstat_vma_fault_retries_total", SUM_COUNT, NULL, ALLOCSTAT_VMA_RETRY,
	  "VMA-locked fault attempts that fell back to the mmap_lock." },
	{ "allocstat_zeroed_pages_total", SUM_COUNT, NULL, ALLOCSTAT_ZERO_PAGES,
	  "4 KiB pages cleared by clear_page in the tasks' context (a 2 MiB page counts 512)." },
	{ "allocstat_zero_seconds_total", SUM_NS, NULL, ALLOCSTAT_ZERO_NS,
	  "Time inside those clear_page calls." },
	{ "allocstat_zero_runq_seconds_total", SUM_NS, NULL, ALLOCSTAT_ZERO_RUNQ_NS,
	  "The part of allocstat_zero_seconds_total spent runnable, waiting for a CPU." },
	{ "allocstat_zero_sleep_seconds_total", SUM_NS, NULL, ALLOCSTAT_ZERO_SLEEP_NS,
	  "The part of allocstat_zero_seconds_total spent asleep (blocked)." },
	{ "allocstat_huge_zeroings_total", SUM_COUNT, NULL, ALLOCSTAT_ZERO_HUGE,
	  "Huge-page clears (folio_zero_user or clear_huge_page calls)." },
	{ "allocstat_alloc_zeroed_pages_total", SUM_COUNT, NULL, ALLOCSTAT_ZERO_ALLOC_PAGES,
	  "The part of allocstat_zeroed_pages_total cleared by the page allocator on allocation." },
	{ "allocstat_mmap_lock_acquisitions_total", SUM_COUNT, "read", ALLOCSTAT_MMAP_READ,
	  "Successful mmap_lock acquisitions (trylocks included), by mode." },
	{ "allocstat_mmap_lock_acquisitions_total", SUM_COUNT, "write", ALLOCSTAT_MMAP_WRITE, NULL },
	{ "allocstat_mmap_lock_wait_seconds_total", SUM_NS, "read", ALLOCSTAT_MMAP_READ_WAIT_NS,
	  "Time from asking for the mmap_lock to getting it, by mode." },
	{ "allocstat_mmap_lock_wait_seconds_total", SUM_NS, "write", ALLOCSTAT_MMAP_WRITE_WAIT_NS, NULL },
	{ "allocstat_mmap_lock_wait_runq_seconds_total", SUM_NS, "read", ALLOCSTAT_MMAP_READ_WAIT_RUNQ_NS,
	  "The part of the mmap_lock wait spent runnable, waiting for a CPU, by mode." },
	{ "allocstat_mmap_lock_wait_runq_seconds_total", SUM_NS, "write",
	  ALLOCSTAT_MMAP_WRITE_WAIT_RUNQ_NS, NULL },
	{ "allocstat_mmap_lock_wait_sleep_seconds_total", SUM_NS, "read", ALLOCSTAT_MMAP_READ_WAIT_SLEEP_NS,
	  "The part of the mmap_lock wait spent asleep (blocked), by mode." },
	{ "allocstat_mmap_lock_wait_sleep_seconds_total", SUM_NS, "write",
	  ALLOCSTAT_MMAP_WRITE_WAIT_SLEEP_NS, NULL },
	{ "allocstat_mmap_lock_wait_max_seconds", MAX_NS, "read", ALLOCSTAT_MMAP_READ_WAIT_MAX_NS,
	  "Longest single wait for the mmap_lock, by mode." },
	{ "allocstat_mmap_lock_wait_max_seconds", MAX_NS, "write", ALLOCSTAT_MMAP_WRITE_WAIT_MAX_NS, NULL },
	{ "allocstat_mmap_lock_hold_seconds_total", SUM_NS, "read", ALLOCSTAT_MMAP_READ_HOLD_NS,
	  "Time from getting the mmap_lock to releasing it, by mode." },
	{ "allocstat_mmap_lock_hold_seconds_total", SUM_NS, "write", ALLOCSTAT_MMAP_WRITE_HOLD_NS, NULL },
	{ "allocstat_mmap_lock_hold_max_seconds", MAX_NS, "read", ALLOCSTAT_MMAP_READ_HOLD_MAX_NS,
	  "Longest single hold of the mmap_lock, by mode." },
	{ "allocstat_mmap_lock_hold_max_seconds", MAX_NS, "write", ALLOCSTAT_MMAP_WRITE_HOLD_MAX_NS, NULL },
	{ "allocstat_mmap_lock_trylock_failures_total", SUM_COUNT, NULL, ALLOCSTAT_MMAP_TRYLOCK_FAIL,
	  "mmap_lock acquisitions that failed (busy trylocks, killable waits ended by a fatal signal)." },
};

/* One series: a process (or with --per-tid a thread) and its sums. */
struct series {
	uint64_t tgid, tid;
	char comm[4 * ALLOCSTAT_COMM_LEN];	/* escaped as /proc prints it */
	bool leader;				/* comm is the leader's */
	unsigned int threads;			/* rows summed */
	uint32_t present;
	uint64_t val[ALLOCSTAT_NR_FIELDS];
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* comm as /proc/allocstat prints it: whitespace, \ and unprintables as \ooo */
static void escape_comm(const char *in, char *out, size_t outlen)
{
	const unsigned char *c;
	size_t n = 0;

	for (c = (const unsigned char *)in; *c && n + 5 <= outlen; c++) {
		if (*c <= ' ' || *c == '\\' || *c >= 0x7f)
			n += snprintf(out + n, outlen - n, "\\%03o", *c);
		else
			out[n++] = *c;
	}
	out[n] = '\0';
}

/* a label value: \, " and newline escaped as the text format wants */
static void put_label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*s, f);
	}
}

static bool is_max(int field)
{
	size_t i;

	for (i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		if ((int)families[i].field == field)
			return families[i].kind == MAX_NS;
	return false;
}

static void add_row(struct series *s, const struct allocstat_row *r)
{
	int i;

	s->threads++;
	for (i = 0; i < ALLOCSTAT_NR_FIELDS; i++) {
		if (!allocstat_has(r, i))
			continue;
		if (is_max(i)) {
			if (r->val[i] > s->val[i])
				s->val[i] = r->val[i];
		} else {
			s->val[i] += r->val[i];
		}
		s->present |= 1u << i;
	}
}

static void merge(struct series *into, const struct series *s)
{
	int i;

	into->threads += s->threads;
	for (i = 0; i < ALLOCSTAT_NR_FIELDS; i++) {
		if (!(s->present & (1u << i)))
			continue;
		if (is_max(i)) {
			if (s->val[i] > into->val[i])
				into->val[i] = s->val[i];
		} else {
			into->val[i] += s->val[i];
		}
		into->present |= 1u << i;
	}
}

static int cmp_series(const void *a, const void *b)
{
	const struct series *x = a, *y = b;

	if (x->tgid != y->tgid)
		return x->tgid < y->tgid ? -1 : 1;
	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	return strcmp(x->comm, y->comm);
}

/*
 * The table's rows as series, sorted by tgid (tid) and comm, with equal
 * label sets summed.  Returns the number of series; *out is malloc'd.
 */
static ssize_t group(const struct allocstat_table *t, struct series **out)
{
	size_t cap = 16, i, n = 0, m;
	struct series *s;
	ssize_t *slot;		/* open addressing: key -> series index */

	while (cap < 2 * t->nr_rows)
		cap <<= 1;
	s = calloc(t->nr_rows ? t->nr_rows : 1, sizeof(*s));
	slot = malloc(cap * sizeof(*slot));
	if (!s || !slot) {
		free(s);
		free(slot);
		return -1;
	}
	for (i = 0; i < cap; i++)
		slot[i] = -1;

	for (i = 0; i < t->nr_rows; i++) {
		const struct allocstat_row *r = &t->rows[i];
		uint64_t key = opt.per_tid ? r->tid : r->tgid;
		bool leader = r->tid == r->tgid;
		size_t h = (size_t)(key * 0x9e3779b97f4a7c15ULL) & (cap - 1);
		struct series *cur = NULL;

		/* find the newest series of this key */
		for (; slot[h] >= 0; h = (h + 1) & (cap - 1)) {
			struct series *c = &s[slot[h]];

			if (c->tgid == r->tgid && (opt.per_tid ? c->tid : c->tgid) == key) {
				cur = c;
				break;
			}
		}
		/*
		 * A leader row after a leader row of the same key is a new
		 * process that reused the pid (per tid: a new task that
		 * reused the tid).  A non-leader row joins the newest.
		 */
		if (cur && leader && cur->leader)
			cur = NULL;
		if (!cur || (opt.per_tid && cur->threads)) {
			cur = &s[n];
			cur->tgid = r->tgid;
			cur->tid = opt.per_tid ? r->tid : 0;
			slot[h] = n++;
		}
		if (!cur->threads || (leader && !cur->leader) || opt.per_tid) {
			escape_comm(r->comm, cur->comm, sizeof(cur->comm));
			cur->leader = leader;
		}
		add_row(cur, r);
	}
	free(slot);

	qsort(s, n, sizeof(*s), cmp_series);
	for (i = 0, m = 0; i < n; i++) {
		if (m && !cmp_series(&s[m - 1], &s[i]))
			merge(&s[m - 1], &s[i]);
		else
			s[m++] = s[i];
	}
	*out = s;
	return m;
}

static void put_value(FILE *f, enum kind kind, uint64_t v)
{
	if (kind == SUM_COUNT)
		fprintf(f, "%llu\n", (unsigned long long)v);
	else	/* exact decimal seconds: no rounding through a double */
		fprintf(f, "%llu.%09llu\n", (unsigned long long)(v / NSEC_PER_SEC),
			(unsigned long long)(v % NSEC_PER_SEC));
}

static void put_labels(FILE *f, const struct series *s, const char *mode)
{
	fprintf(f, "{tgid=\"%llu\"", (unsigned long long)s->tgid);
	if (opt.per_tid)
		fprintf(f, ",tid=\"%llu\"", (unsigned long long)s->tid);
	fputs(",comm=\"", f);
	put_label(f, s->comm);
	fputc('"', f);
	if (mode)
		fprintf(f, ",mode=\"%s\"", mode);
	fputc('}', f);
}

static void put_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_up(FILE *f, int up)
{
	put_head(f, "allocstat_up", "gauge",
		 "1 if /proc/allocstat was read and parsed, else 0.");
	fprintf(f, "allocstat_up %d\n", up);
}

static int render(FILE *f, const struct allocstat_table *t)
{
	const size_t nfam = sizeof(families) / sizeof(families[0]);
	struct series *s;
	ssize_t n, i;
	size_t k, j;

	n = group(t, &s);
	if (n < 0)
		return -1;

	put_up(f, 1);
	put_head(f, "allocstat_info", "gauge",
		 "The module's version, the kernel and the hook groups attached.");
	fputs("allocstat_info{version=\"", f);
	put_label(f, t->version);
	fputs("\",kernel=\"", f);
	put_label(f, t->kernel);
	fputs("\",hooks=\"", f);
	put_label(f, t->hooks);
	fputs("\"} 1\n", f);
	put_head(f, "allocstat_table_tasks", "gauge",
		 "Rows in the module's table (tasks seen since load or reset).");
	fprintf(f, "allocstat_table_tasks %llu\n", (unsigned long long)t->tasks);
	put_head(f, "allocstat_dropped_tasks_total", "counter",
		 "Tasks that got no row because every row belonged to a live task.");
	fprintf(f, "allocstat_dropped_tasks_total %llu\n", (unsigned long long)t->dropped);
	if (t->has_recycled) {
		put_head(f, "allocstat_recycled_rows_total", "counter",
			 "Rows of exited tasks reused for new tasks.");
		fprintf(f, "allocstat_recycled_rows_total %llu\n",
			(unsigned long long)t->recycled);
	}
	put_head(f, "allocstat_missed_events_total", "counter",
		 "Events the probes could not count (kprobe misses, deep lock nesting).");
	fprintf(f, "allocstat_missed_events_total %llu\n", (unsigned long long)t->missed);

	if (n)
		put_head(f, "allocstat_threads", "gauge",
			 opt.per_tid ? "Rows summed into the series: 1 unless a tid was reused." :
			 "Threads of the process seen by the module, alive or exited.");
	for (i = 0; i < n; i++) {
		fputs("allocstat_threads", f);
		put_labels(f, &s[i], NULL);
		fprintf(f, " %u\n", s[i].threads);
	}

	for (k = 0; k < nfam; k = j) {
		bool any = false;

		/* k..j-1: one family name (a read/write pair or a single) */
		for (j = k + 1; j < nfam && !strcmp(families[j].name, families[k].name); j++)
			;
		for (i = 0; i < n && !any; i++) {
			size_t x;

			for (x = k; x < j; x++)
				any |= !!(s[i].present & (1u << families[x].field));
		}
		if (!any)	/* the column is `-` everywhere: hook group off */
			continue;
		put_head(f, families[k].name, families[k].kind == MAX_NS ? "gauge" : "counter",
			 families[k].help);
		for (i = 0; i < n; i++) {
			size_t x;

			for (x = k; x < j; x++) {
				const struct family *fam = &families[x];

				if (!(s[i].present & (1u << fam->field)))
					continue;
				fputs(fam->name, f);
				put_labels(f, &s[i], fam->mode);
				fputc(' ', f);
				put_value(f, fam->kind, s[i].val[fam->field]);
			}
		}
	}
	free(s);
	return 0;
}

/* Write buf to path through a temporary file in the same directory. */
static int write_atomic(const char *path, const char *buf, size_t len)
{
	char *tmp;
	const char *slash = strrchr(path, '/');
	int fd, err = 0;

	if (asprintf(&tmp, "%.*s.%s.XXXXXX", slash ? (int)(slash - path + 1) : 0, path,
		     slash ? slash + 1 : path) < 0)
		return -ENOMEM;
	fd = mkstemp(tmp);
	if (fd < 0) {
		err = -errno;
		fprintf(stderr, "allocstat-export: cannot create a temporary file for %s: %s\n",
			path, strerror(errno));
		free(tmp);
		return err;
	}
	while (len && !err) {
		ssize_t w = write(fd, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			err = -errno;
		else {
			buf += w;
			len -= w;
		}
	}
	/* readable by node_exporter, whatever the umask */
	if (!err && fchmod(fd, 0644))
		err = -errno;
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err) {
		fprintf(stderr, "allocstat-export: cannot write %s: %s\n", path, strerror(-err));
		unlink(tmp);
	}
	free(tmp);
	return err;
}

/* Read, render, write once.  Returns 0, or 1 on any error. */
static int export_once(void)
{
	struct allocstat_table t;
	char err[256], *buf = NULL;
	size_t len = 0;
	const char *in = opt.input ? opt.input : allocstat_path();
	int ret = 0, rc;
	FILE *f;

	f = open_memstream(&buf, &len);
	if (!f) {
		perror("allocstat-export: open_memstream");
		return 1;
	}
	rc = allocstat_read(in, &t, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "allocstat-export: %s%s\n", err,
			rc == -ENOENT ? " (is allocstat.ko loaded?)" :
			rc == -EACCES ? " (it is readable by root only)" : "");
		put_up(f, 0);
		ret = 1;
	} else {
		if (render(f, &t)) {
			fprintf(stderr, "allocstat-export: out of memory\n");
			ret = 1;
		}
		allocstat_table_free(&t);
	}
	if (fclose(f)) {
		perror("allocstat-export: open_memstream");
		free(buf);
		return 1;
	}
	if (opt.output) {
		if (write_atomic(opt.output, buf, len))
			ret = 1;
	} else if (fwrite(buf, 1, len, stdout) != len || fflush(stdout)) {
		perror("allocstat-export: standard output");
		ret = 1;
	}
	free(buf);
	return ret;
}

static void usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "allocstat-export: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'allocstat-export --help'.\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	int c, ret;

	while ((c = getopt_long(argc, argv, "o:i:hV", long_options, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (!*optarg)
				usage_error("--output needs a file name%s", "");
			opt.output = optarg;
			break;
		case 'i':
			if (!*optarg)
				usage_error("--input needs a file name%s", "");
			opt.input = optarg;
			break;
		case 'T':
			opt.per_tid = true;
			break;
		case 'I': {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' ||
			    v < 1 || v > MAX_INTERVAL)
				usage_error("--interval '%s': want whole seconds, 1 to 86400",
					    optarg);
			opt.interval = v;
			break;
		}
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			printf("allocstat-export %s\n", ALLOCSTAT_VERSION);
			return 0;
		default:
			fprintf(stderr, "Try 'allocstat-export --help'.\n");
			return 2;
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (opt.interval && !opt.output)
		usage_error("--interval needs --output%s", "");

	if (!opt.interval)
		return export_once();

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	ret = 0;
	while (!stop) {
		struct timespec ts = { .tv_sec = opt.interval };

		ret = export_once();
		/* a signal cuts the sleep short; then the loop ends */
		while (!stop && nanosleep(&ts, &ts) && errno == EINTR)
			;
	}
	return ret;
}
