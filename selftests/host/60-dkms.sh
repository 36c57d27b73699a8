#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# allocstat under DKMS, checked on the host for the kernel series
# $ALLOCSTAT_KERNEL (default 6.1), without changing the host: every dkms
# command runs on private trees in a temporary directory
# (--dkmstree, --sourcetree, --installtree; --no-depmod; module signing, if
# the host has a sign-file for that kernel, with a throw-away key there too).
#
#   1. dkms.conf's PACKAGE_VERSION equals ALLOCSTAT_VERSION of module/allocstat.h
#   2. `make dkms-source` stages Kbuild, COPYING, dkms.conf and module/ only
#   3. dkms add; dkms build -k <release> --kernelsourcedir <cached headers>
#   4. the built allocstat.ko: modinfo name, version, vermagic of <release>;
#      dkms status says built; dkms install puts it in the install tree
#   5. that very .ko loads in a guest of the kernel (selftests/vm-run) and
#      /proc/allocstat's header names the version and the release
#   6. dkms remove --all leaves nothing in the trees
#   7. `make dkms-install` / `make dkms-remove` (as root) on private trees,
#      and their errors: no dkms, a dkms.conf version that differs
#
# KTAP on stdout; exit 0 when everything passed, 4 when dkms is not
# installed (the only skip), 1 otherwise.

SELFTESTS=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOP=$(cd "$SELFTESTS/.." && pwd)
. "$SELFTESTS/lib/ktap.sh"

KERNEL=${ALLOCSTAT_KERNEL:-6.1}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/allocstat-dkms.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
# the module builds that dkms and make start must not inherit a calling
# make's flags (make check runs this under make)
unset MAKEFLAGS MAKELEVEL MFLAGS

ktap_print_header

if ! command -v dkms >/dev/null 2>&1; then
	ktap_skip_all "dkms not installed"
	exit "$KSFT_SKIP"
fi

ktap_set_plan 16

# show FILE [LINES]: a file as diagnostics
show() { sed "s/^/# ${1##*/}: /" "$1" | tail -n "${2:-40}"; }
# point DESCRIPTION COMMAND...: one test point, passing when COMMAND succeeds
point() { ktap_test_result "$@"; }

