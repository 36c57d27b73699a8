// SPDX-License-Identifier: GPL-2.0
/*
 * allocstat_proc: parser for /proc/allocstat.  See allocstat_proc.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "allocstat_proc.h"

#define MAX_COLS 128

static const char *const field_names[ALLOCSTAT_NR_FIELDS] = {
#define X(id, name) [ALLOCSTAT_##id] = #name,
	ALLOCSTAT_FIELDS(X)
#undef X
};

static const char *const task_field_names[ALLOCSTAT_NR_TASK_FIELDS] = {
#define X(id, name) [ALLOCSTAT_TASK_##id] = #name,
	ALLOCSTAT_TASK_FIELDS(X)
#undef X
};

/* what a header column maps to */
enum col_kind {
	COL_UNKNOWN, COL_TID, COL_TGID, COL_COMM, COL_STATE, COL_FIELD, COL_ROOT,
	COL_TASK,
};

struct col {
	enum col_kind kind;
	int field;
};

const char *allocstat_field_name(enum allocstat_field f)
{
	return (unsigned int)f < ALLOCSTAT_NR_FIELDS ? field_names[f] : NULL;
}

const char *allocstat_task_field_name(enum allocstat_task_field f)
{
	return (unsigned int)f < ALLOCSTAT_NR_TASK_FIELDS ? task_field_names[f] : NULL;
}

static int task_field_index(const char *name)
{
	for (int i = 0; i < ALLOCSTAT_NR_TASK_FIELDS; i++)
		if (!strcmp(name, task_field_names[i]))
			return i;
	return -1;
}

int allocstat_field_index(const char *name)
{
	for (int i = 0; i < ALLOCSTAT_NR_FIELDS; i++)
		if (!strcmp(name, field_names[i]))
			return i;
	return -1;
}

const char *allocstat_path(void)
{
	const char *p = getenv("ALLOCSTAT_PROC");

	return p && *p ? p : ALLOCSTAT_PROC_PATH;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* strict unsigned decimal: digits only, no sign, no overflow */
static int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

/* \ooo -> byte; anything else is copied as is */
static void unescape(const char *s, char *out, size_t outlen)
{
	size_t n = 0;

	while (*s && n + 1 < outlen) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			out[n++] = (char)(((s[1] - '0') << 6) | ((s[2] - '0') << 3) |
					  (s[3] - '0'));
			s += 4;
		} else {
			out[n++] = *s++;
		}
	}
	out[n] = '\0';
}

/* split line in place on blanks; returns the number of fields */
static int split(char *line, char **f, int max)
{
	int n = 0;
	char *save = NULL;

	for (char *tok = strtok_r(line, " \t", &save); tok;
	     tok = strtok_r(NULL, " \t", &save)) {
		if (n == max)
			return max + 1;
		f[n++] = tok;
	}
	return n;
}

/* MAJOR.MINOR.PATCH, each a decimal number; returns 0 and MAJOR, or -1 */
static int parse_version(const char *s, uint64_t *major)
{
	char part[3][24];
	int n = 0;

	for (const char *p = s; n < 3; n++) {
		size_t l = strspn(p, "0123456789");

		if (l == 0 || l >= sizeof(part[n]))
			return -1;
		memcpy(part[n], p, l);
		part[n][l] = '\0';
		p += l;
		if (n < 2 && *p++ != '.')
			return -1;
		if (n == 2 && *p)
			return -1;
	}
	return parse_u64(part[0], major);
}

