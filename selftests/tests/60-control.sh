#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Control writes: reset clears, bad writes fail with EINVAL and change
# nothing, track limits rows to listed processes, non-root can neither read
# nor write.

. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/module.sh"

ktap_print_header
as_setup
ktap_set_plan 10
as_load || ktap_exit_fail_msg "cannot load $ALLOCSTAT_KO"

# A reference row: an exited thread's row never changes until a reset.
as-workload -m write -p 1024 > "$AS_TMP/ref" || ktap_exit_fail_msg "as-workload failed"
ref=$(as_wl ref 0 tid)
as_snap before
row_before=$(awk -v t="$ref" '$1 == t' "$AS_TMP/before")

# Rejected writes
ok=1
long=$(printf '%0100d' 0)
for w in garbage "reset " " reset" "reset now" "reset
x" "track" "track " "track -5" "track 0" "track +7" "track 4194305" \
	 "track 99999999999999999999999" "track 12abc" "track all now" "track  5" \
	 "TRACK all" "$long" "track $long" "track none now" "untrack" "untrack " \
	 "untrack -5" "untrack 0" "untrack all" "untrack none" "untrack 12abc" \
	 "untrack 4194305"; do
	r=$(as-write $AS_PROC "$w")
	if [ "$r" != EINVAL ]; then
		ktap_print_msg "write '$w' returned $r, not EINVAL"
		ok=0
	fi
done
r=$(as-write $AS_PROC "")
[ "$r" = EINVAL ] || { ktap_print_msg "empty write returned $r"; ok=0; }
as_check "invalid writes fail with EINVAL" $ok -eq 1
as_snap after
row_after=$(awk -v t="$ref" '$1 == t' "$AS_TMP/after")
ktap_print_msg "reference row: $row_before"
as_check "the reference row is unchanged after the rejected writes" \
	-n "$row_before" -a "$row_before" = "$row_after"

# 64 track entries are accepted, the 65th is not, and changes nothing
ok=1
i=1
while [ $i -le 64 ]; do
	r=$(as-write $AS_PROC "track $((100000 + i))")
	[ "$r" = "ok 12" ] || { ktap_print_msg "track #$i returned $r"; ok=0; }
	i=$((i + 1))
done
r=$(as-write $AS_PROC "track 200000")
[ "$r" = EINVAL ] || { ktap_print_msg "track #65 returned $r"; ok=0; }
as_check "64 tracked tgids are accepted, the 65th fails with EINVAL" $ok -eq 1
r=$(as-write $AS_PROC "track all")
as_check "'track all' is accepted" "$r" = "ok 9"

# track <tgid>: a workload process that is not the tracked one, nor forked
# by it, gets no row (the tracked process's children: 61-track-tree.sh)
sleep 600 &
other_pid=$!
as-write $AS_PROC "track $other_pid" > /dev/null
as-workload -m write -p 256 > "$AS_TMP/untracked"
t=$(as_wl untracked 0 tid)
as_snap tracked
kill $other_pid 2>/dev/null
wait $other_pid 2>/dev/null
other=$(awk -v t="$t" '$1 == t' "$AS_TMP/tracked")
ktap_print_msg "after 'track $other_pid' (a sleep): workload thread $t row: ${other:-none}; $(sed -n '1s/.* track=/track=/p' "$AS_TMP/tracked")"
as_check "track <tgid> excludes other processes" -n "$t" -a -z "$other"
as-write $AS_PROC "track all" > /dev/null
as-workload -m write -p 256 > "$AS_TMP/tracked2"
t=$(as_wl tracked2 0 tid)
as_snap all
as_col all "$t" faults > /dev/null
ktap_test_result "after 'track all' every process is tracked again" test $? -eq 0

# Non-root: no read, no write
r_read=$(as-runas 65534 cat $AS_PROC 2>&1 >/dev/null | head -1)
r_write=$(as-runas 65534 as-write $AS_PROC reset)
ktap_print_msg "uid 65534: read: '$r_read'; write: $r_write"
case "$r_read" in
*/proc/allocstat*[Pp]ermission*) r_read=denied ;;
esac
as_check "a non-root user can neither read nor write" "$r_read:$r_write" = "denied:EACCES"
as_snap still
as_col still "$ref" faults > /dev/null
ktap_test_result "the non-root write changed nothing" test $? -eq 0

# reset clears
r=$(as-write $AS_PROC reset)
as_snap reset
n=$(as_hdr reset tasks)
gone=$(awk -v t="$ref" '$1 == t' "$AS_TMP/reset")
ktap_print_msg "reset: $r; rows now $n (before $(as_hdr still tasks)); reference row: ${gone:-gone}"
as_check "reset clears all rows" "$r" = "ok 5" -a -z "$gone" -a "$n" -lt "$(as_hdr still tasks)"

ktap_test_result "dmesg has no new BUG/WARNING/Oops" as_dmesg_clean
ktap_finished
