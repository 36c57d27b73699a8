#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Where the time of a section went: every fault, clear and mmap_lock wait is
# split into on-CPU, runnable (_runq_ns) and asleep (_sleep_ns).  Each part
# is checked against ground truth that the module does not compute: the
# scheduler's per-thread totals in /proc/thread-self/schedstat and
# getrusage(), and a userfaultfd handler's own clock.
#
# 1. Two threads pinned to one CPU fault 64 MiB each, with full preemption
#    (PREEMPT_DYNAMIC's debugfs switch), so a thread can be preempted anywhere
#    in a fault: each waits for the CPU about as much as it runs, and the
#    share of its fault time spent runnable matches its share of all its time
#    spent runnable (schedstat) within 0.15.  Nothing blocks: asleep < 5%.
# 2. Threads whose faults block on a userfaultfd handler for ~70 ms: the
#    asleep part covers the time the handler held them.
# 3. 6.1 (no per-VMA locks): an mprotect() loop against faulting threads.
#    The waits' parts stay within the threads' totals (schedstat, voluntary
#    context switches); the test prints whether the waits were mostly
#    asleep, runnable or on-CPU (spinning on the rwsem's owner).

. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/module.sh"

P=16384
MS=1000000
PREEMPT=/sys/kernel/debug/sched/preempt

ktap_print_header
as_setup
old_preempt=
cleanup() {
	[ -n "$old_preempt" ] && echo "$old_preempt" > $PREEMPT
	as_cleanup
}
trap cleanup EXIT
as_load || ktap_exit_fail_msg "cannot load $ALLOCSTAT_KO"
as_snap hdr
hooks=$(as_hdr hdr hooks)
# the part columns print "-" without CONFIG_SCHED_INFO (or with IRQ/steal
# time accounting): nothing to check then
if [ "$(awk 'NR == 2 { for (i = 1; i <= NF; i++) if ($i == "fault_runq_ns") c = i }
	     NR > 2 { print $c; exit }' "$AS_TMP/hdr")" = "-" ]; then
	ktap_skip_all "the _runq_ns and _sleep_ns columns print '-' on this kernel ($(dmesg | grep -o 'allocstat: no sched_info.*' | tail -n 1))"
	exit "$KSFT_SKIP"
fi
ktap_set_plan 12

# a column of thread K's row in SNAP (as-workload output OUT): as_split OUT SNAP K COL
as_split() {
	as_col "$2" "$(as_wl "$1" "$3" tid)" "$4" || echo -1
}

# --- 1. runnable inside faults ------------------------------------------------
[ -d /sys/kernel/debug/sched ] || mount -t debugfs none /sys/kernel/debug 2>/dev/null
if [ -w $PREEMPT ]; then
	old_preempt=$(sed -n 's/.*(\([a-z]*\)).*/\1/p' $PREEMPT)
	echo full > $PREEMPT
fi
# Full preemption: the switch set to full, or a kernel built preemptible
full=
grep -q '(full)' $PREEMPT 2>/dev/null && full=1
uname -v | grep -qE ' PREEMPT(_RT)? ' && full=1
ktap_print_msg "preemption: $(cat $PREEMPT 2>/dev/null || echo "no debugfs switch; uname -v: $(uname -v)")"
taskset 1 as-workload -m write -t 2 -p $P > "$AS_TMP/pin" || ktap_exit_fail_msg "as-workload failed"
[ -n "$old_preempt" ] && echo "$old_preempt" > $PREEMPT && old_preempt=
as_snap pin.snap
share_ok=1
setup_ok=1
sleep_ok=1
bound_ok=1
for k in 0 1; do
	f=$(as_split pin pin.snap $k fault_ns)
	fr=$(as_split pin pin.snap $k fault_runq_ns)
	fs=$(as_split pin pin.snap $k fault_sleep_ns)
	cpu=$(as_wl pin $k cpu_ns)
	rq=$(as_wl pin $k runq_ns)
	# shares in thousandths
	share=$((fr * 1000 / (f > 0 ? f : 1)))
	expect=$((rq * 1000 / (rq + cpu > 0 ? rq + cpu : 1)))
	ktap_print_msg "thread $k: fault_ns=$f fault_runq_ns=$fr fault_sleep_ns=$fs; schedstat cpu_ns=$cpu runq_ns=$rq; runnable share of fault time $share/1000, of all time $expect/1000"
	d=$((share - expect))
	[ $d -lt 0 ] && d=$((-d))
	[ $d -le 150 ] || share_ok=0
	[ $expect -ge 300 ] && [ $expect -le 700 ] || setup_ok=0
	[ $((fs * 20)) -le "$f" ] || sleep_ok=0
	# the fault's parts are parts of the thread's totals
	[ "$fr" -le $((rq + MS)) ] && [ $((f - fr - fs)) -le $((cpu + MS)) ] || bound_ok=0
done
as_check "pinned pair: each thread was runnable 30-70% of its time (schedstat)" $setup_ok -eq 1
if [ -n "$full" ]; then
	as_check "pinned pair: runnable share of fault time within 0.15 of the thread's runnable share" $share_ok -eq 1
else
	ktap_test_skip "pinned pair: runnable share of fault time within 0.15 of the thread's runnable share" \
		"no full preemption (no PREEMPT_DYNAMIC switch): a thread is preempted at its fault's next might_sleep(), not at the tick"
fi
as_check "pinned pair: asleep < 5% of fault time (nothing blocks)" $sleep_ok -eq 1
as_check "pinned pair: fault_runq_ns <= schedstat runq, on-CPU part <= schedstat cpu (+1 ms)" $bound_ok -eq 1

# --- 2. asleep inside faults ----------------------------------------------------
as-parked -n 8 -s 20 -w 50 > "$AS_TMP/uffd"
rc=$?
as_snap uffd.snap
if [ $rc -eq 4 ]; then
	why=$(sed -n 's/^# *//p' "$AS_TMP/uffd" | head -n 1)
	ktap_test_skip "userfaultfd: fault_sleep_ns covers the blocked time" "userfaultfd unavailable: $why"
	ktap_test_skip "userfaultfd: runnable and on-CPU parts are small" "userfaultfd unavailable"
else
	cover_ok=1
	small_ok=1
	n=0
	for t in $(sed -n 's/^thread=[0-9]* tid=\([0-9]*\) .*/\1/p' "$AS_TMP/uffd"); do
		b=$(sed -n "s/^thread=[0-9]* tid=$t blocked_ns=\([0-9]*\) .*/\1/p" "$AS_TMP/uffd")
		f=$(as_col uffd.snap "$t" fault_ns) || f=-1
		fr=$(as_col uffd.snap "$t" fault_runq_ns) || fr=-1
		fs=$(as_col uffd.snap "$t" fault_sleep_ns) || fs=-1
		ktap_print_msg "tid $t: blocked_ns=$b (handler's clock) fault_ns=$f fault_sleep_ns=$fs fault_runq_ns=$fr"
		[ "$fs" -ge $((b * 95 / 100 - 2 * MS)) ] || cover_ok=0
		[ $((f - fs)) -le $((b / 5 + 20 * MS)) ] || small_ok=0
		n=$((n + 1))
	done
	as_check "userfaultfd ($n threads, exit $rc): fault_sleep_ns >= 95% of the time the handler held each (- 2 ms)" \
		$cover_ok -eq 1 -a $n -eq 8 -a $rc -eq 0
	as_check "userfaultfd: runnable + on-CPU parts <= 20% of the blocked time + 20 ms" $small_ok -eq 1
fi

# --- 3. a contended mmap_lock ----------------------------------------------------
as-workload -m contend -p $P,$P > "$AS_TMP/c" || ktap_exit_fail_msg "as-workload failed"
as_snap c.snap
case ",$hooks," in
*,vma_lock,*)
	for d in "mmap_lock waits: asleep part <= the thread's time asleep (schedstat)" \
		 "mmap_lock waits: no voluntary switch, no asleep part" \
		 "mmap_lock waits: runnable part <= the thread's runnable time (schedstat)" \
		 "mmap_lock waits: faulters waited for the lock"; do
		ktap_test_skip "$d" "per-VMA locks: faults do not take the mmap_lock"
	done
	;;