static int parse_title(char *line, struct allocstat_table *t, char *err,
		       size_t errlen)
{
	char *f[MAX_COLS];
	int n = split(line, f, MAX_COLS);
	uint64_t major;

	if (n < 3 || strcmp(f[0], "#") || strcmp(f[1], "allocstat"))
		return fail(err, errlen,
			    "line 1: missing '# allocstat <version> ...' header");
	if (parse_version(f[2], &major))
		return fail(err, errlen, "line 1: version '%.40s' is not MAJOR.MINOR.PATCH",
			    f[2]);
	if (major != ALLOCSTAT_MAJOR)
		return fail(err, errlen,
			    "line 1: allocstat %.40s: this parser reads major version %d only",
			    f[2], ALLOCSTAT_MAJOR);
	snprintf(t->version, sizeof(t->version), "%s", f[2]);
	snprintf(t->track, sizeof(t->track), "absent");
	t->init_on_alloc = -1;
	for (int i = 3; i < n && i < MAX_COLS; i++) {
		char *eq = strchr(f[i], '=');
		uint64_t *num = NULL;

		if (!eq)
			continue;
		*eq++ = '\0';
		if (!strcmp(f[i], "kernel"))
			snprintf(t->kernel, sizeof(t->kernel), "%s", eq);
		else if (!strcmp(f[i], "hooks"))
			snprintf(t->hooks, sizeof(t->hooks), "%s", eq);
		else if (!strcmp(f[i], "track")) {
			if (!*eq || strlen(eq) >= sizeof(t->track))
				return fail(err, errlen, "line 1: bad track=%.40s", eq);
			snprintf(t->track, sizeof(t->track), "%s", eq);
		}
		else if (!strcmp(f[i], "init_on_alloc")) {
			if (strcmp(eq, "0") && strcmp(eq, "1"))
				return fail(err, errlen, "line 1: bad init_on_alloc=%.40s", eq);
			t->init_on_alloc = *eq == '1';
		}
		else if (!strcmp(f[i], "tasks"))
			num = &t->tasks;
		else if (!strcmp(f[i], "dropped"))
			num = &t->dropped;
		else if (!strcmp(f[i], "recycled")) {
			num = &t->recycled;
			t->has_recycled = true;
		}
		else if (!strcmp(f[i], "missed"))
			num = &t->missed;
		if (num && parse_u64(eq, num))
			return fail(err, errlen, "line 1: bad number %s=%s",
				    f[i], eq);
	}
	return 0;
}

static int parse_columns(char *line, struct col *cols, int *ncols,
			 struct allocstat_table *t, char *err, size_t errlen)
{
	char *f[MAX_COLS];
	int n = split(line, f, MAX_COLS);
	unsigned int seen = 0;

	if (n > MAX_COLS)
		return fail(err, errlen, "line 2: more than %d columns", MAX_COLS);
	for (int i = 0; i < n; i++) {
		static const char *const fixed[] = { "tid", "tgid", "comm", "state" };
		struct col c = { COL_UNKNOWN, -1 };

		for (int k = 0; k < 4; k++)
			if (!strcmp(f[i], fixed[k]))
				c.kind = COL_TID + k;
		if (c.kind == COL_UNKNOWN) {
			c.field = allocstat_field_index(f[i]);
			if (c.field >= 0)
				c.kind = COL_FIELD;
		}
		if (c.kind == COL_UNKNOWN && !strcmp(f[i], "root"))
			c.kind = COL_ROOT;
		if (c.kind == COL_UNKNOWN) {
			c.field = task_field_index(f[i]);
			if (c.field >= 0)
				c.kind = COL_TASK;
		}
		if (c.kind == COL_FIELD) {
			if (t->columns & (1u << c.field))
				return fail(err, errlen, "line 2: duplicate column %s", f[i]);
			t->columns |= 1u << c.field;
		} else if (c.kind == COL_TASK) {
			if (t->task_columns & (1u << c.field))
				return fail(err, errlen, "line 2: duplicate column %s", f[i]);
			t->task_columns |= 1u << c.field;
		} else if (c.kind != COL_UNKNOWN) {
			if (seen & (1u << c.kind))
				return fail(err, errlen, "line 2: duplicate column %s", f[i]);
			seen |= 1u << c.kind;
		} else {
			t->nr_extra_cols++;
		}
		cols[i] = c;
	}
	t->has_root_col = seen & (1u << COL_ROOT);
	if ((seen & 0x1e) != 0x1e)
		return fail(err, errlen,
			    "line 2: missing column header (need tid tgid comm state)");
	*ncols = n;
	return 0;
}

