#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A guest that hangs is stopped at --timeout and reported as a timeout, with
# the console tail, and a non-zero exit status (124).

. "$(dirname "$0")/common.bash"
ktap_set_plan 3

# Long enough for the guest to boot and start COMMAND on a busy host (seen:
# more than 20 s with two other guests and a kernel build on 2 cores, when
# the timeout then struck during boot, not during COMMAND as meant here)
limit=45
vmrun --no-build --timeout $limit -- sleep 1000
expect "a hanging guest makes vm-run exit 124" "$RC" -eq 124
# preparing the initramfs and stopping QEMU take a few seconds more
expect "it is stopped within --timeout $limit (+30 s): took ${SECS}s" "$SECS" -le $((limit + 30))
if grep_err 'timeout: COMMAND still running after' && grep_err 'last 40 console lines'; then
	ktap_test_pass "stderr says it timed out and shows the console"
else
	show "$ERR"
	ktap_test_fail "stderr says it timed out and shows the console"
fi

ktap_finished
