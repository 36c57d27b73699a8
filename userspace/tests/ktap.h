/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KTAP output of the host unit tests: results and diagnostics are kept
 * until ktap_finish(), so that the plan comes first.
 */
#ifndef ALLOCSTAT_TESTS_KTAP_H
#define ALLOCSTAT_TESTS_KTAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KTAP_MAX_LINES 1024

static char *lines[KTAP_MAX_LINES];	/* results and diagnostics, in order */
static int nr_lines, nr_lost, nr_results, nr_failed, nr_skipped;

static void add_line(const char *prefix, const char *fmt, va_list ap)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "%s", prefix);

	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (nr_lines < KTAP_MAX_LINES)
		lines[nr_lines++] = strdup(line);
	else
		nr_lost++;
}

static void __attribute__((format(printf, 2, 3))) result(int ok, const char *fmt, ...)
{
	char prefix[32];
	va_list ap;

	snprintf(prefix, sizeof(prefix), "%s %d ", ok ? "ok" : "not ok", ++nr_results);
	va_start(ap, fmt);
	add_line(prefix, fmt, ap);
	va_end(ap);
	nr_failed += !ok;
	nr_skipped += ok && strstr(fmt, "# SKIP") != NULL;
}

static void __attribute__((format(printf, 1, 2))) diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_line("# ", fmt, ap);
	va_end(ap);
}

/* print the plan and the lines; exit status 0 if every test passed */
static int ktap_finish(void)
{
	printf("TAP version 13\n1..%d\n", nr_results);
	for (int i = 0; i < nr_lines; i++)
		printf("%s\n", lines[i]);
	if (nr_lost) {
		printf("# %d lines lost: more than %d lines\n", nr_lost, KTAP_MAX_LINES);
		nr_failed++;
	}
	printf("# Totals: pass:%d fail:%d skip:%d\n", nr_results - nr_failed - nr_skipped,
	       nr_failed, nr_skipped);
	return nr_failed ? 1 : 0;
}

#endif /* ALLOCSTAT_TESTS_KTAP_H */
