// SPDX-License-Identifier: GPL-2.0
/*
 * as-fuzz: write fuzzing of /proc/allocstat's control interface.
 *
 *   as-fuzz [-n WRITES] [-s SEED] [-P PID_MAX_LIMIT] [PATH]
 *
 * Makes WRITES (default 10000) write(2) calls, one command each, from a mix
 * of generators: random bytes of 0..8 KiB; partial, overlong, mangled and
 * doubled commands; `track` with numbers past 32 and 64 bits, negative,
 * signed, hex, padded; and more than 64 distinct `track` entries.  Every
 * write must either succeed with the full count, exactly when the documented
 * grammar says it is a command, or fail with EINVAL:
 *
 *   "reset" | "track all" | "track none" | "track " DIGITS | "untrack " DIGITS
 *   (one optional trailing '\n')
 *   DIGITS: a tgid in 1..PID_MAX_LIMIT (default 4194304, the x86-64 value);
 *   the 65th distinct tgid fails with EINVAL, and so does untrack of a tgid
 *   not in the set; at most 64 bytes in all.
 *
 * A write the model would accept as `reset` is never made, so the caller's
 * rows survive.  At the end `track all` restores the filter.
 *
 * Prints `writes=N ok=N einval=N other=N mismatch=N over_64=N tracked=N ...`
 * (over_64: `track` writes refused because 64 tgids were listed) and per
 * generator counts; the first mismatches as `# mismatch: ...` with the bytes
 * in C escapes.  Exit 0 when every write matched the model, 1 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_LEN		8192
#define CMD_MAX		64
#define MAX_TRACK	64
#define MAX_REPORTS	10

enum gen { G_RANDOM, G_PRINTABLE, G_MANGLED, G_NUMBER, G_TRACK, G_NR };
static const char *const gen_names[G_NR] = {
	"random", "printable", "mangled", "number", "track"
};

static uint64_t rng_state;
static long pid_max_limit = 4194304;
static long tracked[MAX_TRACK];
static unsigned int nr_tracked;
static bool table_full;		/* the last model() verdict was EINVAL for a 65th tgid */

