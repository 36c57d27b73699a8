#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Host checks of allocstat userspace, as one KTAP stream:
#   - the parser unit tests (build/test_allocstat_proc, samples/),
#   - allocstat-run's command line, error paths and output, without the
#     module and against fake /proc/allocstat files (ALLOCSTAT_PROC).
# Usage: tests/run-checks.sh BUILD_DIR      (run from userspace/)
# Exit 0 if everything passed, 1 otherwise.

B=${1:-build}
RUN=$B/allocstat-run
TMP=$(mktemp -d)
FAKE_PID=

out=()		# result and diagnostic lines, printed after the plan
n=0
failed=0
skipped=0

cleanup() {
	[ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

pass() { n=$((n + 1)); out+=("ok $n $1"); }
fail() { n=$((n + 1)); failed=$((failed + 1)); out+=("not ok $n $1"); }
skip() { n=$((n + 1)); skipped=$((skipped + 1)); out+=("ok $n $1 # SKIP $2"); }
diag() { while IFS= read -r l; do out+=("# $l"); done <<< "$1"; }
check() { local desc=$1; shift; if "$@"; then pass "$desc"; else fail "$desc"; fi; }

# run allocstat-run: rc, stdout in $TMP/out, stderr in $TMP/err
run() {
	"$RUN" "$@" > "$TMP/out" 2> "$TMP/err"
	rc=$?
}

# ---- the unit tests (parser, allocstat-run's logic), renumbered into this stream ----
# unit PREFIX BINARY [ARG...]
unit() {
	local prefix=$1 l
	shift
	"$@" > "$TMP/unit" 2>&1
	while IFS= read -r l; do
		case $l in
		"TAP version"*|1..*|"# Totals"*) ;;
		"ok "*"# SKIP "*) l=${l#ok [0-9]* }; skip "$prefix: ${l%% # SKIP *}" "${l#* # SKIP }" ;;
		"ok "*) pass "$prefix: ${l#ok [0-9]* }" ;;
		"not ok "*) fail "$prefix: ${l#not ok [0-9]* }" ;;
		*) out+=("$l") ;;
		esac
	done < "$TMP/unit"
}
unit parser "$B/test_allocstat_proc" samples
unit allocstat-run "$B/test_allocstat_run"

# ---- usage ----
run --help
check "--help exits 0 and shows EXAMPLES" \
	test $rc -eq 0 -a -n "$(grep EXAMPLES "$TMP/out")"

for bad in "--bogus" "-t 0" "-t 2x" "-t 1025" "-s 12Q" "-s 0" "-s -5M" \
	   "-s 99999999999999999999" "-m nope" "--touch x" "-r 0" "--findings maybe" "--loops 0" "-l x" \
	   "--sweep --compare" "-s 1M -b 2M" "--arena-max 0" \
	   "--mmap-threshold 64M" "--mmap-threshold -1" "--top-pad 2G" "--top-pad 1x" \
	   "-f /etc/passwd" "extra" "-t" "--s 1M"; do
	# shellcheck disable=SC2086
	run $bad
	check "bad usage '$bad': exit 2, one line and \"Try 'allocstat-run --help' ...\"" \
		test $rc -eq 2 -a ! -s "$TMP/out" -a "$(wc -l < "$TMP/err")" -eq 2 \
		-a "$(tail -n 1 "$TMP/err")" = "Try 'allocstat-run --help' for more information."
	diag "'$bad' -> exit $rc: $(head -n 3 "$TMP/err" | tr '\n' '|')"
done

version=$(sed -n 's/^#define ALLOCSTAT_VERSION[[:space:]]*"\(.*\)"/\1/p' ../module/allocstat.h)
for v in --version -V; do
	run $v
	check "$v: exit 0, prints 'allocstat-run $version' (module/allocstat.h)" \
		test $rc -eq 0 -a -n "$version" -a "$(cat "$TMP/out")" = "allocstat-run $version" -a ! -s "$TMP/err"
done

# ---- memory check ----
start=$(date +%s%N)
ALLOCSTAT_PROC=/nonexistent run -t 4 -s 1T
ms=$(( ($(date +%s%N) - start) / 1000000 ))
diag "$(cat "$TMP/err") (${ms} ms)"
check "4 x 1 TiB is refused before allocating, with the numbers (exit 1)" \
	test $rc -eq 1 -a ! -s "$TMP/out" -a -n "$(grep 'MemAvailable is .*bytes' "$TMP/err")" -a $ms -lt 2000
# 2^49 blocks of a page each, x 1024 threads: 2^71 bytes, which wrap to 0 in 64 bits
ALLOCSTAT_PROC=/nonexistent run -t 1024 -s 512T -b 1 -m mmap
diag "$(cat "$TMP/err")"
check "1024 x 512 TiB in 1-byte blocks is refused too (the estimate does not wrap around)" \
	test $rc -eq 1 -a ! -s "$TMP/out" -a -n "$(grep 'MemAvailable is .*bytes' "$TMP/err")"

# the estimate against what the run really took (its process's peak RSS):
# 16-byte blocks take 4 x their payload (32-byte chunks, 32 bytes of
# bookkeeping each)
ALLOCSTAT_PROC=/nonexistent run -t 1 -s 32M -b 16 --json -q
python3 - "$TMP/out" > "$TMP/py" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
est, rss = d["config"]["memory_estimate"], d["runs"][0]["max_rss"]
print("-t 1 -s 32M -b 16: estimate %d bytes (%.2f x payload), peak RSS %d (%.2f x payload)"
      % (est, est / (32 << 20), rss, rss / (32 << 20)))
assert est >= 2 * (32 << 20), "estimate below 2 x the payload"
assert est >= 0.9 * rss, "estimate below 90% of the peak RSS"
PY
pyrc=$?
diag "$(cat "$TMP/py")"
check "memory check: -b 16 is estimated at >= 2 x the payload and >= 90% of the run's peak RSS" \
	test $rc -eq 0 -a $pyrc -eq 0

# ---- without the module ----
ALLOCSTAT_PROC=/nonexistent run -t 2 -s 8M -m nothp
diag "$(cat "$TMP/out")"
check "without the module: runs, exit 0" test $rc -eq 0
check "without the module: says so on exactly one line" \
	test "$(grep -c 'module not loaded' "$TMP/out")" -eq 1
check "without the module: two thread rows with >= 2048 minor faults" \
	test "$(awk '$1 ~ /^[0-9]+$/ && $6 >= 2048' "$TMP/out" | wc -l)" -eq 2

