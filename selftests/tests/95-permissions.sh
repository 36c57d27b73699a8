#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Permissions: a non-root user can neither open /proc/allocstat nor write
# it, not even through a write descriptor root opened (CAP_SYS_ADMIN is
# checked at every write); root without CAP_SYS_ADMIN cannot write.
# Opening it at all, for reading as for writing, needs CAP_SYS_ADMIN or
# CAP_PERFMON in the initial user namespace, checked at open (so a read
# descriptor root hands on stays readable): root of a user namespace
# (unshare -U -r) can neither read nor write it, root without both
# capabilities cannot read it, root with CAP_PERFMON alone can.  Nothing a
# non-root user can read under /sys/module/allocstat tells about tasks.  No
# output of the module (/proc/allocstat, its sysfs files, its kernel log
# lines) carries a kernel address.

. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/module.sh"

NOBODY=65534
CAP_SYS_ADMIN=21
CAP_PERFMON=38
# a kernel pointer in hex (with or without 0x), or in decimal (>= 0xffff800000000000)
has_kaddr() {
	grep -qiE 'ffff[0-9a-f]{12}' "$1" && return 0
	awk '{ for (i = 1; i <= NF; i++)
		if ($i ~ /^[0-9]+$/ && length($i) == 20 && $i >= "18446603336221196288") f = 1 }
	     END { exit !f }' "$1"
}
# as_readok ANSWER: as-read's answer, or "ok" for a read whose first line
# is ours
as_readok() {
	case "$1" in
	"ok "*": # allocstat "*) echo ok ;;
	*) echo "$1" ;;
	esac
}

ktap_print_header
as_setup
ktap_set_plan 14
as_load || ktap_exit_fail_msg "cannot load $ALLOCSTAT_KO"
as-workload -m write -p 256 > "$AS_TMP/ref" || ktap_exit_fail_msg "as-workload failed"
ref=$(as_wl ref 0 tid)
as_snap before
row_before=$(awk -v t="$ref" '$1 == t' "$AS_TMP/before")

# 1. no read, no write by path
as-runas $NOBODY as-reader > "$AS_TMP/nr" 2>&1
r_read=$(grep -o 'Permission denied' "$AS_TMP/nr" | head -n 1)
w=
for c in reset "track all" "track 1" "track $$"; do
	w="$w $(as-runas $NOBODY as-write $AS_PROC "$c")"
done
ktap_print_msg "uid $NOBODY: read: ${r_read:-$(cat "$AS_TMP/nr")}; writes:$w"
as_check "uid $NOBODY can neither open it for reading nor for writing" \
	"$r_read:$w" = "Permission denied: EACCES EACCES EACCES EACCES"

# 2. a write descriptor root opened, used after dropping to nobody
as-runas $NOBODY sh -c 'echo reset >&3' 3> $AS_PROC 2> "$AS_TMP/fdw"
rc=$?
ktap_print_msg "uid $NOBODY writing 'reset' to a descriptor root opened: status $rc, '$(cat "$AS_TMP/fdw")'"
as_check "uid $NOBODY cannot write through an inherited descriptor (EPERM)" \
	"$rc" -ne 0 -a -n "$(grep -i 'not permitted' "$AS_TMP/fdw")"

# 3. root without CAP_SYS_ADMIN
w=$(as-nocap $CAP_SYS_ADMIN as-write $AS_PROC reset)
ktap_print_msg "uid 0 without CAP_SYS_ADMIN, write 'reset': $w"
as_check "uid 0 without CAP_SYS_ADMIN cannot write (EPERM)" "$w" = EPERM

# 4. who may open it for reading: CAP_SYS_ADMIN or CAP_PERFMON, in the
# initial user namespace
r=$(as-nocap $CAP_SYS_ADMIN as-read $AS_PROC)
ktap_print_msg "uid 0 without CAP_SYS_ADMIN, with CAP_PERFMON, read: $(echo "$r" | cut -c1-100)"
as_check "uid 0 with CAP_PERFMON but not CAP_SYS_ADMIN reads it" "$(as_readok "$r")" = ok
r=$(as-nocap $CAP_SYS_ADMIN as-nocap $CAP_PERFMON as-read $AS_PROC)
ktap_print_msg "uid 0 without CAP_SYS_ADMIN and CAP_PERFMON, read: $r"
as_check "uid 0 without CAP_SYS_ADMIN and CAP_PERFMON cannot open it for reading (EACCES or EPERM)" \
	"$r" = EACCES -o "$r" = EPERM
