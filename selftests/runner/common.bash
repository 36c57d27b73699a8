# SPDX-License-Identifier: GPL-2.0
#
# common.bash - shared by the host-side tests of selftests/vm-run
# (selftests/runner/*.sh).  Each test is a KTAP program run on the host:
#
#	. "$(dirname "$0")/common.bash"
#	ktap_set_plan 1
#	vmrun -- sh -c 'exit 3'		# sets RC, SECS, $OUT, $ERR
#	expect "exit status comes back" "$RC" -eq 3
#	ktap_finished
#
# ALLOCSTAT_KERNEL picks the kernel series booted (default 6.1);
# ALLOCSTAT_KERNELS lists the series a test may boot in turn (default all).

RUNNER=$(cd "$(dirname "$0")" && pwd)
SELFTESTS=$(cd "$RUNNER/.." && pwd)
VMRUN=${VMRUN:-$SELFTESTS/vm-run}	# overridable, to check that the tests can fail

. "$SELFTESTS/lib/ktap.sh"

KERNEL=${ALLOCSTAT_KERNEL:-6.1}
KERNELS=${ALLOCSTAT_KERNELS:-$("$SELFTESTS/lib/kernel-cache" --list | tr '\n' ' ')}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vm-run-test.XXXXXX")
OUT=$TMP/stdout
ERR=$TMP/stderr
trap 'rm -rf "$TMP"' EXIT

ktap_print_header

# vmrun ARG...: run vm-run on $KERNEL (unless ARG has --kernel); stdout in
# $OUT, stderr in $ERR, exit status in RC, wall seconds in SECS
vmrun() {
	local start=$SECONDS
	RC=0
	"$VMRUN" --kernel "$KERNEL" "$@" >"$OUT" 2>"$ERR" </dev/null || RC=$?
	SECS=$((SECONDS - start))
	local args="$*"
	ktap_print_msg "vm-run ${args//[$'\n\t']/ }: exit $RC after ${SECS}s"
}

# expect DESCRIPTION TEST-ARG...: one test point from test(1)
expect() {
	local desc=$1
	shift
	if [ "$@" ]; then
		ktap_test_pass "$desc"
	else
		ktap_test_fail "$desc"
	fi
}

# grep_err PATTERN: the last vm-run's stderr matches the extended PATTERN
grep_err() { grep -qE -- "$1" "$ERR"; }

# show FILE: print a file as diagnostics (on a failure)
show() {
	local f=$1
	sed "s/^/# ${f##*/}: /" "$f" | tail -n 50
}
