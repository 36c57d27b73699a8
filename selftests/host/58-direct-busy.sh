#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The direct-call hooks when another module already holds the functions'
# ftrace direct calls (as a BPF fentry/fexit program or a livepatch would):
# in a guest of kernel series $ALLOCSTAT_KERNEL (default 6.1), the bench's
# floor module (selftests/bench/floor, fault_hook=direct lock_hook=direct)
# takes handle_mm_fault() and the __mmap_lock_do_trace_*() first.  Then
# fault_hook=direct and lock_hook=direct must each refuse to load, say why
# and leave nothing behind; the default (auto) must load on the kretprobe
# and the tracepoints and count faults and mmap_lock writes; and once the
# other holder is gone the default must get the direct calls again.  KTAP
# on stdout; exit 0 when everything passed.

SELFTESTS=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KERNEL=${ALLOCSTAT_KERNEL:-6.1}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "TAP version 13"
if ! floor=$("$SELFTESTS/bench/floor/build" "$KERNEL" 2> "$TMP/build"); then
	sed 's/^/# /' "$TMP/build"
	echo "1..1"
	echo "not ok 1 the floor module builds for $KERNEL"
	exit 1
fi

guest='
P=4096
PARAM=/sys/module/allocstat/parameters/fault_hook
LPARAM=/sys/module/allocstat/parameters/lock_hook
FUNCS=/sys/kernel/tracing/enabled_functions
col() {	# column $2 of the first thread of as-workload output $1
	tid=$(sed -n "s/^thread=0 tid=\([0-9]*\) .*/\1/p" "$1")
	awk -v t="$tid" -v k="$2" "NR == 2 { for (i = 1; i <= NF; i++) c[\$i] = i } NR > 2 && \$1 == t { print \$c[k] }" /proc/allocstat
}
calls() {
	sed -n "s/^thread=0 .* calls=\([0-9]*\) .*/\1/p" "$1"
}
counts() {
	as-workload -m write -p $P > /tmp/w
	as-workload -m contend -p 1024,1024 > /tmp/c
	echo "=== $1-faults $(col /tmp/w faults)"
	echo "=== $1-writes $(col /tmp/c mmap_write) $(calls /tmp/c)"
}
echo "=== release $(uname -r)"
# A. another module holds all four functions (before 6.14; from 6.14 the
# mmap_lock stays on its tracepoints and the floor does the same)
insmod /opt/add/allocstat_floor.ko fault_hook=direct zeroing=0
echo "=== floor $?"
for p in fault_hook lock_hook; do
	mark=$(dmesg | wc -l)
	insmod $ALLOCSTAT_KO $p=direct 2>&1
	echo "=== $p $?"
	[ -d /sys/module/allocstat ] && echo "=== left module"
	[ -e /proc/allocstat ] && echo "=== left proc"
	dmesg | tail -n +$((mark + 1)) | grep "allocstat:"
done
echo "=== auto"
mark=$(dmesg | wc -l)
insmod $ALLOCSTAT_KO && echo "=== auto-rc 0"
echo "=== auto-hook $(cat $PARAM) $(cat $LPARAM)"
dmesg | tail -n +$((mark + 1)) | grep "allocstat:"
counts auto
rmmod allocstat
rmmod allocstat_floor
# B. it holds __mmap_lock_do_trace_released() only: allocstat attaches the
# other two, fails on the third and must undo the two
insmod /opt/add/allocstat_floor.ko faults=0 zeroing=0 lock_direct_released_only=1
echo "=== floor2 $?"
mark=$(dmesg | wc -l)
insmod $ALLOCSTAT_KO && echo "=== partial-rc 0"
echo "=== partial-hook $(cat $PARAM) $(cat $LPARAM)"
echo "=== partial-tramps $(grep -c "direct-->allocstat_lock.*\\[allocstat\\]" $FUNCS)"
dmesg | tail -n +$((mark + 1)) | grep "allocstat:"
counts partial
rmmod allocstat
rmmod allocstat_floor
# C. nobody else
insmod $ALLOCSTAT_KO
echo "=== after-hook $(cat $PARAM) $(cat $LPARAM)"
counts after
rmmod allocstat
echo "=== dmesg"
dmesg | grep -E "BUG|WARNING|Oops|general protection|KASAN" | head -n 5
'
"$SELFTESTS/vm-run" --kernel "$KERNEL" --mem 2048 --timeout 600 --add "$floor" \
	-- sh -c "$guest" > "$TMP/out" 2> "$TMP/err"
