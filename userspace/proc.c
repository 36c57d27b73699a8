// SPDX-License-Identifier: GPL-2.0
/*
 * allocstat-run: /proc/allocstat snapshots and per-thread deltas,
 * /proc/meminfo, the CPUs, the THP setting and size, vm.max_map_count.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "allocstat-run.h"

/* Find out once whether /proc/allocstat can be read, and why not. */
int module_probe(struct module_info *mi)
{
	char err[200];
	int ret;

	mi->path = allocstat_path();
	ret = allocstat_read(mi->path, &mi->first, err, sizeof(err));
	mi->loaded = ret == 0;
	switch (ret) {
	case 0:
		break;
	case -ENOENT:
		snprintf(mi->why, sizeof(mi->why),
			 "module not loaded (%s does not exist)", mi->path);
		break;
	case -EACCES:
	case -EPERM:
		snprintf(mi->why, sizeof(mi->why),
			 "%s is not readable: it needs root (mode 0600)", mi->path);
		break;
	case -EINVAL:
		snprintf(mi->why, sizeof(mi->why), "cannot parse %s: %s",
			 mi->path, err);
		break;
	default:
		snprintf(mi->why, sizeof(mi->why), "cannot read %s: %s",
			 mi->path, err);
		break;
	}
	return ret;
}

/*
 * A snapshot for run index (from 0).  When it fails, one line says so:
 * with --require-module the run fails, else it is reported without the
 * module's counters.  A table that parsed but lost its last line, or whose
 * tasks= differs from its rows, is used, with a note.
 */
int snapshot(struct allocstat_table *t, int index)
{
	char err[200], why[200];
	const char *problem;
	int ret = allocstat_read(NULL, t, err, sizeof(err));

	if (ret) {
		fprintf(stderr, "allocstat-run: run %d: %s%s%s%s%s\n", index + 1,
			ret == -EINVAL ? "cannot parse " : "",
			ret == -EINVAL ? allocstat_path() : "", ret == -EINVAL ? ": " : "", err,
			env.require_module ? "" : "; this run is reported without the module's counters");
		allocstat_table_free(t);
		return -1;
	}
	problem = allocstat_table_problem(t, why, sizeof(why));
	if (problem)
		fprintf(stderr, "allocstat-run: note: run %d: %s: %s\n", index + 1,
			allocstat_path(), problem);
	return 0;
}

static bool is_max_field(int f)
{
	return strstr(allocstat_field_name(f), "_max_ns") != NULL;
}

/*
 * before: taken while the threads waited at the start barrier, so a row of
 * the thread there is the thread itself only if it is alive (an exited row
 * with the same tid is an older task).  after: taken after the join; the
 * newest (last) row with the thread's tgid and tid is the thread.
 * Maxima are the task's maxima, not deltas.
 */
void apply_deltas(struct run *r, const struct allocstat_table *before,
		  const struct allocstat_table *after)
{
	pid_t tgid = getpid();

	r->counters = true;
	for (int i = 0; i < r->cfg.threads; i++) {
		struct thread_result *t = &r->thr[i];
		const struct allocstat_row *a = allocstat_find(after, tgid, t->tid);
		const struct allocstat_row *b = allocstat_find(before, tgid, t->tid);

		if (b && b->exited)
			b = NULL;
		t->matched = a != NULL;
		t->present = a ? a->present : 0;
		for (int f = 0; f < ALLOCSTAT_NR_FIELDS; f++) {
			uint64_t base = allocstat_has(b, f) ? b->val[f] : 0;

			if (!allocstat_has(a, f))
				continue;
			if (is_max_field(f))
				t->val[f] = a->val[f];
			else
				t->val[f] = a->val[f] > base ? a->val[f] - base : 0;
		}
	}
}

int mem_available(uint64_t *bytes)
{
	FILE *f = fopen("/proc/meminfo", "re");
	unsigned long long kb;
	char line[256];
	int ret = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
			*bytes = kb * 1024;
			ret = 0;
			break;
		}
	fclose(f);
	return ret;
}

/* the CPUs this process may run on */
int online_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		return CPU_COUNT(&set);
	return (int)sysconf(_SC_NPROCESSORS_ONLN);
}

/* the kernel has THP at all (CONFIG_TRANSPARENT_HUGEPAGE; not on PREEMPT_RT) */
bool thp_compiled(void)
{
	return access(THP_DIR, F_OK) == 0;
}

/*
 * Whether a THP fault clears the huge page again after init_on_alloc has
 * zeroed it.  Up to 6.12 it does; 6.13 stopped it (5708d96da20b, "mm: avoid
 * zeroing user movable page twice with init_on_alloc=1", merged for 6.13).
 * Measured with selftests/tests/30-thp.sh, which counts the huge-page clears
 * with tracefs: Debian 6.1 and 6.12 twice, sid 7.2 once.  A kernel's
 * behaviour that neither the module nor this program can probe, so the
 * running kernel's release decides; an unreadable one counts as twice.
 */
bool thp_zeroed_twice(void)
{
	unsigned int major, minor;
	struct utsname u;

	if (uname(&u) || sscanf(u.release, "%u.%u", &major, &minor) != 2)
		return true;
	return major < 6 || (major == 6 && minor < 13);
}

bool thp_available(void)
{
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");
	char line[128] = "";
	bool ok;

	if (!f)
		return false;
	ok = fgets(line, sizeof(line), f) && !strstr(line, "[never]");
	fclose(f);
	return ok;
}

/* one unsigned decimal number, alone on the first line of path */
static int read_u64(const char *path, uint64_t *out)
{
	FILE *f = fopen(path, "re");
	char line[64], *end;
	unsigned long long v;
	int ret = -1;

	if (!f)
		return -1;
	if (fgets(line, sizeof(line), f) && line[0] >= '0' && line[0] <= '9') {
		errno = 0;
		v = strtoull(line, &end, 10);
		if (!errno && (*end == '\n' || *end == '\0')) {
			*out = v;
			ret = 0;
		}
	}
	fclose(f);
	return ret;
}

/*
 * The PMD size, the size of a transparent huge page, from path (NULL: the
 * kernel's hpage_pmd_size).  If it cannot be read, or is not a power of
 * two of at least a page, 2 MiB (x86-64, arm64 with 4 KiB pages) and
 * *guessed.
 */
uint64_t thp_pmd_size(const char *path, bool *guessed)
{
	uint64_t v;

	*guessed = read_u64(path ? path : THP_PMD_SIZE_PATH, &v) ||
		   v < (uint64_t)sysconf(_SC_PAGESIZE) || (v & (v - 1));
	return *guessed ? PMD_SIZE_FALLBACK : v;
}

int max_map_count(uint64_t *n)
{
	return read_u64(MAX_MAP_COUNT_PATH, n);
}
