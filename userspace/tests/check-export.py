#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Check allocstat-export's output against the /proc/allocstat text it came from.

Usage: check-export.py PROC_FILE PROM_FILE [--per-tid] [--static-only]
                       [--expect-tgid TGID:MIN_FAULTS:THREADS]

PROM_FILE is parsed with the Prometheus client library's own parser
(python3-prometheus-client).  The expected series are computed here, from
PROC_FILE, independently of the C code: one series per process (or per
thread with --per-tid), summed over its rows, max for the *_max columns,
a leader row after a leader row of the same tgid starting a new process.

--static-only: PROC_FILE and PROM_FILE were read at different moments, so
only processes whose rows are all `exited` are compared (and the table-level
values are not).  --expect-tgid: that process must be there, with at least
MIN_FAULTS faults and exactly THREADS rows (ground truth of a known workload).

Prints what differs; exits 0 when everything matches, 1 otherwise.
"""
import sys
from prometheus_client.parser import text_string_to_metric_families

COUNT, NS, MAX = "count", "ns", "max"
# column -> (metric, mode, kind)
COLUMNS = {
    "faults": ("allocstat_faults_total", None, COUNT),
    "fault_ns": ("allocstat_fault_seconds_total", None, NS),
    "fault_runq_ns": ("allocstat_fault_runq_seconds_total", None, NS),
    "fault_sleep_ns": ("allocstat_fault_sleep_seconds_total", None, NS),
    "fault_max_ns": ("allocstat_fault_max_seconds", None, MAX),
    "vma_faults": ("allocstat_vma_faults_total", None, COUNT),
    "vma_retry": ("allocstat_vma_fault_retries_total", None, COUNT),
    "zero_pages": ("allocstat_zeroed_pages_total", None, COUNT),
    "zero_ns": ("allocstat_zero_seconds_total", None, NS),
    "zero_runq_ns": ("allocstat_zero_runq_seconds_total", None, NS),
    "zero_sleep_ns": ("allocstat_zero_sleep_seconds_total", None, NS),
    "zero_huge": ("allocstat_huge_zeroings_total", None, COUNT),
    "zero_alloc_pages": ("allocstat_alloc_zeroed_pages_total", None, COUNT),
    "mmap_trylock_fail": ("allocstat_mmap_lock_trylock_failures_total", None, COUNT),
}
for mode in ("read", "write"):
    COLUMNS.update({
        f"mmap_{mode}": ("allocstat_mmap_lock_acquisitions_total", mode, COUNT),
        f"mmap_{mode}_wait_ns": ("allocstat_mmap_lock_wait_seconds_total", mode, NS),
        f"mmap_{mode}_wait_runq_ns": ("allocstat_mmap_lock_wait_runq_seconds_total", mode, NS),
        f"mmap_{mode}_wait_sleep_ns": ("allocstat_mmap_lock_wait_sleep_seconds_total", mode, NS),
        f"mmap_{mode}_wait_max_ns": ("allocstat_mmap_lock_wait_max_seconds", mode, MAX),
        f"mmap_{mode}_hold_ns": ("allocstat_mmap_lock_hold_seconds_total", mode, NS),
        f"mmap_{mode}_hold_max_ns": ("allocstat_mmap_lock_hold_max_seconds", mode, MAX),
    })


def read_proc(path):
    lines = open(path, encoding="utf-8", errors="surrogateescape").read().split("\n")
    head = dict(kv.split("=", 1) for kv in lines[0].split()[3:])
    head["version"] = lines[0].split()[2]
    cols = lines[1].split(" ")
    rows = []
    for line in lines[2:]:
        if not line:
            continue
        f = line.split(" ")
        if len(f) != len(cols):
            sys.exit(f"check-export: bad row in {path}: {line!r}")
        rows.append(dict(zip(cols, f)))
    return head, rows


def expected(rows, per_tid):
    """[(labels, {column: value}, threads, all_exited)] in the documented rule."""
    series, newest = [], {}
    for r in rows:
        tgid, tid = r["tgid"], r["tid"]
        key = (tgid, tid) if per_tid else tgid
        leader = tid == tgid
        cur = newest.get(key)
        if per_tid or cur is None or (leader and cur["leader"]):
            cur = {"tgid": tgid, "tid": tid, "comm": r["comm"], "leader": leader,
                   "rows": []}
            series.append(cur)
            newest[key] = cur
        elif leader and not cur["leader"]:
            cur["comm"], cur["leader"] = r["comm"], True
        cur["rows"].append(r)
    merged = {}
    for s in series:
        labels = (("tgid", s["tgid"]),) + ((("tid", s["tid"]),) if per_tid else ()) \
            + (("comm", s["comm"]),)
        merged.setdefault(labels, []).extend(s["rows"])
    out = []
    for labels, rs in merged.items():
        vals = {}
        for col, (_, _, kind) in COLUMNS.items():
            nums = [int(r[col]) for r in rs if col in r and r[col] != "-"]
            if nums:
                vals[col] = max(nums) if kind == MAX else sum(nums)
        out.append((labels, vals, len(rs), all(r["state"] == "exited" for r in rs)))
    return out


def main():
    args = sys.argv[1:]
    per_tid = "--per-tid" in args
    static = "--static-only" in args
    expect = None
    if "--expect-tgid" in args:
        expect = args[args.index("--expect-tgid") + 1].split(":")
        args.remove("--expect-tgid")
        args.remove(":".join(expect))
    proc, prom = [a for a in args if not a.startswith("--")][:2]

    head, rows = read_proc(proc)
    got, types = {}, {}
    for fam in text_string_to_metric_families(open(prom, encoding="utf-8").read()):
        types[fam.name] = fam.type
        for s in fam.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            if key in got:
                print(f"duplicate sample {key}")
                return 1
            got[key] = s.value
    errors = []

    def want(name, labels, value, ns=False):
        key = (name, tuple(sorted(labels)))
        if key not in got:
            errors.append(f"missing {name}{dict(labels)} (want {value})")
        elif ns and round(got[key] * 1e9) != value:
            errors.append(f"{name}{dict(labels)} = {got[key]!r} s, want {value} ns")
        elif not ns and got[key] != value:
            errors.append(f"{name}{dict(labels)} = {got[key]!r}, want {value}")
        got.pop(key, None)

    want("allocstat_up", (), 1)
    want("allocstat_info", (("version", head["version"]), ("kernel", head["kernel"]),
                            ("hooks", head["hooks"])), 1)
    heads = [("allocstat_table_tasks", "tasks"),
             ("allocstat_dropped_tasks_total", "dropped"),
             ("allocstat_missed_events_total", "missed")]
    if "recycled" in head:
        heads.append(("allocstat_recycled_rows_total", "recycled"))
    for name, key in heads:
        if not static:
            want(name, (), int(head[key]))
        elif got.pop((name, ()), None) is None:    # read later: any value
            errors.append(f"missing {name}")

    series = expected(rows, per_tid)
    compared = 0
    for labels, vals, threads, exited in series:
        if static and not exited:
            continue
        compared += 1
        want("allocstat_threads", labels, threads)
        for col, value in vals.items():
            name, mode, kind = COLUMNS[col]
            want(name, labels + ((("mode", mode),) if mode else ()), value, ns=kind != COUNT)
        if expect and labels[0] == ("tgid", expect[0]):
            if vals.get("faults", 0) < int(expect[1]):
                errors.append(f"tgid {expect[0]}: {vals.get('faults')} faults, want >= {expect[1]}")
            if threads != int(expect[2]):
                errors.append(f"tgid {expect[0]}: {threads} rows, want {expect[2]}")
            expect = None
    if expect:
        errors.append(f"no exited process with tgid {expect[0]} in {proc}")

    # what is left over must be series of processes not compared (static mode)
    compared_labels = {l for l, _, _, e in series if e or not static}
    for (name, labels), value in got.items():
        base = tuple(kv for kv in labels if kv[0] != "mode")
        if not static or base in compared_labels or not base:
            errors.append(f"unexpected sample {name}{dict(labels)} {value}")
    # counters are counters, the *_max_seconds and threads gauges
    for name, typ in types.items():
        if name.endswith("_max_seconds") or name in ("allocstat_threads", "allocstat_up",
                                                     "allocstat_info", "allocstat_table_tasks"):
            if typ != "gauge":
                errors.append(f"{name} has TYPE {typ}, want gauge")
        elif typ != "counter":
            errors.append(f"{name} has TYPE {typ}, want counter")

    for e in errors[:30]:
        print(e)
    print(f"{compared} series compared, {len(types)} families, {len(errors)} difference(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
