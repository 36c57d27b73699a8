#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# --kernel SERIES boots that series: `uname -r` in the guest prints the release
# of the cached Debian kernel, which starts with SERIES when SERIES is a
# version (6.1, 6.12-rt: and has -rt- in it), as sid's is not.

. "$(dirname "$0")/common.bash"
set -- $KERNELS
ktap_set_plan $#

for series in "$@"; do
	release=$("$SELFTESTS/lib/kernel-cache" "$series" 2>/dev/null | sed -n 's/^RELEASE=//p')
	vmrun --kernel "$series" --no-build -- uname -r
	got=$(cat "$OUT")
	ktap_print_msg "expected '$release', the guest said '$got'"
	base=${series%%-*}
	if [ "$RC" -eq 0 ] && [ -n "$release" ] && [ "$got" = "$release" ] &&
	   { [[ $base != [0-9]* ]] || [ "${got#"$base".}" != "$got" ]; } &&
	   { [ "$series" = "$base" ] || [[ $got == *"-${series#*-}-"* ]]; }; then
		ktap_test_pass "--kernel $series -- uname -r prints a $series release"
	else
		show "$ERR"
		ktap_test_fail "--kernel $series -- uname -r prints a $series release"
	fi
done

ktap_finished
