# SPDX-License-Identifier: GPL-2.0
#
# ktap.sh - KTAP output helpers for allocstat's shell selftests.
#
# The same API as the kernel's tools/testing/selftests/kselftest/ktap_helpers.sh,
# POSIX sh (runs under busybox ash in the guest).  Source it from a test:
#
#	. "$(dirname "$0")/../lib/ktap.sh"
#	ktap_print_header
#	ktap_set_plan 2
#	ktap_test_result "module loads" insmod "$ALLOCSTAT_KO"
#	ktap_test_skip "per-VMA locks" "kernel has no CONFIG_PER_VMA_LOCK"
#	ktap_finished
#
# Output: `TAP version 13`, `1..N`, `ok N desc`, `not ok N desc`,
# `ok N desc # SKIP reason`, diagnostics as `# text`, and at the end
# `# Totals: pass:N fail:N skip:N`.
# ktap_finished exits 0 when every planned test passed or was skipped (4 when
# all of them were skipped), 1 otherwise (a failure, or fewer/more results
# than planned).  ktap_skip_all prints `1..0 # SKIP reason` and, like the
# kernel's helper, does not exit: follow it with `exit "$KSFT_SKIP"`.

KSFT_PASS=0
KSFT_FAIL=1
KSFT_XFAIL=2
KSFT_XPASS=3
KSFT_SKIP=4

KTAP_TESTNO=1
KTAP_CNT_PASS=0
KTAP_CNT_FAIL=0
KTAP_CNT_SKIP=0
KSFT_NUM_TESTS=

ktap_print_header() {
	echo "TAP version 13"
}

# ktap_print_msg TEXT...: a diagnostic line
ktap_print_msg() {
	echo "# $*"
}

# ktap_set_plan N
ktap_set_plan() {
	KSFT_NUM_TESTS=$1
	echo "1..$KSFT_NUM_TESTS"
}

# ktap_skip_all REASON...: the whole test program is skipped
ktap_skip_all() {
	echo "1..0 # SKIP $*"
}

# __ktap_test RESULT DESCRIPTION [DIRECTIVE]
__ktap_test() {
	if [ -n "$3" ]; then
		echo "$1 $KTAP_TESTNO $2 # $3"
	else
		echo "$1 $KTAP_TESTNO $2"
	fi
	KTAP_TESTNO=$((KTAP_TESTNO + 1))
}

ktap_test_pass() {
	__ktap_test "ok" "$1"
	KTAP_CNT_PASS=$((KTAP_CNT_PASS + 1))
}

ktap_test_fail() {
	__ktap_test "not ok" "$1"
	KTAP_CNT_FAIL=$((KTAP_CNT_FAIL + 1))
}

# ktap_test_skip DESCRIPTION [REASON]
ktap_test_skip() {
	__ktap_test "ok" "$1" "SKIP${2:+ $2}"
	KTAP_CNT_SKIP=$((KTAP_CNT_SKIP + 1))
}

# ktap_test_result DESCRIPTION COMMAND [ARG]...: pass when COMMAND succeeds
ktap_test_result() {
	__ktap_desc=$1
	shift
	if "$@"; then
		ktap_test_pass "$__ktap_desc"
	else
		ktap_test_fail "$__ktap_desc"
	fi
}

ktap_print_totals() {
	echo "# Totals: pass:$KTAP_CNT_PASS fail:$KTAP_CNT_FAIL skip:$KTAP_CNT_SKIP"
}

# ktap_exit_fail_msg TEXT...: bail out of the whole test program
ktap_exit_fail_msg() {
	echo "Bail out! $*"
	ktap_print_totals
	exit "$KSFT_FAIL"
}

ktap_finished() {
	ktap_print_totals
	__ktap_done=$((KTAP_CNT_PASS + KTAP_CNT_FAIL + KTAP_CNT_SKIP))
	if [ "$KTAP_CNT_FAIL" -gt 0 ]; then
		exit "$KSFT_FAIL"
	fi
	if [ -n "$KSFT_NUM_TESTS" ] && [ "$__ktap_done" -ne "$KSFT_NUM_TESTS" ]; then
		echo "# planned $KSFT_NUM_TESTS tests, ran $__ktap_done"
		exit "$KSFT_FAIL"
	fi
	if [ "$KTAP_CNT_PASS" -eq 0 ] && [ "$KTAP_CNT_SKIP" -gt 0 ]; then
		exit "$KSFT_SKIP"
	fi
	exit "$KSFT_PASS"
}
