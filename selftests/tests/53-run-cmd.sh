#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# allocstat-run observing a program: -- CMD (the threads of CMD and of the
# processes it forks, through the module's fork-following track) and -p PID
# (a window's deltas), against as-workload's own ground truth (its tids,
# pages and getrusage minor faults); CMD's exit status; the breakdown per
# thread from the exit hook's task_* columns; the module's track= put back.

. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/module.sh"

PAGES=4096

# jthread FILE TID: allocstat-run --json's per_thread entry of TID (one line)
jthread() {
	grep "^ *{\"tid\": $2, " "$AS_TMP/$1"
}

# jv LINE KEY: the value of KEY in a JSON line (the last one, a number or null)
jv() {
	echo "$1" | sed -n "s/.*\"$2\": \([^,}]*\).*/\1/p"
}

# abs N
abs() {
	[ "$1" -lt 0 ] && echo $((-$1)) || echo "$1"
}

# check_workers JSON WL MINPAGES: every worker thread of as-workload's output
# WL has a row in the report with faults >= its pages and within 5% of its
# RUSAGE_THREAD minflt, zero_pages >= its pages.  Sets bad_rows, bad_faults,
# bad_zero, workers.
check_workers() {
	bad_rows=0 bad_faults=0 bad_zero=0 workers=0
	for tid in $(sed -n 's/^thread=[0-9]* tid=\([0-9]*\) .*/\1/p' "$AS_TMP/$2"); do
		workers=$((workers + 1))
		pages=$(sed -n "s/^thread=[0-9]* tid=$tid pages=\([0-9]*\) .*/\1/p" "$AS_TMP/$2")
		minflt=$(sed -n "s/^thread=[0-9]* tid=$tid .* minflt=\([0-9]*\) .*/\1/p" "$AS_TMP/$2")
		l=$(jthread "$1" "$tid")
		faults=$(jv "$l" faults)
		zero=$(jv "$l" zero_pages)
		ktap_print_msg "$2 tid $tid: pages=$pages minflt=$minflt report: faults=${faults:--} zero_pages=${zero:--} state=$(jv "$l" state)"
		if [ -z "$l" ] || [ "$faults" = null ] || [ -z "$faults" ]; then
			bad_rows=$((bad_rows + 1))
			continue
		fi
		d=$(abs $((faults - minflt)))
		[ "$faults" -ge "$pages" ] && [ $((d * 100)) -le $((minflt * 5)) ] ||
			bad_faults=$((bad_faults + 1))
		[ "$zero" != null ] && [ "$zero" -ge "$pages" ] || bad_zero=$((bad_zero + 1))
	done
}

ktap_print_header
as_setup
ktap_set_plan 14
as_load || ktap_exit_fail_msg "cannot load $ALLOCSTAT_KO"

# 1-4. -- as-workload: 2 threads x 4096 pages
as_snap before1
allocstat-run --json -o "$AS_TMP/j1" -- as-workload -m write -p $PAGES -t 2 > "$AS_TMP/wl1" 2> "$AS_TMP/err1"
rc=$?
as_snap after1
sed 's/^/# /' "$AS_TMP/err1" "$AS_TMP/wl1"
check_workers j1 wl1
as_check "-- as-workload -t 2: exit 0, CMD's stdout intact (2 thread lines), both threads in the report" \
	$rc -eq 0 -a $workers -eq 2 -a $bad_rows -eq 0 -a "$(grep -c '^wall_ns=' "$AS_TMP/wl1")" -eq 1
as_check "each worker's faults >= $PAGES and within 5% of its RUSAGE_THREAD minflt" \
	$workers -eq 2 -a $bad_faults -eq 0
as_check "each worker's zero_pages >= $PAGES" $workers -eq 2 -a $bad_zero -eq 0

