#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A guest that never reaches COMMAND (here: the kernel runs `busybox sleep`
# as its init instead of vm-run's /init) is killed after --boot-timeout,
# booted once more, then reported as a timeout (124), without waiting for
# --timeout.

. "$(dirname "$0")/common.bash"
ktap_set_plan 3

limit=15
vmrun --no-build --timeout 600 --boot-timeout $limit \
	--append "rdinit=/bin/busybox -- sleep 1000" -- true
expect "a guest that hangs before COMMAND makes vm-run exit 124" "$RC" -eq 124
# two boots of $limit s, plus preparing the initramfs and stopping QEMU
expect "both boots are stopped after --boot-timeout $limit (2 x $limit + 40 s): took ${SECS}s" \
	"$SECS" -le $((2 * limit + 40))
if grep_err "boot 1 of 2: no start of COMMAND after ${limit}s" && grep_err 'booting again' &&
   grep_err "did not reach COMMAND within --boot-timeout ${limit}s, 2 boots"; then
	ktap_test_pass "stderr names the hang, the second boot and the verdict"
else
	show "$ERR"
	ktap_test_fail "stderr names the hang, the second boot and the verdict"
fi

ktap_finished
