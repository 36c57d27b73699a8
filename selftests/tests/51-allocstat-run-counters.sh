#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# allocstat-run with the module loaded: each thread's counters, read back
# from /proc/allocstat as deltas, against the pages it touched and its own
# getrusage(RUSAGE_THREAD) minor faults; THP against 4 KiB pages.

. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/module.sh"

SIZE_MB=64
PAGES=$((SIZE_MB * 1024 * 1024 / $(getconf PAGESIZE 2>/dev/null || echo 4096)))

# allocstat-run's text rows: thr tid alloc_ms touch_ms free_ms minflt faults
# fault_ms zero_pages zero_ms rd_wait_ms rd_hold_ms wr_wait_ms wr_hold_ms vma_faults
rows() {
	awk '$1 ~ /^[0-9]+$/ && NF == 15' "$AS_TMP/$1"
}

ktap_print_header
as_setup
ktap_set_plan 7
as_load || ktap_exit_fail_msg "cannot load $ALLOCSTAT_KO"

# 1-4. 2 threads x 64 MiB of 4 KiB pages
allocstat-run -t 2 -s ${SIZE_MB}M -m nothp -q --require-module > "$AS_TMP/nothp" 2> "$AS_TMP/err"
rc=$?
sed 's/^/# /' "$AS_TMP/nothp" "$AS_TMP/err"
as_check "2 x ${SIZE_MB} MiB nothp with the module: exit 0, 2 thread rows" \
	$rc -eq 0 -a "$(rows nothp | wc -l)" -eq 2
bad_f=0
bad_r=0
bad_z=0
rows nothp > "$AS_TMP/rows"
while read -r thr tid a t f minflt faults fms zero rest; do
	diff=$((faults - minflt))
	[ $diff -lt 0 ] && diff=$((-diff))
	ktap_print_msg "thread $thr (tid $tid): pages=$PAGES faults=$faults minflt=$minflt |diff|=$diff zero_pages=$zero"
	[ "$faults" -ge $PAGES ] || bad_f=$((bad_f + 1))
	[ $((diff * 100)) -le $((minflt * 5)) ] || bad_r=$((bad_r + 1))
	[ "$zero" -ge $PAGES ] || bad_z=$((bad_z + 1))
done < "$AS_TMP/rows"
as_check "each thread's faults >= its $PAGES pages" $bad_f -eq 0
as_check "each thread's faults within 5% of its RUSAGE_THREAD minor faults" $bad_r -eq 0
as_check "each thread's zero_pages >= its $PAGES pages" $bad_z -eq 0

# 5. the summary
as_check "the report says where the time went" \
	"$(grep -c '^where the time went' "$AS_TMP/nothp")" -eq 1

# 6. THP: 2 MiB faults instead of 4 KiB ones
thp=$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)
if [ -z "$thp" ] || echo "$thp" | grep -q '\[never\]'; then
	ktap_test_skip "thp faults <= 1/100 of nothp faults" "THP unavailable ($thp)"
else
	allocstat-run -t 1 -s ${SIZE_MB}M -m thp -q --require-module > "$AS_TMP/thp" 2>&1
	allocstat-run -t 1 -s ${SIZE_MB}M -m nothp -q --require-module > "$AS_TMP/nothp1" 2>&1
	ft=$(rows thp | awk '{ print $7 }')
	fn=$(rows nothp1 | awk '{ print $7 }')
	ktap_print_msg "1 x ${SIZE_MB} MiB: thp faults=$ft nothp faults=$fn (THP: $thp)"
	as_check "thp faults <= 1/100 of nothp faults" \
		-n "$ft" -a -n "$fn" -a "$((${ft:-1} * 100))" -le "${fn:-0}"
fi

# 7. the kernel stayed quiet
as_check "no BUG/WARNING/Oops in dmesg" "$(as_dmesg_clean > "$AS_TMP/dmesg"; echo $?)" -eq 0
cat "$AS_TMP/dmesg"

ktap_finished
