#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summarise the "R key=value ..." lines of selftests/bench/guest.sh.

Prints a table (median wall time, min/max, ratio to the module-less median,
ratio of the minima, added nanoseconds per fault), the cost of allocstat's
handlers above the floor (the same hooks with empty handlers), and writes
the same as JSON.
"""
import argparse
import json
import platform
import statistics
import sys
import time

# each configuration and its floor (the same hooks with empty handlers)
FLOOR_OF = [("all", "floor"), ("faults", "floor:faults"),
            ("zeroing", "floor:zeroing"), ("mmap_lock", "floor:mmap_lock")]


def parse(path):
    rows, notes = [], []
    with open(path, errors="replace") as f:
        for line in f:
            line = line.strip()
            if line.startswith("N "):
                notes.append(line[2:])
            if not line.startswith("R "):
                continue
            rec = {}
            for field in line[2:].split():
                k, _, v = field.partition("=")
                rec[k] = int(v) if v.isdigit() else v
            rows.append(rec)
    return rows, notes


def summarise(rows):
    groups = {}
    for r in rows:
        if "wall_ns" in r and isinstance(r["wall_ns"], int):
            groups.setdefault((r["phase"], r["cfg"]), []).append(r)
    out = {}
    for (phase, cfg), rs in groups.items():
        walls = [r["wall_ns"] for r in rs]
        out.setdefault(phase, {})[cfg] = {
            "runs": len(walls),
            "median_ns": int(statistics.median(walls)),
            "min_ns": min(walls),
            "max_ns": max(walls),
            "faults_median": int(statistics.median(r["faults"] for r in rs)),
            "args": rs[0].get("args", "").replace("_", " "),
        }
    for phase, cfgs in out.items():
        base = cfgs.get("none")
        for cfg, s in cfgs.items():
            if not base:
                continue
            s["ratio"] = round(s["median_ns"] / base["median_ns"], 3)
            # the fastest runs, least disturbed by the emulator's host
            s["ratio_of_min"] = round(s["min_ns"] / base["min_ns"], 3)
            if s["faults_median"]:
                s["added_ns_per_fault"] = round(
                    (s["median_ns"] - base["median_ns"]) / s["faults_median"], 1)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--command", default="")
    ap.add_argument("--lane", default="tcg")
    ap.add_argument("--json", required=True)
    ap.add_argument("raw")
    a = ap.parse_args()

    rows, notes = parse(a.raw)
    phases = summarise(rows)
    extra = [r for r in rows if r.get("phase") in ("read", "memory")]
    release = next((n.split()[0].split("=", 1)[1] for n in notes
                    if n.startswith("kernel=")), a.kernel)

    print(f"\n== allocstat bench, kernel {release}, {a.lane} lane ({len(rows)} measurements)")
    for n in notes:
        print(f"# {n}")
    print(f"{'phase':10} {'config':15} {'runs':>4} {'median ms':>10} {'min ms':>8} "
          f"{'max ms':>8} {'ratio':>6} {'min/min':>7} {'+ns/fault':>10}")
    for phase in sorted(phases, key=lambda p: (p.startswith("scale"), len(p), p)):
        for cfg, s in phases[phase].items():
            print(f"{phase:10} {cfg:15} {s['runs']:4} {s['median_ns']/1e6:10.1f} "
                  f"{s['min_ns']/1e6:8.1f} {s['max_ns']/1e6:8.1f} "
                  f"{s.get('ratio', 0):6.3f} {s.get('ratio_of_min', 0):7.3f} "
                  f"{s.get('added_ns_per_fault', 0):10.1f}")
    for phase in sorted(phases):
        cfgs = phases[phase]
        parts = [f"{c} {cfgs[c]['ratio'] - cfgs[f]['ratio']:+.3f}"
                 for c, f in FLOOR_OF if c in cfgs and f in cfgs and "ratio" in cfgs[c]]
        if parts:
            print(f"{phase}: allocstat's handlers above the floor (ratio minus the "
                  f"floor's): {', '.join(parts)}")
    look = phases.get("lookup", {})
    if all(c in look for c in ("none", "past0", "none50k", "past50k")):
        # allocstat's added time per fault, each against the baseline in
        # the same kernel state (fresh, or after the 50,000 processes)
        def added(cfg, base):
            return (look[cfg]["median_ns"] - look[base]["median_ns"]) / max(look[cfg]["faults_median"], 1)
        fresh, after = added("past0", "none"), added("past50k", "none50k")
        spread = max(s["max_ns"] - s["min_ns"] for s in look.values()) / max(look["past0"]["faults_median"], 1)
        print(f"lookup: allocstat adds {fresh:.1f} ns/fault on a fresh table, {after:.1f} after "
              f"50,000 past tasks (each against the module-less run in the same state; "
              f"difference {after - fresh:+.1f} ns/fault; the runs of one configuration spread "
              f"over up to {spread:.1f} ns/fault)")
        look["lookup_added_ns_per_fault"] = {"fresh": round(fresh, 1), "after_50k": round(after, 1)}
    for r in extra:
        if r["phase"] == "read":
            print(f"read /proc/allocstat: {r['rows']} rows, {r['bytes']} bytes: "
                  f"median {r['median_ns']/1e6:.1f} ms (min {r['min_ns']/1e6:.1f}, "
                  f"max {r['max_ns']/1e6:.1f})")
        else:
            print(f"memory at max_tasks={r['max_tasks']}: table {r['table_kib']} KiB, "
                  f"module text+data {int(r['coresize'])//1024} KiB, MemFree drop at "
                  f"load {r['memfree_drop_kib']} KiB")

    doc = {
        "kernel": release,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": platform.node(),
        "command": a.command,
        "lane": a.lane,
        "notes": notes,
        "phases": phases,
        "read_and_memory": extra,
    }
    with open(a.json, "w") as f:
        json.dump(doc, f, indent=1)
    if not rows:
        print("no measurements", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