/* returns 0, 1 (too few fields) or -1 (bad value, err set) */
static int parse_row(char *line, int lineno, const struct col *cols, int ncols,
		     struct allocstat_row *r, char *err, size_t errlen)
{
	char *f[MAX_COLS];
	int n = split(line, f, MAX_COLS);

	if (n < ncols)
		return 1;
	if (n > ncols)
		return fail(err, errlen, "line %d: %d fields, header has %d",
			    lineno, n, ncols);
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < n; i++) {
		uint64_t v;

		switch (cols[i].kind) {
		case COL_TID:
		case COL_TGID:
			if (parse_u64(f[i], &v))
				return fail(err, errlen, "line %d: bad %s '%s'", lineno,
					    cols[i].kind == COL_TID ? "tid" : "tgid", f[i]);
			*(cols[i].kind == COL_TID ? &r->tid : &r->tgid) = v;
			break;
		case COL_COMM:
			unescape(f[i], r->comm, sizeof(r->comm));
			break;
		case COL_STATE:
			if (!strcmp(f[i], "exited"))
				r->exited = true;
			else if (strcmp(f[i], "alive"))
				return fail(err, errlen, "line %d: bad state '%s'",
					    lineno, f[i]);
			break;
		case COL_FIELD:
			if (!strcmp(f[i], "-"))
				break;
			if (parse_u64(f[i], &v))
				return fail(err, errlen, "line %d: bad %s '%s'", lineno,
					    field_names[cols[i].field], f[i]);
			r->val[cols[i].field] = v;
			r->present |= 1u << cols[i].field;
			break;
		case COL_ROOT:
			if (!strcmp(f[i], "-"))
				break;
			if (parse_u64(f[i], &r->root))
				return fail(err, errlen, "line %d: bad root '%s'", lineno, f[i]);
			r->has_root = true;
			break;
		case COL_TASK:
			if (!strcmp(f[i], "-"))
				break;
			if (parse_u64(f[i], &v))
				return fail(err, errlen, "line %d: bad %s '%s'", lineno,
					    task_field_names[cols[i].field], f[i]);
			r->task[cols[i].field] = v;
			r->task_present |= 1u << cols[i].field;
			break;
		case COL_UNKNOWN:
			break;
		}
	}
	return 0;
}

int allocstat_parse(const char *buf, size_t len, struct allocstat_table *t,
		    char *err, size_t errlen)
{
	struct col cols[MAX_COLS];
	int ncols = 0, lineno = 0, ret = -1;
	size_t cap = 0, pos = 0;
	char *copy;

	memset(t, 0, sizeof(*t));
	copy = malloc(len + 1);
	if (!copy)
		return fail(err, errlen, "out of memory");
	memcpy(copy, buf, len);
	copy[len] = '\0';
	if (memchr(copy, '\0', len))
		goto out_bad_nul;

	while (pos < len) {
		char *line = copy + pos, *nl = strchr(line, '\n');
		bool complete = nl != NULL;
		struct allocstat_row row;
		int r;

		if (nl)
			*nl = '\0';
		pos = nl ? (size_t)(nl - copy) + 1 : len;
		lineno++;

		if (lineno == 1) {
			if (parse_title(line, t, err, errlen))
				goto out;
			continue;
		}
		if (lineno == 2) {
			if (!complete || parse_columns(line, cols, &ncols, t, err, errlen)) {
				if (!complete)
					fail(err, errlen, "line 2: truncated column header");
				goto out;
			}
			continue;
		}
		if (line[strspn(line, " \t")] == '\0' || line[0] == '#')
			continue;
		r = parse_row(line, lineno, cols, ncols, &row, err, errlen);
		if (!complete || (r == 1 && pos >= len)) {
			/* incomplete last line: drop it */
			t->truncated = true;
			break;
		}
		if (r == 1) {
			fail(err, errlen, "line %d: too few fields (header has %d)",
			     lineno, ncols);
			goto out;
		}
		if (r < 0)
			goto out;
		if (t->nr_rows == cap) {
			struct allocstat_row *nr;

			cap = cap ? 2 * cap : 64;
			nr = realloc(t->rows, cap * sizeof(*nr));
			if (!nr) {
				fail(err, errlen, "out of memory");
				goto out;
			}
			t->rows = nr;
		}
		t->rows[t->nr_rows++] = row;
	}
	if (lineno < 2) {
		fail(err, errlen, lineno ? "line 2: missing column header"
					 : "empty input: missing header");
		goto out;
	}
	ret = 0;
out:
	free(copy);
	if (ret)
		allocstat_table_free(t);
	return ret;
out_bad_nul:
	fail(err, errlen, "NUL byte in input");
	goto out;
}

