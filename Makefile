# SPDX-License-Identifier: GPL-2.0
#
# allocstat top-level Makefile, dual mode in the manner of lttng-modules:
# from the kernel's build system (KERNELRELEASE set) it hands over to Kbuild;
# from the command line it drives the kernel build, the userspace programs
# and the tests.
#
#   make                      allocstat.ko against KDIR + the userspace programs
#   make KDIR=/path/to/build  against any kernel build tree
#   make check                every test on Debian's 6.1 and 6.12 kernels in QEMU
#   make check KERNELS=6.12   one kernel only
#   make lint                 sparse, checkpatch (module/) and cppcheck (userspace/)
#   make check-debug          every selftest on a KASAN/lockdep/kmemleak kernel
#   make demo                 allocstat-run on Debian 6.1 in QEMU
#   make bench                overhead, scaling, read time, memory (selftests/bench)
#   make clean                module, userspace and selftest helpers

ifneq ($(KERNELRELEASE),)

include $(src)/Kbuild

else

KDIR ?= /lib/modules/$(shell uname -r)/build
KERNELS ?= 6.1 6.12

all: module userspace

module:
	@if [ ! -d "$(KDIR)" ]; then \
		echo "KDIR=$(KDIR) does not exist." >&2; \
		echo "Install the headers of the running kernel (e.g. apt-get install linux-headers-$$(uname -r))," >&2; \
		echo "or pass KDIR=/path/to/kernel/build, or try allocstat on Debian's kernels in QEMU" >&2; \
		echo "without installing anything: 'make check' or 'selftests/vm-run --load \"\" -- allocstat-run'." >&2; \
		exit 1; \
	fi
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

userspace:
	$(MAKE) -C userspace

clean:
	rm -f *.ko *.o *.mod *.mod.c .*.cmd Module.symvers modules.order
	rm -f module/*.o module/*.mod module/*.mod.c module/.*.cmd
	rm -rf .tmp_versions
	$(MAKE) -C userspace clean
	$(MAKE) -C selftests clean

# also drops the kernel cache (.cache/: downloaded Debian kernels, builds)
distclean: clean
	rm -rf .cache

# installs what the build and the QEMU tests need (apt-get; as root)
deps:
	selftests/lib/install-deps all

check:
	@selftests/lib/check $(KERNELS)

demo:
	selftests/vm-run --kernel 6.1 --mem 6144 --load "" -- \
		sh -c 'allocstat-run; echo; cat /proc/allocstat'

# static checks; fails on any finding (selftests/lib/lint)
lint:
	@selftests/lib/lint

# builds Debian's linux-source-6.1 with selftests/debug.config once (~9 min,
# cached in .cache/debug-kernel/), runs every selftest on it in QEMU and
# fails on any BUG/WARNING/KASAN/lockdep/kmemleak report
check-debug:
	@selftests/lib/check-debug

# what allocstat costs, in the VM on each kernel: numbers, never pass/fail
bench:
	selftests/bench/run $(KERNELS)

.PHONY: all module userspace clean distclean deps check check-debug lint demo bench

endif
