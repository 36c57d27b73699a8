#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Bad module parameters are refused: insmod fails with EINVAL (ERANGE for
# numbers the kernel's own parser finds too large), nothing is left loaded,
# and the kernel log says which parameter was wrong.  The limits themselves
# load.

. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/module.sh"

long_hooks=$(printf 'faults,%.0s' 1 2 3 4 5 6 7 8 9 10 11 12)faults
BAD="max_tasks=0 max_tasks=65537 max_tasks=4294967296 max_tasks=-1 max_tasks=abc
max_tasks= max_tasks=1e3 max_tasks=99999999999999999999 hooks=bogus hooks= hooks=,
hooks=faults,nope hooks=FAULTS hooks=$long_hooks fault_hook=bogus fault_hook=
fault_hook=DIRECT fault_hook=direct,kretprobe lock_hook=bogus lock_hook= lock_hook=tp
lock_hook=kretprobe"
GOOD="max_tasks=1 max_tasks=65536 hooks=zeroing hooks=faults,zeroing,mmap_lock
fault_hook=auto fault_hook=direct fault_hook=kretprobe lock_hook=auto lock_hook=tracepoint"
# lock_hook=direct is for kernels whose mmap_lock tracepoints format the memcg path
case "$(uname -r)" in
6.1[4-9]* | 6.[2-9][0-9]* | [7-9].* | [1-9][0-9].*) BAD="$BAD lock_hook=direct" ;;
*) GOOD="$GOOD lock_hook=direct" ;;
esac

ktap_print_header
as_setup
ktap_set_plan $(($(echo $BAD | wc -w) + $(echo $GOOD | wc -w) + 1))

for p in $BAD; do
	name=${p%%=*}
	mark=$(dmesg | wc -l)
	out=$(insmod "$ALLOCSTAT_KO" "$p" 2>&1)
	rc=$?
	msg=$(dmesg | tail -n +$((mark + 1)) | grep "allocstat: .*$name" | head -n 1)
	left=
	as_loaded && left="module loaded; "
	[ -e $AS_PROC ] && left="$left/proc/allocstat exists; "
	ktap_print_msg "insmod $p: status $rc, '$out'; dmesg: '${msg:-nothing}'"
	[ -n "$left" ] && ktap_print_msg "$left"
	# EINVAL, or ERANGE from the kernel's own number parser
	case "$out" in
	*"Invalid argument"* | *"out of range"*) einval=1 ;;
	*) einval=0 ;;
	esac
	as_check "$(printf '%.32s' "$p"): refused (EINVAL/ERANGE), a message names $name" \
		"$rc" -ne 0 -a -z "$left" -a -n "$msg" -a $einval -eq 1
	as_unload
done

for p in $GOOD; do
	as_load "$p" && as-reader -n 1 > "$AS_TMP/good" && as_unload
	rc=$?
	ktap_print_msg "insmod $p: $(head -n 1 "$AS_TMP/good" 2>/dev/null)"
	as_check "$p loads, reads well-formed, unloads" "$rc" -eq 0
	as_unload
done
ktap_test_result "dmesg has no new BUG/WARNING/Oops/lockdep/KASAN line" as_dmesg_clean
ktap_finished
