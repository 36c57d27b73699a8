#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A stand-in for /proc/allocstat, for host tests of allocstat-run.

Usage: fake-allocstat.py FIFO [--fail-from N] [--tasks-off-by N]
       fake-allocstat.py FIFO --tree CONTROL [--track all|none|N,...]

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
import threading
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


# ---- --tree: the module's fork-following format (root, task_* columns) ----
#
# The commands allocstat-run writes go to the file CONTROL
# (ALLOCSTAT_CONTROL), one a line; the header's track= is the state they
# leave, starting from --track (default none).  A background thread scans
# /proc every few ms for the processes below allocstat-run; the topmost one
# (allocstat-run's child) is the root of its subtree, whose tasks get rows
# while the root is in the track set.  Live tasks are "alive" with
# task_start_ns (the first time seen, CLOCK_MONOTONIC) and "-" in the
# other task_* columns; gone ones are "exited" with task_end_ns the last
# time seen and, by construction, utime 2 ms, stime 3 ms, runq 1 ms and
# sleep the rest of their lifetime: each such thread's breakdown is user
# 2.0, runq 1.0, unexplained 0.0 (ms), and its counters are DELTA.

TASK_COLS = ("root task_start_ns task_end_ns task_cpu_ns task_utime_ns "
             "task_stime_ns task_runq_ns task_sleep_ns").split()
MS = 1000000


def track_state(control, initial):
    state = initial
    try:
        with open(control) as f:
            lines = f.read().split("\n")
    except OSError:
        lines = []
    for line in lines:
        w = line.split()
        if len(w) != 2:
            continue
        if w[0] == "track" and w[1] in ("all", "none"):
            state = w[1]
        elif w[0] == "track":
            s = [] if state in ("all", "none") else state.split(",")
            if w[1] not in s:
                s.append(w[1])
            state = ",".join(s)
        elif w[0] == "untrack" and state not in ("all", "none"):
            s = [x for x in state.split(",") if x != w[1]]
            state = ",".join(s) if s else "none"
    return state


def proc_tree():
    """{pid: (ppid, comm)} of every process."""
    procs = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                st = f.read()
            procs[int(pid)] = (int(st[st.rindex(")") + 2:].split()[1]),
                               st[st.index("(") + 1:st.rindex(")")])
        except (OSError, ValueError):
            continue
    return procs


class Tree:
    def __init__(self):
        self.lock = threading.Lock()
        self.tasks = {}     # (tgid, tid) -> [root, comm, start, last, alive]

    def scan(self):
        procs = proc_tree()
        drivers = {p for p, (pp, c) in procs.items()
                   if c == "allocstat-run" and procs.get(pp, (0, ""))[1] != c}
        now = time.monotonic_ns()
        seen = set()
        for pid in procs:
            root, p, n = None, pid, 0
            while p in procs and n < 64:
                if procs[p][0] in drivers:
                    root = p
                    break
                p, n = procs[p][0], n + 1
            if root is None:
                continue
            try:
                tids = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for tid in tids:
                try:
                    with open(f"/proc/{pid}/task/{tid}/comm") as f:
                        comm = f.read().strip().replace(" ", "\\040")
                except OSError:
                    continue
                seen.add((pid, int(tid)))
                with self.lock:
                    t = self.tasks.setdefault((pid, int(tid)),
                                              [root, comm, now, now, True])
                    t[1], t[3], t[4] = comm, now, True
        with self.lock:
            for k, t in self.tasks.items():
                if k not in seen:
                    t[4] = False

    def run(self):
        while True:
            self.scan()
            time.sleep(0.002)

    def text(self, track):
        # a task that exited since the last scan is "exited" now, as the
        # module's exit hook would have it
        self.scan()
        roots = set(track.split(",")) if track not in ("all", "none") else set()
        rows = []
        with self.lock:
            for (tgid, tid), (root, comm, start, last, alive) in \
                    sorted(self.tasks.items(), key=lambda kv: kv[1][2]):
                if str(root) not in roots:
                    continue
                vals = ["-" if c in ("vma_faults", "vma_retry")
                        else str(DELTA.get(c, 0)) for c in COLS]
                if alive:
                    task = [root, start] + ["-"] * 6
                else:
                    life = last - start
                    task = [root, start, last, 5 * MS, 2 * MS, 3 * MS, MS,
                            max(0, life - 6 * MS)]
                rows.append(" ".join(map(str, [tid, tgid, comm,
                                               "alive" if alive else "exited"]
                                         + vals + task)))
        head = (f"# allocstat 0.4.0 kernel=fake hooks=faults,zeroing,mmap_lock,fork init_on_alloc=1 "
                f"tasks={len(rows)} dropped=0 recycled=0 missed=0 track={track}\n"
                "tid tgid comm state " + " ".join(COLS + TASK_COLS) + "\n")
        return head + "".join(r + "\n" for r in rows)


def main():
    fifo = os.path.realpath(sys.argv[1])
    if len(sys.argv) > 3 and sys.argv[2] == "--tree":
        control = sys.argv[3]
        initial = sys.argv[5] if sys.argv[4:5] == ["--track"] else "none"
        tree = Tree()
        threading.Thread(target=tree.run, daemon=True).start()
    else:
        tree = None
    opts = dict(zip(sys.argv[2::2], map(int, sys.argv[3::2]))) if not tree else {}
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
                if tree:
                    f.write(tree.text(track_state(control, initial)))
                elif 0 <= fail_from <= served:
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
