#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# allocstat-run without the module: bad options exit 2, an oversize request
# is refused before anything is allocated, the workload still runs (times
# and getrusage faults) and says on one line that the module is not loaded,
# and --require-module turns that into an error.

. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/module.sh"

TMP=$(mktemp -d /tmp/allocstat-run.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

ktap_print_header
ktap_set_plan 6
as_unload || ktap_exit_fail_msg "cannot unload $AS_MOD"
command -v allocstat-run > /dev/null || ktap_exit_fail_msg "allocstat-run is not on PATH ($PATH)"

# 1. bad options and values: usage on stderr, exit 2
bad=0
for args in "--bogus" "-t 0" "-t 3x" "-s 12Q" "-s 0" "-m nope" "--touch sideways" \
	    "-r 0" "--sweep --compare" "-s 1M -b 4M" "--mmap-threshold 1G" "stray"; do
	# shellcheck disable=SC2086
	allocstat-run $args > "$TMP/out" 2> "$TMP/err"
	rc=$?
	if [ $rc -ne 2 ] || ! grep -q "^Try 'allocstat-run --help'" "$TMP/err" ||
	   [ "$(wc -l < "$TMP/err")" -ne 2 ] || [ -s "$TMP/out" ]; then
		ktap_print_msg "'allocstat-run $args': exit $rc, expected 2 with one line and 'Try ... --help'"
		bad=$((bad + 1))
	fi
done
ktap_print_msg "12 bad command lines, $bad did not exit 2 with one line and the --help hint"
as_check "bad options and values exit 2 with one line and 'Try ... --help'" $bad -eq 0

# 2. oversize: refused before allocating, with the numbers
avail=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
size=$((avail / 1024 + 64))M
start=$(date +%s)
allocstat-run -t 1 -s "$size" > "$TMP/out" 2> "$TMP/err"
rc=$?
secs=$(($(date +%s) - start))
ktap_print_msg "-t 1 -s $size with MemAvailable ${avail} kB: exit $rc in ${secs} s: $(cat "$TMP/err")"
as_check "a size above MemAvailable is refused at once (exit 1, the numbers, no report)" \
	$rc -eq 1 -a "$secs" -le 2 -a ! -s "$TMP/out" -a \
	"$(grep -c 'MemAvailable is .* bytes' "$TMP/err")" -eq 1

# 3-5. no module: runs, says so once, getrusage faults per thread
allocstat-run -t 2 -s 32M -m nothp > "$TMP/out" 2> "$TMP/err"
rc=$?
sed 's/^/# /' "$TMP/out"
as_check "without the module it runs (exit 0)" $rc -eq 0
as_check "without the module it says so on exactly one line" \
	"$(grep -c 'module not loaded' "$TMP/out")" -eq 1
# thr tid alloc_ms touch_ms free_ms minflt: 32 MiB = 8192 pages per thread
rows=$(awk '$1 ~ /^[0-9]+$/ && NF == 6 && $6 >= 8192' "$TMP/out" | wc -l)
as_check "without the module: 2 thread rows, each with >= 8192 minor faults" "$rows" -eq 2

# 6. --require-module
allocstat-run -t 1 -s 1M --require-module > "$TMP/out" 2> "$TMP/err"
rc=$?
ktap_print_msg "--require-module: exit $rc: $(cat "$TMP/err")"
as_check "--require-module without the module: exit 1 with the reason" \
	$rc -eq 1 -a "$(grep -c 'module not loaded' "$TMP/err")" -eq 1

ktap_finished
