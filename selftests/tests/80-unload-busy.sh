#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Unload while the hooks fire: 4 threads fault and a reader loops on
# /proc/allocstat while the module is unloaded and reloaded, 5 times: with
# the hooks the default picks (direct calls), and every second time with
# fault_hook=kretprobe lock_hook=tracepoint; in the third cycle tracefs has
# the mmap_lock events on too, so that the direct calls run the tracepoints'
# body while they are detached.  Each unload takes less than a minute.

. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/module.sh"

CYCLES=5

reader() {
	while :; do
		cat $AS_PROC > /dev/null 2>&1
	done
}

T=/sys/kernel/tracing
# before 6.14 the default puts the mmap_lock on direct calls too
default_lock=direct
case "$(uname -r)" in
6.1[4-9]* | 6.[2-9][0-9]* | [7-9].* | [1-9][0-9].*) default_lock=tracepoint ;;
esac

ktap_print_header
as_setup
ktap_set_plan 4

# -d: longer than the cycles take, even on a debug kernel (135 s seen)
as_bg as-workload -m write -t 4 -p 2048 -d 600 > "$AS_TMP/wl"
as_bg reader
ok=1
i=0
while [ $i -lt $CYCLES ]; do
	params= want="direct $default_lock"
	if [ $((i % 2)) -eq 1 ]; then
		params="fault_hook=kretprobe lock_hook=tracepoint"
		want="kretprobe tracepoint"
	fi
	[ $i -eq 2 ] && echo 1 > $T/events/mmap_lock/enable
	as_load $params || { ok=0; break; }
	got="$(cat /sys/module/$AS_MOD/parameters/fault_hook) $(cat /sys/module/$AS_MOD/parameters/lock_hook)"
	ktap_print_msg "cycle $i: fault and mmap_lock hooks: $got"
	[ "$got" = "$want" ] || { ktap_print_msg "cycle $i: wanted $want"; ok=0; }
	sleep 1
	t0=$(cut -d' ' -f1 /proc/uptime)
	as_unload || { ok=0; break; }
	t1=$(cut -d' ' -f1 /proc/uptime)
	echo 0 > $T/events/mmap_lock/enable
	ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }')
	ktap_print_msg "cycle $i: unload took $ms ms$([ $i -eq 2 ] && echo ', tracefs mmap_lock events on')"
	[ "$ms" -lt 60000 ] || ok=0
	i=$((i + 1))
done
ktap_print_msg "$i load/unload cycles under load"
as_check "$CYCLES load/unload cycles while 4 threads fault and a reader loops" $ok -eq 1
# survived: still running, or (on a machine slower still) ended with 0
wl=${AS_BG_PIDS% *}
if kill -0 $wl 2>/dev/null; then
	survived=0
else
	wait $wl
	survived=$?
	ktap_print_msg "the workload ended before the cycles did, exit status $survived"
fi
ktap_test_result "the workload survived" test $survived -eq 0
as_kill_bg
as_load && as_snap after && as_rows_wellformed after
ktap_test_result "reload works afterwards, rows are well-formed" test $? -eq 0
as_unload
ktap_test_result "dmesg has no new BUG/WARNING/Oops" as_dmesg_clean
ktap_finished
