#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# ftrace direct calls (direct.c, tramp.S), the default hooks on x86-64 of
# the faults group (fault_hook=direct) and, before 6.14, of the mmap_lock
# group (lock_hook=direct):
#   - the default load picks them, and ftrace's call sites on
#     handle_mm_fault() and the three __mmap_lock_do_trace_*() lead to
#     allocstat's trampolines;
#   - mmap_lock write acquisitions are counted with the tracepoints' body
#     skipped (a kprobe on kernfs_path_from_node() sees no memcg path
#     formatted for the writer), and with it run while tracefs also has the
#     mmap_lock events on, which then get their events as without
#     allocstat (and the path is formatted again);
#   - a stack taken inside a fault unwinds through the trampoline to the
#     fault's entry (the trampoline has ORC data);
#   - faults blocked in the body (userfaultfd) are timed;
#   - unload waits for faults still inside the body, says so after 10 s,
#     and the faults return normally afterwards;
#   - fault_hook=kretprobe and lock_hook=tracepoint are still there and
#     count the same.

. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/module.sh"

P=4096
N=16
HOLD_MS=16000
PARAM=/sys/module/$AS_MOD/parameters/fault_hook
LPARAM=/sys/module/$AS_MOD/parameters/lock_hook
T=/sys/kernel/tracing
FUNCS=/sys/kernel/tracing/enabled_functions

ktap_print_header
case "$(uname -m)" in
x86_64) ;;
*)
	ktap_skip_all "the direct call is x86-64 only ($(uname -m))"
	exit "$KSFT_SKIP"
	;;
esac
as_setup
# before 6.14 the mmap_lock tracepoints format the memcg path
memcg_path=1
case "$(uname -r)" in
6.1[4-9]* | 6.[2-9][0-9]* | [7-9].* | [1-9][0-9].*) memcg_path=0 ;;
esac
PATHPROBE=$T/events/kprobes/as_path
cleanup() {
	echo 0 > $T/events/mmap_lock/enable 2>/dev/null
	echo 0 > $PATHPROBE/enable 2>/dev/null
	echo '-:as_path' >> $T/kprobe_events 2>/dev/null
	as_cleanup
}
trap cleanup EXIT
ktap_set_plan 19

# 1. the default is the direct call, and ftrace's site leads to it
as_load || ktap_exit_fail_msg "cannot load $ALLOCSTAT_KO"
hook=$(cat $PARAM)
ktap_print_msg "fault_hook: $hook; $(dmesg | grep 'allocstat: version' | tail -n 1 | sed 's/.*allocstat: //')"
as_check "the default load uses the direct call (fault_hook reads direct)" "$hook" = direct
[ -r $FUNCS ] || FUNCS=/sys/kernel/debug/tracing/enabled_functions
grep -A1 '^handle_mm_fault ' $FUNCS 2>/dev/null | sed 's/^/# enabled_functions: /'
as_check "ftrace: handle_mm_fault's call site is direct to allocstat_fault_tramp" \
	-n "$(grep -A1 '^handle_mm_fault ' $FUNCS 2>/dev/null | grep 'direct-->allocstat_fault_tramp')"
lhook=$(cat $LPARAM)
grep -A1 '^__mmap_lock_do_trace' $FUNCS 2>/dev/null | sed 's/^/# enabled_functions: /'
ldirect=$(grep -A1 '^__mmap_lock_do_trace' $FUNCS 2>/dev/null | grep -c 'direct-->allocstat_lock_[a-z]*_tramp')
if [ $memcg_path = 1 ]; then
	as_check "the default load uses direct calls for the mmap_lock (lock_hook reads direct)" "$lhook" = direct
	as_check "ftrace: the three __mmap_lock_do_trace_*() are direct to allocstat_lock_*_tramp" "$ldirect" -eq 3
else
	as_check "$(uname -r), no memcg path: the default keeps the mmap_lock tracepoints (lock_hook reads tracepoint)" \
		"$lhook" = tracepoint
	as_check "ftrace: no direct call on the __mmap_lock_do_trace_*()" "$ldirect" -eq 0
fi

