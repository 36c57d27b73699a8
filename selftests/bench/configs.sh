# SPDX-License-Identifier: GPL-2.0
#
# configs.sh: the bench's configurations, sourced in the guest by guest.sh
# and by selftests/bench/profile.  setup CFG attaches what CFG measures,
# teardown CFG detaches it.
#
#   none             nothing loaded
#   all              allocstat.ko, every hook group
#   all:kprobes      the same on 0.4's hooks: fault_hook=kretprobe
#                    lock_hook=tracepoint
#   faults|zeroing|mmap_lock
#                    allocstat.ko with that group alone (hooks=)
#   floor[:GROUP]    allocstat_floor.ko: the same hooks with empty handlers
#   floor:fault-kretprobe, floor:fault-entry, floor:fault-direct, floor:lock-tp,
#   floor:zero-entry, floor:zero-range, floor:lock-rwsem
#                    allocstat_floor.ko with one group on another hook set
#                    (floor.c's *_hook parameters; the hooks phase)
#   tracefs          the kernel's own tracing: mmap_lock events and kprobe
#                    events on handle_mm_fault entry and return
#   past0, past50k   allocstat.ko, every hook group, on a fresh table, and
#                    after 50,000 short processes have each taken a row and
#                    exited (most rows then recycled): the lookup cost
#   none50k          no module, after the same 50,000 processes: what they
#                    leave behind in the kernel (memory, caches), for past50k

CONFIGS_ALL="none all all:kprobes faults zeroing mmap_lock floor floor:faults floor:zeroing floor:mmap_lock tracefs past0 past50k none50k"
T=/sys/kernel/tracing
KO=${ALLOCSTAT_KO:-/opt/allocstat/allocstat.ko}
# built by selftests/bench/floor/build and copied in with vm-run --add
FLOOR_KO=${FLOOR_KO:-/opt/add/allocstat_floor.ko}

setup() {
	case $1 in
	none) ;;
	none50k) as-spawn -n 50000 -c 2 > /dev/null ;;
	all|past0) insmod "$KO" ;;
	all:kprobes) insmod "$KO" fault_hook=kretprobe lock_hook=tracepoint ;;
	past50k) insmod "$KO" && as-spawn -n 50000 -c 2 > /dev/null ;;
	faults|zeroing|mmap_lock) insmod "$KO" hooks=$1 ;;
	floor) insmod "$FLOOR_KO" ;;
	floor:faults) insmod "$FLOOR_KO" zeroing=0 mmap_lock=0 ;;
	floor:zeroing) insmod "$FLOOR_KO" faults=0 mmap_lock=0 ;;
	floor:mmap_lock) insmod "$FLOOR_KO" faults=0 zeroing=0 ;;
	floor:fault-kretprobe) insmod "$FLOOR_KO" zeroing=0 mmap_lock=0 fault_hook=kretprobe ;;
	floor:fault-entry) insmod "$FLOOR_KO" zeroing=0 mmap_lock=0 fault_hook=entry ;;
	floor:fault-direct) insmod "$FLOOR_KO" zeroing=0 mmap_lock=0 fault_hook=direct ;;
	floor:zero-entry) insmod "$FLOOR_KO" faults=0 mmap_lock=0 zeroing_hook=entry ;;
	floor:zero-range) insmod "$FLOOR_KO" faults=0 mmap_lock=0 zeroing_hook=range ;;
	floor:lock-tp) insmod "$FLOOR_KO" faults=0 zeroing=0 lock_hook=tp ;;
	floor:lock-rwsem) insmod "$FLOOR_KO" faults=0 zeroing=0 lock_hook=rwsem ;;
	tracefs)
		echo 'p:as_fault handle_mm_fault' >> $T/kprobe_events &&
		echo 'r:as_fault_ret handle_mm_fault' >> $T/kprobe_events &&
		echo 1 > $T/events/kprobes/enable &&
		echo 1 > $T/events/mmap_lock/enable ;;
	*) echo "configs.sh: unknown configuration '$1'" >&2; return 1 ;;
	esac
}

teardown() {
	case $1 in
	none|none50k) ;;
	tracefs)
		echo 0 > $T/events/mmap_lock/enable
		echo 0 > $T/events/kprobes/enable
		echo > $T/kprobe_events
		echo > $T/trace ;;
	floor*) rmmod allocstat_floor ;;
	*) rmmod allocstat ;;
	esac
}