*)
	sleep_ok=1
	novcsw_ok=1
	runq_ok=1
	waited=0
	for k in 0 1 2; do
		mode=read
		[ $k -eq 0 ] && mode=write
		w=$(as_split c c.snap $k mmap_${mode}_wait_ns)
		wr=$(as_split c c.snap $k mmap_${mode}_wait_runq_ns)
		ws=$(as_split c c.snap $k mmap_${mode}_wait_sleep_ns)
		run=$(as_wl c $k run_ns)
		cpu=$(as_wl c $k cpu_ns)
		rq=$(as_wl c $k runq_ns)
		vcsw=$(as_wl c $k nvcsw)
		slept=$((run - cpu - rq))
		oncpu=$((w - wr - ws))
		most="on-CPU (spinning on the owner, the tracepoints)"
		[ $ws -ge $oncpu ] && [ $ws -ge $wr ] && most=asleep
		[ $wr -gt $oncpu ] && [ $wr -gt $ws ] && most=runnable
		ktap_print_msg "thread $k ($mode waits): wait_ns=$w asleep=$ws runnable=$wr on-CPU=$oncpu: mostly $most; thread asleep $slept ns, runnable $rq ns, voluntary switches $vcsw"
		# The asleep part is a section's local_clock() time less the
		# scheduler's sums, and a section that slept on one CPU and woke
		# on another reads its ends on two CPUs' clocks (allocstat.h,
		# allocstat_section_end()): allow 0.1 ms of their disagreement
		# per sleep (seen: 2.8 ms over 43 sleeps on 6.1, 2 vCPUs).
		[ "$ws" -le $((slept + 2 * MS + vcsw * MS / 10)) ] || sleep_ok=0
		[ "$vcsw" -gt 0 ] || [ "$ws" -le $MS ] || novcsw_ok=0
		[ "$wr" -le $((rq + MS)) ] || runq_ok=0
		[ $k -gt 0 ] && [ "$w" -gt 0 ] && waited=$((waited + 1))
	done
	as_check "mmap_lock waits: asleep part <= the thread's time asleep (schedstat, + 2 ms + 0.1 ms per sleep)" $sleep_ok -eq 1
	as_check "mmap_lock waits: a thread without a voluntary switch has no asleep part (< 1 ms)" $novcsw_ok -eq 1
	as_check "mmap_lock waits: runnable part <= the thread's runnable time (schedstat, + 1 ms)" $runq_ok -eq 1
	as_check "mmap_lock waits: both faulters waited for the lock" $waited -eq 2
	;;
esac

as_read_validated
ktap_test_result "rows are well-formed, parts <= their totals" test $? -eq 0
ktap_test_result "dmesg has no new BUG/WARNING/Oops/lockdep/KASAN line" as_dmesg_clean
ktap_finished
