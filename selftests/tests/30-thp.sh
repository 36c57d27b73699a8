#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Transparent huge pages: one fault per 2 MiB, 512 zeroed pages per huge
# page, and on kernels with init_on_alloc the allocator zeroes them first.

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
ktap_set_plan 5
as_load || ktap_exit_fail_msg "cannot load $ALLOCSTAT_KO"

as-workload -m thp -p $H > "$AS_TMP/thp" || ktap_exit_fail_msg "as-workload failed"
as_snap thp.snap
tid=$(as_wl thp 0 tid)
faults=$(as_col thp.snap "$tid" faults)
zero=$(as_col thp.snap "$tid" zero_pages)
huge=$(as_col thp.snap "$tid" zero_huge)
zalloc=$(as_col thp.snap "$tid" zero_alloc_pages)
ktap_print_msg "$H huge pages: tid=$tid faults=$faults zero_pages=$zero zero_huge=$huge zero_alloc_pages=$zalloc"
ktap_print_msg "THP enabled: $(cat $THP/enabled); defrag: $(cat $THP/defrag)"

as_check "zero_huge >= H" "$huge" -ge $H
as_check "zero_pages >= 512H" "$zero" -ge $((512 * H))
as_check "faults <= H + 16" "$faults" -le $((H + 16))

# Debian boots with init_on_alloc: the allocator zeroes the 2 MiB, then the
# huge-page clear zeroes it again.  The boot log says which applies.
if dmesg | grep -q 'heap alloc:on'; then
	as_check "init_on_alloc: zeroed twice (zero_alloc_pages >= 512H, zero_pages >= 1024H)" \
		"$zalloc" -ge $((512 * H)) -a "$zero" -ge $((1024 * H))
else
	as_check "no init_on_alloc: zero_alloc_pages < 512H" "$zalloc" -lt $((512 * H))
fi

ktap_test_result "dmesg has no new BUG/WARNING/Oops" as_dmesg_clean
ktap_finished
