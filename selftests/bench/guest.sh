#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# guest.sh: the guest side of `make bench` (run through selftests/vm-run).
# Prints one "R key=value ..." line per measurement and "N ..." notes; the
# host side (selftests/bench/run) turns them into a table and JSON.
#
#   guest.sh [REPS [LOOKUP_REPS [PHASE...]]]
#
# Runs each configuration REPS times (default 7; the lookup phase
# LOOKUP_REPS times, default 3), in the phases named (default all, in this
# order): 4k cgroup thp scale lookup read memory; and hooks, only when named.
#
# Configurations are interleaved (A B C ... A B C ...) so that drift in the
# emulator's speed spreads over all of them alike.

REPS=${1:-7}
LOOKUP_REPS=${2:-3}
[ $# -gt 2 ] && shift 2 && PHASES=$* || PHASES="4k cgroup thp scale lookup read memory"
. "$(dirname "$0")/configs.sh"

# run PHASE CFG REP as-workload-args...
run() {
	phase=$1 cfg=$2 rep=$3
	shift 3
	setup "$cfg" || { echo "N setup of $cfg failed"; return; }
	if [ -n "${IN_CGROUP:-}" ]; then
		sh -c 'echo $$ > "$0/cgroup.procs" && exec as-workload "$@"' "$IN_CGROUP" "$@" \
			> /tmp/wl || echo "N as-workload $* in $IN_CGROUP failed"
	else
		as-workload "$@" > /tmp/wl || echo "N as-workload $* failed"
	fi
	teardown "$cfg"
	wall=$(sed -n 's/^wall_ns=//p' /tmp/wl)
	faults=$(awk '/^thread=/ { for (i = 1; i <= NF; i++) if ($i ~ /^minflt=/) s += substr($i, 8) } END { print s + 0 }' /tmp/wl)
	echo "R phase=$phase cfg=$cfg rep=$rep wall_ns=$wall faults=$faults args=$(echo "$*" | tr ' ' '_')"
}

echo "N kernel=$(uname -r) cpus=$(nproc) thp=$(cat /sys/kernel/mm/transparent_hugepage/enabled | tr ' ' '_')"

# tracefs cannot probe what allocstat probes for zeroing: show its answer.
if echo 'p:as_zero clear_page_erms' >> $T/kprobe_events 2> /tmp/err; then
	echo "N tracefs accepted a kprobe on clear_page_erms"
	echo > $T/kprobe_events
else
	echo "N tracefs refuses clear_page_erms: $(cat /tmp/err | tr '\n' ' ')"
fi

# The floor: what the kernel charges for the same hooks with nothing in them.
if [ -f "$FLOOR_KO" ]; then
	FLOOR="floor floor:faults floor:zeroing floor:mmap_lock"
else
	FLOOR=
	echo "N no $FLOOR_KO: the floor rows are missing"
fi

# 1. 4 KiB workload: 4 threads x 64 MiB, one write per page, MADV_NOHUGEPAGE
phase_4k() {
i=1
while [ $i -le "$REPS" ]; do
	for cfg in none all all:kprobes faults zeroing mmap_lock $FLOOR tracefs; do
		run 4k $cfg $i -m write -t 4 -p 16384
	done
	i=$((i + 1))
done

}

# 1a. other hook sets, with empty handlers (floor.c): the 4 KiB, THP and
# cgroup workloads with each group's hooks of today and their alternatives
phase_hooks() {
[ -n "$FLOOR" ] || { echo "N no $FLOOR_KO: phase hooks left out"; return; }
deep=$(cgroup_deep 2>&1) || { echo "$deep"; deep=; }
i=1
while [ $i -le "$REPS" ]; do
	for cfg in none floor:faults floor:fault-kretprobe floor:fault-entry floor:zeroing floor:zero-entry \
		   floor:zero-range floor:mmap_lock floor:lock-tp floor:lock-rwsem; do
		run hooks-4k $cfg $i -m write -t 4 -p 16384
	done
	for cfg in none floor:zeroing floor:zero-entry floor:zero-range; do
		run hooks-thp $cfg $i -m thp -t 4 -p 64
	done
	for cfg in none floor:mmap_lock floor:lock-tp floor:lock-rwsem; do
		[ -z "$deep" ] || IN_CGROUP=$deep run hooks-cgroup $cfg $i -m write -t 4 -p 16384
	done
	i=$((i + 1))
done
}

# 1b. the same three cgroup levels deep, with the memory controller on down
# the path, where systemd puts a service's processes: before 6.14 every
# mmap_lock tracepoint event formats the memcg path while a probe is
# attached, so the price grows with the depth (a root-cgroup guest
# understates it)
# the cgroup three levels deep, made once; prints its path
cgroup_deep() {
cg=/sys/fs/cgroup
if [ ! -f $cg/cgroup.controllers ]; then
	mkdir -p $cg
	mount -t cgroup2 none $cg 2> /tmp/err ||
		{ echo "N no cgroup2 ($(cat /tmp/err)): cgroup runs left out" >&2; return 1; }
fi
deep=$cg/system.slice/allocstat-bench.service/workload.scope
mkdir -p $deep
for d in $cg $cg/system.slice $cg/system.slice/allocstat-bench.service; do
	echo +memory > $d/cgroup.subtree_control ||
		{ echo "N cannot enable the memory controller in $d: cgroup runs left out" >&2; return 1; }
done
echo $deep
}

phase_cgroup() {
cg=/sys/fs/cgroup
deep=$(cgroup_deep 2>&1) || { echo "$deep"; return; }
echo "N cgroup: ${deep#$cg}, controllers $(cat $deep/cgroup.controllers)"
i=1
while [ $i -le "$REPS" ]; do
	for cfg in none all all:kprobes ${FLOOR%% *} tracefs; do
		IN_CGROUP=$deep run cgroup $cfg $i -m write -t 4 -p 16384
	done
	i=$((i + 1))
done
}

# 2. THP workload: 4 threads x 64 huge pages (128 MiB each)
phase_thp() {
i=1
while [ $i -le "$REPS" ]; do
	for cfg in none all ${FLOOR%% *} tracefs; do
		run thp $cfg $i -m thp -t 4 -p 64
	done
	i=$((i + 1))
done

}

# 3. scaling: the 4 KiB workload, 64 MiB per thread, 1 to 8 threads
phase_scale() {
i=1
while [ $i -le "$REPS" ]; do
	for t in 1 2 4 8; do
		for cfg in none all; do
			run scale-$t $cfg $i -m write -t $t -p 16384
		done
	done
	i=$((i + 1))
done

}

# 4. lookup cost: the 4 KiB workload with all hooks on a fresh table, and
# after 50,000 short processes came and went (each took a row; rows of
# exited tasks leave the hash chains, so a lookup should not get dearer).
# Fewer repetitions: each past50k run first spawns 50,000 processes.
phase_lookup() {
# a warm-up run, not recorded: the first workload after boot is slower
# (seen under icount: 637 ms against 485 ms for the same "none" run)
as-workload -m write -t 4 -p 16384 > /dev/null
i=1
while [ $i -le "$LOOKUP_REPS" ]; do
	for cfg in none past0 none50k past50k; do
		run lookup $cfg $i -m write -t 4 -p 16384
	done
	i=$((i + 1))
done

}

# 5. reading /proc/allocstat with 10,000 rows of exited threads
phase_read() {
insmod "$KO" max_tasks=16384
n=0
while [ $n -lt 10000 ]; do
	as-workload -m write -t 250 -p 1 > /dev/null
	n=$((n + 250))
done
rows=$(($(wc -l < /proc/allocstat) - 2))
echo "R phase=read rows=$rows $(as-readtime /proc/allocstat 21)"
rmmod allocstat

}

# 6. memory: the table at the default and the largest max_tasks
phase_memory() {
for mt in 8192 65536; do
	dmesg -c > /dev/null
	sync
	free0=$(sed -n 's/^MemFree: *\([0-9]*\) kB/\1/p' /proc/meminfo)
	insmod "$KO" max_tasks=$mt
	free1=$(sed -n 's/^MemFree: *\([0-9]*\) kB/\1/p' /proc/meminfo)
	kib=$(dmesg | sed -n 's/.*task slots, \([0-9]*\) KiB.*/\1/p')
	core=$(cat /sys/module/allocstat/coresize)
	echo "R phase=memory max_tasks=$mt table_kib=$kib coresize=$core memfree_drop_kib=$((free0 - free1))"
	rmmod allocstat
done
}

for phase in $PHASES; do
	case $phase in
	4k|hooks|cgroup|thp|scale|lookup|read|memory) "phase_$phase" ;;
	*) echo "N unknown phase '$phase'" ;;
	esac
done
echo "N done"
