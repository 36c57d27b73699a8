// SPDX-License-Identifier: GPL-2.0
/*
 * allocstat-run: N threads that each allocate SIZE and touch every page,
 * timed per phase, with each thread's /proc/allocstat counters read back
 * as deltas, and a "where the time went" summary.  --sweep and --compare
 * run several configurations; --json and --svg write the results.
 *
 * Documentation (options, output, JSON schema): allocstat-run(1), in
 * man/allocstat-run.1; notes on the sources: allocstat-run.md.
 *
 * Files: allocstat-run.c (options, main), plan.c (the settings, the
 * configurations and the order of the runs, the memory check), workload.c
 * (the methods and the threads), proc.c (/proc/allocstat, /proc/meminfo),
 * report.c (text output and the breakdown), json.c, svg.c;
 * lib/allocstat_proc.c is the parser.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "allocstat-run.h"

#ifndef ALLOCSTAT_VERSION
#define ALLOCSTAT_VERSION "unknown"	/* the Makefile sets it from module/allocstat.h */
#endif

#define MAX_THREADS 1024
#define MAX_REPEAT 1000
/* glibc's largest mmap threshold on 64-bit: DEFAULT_MMAP_THRESHOLD_MAX */
#define MMAP_THRESHOLD_MAX (32 * MIB)
#define TOP_PAD_MAX (1024 * MIB)

static const char usage[] =
"Usage: allocstat-run [OPTION]...\n"
"  or:  allocstat-run [OPTION]... -- CMD [ARG]...\n"
"  or:  allocstat-run [OPTION]... -p PID [-d SECONDS] [-i SECONDS]\n"
"Run THREADS threads that each allocate SIZE and touch every page; time the\n"
"allocate, touch and free phases of each thread and, when the allocstat\n"
"module is loaded, read back each thread's page-fault, page-zeroing and\n"
"mmap_lock counters from /proc/allocstat (as deltas; it never resets them).\n"
"With -- CMD, run CMD instead and report on every thread of CMD and of the\n"
"processes it forks; with -p, on the threads of a running process.\n"
"\n"
"Observing a program (the workload options below do not apply):\n"
"  -- CMD [ARG]...          run CMD (its output passes through untouched);\n"
"                           the report goes to stderr; exit with CMD's status\n"
"  -p, --pid PID            attach to process PID for a window\n"
"  -d, --duration SECONDS   -p: the window's length (default: until PID exits\n"
"                           or Ctrl-C)\n"
"  -i, --interval SECONDS   -p: one report per interval\n"
"  -o, --output FILE        write the report to FILE (default: stderr for CMD,\n"
"                           stdout for -p)\n"
"\n"
"The built-in workload:\n"
"  -t, --threads N          threads (default 8)\n"
"  -s, --size SIZE          bytes per thread, K/M/G/T suffixes (default 600M)\n"
"  -m, --method METHOD      malloc (default), mmap, populate (MAP_POPULATE),\n"
"                           thp (MADV_HUGEPAGE), nothp (MADV_NOHUGEPAGE),\n"
"                           file (read a file of SIZE into a malloc'd buffer),\n"
"                           populate_write (mmap, MADV_POPULATE_WRITE),\n"
"                           reuse (malloc once, touched every loop),\n"
"                           file_mmap (mmap the file, read its pages)\n"
"  -f, --file PATH          file for --method file (default: a temporary file\n"
"                           written before the timing and removed afterwards)\n"
"  -b, --block SIZE         allocate SIZE as blocks of this size (default: one)\n"
"      --touch HOW          write (default: one byte per page), read, memset\n"
"  -l, --loops N            each thread allocates, touches and frees N times\n"
"                           (default 1)\n"
"  -r, --repeat R           run each configuration R times, interleaved\n"
"                           (default 1; 3 with --compare)\n"
"      --arena-max N        mallopt(M_ARENA_MAX, N)\n"
"      --mmap-threshold B   mallopt(M_MMAP_THRESHOLD, B), 0 to 32M\n"
"      --top-pad SIZE       mallopt(M_TOP_PAD, SIZE), 0 to 1G: how much more an\n"
"                           arena grows at a time (64M: a whole heap at once)\n"
"      --sweep              run 1, 2, 4, ... THREADS threads; show the slowdown\n"
"      --compare            run every method, malloc with 64K blocks, with\n"
"                           --top-pad 64M and with --arena-max 1 too; rank them\n"
"                           by the median wall time, with min-max\n"
"      --svg FILE           write a self-contained SVG chart of the results\n"
"  -j, --json               print the results as JSON (see allocstat-run(1))\n"
"  -q, --quiet              no progress line (it is off when stderr is no TTY)\n"
"      --require-module     fail if /proc/allocstat cannot be read\n"
"      --findings=no        no findings (what to fix) after the report\n"
"  -h, --help               show this help\n"
"  -V, --version            show the version\n"
"\n"
"Environment: ALLOCSTAT_PROC overrides the path of /proc/allocstat.\n"
"Exit status: 0 success, 1 error (nothing is reported), 2 bad usage; with\n"
"-- CMD: CMD's exit status (128+N if killed by signal N), 127 if CMD was not\n"
"found, 126 if it could not be executed; with -p: 127 if PID does not exist.\n"
"\n"
"EXAMPLES:\n"
"    allocstat-run                      # 8 threads x 600 MiB, malloc\n"
"    allocstat-run -t 1                 # the same, one thread\n"
"    allocstat-run -t 2 -s 64M -m nothp # 4 KiB pages only\n"
"    allocstat-run -b 64K --arena-max 1 # 64 KiB blocks, one malloc arena\n"
"    allocstat-run -b 64K --top-pad 64M # 64 KiB blocks, arenas grown at once\n"
"    allocstat-run --sweep --svg s.svg  # 1, 2, 4, 8 threads, chart\n"
"    allocstat-run --compare -t 4       # which method is fastest here\n"
"    allocstat-run --json > out.json    # machine-readable\n"
"    allocstat-run -- make -j8          # where make's threads' time went\n"
"    allocstat-run -o r.txt -- ./a.out  # the report in r.txt\n"
"    allocstat-run -p 1234 -d 10        # process 1234 for 10 seconds\n"
"    allocstat-run -p 1234 -i 1         # a report every second\n";

