#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# A full table: with max_tasks=16 and 64 threads, rows stop at 16, the rest
# are counted as dropped, and nothing breaks.

. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/module.sh"

ktap_print_header
as_setup
ktap_set_plan 5
ktap_test_result "loads with max_tasks=16" as_load max_tasks=16

as-workload -m write -t 64 -p 64 > "$AS_TMP/wl"
ktap_test_result "a 64-thread workload runs to the end" test $? -eq 0
as_snap full
rows=$(awk 'NR > 2' "$AS_TMP/full" | wc -l)
ktap_print_msg "$(head -1 "$AS_TMP/full"); rows printed: $rows"
as_check "dropped > 0, tasks = rows printed = 16" \
	"$(as_hdr full dropped)" -gt 0 -a "$(as_hdr full tasks)" -eq 16 -a "$rows" -eq 16
ktap_test_result "rows are well-formed" as_rows_wellformed full
as_unload
ktap_test_result "unloads; dmesg has no new BUG/WARNING/Oops" as_dmesg_clean
ktap_finished
