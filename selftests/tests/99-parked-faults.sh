#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Many faults in flight at once: 1,100 threads each block inside a page
# fault (userfaultfd, missing mode) until all of them are blocked, 200 ms
# more, and then their pages are resolved.  Every one of these faults is
# timed: each thread's row has faults >= 1 and fault_ns at least the time
# the handler saw it blocked (within 2% + 2 ms: the module's clock and
# CLOCK_MONOTONIC may differ a little), and missed= in the header does not
# grow (kretprobe), however many return probes wait at once.  Once with each
# fault hook: the direct call (each parked fault's start in the trampoline's
# frame) and fault_hook=kretprobe (one kretprobe instance per parked fault).

. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/module.sh"

N=1100
TOL_PCT=2
TOL_NS=2000000

ktap_print_header
as_setup
run_hook() {
	HOOK=$1
	ktap_print_msg "fault_hook=$HOOK"
	as_load fault_hook=$HOOK || ktap_exit_fail_msg "cannot load $ALLOCSTAT_KO fault_hook=$HOOK"
	as_snap before
	t0=$(date +%s)
	as-parked -n $N -w 200 > "$AS_TMP/parked"
	rc=$?
	t1=$(date +%s)
	if [ $rc -eq 4 ]; then
		ktap_skip_all "userfaultfd is unavailable:$(sed -n 's/^#//p' "$AS_TMP/parked" | head -n 1)"
		exit "$KSFT_SKIP"
	fi
	# the plan once userfaultfd is known to work: 4 points, 5 for kretprobe
	[ "$HOOK" = direct ] && ktap_set_plan 10
	as_snap after
	grep -v '^thread=' "$AS_TMP/parked" | sed 's/^\([^#]\)/# \1/'
	ktap_print_msg "as-parked took $((t1 - t0)) s, exit status $rc"
	lines=$(grep -c '^thread=' "$AS_TMP/parked")
	events=$(sed -n 's/.* events=\([0-9]*\) .*/\1/p' "$AS_TMP/parked")
	as_check "$HOOK: $N threads were blocked in a fault at once, then released (one fault event each)" \
		"$rc" -eq 0 -a "$lines" -eq $N -a "${events:-0}" -eq $N

	# a direct call keeps no instances, and never misses
	if [ "$HOOK" = kretprobe ]; then
		m0=$(as_hdr before missed)
		m1=$(as_hdr after missed)
		ktap_print_msg "missed: ${m0:-absent} before, ${m1:-absent} after"
		as_check "$HOOK: missed did not grow" -n "$m0" -a "$m0" = "$m1"
	fi

	# join the helper's threads with their rows (the newest row of each tid)
	awk -v tolpct=$TOL_PCT -v tolns=$TOL_NS '
		FNR == NR {
			if ($1 ~ /^thread=/) {
				split($2, a, "=")
				split($3, b, "=")
				blocked[a[2]] = b[2]
				n++
			}
			next
		}
		FNR == 2 { for (i = 1; i <= NF; i++) col[$i] = i; next }
		FNR > 2 && ($1 in blocked) { f[$1] = $col["faults"]; ns[$1] = $col["fault_ns"] }
		END {
			minr = -1
			for (t in blocked) {
				if (!(t in f)) {
					if (++norow <= 3)
						print "# tid " t ": no row"
					continue
				}
				rows++
				if (f[t] < 1 && ++nofault <= 3)
					print "# tid " t ": faults=" f[t]
				if (ns[t] + tolns < blocked[t] * (100 - tolpct) / 100) {
					if (++short <= 5)
						print "# tid " t ": fault_ns=" ns[t] " < blocked_ns=" blocked[t]
				}
				r = blocked[t] ? ns[t] / blocked[t] : 0
				if (minr < 0 || r < minr)
					minr = r
			}
			printf "threads=%d rows=%d no_row=%d no_fault=%d short=%d min_fault_ns_per_blocked_ns=%.3f\n",
				n, rows, norow, nofault, short, minr
		}' "$AS_TMP/parked" "$AS_TMP/after" > "$AS_TMP/join"
	sed 's/^\([^#]\)/# \1/' "$AS_TMP/join"
	jv() {
		sed -n "s/.* $1=\([0-9]*\).*/\1/p" "$AS_TMP/join"
	}
	as_check "$HOOK: each of the $N threads has a row with faults >= 1" \
		"$(jv rows)" = $N -a "$(jv no_fault)" = 0
	ktap_print_msg "threads whose fault_ns fell short of the time they were blocked: $(jv short)"
	as_check "$HOOK: each thread's fault_ns >= the time it was blocked (-$TOL_PCT% - $((TOL_NS / 1000000)) ms)" \
		"$(jv rows)" = $N -a "$(jv short)" = 0
	ktap_test_result "$HOOK: rows are well-formed" as_rows_wellformed after
	as_unload
}

run_hook direct
run_hook kretprobe
ktap_test_result "dmesg has no new BUG/WARNING/Oops/lockdep/KASAN line" as_dmesg_clean
ktap_finished
