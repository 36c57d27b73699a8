#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# --load "PARAMS" insmods $ALLOCSTAT_KO before COMMAND; without it the module
# is not loaded; an insmod that fails is reported and exits 123.

. "$(dirname "$0")/common.bash"

if [ ! -f "$SELFTESTS/../Kbuild" ]; then
	ktap_skip_all "no Kbuild: no module to load"
	exit "$KSFT_SKIP"
fi
ktap_set_plan 3

count='grep -c "^allocstat " /proc/modules'
vmrun --load "" -- sh -c "$count"
[ "$RC" -eq 0 ] || show "$ERR"
expect "--load \"\": allocstat is loaded when COMMAND runs" "$RC:$(cat "$OUT")" = "0:1"

vmrun --no-build -- sh -c "$count; test -f \$ALLOCSTAT_KO"
expect "without --load: not loaded, \$ALLOCSTAT_KO is there" "$(head -n1 "$OUT"):$RC" = "0:0"

# A number parameter given a non-number makes insmod fail (the kernel only
# warns about unknown parameters, so one of the module's own is needed).
ko=$(ls "$SELFTESTS/../.cache/build/$KERNEL/allocstat.ko" 2>/dev/null)
param=
[ -n "$ko" ] && param=$(modinfo -F parmtype "$ko" 2>/dev/null |
	awk -F: '$2 ~ /^(u?int|u?long|u?short|bool|byte)$/ { print $1; exit }')
if [ -z "$param" ]; then
	ktap_test_skip "a failing insmod exits 123 and says so" "the module has no number parameter"
else
	vmrun --no-build --load "$param=not-a-number" -- true
	if [ "$RC" -eq 123 ] && grep_err "insmod allocstat.ko $param=not-a-number failed"; then
		ktap_test_pass "a failing insmod ($param=not-a-number) exits 123 and says so"
	else
		show "$ERR"
		ktap_test_fail "a failing insmod ($param=not-a-number) exits 123 and says so"
	fi
fi

ktap_finished