# the breakdown of each worker: every bucket known, unexplained within 3% + 1 ms
bad=0
for tid in $(sed -n 's/^thread=[0-9]* tid=\([0-9]*\) .*/\1/p' "$AS_TMP/wl1"); do
	l=$(jthread j1 "$tid")
	b=$(echo "$l" | sed -n 's/.*"breakdown": {\(.*\)"includes".*/\1/p')
	t=$(jv "$l" thread_ns)
	u=$(jv "$l" unexplained_ns)
	ktap_print_msg "tid $tid breakdown: $b"
	if [ -z "$b" ] || echo "$b" | grep -q null || [ -z "$t" ] || [ "$t" = null ]; then
		bad=$((bad + 1))
		continue
	fi
	ktap_print_msg "tid $tid: thread_ns=$t unexplained_ns=$u (limit $((t * 3 / 100 + 1000000)))"
	[ $(($(abs "$u") * 100)) -le $((t * 3 + 100000000)) ] || bad=$((bad + 1))
done
as_check "each worker's buckets are all known, |unexplained| <= 3% of its life + 1 ms" \
	$workers -eq 2 -a $bad -eq 0

# 5. the filter is put back: track= as before (all after the load)
ktap_print_msg "track= before: $(as_hdr before1 track), after: $(as_hdr after1 track)"
as_check "-- CMD with track=all: track= the same after (all)" \
	"$(as_hdr before1 track)" = all -a "$(as_hdr after1 track)" = all

# 6-7. exit status, CMD not found
allocstat-run -- sh -c 'exit 3' 2> "$AS_TMP/err2"
rc=$?
ktap_print_msg "-- sh -c 'exit 3': exit $rc"
as_check "-- sh -c 'exit 3': exit 3" $rc -eq 3
allocstat-run -- as-no-such-command 2> "$AS_TMP/err3"
rc=$?
sed 's/^/# /' "$AS_TMP/err3"
as_check "-- a command that does not exist: exit 127, says so" \
	$rc -eq 127 -a "$(grep -c 'as-no-such-command: No such file or directory' "$AS_TMP/err3")" -eq 1

# 8-9. a tree: sh forks two as-workloads (1 + 2 threads), with track=none before
as-write $AS_PROC "track none" > /dev/null
as_snap before2
allocstat-run --json -o "$AS_TMP/j2" -- sh -c \
	'as-workload -m write -p 1024 -t 1 > "$0" & as-workload -m write -p 2048 -t 2 > "$1"; wait' \
	"$AS_TMP/wa" "$AS_TMP/wb" 2> "$AS_TMP/err4"
rc=$?
as_snap after2
sed 's/^/# /' "$AS_TMP/err4"
pid=$(sed -n 's/.*"pid": \([0-9]*\), "exit_status".*/\1/p' "$AS_TMP/j2")
check_workers j2 wa
wa_ok=$((workers == 1 && bad_rows == 0 && bad_faults == 0))
check_workers j2 wb
wb_ok=$((workers == 2 && bad_rows == 0 && bad_faults == 0))
children=$(grep '^ *{"tid": ' "$AS_TMP/j2" | grep -v "\"tgid\": ${pid:-0}," |
	   sed -n 's/.*"tgid": \([0-9]*\),.*/\1/p' | sort -u | wc -l)
ktap_print_msg "sh pid ${pid:-?}: processes other than sh in the report: $children"
as_check "-- sh forking 2 as-workloads: exit 0, the 3 threads of the children in it, faults right" \
	$rc -eq 0 -a $wa_ok -eq 1 -a $wb_ok -eq 1 -a "$children" -ge 2
ktap_print_msg "track= before: $(as_hdr before2 track), after: $(as_hdr after2 track)"
as_check "-- CMD with track=none: track= the same after (none)" \
	"$(as_hdr before2 track)" = none -a "$(as_hdr after2 track)" = none

# 10-11. -p, threads born and gone in the window: a process that waits for
# "go" on a FIFO, then becomes as-workload (exec: the same pid)
as-write $AS_PROC "track all" > /dev/null
as_snap before3
mkfifo "$AS_TMP/go"
sh -c 'read x < "$0"; exec as-workload -m write -p 4096 -t 2' "$AS_TMP/go" > "$AS_TMP/wl3" &
wpid=$!
allocstat-run --json -o "$AS_TMP/j3" -p $wpid 2> "$AS_TMP/err5" &
apid=$!
n=0
while ! grep -q "track=$wpid\$" $AS_PROC 2>/dev/null && [ $n -lt 100 ]; do
	sleep 0.1
	n=$((n + 1))