# the memcg path, formatted by kernfs_path_from_node() under the tracepoints
path_on=0
why_no_path="$(uname -r) formats no memcg path for the mmap_lock tracepoints (6.14 and later)"
if [ $memcg_path = 1 ]; then
	if echo 'p:as_path kernfs_path_from_node' >> $T/kprobe_events 2> "$AS_TMP/kp"; then
		path_on=1
	else
		why_no_path="no kprobe on kernfs_path_from_node: $(cat "$AS_TMP/kp")"
	fi
fi
path_start() {
	echo > $T/trace
	echo 1 > $PATHPROBE/enable
}
# path_count TID: memcg paths formatted in TID since path_start
path_count() {
	echo 0 > $PATHPROBE/enable
	grep -c "^ *as-workload-$1 .* as_path:" $T/trace
}

# 2. mmap_lock write holds: mmap_write >= mprotect calls (40-contention.sh)
check_lock() {
	as-workload -m contend -p 2048,2048 > "$AS_TMP/c.$1" || return 1
	as_snap "c.$1.snap"
	w=$(as_wl "c.$1" 0 tid)
	calls=$(as_wl "c.$1" 0 calls)
	nwrite=$(as_col "c.$1.snap" "$w" mmap_write) || nwrite=-1
	hold=$(as_col "c.$1.snap" "$w" mmap_write_hold_ns) || hold=-1
	ktap_print_msg "$1: writer tid=$w: mprotect calls=$calls mmap_write=$nwrite mmap_write_hold_ns=$hold"
	[ "$nwrite" -ge "$calls" ] && [ "$calls" -gt 0 ] && [ "$hold" -gt 0 ]
}
[ $path_on = 1 ] && path_start
ktap_test_result "$lhook, tracefs off: mmap_write >= mprotect calls, hold time > 0" check_lock skip
if [ $path_on = 1 ]; then
	n=$(path_count "$w")
	ktap_print_msg "memcg paths formatted for the writer: $n"
	as_check "direct, tracefs off: the tracepoints' body is skipped (no memcg path formatted for the writer)" \
		"$n" -eq 0
else
	ktap_test_skip "the tracepoints' body is skipped" "$why_no_path"
fi
echo > $T/trace
echo 1 > $T/events/mmap_lock/enable
[ $path_on = 1 ] && echo 1 > $PATHPROBE/enable
ktap_test_result "$lhook, tracefs on too: mmap_write >= mprotect calls, hold time > 0" check_lock body
echo 0 > $T/events/mmap_lock/enable
n=$(grep -c "^ *as-workload-$w .*mmap_lock_acquire_returned:.*write=true" $T/trace)
ktap_print_msg "tracefs saw $n write acquire_returned events of tid $w (mprotect calls: $calls)"
as_check "tracefs got its events meanwhile: its write acquisitions of the writer >= mprotect calls" \
	"$n" -ge "$calls" -a "$calls" -gt 0
if [ $path_on = 1 ]; then
	n=$(path_count "$w")
	ktap_print_msg "memcg paths formatted for the writer with tracefs on: $n"
	as_check "direct, tracefs on: the body runs (memcg paths formatted for the writer >= mprotect calls)" \
		"$n" -ge "$calls"
else
	ktap_test_skip "the body runs for tracefs" "$why_no_path"
fi
echo > $T/trace

# 3. faults counted: 20-faults.sh's bounds, in short
check_write() {
	as-workload -m write -p $P > "$AS_TMP/w.$1" || return 1
	as_snap "w.$1.snap"
	tid=$(as_wl "w.$1" 0 tid)
	f=$(as_col "w.$1.snap" "$tid" faults) || f=-1
	ns=$(as_col "w.$1.snap" "$tid" fault_ns) || ns=-1
	ktap_print_msg "$1: write $P pages: faults=$f fault_ns=$ns (-1: no row)"
	[ "$f" -ge $P ] && [ $((f * 100)) -le $((P * 105 + 1600)) ] && [ "$ns" -gt 0 ]
}
ktap_test_result "direct: write $P pages, faults in [P, 1.05P+16], fault_ns > 0" check_write direct

