// SPDX-License-Identifier: GPL-2.0
/*
 * as-read PATH: open(2) PATH read-only and read(2) it to EOF; prints
 * "ok N: FIRST-LINE" (N bytes read) or the errno name of the call that
 * failed (EACCES, EPERM, ...), so that a test can tell a refused open from
 * a refused read and EACCES from EPERM.  The counterpart of as-write.
 * Exit 0 when the calls were made, whatever they returned; 2 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *errname(int e)
{
	switch (e) {
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EINVAL: return "EINVAL";
	case EIO: return "EIO";
	case ENOMEM: return "ENOMEM";
	default: return strerror(e);
	}
}

int main(int argc, char **argv)
{
	static char buf[1 << 16];
	char first[512] = "";
	size_t total = 0;
	ssize_t n;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: as-read PATH\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY);
	if (fd < 0) {
		printf("%s\n", errname(errno));
		return 0;
	}
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			printf("%s\n", errname(errno));
			close(fd);
			return 0;
		}
		if (!total) {
			const char *nl = memchr(buf, '\n', (size_t)n);
			size_t l = nl ? (size_t)(nl - buf) : (size_t)n;

			if (l >= sizeof(first))
				l = sizeof(first) - 1;
			memcpy(first, buf, l);
			first[l] = '\0';
		}
		total += (size_t)n;
	}
	close(fd);
	printf("ok %zu: %s\n", total, first);
	return 0;
}