static uint64_t rnd(void)
{
	/* xorshift64*: reproducible from -s SEED */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static unsigned long below(unsigned long n)
{
	return n ? (unsigned long)(rnd() % n) : 0;
}

enum verdict { V_EINVAL, V_OK, V_RESET };

/* the tgid of a valid "untrack N" the model accepted, else 0 */
static long untrack_tgid;

/* DIGITS of buf[from..n): a tgid in 1..pid_max_limit, else 0 */
static long parse_tgid(const char *buf, size_t from, size_t n)
{
	long v = 0;
	size_t i;

	if (n <= from)
		return 0;
	for (i = from; i < n; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return 0;
		v = v * 10 + (buf[i] - '0');
		if (v > pid_max_limit)
			return 0;
	}
	return v;
}

/* The documented grammar, and the track table it implies. */
static enum verdict model(const char *buf, size_t len, long *track_tgid)
{
	size_t n = len;
	long v = 0;
	size_t i;

	*track_tgid = 0;
	untrack_tgid = 0;
	table_full = false;
	if (len == 0 || len > CMD_MAX)
		return V_EINVAL;
	if (buf[n - 1] == '\n')
		n--;
	if (memchr(buf, '\0', n))
		return V_EINVAL;
	if (n == 5 && !memcmp(buf, "reset", 5))
		return V_RESET;
	if (n == 9 && !memcmp(buf, "track all", 9))
		return V_OK;
	if (n == 10 && !memcmp(buf, "track none", 10))
		return V_OK;
	if (n > 8 && !memcmp(buf, "untrack ", 8)) {
		v = parse_tgid(buf, 8, n);
		for (i = 0; v && i < nr_tracked; i++)
			if (tracked[i] == v) {
				untrack_tgid = v;
				return V_OK;
			}
		return V_EINVAL;
	}
	if (n <= 6 || memcmp(buf, "track ", 6))
		return V_EINVAL;
	v = parse_tgid(buf, 6, n);
	if (v < 1)
		return V_EINVAL;
	*track_tgid = v;
	for (i = 0; i < nr_tracked; i++)
		if (tracked[i] == v)
			return V_OK;
	if (nr_tracked < MAX_TRACK)
		return V_OK;
	table_full = true;
	return V_EINVAL;
}

static const char *const valid_cmds[] = {
	"reset", "track all", "track 1", "track 4194304", "track 12345", "track none",
	"untrack 12345",
};

/* a valid command, then cut, extended, doubled, re-cased or re-spaced */
static size_t gen_mangled(char *b)
{
	const char *c = valid_cmds[below(sizeof(valid_cmds) / sizeof(valid_cmds[0]))];
	size_t len = strlen(c), i, extra;

	memcpy(b, c, len);
	switch (below(9)) {
	case 0:		/* partial line */
		len = below(len);
		break;
	case 1:		/* overlong: padding up to 8 KiB */
		extra = 1 + below(MAX_LEN - len);
		memset(b + len, " 0\n"[below(3)], extra);
		len += extra;
		break;
	case 2:		/* two commands in one write */
		b[len++] = '\n';
		memcpy(b + len, c, strlen(c));
		len += strlen(c);
		break;
	case 3:		/* more than one trailing newline */
		extra = 2 + below(3);
		memset(b + len, '\n', extra);
		len += extra;
		break;
	case 4:		/* leading or trailing blanks */
		if (below(2)) {
			memmove(b + 1, b, len);
			b[0] = " \t\r"[below(3)];
			len++;
		} else {
			b[len++] = " \t\r"[below(3)];
		}
		break;
	case 5:		/* upper case somewhere */
		i = below(len);
		if (b[i] >= 'a' && b[i] <= 'z')
			b[i] -= 32;
		else
			b[i] = 'X';
		break;
	case 6:		/* embedded NUL */
		b[below(len)] = '\0';
		break;
	case 7:		/* one byte flipped */
		b[below(len)] ^= (char)(1 << below(8));
		break;
	default:	/* CRLF */
		b[len++] = '\r';
		b[len++] = '\n';
		break;
	}
	if (below(4) == 0 && len < MAX_LEN)
		b[len++] = '\n';
	return len;
}

static const char *const numbers[] = {
	"0", "-1", "-0", "+1", "-2147483648", "2147483647", "2147483648",
	"4294967295", "4294967296", "4294967297", "9223372036854775807",
	"9223372036854775808", "18446744073709551615", "18446744073709551616",
	"18446744073709551617", "99999999999999999999999999999999999999",
	"4194304", "4194305", "0x10", "010", "1e3", "1.5", " 5", "5 ", "5 6",
	"５", "1\n2", "00000000000000000000000000000000000000000000000001",
};

/* "track " with a troublesome number */
static size_t gen_number(char *b)
{
	const char *n = numbers[below(sizeof(numbers) / sizeof(numbers[0]))];
	size_t len;

	if (below(3) == 0) {
		/* a long run of digits: past 64 bits most of the time */
		size_t d = 1 + below(50), i;

		memcpy(b, "track ", 6);
		for (i = 0; i < d; i++)
			b[6 + i] = (char)('0' + below(10));
		if (below(4) == 0)
			b[6] = '-';
		len = 6 + d;
	} else {
		len = (size_t)sprintf(b, "track %s", n);
	}
	if (below(2))
		b[len++] = '\n';
	return len;
}

/* valid track entries, most of them new: the 65th distinct one must fail */
static size_t gen_track(char *b)
{
	long v = 100000 + (long)below(200);

	return (size_t)sprintf(b, below(2) ? "track %ld" : "track %ld\n", v);
}

static size_t gen_random(char *b, bool printable)
{
	size_t len = below(MAX_LEN + 1), i;

	/* short writes are the interesting ones for a 64-byte command buffer */
	if (below(2))
		len = below(CMD_MAX + 8);
	for (i = 0; i < len; i++) {
		b[i] = (char)rnd();
		if (printable)
			b[i] = (char)(' ' + (unsigned char)b[i] % 95);
	}
	/* random bytes that start like a command reach the number parser */
	if (len >= 6 && below(4) == 0)
		memcpy(b, "track ", 6);
	return len;
}

static void show(const char *b, size_t len)
{
	size_t i;

	printf("'");
	for (i = 0; i < len && i < 80; i++) {
		unsigned char c = (unsigned char)b[i];

		if (c >= ' ' && c < 0x7f && c != '\\' && c != '\'')
			putchar(c);
		else
			printf("\\x%02x", c);
	}
	printf("%s' (%zu bytes)", len > 80 ? "..." : "", len);
}

int main(int argc, char **argv)
{
	unsigned long n = 10000, done = 0, ok = 0, einval = 0, other = 0, mismatch = 0;
	unsigned long per_gen[G_NR] = { 0 }, skipped_resets = 0, over_64 = 0;
	static char b[MAX_LEN + 256];
	const char *path;
	int fd, opt;

	rng_state = 0x9e3779b97f4a7c15ULL;
	while ((opt = getopt(argc, argv, "n:s:P:")) != -1) {
		switch (opt) {
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 's':
			rng_state ^= strtoull(optarg, NULL, 0) * 0x2545f4914f6cdd1dULL;
			break;
		case 'P':
			pid_max_limit = strtol(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: as-fuzz [-n WRITES] [-s SEED] [-P PID_MAX_LIMIT] [PATH]\n");
			return 2;
		}
	}
	if (!rng_state)
		rng_state = 1;
	path = optind < argc ? argv[optind] : "/proc/allocstat";
	fd = open(path, O_WRONLY);
	if (fd < 0) {
		fprintf(stderr, "as-fuzz: %s: %s\n", path, strerror(errno));
		return 1;
	}

	while (done < n) {
		enum gen g = (enum gen)below(G_NR);
		enum verdict want;
		size_t len;
		ssize_t r;
		long tgid;
		bool as_expected;

		switch (g) {
		case G_RANDOM:
			len = gen_random(b, false);
			break;
		case G_PRINTABLE:
			len = gen_random(b, true);
			break;
		case G_MANGLED:
			len = gen_mangled(b);
			break;
		case G_NUMBER:
			len = gen_number(b);
			break;
		default:
			len = gen_track(b);
			break;
		}
		want = model(b, len, &tgid);
		if (want == V_RESET) {
			skipped_resets++;
			continue;
		}
		r = write(fd, b, len);
		done++;
		per_gen[g]++;
		if (r == (ssize_t)len) {
			ok++;
		} else if (r < 0 && errno == EINVAL) {
			einval++;
		} else {
			other++;
			if (other <= MAX_REPORTS) {
				printf("# unexpected result %zd (%s) for ", r,
				       r < 0 ? strerror(errno) : "short count");
				show(b, len);
				printf("\n");
			}
			continue;
		}
		if (table_full && r < 0)
			over_64++;
		as_expected = (want == V_OK) == (r == (ssize_t)len);
		if (!as_expected) {
			mismatch++;
			if (mismatch <= MAX_REPORTS) {
				printf("# mismatch: %s for ", r < 0 ? "EINVAL" : "success");
				show(b, len);
				printf(", the grammar says %s\n", want == V_OK ? "success" : "EINVAL");
			}
		}
		/* follow the module's state, whatever it did */
		if (r == (ssize_t)len && !tgid && want != V_OK && len > 6 &&
		    !memcmp(b, "track ", 6) && b[6] >= '0' && b[6] <= '9')
			tgid = strtol(b + 6, NULL, 10);	/* accepted against the grammar */
		if (r == (ssize_t)len && tgid) {
			unsigned int i;

			for (i = 0; i < nr_tracked && tracked[i] != tgid; i++)
				;
			if (i == nr_tracked && nr_tracked < MAX_TRACK)
				tracked[nr_tracked++] = tgid;
		} else if (r == (ssize_t)len && untrack_tgid) {
			unsigned int i;

			for (i = 0; i < nr_tracked && tracked[i] != untrack_tgid; i++)
				;
			if (i < nr_tracked)
				tracked[i] = tracked[--nr_tracked];
		} else if (r == (ssize_t)len && len >= 9 && (!memcmp(b, "track all", 9) ||
							     (len >= 10 && !memcmp(b, "track none", 10)))) {
			nr_tracked = 0;
		}
	}
	printf("writes=%lu ok=%lu einval=%lu other=%lu mismatch=%lu over_64=%lu tracked=%u skipped_resets=%lu\n",
	       done, ok, einval, other, mismatch, over_64, nr_tracked, skipped_resets);
	printf("generators:");
	for (int g = 0; g < G_NR; g++)
		printf(" %s=%lu", gen_names[g], per_gen[g]);
	printf("\n");
	if (write(fd, "track all", 9) != 9) {
		printf("# final 'track all' failed: %s\n", strerror(errno));
		other++;
	}
	close(fd);
	return other || mismatch ? 1 : 0;
}
