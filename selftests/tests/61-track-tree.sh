#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# track <tgid> follows fork: the threads and processes a tracked process
# forks get rows with its tgid as root, other processes none.  The exit hook
# records each task's life (task_* columns), checked against the task's own
# schedstat and against the identity T = CPU + runqueue + sleep.  untrack and
# track none, and the header's track=.

. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/module.sh"

ktap_print_header
as_setup
ktap_set_plan 9
as_load || ktap_exit_fail_msg "cannot load $ALLOCSTAT_KO"

as_snap load
hooks=$(as_hdr load hooks)
ktap_print_msg "hooks=$hooks track=$(as_hdr load track)"
case ",$hooks," in *,fork,*) fork=1 ;; *) fork=0 ;; esac
as_check "after load: track=all and the fork hook is on" \
	"$(as_hdr load track)" = all -a $fork -eq 1

# sum_sleep_runtime counts only with schedstats on
ss=$(cat /proc/sys/kernel/sched_schedstats)
echo 1 > /proc/sys/kernel/sched_schedstats

# A tree: a shell that waits for "go", then runs a 2-thread workload and a
# shell that runs another.  It is tracked while it waits, so every task of
# the tree is made after the filter: rows at fork with root = the shell.
as-write $AS_PROC "track none" > /dev/null
as_snap before
mkfifo "$AS_TMP/go"
sh -c 'read x < "$0"; as-workload -m write -p 512,1024 > "$1"; sh -c "as-workload -m write -p 256 > \"\$0\"; true" "$2"; true' \
	"$AS_TMP/go" "$AS_TMP/wl1" "$AS_TMP/wl2" &
root=$!
r=$(as-write $AS_PROC "track $root")
echo go > "$AS_TMP/go"
wait $root
as_snap tree
echo "$ss" > /proc/sys/kernel/sched_schedstats
ktap_print_msg "root $root: 'track $root' -> $r; header: $(sed -n 1p "$AS_TMP/tree")"

# every workload thread has a row rooted at the shell, faults >= its pages
ok=1
n=0
for spec in wl1:0 wl1:1 wl2:0; do
	f=${spec%:*} i=${spec#*:}
	tid=$(as_wl "$f" "$i" tid)
	pages=$(as_wl "$f" "$i" pages)
	row=$(awk -v t="$tid" '$1 == t' "$AS_TMP/tree")
	rt=$(as_col tree "$tid" root)
	faults=$(as_col tree "$tid" faults)
	ktap_print_msg "$f thread $i: tid ${tid:-?} pages ${pages:-?} root ${rt:--} faults ${faults:--}"
	if [ -z "$tid" ] || [ -z "$row" ] || [ "$rt" != "$root" ] || [ "${faults:-0}" -lt "${pages:-1}" ]; then
		ok=0
	fi
	n=$((n + 1))
done
as_check "the threads of processes forked by the tracked shell have rows with root=$root" $ok -eq 1

# no row for anything outside the tree: every row made since 'track none'
# has root = the shell
new_other=$(awk -v r="$root" 'NR == FNR { if (FNR > 2) seen[$1 " " $(NF - 6)] = 1; next }
	FNR > 2 && !(($1 " " $(NF - 6)) in seen) && $(NF - 7) != r' "$AS_TMP/before" "$AS_TMP/tree" | wc -l)
in_tree=$(awk -v r="$root" 'FNR > 2 && $(NF - 7) == r' "$AS_TMP/tree" | wc -l)
ktap_print_msg "rows rooted at $root: $in_tree; new rows rooted elsewhere: $new_other"
as_check "no new row outside the tree (the tree's: at least 5 tasks)" "$new_other" -eq 0 -a "$in_tree" -ge 5

# Delayed dequeue (6.12+): a task that blocks can stay queued, and until it
# is picked or woken its time is neither sleep (sum_sleep_runtime starts at
# the dequeue) nor runqueue (run_delay stopped when it last ran): the
# scheduler's three parts can then fall short of T, never exceed it.
case $(uname -r) in
[0-5].*|6.[0-9].*|6.1[01].*) delayed=0 ;;
*) delayed=1 ;;
esac

