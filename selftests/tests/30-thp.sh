#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Transparent huge pages: one fault per 2 MiB, 512 zeroed pages per huge
# page, and on kernels with init_on_alloc the allocator zeroes them first.
# Whether the fault path then clears each huge page a second time depends
# on the kernel (up to 6.x it does; 7.x skips it when the allocator has
# zeroed, user_alloc_needs_zeroing()): a tracefs kprobe on the huge-page
# clear function counts those calls independently of allocstat, and the
# expected zero_pages follows from that count.

. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/module.sh"

H=16
THP=/sys/kernel/mm/transparent_hugepage

ktap_print_header
if ! grep -qE '\[(always|madvise)\]' $THP/enabled 2>/dev/null; then
	ktap_skip_all "transparent huge pages are off or absent ($(cat $THP/enabled 2>/dev/null || echo "no $THP/enabled: a kernel without CONFIG_TRANSPARENT_HUGEPAGE, as PREEMPT_RT"))"
	exit "$KSFT_SKIP"
fi
as_setup
ktap_set_plan 6
as_load || ktap_exit_fail_msg "cannot load $ALLOCSTAT_KO"

# the huge-page clear, counted by tracefs (ground truth beside allocstat's)
clearfn=$(as_calls_start folio_zero_user clear_huge_page)

as-workload -m thp -p $H > "$AS_TMP/thp" || ktap_exit_fail_msg "as-workload failed"
as_snap thp.snap
tid=$(as_wl thp 0 tid)
faults=$(as_col thp.snap "$tid" faults)
zero=$(as_col thp.snap "$tid" zero_pages)
huge=$(as_col thp.snap "$tid" zero_huge)
zalloc=$(as_col thp.snap "$tid" zero_alloc_pages)
ktap_print_msg "$H huge pages: tid=$tid faults=$faults zero_pages=$zero zero_huge=$huge zero_alloc_pages=$zalloc"
ktap_print_msg "THP enabled: $(cat $THP/enabled); defrag: $(cat $THP/defrag)"
C=
if [ -n "$clearfn" ]; then
	C=$(as_calls_stop "$tid")
	ktap_print_msg "tracefs: $C calls of $clearfn by tid $tid"
fi

as_check "zero_huge >= H" "$huge" -ge $H
as_check "zero_pages >= 512H" "$zero" -ge $((512 * H))
as_check "faults <= H + 16" "$faults" -le $((H + 16))

# Debian boots with init_on_alloc: the allocator zeroes the 2 MiB first.
# The boot log says which applies.
A=0
if dmesg | grep -q 'heap alloc:on'; then
	A=$H
	as_check "init_on_alloc: the allocator zeroed every huge page (zero_alloc_pages >= 512H)" \
		"$zalloc" -ge $((512 * H))
else
	as_check "no init_on_alloc: zero_alloc_pages < 512H" "$zalloc" -lt $((512 * H))
fi
# every page zeroed counted once: 512 per huge page the allocator zeroed,
# 512 per huge-page clear tracefs saw, up to 256 page tables and others
if [ -z "$C" ]; then
	ktap_test_skip "zero_pages matches the huge-page clears: no tracefs kprobe on folio_zero_user or clear_huge_page"
else
	as_check "zero_pages in [512(A + C), 512(A + C) + 256], A = $A zeroed by the allocator (init_on_alloc), C = $C cleared by $clearfn" \
		"$zero" -ge $((512 * (A + C))) -a "$zero" -le $((512 * (A + C) + 256))
fi

ktap_test_result "dmesg has no new BUG/WARNING/Oops" as_dmesg_clean
ktap_finished
