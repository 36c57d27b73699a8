#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The guest command's exit status becomes vm-run's, and its output reaches
# stdout clean: no carriage returns, no kernel console lines.

. "$(dirname "$0")/common.bash"
ktap_set_plan 4

vmrun --no-build -- sh -c 'echo out; echo err >&2; id -u; pwd; exit 3'
expect "sh -c 'exit 3' in the guest: vm-run exits 3" "$RC" -eq 3
printf 'out\nerr\n0\n/opt/add\n' >"$TMP/want"
if cmp -s "$TMP/want" "$OUT"; then
	ktap_test_pass "stdout is exactly the command's output (stdout+stderr, as root, in /opt/add)"
else
	show "$OUT"
	show "$ERR"
	ktap_test_fail "stdout is exactly the command's output (stdout+stderr, as root, in /opt/add)"
fi

vmrun --no-build -- true
expect "true in the guest: vm-run exits 0" "$RC" -eq 0

vmrun --no-build -- sh -c 'exit 255'
expect "sh -c 'exit 255' in the guest: vm-run exits 255" "$RC" -eq 255

ktap_finished
