#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# 4 KiB faults and zeroing, per thread, against ground truth: the pages each
# thread touched (written, read, or populated by MAP_POPULATE) and its own
# getrusage(RUSAGE_THREAD) fault count.

. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/module.sh"

P=8192

ktap_print_header
as_setup
ktap_set_plan 12
as_load || ktap_exit_fail_msg "cannot load $ALLOCSTAT_KO"

# 1. writes: one fault and one zeroed page per page
as-workload -m write -p $P > "$AS_TMP/write" || ktap_exit_fail_msg "as-workload failed"
as_snap write.snap
tid=$(as_wl write 0 tid)
faults=$(as_col write.snap "$tid" faults)
zero=$(as_col write.snap "$tid" zero_pages)
zalloc=$(as_col write.snap "$tid" zero_alloc_pages)
minflt=$(as_wl write 0 minflt)
ktap_print_msg "write $P pages: tid=$tid faults=$faults zero_pages=$zero zero_alloc_pages=$zalloc rusage_minflt=$minflt"
as_check "write: faults in [P, 1.05P+16]" "$faults" -ge $P -a $((faults * 100)) -le $((P * 105 + 1600))
# each written page zeroed once; page tables and the allocator's other
# zeroing (init_on_alloc) come on top, bounded by P + 256
as_check "write: zero_pages in [P, 2P + 256]" "$zero" -ge $P -a "$zero" -le $((2 * P + 256))
as_check "write: zero_alloc_pages >= 0.95P (zeroed by the page allocator)" $((zalloc * 100)) -ge $((P * 95))
diff=$((faults - minflt))
[ $diff -lt 0 ] && diff=$((-diff))
as_check "write: faults within 5% of getrusage(RUSAGE_THREAD) minor faults" $((diff * 100)) -le $((minflt * 5))

fns=$(as_col write.snap "$tid" fault_ns)
fmax=$(as_col write.snap "$tid" fault_max_ns)
zns=$(as_col write.snap "$tid" zero_ns)
ktap_print_msg "fault_ns=$fns fault_max_ns=$fmax zero_ns=$zns"
as_check "fault_ns > zero_ns > 0 and 0 < fault_max_ns <= fault_ns" \
	"$zns" -gt 0 -a "$fns" -gt "$zns" -a "$fmax" -gt 0 -a "$fmax" -le "$fns"

# 2. reads map the shared zero page: faults, but (almost) no zeroing
as-workload -m read -p $P > "$AS_TMP/read" || ktap_exit_fail_msg "as-workload failed"
as_snap read.snap
tid=$(as_wl read 0 tid)
faults=$(as_col read.snap "$tid" faults)
zero=$(as_col read.snap "$tid" zero_pages)
ktap_print_msg "read $P pages: tid=$tid faults=$faults zero_pages=$zero"
as_check "read: faults >= P" "$faults" -ge $P
as_check "read: zero_pages <= 0.1P" $((zero * 10)) -le $P

# 3. MAP_POPULATE faults the pages in, zeroed, before mmap() returns
as-workload -m populate -p $P > "$AS_TMP/pop" || ktap_exit_fail_msg "as-workload failed"
as_snap pop.snap
tid=$(as_wl pop 0 tid)
zero=$(as_col pop.snap "$tid" zero_pages)
ktap_print_msg "populate $P pages: tid=$tid faults=$(as_col pop.snap "$tid" faults) zero_pages=$zero"
as_check "MAP_POPULATE: zero_pages in [P, 2P + 256]" "$zero" -ge $P -a "$zero" -le $((2 * P + 256))

# 4. two threads, P and 3P pages: their own rows, in proportion, exited
as-workload -m write -p $P,$((3 * P)) > "$AS_TMP/two" || ktap_exit_fail_msg "as-workload failed"
as_snap two.snap
t1=$(as_wl two 0 tid)
t2=$(as_wl two 1 tid)
f1=$(as_col two.snap "$t1" faults)
f2=$(as_col two.snap "$t2" faults)
z1=$(as_col two.snap "$t1" zero_pages)
z2=$(as_col two.snap "$t2" zero_pages)
ktap_print_msg "thread $t1: faults=$f1 zero_pages=$z1; thread $t2: faults=$f2 zero_pages=$z2"
as_check "two threads: faults in ratio 3 +-10%" \
	$((f2 * 100)) -ge $((f1 * 270)) -a $((f2 * 100)) -le $((f1 * 330))
as_check "two threads: zero_pages in ratio 3 +-10%" \
	$((z2 * 100)) -ge $((z1 * 270)) -a $((z2 * 100)) -le $((z1 * 330))
s1=$(as_col two.snap "$t1" state)
s2=$(as_col two.snap "$t2" state)
ktap_print_msg "states after join: $s1 $s2"
as_check "both rows remain, exited, after join" "$s1 $s2" = "exited exited"

ktap_test_result "dmesg has no new BUG/WARNING/Oops" as_dmesg_clean
ktap_finished
