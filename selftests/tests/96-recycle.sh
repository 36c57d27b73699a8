#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Recycling: with the default table of 8192 rows, 20,000 short-lived
# processes pass through it, each faulting a page and so needing a row.
# (AS_RECYCLE_MAX_TASKS and AS_RECYCLE_CHILDREN shrink both for the debug
# kernel, where a fork costs ~25 ms under TCG.)  The
# rows of exited tasks are reused: nothing is dropped, recycled= counts at
# least the tasks beyond the table's size, and a workload run afterwards is
# measured as exactly as on a fresh table (20-faults.sh's bounds).

. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/module.sh"

MAX_TASKS=${AS_RECYCLE_MAX_TASKS:-}
CHILDREN=${AS_RECYCLE_CHILDREN:-20000}
P=4096

ktap_print_header
as_setup
ktap_set_plan 11
as_load ${MAX_TASKS:+max_tasks=$MAX_TASKS} || ktap_exit_fail_msg "cannot load $ALLOCSTAT_KO"
max=$(cat /sys/module/$AS_MOD/parameters/max_tasks)

as_snap before
r0=$(as_hdr before tasks)
ktap_print_msg "before: $(head -n 1 "$AS_TMP/before"); max_tasks=$max"

t0=$(date +%s)
as-spawn -n $CHILDREN -c 2 > "$AS_TMP/spawn"
rc=$?
t1=$(date +%s)
sed 's/^\([^#]\)/# \1/' "$AS_TMP/spawn"
ktap_print_msg "spawning took $((t1 - t0)) s"
faulted=$(sed -n 's/.* faulted=\([0-9]*\) .*/\1/p' "$AS_TMP/spawn")
as_check "$CHILDREN children forked; each faulted (getrusage) and exited 0" \
	"$rc" -eq 0 -a "${faulted:-0}" -eq $CHILDREN

as-workload -m write -t 2 -p $P > "$AS_TMP/wl" || ktap_exit_fail_msg "as-workload failed"
as_snap after
ktap_print_msg "after: $(head -n 1 "$AS_TMP/after")"

# per thread: a row, faults in [P, 1.05P+16] and within 5% of getrusage's
# minor faults, zero_pages >= P, zero_alloc_pages >= 0.95P
rows=0
f_ok=1
z_ok=1
za_ok=1
ru_ok=1
for i in 0 1; do
	tid=$(as_wl wl $i tid)
	minflt=$(as_wl wl $i minflt)
	faults=$(as_col after "$tid" faults) && rows=$((rows + 1)) || faults=-1
	zero=$(as_col after "$tid" zero_pages) || zero=-1
	zalloc=$(as_col after "$tid" zero_alloc_pages) || zalloc=-1
	ktap_print_msg "thread $i: tid=$tid faults=$faults zero_pages=$zero zero_alloc_pages=$zalloc rusage_minflt=$minflt (-1: no row)"
	[ "$faults" -ge $P ] && [ $((faults * 100)) -le $((P * 105 + 1600)) ] || f_ok=0
	[ "$zero" -ge $P ] || z_ok=0
	[ $((zalloc * 100)) -ge $((P * 95)) ] || za_ok=0
	diff=$((faults - minflt))
	[ $diff -lt 0 ] && diff=$((-diff))
	[ $((diff * 100)) -le $((minflt * 5)) ] || ru_ok=0
done
as_check "both workload threads have a row" $rows -eq 2
as_check "each: faults in [P, 1.05P+16] (P=$P)" $f_ok -eq 1
as_check "each: faults within 5% of getrusage(RUSAGE_THREAD) minor faults" $ru_ok -eq 1
as_check "each: zero_pages >= P" $z_ok -eq 1
as_check "each: zero_alloc_pages >= 0.95P" $za_ok -eq 1

d0=$(as_hdr before dropped)
d1=$(as_hdr after dropped)
ktap_print_msg "dropped: $d0 before, $d1 after"
as_check "nothing was dropped (dropped=0 before and after)" "${d0:--1}:${d1:--1}" = "0:0"

# Distinct tasks that had a row: the $r0 rows before, every child that
# faulted, the two workload threads.  One row holds one task at a time, so
# at most max_tasks of them had a never-used row; the rest reused one.
rec=$(as_hdr after recycled)
need=$((r0 + ${faulted:-0} + rows - max))
ktap_print_msg "recycled=${rec:-absent}; lower bound $r0 + ${faulted:-0} + $rows - $max = $need"
as_check "recycled > 0 and >= rows before + children + workload threads - max_tasks" \
	"${rec:--1}" -gt 0 -a "${rec:--1}" -ge $need

n=$(awk 'NR > 2' "$AS_TMP/after" | wc -l)
ktap_print_msg "tasks=$(as_hdr after tasks), rows printed: $n"
as_check "tasks= equals the rows printed" "$(as_hdr after tasks)" -eq "$n"
ktap_test_result "a validated read: rows well-formed, header as documented" as_read_validated
ktap_test_result "dmesg has no new BUG/WARNING/Oops/lockdep/KASAN line" as_dmesg_clean
ktap_finished
