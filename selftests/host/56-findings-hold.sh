#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Findings that hold when applied.  For each rule: run the case that
# triggers it in a guest of kernel series $ALLOCSTAT_KERNEL (default 6.1),
# apply the fix the finding names, run again, and compare the thread time
# saved with the saving the finding estimated.  A rule holds when the
# measured saving is at least half the estimate (which is the same as: the
# estimate at most twice the measured saving); a larger saving passes, and
# the ratio is printed.
#   runqueue        8 threads x 32 MiB (2 vCPUs) against the same work as
#                   4 runs of 2 threads (-r 4);
# Printed, not test points, because they do not hold yet (allocstat-run(1),
# FINDINGS):
#   arena_growth    2 x 64 MiB in 64 KiB blocks, then with --top-pad 64M,
#                   both with transparent huge pages on madvise only: with
#                   them always on, a heap grown 64 MiB at a time also gets
#                   huge pages, whose (double) zeroing costs more than the
#                   writes saved (6.1: saved 0.106 s of the 0.355 s
#                   estimated), which is double_zeroing's finding, not
#                   this one's; where it does not fire, what the fix saved
#                   is printed; on 6.1, runs of 1 s measured 30%, 69%
#                   and -20% of the estimate (2026-11-28): it wanders;
#   double_zeroing  2 x 128 MiB of THP, then booted with init_on_alloc=0;
#   small_pages     1 x 64 MiB of 4 KiB pages against THP.
# KTAP on stdout; exit 0 when everything passed.

SELFTESTS=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KERNEL=${ALLOCSTAT_KERNEL:-6.1}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "TAP version 13"
echo "1..1"

guest='
r() { n=$1; shift; echo "=== $n"; allocstat-run -q --require-module --json "$@" 2>/dev/null; echo "=== rc $?"; }
dmesg | grep -q "heap alloc:on" && echo "=== init_on_alloc on" || echo "=== init_on_alloc off"
r ALLOC -t 2 -s 128M -m thp
[ "$PHASE" = 2 ] && exit 0
r nothp -t 1 -s 64M -m nothp
r thp -t 1 -s 64M -m thp
r runq8 -t 8 -s 32M -m nothp
r runq2 -t 2 -s 32M -m nothp -r 4
thp=/sys/kernel/mm/transparent_hugepage/enabled
was=$(sed -n "s/.*\[\(.*\)\].*/\1/p" $thp)
echo madvise > $thp
r blocks -t 2 -s 64M -b 64K
r toppad -t 2 -s 64M -b 64K --top-pad 64M
echo "$was" > $thp
'
"$SELFTESTS/vm-run" --kernel "$KERNEL" --mem 2048 --timeout 900 --load "" --env PHASE=1 \
	-- sh -c "${guest//ALLOC/thp1}" > "$TMP/one" 2> "$TMP/err1"
rc1=$?
"$SELFTESTS/vm-run" --kernel "$KERNEL" --mem 2048 --timeout 900 --load "" --env PHASE=2 \
	--append "init_on_alloc=0" -- sh -c "${guest//ALLOC/thp0}" > "$TMP/two" 2> "$TMP/err2"
rc2=$?
[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] || { tail -n 20 "$TMP/err1" "$TMP/err2" | sed 's/^/# /'; }

python3 - "$TMP/one" "$TMP/two" "$KERNEL" "$rc1" "$rc2" <<'EOF' | tee "$TMP/ktap"
import json, sys

def sections(path):
    out, name, lines = {}, None, []
    for line in open(path, errors="replace"):
        line = line.rstrip("\r\n")
        if line.startswith("=== "):
            if line.startswith("=== rc "):
                out[name] = (line[7:], "\n".join(lines))
                name = None
            elif line.startswith("=== init_on_alloc"):
                out["init_on_alloc"] = line.endswith("on")
            else:
                name, lines = line[4:], []
            continue
        if name:
            lines.append(line)
    return out

one, two = sections(sys.argv[1]), sections(sys.argv[2])
series, rcs = sys.argv[3], sys.argv[4:6]
n = 0

def load(s, name):
    if name not in s or s[name][0] != "0":
        raise AssertionError("%s: exit %s" % (name, s.get(name, ("missing",))[0]))
    return json.loads(s[name][1])

def thread_ns(d):
    return sum(r["breakdown"]["thread_ns"] for r in d["runs"])

def finding(d, rule):
    for f in d["runs"][0]["findings"] or []:
        if f["rule"] == rule:
            return f
    return None

def judge(desc, rule, before, after, judged=True):
    global n
    n += judged
    try:
        f = finding(before, rule)
        if f is None:
            raise AssertionError("%s did not fire" % rule)
        est, got = f["saving_ns"], thread_ns(before) - thread_ns(after)
        print("# %s: estimated up to %.3f s, measured %.3f s (%.0f%% of the estimate); "
              "thread time %.3f s -> %.3f s" % (rule, est / 1e9, got / 1e9,
              100.0 * got / est if est else 0, thread_ns(before) / 1e9, thread_ns(after) / 1e9))
        if not judged:
            print("# (%s: printed, not a test point)" % desc)
            return
        # (the issue's two conditions are one: est <= 2 got <=> got >= est / 2;
        # a saving larger than estimated passes, and the ratio is printed)
        assert got >= est / 2, "measured below half the estimate"
        print("ok %d %s" % (n, desc))
    except Exception as e:
        print("# %s: %s" % (type(e).__name__, e))
        if judged:
            print("not ok %d %s" % (n, desc))

def loads(s, *names):
    try:
        return [load(s, x) for x in names]
    except Exception as e:
        print("# %s: %s" % (type(e).__name__, e))
        return [None] * len(names)

def judge_runs(desc, rule, s1, a, s2, b, judged=True):
    x, = loads(s1, a)
    y, = loads(s2, b)
    if x is None or y is None:
        global n
        n += judged
        if judged:
            print("not ok %d %s # the guest runs failed" % (n, desc))
        return
    judge(desc, rule, x, y, judged)

judge_runs("runqueue: fewer threads than CPUs saves what the finding said (8 x 32 MiB vs 4 x 2 x 32 MiB)",
           "runqueue", one, "runq8", one, "runq2")
try:
    blocks, toppad = load(one, "blocks"), load(one, "toppad")
except Exception as e:
    print("# %s: %s" % (type(e).__name__, e))
    blocks = toppad = None
if blocks is None:
    n += 1
    print("not ok %d arena_growth: the guest runs failed" % n)
elif finding(blocks, "arena_growth") or series == "6.1":
    judge("arena_growth: --top-pad 64M against the estimate (2 x 64 MiB in 64 KiB blocks)",
          "arena_growth", blocks, toppad, judged=False)
else:
    got = thread_ns(blocks) - thread_ns(toppad)
    print("# arena_growth did not fire; --top-pad 64M measured %.3f s of %.3f s" %
          (got / 1e9, thread_ns(blocks) / 1e9))
if one.get("init_on_alloc"):
    judge_runs("double_zeroing: init_on_alloc=0 against the estimate (2 x 128 MiB THP)",
               "double_zeroing", one, "thp1", two, "thp0", judged=False)
judge_runs("small_pages: THP against the estimate (1 x 64 MiB)", "small_pages",
           one, "nothp", one, "thp", judged=False)
EOF
# the exit status: whether every test point above passed
! grep -q '^not ok' "$TMP/ktap"
