// SPDX-License-Identifier: GPL-2.0
/*
 * as-runas UID COMMAND [ARG]...: run COMMAND as UID (and gid UID, no
 * supplementary groups, no capabilities), for the permission selftests.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char *end;
	unsigned long id;

	if (argc < 3) {
		fprintf(stderr, "usage: as-runas UID COMMAND [ARG]...\n");
		return 2;
	}
	errno = 0;
	id = strtoul(argv[1], &end, 10);
	if (errno || *end || end == argv[1]) {
		fprintf(stderr, "as-runas: bad uid '%s'\n", argv[1]);
		return 2;
	}
	if (setgroups(0, NULL) || setgid((gid_t)id) || setuid((uid_t)id)) {
		perror("as-runas: setuid");
		return 1;
	}
	execvp(argv[2], argv + 2);
	fprintf(stderr, "as-runas: %s: %s\n", argv[2], strerror(errno));
	return 127;
}