enum {
	OPT_TOUCH = 256,
	OPT_ARENA_MAX,
	OPT_MMAP_THRESHOLD,
	OPT_TOP_PAD,
	OPT_SWEEP,
	OPT_COMPARE,
	OPT_SVG,
	OPT_REQUIRE_MODULE,
	OPT_FINDINGS,
};

/* set when a workload option was given: it does not go with -- CMD or -p */
static const char *workload_option;

static const struct option long_options[] = {
	{ "threads",		required_argument,	NULL, 't' },
	{ "size",		required_argument,	NULL, 's' },
	{ "method",		required_argument,	NULL, 'm' },
	{ "file",		required_argument,	NULL, 'f' },
	{ "block",		required_argument,	NULL, 'b' },
	{ "touch",		required_argument,	NULL, OPT_TOUCH },
	{ "repeat",		required_argument,	NULL, 'r' },
	{ "loops",		required_argument,	NULL, 'l' },
	{ "arena-max",		required_argument,	NULL, OPT_ARENA_MAX },
	{ "mmap-threshold",	required_argument,	NULL, OPT_MMAP_THRESHOLD },
	{ "top-pad",		required_argument,	NULL, OPT_TOP_PAD },
	{ "sweep",		no_argument,		NULL, OPT_SWEEP },
	{ "compare",		no_argument,		NULL, OPT_COMPARE },
	{ "svg",		required_argument,	NULL, OPT_SVG },
	{ "json",		no_argument,		NULL, 'j' },
	{ "quiet",		no_argument,		NULL, 'q' },
	{ "require-module",	no_argument,		NULL, OPT_REQUIRE_MODULE },
	{ "findings",		required_argument,	NULL, OPT_FINDINGS },
	{ "pid",		required_argument,	NULL, 'p' },
	{ "duration",		required_argument,	NULL, 'd' },
	{ "interval",		required_argument,	NULL, 'i' },
	{ "output",		required_argument,	NULL, 'o' },
	{ "help",		no_argument,		NULL, 'h' },
	{ "version",		no_argument,		NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/*
 * strict: digits, then an optional K/M/G/T (binary) with optional "iB"/"B";
 * 0 only if zero_ok
 */
static int parse_size(const char *s, bool zero_ok, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	if (shift && (!strcmp(end, "iB") || !strcmp(end, "B")))
		end += strlen(end);
	if (*end || (v == 0 && !zero_ok) || v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_int(const char *s, int min, int max, int *out)
{
	long v;
	char *end;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

static int parse_name(const char *s, const char *const *names, int n, int *out)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(s, names[i])) {
			*out = i;
			return 0;
		}
	return -1;
}

/* strict: a positive decimal number of seconds, to 1 ns, at most a year */
static int parse_seconds(const char *s, uint64_t *ns)
{
	double v;
	char *end;

	if ((*s < '0' || *s > '9') && *s != '.')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 366 * 86400.0)
		return -1;
	*ns = (uint64_t)(v * 1e9 + 0.5);
	return *ns ? 0 : -1;
}

static int bad_value(const char *opt, const char *arg, const char *why)
{
	fprintf(stderr, "allocstat-run: invalid %s '%s': %s\n", opt, arg, why);
	return -1;
}

/* "-t" or "--sweep", for a message about option opt */
static const char *option_name(int opt)
{
	static char name[32];

	for (const struct option *o = long_options; o->name; o++)
		if (o->val == opt) {
			if (opt < 256)
				snprintf(name, sizeof(name), "-%c", opt);
			else
				snprintf(name, sizeof(name), "--%s", o->name);
			return name;
		}
	return "an option";
}

static int parse_args(int argc, char **argv)
{
	uint64_t u;
	int opt, v;

	/* "+": stop at the first non-option, so that CMD's options are its own */
	while ((opt = getopt_long(argc, argv, "+t:s:m:f:b:r:l:jqhVp:d:i:o:", long_options,
				  NULL)) != -1) {
		if ((opt > 0 && opt < 128 && strchr("tsmfbrl", opt)) || opt == OPT_TOUCH || opt == OPT_ARENA_MAX ||
		    opt == OPT_MMAP_THRESHOLD || opt == OPT_TOP_PAD || opt == OPT_SWEEP ||
		    opt == OPT_COMPARE || opt == OPT_SVG)
			workload_option = option_name(opt);
		switch (opt) {
		case 'p':
			if (parse_int(optarg, 1, INT_MAX, &v))
				return bad_value("--pid", optarg, "a process ID");
			env.attach = v;
			break;
		case 'd':
			if (parse_seconds(optarg, &env.duration_ns))
				return bad_value("--duration", optarg, "seconds, like 10 or 0.5");
			break;
		case 'i':
			if (parse_seconds(optarg, &env.interval_ns))
				return bad_value("--interval", optarg, "seconds, like 1 or 0.5");
			break;
		case 'o':
			env.output = optarg;
			break;
		case 't':
			if (parse_int(optarg, 1, MAX_THREADS, &env.threads))
				return bad_value("--threads", optarg, "1 to 1024");
			break;
		case 's':
			if (parse_size(optarg, false, &env.size))
				return bad_value("--size", optarg, "a size like 600M");
			break;
		case 'm':
			if (parse_name(optarg, method_names, NR_METHODS, &v))
				return bad_value("--method", optarg,
						 "malloc, mmap, populate, thp, nothp, file, "
						 "populate_write, reuse or file_mmap");
			env.method = v;
			break;
		case 'f':
			env.file = optarg;
			break;
		case 'b':
			if (parse_size(optarg, false, &env.block))
				return bad_value("--block", optarg, "a size like 64K");
			break;
		case OPT_TOUCH:
			if (parse_name(optarg, touch_names, 3, &v))
				return bad_value("--touch", optarg, "write, read or memset");
			env.touch = v;
			break;
		case 'l':
			if (parse_int(optarg, 1, 1000000, &env.loops))
				return bad_value("--loops", optarg, "1 to 1000000");
			break;
		case 'r':
			if (parse_int(optarg, 1, MAX_REPEAT, &env.repeat))
				return bad_value("--repeat", optarg, "1 to 1000");
			break;
		case OPT_ARENA_MAX:
			if (parse_int(optarg, 1, INT_MAX, &env.arena_max))
				return bad_value("--arena-max", optarg, "a positive number");
			break;
		case OPT_MMAP_THRESHOLD:
			if (parse_size(optarg, true, &u) || u > MMAP_THRESHOLD_MAX)
				return bad_value("--mmap-threshold", optarg,
						 "0 to 32M (glibc's maximum)");
			env.mmap_threshold = (long)u;
			break;
		case OPT_TOP_PAD:
			if (parse_size(optarg, true, &u) || u > TOP_PAD_MAX)
				return bad_value("--top-pad", optarg, "0 to 1G");
			env.top_pad = (long)u;
			break;
		case OPT_SWEEP:
		case OPT_COMPARE:
			if (env.mode != MODE_SINGLE) {
				fprintf(stderr, "allocstat-run: --sweep and --compare exclude each other\n");
				return -1;
			}
			env.mode = opt == OPT_SWEEP ? MODE_SWEEP : MODE_COMPARE;
			break;
		case OPT_SVG:
			env.svg = optarg;
			break;
		case 'j':
			env.json = true;
			break;
		case 'q':
			env.quiet = true;
			break;
		case OPT_REQUIRE_MODULE:
			env.require_module = true;
			break;
		case OPT_FINDINGS:
			if (strcmp(optarg, "yes") && strcmp(optarg, "no"))
				return bad_value("--findings", optarg, "yes or no");
			env.findings = !strcmp(optarg, "yes");
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		case 'V':
			printf("allocstat-run %s\n", ALLOCSTAT_VERSION);
			exit(0);
		default:
			return -1;	/* getopt_long() said why */
		}
	}
	/* -- CMD: the "--" is required, so that a stray word is an error */
	if (optind < argc && optind > 1 && !strcmp(argv[optind - 1], "--"))
		env.command = &argv[optind];
	else if (optind < argc) {
		fprintf(stderr, "allocstat-run: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (optind == argc && optind > 1 && !strcmp(argv[optind - 1], "--")) {
		fprintf(stderr, "allocstat-run: no command after --\n");
		return -1;
	}
	if (env.command && env.attach) {
		fprintf(stderr, "allocstat-run: -p and -- CMD exclude each other\n");
		return -1;
	}
	if ((env.duration_ns || env.interval_ns) && !env.attach) {
		fprintf(stderr, "allocstat-run: -d and -i go with -p PID\n");
		return -1;
	}
	if (env.output && !env.command && !env.attach) {
		fprintf(stderr, "allocstat-run: -o goes with -- CMD or -p PID\n");
		return -1;
	}
	if ((env.command || env.attach) && workload_option) {
		fprintf(stderr, "allocstat-run: %s is an option of the built-in workload: "
			"not with %s\n", workload_option, env.command ? "-- CMD" : "-p");
		return -1;
	}
	if (env.command || env.attach)
		return 0;
	if (env.block > env.size) {
		fprintf(stderr, "allocstat-run: --block is larger than --size\n");
		return -1;
	}
	if (env.file && !method_reads_file(env.method) && env.mode != MODE_COMPARE) {
		fprintf(stderr, "allocstat-run: --file needs --method file or file_mmap, "
			"or --compare\n");
		return -1;
	}
	if (env.block % (uint64_t)sysconf(_SC_PAGESIZE) &&
	    (env.method == METHOD_FILE_MMAP || env.mode == MODE_COMPARE)) {
		fprintf(stderr, "allocstat-run: file_mmap maps the file block by block: "
			"--block must be a multiple of the page size (%ld)\n",
			sysconf(_SC_PAGESIZE));
		return -1;
	}
	if (!env.repeat)
		env.repeat = env.mode == MODE_COMPARE ? 3 : 1;
	return 0;
}

int main(int argc, char **argv)
{
	struct config cfgs[MAX_CONFIGS];
	struct module_info mi = { 0 };
	struct run *runs = NULL, **best = NULL;
	int ncfg, nruns = 0, err = 0;
	char growth[300];

	if (parse_args(argc, argv)) {
		fputs("Try 'allocstat-run --help' for more information.\n", stderr);
		return 2;
	}
	if (env.command || env.attach) {
		module_probe(&mi);
		err = observe_main(&mi);
		allocstat_table_free(&mi.first);
		return err;
	}
	ncfg = plan_configs(cfgs);

	module_probe(&mi);
	if (!mi.loaded && env.require_module) {
		fprintf(stderr, "allocstat-run: %s (--require-module)\n", mi.why);
		err = 1;
		goto cleanup;
	}
	plan_warnings(cfgs, ncfg);
	err = plan_check_memory(cfgs, ncfg);
	if (err)
		goto cleanup;

	runs = calloc((size_t)ncfg * env.repeat, sizeof(*runs));
	best = calloc(ncfg, sizeof(*best));
	if (!runs || !best) {
		fprintf(stderr, "allocstat-run: out of memory\n");
		err = 1;
		goto cleanup;
	}
	err = workload_prepare(plan_uses_file(cfgs, ncfg));
	if (err)
		goto cleanup;
	raise_fd_limit(env.threads);
	/* sleep time for the breakdown: sched.c; restored below */
	env.schedstats = !schedstats_enable(env.schedstats_why, sizeof(env.schedstats_why));

	plan_runs(cfgs, ncfg, env.repeat, runs);
	for (; nruns < ncfg * env.repeat; nruns++) {
		err = run_workload(&runs[nruns], &mi, nruns, ncfg * env.repeat);
		if (err) {
			nruns++;	/* its shared mapping is freed below */
			goto cleanup;
		}
		compute_breakdown(&runs[nruns]);
		if (table_growth(&runs[nruns], growth, sizeof(growth)))
			warn("run %d, %s", nruns + 1, growth);
	}
	plan_summarize(runs, nruns, ncfg, best);
	/* before any output: a reader that goes away (SIGPIPE) must not leave it on */
	schedstats_restore();

	if (env.json) {
		if (!mi.loaded)
			fprintf(stderr, "allocstat-run: %s\n", mi.why);
		json_write(stdout, &mi, runs, nruns, best, ncfg);
	} else {
		if (!mi.loaded)
			printf("allocstat: %s; showing times and getrusage faults only\n",
			       mi.why);
		if (env.mode == MODE_SINGLE) {
			for (int i = 0; i < nruns; i++) {
				report_run(stdout, &runs[i], &mi);
				if (env.findings)
					report_findings(stdout, &runs[i]);
			}
		} else if (env.mode == MODE_SWEEP) {
			report_sweep(stdout, best, ncfg);
			if (env.findings) {
				printf("\nat %d threads: ", best[ncfg - 1]->cfg.threads);
				report_findings(stdout, best[ncfg - 1]);
			}
		} else {
			report_compare(stdout, best, ncfg);
		}
	}
	if (env.svg && svg_write(env.svg, best, ncfg))
		err = 1;
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "allocstat-run: write error on stdout\n");
		err = 1;
	}

cleanup:
	schedstats_restore();
	workload_cleanup();
	for (int i = 0; i < nruns; i++)
		run_free(&runs[i]);
	free(runs);
	free(best);
	allocstat_table_free(&mi.first);
	return err != 0;
}
