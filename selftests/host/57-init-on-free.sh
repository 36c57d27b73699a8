#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# init_on_alloc= when the kernel zeroes at free instead: a guest of kernel
# series $ALLOCSTAT_KERNEL (default 6.1) booted with init_on_free=1, where
# post_alloc_hook() skips the zeroing at allocation although init_on_alloc
# is on.  The header must say init_on_alloc=0 (as the boot log's "heap
# alloc:on, heap free:on" means), the allocator must zero (almost) nothing
# of a THP run (zero_alloc_pages), and allocstat-run must not find double
# zeroing there.  KTAP on stdout; exit 0 when everything passed.

SELFTESTS=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KERNEL=${ALLOCSTAT_KERNEL:-6.1}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

guest='
echo "=== boot"; dmesg | grep "mem auto-init"
echo "=== header"; head -1 /proc/allocstat
[ -d /sys/kernel/mm/transparent_hugepage ] || echo "=== nothp"
echo "=== thp"; allocstat-run -q --require-module --json -t 1 -s 32M -m thp 2>/dev/null; echo "=== rc $?"
'
"$SELFTESTS/vm-run" --kernel "$KERNEL" --mem 2048 --timeout 600 --load "" \
	--append "init_on_free=1" -- sh -c "$guest" > "$TMP/out" 2> "$TMP/err"
rc=$?
[ $rc -eq 0 ] || tail -n 20 "$TMP/err" | sed 's/^/# vm-run: /'

python3 - "$TMP/out" "$KERNEL" "$rc" <<'EOF' | tee "$TMP/ktap"
import json, re, sys

sec, name = {}, None
for line in open(sys.argv[1], errors="replace"):
    line = line.rstrip("\r\n")
    if line.startswith("=== "):
        name = line[4:]
        sec[name] = []
    elif name:
        sec[name].append(line)
print("TAP version 13")
print("1..3")
print("# %s booted with init_on_free=1 (vm-run exit %s)" % (sys.argv[2], sys.argv[3]))
boot = " ".join(sec.get("boot", []))
head = " ".join(sec.get("header", []))
print("# boot log: %s" % boot.strip())
print("# header: %s" % head.strip())
ok = "heap free:on" in boot and re.search(r" init_on_alloc=0 ", head) is not None
print("%s 1 the header says init_on_alloc=0 when the boot log says heap free:on" % ("ok" if ok else "not ok"))
if "nothp" in sec:
    print("ok 2 32 MiB of THP # SKIP no THP in this kernel (no /sys/kernel/mm/transparent_hugepage)")
    print("ok 3 no double_zeroing finding # SKIP no THP in this kernel")
    sys.exit(0)
try:
    if "rc 0" not in sec:
        raise AssertionError("allocstat-run failed: %s" % [k for k in sec if k.startswith("rc")])
    d = json.loads("\n".join(sec["thp"]))
    t = d["runs"][0]["per_thread"][0]
    print("# zero_pages %s zero_huge %s zero_alloc_pages %s; module.init_on_alloc %s; findings %s"
          % (t["zero_pages"], t["zero_huge"], t["zero_alloc_pages"], d["module"]["init_on_alloc"],
             [f["rule"] for f in d["runs"][0]["findings"] or []]))
    huge_pages = 32 * 1024 * 1024 // 4096
    ok2 = (t["zero_huge"] >= 16 and t["zero_pages"] >= huge_pages and
           t["zero_alloc_pages"] * 10 < t["zero_pages"] and d["module"]["init_on_alloc"] is False)
    ok3 = not any(f["rule"] == "double_zeroing" for f in d["runs"][0]["findings"] or [])
except Exception as e:
    print("# %s: %s" % (type(e).__name__, e))
    ok2 = ok3 = False
print("%s 2 32 MiB of THP: every huge page zeroed once, by the fault; the allocator zeroed under 10%%"
      % ("ok" if ok2 else "not ok"))
print("%s 3 no double_zeroing finding" % ("ok" if ok3 else "not ok"))
EOF
[ "$(grep -c '^ok ' "$TMP/ktap")" -eq 3 ]
