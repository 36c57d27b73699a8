#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# allocstat-run's findings in the cases that should trigger them, and in the
# same cases with the fix applied:
# - runqueue: 8 threads on 2 CPUs; its saving is the runqueue time;
# - arena_growth: 64 KiB blocks (glibc grows its arenas by mprotect) on a
#   kernel without per-VMA locks, and never with --top-pad 64M (the fix it
#   names);
# - double_zeroing: THP with init_on_alloc (Debian's default) on a kernel
#   whose fault clears the huge page again (tracefs counts it), or not when
#   the kernel boots without it;
# - small_pages: 4 KiB pages (nothp), and not with THP.
# And --findings=no prints none.

. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/module.sh"

ktap_print_header
as_setup
ktap_set_plan 8
as_load || ktap_exit_fail_msg "cannot load $AS_MOD"

# run NAME ARGS...: allocstat-run -q ARGS into $AS_TMP/NAME, shown
run() {
	name=$1
	shift
	allocstat-run -q --require-module "$@" > "$AS_TMP/$name" 2>&1
	rc=$?
	sed -n '/^where the time went/,$p' "$AS_TMP/$name" | sed "s/^/# $name: /"
	[ $rc -eq 0 ] || ktap_print_msg "$name: allocstat-run $*: exit $rc"
}

# fired NAME RULE: the findings of NAME have RULE
fired() {
	grep -q "^  [0-9]\. $2: " "$AS_TMP/$1"
}

# 1. runqueue, with its saving equal to the runqueue bucket
cpus=$(nproc)
if [ "$cpus" -ge 8 ]; then
	ktap_test_skip "runqueue: needs fewer than 8 CPUs, this guest has $cpus"
else
	run runq -t 8 -s 32M -m nothp
	runq=$(sed -n 's/^  waiting for a CPU (runqueue) .* \([0-9.]*\) s$/\1/p' "$AS_TMP/runq")
	saving=$(awk '/^  [0-9]\. runqueue: /{on=1} on && /saving: up to/{print $4; exit}' "$AS_TMP/runq")
	ktap_print_msg "runqueue bucket ${runq:-?} s, finding's saving ${saving:-?} s"
	as_check "8 threads on $cpus CPUs: a runqueue finding whose saving is the runqueue time" \
		-n "$runq" -a "$runq" = "${saving:-x}"
fi

# 2-3. arena growth, and its fix
run blocks -t 2 -s 64M -b 64K
run toppad -t 2 -s 64M -b 64K --top-pad 64M
for n in blocks toppad; do
	ktap_print_msg "$n: $(grep -c '' "$AS_TMP/$n") lines; mmap_write holds: $(awk '$1 ~ /^[0-9]+$/ && NF == 15 { w += $14 } END { print w + 0 }' "$AS_TMP/$n") ms"
done
if head -n 1 $AS_PROC | grep -q 'hooks=[^ ]*vma_lock'; then
	# per-VMA locks: faults hardly wait, so whether the holds and waits
	# (the rd_wait_ms, wr_wait_ms and wr_hold_ms columns) reach 2% of the
	# thread time depends on how the two threads overlapped
	rd=$(awk '$1 ~ /^[0-9]+$/ && NF == 15 { s += $11 + $13 + $14 } END { printf "%d", s }' "$AS_TMP/blocks")
	tt=$(sed -n 's/^where the time went ([0-9]* threads, \([0-9.]*\) s of thread time.*/\1/p' "$AS_TMP/blocks" |
		awk '{ printf "%d", $1 * 1000 }')
	want=n
	[ -n "$tt" ] && [ $((rd * 50)) -ge "$tt" ] && want=y
	got=$(fired blocks arena_growth && echo y || echo n)
	ktap_print_msg "per-VMA locks: holds and waits ${rd} ms of ${tt:-?} ms thread time; finding expected: $want, fired: $got"
	as_check "64 KiB blocks, per-VMA locks: arena_growth fires exactly when holds and waits are 2% or more" \
		-n "$tt" -a "$got" = "$want"
else
	as_check "64 KiB blocks: an arena_growth finding" "$(fired blocks arena_growth && echo y)" = y
fi
as_check "64 KiB blocks with --top-pad 64M (the fix): no arena_growth finding" \
	"$(fired toppad arena_growth || echo n)" = n

# 4. double zeroing, when the kernel zeroes at allocation and the fault
# clears the huge page again (up to 6.x; 7.x does not): tracefs counts the
# fault's huge-page clears
clearfn=$(as_calls_start folio_zero_user clear_huge_page)
run thp -t 2 -s 64M -m thp
C=
[ -z "$clearfn" ] || C=$(as_calls_stop)
ktap_print_msg "tracefs: ${C:-?} calls of ${clearfn:-the huge-page clear} during the THP run"
nothp="transparent huge pages: no /sys/kernel/mm/transparent_hugepage (a kernel without THP, as PREEMPT_RT)"
if [ ! -d /sys/kernel/mm/transparent_hugepage ]; then
	ktap_test_skip "THP: a double_zeroing finding under init_on_alloc" "$nothp"
elif [ -z "$C" ]; then
	ktap_test_skip "THP: double_zeroing" "no tracefs kprobe on folio_zero_user or clear_huge_page"
elif dmesg | grep -q 'heap alloc:on' && [ "$C" -gt 0 ]; then
	as_check "THP with init_on_alloc on, $C huge-page clears by the fault: a double_zeroing finding" \
		"$(fired thp double_zeroing && echo y)" = y
elif dmesg | grep -q 'heap alloc:on'; then
	as_check "THP with init_on_alloc on, no huge-page clear by the fault (7.x): no double_zeroing finding" \
		"$(fired thp double_zeroing || echo n)" = n
else
	as_check "THP without init_on_alloc: no double_zeroing finding" \
		"$(fired thp double_zeroing || echo n)" = n
fi

# 5-6. small pages: nothp yes, thp no
run nothp -t 1 -s 64M -m nothp
as_check "1 x 64 MiB of 4 KiB pages: a small_pages finding" "$(fired nothp small_pages && echo y)" = y
if [ ! -d /sys/kernel/mm/transparent_hugepage ]; then
	ktap_test_skip "2 x 64 MiB with THP (above): no small_pages finding" "$nothp"
else
	as_check "2 x 64 MiB with THP (above): no small_pages finding" \
		"$(fired thp small_pages || echo n)" = n
fi

# 7. --findings=no
allocstat-run -q -t 1 -s 8M --findings=no > "$AS_TMP/no" 2>&1
as_check "--findings=no: exit 0, no findings section" $? -eq 0 -a -z "$(grep '^findings:' "$AS_TMP/no")"

ktap_test_result "dmesg has no new BUG/WARNING/Oops/lockdep/KASAN line" as_dmesg_clean
ktap_finished