ALLOCSTAT_PROC=/nonexistent run -t 1 -s 1M --require-module
diag "$(cat "$TMP/err")"
check "--require-module without the module exits 1 and explains" \
	test $rc -eq 1 -a -n "$(grep 'module not loaded' "$TMP/err")" -a ! -s "$TMP/out"

# unreadable file: as nobody when we are root
cp samples/hand-written-6.1.txt "$TMP/proc-0600"
chmod 0600 "$TMP/proc-0600"
chmod 0755 "$TMP"
cp "$RUN" "$TMP/allocstat-run"	# reachable by nobody wherever the tree is
asuser=()
if [ "$(id -u)" = 0 ]; then
	if command -v setpriv > /dev/null; then
		asuser=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	fi
fi
if [ "$(id -u)" != 0 ] || [ ${#asuser[@]} -gt 0 ]; then
	ALLOCSTAT_PROC=$TMP/proc-0600 "${asuser[@]}" "$TMP/allocstat-run" -t 1 -s 1M --require-module \
		> "$TMP/out" 2> "$TMP/err"
	rc=$?
	diag "$(cat "$TMP/err")"
	check "unreadable /proc/allocstat with --require-module: exit 1, says it needs root" \
		test $rc -eq 1 -a -n "$(grep 'needs root' "$TMP/err")"
	ALLOCSTAT_PROC=$TMP/proc-0600 "${asuser[@]}" "$TMP/allocstat-run" -t 1 -s 1M \
		> "$TMP/out" 2> "$TMP/err"
	rc=$?
	check "unreadable /proc/allocstat: still runs and says it needs root" \
		test $rc -eq 0 -a "$(grep -c 'needs root' "$TMP/out")" -eq 1
else
	skip "unreadable /proc/allocstat with --require-module" "root without setpriv"
	skip "unreadable /proc/allocstat: still runs" "root without setpriv"
fi

printf 'tid tgid comm state\n' > "$TMP/proc-bad"
ALLOCSTAT_PROC=$TMP/proc-bad run -t 1 -s 1M --require-module
diag "$(cat "$TMP/err")"
check "malformed /proc/allocstat (no title line) with --require-module: exit 1" \
	test $rc -eq 1 -a -n "$(grep 'cannot parse' "$TMP/err")"

# ---- with a fake module (FIFO served by tests/fake-allocstat.py) ----
fake_stop() {
	[ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null && wait "$FAKE_PID" 2>/dev/null
	FAKE_PID=
}
# fake ARGS...: serve $TMP/fifo with a new tests/fake-allocstat.py ARGS
fake() {
	fake_stop
	python3 tests/fake-allocstat.py "$TMP/fifo" "$@" &
	FAKE_PID=$!
}
mkfifo "$TMP/fifo"
fake
ALLOCSTAT_PROC=$TMP/fifo run -t 3 -s 8M -m nothp --json --require-module
cp "$TMP/out" "$TMP/fake.json"
python3 - "$TMP/fake.json" > "$TMP/py" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["module"]["loaded"] and d["module"]["kernel"] == "fake", d["module"]
assert d["module"]["hooks"] == ["faults", "zeroing", "mmap_lock"]
(run,) = d["runs"]
assert run["counters"] and len(run["per_thread"]) == 3
for t in run["per_thread"]:
    assert t["matched"], t
    assert t["faults"] == 5000 and t["zero_pages"] == 4000, t
    assert t["fault_ns"] == 3000000 and t["zero_ns"] == 2000000, t
    assert t["mmap_read_wait_ns"] == 250000 and t["mmap_write"] == 3, t
    assert t["fault_max_ns"] == 104, t  # maxima: the task's, not deltas (BASE)
    assert t["vma_faults"] is None and t["vma_retry"] is None, t
    assert t["mmap_trylock_fail"] == 0, t
assert d["schema"] == "allocstat-run/3", d["schema"]
# the buckets from the fake's deltas: on CPU = total - runq - sleep
for t in run["per_thread"]:
    b = t["breakdown"]
    assert "fault_ns" not in b and "zero_ns" not in b, "a module column's name in the breakdown"
    assert b["zero_cpu_ns"] == 2000000 - 200000, b
    assert b["fault_cpu_ns"] == 3000000 - 500000 - 100000 - 1800000, b
    assert b["lock_wait_ns"] == 250000 - 50000 + 1000, b
    assert b["lock_wait_sleep_ns"] == 100000, b
    assert b["user_ns"] == t["utime_ns"], b
    assert b["sys_other_ns"] == t["stime_ns"] - 2400000 - 101000, (b, t)
    assert b["includes"] == {} or set(b["includes"]) <= {"unexplained_ns", "sleep_other_ns"}, b
bd = run["breakdown"]
assert bd["threads"] == 3 and bd["threads_with_rows"] == 3, bd
assert bd["zero_cpu_ns"] == 3 * 1800000 and bd["known_threads"]["zero_cpu_ns"] == 3, bd
print("3 threads: faults 5000, zero_pages 4000 each; tid-reuse rows ignored; buckets from the deltas")
PY
pyrc=$?
diag "$(cat "$TMP/py" "$TMP/err")"
check "fake module: per-thread deltas by tid, last row wins, '-' is null" test $rc -eq 0 -a $pyrc -eq 0

ALLOCSTAT_PROC=$TMP/fifo run -t 2 -s 8M -m nothp
diag "$(cat "$TMP/out" "$TMP/err")"
check "fake module: text report has counters and 'where the time went'" \
	test $rc -eq 0 -a -n "$(grep 'where the time went' "$TMP/out")" \
	-a "$(awk '$1 ~ /^[0-9]+$/ && $7 == 5000 && $9 == 4000' "$TMP/out" | wc -l)" -eq 2

# a snapshot that fails after the first read: no module columns, a note
for at in 1:before 2:after; do
	fake --fail-from "${at%%:*}"
	ALLOCSTAT_PROC=$TMP/fifo run -t 2 -s 8M -m nothp
	diag "$(cat "$TMP/err")"
	check "snapshot ${at#*:} the run fails: exit 0, one line on stderr, report without module columns" \
		test $rc -eq 0 -a "$(wc -l < "$TMP/err")" -eq 1 \
		-a -n "$(grep 'without the module.s counters' "$TMP/err")" \
		-a -n "$(grep '^thr .* minflt$' "$TMP/out")" -a -n "$(grep 'where the time went' "$TMP/out")"
	fake --fail-from "${at%%:*}"
	ALLOCSTAT_PROC=$TMP/fifo run -t 2 -s 8M -m nothp --require-module
	check "snapshot ${at#*:} the run fails with --require-module: exit 1, no report" \
		test $rc -eq 1 -a ! -s "$TMP/out" -a -n "$(grep 'cannot parse\|missing' "$TMP/err")"
done

# tasks= that does not match the rows: reported, the counters still used
fake --tasks-off-by 2
ALLOCSTAT_PROC=$TMP/fifo run -t 2 -s 8M -m nothp --require-module
diag "$(cat "$TMP/err")"
check "tasks= off by 2 from the rows: a note names both, the counters are shown" \
	test $rc -eq 0 -a -n "$(grep 'note: .*tasks=[0-9]* in the header, [0-9]* rows read' "$TMP/err")" \
	-a "$(awk '$1 ~ /^[0-9]+$/ && $7 == 5000' "$TMP/out" | wc -l)" -eq 2
fake_stop

# ---- JSON ----
# without the module: the buckets that need it are null, and sys_other says
# it holds them; a path with "é" (C3 A9) and an invalid byte (FF)
uni=$TMP/$'\xc3\xa9\xff'
head -c 1048576 /dev/zero > "$uni"
ALLOCSTAT_PROC=$uni/none run -t 1 -s 1M -m file -f "$uni" --json -q
python3 - "$TMP/out" "$TMP" > "$TMP/py" 2>&1 <<'PY'
import json, sys
raw = open(sys.argv[1], "rb").read()
d = json.loads(raw.decode("utf-8"))          # strict: the output is UTF-8
want = sys.argv[2] + "/\u00e9\ufffd"
print("file %r, module.path %r" % (d["config"]["file"], d["module"]["path"]))
assert d["config"]["file"] == want, d["config"]["file"]
assert d["module"]["path"] == want + "/none", d["module"]["path"]
assert want in d["module"]["reason"], d["module"]["reason"]
assert b"\\u00c3" not in raw, "UTF-8 escaped byte by byte"
bd = d["runs"][0]["breakdown"]
print("breakdown without the module: %s" % bd)
for k in ("zero_cpu_ns", "fault_cpu_ns", "lock_wait_ns"):
    assert bd[k] is None and bd["known_threads"][k] == 0, (k, bd)
assert set(bd["includes"]["sys_other_ns"]) == {"zero_cpu_ns", "fault_cpu_ns", "lock_wait_ns"}, bd
assert bd["user_ns"] is not None and bd["sys_other_ns"] is not None, bd
PY
pyrc=$?
diag "$(cat "$TMP/py")"
check "JSON: 'é' passes as UTF-8, an invalid byte is U+FFFD; without the module the parts are null" \
	test $rc -eq 0 -a $pyrc -eq 0

# ---- methods, touch modes, modes ----
export ALLOCSTAT_PROC=/nonexistent
for m in malloc mmap populate thp nothp file; do
	run -t 2 -s 4M -m "$m" -q
	check "method $m runs (2 x 4 MiB)" test $rc -eq 0
done
for t in read memset; do
	run -t 2 -s 4M --touch "$t"
	check "--touch $t runs" test $rc -eq 0
done
run -t 2 -s 8M -b 64K --arena-max 1 --mmap-threshold 128K -r 2
check "--block 64K --arena-max 1 --mmap-threshold 128K --repeat 2: two reports" \
	test $rc -eq 0 -a "$(grep -c '^wall time' "$TMP/out")" -eq 2

# thp and the PMD size
pmd=$(cat /sys/kernel/mm/transparent_hugepage/hpage_pmd_size 2>/dev/null)
run -m thp -t 1 -s 4M -b 64K -q --json
diag "$(cat "$TMP/err")"
check "thp with 64 KiB blocks: a warning names the PMD size (${pmd:-unreadable: 2 MiB assumed}), JSON has it" \
	test $rc -eq 0 -a -n "$(grep 'warning: --method thp with 64KiB blocks: a block smaller than the PMD size' "$TMP/err")" \
	-a "$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d["config"]["pmd_size"], len(d["warnings"]))' "$TMP/out")" = "${pmd:-2097152} $([ -n "$pmd" ] && echo 1 || echo 2)"
run -m thp -t 1 -s "$(( ${pmd:-2097152} / 1024 ))K" -q
diag "$(cat "$TMP/err")"
check "thp with one block of the PMD size: no warning about it" \
	test $rc -eq 0 -a -z "$(grep 'PMD size' "$TMP/err")"

# vm.max_map_count: thp blocks of 4 KiB make 2 mappings each
maps=$(cat /proc/sys/vm/max_map_count 2>/dev/null)
if [ -n "$maps" ] && [ "$maps" -le 262144 ]; then
	run -m thp -t 1 -s "$((maps * 4))K" -b 4K -q
	diag "$(cat "$TMP/err")"
	check "$maps thp blocks: the failure names max_map_count ($maps) and the mappings needed ($((maps * 3)))" \
		test $rc -eq 1 -a ! -s "$TMP/out" \
		-a -n "$(grep "up to $((maps * 3)) memory mappings (1 threads x $maps blocks.*max_map_count ($maps)" "$TMP/err")"
else
	skip "thp blocks beyond max_map_count" "vm.max_map_count is ${maps:-unreadable}: the run would need more than 1 GiB"
fi

# glibc's knobs: silent no-ops are warned about
# knob ARGS: run -t 1 -q ARGS, "warned" if a knob's warning is on stderr
knob() {
	run -t 1 -q "$@"
	diag "$* -> exit $rc: $(cat "$TMP/err")"
	if [ $rc -ne 0 ]; then echo "exit $rc"; elif grep -q 'warning: --' "$TMP/err"; then echo warned; else echo quiet; fi
}
check "--arena-max with one 64 MiB block (above 32 MiB, always mmapped): warned" \
	test "$(knob -s 64M --arena-max 2)" = warned -a -n "$(grep 'arena-max has no effect' "$TMP/err")"
check "--top-pad with 1 MiB blocks at --mmap-threshold 1M: warned" \
	test "$(knob -s 4M -b 1M --mmap-threshold 1M --top-pad 1M)" = warned -a -n "$(grep 'top-pad has no effect' "$TMP/err")"
check "--mmap-threshold 1M with one 64 MiB block (above any threshold): warned" \
	test "$(knob -s 64M --mmap-threshold 1M)" = warned -a -n "$(grep 'mmap-threshold has no effect' "$TMP/err")"
check "--arena-max with --method mmap: warned (malloc, file and reuse only)" \
	test "$(knob -s 4M -m mmap --arena-max 2)" = warned -a -n "$(grep 'only for --method malloc, file and reuse' "$TMP/err")"
check "--arena-max with 64 KiB blocks (arena chunks): no warning" \
	test "$(knob -s 4M -b 64K --arena-max 2)" = quiet
check "--arena-max with 1 MiB blocks (glibc may raise its threshold past them): no warning" \
	test "$(knob -s 4M -b 1M --arena-max 2)" = quiet
check "--mmap-threshold 0 is accepted (every block mmapped)" \
	test "$(knob -s 1M -b 64K --mmap-threshold 0)" = quiet

env -u GLIBC_TUNABLES "$RUN" -t 1 -s 1M -q --json > "$TMP/out" 2> "$TMP/err"
GLIBC_TUNABLES=glibc.malloc.mmap_threshold=65536 run -t 1 -s 1M -b 64K --arena-max 2 --top-pad 1M -q --json
python3 - "$TMP/out" "$TMP/err" > "$TMP/py" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
c = d["config"]
print("glibc_tunables %r, top_pad %r, warnings %r" % (c["glibc_tunables"], c["top_pad"], d["warnings"]))
assert c["glibc_tunables"] == "glibc.malloc.mmap_threshold=65536", c
assert c["top_pad"] == 1 << 20 and c["arena_max"] == 2, c
assert any("arena-max has no effect" in w and "GLIBC_TUNABLES" in w for w in d["warnings"]), d["warnings"]
PY
pyrc=$?
diag "$(cat "$TMP/py")"
check "JSON: GLIBC_TUNABLES recorded, its mmap_threshold taken into account; --top-pad recorded" \
	test $rc -eq 0 -a $pyrc -eq 0 \
	-a "$(env -u GLIBC_TUNABLES "$RUN" -t 1 -s 1M -q --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["config"]["glibc_tunables"])')" = None

# --top-pad: arena heaps made whole at once instead of mprotect()ed page by page
if command -v strace > /dev/null; then
	counts=
	rcs=
	for pad in "" "--top-pad 64M"; do
		# shellcheck disable=SC2086
		strace -f -c -e trace=mprotect -o "$TMP/strace" "$RUN" -t 2 -s 64M -b 64K -q $pad \
			> /dev/null 2> "$TMP/err"
		rcs="$rcs $?"
		counts="$counts $(awk '$NF == "mprotect" { print $4 }' "$TMP/strace")"
	done
	read -r plain padded <<< "$counts"
	diag "mprotect calls, -t 2 -s 64M -b 64K: ${plain:-none} without --top-pad, ${padded:-none} with --top-pad 64M (exit statuses$rcs)"
	if [ -z "$plain" ] && grep -q -i 'ptrace\|permission' "$TMP/err" "$TMP/strace"; then
		skip "--top-pad 64M: mprotect calls" "strace cannot trace here: $(head -n 1 "$TMP/strace")"
	else
		check "--top-pad 64M: mprotect calls drop from >= 1000 to <= 50 (-t 2 -s 64M -b 64K)" \
			test "$rcs" = " 0 0" -a "${plain:-0}" -ge 1000 -a -n "$padded" -a "${padded:-999}" -le 50
	fi
else
	skip "--top-pad 64M: mprotect calls" "strace is not installed (apt-get install strace)"
fi

head -c 1048576 /dev/zero > "$TMP/small"
run -t 1 -s 4M -m file -f "$TMP/small"
diag "$(cat "$TMP/err")"
check "--method file with a file shorter than --size: exit 1, no report" \
	test $rc -eq 1 -a ! -s "$TMP/out" -a -n "$(grep 'needs' "$TMP/err")"

( ulimit -v 400000; "$RUN" -t 2 -s 300M -m mmap > "$TMP/out" 2> "$TMP/err" ); rc=$?
diag "$(cat "$TMP/err")"
check "a failed mmap names the call and errno, exit 1, no partial report" \
	test $rc -eq 1 -a ! -s "$TMP/out" -a -n "$(grep 'mmap of .* failed: Cannot allocate memory' "$TMP/err")"

run -t 3 -s 4M --sweep --json --svg "$TMP/sweep.svg"
python3 - "$TMP/out" "$TMP/sweep.svg" > "$TMP/py" 2>&1 <<'PY'
import json, sys, xml.dom.minidom
d = json.load(open(sys.argv[1]))
assert [s["threads"] for s in d["sweep"]] == [1, 2, 3], d["sweep"]
assert d["sweep"][0]["thread_slowdown"] == 1.0
# the per-bucket change against 1 thread, from the runs' own buckets
one = d["runs"][d["sweep"][0]["run"]]["breakdown"]
for s in d["sweep"][1:]:
    b = d["runs"][s["run"]]["breakdown"]
    for k, v in s["bucket_delta_ns"].items():
        if b[k] is None or one[k] is None:
            assert v is None, (k, s)
        else:
            want = b[k] / b["threads"] - one[k] / one["threads"]
            assert abs(v - want) <= 1, (k, v, want)
doc = xml.dom.minidom.parse(sys.argv[2])
legend = [t.firstChild.data for t in doc.getElementsByTagName("text")
          if t.firstChild and not t.getAttribute("text-anchor")][2:]
print("sweep 1, 2, 3 threads; svg is well-formed XML; legend %s" % legend)
assert legend == ["user-mode CPU", "page zeroing, on CPU", "other fault handling, on CPU",
                  "waiting for the mmap_lock", "waiting for a CPU (runqueue)",
                  "other kernel CPU", "asleep, not on the mmap_lock", "unexplained"], legend
PY
pyrc=$?
diag "$(cat "$TMP/py")"
check "--sweep -t 3: 1, 2, 3 threads in JSON, SVG written, its legend names what the bars hold" \
	test $rc -eq 0 -a $pyrc -eq 0

run -t 2 -s 4M --compare --svg "$TMP/compare.svg"
diag "$(cat "$TMP/out")"
check "--compare: 12 ranked configurations (top_pad, arena_max, populate_write, reuse, file_mmap among them), SVG with 12 bars" \
	test $rc -eq 0 -a "$(grep -cE '^ +~?[0-9]+ ' "$TMP/out")" -eq 12 \
	-a -n "$(grep -E '^ +~?[0-9]+ malloc/64KiB,top_pad=64MiB ' "$TMP/out")" \
	-a -n "$(grep -E '^ +~?[0-9]+ malloc/64KiB,arena_max=1 ' "$TMP/out")" \
	-a -n "$(grep -E '^ +~?[0-9]+ populate_write ' "$TMP/out")" \
	-a -n "$(grep -E '^ +~?[0-9]+ reuse ' "$TMP/out")" \
	-a -n "$(grep -E '^ +~?[0-9]+ file_mmap ' "$TMP/out")" \
	-a "$(grep -cE '>[0-9.]+ s</text>' "$TMP/compare.svg")" -eq 12

# --loops: malloc faults the buffer in again each loop, reuse once
run -t 1 -s 4M -m nothp --loops 3 --json -q
cp "$TMP/out" "$TMP/loops.json"
run -t 1 -s 4M -m reuse --loops 3 --json -q
python3 - "$TMP/loops.json" "$TMP/out" > "$TMP/py" 2>&1 <<'PY'
import json, sys
pages = 4 * 1024 * 1024 // 4096
fresh = json.load(open(sys.argv[1]))["runs"][0]["per_thread"][0]
reuse = json.load(open(sys.argv[2]))["runs"][0]["per_thread"][0]
print("--loops 3, %d pages: nothp minflt %d, reuse minflt %d" % (pages, fresh["minflt"], reuse["minflt"]))
assert 3 * pages <= fresh["minflt"] <= 3 * pages + 64, fresh["minflt"]
assert pages <= reuse["minflt"] <= pages + 64, reuse["minflt"]
PY
pyrc=$?
diag "$(cat "$TMP/py")"
check "--loops 3: nothp faults 3x the pages, reuse (one buffer) 1x" test $rc -eq 0 -a $pyrc -eq 0

run -t 1 -s 4M -m file_mmap -b 64K
diag "$(grep -A2 '^thr' "$TMP/out" | head -3)"
check "file_mmap with 64 KiB blocks runs (exit 0, one thread row)" \
	test $rc -eq 0 -a "$(awk '$1 == 0' "$TMP/out" | head -1 | wc -l)" -eq 1
run -t 1 -s 4M -m file_mmap -b 6000
check "file_mmap with a block that is not a page multiple: usage error, exit 2" \
	test $rc -eq 2 -a -n "$(grep 'multiple of the page size' "$TMP/err")"

# kernel.sched_schedstats, through a stand-in file ($ALLOCSTAT_SCHEDSTATS):
# on during the run, 0 again after it, also when the reader of the output
# goes away (SIGPIPE) or allocstat-run is killed by SIGTERM
ss=$TMP/sched_schedstats
echo 0 > "$ss"
ALLOCSTAT_SCHEDSTATS=$ss run -t 1 -s 4M -q
check "sched_schedstats stand-in: 0 after a run (exit $rc)" test $rc -eq 0 -a "$(cat "$ss")" = 0
echo 0 > "$ss"
ALLOCSTAT_SCHEDSTATS=$ss "$B/allocstat-run" -t 200 -s 64K -m mmap -j -q 2>/dev/null | head -c 10 > /dev/null
check "sched_schedstats stand-in: 0 after the output's reader went away (SIGPIPE)" test "$(cat "$ss")" = 0
echo 0 > "$ss"
ALLOCSTAT_SCHEDSTATS=$ss "$B/allocstat-run" -t 1 -s 16M -m nothp --loops 100000 -q > /dev/null 2>&1 &
pid=$!
for _ in $(seq 50); do [ "$(cat "$ss")" = 1 ] && break; sleep 0.1; done
on=$(cat "$ss")
kill -TERM $pid
wait $pid
rc=$?
sleep 0.5
left=$(pgrep -f -- "--loops 100000" | wc -l)
check "SIGTERM during a run: sysctl was 1, is 0 again, exit 143, no run left behind ($left)" \
	test "$on" = 1 -a "$(cat "$ss")" = 0 -a $rc -eq 143 -a "$left" -eq 0
pkill -KILL -f -- "--loops 100000" 2>/dev/null

# 600 threads need 1264 descriptors: the soft limit is raised to the hard one
(ulimit -S -n 1024; exec "$B/allocstat-run" -t 600 -s 64K -m mmap --json -q) > "$TMP/out" 2> "$TMP/err"
rc=$?
python3 - "$TMP/out" > "$TMP/py" 2>&1 <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["runs"][0]["per_thread"]
bad = [x["index"] for x in t if x["run_delay_ns"] is None]
print("600 threads, soft limit 1024: %d without run_delay" % len(bad))
assert len(t) == 600 and not bad, bad[:10]
PY
pyrc=$?
diag "$(cat "$TMP/py" "$TMP/err" | head -5)"
if [ "$(ulimit -H -n)" != unlimited ] && [ "$(ulimit -H -n)" -lt 1264 ]; then
	skip "600 threads under a soft limit of 1024" "the hard limit, $(ulimit -H -n), is below 1264"
else
	check "600 threads under a soft limit of 1024: exit 0, every thread has its run_delay" \
		test $rc -eq 0 -a $pyrc -eq 0
fi
# ... and under a hard limit of 256: a warning, and the report says why
(ulimit -n 256; exec "$B/allocstat-run" -t 600 -s 64K -m mmap -q) > "$TMP/out" 2> "$TMP/err"
rc=$?
diag "$(grep -h 'open files\|could not open' "$TMP/err" "$TMP/out" | head -3)"
check "600 threads under a hard limit of 256: exit 0, a warning, '-' with the reason" \
	test $rc -eq 0 -a -n "$(grep 'need 1264 open files and the limit is 256' "$TMP/err")" \
	-a -n "$(grep 'threads could not open .*Too many open files' "$TMP/out")"

# the order of the runs, from the JSON (runs[] in the order they ran)
run -t 1 -s 2M --compare --json -q
python3 - "$TMP/out" > "$TMP/py" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
runs, cmp = d["runs"], d["compare"]
labels = [r["label"] for r in runs]
n = len(cmp)
print("repeat %s, %d runs: %s" % (d["config"]["repeat"], len(runs), " ".join(labels)))
assert d["config"]["repeat"] == 3, "default repeat of --compare is not 3"
assert len(runs) == 3 * n, len(runs)
assert labels == labels[:n] * 3, "not interleaved"
assert [r["rep"] for r in runs] == [i // n for i in range(3 * n)], "reps"
prev = None
for c in cmp:
    reps = [r["wall_ns"] for r in runs if r["label"] == c["label"]]
    assert (c["wall_min_ns"], c["wall_max_ns"]) == (min(reps), max(reps)), (c, reps)
    assert c["wall_ns"] == sorted(reps)[1], (c, reps)
    want = prev is not None and min(reps) <= prev
    assert c["within_spread"] == want, (c, prev)
    prev = max(reps)
    print("%d %s %d-%d within %s" % (c["rank"], c["label"], c["wall_min_ns"], c["wall_max_ns"], c["within_spread"]))
PY
pyrc=$?
diag "$(cat "$TMP/py")"
check "--compare: 3 repetitions by default, interleaved (A B C A B C), min-max and spread marks in JSON" \
	test $rc -eq 0 -a $pyrc -eq 0

# ---- observing a program: -- CMD, -p PID ----
# none of the expected values below come from a run of allocstat-run: they
# are what the shell, printf and the fake module were made to produce
export ALLOCSTAT_PROC=/nonexistent
run -- sh -c 'exit 7'
diag "$(cat "$TMP/err")"
check "-- sh -c 'exit 7': exit 7, says the module is not loaded, report on stderr, stdout empty" \
	test $rc -eq 7 -a -n "$(grep 'module not loaded' "$TMP/err")" \
	-a -n "$(grep "^allocstat-run: command: sh -c 'exit 7'\$" "$TMP/err")" -a ! -s "$TMP/out"

# CMD's stdout byte for byte: a NUL, no final newline; and its stderr
printf 'a\000b\nno newline' > "$TMP/want"
run -- sh -c 'printf "a\\000b\\nno newline"; echo to-stderr >&2'
check "-- CMD: CMD's stdout passes through byte-exact (NUL, no final newline), exit 0" \
	test $rc -eq 0 -a "$(cmp "$TMP/want" "$TMP/out" > /dev/null 2>&1; echo $?)" -eq 0
check "-- CMD: CMD's stderr passes through, before the report" \
	test "$(grep -n -m1 '' "$TMP/err" | grep -c to-stderr)" -eq 0 -a \
	"$(grep -c '^to-stderr$' "$TMP/err")" -eq 1

run -- /nonexistent/no-such-command arg
diag "$(cat "$TMP/err")"
check "-- CMD not found: exit 127, 'allocstat-run: CMD: No such file or directory', no report" \
	test $rc -eq 127 -a -n "$(grep -x 'allocstat-run: /nonexistent/no-such-command: No such file or directory' "$TMP/err")" \
	-a -z "$(grep 'process tree' "$TMP/err")" -a ! -s "$TMP/out"
run -- no-such-command-allocstat
check "-- CMD not in PATH: exit 127" test $rc -eq 127
printf 'echo hi\n' > "$TMP/noexec"
chmod 0644 "$TMP/noexec"
run -- "$TMP/noexec"
diag "$(cat "$TMP/err")"
if [ "$(id -u)" = 0 ] && [ -x "$TMP/noexec" ]; then
	skip "-- CMD not executable: exit 126" "root may execute it"
else
	check "-- CMD not executable: exit 126, Permission denied" \
		test $rc -eq 126 -a -n "$(grep 'noexec: Permission denied' "$TMP/err")"
fi
run -- sh -c 'kill -TERM $$'
check "-- CMD killed by SIGTERM: exit 128+15" test $rc -eq 143
run -- sh -c 'kill -INT $$'
check "-- CMD killed by SIGINT: exit 128+2 (allocstat-run ignored it, CMD did not)" test $rc -eq 130

run -o "$TMP/report" -- sh -c 'echo out; exit 3'
check "-o FILE: the report in FILE, not on stderr; CMD's stdout untouched; exit 3" \
	test $rc -eq 3 -a "$(cat "$TMP/out")" = out \
	-a -n "$(grep '^allocstat-run: command:' "$TMP/report")" \
	-a -z "$(grep '^allocstat-run: command:' "$TMP/err")"
run -o /nonexistent/dir/report -- true
check "-o into a missing directory: exit 1, names the file, CMD not run" \
	test $rc -eq 1 -a -n "$(grep '/nonexistent/dir/report' "$TMP/err")"
run --require-module -- sh -c 'echo ran'
check "--require-module -- CMD without the module: exit 1, CMD not run" \
	test $rc -eq 1 -a ! -s "$TMP/out"

for bad in "--" "-p 1 -- true" "-d 1" "-i 1" "-p 0" "-p x" "-p 1 -d 0" "-p 1 -d -1" \
	   "-p 1 -i 1x" "-o f" "-t 2 -- true" "--sweep -- true" "-m mmap -p 1" "true"; do
	# shellcheck disable=SC2086
	run $bad
	check "bad usage '$bad': exit 2, one line and \"Try 'allocstat-run --help' ...\"" \
		test $rc -eq 2 -a ! -s "$TMP/out" -a "$(wc -l < "$TMP/err")" -eq 2 \
		-a "$(tail -n 1 "$TMP/err")" = "Try 'allocstat-run --help' for more information."
	diag "'$bad' -> exit $rc: $(head -n 1 "$TMP/err")"
done

# -p without the module: a sleeping process for 0.5 s
sleep 5 &
spid=$!
run -p $spid -d 0.5 --json
kill $spid 2>/dev/null
wait $spid 2>/dev/null
[ -r /proc/self/schedstat ] && sched=1 || sched=0
python3 - "$TMP/out" "$spid" "$sched" > "$TMP/py" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
pid, sched = int(sys.argv[2]), sys.argv[3] == "1"
assert d["schema"] == "allocstat-run/4", d["schema"]
assert d["command"] is None and d["attach"]["pid"] == pid, d["attach"]
w = d["attach"]["window_ns"]
assert 0.5e9 <= w < 1.5e9, w
t = d["runs"][0]["per_thread"]
assert [x["tid"] for x in t] == [pid], t
t = t[0]
print("window_ns", w, "thread_ns", t["thread_ns"], "cpu_ns", t["cpu_ns"],
      "comm", t["comm"], "state", t["state"])
assert t["comm"] == "sleep" and t["state"] == "alive" and not t["matched"]
assert t["thread_ns"] == w, (t["thread_ns"], w)
# the scheduler's numbers: known where schedstat is, else null, never 0
if sched:
    assert t["cpu_ns"] is not None and t["run_delay_ns"] is not None
else:
    assert t["cpu_ns"] is None and t["run_delay_ns"] is None and t["utime_ns"] is None
    assert t["breakdown"]["user_ns"] is None and t["breakdown"]["unexplained_ns"] is None
assert all(t[c] is None for c in ("faults", "zero_pages")), t
PY
pyrc=$?
diag "$(cat "$TMP/py" "$TMP/err")"
check "-p PID -d 0.5 --json without the module: schema 4, the one thread, its time = the window, unknown = null" \
	test $rc -eq 0 -a $pyrc -eq 0

# -i: one report per interval, the last one cut short by -d
sleep 5 &
spid=$!
run -p $spid -i 0.2 -d 0.7
kill $spid 2>/dev/null
wait $spid 2>/dev/null
windows=$(sed -n "s/^allocstat-run: pid $spid, window \([0-9]*\): \([0-9.]*\) s\$/\1 \2/p" "$TMP/out")
diag "windows (number, seconds): $(echo "$windows" | tr '\n' ' ')"
check "-p -i 0.2 -d 0.7: 4 reports on stdout, windows 1-4, the last one about 0.1 s" \
	test $rc -eq 0 -a "$(echo "$windows" | wc -l)" -eq 4 \
	-a "$(echo "$windows" | awk 'NR == 4 && $1 == 4 && $2 >= 0.05 && $2 < 0.2' | wc -l)" -eq 1

# SIGINT ends the window: a report, exit 0
sleep 5 &
spid=$!
"$RUN" -p $spid > "$TMP/out" 2> "$TMP/err" &
apid=$!
sleep 0.5
kill -INT $apid
wait $apid
rc=$?
kill $spid 2>/dev/null
wait $spid 2>/dev/null
check "-p without -d: SIGINT ends the window, the report is written, exit 0" \
	test $rc -eq 0 -a -n "$(grep "^allocstat-run: pid $spid, window 1: " "$TMP/out")" \
	-a -n "$(awk -v p=$spid '$1 == p && $2 == p && $3 == "sleep" && $4 == "alive"' "$TMP/out")"

run -p 2147483647 -d 1
diag "$(cat "$TMP/err")"
check "-p of a process that does not exist: exit 127, 'no such process'" \
	test $rc -eq 127 -a -n "$(grep 'no such process' "$TMP/err")"

# with the fake module's --tree mode: the track commands go to $TMP/control
unset ALLOCSTAT_PROC
: > "$TMP/control"
fake --tree "$TMP/control" --track 4242
ALLOCSTAT_PROC=$TMP/fifo ALLOCSTAT_CONTROL=$TMP/control \
	run --json -o "$TMP/tree.json" -- sh -c 'sleep 0.3; exit 5'
python3 - "$TMP/tree.json" "$TMP/control" > "$TMP/py" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ctl = open(sys.argv[2]).read().split("\n")
c = d["command"]
assert d["schema"] == "allocstat-run/4", d["schema"]
assert c["argv"] == ["sh", "-c", "sleep 0.3; exit 5"] and c["exit_status"] == 5, c
pid = c["pid"]
print("control:", ctl)
assert ctl == [f"track {pid}", f"untrack {pid}", ""], ctl
assert d["track_before"] == "4242", d["track_before"]
t = d["runs"][0]["per_thread"]
for x in t:
    print(x["tid"], x["tgid"], x["comm"], x["state"], x["thread_ns"],
          x["breakdown"]["user_ns"], x["breakdown"]["unexplained_ns"])
sh = [x for x in t if x["tid"] == pid]
sl = [x for x in t if x["comm"] == "sleep" and x["tgid"] != pid]
assert len(sh) == 1 and sh[0]["tgid"] == pid, sh
assert len(sl) == 1, "the forked sleep's thread is in the report"
assert d["runs"][0]["processes"] >= 2 and d["runs"][0]["threads"] == len(t)
for x in sh + sl:
    # the fake's exited rows: counters DELTA, utime 2 ms, runq 1 ms, the rest sleep
    assert x["state"] == "exited" and x["matched"], x
    assert x["faults"] == 5000 and x["zero_pages"] == 4000, x
    b = x["breakdown"]
    assert b["user_ns"] == 2000000 and b["runq_ns"] == 1000000, b
    assert b["unexplained_ns"] == 0 and b["thread_ns"] == x["thread_ns"] > 250e6, b
    assert x["cpu_ns"] == 5000000 and x["utime_ns"] == 2000000, x
PY
pyrc=$?
diag "$(cat "$TMP/py" "$TMP/err")"
check "-- CMD with a fake module: exit 5; sh's and the forked sleep's rows (root = CMD), task_* values, track/untrack" \
	test $rc -eq 5 -a $pyrc -eq 0

# track=all before: put back with "track all"; the text report
: > "$TMP/control"
fake --tree "$TMP/control" --track all
ALLOCSTAT_PROC=$TMP/fifo ALLOCSTAT_CONTROL=$TMP/control run -- sh -c 'sleep 0.2'
pid=$(sed -n 's/^allocstat-run: pid \([0-9]*\), exit status 0$/\1/p' "$TMP/err")
diag "$(cat "$TMP/control" "$TMP/err")"
check "-- CMD with track=all before: 'track PID' then 'track all'; the text report has sh's row" \
	test $rc -eq 0 -a -n "$pid" -a "$(tr '\n' '|' < "$TMP/control")" = "track $pid|track all|" \
	-a "$(awk -v p="$pid" '$1 == p && $2 == p && $3 == "sh" && $4 == "exited"' "$TMP/err" | wc -l)" -eq 1

# SIGTERM to allocstat-run while CMD runs: the filter is put back, it dies of SIGTERM
: > "$TMP/control"
fake --tree "$TMP/control" --track none
ALLOCSTAT_PROC=$TMP/fifo ALLOCSTAT_CONTROL=$TMP/control "$RUN" -- sleep 3 > "$TMP/out" 2> "$TMP/err" &
apid=$!
for _ in $(seq 50); do [ -s "$TMP/control" ] && break; sleep 0.1; done
sleep 0.2
kill -TERM $apid
wait $apid
rc=$?
diag "$(cat "$TMP/control")"
check "SIGTERM to allocstat-run -- CMD: exit 143, 'track PID' then 'untrack PID'" \
	test $rc -eq 143 -a "$(sed -n 2p "$TMP/control")" = "untrack $(sed -n 's/^track //p' "$TMP/control")"
# CMD (sleep 3) outlives allocstat-run: its pid is the one tracked
cpid=$(sed -n 's/^track //p' "$TMP/control")
[ -n "$cpid" ] && kill "$cpid" 2>/dev/null
fake_stop

# a /proc/allocstat that cannot be written: the message names CAP_SYS_ADMIN
if [ "$(id -u)" = 0 ] && [ ${#asuser[@]} -gt 0 ]; then
	cp samples/hand-written-fork.txt "$TMP/proc-ro"
	: > "$TMP/control-ro"
	chmod 0644 "$TMP/proc-ro" "$TMP/control-ro"
	ALLOCSTAT_PROC=$TMP/proc-ro ALLOCSTAT_CONTROL=$TMP/control-ro "${asuser[@]}" \
		"$TMP/allocstat-run" -- true > "$TMP/out" 2> "$TMP/err"
	rc=$?
	diag "$(cat "$TMP/err")"
	check "track write refused (EACCES): exit of CMD (0), message names CAP_SYS_ADMIN" \
		test $rc -eq 0 -a -n "$(grep 'CAP_SYS_ADMIN' "$TMP/err")" -a ! -s "$TMP/control-ro"
else
	skip "track write refused" "needs root and setpriv"
fi
export ALLOCSTAT_PROC=/nonexistent

# ---- allocstat-export ----
EXP=$B/allocstat-export
PROMTOOL=$(../selftests/lib/promtool 2>"$TMP/promtool.err") || PROMTOOL=
PYPROM=/usr/bin/python3
$PYPROM -c 'import prometheus_client' 2>/dev/null || PYPROM=

# exp ARGS...: run allocstat-export: rc, stdout in $TMP/out, stderr in $TMP/err
exp() {
	"$EXP" "$@" > "$TMP/out" 2> "$TMP/err"
	rc=$?
}

for f in samples/*.txt; do
	for mode in "" --per-tid; do
		name="export ${f#samples/}${mode:+ $mode}"
		exp -i "$f" $mode
		if [ $rc -ne 0 ]; then
			diag "$(cat "$TMP/err")"
			fail "$name: exit 0"
			continue
		fi
		if [ -n "$PROMTOOL" ]; then
			"$PROMTOOL" check metrics < "$TMP/out" > "$TMP/pt" 2>&1
			ptrc=$?
			diag "$(cat "$TMP/pt")"
			check "$name: promtool check metrics is clean" test $ptrc -eq 0 -a ! -s "$TMP/pt"
		else
			skip "$name: promtool check metrics" "promtool unavailable: $(tail -n 1 "$TMP/promtool.err")"
		fi
		if [ -n "$PYPROM" ]; then
			$PYPROM tests/check-export.py "$f" "$TMP/out" $mode > "$TMP/py" 2>&1
			pyrc=$?
			diag "$(cat "$TMP/py")"
			check "$name: prometheus_client parses it; values = the file's sums" test $pyrc -eq 0
		else
			skip "$name: prometheus_client check" "python3-prometheus-client not installed"
		fi
	done
done

# the task's lifetime columns and root are not counters: not exported
exp -i samples/hand-written-fork.txt --per-tid
check "export of the fork-following format: exit 0, no series from root or the task_* columns" \
	test $rc -eq 0 -a -n "$(grep '^allocstat_faults_total' "$TMP/out")" \
	-a -z "$(grep -v '^#' "$TMP/out" | grep -iE 'task_(start|end|cpu|utime|stime|runq|sleep)|root')"

# the edge cases of samples/export-edge.txt, by construction of the file:
# pid 200 reused by a process "new" (rows 11+13), a quote in a comm, the
# mmap_lock group off
exp -i samples/export-edge.txt
check "export: a reused pid makes two series (1000+5 and 11+13 faults)" \
	test -n "$(grep -Fx 'allocstat_faults_total{tgid="200",comm="old\\040proc"} 1005' "$TMP/out")" \
	-a -n "$(grep -Fx 'allocstat_faults_total{tgid="200",comm="new"} 24' "$TMP/out")"
check "export: a \" in comm is escaped; a thread seen before its leader takes the leader's comm" \
	test -n "$(grep -F 'comm="q\"uote"' "$TMP/out")" \
	-a -n "$(grep -Fx 'allocstat_threads{tgid="401",comm="leader"} 2' "$TMP/out")"
check "export: no mmap_lock family when the group is off (\`-\` everywhere)" \
	test -z "$(grep '^allocstat_mmap_lock' "$TMP/out")" -a -n "$(grep '^allocstat_faults_total' "$TMP/out")"

exp --bogus
check "export --bogus: exit 2, names --help" test $rc -eq 2 -a -n "$(grep -- --help "$TMP/err")"
for bad in "--interval 0" "--interval 5" "--interval 1x -o $TMP/x" "--interval 86401 -o $TMP/x" \
	   "--interval -1 -o $TMP/x" "-o ''" "extra"; do
	eval exp "$bad"
	check "export $bad: usage error, exit 2, nothing written" \
		test $rc -eq 2 -a ! -s "$TMP/out" -a ! -e "$TMP/x" -a -s "$TMP/err"
done
exp --help
check "export --help: exit 0, names --output and --per-tid" \
	test $rc -eq 0 -a -n "$(grep -- --output "$TMP/out")" -a -n "$(grep -- --per-tid "$TMP/out")"

exp	# ALLOCSTAT_PROC=/nonexistent: no module
diag "$(cat "$TMP/err")"
check "export without the module: exit 1, says so, output is allocstat_up 0" \
	test $rc -eq 1 -a -n "$(grep 'allocstat.ko loaded' "$TMP/err")" \
	-a "$(grep -v '^#' "$TMP/out")" = "allocstat_up 0"

mkdir "$TMP/tf"
( umask 077; "$EXP" -i samples/captured-6.12.txt -o "$TMP/tf/allocstat.prom" ) > "$TMP/out" 2>&1
rc=$?
"$EXP" -i samples/captured-6.12.txt > "$TMP/ref"
check "export -o FILE: exit 0, FILE = stdout's text, mode 0644 despite umask 077, no temporary left" \
	test $rc -eq 0 -a ! -s "$TMP/out" -a "$(stat -c %a "$TMP/tf/allocstat.prom")" = 644 \
	-a "$(ls -A "$TMP/tf")" = allocstat.prom -a -z "$(cmp "$TMP/ref" "$TMP/tf/allocstat.prom" 2>&1)"
# a directory it cannot write: 0555 for a user; root writes there anyway, so
# for root a directory that does not exist
dir=$TMP/ro
mkdir "$dir" && chmod 555 "$dir"
[ "$(id -u)" = 0 ] && dir=$TMP/missing
exp -i samples/captured-6.12.txt -o "$dir/allocstat.prom"
diag "$(cat "$TMP/err")"
check "export -o into a directory it cannot write: exit 1, names the file, nothing left" \
	test $rc -eq 1 -a -n "$(grep 'allocstat.prom' "$TMP/err")" -a -z "$(ls -A "$TMP/ro")" \
	-a ! -e "$TMP/missing"

"$EXP" -i samples/captured-6.1.txt -o "$TMP/tf/loop.prom" --interval 1 2> "$TMP/err" &
lpid=$!
for _ in $(seq 50); do [ -s "$TMP/tf/loop.prom" ] && break; sleep 0.1; done
cp samples/captured-6.12.txt "$TMP/tf/in.txt"
kill -TERM "$lpid"
wait "$lpid"
rc=$?
check "export --interval 1: writes FILE, ends cleanly (exit 0) on SIGTERM" \
	test $rc -eq 0 -a -n "$(grep '^allocstat_up 1' "$TMP/tf/loop.prom")" \
	-a "$(ls -A "$TMP/tf" | grep -c '^\.')" -eq 0

# ---- results ----
echo "TAP version 13"
echo "1..$n"
printf '%s\n' "${out[@]}"
echo "# Totals: pass:$((n - failed - skipped)) fail:$failed skip:$skipped"
[ $failed -eq 0 ]
