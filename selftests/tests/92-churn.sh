#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Churn: 4 readers loop on /proc/allocstat while threads are created and
# exit 10,000 times (AS_CHURN_THREADS; the debug kernel runs fewer).  Every row of every complete read is well-formed (as
# as-reader checks: right column count, numbers where numbers belong,
# tasks= matches), and every thread ends with a row of its own.

. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/module.sh"

THREADS=${AS_CHURN_THREADS:-10000}
READERS=4

ktap_print_header
as_setup
ktap_set_plan 5
as_load max_tasks=16384 || ktap_exit_fail_msg "cannot load $ALLOCSTAT_KO"

pids=
r=1
while [ $r -le $READERS ]; do
	as_bg as-reader -s "$AS_TMP/stop" > "$AS_TMP/reader.$r"
	pids="$pids $!"
	r=$((r + 1))
done
t0=$(date +%s)
as-churn -n $THREADS -c 4 -v > "$AS_TMP/churn"
rc=$?
t1=$(date +%s)
touch "$AS_TMP/stop"
sed 's/^\([^#]\)/# \1/' "$AS_TMP/churn"
ktap_print_msg "churn took $((t1 - t0)) s"
as_check "$THREADS threads created and joined; each has its own exited row with a fault" \
	"$rc" -eq 0 -a -n "$(grep "^threads=$THREADS " "$AS_TMP/churn")"

bad=0
reads=0
maxrows=0
for p in $pids; do
	wait "$p" || bad=$((bad + 1))
done
r=1
while [ $r -le $READERS ]; do
	line=$(tail -n 1 "$AS_TMP/reader.$r")
	grep -a '^# bad' "$AS_TMP/reader.$r" | head -n 3 | cut -c1-400 | sed 's/^/# reader '$r': /'
	ktap_print_msg "reader $r: $line"
	ok=$(echo "$line" | sed -n 's/.* ok=\([0-9]*\) .*/\1/p')
	mr=$(echo "$line" | sed -n 's/.* rows_max=\([0-9]*\) .*/\1/p')
	[ "${ok:-0}" -gt 0 ] || bad=$((bad + 1))
	reads=$((reads + ${ok:-0}))
	[ "${mr:-0}" -gt $maxrows ] && maxrows=$mr
	r=$((r + 1))
done
as_check "$READERS readers, $reads complete reads: every row well-formed" "$bad" -eq 0
ktap_print_msg "largest table a reader saw: $maxrows rows"
as_check "the readers read while the table grew (a read saw > 1000 rows)" "$maxrows" -gt 1000

as_snap end
ktap_print_msg "$(head -n 1 "$AS_TMP/end")"
as_check "no row was dropped (tasks >= $THREADS, dropped=0)" \
	"$(as_hdr end tasks)" -ge $THREADS -a "$(as_hdr end dropped)" -eq 0
ktap_test_result "dmesg has no new BUG/WARNING/Oops/lockdep/KASAN line" as_dmesg_clean
ktap_finished