done
echo go > "$AS_TMP/go"
wait $wpid
wait $apid
rc=$?
as_snap after3
sed 's/^/# /' "$AS_TMP/err5"
check_workers j3 wl3
window=$(sed -n 's/.*"window_ns": \([0-9]*\),.*/\1/p' "$AS_TMP/j3")
life_bad=0
for tid in $(sed -n 's/^thread=[0-9]* tid=\([0-9]*\) .*/\1/p' "$AS_TMP/wl3"); do
	l=$(jthread j3 "$tid")
	t=$(jv "$l" thread_ns)
	ktap_print_msg "tid $tid: state $(jv "$l" state) thread_ns ${t:--} window_ns ${window:--}"
	u=$(jv "$l" unexplained_ns)
	b=$(echo "$l" | sed -n 's/.*"breakdown": {\(.*\)"includes".*/\1/p')
	ktap_print_msg "tid $tid: unexplained_ns ${u:--}, breakdown: $b"
	[ -n "$t" ] && [ "$t" != null ] && [ "$t" -gt 0 ] && [ "$t" -le "${window:-0}" ] &&
		[ "$(jv "$l" state)" = '"exited"' ] && [ -n "$b" ] && ! echo "$b" | grep -q null &&
		[ $(($(abs "$u") * 100)) -le $((t * 3 + 100000000)) ] || life_bad=$((life_bad + 1))
done
as_check "-p on a process that runs 2 x $PAGES pages in the window: exit 0, both threads, faults right" \
	$rc -eq 0 -a $workers -eq 2 -a $bad_rows -eq 0 -a $bad_faults -eq 0 -a $bad_zero -eq 0
as_check "-p: threads born and gone in the window: exited, 0 < thread_ns <= window, buckets known, |unexplained| <= 3% + 1 ms" \
	$workers -eq 2 -a $life_bad -eq 0 -a -n "$window"

# 12. -p, threads whose work was before the window: deltas ~0, though their
# rows count >= 4096 (track=all: the rows exist before the window)
mkfifo "$AS_TMP/hold"
as-workload -m write -p 4096 -t 2 -B -H < "$AS_TMP/hold" > "$AS_TMP/wl4" &
hpid=$!
exec 7> "$AS_TMP/hold"
n=0
while ! grep -q '^ready' "$AS_TMP/wl4" && [ $n -lt 100 ]; do
	sleep 0.1
	n=$((n + 1))
done
as_snap held
allocstat-run --json -o "$AS_TMP/j4" -p $hpid -d 1 2> "$AS_TMP/err6"
rc=$?
exec 7>&-
wait $hpid
sed 's/^/# /' "$AS_TMP/err6"
bad=0 seen=0
window=$(sed -n 's/.*"window_ns": \([0-9]*\),.*/\1/p' "$AS_TMP/j4")
for tid in $(sed -n 's/^thread=[0-9]* tid=\([0-9]*\) .*/\1/p' "$AS_TMP/wl4"); do
	l=$(jthread j4 "$tid")
	f=$(jv "$l" faults)
	t=$(jv "$l" thread_ns)
	total=$(as_col held "$tid" faults)
	ktap_print_msg "held tid $tid: row faults ${total:--}, in the window ${f:--}; thread_ns ${t:--} window ${window:--}"
	seen=$((seen + 1))
	[ -n "$l" ] && [ "${total:-0}" -ge 4096 ] && [ "$f" != null ] && [ "${f:-99999}" -lt 64 ] &&
		[ "$t" = "$window" ] || bad=$((bad + 1))
done
as_check "-p -d 1 on threads that worked before: faults in the window < 64 (rows >= 4096), thread_ns = window" \
	$rc -eq 0 -a $seen -eq 2 -a $bad -eq 0

# 13. -p put the filter back
ktap_print_msg "track= before: $(as_hdr before3 track), after -p: $(as_hdr after3 track)"
as_snap after4
as_check "-p with track=all: track= all after both windows" \
	"$(as_hdr after3 track)" = all -a "$(as_hdr after4 track)" = all

# 14. the kernel stayed quiet
as_check "no BUG/WARNING/Oops in dmesg" "$(as_dmesg_clean > "$AS_TMP/dmesg"; echo $?)" -eq 0
cat "$AS_TMP/dmesg"

ktap_finished
