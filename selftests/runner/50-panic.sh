#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A guest kernel panic, during COMMAND or before it (boot failure), is
# reported as such with the console tail, and vm-run exits 125.

. "$(dirname "$0")/common.bash"
ktap_set_plan 4

vmrun --no-build -- sh -c 'echo c >/proc/sysrq-trigger; sleep 100'
expect "a panic in the guest makes vm-run exit 125" "$RC" -eq 125
if grep_err 'kernel panic while COMMAND ran' && grep_err 'sysrq triggered crash'; then
	ktap_test_pass "stderr names the panic and shows it from the console"
else
	show "$ERR"
	ktap_test_fail "stderr names the panic and shows it from the console"
fi

# no init in the initramfs: the kernel cannot start COMMAND and panics
vmrun --no-build --append "rdinit=/no/such/init" -- true
expect "a guest that never reaches COMMAND makes vm-run exit 125" "$RC" -eq 125
if grep_err 'before COMMAND'; then
	ktap_test_pass "stderr says the guest did not reach COMMAND"
else
	show "$ERR"
	ktap_test_fail "stderr says the guest did not reach COMMAND"
fi

ktap_finished
