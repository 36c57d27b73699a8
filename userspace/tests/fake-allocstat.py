#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A stand-in for /proc/allocstat, for host tests of allocstat-run.

Usage: fake-allocstat.py FIFO [--fail-from N] [--tasks-off-by N]

Serves the FIFO forever (each open gets one snapshot).  --fail-from N:
from the Nth open on (0: the first), serve text that does not parse.
--tasks-off-by N: tasks= in the header is N more than the rows.  Every thread of a
process named allocstat-run gets a row: while the thread is alive its
counters are BASE; once it is gone it is shown as exited with BASE + DELTA.
Before each such row comes an older exited row with the same tid and huge
counters (tid reuse: the driver must take the last row).  The vma columns
are '-', and there is an extra unknown column.  So every worker thread of a
run must show exactly DELTA in allocstat-run's output.
"""
import os
import sys
import time

COLS = ("faults fault_ns fault_runq_ns fault_sleep_ns fault_max_ns vma_faults "
        "vma_retry zero_pages zero_ns zero_runq_ns zero_sleep_ns "
        "zero_huge zero_alloc_pages mmap_read mmap_read_wait_ns "
        "mmap_read_wait_runq_ns mmap_read_wait_sleep_ns "
        "mmap_read_wait_max_ns mmap_read_hold_ns mmap_read_hold_max_ns "
        "mmap_write mmap_write_wait_ns mmap_write_wait_runq_ns "
        "mmap_write_wait_sleep_ns mmap_write_wait_max_ns "
        "mmap_write_hold_ns mmap_write_hold_max_ns mmap_trylock_fail").split()
BASE = {c: 100 + i for i, c in enumerate(COLS)}
DELTA = {"faults": 5000, "fault_ns": 3000000, "fault_runq_ns": 500000,
         "fault_sleep_ns": 100000, "zero_pages": 4000,
         "zero_ns": 2000000, "zero_runq_ns": 200000, "zero_alloc_pages": 4000,
         "mmap_read": 5000, "mmap_read_wait_ns": 250000,
         "mmap_read_wait_runq_ns": 50000, "mmap_read_wait_sleep_ns": 100000,
         "mmap_read_hold_ns": 900000,
         "mmap_write": 3, "mmap_write_wait_ns": 1000, "mmap_write_hold_ns": 2000}


def row(tid, tgid, comm, state, vals):
    cells = ["-" if c in ("vma_faults", "vma_retry") else str(vals[c])
             for c in COLS]
    return " ".join([str(tid), str(tgid), comm, state] + cells + ["7"])


def snapshot(seen, tasks_off=0):
    alive = {}
    for pid in driver_pids():
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                alive[(int(pid), int(tid))] = True
                seen[(int(pid), int(tid))] = True
        except OSError:
            continue
    rows = [row(2, 2, "kthread\\040x", "alive", BASE)]
    for (tgid, tid) in sorted(seen):
        old = {c: 10**12 for c in COLS}
        rows.append(row(tid, tgid, "older", "exited", old))
        if (tgid, tid) in alive:
            rows.append(row(tid, tgid, "allocstat-run", "alive", BASE))
        else:
            done = {c: BASE[c] + DELTA.get(c, 0) for c in COLS}
            rows.append(row(tid, tgid, "allocstat-w", "exited", done))
    head = (f"# allocstat 0.2.0 kernel=fake hooks=faults,zeroing,mmap_lock "
            f"tasks={len(rows) + tasks_off} dropped=0 recycled=0 missed=0\n"
            "tid tgid comm state " + " ".join(COLS) + " future_column\n")
    return head + "".join(r + "\n" for r in rows)


def reader_holds(fifo):
    """True while an allocstat-run process has the FIFO open.

    After a snapshot, wait for its reader to close the FIFO, or the next
    snapshot would be appended to the same read.
    """
    for pid in driver_pids():
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == fifo:
                    return True
        except OSError:
            continue
    return False


def driver_pids():
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == "allocstat-run":
                    yield pid
        except OSError:
            continue


def main():
    fifo = os.path.realpath(sys.argv[1])
    opts = dict(zip(sys.argv[2::2], map(int, sys.argv[3::2])))
    fail_from = opts.get("--fail-from", -1)
    tasks_off = opts.get("--tasks-off-by", 0)
    served = 0
    seen = {}
    while True:
        try:
            with open(fifo, "w") as f:
                # open() returns before the reader's fd is installed; once
                # it is, the reader cannot go away before our close (it
                # waits for data or EOF), so the test below is reliable
                deadline = time.monotonic() + 5
                while not reader_holds(fifo) and time.monotonic() < deadline:
                    time.sleep(0.0005)
                if 0 <= fail_from <= served:
                    f.write("tid tgid comm state\n")   # no title line
                else:
                    f.write(snapshot(seen, tasks_off))
                served += 1
        except BrokenPipeError:
            pass
        while reader_holds(fifo):
            time.sleep(0.001)


if __name__ == "__main__":
    main()