rc=$?
[ $rc -eq 0 ] || tail -n 20 "$TMP/err" | sed 's/^/# vm-run: /'

python3 - "$TMP/out" "$KERNEL" "$rc" <<'EOF' | tee "$TMP/ktap"
import re, sys

out = open(sys.argv[1], errors="replace").read()
print("1..7")
print("# %s, vm-run exit %s" % (sys.argv[2], sys.argv[3]))
for line in out.splitlines():
    print("# guest: " + line)
n = 0
def check(ok, what):
    global n
    n += 1
    print("%s %d %s" % ("ok" if ok else "not ok", n, what))
    return ok

def val(key):
    m = re.search(r"^=== %s (.*)$" % key, out, re.M)
    return m.group(1).strip() if m else None

def writes_ok(key):
    v = (val(key) or "").split()
    return len(v) == 2 and v[0].isdigit() and v[1].isdigit() and int(v[1]) > 0 and int(v[0]) >= int(v[1])

P = 4096
rel = val("release") or ""
m = re.match(r"(\d+)\.(\d+)", rel)
memcg_path = m is not None and (int(m.group(1)), int(m.group(2))) < (6, 14)
lock = "direct" if memcg_path else "tracepoint"
print("# %s: the mmap_lock's default is %s" % (rel, lock))

def counts_ok(key):
    f = val(key + "-faults")
    return (f is not None and f.isdigit() and P <= int(f) <= P * 1.05 + 16 and writes_ok(key + "-writes"),
            "faults of a %d-page write %s in [P, 1.05P+16], mmap_lock writes/mprotect calls %s"
            % (P, f, val(key + "-writes")))

check(val("floor") == "0" and val("floor2") == "0",
      "the floor module takes the direct calls (all of them, then __mmap_lock_do_trace_released() only)")
fh = out.split("=== fault_hook", 1)[-1].split("=== lock_hook", 1)[0]
lh = out.split("=== lock_hook", 1)[-1].split("=== auto", 1)[0]
check(val("fault_hook") not in (None, "0") and "=== left" not in out
      and re.search(r"fault_hook=direct: cannot attach to handle_mm_fault\(\) \(-16: ", fh) is not None,
      "fault_hook=direct: insmod fails, the log says -EBUSY and who may hold it, nothing is left loaded")
if memcg_path:
    check(val("lock_hook") not in (None, "0") and "=== left" not in out
          and re.search(r"lock_hook=direct: cannot attach to __mmap_lock_do_trace_start_locking\(\) \(-16: ", lh)
          is not None,
          "lock_hook=direct: insmod fails, the log says -EBUSY and who may hold it, nothing is left loaded")
else:
    check(val("lock_hook") not in (None, "0") and "=== left" not in out and "only before 6.14" in lh,
          "lock_hook=direct: refused on %s, whose tracepoints format no memcg path, nothing is left loaded" % rel)
auto = out.split("=== auto", 1)[-1].split("=== auto-faults", 1)[0]
ok, what = counts_ok("auto")
check(val("auto-rc") == "0" and val("auto-hook") == "kretprobe tracepoint"
      and "no direct call on handle_mm_fault() (-16), using a kretprobe" in auto
      and (not memcg_path or "no direct calls on the mmap_lock trace functions (-16), using the tracepoints" in auto)
      and ok,
      "the default loads on the kretprobe and the tracepoints, says why, and counts: " + what)
partial = out.split("=== partial-rc", 1)[-1].split("=== partial-faults", 1)[0]
ok, what = counts_ok("partial")
check(val("partial-rc") == "0" and val("partial-hook") == "direct tracepoint"
      and val("partial-tramps") == "0" and ok
      and (not memcg_path or "no direct calls on the mmap_lock trace functions (-16)" in partial),
      "another holding __mmap_lock_do_trace_released() only: the mmap_lock's two direct calls are undone "
      "(%s left), the tracepoints count: %s" % (val("partial-tramps"), what))
ok, what = counts_ok("after")
check(val("after-hook") == "direct " + lock and ok,
      "with the holder gone the default gets the direct calls again (%s) and counts: %s"
      % (val("after-hook"), what))
check(sys.argv[3] == "0" and out.split("=== dmesg", 1)[-1].strip() == "" and "=== dmesg" in out,
      "no BUG/WARNING/Oops in the kernel log")
EOF
! grep -q '^not ok' "$TMP/ktap" && [ "$(grep -c '^ok' "$TMP/ktap")" -eq 7 ]
