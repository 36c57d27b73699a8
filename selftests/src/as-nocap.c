// SPDX-License-Identifier: GPL-2.0
/*
 * as-nocap CAP COMMAND [ARG]...: run COMMAND as the same user (root) but
 * without capability number CAP (e.g. 21, CAP_SYS_ADMIN): CAP leaves the
 * bounding set, so COMMAND does not regain it at exec, and leaves the
 * permitted, effective and inheritable sets of this process.
 */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	char *end;
	long cap;

	if (argc < 3) {
		fprintf(stderr, "usage: as-nocap CAP COMMAND [ARG]...\n");
		return 2;
	}
	errno = 0;
	cap = strtol(argv[1], &end, 10);
	if (errno || *end || cap < 0 || cap > 63) {
		fprintf(stderr, "as-nocap: bad capability '%s'\n", argv[1]);
		return 2;
	}
	if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)) {
		perror("as-nocap: PR_CAPBSET_DROP");
		return 1;
	}
	if (syscall(SYS_capget, &hdr, data)) {
		perror("as-nocap: capget");
		return 1;
	}
	data[cap / 32].effective &= ~(1u << (cap % 32));
	data[cap / 32].permitted &= ~(1u << (cap % 32));
	data[cap / 32].inheritable &= ~(1u << (cap % 32));
	if (syscall(SYS_capset, &hdr, data)) {
		perror("as-nocap: capset");
		return 1;
	}
	execvp(argv[2], argv + 2);
	fprintf(stderr, "as-nocap: %s: %s\n", argv[2], strerror(errno));
	return 127;
}
