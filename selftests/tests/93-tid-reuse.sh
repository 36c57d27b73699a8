#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Tid reuse: with pid_max lowered to 1024, 2500 short-lived threads and
# child processes wrap the tids several times.  Rows of different tasks
# with the same tid are never merged: each task has a row of its own, with
# its own tgid and its own faults.

. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/module.sh"

TASKS=2500
PID_MAX=1024
PID_MAX_FILE=/proc/sys/kernel/pid_max

ktap_print_header
as_setup
old_pid_max=$(cat $PID_MAX_FILE)
cleanup() {
	echo "$old_pid_max" > $PID_MAX_FILE
	as_cleanup
}
trap cleanup EXIT
ktap_set_plan 5
as_load max_tasks=8192 || ktap_exit_fail_msg "cannot load $ALLOCSTAT_KO"

if echo $PID_MAX > $PID_MAX_FILE 2>/dev/null; then
	ktap_test_pass "pid_max lowered from $old_pid_max to $PID_MAX"
else
	ktap_test_fail "pid_max lowered from $old_pid_max to $PID_MAX"
fi
as-tidreuse -n $TASKS > "$AS_TMP/reuse"
rc=$?
echo "$old_pid_max" > $PID_MAX_FILE
sed 's/^\([^#]\)/# \1/' "$AS_TMP/reuse"
reused=$(sed -n 's/.* reused_tids=\([0-9]*\) .*/\1/p' "$AS_TMP/reuse")
uses=$(sed -n 's/.* max_uses=\([0-9]*\) .*/\1/p' "$AS_TMP/reuse")
as_check "tids wrapped: some tid was used by 2 or more of the $TASKS tasks" \
	"${reused:-0}" -gt 0 -a "${uses:-0}" -ge 2
matched=$(sed -n 's/.* matched=\([0-9]*\) .*/\1/p' "$AS_TMP/reuse")
as_check "every task has its own row, none merged (matched = $TASKS, bad = 0)" \
	"$rc" -eq 0 -a "${matched:-0}" -eq $TASKS
as_read_validated
ktap_test_result "rows are well-formed" test $? -eq 0
ktap_test_result "dmesg has no new BUG/WARNING/Oops/lockdep/KASAN line" as_dmesg_clean
ktap_finished
