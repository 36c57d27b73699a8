// SPDX-License-Identifier: GPL-2.0
/*
 * as-write [-f FILE | -r BYTES] PATH [STRING]: one write(2) of STRING (as
 * given, no newline added), of FILE's contents, or of BYTES random bytes,
 * to PATH; prints "ok N" or the errno name (EINVAL, EPERM, ...), so a test
 * can tell a rejected write from a failed one.  Exit 0 when the write was
 * made, whatever it returned; 2 on bad usage.
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
	case EINVAL: return "EINVAL";
	case EPERM: return "EPERM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case ENOENT: return "ENOENT";
	case ENOMEM: return "ENOMEM";
	default: return strerror(e);
	}
}

int main(int argc, char **argv)
{
	static char buf[1 << 16];
	size_t len = 0;
	ssize_t n;
	int fd, opt;

	while ((opt = getopt(argc, argv, "f:r:")) != -1) {
		if (opt == 'f') {
			int in = open(optarg, O_RDONLY);

			if (in < 0 || (n = read(in, buf, sizeof(buf))) < 0) {
				perror(optarg);
				return 2;
			}
			len = (size_t)n;
			close(in);
		} else if (opt == 'r') {
			int in = open("/dev/urandom", O_RDONLY);

			len = strtoul(optarg, NULL, 10);
			if (in < 0 || len > sizeof(buf) || read(in, buf, len) != (ssize_t)len) {
				perror("random bytes");
				return 2;
			}
			close(in);
		} else {
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: as-write [-f FILE | -r BYTES] PATH [STRING]\n");
		return 2;
	}
	if (optind + 1 < argc) {
		len = strlen(argv[optind + 1]);
		if (len > sizeof(buf))
			return 2;
		memcpy(buf, argv[optind + 1], len);
	}
	fd = open(argv[optind], O_WRONLY);
	if (fd < 0) {
		printf("%s\n", errname(errno));
		return 0;
	}
	n = write(fd, buf, len);
	if (n < 0)
		printf("%s\n", errname(errno));
	else
		printf("ok %zd\n", n);
	close(fd);
	return 0;
}
