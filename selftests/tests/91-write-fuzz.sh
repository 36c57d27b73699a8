#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Write fuzzing: 10,000 writes to /proc/allocstat (random bytes of 0..8 KiB,
# partial and overlong lines, numbers past 64 bits, negative tgids, more
# than 64 track entries).  Each one must succeed exactly when it is a
# documented command and fail with EINVAL otherwise; a reference thread's
# row is the same before and after.

. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/module.sh"

WRITES=10000

ktap_print_header
as_setup
ktap_set_plan 6
as_load || ktap_exit_fail_msg "cannot load $ALLOCSTAT_KO"

as-workload -m write -p 1024 > "$AS_TMP/ref" || ktap_exit_fail_msg "as-workload failed"
ref=$(as_wl ref 0 tid)
as_snap before
row_before=$(awk -v t="$ref" '$1 == t' "$AS_TMP/before")

seed=$(date +%s)
t0=$(date +%s)
as-fuzz -n $WRITES -s "$seed" > "$AS_TMP/fuzz"
rc=$?
t1=$(date +%s)
sed 's/^\([^#]\)/# \1/' "$AS_TMP/fuzz"
ktap_print_msg "seed $seed, $((t1 - t0)) s"
writes=$(sed -n 's/^writes=\([0-9]*\) .*/\1/p' "$AS_TMP/fuzz")
as_check "$WRITES writes: each succeeds exactly when it is a command, else EINVAL" \
	"$rc" -eq 0 -a "${writes:-0}" -eq $WRITES
over=$(sed -n 's/.* over_64=\([0-9]*\) .*/\1/p' "$AS_TMP/fuzz")
as_check "track entries past the 64th were refused with EINVAL (over_64 > 0)" "${over:-0}" -gt 0

as_snap after
row_after=$(awk -v t="$ref" '$1 == t' "$AS_TMP/after")
ktap_print_msg "reference row before: $row_before"
ktap_print_msg "reference row after:  $row_after"
as_check "the reference thread's row is unchanged" -n "$row_before" -a "$row_before" = "$row_after"

# as-fuzz ended with "track all": every new process is tracked again
as-workload -m write -p 256 > "$AS_TMP/new"
t=$(as_wl new 0 tid)
as_snap new
f=$(as_col new "$t" faults)
ktap_print_msg "new workload thread $t after the fuzzing: faults=${f:-no row}"
as_check "the filter state is sane afterwards: a new thread is tracked" "${f:-0}" -ge 256

as_read_validated
ktap_test_result "rows are well-formed after the fuzzing" test $? -eq 0
ktap_test_result "dmesg has no new BUG/WARNING/Oops/lockdep/KASAN line" as_dmesg_clean
ktap_finished
