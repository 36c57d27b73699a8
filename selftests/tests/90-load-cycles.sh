#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# 50 insmod/rmmod cycles while 4 threads fault without pause and a reader
# loops on /proc/allocstat, validating every complete read.  Every 10
# cycles include a run with one hook group and one with a 4-row table, so
# that the partial-attach and table-full paths are unloaded under load too.
# A slow guest (PREEMPT_RT under TCG: ~6 s a cycle) stops after
# AS_CYCLES_SECONDS (default 180) once 10 cycles, each path once, are done.

. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/module.sh"

CYCLES=${AS_CYCLES:-50}
BUDGET=${AS_CYCLES_SECONDS:-180}
MIN=$((CYCLES < 10 ? CYCLES : 10))

ktap_print_header
as_setup
ktap_set_plan 7

as_bg as-workload -m write -t 4 -p 512 -d 3600 > "$AS_TMP/wl"
wl_pid=$!
as_bg as-reader -s "$AS_TMP/stop" > "$AS_TMP/reader"
reader_pid=$!

# centiseconds since boot
now_cs() {
	sed 's/^\([0-9]*\)\.\([0-9][0-9]\).*/\1\2/' /proc/uptime
}

t0=$(date +%s)
i=0
fail=
load_cs=0
unload_cs=0
: > "$AS_TMP/reads"
while [ $i -lt $CYCLES ]; do
	case $((i % 10)) in
	7) params=hooks=mmap_lock ;;
	8) params=hooks=zeroing ;;
	9) params=max_tasks=4 ;;
	*) params= ;;
	esac
	c0=$(now_cs)
	if ! as_load $params; then
		fail="insmod #$i ($params) failed"
		break
	fi
	c1=$(now_cs)
	# one validating read per cycle while loaded, then unload at once
	as-reader -n 1 >> "$AS_TMP/reads"
	c2=$(now_cs)
	if ! as_unload; then
		fail="rmmod #$i failed"
		break
	fi
	load_cs=$((load_cs + c1 - c0))
	unload_cs=$((unload_cs + $(now_cs) - c2))
	i=$((i + 1))
	[ $i -ge $MIN ] && [ $(($(date +%s) - t0)) -ge "$BUDGET" ] && break
done
t1=$(date +%s)
[ -n "$fail" ] && ktap_print_msg "$fail"
ktap_print_msg "$i of $CYCLES load/unload cycles in $((t1 - t0)) s; per cycle: insmod $((load_cs * 10 / (i > 0 ? i : 1))) ms, rmmod $((unload_cs * 10 / (i > 0 ? i : 1))) ms"
[ $i -lt "$CYCLES" ] && [ -z "$fail" ] && ktap_print_msg "stopped after $BUDGET s (AS_CYCLES_SECONDS)"
as_check "$CYCLES insmod/rmmod cycles (or $MIN or more in ${BUDGET} s) under a 4-thread fault load, none failed" \
	-z "$fail" -a "$i" -ge $MIN

reads_ok=$(grep -c ' ok=1 ' "$AS_TMP/reads")
ktap_print_msg "reads while loaded: $reads_ok of $i well-formed; $(grep '^# bad' "$AS_TMP/reads" | head -3)"
as_check "every read while loaded is complete and well-formed" "$reads_ok" -eq "$i" -a "$i" -gt 0

kill -0 "$wl_pid" 2>/dev/null
ktap_test_result "the fault workload survived every cycle" test $? -eq 0

touch "$AS_TMP/stop"
wait "$reader_pid"
rc=$?
ktap_print_msg "background reader: $(tail -n 1 "$AS_TMP/reader")"
grep '^#' "$AS_TMP/reader" | head -5
ok_reads=$(sed -n 's/.* ok=\([0-9]*\) .*/\1/p' "$AS_TMP/reader" | tail -n 1)
as_check "the background reader saw no malformed read (and some good ones)" \
	"$rc" -eq 0 -a "${ok_reads:-0}" -gt 0

# after all this, the hooks still attach and count the workload
as_load
as_snap a
sleep 1
as_snap b
fa=$(awk '$3 == "as-workload" && $4 == "alive" { s += $5 } END { print s + 0 }' "$AS_TMP/a")
fb=$(awk '$3 == "as-workload" && $4 == "alive" { s += $5 } END { print s + 0 }' "$AS_TMP/b")
ktap_print_msg "workload faults after the cycles: $fa, one second later: $fb"
as_check "a final load counts the running workload's faults" "$fb" -gt "$fa"
as_kill_bg
as_unload
ktap_test_result "unloads; nothing left behind in /proc or /sys/module" \
	test ! -e $AS_PROC -a ! -e /sys/module/$AS_MOD
ktap_test_result "dmesg has no new BUG/WARNING/Oops/lockdep/KASAN line" as_dmesg_clean
ktap_finished
