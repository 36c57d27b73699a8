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
#   make demo                 allocstat-run on Debian 6.1 in QEMU
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

# room for later targets: bench, lint, check-debug

.PHONY: all module userspace clean distclean deps check demo

endif
