#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# int3 kprobes: with the kprobe optimizer off (debug.kprobes-optimization=0
# before the load) the probes on clear_page_* stay int3 breakpoints, whose
# handlers run in an NMI-like context rather than in task context.  Zeroing
# is counted there all the same: 20-faults.sh's bounds for 4 KiB write
# faults and 30-thp.sh's for huge pages hold with the optimizer off.

. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/module.sh"

P=8192
H=16
OPT=/proc/sys/debug/kprobes-optimization
LIST=/sys/kernel/debug/kprobes/list
THP=/sys/kernel/mm/transparent_hugepage

ktap_print_header
if [ ! -w $OPT ]; then
	ktap_skip_all "no writable $OPT (kernel without CONFIG_OPTPROBES?)"
	exit "$KSFT_SKIP"
fi
if ! grep -qE ' clear_page_(erms|rep|orig)$' /proc/kallsyms; then
	ktap_skip_all "no clear_page_* in this kernel (7.x: clear_page() is inline, and the zeroing hooks have an fentry: never int3)"
	exit "$KSFT_SKIP"
fi
as_setup
old_opt=$(cat $OPT)
cleanup() {
	as_cleanup
	echo "$old_opt" > $OPT
}
trap cleanup EXIT
ktap_set_plan 9

echo 0 > $OPT
ktap_print_msg "kprobes-optimization: $old_opt -> $(cat $OPT)"
as_load || ktap_exit_fail_msg "cannot load $ALLOCSTAT_KO"

# 1. the clear_page probes are int3: listed, none [OPTIMIZED]
if [ ! -r $LIST ]; then
	mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
fi
grep clear_page $LIST > "$AS_TMP/probes" 2>/dev/null
sed 's/^/# kprobes\/list: /' "$AS_TMP/probes"
as_check "clear_page_* are probed and not [OPTIMIZED]" \
	-s "$AS_TMP/probes" -a -z "$(grep OPTIMIZED "$AS_TMP/probes")"

# 2. 4 KiB write faults
as-workload -m write -p $P > "$AS_TMP/write" || ktap_exit_fail_msg "as-workload failed"
as_snap write.snap
tid=$(as_wl write 0 tid)
faults=$(as_col write.snap "$tid" faults) || faults=-1
zero=$(as_col write.snap "$tid" zero_pages) || zero=-1
zalloc=$(as_col write.snap "$tid" zero_alloc_pages) || zalloc=-1
zns=$(as_col write.snap "$tid" zero_ns) || zns=-1
ktap_print_msg "write $P pages: tid=$tid faults=$faults zero_pages=$zero zero_alloc_pages=$zalloc zero_ns=$zns (-1: no row)"
as_check "write: faults in [P, 1.05P+16]" "$faults" -ge $P -a $((faults * 100)) -le $((P * 105 + 1600))
as_check "write: zero_pages >= P, zero_ns > 0" "$zero" -ge $P -a "$zns" -gt 0
as_check "write: zero_alloc_pages >= 0.95P (zeroed by the page allocator)" $((zalloc * 100)) -ge $((P * 95))

# 3. huge pages, where THP is on
if grep -qE '\[(always|madvise)\]' $THP/enabled 2>/dev/null; then
	clearfn=$(as_calls_start folio_zero_user clear_huge_page)
	as-workload -m thp -p $H > "$AS_TMP/thp" || ktap_exit_fail_msg "as-workload failed"
	as_snap thp.snap
	tid=$(as_wl thp 0 tid)
	C=0
	[ -z "$clearfn" ] || C=$(as_calls_stop "$tid")
	ktap_print_msg "tracefs: $C calls of ${clearfn:-the huge-page clear (not probed)} by tid $tid"
	faults=$(as_col thp.snap "$tid" faults) || faults=-1
	zero=$(as_col thp.snap "$tid" zero_pages) || zero=-1
	huge=$(as_col thp.snap "$tid" zero_huge) || huge=-1
	zalloc=$(as_col thp.snap "$tid" zero_alloc_pages) || zalloc=-1
	ktap_print_msg "$H huge pages: tid=$tid faults=$faults zero_pages=$zero zero_huge=$huge zero_alloc_pages=$zalloc (-1: no row)"
	as_check "thp: zero_huge >= H, faults <= H + 16" "$huge" -ge $H -a "$faults" -le $((H + 16))
	as_check "thp: zero_pages >= 512H" "$zero" -ge $((512 * H))
	if dmesg | grep -q 'heap alloc:on'; then
		as_check "thp, init_on_alloc: zero_alloc_pages >= 512H, zero_pages >= 512(H + C), C = $C huge-page clears" \
			"$zalloc" -ge $((512 * H)) -a "$zero" -ge $((512 * (H + C)))
	else
		as_check "thp, no init_on_alloc: zero_alloc_pages < 512H" "$zalloc" -lt $((512 * H))
	fi
else
	why="transparent huge pages are off or absent"
	ktap_test_skip "thp: zero_huge >= H, faults <= H + 16" "$why"
	ktap_test_skip "thp: zero_pages >= 512H" "$why"
	ktap_test_skip "thp: init_on_alloc accounting" "$why"
fi

# 4. still int3 after the workloads (the optimizer did not run meanwhile)
n=$(grep clear_page $LIST | grep -c OPTIMIZED)
ktap_print_msg "clear_page probes [OPTIMIZED] at the end: $n"
as_check "the clear_page probes stayed int3 throughout" "$n" -eq 0
ktap_test_result "dmesg has no new BUG/WARNING/Oops/lockdep/KASAN line" as_dmesg_clean
ktap_finished
