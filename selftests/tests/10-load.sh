#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Load the module, check the /proc/allocstat header and hooks, unload,
# reload; bad parameters are refused with a message; dmesg stays clean.

. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/module.sh"

COLUMNS="tid tgid comm state faults fault_ns fault_runq_ns fault_sleep_ns fault_max_ns vma_faults vma_retry zero_pages zero_ns zero_runq_ns zero_sleep_ns zero_huge zero_alloc_pages mmap_read mmap_read_wait_ns mmap_read_wait_runq_ns mmap_read_wait_sleep_ns mmap_read_wait_max_ns mmap_read_hold_ns mmap_read_hold_max_ns mmap_write mmap_write_wait_ns mmap_write_wait_runq_ns mmap_write_wait_sleep_ns mmap_write_wait_max_ns mmap_write_hold_ns mmap_write_hold_max_ns mmap_trylock_fail root task_start_ns task_end_ns task_cpu_ns task_utime_ns task_stime_ns task_runq_ns task_sleep_ns"

ktap_print_header
as_setup
ktap_set_plan 13

ktap_test_result "module loads" as_load
as_snap first
ktap_print_msg "$(head -1 "$AS_TMP/first")"

release=$(uname -r)
release_re=$(echo "$release" | sed 's/[.+]/\\&/g')
# A fresh table: nothing dropped, no row reused yet.
ktap_test_result "first line is '# allocstat VERSION kernel=$release hooks=... init_on_alloc=B tasks=N dropped=0 recycled=0 missed=N track=all'" \
	grep -qE "^# allocstat [0-9]+\.[0-9]+\.[0-9]+ kernel=$release_re hooks=[a-z_,]+ init_on_alloc=[01] tasks=[0-9]+ dropped=0 recycled=0 missed=[0-9]+ track=all\$" "$AS_TMP/first"

# init_on_alloc= against the kernel's own boot line ("mem auto-init: ...,
# heap alloc:on, heap free:off"), which every kernel since 5.3 prints; with
# heap free:on the allocator does not zero at allocation (post_alloc_hook())
ioa=$(as_hdr first init_on_alloc)
boot=$(dmesg | sed -n 's/.*mem auto-init:.*heap alloc:\([a-z]*\), heap free:\([a-z]*\).*/\1,\2/p' | head -1)
ktap_print_msg "init_on_alloc=$ioa; the boot log says heap alloc,free:${boot:-(not found)}"
if [ -z "$boot" ]; then
	ktap_test_skip "init_on_alloc= matches the boot log" "no 'mem auto-init' line in dmesg (rotated out)"
else
	[ "$boot" = on,off ] && want=1 || want=0
	as_check "init_on_alloc= matches the boot log's heap alloc,free:$boot" "$ioa" = "$want"
fi

hooks=$(as_hdr first hooks)
ok=1
for h in faults zeroing mmap_lock exit fork; do
	case ",$hooks," in *",$h,"*) ;; *) ok=0; ktap_print_msg "hook $h missing" ;; esac
done
as_check "hooks= lists faults, zeroing, mmap_lock, exit and fork" $ok -eq 1

as_check "column header is the documented one" "$(sed -n 2p "$AS_TMP/first")" = "$COLUMNS"

ktap_test_result "rows are well-formed" as_rows_wellformed first

# comm with a space and a backslash: escaped as \ooo, one field
odd="$AS_TMP/x y\\z"
cp "$(command -v as-write)" "$odd"
"$odd" /dev/null x > /dev/null
as_snap odd
row=$(grep -F ' x\040y\134z exited ' "$AS_TMP/odd")
ktap_print_msg "row of a program named 'x y\\z': ${row:-none}"
as_check "comm is escaped as \\ooo and stays one field" -n "$row" -a \
	"$(echo "$row" | awk '{ print NF }')" -eq "$(sed -n 2p "$AS_TMP/odd" | awk '{ print NF }')"

# vma_faults is a number exactly when the kernel has per-VMA locks.
vma=$(awk 'NR == 2 { for (i = 1; i <= NF; i++) if ($i == "vma_faults") c = i }
	   NR > 2 { print ($c == "-") ? "dash" : "num" }' "$AS_TMP/first" | sort -u)
case ",$hooks," in
*,vma_lock,*) want=num ;;
*) want=dash ;;
esac
ktap_print_msg "hooks=$hooks vma_faults values: $vma"
as_check "vma_faults is '-' exactly on kernels without per-VMA locks" "$vma" = "$want"

ktap_test_result "/proc/allocstat is mode 0600, owned by root" \
	test "$(stat -c '%a %u' $AS_PROC)" = "600 0"

as_unload && [ ! -e $AS_PROC ] && as_load && [ -r $AS_PROC ]
ktap_test_result "unload removes /proc/allocstat, reload restores it" test $? -eq 0
as_unload

# Bad parameters: no load, and a message that says why.
ok=1
for p in max_tasks=0 max_tasks=65537 max_tasks=abc max_tasks=99999999999999999999 \
	 hooks=bogus hooks=, hooks=faults,nope; do
	if insmod "$ALLOCSTAT_KO" "$p" 2>/dev/null; then
		ktap_print_msg "insmod $p succeeded"
		ok=0
		as_unload
	fi
	as_loaded && ok=0
done
dmesg | tail -n +$((AS_DMESG_MARK + 1)) | grep -q "max_tasks=0 is out of range" || ok=0
dmesg | tail -n +$((AS_DMESG_MARK + 1)) | grep -q "unknown hook group 'bogus'" || ok=0
as_check "bad max_tasks/hooks values are refused with a message" $ok -eq 1

# One hook group: the others print "-".
as_load hooks=faults && as_snap one
ktap_print_msg "hooks=faults: $(head -1 "$AS_TMP/one" | cut -d' ' -f5)"
zero=$(awk 'NR == 2 { for (i = 1; i <= NF; i++) if ($i == "zero_pages") c = i }
	    NR > 2 { print $c }' "$AS_TMP/one" | sort -u)
faults=$(awk 'NR > 2 && $5 != "-" { n++ } END { print n + 0 }' "$AS_TMP/one")
as_check "with hooks=faults, zeroing columns print '-' and faults are numbers" \
	"$zero:$(as_hdr one hooks | sed s/,vma_lock//)" = "-:faults,exit,fork" -a "$faults" -gt 0
as_unload

ktap_test_result "dmesg has no new BUG/WARNING/Oops" as_dmesg_clean
ktap_finished
