# SPDX-License-Identifier: GPL-2.0
#
# allocstat top-level Makefile, dual mode in the manner of lttng-modules:
# from the kernel's build system (KERNELRELEASE set) it hands over to Kbuild;
# from the command line it drives the kernel build, the userspace programs
# and the tests.
#
#   make                      allocstat.ko against KDIR + the userspace programs
#   make KDIR=/path/to/build  against any kernel build tree
#   make check                every test on Debian's 6.1, 6.12 and sid (7.x) kernels in QEMU
#   make check KERNELS=6.12   one kernel only
#   make lint                 sparse, checkpatch (module/) and cppcheck (userspace/)
#   make check-debug          every selftest on a KASAN/lockdep/kmemleak kernel
#   make check-flavours       load, faults, zeroing, mmap_lock and int3 tests on Debian's
#                             -rt (PREEMPT_RT) and -cloud kernels of both series
#   make check-fresh          the README's Quick start in a fresh Debian 12 chroot (root)
#   make demo                 allocstat-run on Debian 6.1 in QEMU (KERNEL=6.12, sid: there)
#   make demo-capture         make demo on 6.1, 6.12 and sid, into docs/ and the README
#   make bench                overhead, scaling, read time, memory (selftests/bench)
#   make clean                module, userspace and selftest helpers
#
#   make install              allocstat.ko to /lib/modules/<release>/extra/ (release of
#                             KDIR), the programs to $(PREFIX)/bin and the man pages to
#                             $(PREFIX)/share/man/man{1,4}; PREFIX=/usr/local, DESTDIR=
#   make install-userspace    the programs and man pages only (no kernel headers needed)
#   make install-module       allocstat.ko only; then depmod, unless DESTDIR is set,
#                             the kernel is not installed here, or DEPMOD=true
#   make uninstall            removes what install put there (same variables);
#                             also uninstall-module and uninstall-userspace
#   make dkms-install         as root: sources to /usr/src/allocstat-<version>/, then
#                             dkms add, build and install for KVER (default: uname -r)
#   make dkms-remove          as root: dkms remove allocstat/<version> --all, and the sources
#
# The kernel release is KVER, not KERNELRELEASE: a KERNELRELEASE on the
# command line would switch this Makefile to its Kbuild half.

ifneq ($(KERNELRELEASE),)

include $(src)/Kbuild

else

KDIR ?= /lib/modules/$(shell uname -r)/build
KERNELS ?= 6.1 6.12 sid

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

FLAVOURS ?= 6.1-rt 6.12-rt 6.1-cloud 6.12-cloud
FLAVOUR_TESTS ?= 10-load.sh 20-faults.sh 30-thp.sh 40-contention.sh 81-direct-calls.sh 98-int3.sh
check-flavours:
	@CHECK_TESTS="$(FLAVOUR_TESTS)" selftests/lib/check $(FLAVOURS)

check-fresh:
	@selftests/lib/check-fresh

KERNEL ?= 6.1
demo:
	selftests/vm-run --kernel $(KERNEL) --mem 6144 --load "" -- \
		sh -c 'allocstat-run; echo; cat /proc/allocstat'

# make demo on 6.1, 6.12 and sid, kept in docs/demo-*.txt and the README's example
demo-capture:
	selftests/lib/capture-demo

# static checks; fails on any finding (selftests/lib/lint)
lint:
	@selftests/lib/lint

# builds Debian's linux-source-6.1 with selftests/debug.config once (~9 min,
# cached in .cache/debug-kernel/), runs every selftest on it in QEMU and
# fails on any BUG/WARNING/KASAN/lockdep/kmemleak report
check-debug:
	@selftests/lib/check-debug

# what allocstat costs, in the VM on each kernel: numbers, never pass/fail
BENCH_KERNELS ?= 6.1 6.12 sid
bench:
	selftests/bench/run $(BENCH_KERNELS)

# --- install ------------------------------------------------------------------

# the version: module/allocstat.h is its one source (modinfo, /proc/allocstat);
# dkms.conf repeats it and dkms-source checks that the two agree
VERSION := $(shell sed -n 's/^.define ALLOCSTAT_VERSION[[:space:]]*"\(.*\)"/\1/p' $(CURDIR)/module/allocstat.h)

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DEPMOD ?= depmod
# the release to install for: KDIR's (its utsrelease.h, which the module's
# vermagic repeats; Debian 6.1's `make kernelrelease` says 6.1.y instead),
# else the running kernel's
KVER ?= $(or $(shell sed -n 's/^.define UTS_RELEASE "\(.*\)"/\1/p' $(KDIR)/include/generated/utsrelease.h 2>/dev/null),$(shell uname -r))

# the programs userspace/Makefile builds (its PROGS), read without a target there
USERSPACE_PROGS ?= $(shell MAKEFLAGS= $(MAKE) -s --no-print-directory -C $(CURDIR)/userspace \
	--eval='allocstat-print-progs: ; @echo $$(PROGS)' allocstat-print-progs)
