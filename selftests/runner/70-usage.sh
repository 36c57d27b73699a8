#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage errors need no guest: an unknown kernel lists the available ones, a
# missing COMMAND or a bad option value is refused with exit 2.

. "$(dirname "$0")/common.bash"
ktap_set_plan 6

vmrun --kernel 2.6 -- true
ok=1
for s in $("$SELFTESTS/lib/kernel-cache" --list); do
	grep -qw -- "$s" "$ERR" || ok=0
done
if [ "$RC" -eq 2 ] && [ $ok -eq 1 ] && grep_err "unknown kernel series '2.6'"; then
	ktap_test_pass "an unknown kernel exits 2 and lists the available ones"
else
	show "$ERR"
	ktap_test_fail "an unknown kernel exits 2 and lists the available ones"
fi

vmrun
expect "no COMMAND: exit 2 with the usage text" "$RC:$(grep -c '^Usage:' "$ERR")" = "2:1"

vmrun --help
expect "--help: exit 0 with the usage text" "$RC:$(grep -c '^Usage:' "$OUT")" = "0:1"

vmrun --timeout soon -- true
expect "--timeout soon: exit 2" "$RC" -eq 2

vmrun --add "$TMP/no-such-file" -- true
expect "--add of a missing file: exit 2" "$RC" -eq 2

VMRUN_ACCEL=warp vmrun -- true
expect "VMRUN_ACCEL=warp: exit 2, naming the accepted values" \
	"$RC:$(grep -c 'one of kvm, tcg, mttcg, icount' "$ERR")" = "2:1"

ktap_finished
