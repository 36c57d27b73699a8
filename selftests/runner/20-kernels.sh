#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# --kernel SERIES boots that series: `uname -r` in the guest prints the release
# of the cached Debian kernel, which starts with SERIES.

. "$(dirname "$0")/common.bash"
set -- $KERNELS
ktap_set_plan $#

for series in "$@"; do
	release=$("$SELFTESTS/lib/kernel-cache" "$series" 2>/dev/null | sed -n 's/^RELEASE=//p')
	vmrun --kernel "$series" --no-build -- uname -r
	got=$(cat "$OUT")
	ktap_print_msg "expected '$release', the guest said '$got'"
	if [ "$RC" -eq 0 ] && [ "$got" = "$release" ] && [ "${got#"${series%%-*}".}" != "$got" ] &&
	   { [ "$series" = "${series%%-*}" ] || [[ $got == *"-${series#*-}-"* ]]; }; then
		ktap_test_pass "--kernel $series -- uname -r prints a $series release"
	else
		show "$ERR"
		ktap_test_fail "--kernel $series -- uname -r prints a $series release"
	fi
done

ktap_finished
