#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# allocstat-export against the real module, checked on the host: a guest of
# kernel series $ALLOCSTAT_KERNEL (default 6.1) loads allocstat.ko, runs a
# known workload (4 threads x 4096 written pages, joined, so its rows are
# final), copies /proc/allocstat, then runs allocstat-export.  Here promtool
# and the prometheus_client parser read the output, and every process whose
# rows were all exited in the copy must have exactly the sums of its rows;
# the workload must show >= 4 x 4096 faults over its 5 rows.
# KTAP on stdout; exit 0 when everything passed, 1 otherwise.

SELFTESTS=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOP=$(cd "$SELFTESTS/.." && pwd)
KERNEL=${ALLOCSTAT_KERNEL:-6.1}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

THREADS=4
PAGES=4096

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n $*"; }
skip() { n=$((n + 1)); echo "ok $n $1 # SKIP $2"; }

echo "TAP version 13"
echo "1..6"

guest_script="
insmod \"\$ALLOCSTAT_KO\" || exit 3
as-workload -m write -p $PAGES -t $THREADS > /tmp/wl || exit 4
echo '=== wl'; cat /tmp/wl
cat /proc/allocstat > /tmp/p.txt
allocstat-export > /tmp/a.prom; echo \"=== rc \$?\"
allocstat-export --per-tid > /tmp/b.prom; echo \"=== rc \$?\"
mkdir /tmp/tf && allocstat-export -o /tmp/tf/allocstat.prom; echo \"=== rc \$?\"
echo '=== ls'; ls -A /tmp/tf
echo '=== proc'; cat /tmp/p.txt
echo '=== prom'; cat /tmp/a.prom
echo '=== tid'; cat /tmp/b.prom
echo '=== file'; cat /tmp/tf/allocstat.prom
echo '=== end'
"
"$SELFTESTS/vm-run" --kernel "$KERNEL" --mem 2048 --timeout 600 -- sh -c "$guest_script" \
	> "$TMP/out" 2> "$TMP/err"
rc=$?
sed 's/^/# vm-run: /' "$TMP/err" | tail -n 20
# section NAME: the lines after `=== NAME` up to the next `=== `
section() { awk -v s="=== $1" '$0 == s { on = 1; next } /^=== / { on = 0 } on' "$TMP/out" | tr -d '\r'; }

if [ $rc -eq 0 ] && grep -q '^=== end' "$TMP/out" &&
   [ "$(grep -c '^=== rc 0' "$TMP/out")" = 3 ]; then
	ok "vm-run on $KERNEL: the workload ran and allocstat-export exited 0 three times"
else
	not_ok "vm-run on $KERNEL: exit $rc, allocstat-export exits: $(grep '^=== rc' "$TMP/out" | tr '\n' ' ')"
	sed 's/^/# /' "$TMP/out" | tail -n 40
fi
section proc > "$TMP/proc.txt"
section prom > "$TMP/a.prom"
section tid > "$TMP/b.prom"
section file > "$TMP/file.prom"
pid=$(section wl | sed -n 's/^pid=\([0-9]*\) .*/\1/p')
echo "# workload pid ${pid:-?}; /proc/allocstat: $(($(wc -l < "$TMP/proc.txt") - 2)) rows;" \
	"export: $(grep -vc '^#' "$TMP/a.prom") samples"

if [ "$(section ls)" = allocstat.prom ] && [ -s "$TMP/file.prom" ] &&
   grep -q '^allocstat_up 1$' "$TMP/file.prom"; then
	ok "--output wrote the file and left no temporary file beside it"
else
	not_ok "--output: directory holds '$(section ls | tr '\n' ' ')'"
fi

if PROMTOOL=$("$TOP/selftests/lib/promtool" 2>"$TMP/pt.err"); then
	for f in a b; do
		"$PROMTOOL" check metrics < "$TMP/$f.prom" > "$TMP/pt" 2>&1
		ptrc=$?
		sed 's/^/# /' "$TMP/pt"
		what="promtool check metrics on the guest's output${f/a/}"
		what=${what%b}
		[ $f = b ] && what="$what (--per-tid)"
		if [ $ptrc -eq 0 ] && [ ! -s "$TMP/pt" ] && [ -s "$TMP/$f.prom" ]; then
			ok "$what"
		else
			not_ok "$what"
		fi
	done
else
	skip "promtool check metrics" "promtool unavailable: $(tail -n 1 "$TMP/pt.err")"
	skip "promtool check metrics (--per-tid)" "promtool unavailable"
fi

if ! /usr/bin/python3 -c 'import prometheus_client' 2>/dev/null; then
	skip "prometheus_client: values equal /proc/allocstat's sums" "python3-prometheus-client not installed"
	skip "prometheus_client: per-tid values" "python3-prometheus-client not installed"
	exit 0
fi
CHECK=$TOP/userspace/tests/check-export.py
/usr/bin/python3 "$CHECK" "$TMP/proc.txt" "$TMP/a.prom" --static-only \
	--expect-tgid "${pid:-0}:$((THREADS * PAGES)):$((THREADS + 1))" > "$TMP/py" 2>&1
pyrc=$?
sed 's/^/# /' "$TMP/py"
if [ $pyrc -eq 0 ]; then
	ok "per process: every exited process's series = the sums of its rows; workload pid $pid: >= $((THREADS * PAGES)) faults, $((THREADS + 1)) rows"
else
	not_ok "per process: values equal /proc/allocstat's sums"
fi
/usr/bin/python3 "$CHECK" "$TMP/proc.txt" "$TMP/b.prom" --static-only --per-tid > "$TMP/py" 2>&1
pyrc=$?
sed 's/^/# /' "$TMP/py"
if [ $pyrc -eq 0 ]; then
	ok "per tid: every exited thread's series = its row"
else
	not_ok "per tid: values equal /proc/allocstat's rows"
fi
[ $failed -eq 0 ]
