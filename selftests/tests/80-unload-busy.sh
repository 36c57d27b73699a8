#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Unload while the hooks fire: 4 threads fault and a reader loops on
# /proc/allocstat while the module is unloaded and reloaded, 5 times.

. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/module.sh"

CYCLES=5

reader() {
	while :; do
		cat $AS_PROC > /dev/null 2>&1
	done
}

ktap_print_header
as_setup
ktap_set_plan 4

# -d: longer than the cycles take, even on a debug kernel (135 s seen)
as_bg as-workload -m write -t 4 -p 2048 -d 600 > "$AS_TMP/wl"
as_bg reader
ok=1
i=0
while [ $i -lt $CYCLES ]; do
	as_load || { ok=0; break; }
	sleep 1
	as_unload || { ok=0; break; }
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
