#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# mmap_lock contention: one thread loops mprotect() over a populated region
# (write holds) while two threads fault fresh pages (read acquisitions on
# kernels without per-VMA locks, VMA-locked faults on kernels with them).

. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/module.sh"

P=16384

ktap_print_header
as_setup
ktap_set_plan 5
as_load || ktap_exit_fail_msg "cannot load $ALLOCSTAT_KO"
as_snap hdr
hooks=$(as_hdr hdr hooks)

as-workload -m contend -p $P,$P > "$AS_TMP/c" || ktap_exit_fail_msg "as-workload failed"
as_snap c.snap
w=$(as_wl c 0 tid)
inside=$(as_wl c 0 work_ns)
calls=$(as_wl c 0 calls)
hold=$(as_col c.snap "$w" mmap_write_hold_ns)
nwrite=$(as_col c.snap "$w" mmap_write)
ktap_print_msg "writer tid=$w: mprotect calls=$calls time inside mprotect=${inside}ns mmap_write=$nwrite mmap_write_hold_ns=$hold"
as_check "writer: 0 < mmap_write_hold_ns <= time inside mprotect" "$hold" -gt 0 -a "$hold" -le "$inside"
as_check "writer: mmap_write >= mprotect calls" "$nwrite" -ge "$calls"

ok=1
for k in 1 2; do
	t=$(as_wl c $k tid)
	f=$(as_col c.snap "$t" faults)
	rw=$(as_col c.snap "$t" mmap_read_wait_ns)
	vf=$(as_col c.snap "$t" vma_faults)
	ktap_print_msg "faulter tid=$t: faults=$f mmap_read_wait_ns=$rw vma_faults=$vf"
	case ",$hooks," in
	*,vma_lock,*) [ $((vf * 100)) -ge $((f * 90)) ] || ok=0 ;;
	*) [ "$rw" -gt 0 ] || ok=0 ;;
	esac
done
case ",$hooks," in
*,vma_lock,*)
	as_check "per-VMA locks: faulters' vma_faults >= 90% of their faults" $ok -eq 1
	ktap_test_skip "faulters wait for the mmap_lock" "per-VMA locks: faults do not take the mmap_lock"
	;;
*)
	ktap_test_skip "faulters' vma_faults >= 90% of faults" "kernel has no per-VMA locks"
	as_check "no per-VMA locks: faulters' mmap_read_wait_ns > 0" $ok -eq 1
	;;
esac

ktap_test_result "dmesg has no new BUG/WARNING/Oops" as_dmesg_clean
ktap_finished
