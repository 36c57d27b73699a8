#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# A full table of live tasks: with max_tasks=16, one process tracked alone
# on an emptied table (as-workload -T -R) runs 64 threads that are all alive
# at the same time (-B -H).  Its 65 tasks (64 threads and the main thread)
# fault while all of them live: 16 get rows, the other 49 are refused and
# counted in dropped, and no row is reused, since no row's task has exited.
# After that process exited, a second one (-T, no reset) gets rows by
# reusing the exited ones: recycled counts exactly its rows, the reused rows
# move to the end, and nothing more is dropped.

. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/module.sh"

MAX=16
THREADS=64
THREADS2=8

ktap_print_header
as_setup
ktap_set_plan 10
ktap_test_result "loads with max_tasks=$MAX" as_load max_tasks=$MAX

# 1. 64 threads alive at once
# it holds its threads until stdin, a FIFO we keep open on fd 3, ends
mkfifo "$AS_TMP/hold"
as-workload -m write -t $THREADS -p 64 -B -H -T -R < "$AS_TMP/hold" > "$AS_TMP/wl" &
wlpid=$!
AS_BG_PIDS="$AS_BG_PIDS $wlpid"
exec 3> "$AS_TMP/hold"
n=0
while ! grep -q '^ready' "$AS_TMP/wl" && kill -0 "$wlpid" 2>/dev/null && [ $n -lt 1200 ]; do
	sleep 0.1
	n=$((n + 1))
done
parked=$(grep -c '^thread=' "$AS_TMP/wl")
ktap_print_msg "after $((n / 10)).$((n % 10)) s: $parked threads parked alive; $(grep '^ready' "$AS_TMP/wl")"
as_check "a $THREADS-thread workload holds all its threads alive" \
	"$parked" -eq $THREADS -a -n "$(grep '^ready' "$AS_TMP/wl")"
as_snap full
pid=$(sed -n 's/^pid=\([0-9]*\) .*/\1/p' "$AS_TMP/wl")
rows=$(awk 'NR > 2' "$AS_TMP/full" | wc -l)
ours=$(awk -v p="$pid" 'NR > 2 && $2 == p && $4 == "alive"' "$AS_TMP/full" | wc -l)
ktap_print_msg "$(head -1 "$AS_TMP/full")"
ktap_print_msg "rows printed: $rows, of which alive and of pid $pid: $ours"
as_check "tasks = rows printed = $MAX, every row an alive task of the workload" \
	"$(as_hdr full tasks)" -eq $MAX -a "$rows" -eq $MAX -a "$ours" -eq $MAX
dropped=$(as_hdr full dropped)
want=$((THREADS + 1 - MAX))
ktap_print_msg "dropped=$dropped; tasks refused: $THREADS threads + main thread - $MAX rows = $want"
as_check "dropped = $want, one per refused task" "${dropped:--1}" -eq $want
rec=$(as_hdr full recycled)
ktap_print_msg "recycled=${rec:-absent} while every row's task lives"
as_check "recycled = 0 while the tasks of all rows live" "${rec:--1}" -eq 0
ktap_test_result "rows are well-formed" as_rows_wellformed full

exec 3>&-
wait "$wlpid"
rc=$?
AS_BG_PIDS=
as_snap between
ktap_print_msg "released: workload exit status $rc; $(head -1 "$AS_TMP/between")"
as_check "the workload exits 0 once released" "$rc" -eq 0

# 2. a second process after the first exited: reuses its rows
as-workload -m write -t $THREADS2 -p 64 -T > "$AS_TMP/wl2" || ktap_exit_fail_msg "as-workload failed"
as_snap second
pid2=$(sed -n 's/^pid=\([0-9]*\) .*/\1/p' "$AS_TMP/wl2")
ktap_print_msg "$(head -1 "$AS_TMP/second")"
with=0
i=0
while [ $i -lt $THREADS2 ]; do
	as_col second "$(as_wl wl2 $i tid)" faults > /dev/null && with=$((with + 1))
	i=$((i + 1))
done
rows2=$(awk -v p="$pid2" 'NR > 2 && $2 == p' "$AS_TMP/second" | wc -l)
tail2=$(awk 'NR > 2' "$AS_TMP/second" | tail -n "$rows2" | awk -v p="$pid2" '$2 == p' | wc -l)
ktap_print_msg "second workload (pid $pid2): $with of $THREADS2 threads have a row; rows of pid $pid2: $rows2, of them among the last $rows2 rows printed: $tail2"
as_check "every thread of the second workload has a row; they are the last rows printed" \
	$with -eq $THREADS2 -a "$rows2" -ge $THREADS2 -a "$tail2" -eq "$rows2"
r1=$(as_hdr between recycled)
r2=$(as_hdr second recycled)
d1=$(as_hdr between dropped)
d2=$(as_hdr second dropped)
ktap_print_msg "recycled ${r1:-absent} -> ${r2:-absent}, dropped ${d1:-absent} -> ${d2:-absent}; rows printed: $(awk 'NR > 2' "$AS_TMP/second" | wc -l)"
as_check "recycled grew by the second workload's rows ($rows2), dropped did not grow" \
	$((${r2:--1} - ${r1:-0})) -eq "$rows2" -a "$rows2" -gt 0 -a "${d2:--1}" -eq "${d1:--2}"
as_unload
ktap_test_result "unloads; dmesg has no new BUG/WARNING/Oops" as_dmesg_clean
ktap_finished