# Life: each workload thread's task_* columns against its own schedstat
# (as-workload's run_ns, cpu_ns and runq_ns: from its start to the end of its
# work; the thread exits just after, so the row's life is a little longer)
life_ok=1 ident_ok=1
for spec in wl1:0 wl1:1 wl2:0; do
	f=${spec%:*} i=${spec#*:}
	tid=$(as_wl "$f" "$i" tid)
	set -- $(awk -v t="$tid" '
		NR == 2 { for (i = 1; i <= NF; i++) c[$i] = i }
		NR > 2 && $1 == t { print $c["task_start_ns"], $c["task_end_ns"], $c["task_cpu_ns"],
			$c["task_utime_ns"], $c["task_stime_ns"], $c["task_runq_ns"], $c["task_sleep_ns"] }' \
		"$AS_TMP/tree")
	start=$1 end=$2 cpu=$3 ut=$4 st=$5 rq=$6 sl=$7
	wrun=$(as_wl "$f" "$i" run_ns) wcpu=$(as_wl "$f" "$i" cpu_ns) wrq=$(as_wl "$f" "$i" runq_ns)
	ktap_print_msg "tid $tid: life T=$((end - start)) cpu=$cpu (u $ut s $st) runq=$rq sleep=$sl; own schedstat: run=$wrun cpu=$wcpu runq=$wrq"
	case "$end$cpu$rq$sl" in *-*|'') life_ok=0; ident_ok=0; continue ;; esac
	T=$((end - start))
	# T covers the work, and at most 25% + 50 ms more (the thread's start
	# before its first schedstat read, and its exit: 41 ms on a debug
	# kernel); cpu covers the work's and fits in T
	[ "$T" -ge "$wrun" ] && [ "$T" -le $((wrun + wrun / 4 + 50000000)) ] || life_ok=0
	[ "$cpu" -ge $((wcpu - 1000000)) ] && [ "$cpu" -le "$T" ] || life_ok=0
	[ "$rq" -ge $((wrq - 1000000)) ] || life_ok=0
	[ "$cpu" -eq $((ut + st)) ] || life_ok=0
	# the scheduler's three parts against the clock: 3% + 1 ms (with
	# delayed dequeue: they may fall short, see above)
	d=$((T - cpu - rq - sl))
	tol=$((T * 3 / 100 + 1000000))
	if [ $delayed -eq 1 ]; then
		[ "$d" -ge $((-tol)) ] || ident_ok=0
	else
		[ "${d#-}" -le $tol ] || ident_ok=0
	fi
	ktap_print_msg "tid $tid: T - cpu - runq - sleep = $d ns"
done
as_check "task_* life: T and CPU cover the thread's own account, cpu <= T, cpu = utime + stime" $life_ok -eq 1
if [ $delayed -eq 1 ]; then
	as_check "task_* life: cpu + runq + sleep <= T + 3% + 1 ms (delayed dequeue: may fall short)" $ident_ok -eq 1
else
	as_check "task_* life: T = cpu + runq + sleep within 3% + 1 ms" $ident_ok -eq 1
fi

as_read_validated
ktap_test_result "the table is well-formed (as-reader: life columns, track=)" test $? -eq 0

# untrack, track none, track=
ok=1
step() {	# step COMMAND EXPECTED-RESULT EXPECTED-TRACK
	r=$(as-write $AS_PROC "$1")
	as_snap step
	t=$(as_hdr step track)
	[ "$r" = "$2" ] && [ "$t" = "$3" ] || { ktap_print_msg "'$1' -> $r, track=$t (want $2, $3)"; ok=0; }
}
step "track all" "ok 9" all
step "untrack 7" EINVAL all
step "track 7" "ok 7" 7
step "track 9" "ok 7" 7,9
step "track 7" "ok 7" 7,9
step "untrack 7" "ok 9" 9
step "untrack 7" EINVAL 9
step "untrack 9" "ok 9" none
step "track none" "ok 10" none
step "track all" "ok 9" all
as_check "track, untrack and track none change track= as documented; bad untracks fail with EINVAL" $ok -eq 1

# with every task tracked, a new row's root is its own tgid
as-workload -m write -p 64 > "$AS_TMP/all"
tid=$(as_wl all 0 tid)
pid=$(sed -n 's/^pid=\([0-9]*\).*/\1/p' "$AS_TMP/all")
as_snap all
rt=$(as_col all "$tid" root)
ktap_print_msg "track=all: tid $tid of pid $pid has root ${rt:--}"
as_check "under track all a row's root is its own tgid" "${rt:-0}" = "$pid"

ktap_test_result "dmesg has no new BUG/WARNING/Oops" as_dmesg_clean
ktap_finished