MAN1 := $(wildcard $(CURDIR)/man/*.1)
MAN4 := $(wildcard $(CURDIR)/man/*.4)

# the module as modules_install leaves it: .ko, or compressed when the kernel
# config asks (Debian 6.12: CONFIG_MODULE_COMPRESS_XZ and _ALL, allocstat.ko.xz)
MODULE_DEST = $(DESTDIR)/lib/modules/$(KVER)/extra
MODULE_FILES = $(addprefix $(MODULE_DEST)/allocstat.ko,.gz .xz .zst) $(MODULE_DEST)/allocstat.ko

install: install-module install-userspace

# The kernel's modules_install skips depmod without a System.map, which
# Debian's headers do not ship, so depmod runs here; it tries to sign with
# CONFIG_MODULE_SIG_KEY and prints SSL errors when the key is missing (as in
# every distribution's headers): the module is installed unsigned.
install-module: module
	$(MAKE) -C $(KDIR) M=$(CURDIR) INSTALL_MOD_PATH=$(abspath $(DESTDIR)) \
		INSTALL_MOD_DIR=extra modules_install
	@if [ -z "$(DESTDIR)" ] && [ -d /lib/modules/$(KVER)/kernel ]; then \
		echo "$(DEPMOD) -a $(KVER)"; $(DEPMOD) -a $(KVER); \
	fi

install-userspace: userspace
	@progs="$(USERSPACE_PROGS)"; [ -n "$$progs" ] || \
		{ echo "install: no PROGS in userspace/Makefile" >&2; exit 1; }; \
	install -d $(DESTDIR)$(BINDIR); \
	for p in $$progs; do \
		echo "install userspace/build/$$p $(DESTDIR)$(BINDIR)/$$p"; \
		install -m 755 userspace/build/$$p $(DESTDIR)$(BINDIR)/$$p || exit 1; \
	done
ifneq ($(MAN1),)
	install -d $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/
endif
ifneq ($(MAN4),)
	install -d $(DESTDIR)$(MANDIR)/man4
	install -m 644 $(MAN4) $(DESTDIR)$(MANDIR)/man4/
endif

uninstall: uninstall-module uninstall-userspace

uninstall-module:
	rm -f $(MODULE_FILES)
	@rmdir $(MODULE_DEST) 2>/dev/null || true
	@if [ -z "$(DESTDIR)" ] && [ -d /lib/modules/$(KVER)/kernel ]; then \
		echo "$(DEPMOD) -a $(KVER)"; $(DEPMOD) -a $(KVER); \
	fi

uninstall-userspace:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(USERSPACE_PROGS)) \
		$(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MAN1))) \
		$(addprefix $(DESTDIR)$(MANDIR)/man4/,$(notdir $(MAN4)))

# --- DKMS -----------------------------------------------------------------------

DKMS ?= dkms
DKMS_SOURCE_DIR ?= /usr/src/allocstat-$(VERSION)
# dkms finds /lib/modules/$(KVER)/build itself; a KDIR given explicitly is passed on
DKMS_KDIR = $(if $(filter-out default file,$(origin KDIR)),--kernelsourcedir $(KDIR))

# the sources the module build needs, as dkms wants them (no userspace/, selftests/)
dkms-source:
	@[ -n "$(VERSION)" ] || { echo "dkms-source: no ALLOCSTAT_VERSION in module/allocstat.h" >&2; exit 1; }
	@v=$$(sed -n 's/^PACKAGE_VERSION="\{0,1\}\([^"]*\)"\{0,1\}$$/\1/p' dkms.conf); \
	if [ "$$v" != "$(VERSION)" ]; then \
		echo "dkms-source: dkms.conf says PACKAGE_VERSION=$$v, module/allocstat.h says $(VERSION): make them equal" >&2; \
		exit 1; \
	fi
	rm -rf $(DKMS_SOURCE_DIR)
	mkdir -p $(DKMS_SOURCE_DIR)/module
	cp COPYING Kbuild dkms.conf $(DKMS_SOURCE_DIR)/
	cp module/*.c module/*.h module/*.S $(DKMS_SOURCE_DIR)/module/

dkms-check:
	@[ -n "$(VERSION)" ] || { echo "no ALLOCSTAT_VERSION in module/allocstat.h" >&2; exit 1; }
	@command -v $(firstword $(DKMS)) >/dev/null 2>&1 || { \
		echo "$(firstword $(DKMS)) not found: install dkms (apt-get install dkms), or use 'make install'." >&2; \
		exit 1; }
	@[ "$$(id -u)" = 0 ] || { \
		echo "dkms-install and dkms-remove must run as root: they write /usr/src, /var/lib/dkms and /lib/modules." >&2; \
		exit 1; }

# MAKEFLAGS is dropped so that the module build dkms runs does not inherit
# this make's flags and command-line variables.  Re-running rebuilds
# (--force) from the refreshed sources.
dkms-install: dkms-check
	@$(MAKE) --no-print-directory dkms-source
	@unset MAKEFLAGS MAKELEVEL MFLAGS; set -e; \
	if [ -n "$$($(DKMS) status -m allocstat -v $(VERSION))" ]; then \
		echo "allocstat/$(VERSION) is already added to dkms"; \
	else \
		echo "$(DKMS) add -m allocstat -v $(VERSION)"; \
		$(DKMS) add -m allocstat -v $(VERSION); \
	fi; \
	echo "$(DKMS) build -m allocstat -v $(VERSION) -k $(KVER) $(DKMS_KDIR) --force"; \
	$(DKMS) build -m allocstat -v $(VERSION) -k $(KVER) $(DKMS_KDIR) --force; \
	echo "$(DKMS) install -m allocstat -v $(VERSION) -k $(KVER) $(DKMS_KDIR) --force"; \
	$(DKMS) install -m allocstat -v $(VERSION) -k $(KVER) $(DKMS_KDIR) --force

dkms-remove: dkms-check
	@unset MAKEFLAGS MAKELEVEL MFLAGS; \
	if [ -n "$$($(DKMS) status -m allocstat -v $(VERSION))" ]; then \
		echo "$(DKMS) remove allocstat/$(VERSION) --all"; \
		$(DKMS) remove allocstat/$(VERSION) --all || exit 1; \
	fi
	rm -rf $(DKMS_SOURCE_DIR)

.PHONY: all module userspace clean distclean deps check check-debug check-flavours check-fresh lint demo demo-capture bench \
	install install-module install-userspace uninstall uninstall-module \
	uninstall-userspace dkms-source dkms-check dkms-install dkms-remove

endif