# 4. N faults parked in the body: stacks, timing, and an unload meanwhile
as-parked -n $N -s 500 -w $HOLD_MS > "$AS_TMP/parked" &
parked=$!
n=0
while [ $n -lt 100 ]; do
	blocked=$(grep -l handle_userfault /proc/$parked/task/*/stack 2>/dev/null | wc -l)
	[ "$blocked" -ge $N ] && break
	sleep 0.2
	n=$((n + 1))
done
ktap_print_msg "$blocked threads of as-parked blocked in handle_userfault()"
if [ "$blocked" -lt $N ]; then
	kill $parked 2>/dev/null
	wait $parked
	if grep -q '^#' "$AS_TMP/parked"; then
		sed 's/^/# as-parked: /' "$AS_TMP/parked"
	fi
	ktap_exit_fail_msg "as-parked's threads did not block in a fault"
fi
stack=$(grep -l handle_userfault /proc/$parked/task/*/stack | head -n 1)
sed 's/^/# stack: /' "$stack"
# the frames below the trampoline's: the fault's entry from user space
as_check "a stack inside a fault unwinds through allocstat_fault_tramp to exc_page_fault" \
	-n "$(sed -n '/allocstat_fault_tramp/,$p' "$stack" | grep -E 'exc_page_fault|do_user_addr_fault')"

mark=$(dmesg | wc -l)
t0=$(cut -d' ' -f1 /proc/uptime)
rmmod $AS_MOD
rc=$?
t1=$(cut -d' ' -f1 /proc/uptime)
wait $parked
prc=$?
waited=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }')
ktap_print_msg "rmmod: status $rc after $waited ms; as-parked: status $prc, $(tail -n 1 "$AS_TMP/parked")"
dmesg | tail -n +$((mark + 1)) | grep allocstat | sed 's/^/# dmesg: /'
# the faults are released HOLD_MS after they all blocked; rmmod began at
# most 20 s (the loop above) plus 0.5 s later, so it waited well over 1 s
as_check "rmmod waited for the faults in flight ($waited ms), then the module was gone" \
	$rc -eq 0 -a "$waited" -ge 1000 -a ! -d /sys/module/$AS_MOD
as_check "the kernel log said what unload waited for" \
	-n "$(dmesg | tail -n +$((mark + 1)) | grep 'allocstat: unload waits for [0-9]* hooked calls in flight')"
events=$(sed -n 's/.* events=\([0-9]*\) .*/\1/p' "$AS_TMP/parked")
as_check "the parked faults returned normally after the unload (as-parked status 0, $N events)" \
	$prc -eq 0 -a "${events:-0}" -eq $N

# 5. fault_hook=kretprobe lock_hook=tracepoint
as_load fault_hook=kretprobe lock_hook=tracepoint ||
	ktap_exit_fail_msg "cannot load $ALLOCSTAT_KO fault_hook=kretprobe lock_hook=tracepoint"
hook=$(cat $PARAM)
lhook=$(cat $LPARAM)
ktap_print_msg "fault_hook: $hook, lock_hook: $lhook; $(dmesg | grep 'allocstat: version' | tail -n 1 | sed 's/.*allocstat: //')"
as_check "fault_hook=kretprobe lock_hook=tracepoint: read back so, and ftrace has no direct call" \
	"$hook" = kretprobe -a "$lhook" = tracepoint -a -z "$(grep 'direct-->' $FUNCS 2>/dev/null)"
ktap_test_result "kretprobe: write $P pages, faults in [P, 1.05P+16], fault_ns > 0" check_write kretprobe
[ $path_on = 1 ] && path_start
ktap_test_result "tracepoint: mmap_write >= mprotect calls, hold time > 0" check_lock tracepoint
if [ $path_on = 1 ]; then
	n=$(path_count "$w")
	ktap_print_msg "memcg paths formatted for the writer under lock_hook=tracepoint: $n"
	as_check "tracepoint: the kernel formats the memcg path (>= mprotect calls for the writer)" \
		"$n" -ge "$calls"
else
	ktap_test_skip "the tracepoints format the memcg path" "$why_no_path"
fi
as_unload
ktap_test_result "dmesg has no new BUG/WARNING/Oops/lockdep/KASAN line" as_dmesg_clean
ktap_finished
