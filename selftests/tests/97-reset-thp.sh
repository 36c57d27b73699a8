#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Reset under huge-page load: 1,000 resets while two threads fault 2 MiB
# huge pages in a loop and a control thread takes only 4 KiB read faults
# (which zero no page of their own, never a huge one).  A reset must not let
# an in-flight return probe write into a row that it cleared or gave to
# another task: in the reads after every 20th reset (20 ms after it, so
# that every thread has faulted again) the control thread's row never shows
# zero_huge > 0, every alive row names its task's real tgid, and tasks=
# matches the rows.  Afterwards the zeroing of fresh processes is
# still timed: a huge-page fault and 4 KiB write faults give zero_ns > 0.

. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/module.sh"

RESETS=1000
EVERY=20
P=1024
THP=/sys/kernel/mm/transparent_hugepage

ktap_print_header
if ! grep -qE '\[(always|madvise)\]' $THP/enabled 2>/dev/null; then
	ktap_skip_all "transparent huge pages are off or absent ($(cat $THP/enabled 2>/dev/null || echo "no $THP/enabled"))"
	exit "$KSFT_SKIP"
fi
as_setup
ktap_set_plan 9
as_load || ktap_exit_fail_msg "cannot load $ALLOCSTAT_KO"
ktap_print_msg "THP enabled: $(cat $THP/enabled); defrag: $(cat $THP/defrag)"

t0=$(date +%s)
as-resetstorm -n $RESETS -e $EVERY -u 1000 -r 20000 -t 2 -p 4 > "$AS_TMP/storm"
rc=$?
t1=$(date +%s)
sed 's/^\([^#]\)/# \1/' "$AS_TMP/storm"
ktap_print_msg "the storm took $((t1 - t0)) s, exit status $rc"
# v KEY: KEY=value of the helper's summary line
v() {
	awk -v k="$1" '/^resets=/ { for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) print substr($i, length(k) + 2) }' \
		"$AS_TMP/storm"
}
as_check "$RESETS resets written, $((RESETS / EVERY)) reads made, none failed" \
	"$(v resets)" = $RESETS -a "$(v write_errors)" = 0 -a "$(v reads)" = $((RESETS / EVERY)) \
	-a "$(v read_errors)" = 0
as_check "huge pages were cleared and counted meanwhile (a huge-page thread's row had zero_huge > 0)" \
	"$(v huge_zero_huge_max)" -gt 0
as_check "the control thread's row never showed zero_huge > 0 (seen in $(v control_rows) reads)" \
	"$(v control_rows)" -gt 0 -a "$(v control_zero_huge_max)" = 0
as_check "every alive row named its task's tgid ($(v alive_checked) rows checked)" \
	"$(v alive_checked)" -gt 0 -a "$(v tgid_mismatch)" = 0
as_check "tasks= matched the rows printed in every read" "$(v tasks_mismatch)" = 0

# zeroing of fresh processes is timed as before the storm
as-workload -m thp -p 1 > "$AS_TMP/thp" || ktap_exit_fail_msg "as-workload failed"
as_snap thp.snap
tid=$(as_wl thp 0 tid)
huge=$(as_col thp.snap "$tid" zero_huge) || huge=-1
zns=$(as_col thp.snap "$tid" zero_ns) || zns=-1
ktap_print_msg "one huge page: tid=$tid zero_huge=$huge zero_ns=$zns (-1: no row)"
as_check "a fresh huge-page fault: zero_huge >= 1, zero_ns > 0" "$huge" -ge 1 -a "$zns" -gt 0

as-workload -m write -p $P > "$AS_TMP/write" || ktap_exit_fail_msg "as-workload failed"
as_snap write.snap
tid=$(as_wl write 0 tid)
zero=$(as_col write.snap "$tid" zero_pages) || zero=-1
zns=$(as_col write.snap "$tid" zero_ns) || zns=-1
ktap_print_msg "$P pages written: tid=$tid zero_pages=$zero zero_ns=$zns (-1: no row)"
as_check "a fresh 4 KiB write workload: zero_pages >= P, zero_ns > 0" "$zero" -ge $P -a "$zns" -gt 0

ktap_test_result "a validated read: rows well-formed, header as documented" as_read_validated
ktap_test_result "dmesg has no new BUG/WARNING/Oops/lockdep/KASAN line" as_dmesg_clean
ktap_finished