int allocstat_read(const char *path, struct allocstat_table *t, char *err,
		   size_t errlen)
{
	/* one byte more than the bound: a file that fills it is too large */
	size_t len = 0, cap = 1 << 16, max = (size_t)ALLOCSTAT_READ_MAX + 1;
	char *buf = malloc(cap);
	int fd, ret;

	memset(t, 0, sizeof(*t));
	if (!path)
		path = allocstat_path();
	if (!buf) {
		fail(err, errlen, "out of memory");
		return -ENOMEM;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		fail(err, errlen, "open %s: %s", path, strerror(errno));
		goto out;
	}
	for (;;) {
		ssize_t n;

		if (len == max) {
			ret = -EFBIG;
			fail(err, errlen, "%s is larger than %d MiB, the parser's bound: refused",
			     path, ALLOCSTAT_READ_MAX >> 20);
			goto out_close;
		}
		if (len == cap) {
			size_t ncap = cap * 2 < max ? cap * 2 : max;
			char *nb = realloc(buf, ncap);

			if (!nb) {
				ret = -ENOMEM;
				fail(err, errlen, "out of memory");
				goto out_close;
			}
			buf = nb;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			fail(err, errlen, "read %s: %s", path, strerror(errno));
			goto out_close;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	ret = allocstat_parse(buf, len, t, err, errlen) ? -EINVAL : 0;
out_close:
	close(fd);
out:
	free(buf);
	return ret;
}

void allocstat_table_free(struct allocstat_table *t)
{
	free(t->rows);
	t->rows = NULL;
	t->nr_rows = 0;
}

const char *allocstat_table_problem(const struct allocstat_table *t, char *buf,
				    size_t len)
{
	if (!t->truncated && t->tasks == t->nr_rows)
		return NULL;
	snprintf(buf, len, "%s%stasks=%llu in the header, %zu row%s read",
		 t->truncated ? "the last line was incomplete and was dropped" : "",
		 t->truncated ? "; " : "", (unsigned long long)t->tasks, t->nr_rows,
		 t->nr_rows == 1 ? "" : "s");
	return buf;
}

const struct allocstat_row *allocstat_find(const struct allocstat_table *t,
					   uint64_t tgid, uint64_t tid)
{
	for (size_t i = t->nr_rows; i-- > 0;)
		if (t->rows[i].tid == tid && t->rows[i].tgid == tgid)
			return &t->rows[i];
	return NULL;
}

bool allocstat_hook_active(const struct allocstat_table *t, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = t->hooks; *p;) {
		const char *end = strchr(p, ',');
		size_t l = end ? (size_t)(end - p) : strlen(p);

		if (l == n && !strncmp(p, name, n))
			return true;
		if (!end)
			break;
		p = end + 1;
	}
	return false;
}

bool allocstat_track_has(const struct allocstat_table *t, uint64_t tgid)
{
	for (const char *p = t->track; *p;) {
		uint64_t v = 0;
		bool digits = *p >= '0' && *p <= '9';

		for (; *p >= '0' && *p <= '9'; p++)
			v = v * 10 + (uint64_t)(*p - '0');
		if (digits && (*p == ',' || !*p) && v == tgid)
			return true;
		p = strchr(p, ',');
		if (!p)
			break;
		p++;
	}
	return false;
}