env=$("$SELFTESTS/lib/kernel-cache" "$KERNEL" 2>"$TMP/kc.err") || {
	show "$TMP/kc.err"
	ktap_exit_fail_msg "kernel-cache $KERNEL failed"
}
KDIR=$(sed -n 's/^KDIR=//p' <<<"$env")
RELEASE=$(sed -n 's/^RELEASE=//p' <<<"$env")
ARCH=$(uname -m)
# A series built in a chroot (sid: its headers need sid's compiler) runs
# the builds there, through build-env, with the headers' own path.
CHROOT=$(sed -n 's/^CHROOT=//p' <<<"$env")
IN=()
[ -z "$CHROOT" ] || IN=("$SELFTESTS/lib/build-env" "$KERNEL")
BUILD_KDIR=${KDIR#"$CHROOT"}
ktap_print_msg "kernel $KERNEL: $RELEASE, headers $KDIR"
ktap_print_msg "$(dkms --version 2>/dev/null)"

# --- 1. one version ----------------------------------------------------------

VERSION=$(sed -n 's/^#define ALLOCSTAT_VERSION[[:space:]]*"\(.*\)"/\1/p' "$TOP/module/allocstat.h")
# read dkms.conf the way dkms does: source it
CONF_VERSION=$(kernelver=$RELEASE kernel_source_dir=$KDIR dkms_tree=/dkms;
	. "$TOP/dkms.conf" >/dev/null 2>&1; echo "$PACKAGE_VERSION")
CONF_NAME=$(. "$TOP/dkms.conf" >/dev/null 2>&1; echo "$PACKAGE_NAME/${BUILT_MODULE_NAME[0]}")
ktap_print_msg "module/allocstat.h: $VERSION; dkms.conf: PACKAGE_VERSION=$CONF_VERSION, name/module $CONF_NAME"
point "dkms.conf: PACKAGE_VERSION ($CONF_VERSION) equals ALLOCSTAT_VERSION ($VERSION), name allocstat" \
	test -n "$VERSION" -a "$CONF_VERSION" = "$VERSION" -a "$CONF_NAME" = allocstat/allocstat

# --- 2. the staged sources ---------------------------------------------------

SRC=$TMP/src/allocstat-$VERSION
make -s --no-print-directory -C "$TOP" dkms-source DKMS_SOURCE_DIR="$SRC" >"$TMP/stage.log" 2>&1
rc=$?
(cd "$SRC" 2>/dev/null && find . -type f | sed 's|^\./||' | LC_ALL=C sort) >"$TMP/staged"
(cd "$TOP" && { printf '%s\n' COPYING Kbuild dkms.conf; ls module/*.c module/*.h module/*.S; } | LC_ALL=C sort) \
	>"$TMP/wanted"
if [ $rc -eq 0 ] && cmp -s "$TMP/staged" "$TMP/wanted"; then
	ktap_test_pass "make dkms-source: COPYING, Kbuild, dkms.conf and module/*.[chS], nothing else ($(wc -l <"$TMP/staged") files)"
else
	show "$TMP/stage.log"
	diff "$TMP/wanted" "$TMP/staged" | sed 's/^/# wanted vs staged: /'
	ktap_test_fail "make dkms-source: COPYING, Kbuild, dkms.conf and module/*.[chS], nothing else (exit $rc)"
	[ -f "$SRC/dkms.conf" ] || ktap_exit_fail_msg "no sources staged for dkms"
fi

# --- 3. add and build ----------------------------------------------------------

mkdir -p "$TMP/dkms" "$TMP/install/$RELEASE"
# if the host can sign for this kernel, dkms signs with a key made here,
# not with /var/lib/dkms/mok.key
export mok_signing_key=$TMP/mok.key mok_certificate=$TMP/mok.pub
DKMS=("${IN[@]}" dkms --dkmstree "$TMP/dkms" --sourcetree "$TMP/src" --installtree "$TMP/install")
# dkms (the 6.12 headers have a vmlinux) runs readelf on it and warns on stderr
dkms_run() { "${DKMS[@]}" "$@" >"$TMP/dkms.log" 2>&1; }
status() { "${DKMS[@]}" status -m allocstat -v "$VERSION" 2>/dev/null; }

dkms_run add -m allocstat -v "$VERSION"
rc=$?
[ $rc -eq 0 ] || show "$TMP/dkms.log"
st=$(status)
ktap_print_msg "dkms status: ${st:-(nothing)}"
point "dkms add -m allocstat -v $VERSION: exit $rc, status 'added'" \
	test $rc -eq 0 -a "$st" = "allocstat/$VERSION: added"

start=$SECONDS
dkms_run build -m allocstat -v "$VERSION" -k "$RELEASE" --kernelsourcedir "$BUILD_KDIR"
rc=$?
BASE=$TMP/dkms/allocstat/$VERSION/$RELEASE/$ARCH
KO=$BASE/module/allocstat.ko
ktap_print_msg "dkms build: exit $rc after $((SECONDS - start))s"
grep -E '^(Sign|Binary|make )' "$TMP/dkms.log" | sed 's/^/# dkms: /'
if [ $rc -ne 0 ]; then
	show "$TMP/dkms.log"
	[ -f "$TMP/dkms/allocstat/$VERSION/build/make.log" ] && show "$TMP/dkms/allocstat/$VERSION/build/make.log"
fi
warnings=$(grep -c 'warning:' "$BASE/log/make.log" 2>/dev/null)
[ "${warnings:-0}" -eq 0 ] || grep -B2 -A3 'warning:' "$BASE/log/make.log" | sed 's/^/# make.log: /'
point "dkms build -k $RELEASE --kernelsourcedir <cached headers>: exit $rc, ${warnings:-no} compiler warnings" \
	test $rc -eq 0 -a "${warnings:-0}" -eq 0

point "the built module exists: ${KO#$TMP/}" test -s "$KO"
[ -s "$KO" ] || ktap_exit_fail_msg "dkms built no module"

# --- 4. what was built -----------------------------------------------------------

name=$(modinfo -F name "$KO" 2>/dev/null)
version=$(modinfo -F version "$KO" 2>/dev/null)
vermagic=$(modinfo -F vermagic "$KO" 2>/dev/null)
ktap_print_msg "modinfo: name=$name version=$version vermagic=$vermagic"
point "modinfo: name allocstat, version $VERSION" test "$name" = allocstat -a "$version" = "$VERSION"
point "modinfo: vermagic starts with '$RELEASE '" test "${vermagic%% *}" = "$RELEASE"

st=$(status)
ktap_print_msg "dkms status: ${st:-(nothing)}"
point "dkms status: allocstat/$VERSION, $RELEASE, $ARCH: built" \
	test "$st" = "allocstat/$VERSION, $RELEASE, $ARCH: built"

cp "$KO" "$TMP/allocstat.ko" 2>/dev/null

# dkms install needs root even on a private tree
if [ "$(id -u)" = 0 ]; then
	dkms_run install --no-depmod -m allocstat -v "$VERSION" -k "$RELEASE"
	rc=$?
	[ $rc -eq 0 ] || show "$TMP/dkms.log"
	installed=$(cd "$TMP/install/$RELEASE" && find . -name 'allocstat.ko*' | sed 's|^\./||')
	st=$(status)
	ktap_print_msg "dkms install: exit $rc, installed: ${installed:-nothing}; status: $st"
	ktap_print_msg "(dkms.conf says /extra; dkms replaces it on Debian and Ubuntu with /updates/dkms)"
	point "dkms install --no-depmod: one allocstat.ko in the install tree, status installed" \
		test $rc -eq 0 -a "$(wc -w <<<"$installed")" -eq 1 \
		-a "$st" = "allocstat/$VERSION, $RELEASE, $ARCH: installed" \
		-a -n "$installed" -a -f "$TMP/install/$RELEASE/$installed"
else
	ktap_test_skip "dkms install --no-depmod into the private install tree" "dkms install needs root"
fi

# --- 5. the dkms-built module in a guest ----------------------------------------------

start=$SECONDS
"$SELFTESTS/vm-run" --kernel "$KERNEL" --no-build --mem 1024 --timeout 400 \
	--add "$TMP/allocstat.ko" -- \
	sh -c 'insmod /opt/add/allocstat.ko && head -n 2 /proc/allocstat && rmmod allocstat' \
	>"$TMP/guest.out" 2>"$TMP/guest.err" </dev/null
rc=$?
ktap_print_msg "vm-run --kernel $KERNEL: exit $rc after $((SECONDS - start))s"
show "$TMP/guest.out" 5
[ $rc -eq 0 ] || show "$TMP/guest.err" 30
point "the dkms-built allocstat.ko loads and unloads in a $RELEASE guest (vm-run exit $rc)" test $rc -eq 0
header=$(sed -n 1p "$TMP/guest.out" | tr -d '\r')
columns=$(sed -n 2p "$TMP/guest.out" | tr -d '\r')
if [[ "$header" == "# allocstat $VERSION kernel=$RELEASE hooks="* && "$columns" == "tid tgid comm "* ]]; then
	ktap_test_pass "/proc/allocstat: '# allocstat $VERSION kernel=$RELEASE hooks=...' and the column names"
else
	ktap_test_fail "/proc/allocstat: '# allocstat $VERSION kernel=$RELEASE hooks=...' and the column names"
fi

# --- 6. remove -------------------------------------------------------------------

dkms_run remove --no-depmod allocstat/"$VERSION" --all
rc=$?
[ $rc -eq 0 ] || show "$TMP/dkms.log"
st=$(status)
left=$(find "$TMP/dkms" "$TMP/install" -mindepth 1 -not -type d | sed "s|^$TMP/||")
ktap_print_msg "dkms remove: exit $rc; status: ${st:-(nothing)}; files left: ${left:-none}"
point "dkms remove allocstat/$VERSION --all: status empty, no file left in the dkms and install trees" \
	test $rc -eq 0 -a -z "$st" -a -z "$left" -a ! -e "$TMP/dkms/allocstat/$VERSION"

# --- 7. the Makefile's targets -----------------------------------------------------

if [ "$(id -u)" = 0 ]; then
	P=$TMP/make
	mkdir -p "$P/dkms" "$P/install/$RELEASE"
	margs=(DKMS="dkms --no-depmod --dkmstree $P/dkms --sourcetree $P/src --installtree $P/install"
	       DKMS_SOURCE_DIR="$P/src/allocstat-$VERSION" KDIR="$BUILD_KDIR")
	start=$SECONDS
	"${IN[@]}" make --no-print-directory -C "$TOP" dkms-install "${margs[@]}" >"$TMP/make.log" 2>&1
	rc=$?
	[ $rc -eq 0 ] || show "$TMP/make.log"
	st=$("${IN[@]}" dkms --dkmstree "$P/dkms" --sourcetree "$P/src" --installtree "$P/install" \
		status -m allocstat -v "$VERSION" 2>/dev/null)
	ktap_print_msg "make dkms-install: exit $rc after $((SECONDS - start))s; status: $st"
	grep -E '^dkms ' "$TMP/make.log" | sed "s|$TMP/||g; s/^/# make: /"
	point "make dkms-install (private trees, KVER from KDIR): status installed for $RELEASE" \
		test $rc -eq 0 -a "$st" = "allocstat/$VERSION, $RELEASE, $ARCH: installed"
	"${IN[@]}" make --no-print-directory -C "$TOP" dkms-remove "${margs[@]}" >"$TMP/make.log" 2>&1
	rc=$?
	[ $rc -eq 0 ] || show "$TMP/make.log"
	left=$(find "$P" -mindepth 1 -not -type d | sed "s|^$TMP/||")
	ktap_print_msg "make dkms-remove: exit $rc; files left: ${left:-none}"
	point "make dkms-remove: the dkms tree, the install tree and the staged sources are empty" \
		test $rc -eq 0 -a -z "$left" -a ! -e "$P/src/allocstat-$VERSION"
else
	ktap_test_skip "make dkms-install on private trees" "needs root"
	ktap_test_skip "make dkms-remove on private trees" "needs root"
fi

make --no-print-directory -C "$TOP" dkms-install DKMS="$TMP/no-such-dkms" \
	DKMS_SOURCE_DIR="$TMP/unused" >"$TMP/make.log" 2>&1
rc=$?
show "$TMP/make.log" 3
point "make dkms-install without dkms: fails, says so and stages nothing" \
	test $rc -ne 0 -a ! -e "$TMP/unused" -a -n "$(grep 'not found: install dkms' "$TMP/make.log")"

# a copy whose dkms.conf disagrees with the header must be refused
B=$TMP/bad
mkdir -p "$B"
cp -R "$TOP/Makefile" "$TOP/Kbuild" "$TOP/COPYING" "$TOP/dkms.conf" "$TOP/module" "$B/"
sed -i 's/^PACKAGE_VERSION=.*/PACKAGE_VERSION="0.0.0-wrong"/' "$B/dkms.conf"
make --no-print-directory -C "$B" dkms-source DKMS_SOURCE_DIR="$TMP/bad-src" >"$TMP/make.log" 2>&1
rc=$?
show "$TMP/make.log" 3
point "make dkms-source refuses a dkms.conf whose PACKAGE_VERSION differs from the header" \
	test $rc -ne 0 -a ! -e "$TMP/bad-src" -a -n "$(grep 'make them equal' "$TMP/make.log")"

ktap_finished