# busybox unshare: -U new user namespace, -r map our uid to its root, -p new
# pid namespace, -f fork into it
ns=$(unshare -U -r -p -f sh -c 'echo "uid=$(id -u) pid=$$"' 2>&1)
r=$(unshare -U -r -p -f as-read $AS_PROC 2>&1)
w=$(unshare -U -r -p -f as-write $AS_PROC reset 2>&1)
ktap_print_msg "in unshare -U -r -p -f ($ns): read: $r; write 'reset': $w"
if [ ! -e /proc/self/ns/user ] || [ ! -e /proc/self/ns/pid ]; then
	# a kernel without CONFIG_USER_NS/CONFIG_PID_NS: unshare fails with EINVAL
	for d in "root of a user namespace cannot open it for reading (EACCES or EPERM)" \
		 "root of a user namespace cannot write it (EACCES or EPERM)"; do
		ktap_test_skip "$d" "no user or pid namespaces in this kernel (/proc/self/ns/user, pid)"
	done
else
	as_check "root of a user namespace cannot open it for reading (EACCES or EPERM)" \
		"$ns" = "uid=0 pid=1" -a \( "$r" = EACCES -o "$r" = EPERM \)
	as_check "root of a user namespace cannot write it (EACCES or EPERM)" \
		"$ns" = "uid=0 pid=1" -a \( "$w" = EACCES -o "$w" = EPERM \)
fi
r=$(as-read $AS_PROC)
ktap_print_msg "uid 0 in the initial namespace, read: $(echo "$r" | cut -c1-100)"
as_check "uid 0 in the initial namespace reads it (first line '# allocstat ...')" \
	"$(as_readok "$r")" = ok

as_snap after
row_after=$(awk -v t="$ref" '$1 == t' "$AS_TMP/after")
as_check "none of these writes changed the reference row" \
	-n "$row_before" -a "$row_before" = "$row_after"

# 5. what nobody can read under /sys/module/allocstat
readable=
leak=
for f in $(find /sys/module/$AS_MOD -type f); do
	if as-runas $NOBODY cat "$f" > "$AS_TMP/sysf" 2>/dev/null; then
		readable="$readable ${f#/sys/module/$AS_MOD/}"
		has_kaddr "$AS_TMP/sysf" && leak="$leak $f"
	fi
done
ktap_print_msg "readable by uid $NOBODY:$readable"
extra=$(echo $readable | tr ' ' '\n' | grep -vE '^(parameters/(max_tasks|hooks|fault_hook|lock_hook)|notes/\.note\.[A-Za-z.-]+|initstate|refcnt|coresize|initsize|taint|srcversion|version|uevent)$')
as_check "uid $NOBODY reads only module metadata there, no per-task data" -z "$extra"
ktap_print_msg "kernel addresses in those files:${leak:- none}"
as_check "no kernel address in the sysfs files uid $NOBODY can read" -z "$leak"

# 6. no kernel address in /proc/allocstat or in the module's log lines
as_snap full
has_kaddr "$AS_TMP/full"
ktap_test_result "/proc/allocstat ($(wc -l < "$AS_TMP/full") lines) shows no kernel address" test $? -ne 0
as_unload
dmesg | grep -i allocstat > "$AS_TMP/log"
ktap_print_msg "$(wc -l < "$AS_TMP/log") kernel log lines name allocstat"
has_kaddr "$AS_TMP/log"
ktap_test_result "the module's kernel log lines show no kernel address" test $? -ne 0
ktap_test_result "dmesg has no new BUG/WARNING/Oops/lockdep/KASAN line" as_dmesg_clean
ktap_finished
