# SPDX-License-Identifier: GPL-2.0
#
# module.sh - helpers for allocstat's module selftests, in the manner of
# tools/testing/selftests/livepatch/functions.sh.  POSIX sh (busybox ash).
#
#	. "$(dirname "$0")/../lib/module.sh"
#	as_setup		# trap cleanup EXIT, remember where dmesg was
#	as_load max_tasks=16	# insmod $ALLOCSTAT_KO, wait for /sys/module
#	as_snap before		# copy /proc/allocstat to $AS_TMP/before
#	as_col before 123 faults
#
# ALLOCSTAT_KO names the module (vm-run exports it in the guest; on a real
# machine run_tests points it at the built module).

AS_SELFTESTS=$(cd "$(dirname "$0")/.." && pwd)
AS_PROC=/proc/allocstat
AS_MOD=allocstat
PATH=$AS_SELFTESTS/bin:$PATH
: "${ALLOCSTAT_KO:=$AS_SELFTESTS/../allocstat.ko}"
AS_TMP=
AS_BG_PIDS=
AS_DMESG_MARK=0

as_loaded() {
	[ -d /sys/module/$AS_MOD ]
}

# as_load [PARAM=VALUE]...: insmod and wait for the module to be live
as_load() {
	insmod "$ALLOCSTAT_KO" "$@" || return 1
	__as_n=0
	while [ $__as_n -lt 50 ]; do
		[ "$(cat /sys/module/$AS_MOD/initstate 2>/dev/null)" = live ] && return 0
		sleep 0.1
		__as_n=$((__as_n + 1))
	done
	echo "# $AS_MOD did not become live" >&2
	return 1
}

# as_unload: rmmod and wait until the module is gone
as_unload() {
	as_loaded || return 0
	rmmod $AS_MOD || return 1
	__as_n=0
	while as_loaded; do
		[ $__as_n -ge 50 ] && return 1
		sleep 0.1
		__as_n=$((__as_n + 1))
	done
}

# as_bg COMMAND...: start COMMAND in the background, killed by cleanup
as_bg() {
	"$@" &
	AS_BG_PIDS="$AS_BG_PIDS $!"
}

as_kill_bg() {
	for __as_p in $AS_BG_PIDS; do
		kill "$__as_p" 2>/dev/null
	done
	for __as_p in $AS_BG_PIDS; do
		wait "$__as_p" 2>/dev/null
	done
	AS_BG_PIDS=
}

as_cleanup() {
	as_kill_bg
	as_unload
	[ -n "$AS_TMP" ] && rm -rf "$AS_TMP"
}

as_setup() {
	AS_TMP=$(mktemp -d /tmp/allocstat.XXXXXX)
	trap as_cleanup EXIT
	trap 'exit 130' INT TERM
	as_dmesg_mark
	if [ ! -r "$ALLOCSTAT_KO" ]; then
		ktap_skip_all "no module at ALLOCSTAT_KO=$ALLOCSTAT_KO"
		exit "$KSFT_SKIP"
	fi
	as_unload
}

as_dmesg_mark() {
	AS_DMESG_MARK=$(dmesg | wc -l)
}

# as_dmesg_clean: true when dmesg gained no BUG/WARNING/Oops/KASAN line since
# the mark; prints the offending lines as diagnostics otherwise
# as_calls_start FUNCTION...: count the calls of the first FUNCTION that
# tracefs can probe (a kprobe event), independently of allocstat, until
# as_calls_stop.  Prints that function's name; returns 1 when none can be
# probed.
as_calls_start() {
	__t=/sys/kernel/tracing
	for __f in "$@"; do
		grep -qx "$__f" $__t/available_filter_functions 2>/dev/null || continue
		echo "p:as_calls $__f" >> $__t/kprobe_events 2>/dev/null || continue
		echo > $__t/trace
		echo 1 > $__t/events/kprobes/as_calls/enable
		echo "$__f"
		return 0
	done
	return 1
}

# as_calls_stop [TID]: stop counting and print the calls (by TID only, if given)
as_calls_stop() {
	__t=/sys/kernel/tracing
	echo 0 > $__t/events/kprobes/as_calls/enable
	if [ -n "$1" ]; then
		grep -c -- "-$1 *\[" $__t/trace	# a trace line starts with COMM-TID
	else
		grep -vc '^#' $__t/trace
	fi
	echo "-:as_calls" >> $__t/kprobe_events
}

as_dmesg_clean() {
	bad=$(dmesg | tail -n +$((AS_DMESG_MARK + 1)) |
	      grep -E 'BUG:|WARNING:|Oops|KASAN|possible circular locking|inconsistent lock state|sleeping function called from invalid context|kmemleak')
	[ -z "$bad" ] && return 0
	echo "$bad" | sed 's/^/# dmesg: /'
	return 1
}

# as_snap NAME: save /proc/allocstat as $AS_TMP/NAME
as_snap() {
	cat $AS_PROC > "$AS_TMP/$1"
}

# as_col SNAP TID COLUMN: COLUMN of the newest row of TID in snapshot SNAP
as_col() {
	awk -v tid="$2" -v col="$3" '
		NR == 2 { for (i = 1; i <= NF; i++) if ($i == col) c = i }
		NR > 2 && $1 == tid { v = $c }
		END { if (!c || v == "") exit 1; print v }' "$AS_TMP/$1"
}

# as_hdr SNAP KEY: the value of KEY=value on the first line of SNAP
as_hdr() {
	sed -n "1s/.* $2=\([^ ]*\).*/\1/p" "$AS_TMP/$1"
}

# as_wl OUTPUT THREAD KEY: KEY=value of thread THREAD in as-workload output
as_wl() {
	awk -v t="thread=$2" -v k="$3" '
		$1 == t { for (i = 2; i <= NF; i++) if (index($i, k "=") == 1) print substr($i, length(k) + 2) }' \
		"$AS_TMP/$1"
}

# as_rows_wellformed SNAP: every row has as many fields as the header and
# numbers (or "-") in every counter column
as_rows_wellformed() {
	awk 'NR == 1 { if ($1 != "#" || $2 != "allocstat") bad = "first line" ; next }
	     NR == 2 { n = NF; next }
	     NF != n { bad = "row " NR " has " NF " fields, header " n; exit }
	     $1 !~ /^[0-9]+$/ || $2 !~ /^[0-9]+$/ { bad = "row " NR " ids"; exit }
	     $4 != "alive" && $4 != "exited" { bad = "row " NR " state"; exit }
	     { for (i = 5; i <= NF; i++) if ($i !~ /^([0-9]+|-)$/) { bad = "row " NR " col " i; exit } }
	     END { if (n == 0) bad = "no header"; if (bad != "") { print "# malformed: " bad; exit 1 } }' "$AS_TMP/$1"
}

# as_read_validated: one read of /proc/allocstat checked by as-reader (stricter
# than as_rows_wellformed); its verdict as diagnostics, its status returned
as_read_validated() {
	as-reader -n 1 > "$AS_TMP/rd"
	__as_rc=$?
	sed 's/^#* */# /' "$AS_TMP/rd"
	return $__as_rc
}

# as_check DESC EXPR...: pass when the shell test EXPR holds; the caller
# prints the numbers it compared
as_check() {
	__d=$1
	shift
	if [ "$@" ]; then
		ktap_test_pass "$__d"
	else
		ktap_test_fail "$__d"
	fi
}
