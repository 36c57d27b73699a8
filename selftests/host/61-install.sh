#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make install / make uninstall, checked on the host for the kernel series
# $ALLOCSTAT_KERNEL (default 6.1), into a DESTDIR: nothing is installed into
# the host and nothing is loaded.  The build runs in a copy of the sources
# (Makefile, Kbuild, COPYING, module/, userspace/, man/) so that the working
# tree gets no objects built for the cached kernel.
#
#   make install   DESTDIR=$TMP PREFIX=/usr KDIR=<cached headers>: exactly
#                  lib/modules/<release>/extra/allocstat.ko[.xz], bin/<PROGS of
#                  userspace/Makefile>, share/man/man1/*.1, share/man/man4/*.4
#   make uninstall with the same variables: no file left
#   make install-userspace without kernel headers; make install without them
#                  fails with the KDIR message and installs nothing
#
# KTAP on stdout; exit 0 when everything passed, 1 otherwise.

SELFTESTS=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOP=$(cd "$SELFTESTS/.." && pwd)
. "$SELFTESTS/lib/ktap.sh"

KERNEL=${ALLOCSTAT_KERNEL:-6.1}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/allocstat-install.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
unset MAKEFLAGS MAKELEVEL MFLAGS	# make check runs this under make

ktap_print_header
ktap_set_plan 8

show() { sed "s/^/# ${1##*/}: /" "$1" | tail -n "${2:-40}"; }
point() { ktap_test_result "$@"; }
# files DIR: the files and symlinks under DIR, relative, sorted
files() { (cd "$1" && find . -mindepth 1 -not -type d | sed 's|^\./||' | LC_ALL=C sort); }

env=$("$SELFTESTS/lib/kernel-cache" "$KERNEL" 2>"$TMP/kc.err") || {
	show "$TMP/kc.err"
	ktap_exit_fail_msg "kernel-cache $KERNEL failed"
}
KDIR=$(sed -n 's/^KDIR=//p' <<<"$env")
RELEASE=$(sed -n 's/^RELEASE=//p' <<<"$env")
# A series built in a chroot (sid: its headers need sid's compiler) runs
# the builds there, through build-env, with the headers' own path.
CHROOT=$(sed -n 's/^CHROOT=//p' <<<"$env")
IN=()
[ -z "$CHROOT" ] || IN=("$SELFTESTS/lib/build-env" "$KERNEL")
BUILD_KDIR=${KDIR#"$CHROOT"}
ktap_print_msg "kernel $KERNEL: $RELEASE, headers $KDIR"

SRC=$TMP/src
mkdir -p "$SRC"
for f in Makefile Kbuild COPYING module userspace man; do
	[ -e "$TOP/$f" ] && cp -R "$TOP/$f" "$SRC/"
done
rm -rf "$SRC/userspace/build"
find "$SRC/module" -type f ! -name '*.[chS]' -delete

VERSION=$(sed -n 's/^#define ALLOCSTAT_VERSION[[:space:]]*"\(.*\)"/\1/p' "$SRC/module/allocstat.h")
# the programs userspace/Makefile builds
PROGS=$(make -s --no-print-directory -C "$SRC/userspace" \
	--eval='test-print-progs: ; @echo $(PROGS)' test-print-progs)
MAN1=$(cd "$SRC" && ls man/*.1 2>/dev/null)
MAN4=$(cd "$SRC" && ls man/*.4 2>/dev/null)
# modules_install compresses as the kernel's config says (6.1: only with a
# COMPRESS_* choice; 6.12 and later: only with CONFIG_MODULE_COMPRESS_ALL too)
suffix=
case "$(grep -E '^CONFIG_MODULE_COMPRESS_(GZIP|XZ|ZSTD)=y' "$KDIR/.config")" in
*GZIP*) suffix=.gz ;;
*XZ*) suffix=.xz ;;
*ZSTD*) suffix=.zst ;;
esac
if grep -q 'CONFIG_MODULE_COMPRESS_ALL' "$KDIR/.config" &&
   ! grep -q '^CONFIG_MODULE_COMPRESS_ALL=y' "$KDIR/.config"; then
	suffix=
fi
KO=lib/modules/$RELEASE/extra/allocstat.ko$suffix
ktap_print_msg "version $VERSION; PROGS: $PROGS; man pages: $(echo $MAN1 $MAN4)"

# --- make install ----------------------------------------------------------------

DEST=$TMP/dest
vars=(DESTDIR="$DEST" PREFIX=/usr KDIR="$BUILD_KDIR")
start=$SECONDS
"${IN[@]}" make --no-print-directory -C "$SRC" install "${vars[@]}" >"$TMP/install.log" 2>&1
rc=$?
ktap_print_msg "make install DESTDIR=\$TMP/dest PREFIX=/usr KDIR=<$KERNEL headers>: exit $rc after $((SECONDS - start))s"
[ $rc -eq 0 ] || show "$TMP/install.log"
point "make install DESTDIR PREFIX=/usr KDIR: exit 0" test $rc -eq 0

{
	echo "$KO"
	for p in $PROGS; do echo "usr/bin/$p"; done
	for m in $MAN1; do echo "usr/share/man/man1/${m#man/}"; done
	for m in $MAN4; do echo "usr/share/man/man4/${m#man/}"; done
} | LC_ALL=C sort >"$TMP/wanted"
files "$DEST" >"$TMP/installed"
sed 's/^/# installed: /' "$TMP/installed"
if cmp -s "$TMP/wanted" "$TMP/installed"; then
	ktap_test_pass "the installed files are exactly the module, the programs and the man pages ($(wc -l <"$TMP/wanted"))"
else
	diff "$TMP/wanted" "$TMP/installed" | sed 's/^/# wanted vs installed: /'
	ktap_test_fail "the installed files are exactly the module, the programs and the man pages"
fi

name=$(modinfo -F name "$DEST/$KO" 2>/dev/null)
version=$(modinfo -F version "$DEST/$KO" 2>/dev/null)
vermagic=$(modinfo -F vermagic "$DEST/$KO" 2>/dev/null)
ktap_print_msg "modinfo $KO: name=$name version=$version vermagic=$vermagic"
point "$KO: name allocstat, version $VERSION, vermagic $RELEASE" \
	test "$name" = allocstat -a "$version" = "$VERSION" -a "${vermagic%% *}" = "$RELEASE"

bad=
for p in $PROGS; do
	f=$DEST/usr/bin/$p
	mode=$(stat -c %a "$f" 2>/dev/null)
	magic=$(head -c 4 "$f" 2>/dev/null | od -An -c | tr -d ' ')
	ktap_print_msg "usr/bin/$p: mode ${mode:-missing}, magic $magic"
	[ "$mode" = 755 ] && [ "$magic" = '177ELF' ] || bad+=" $p"
done
case " $PROGS " in
*" allocstat-export "*) ;;
*) ktap_print_msg "note: allocstat-export is not in userspace/Makefile's PROGS" ;;
esac
point "programs: allocstat-run among PROGS, each an ELF executable, mode 755${bad:+ (bad:$bad)}" \
	test -z "$bad" -a -n "$(grep -w allocstat-run <<<"$PROGS")"

bad=
for m in $MAN1 $MAN4; do
	f=$DEST/usr/share/man/man${m##*.}/${m#man/}
	[ "$(stat -c %a "$f" 2>/dev/null)" = 644 ] && cmp -s "$SRC/$m" "$f" || bad+=" $m"
done
if [ -z "$MAN1$MAN4" ]; then
	ktap_test_skip "man pages installed" "no man/*.1 or man/*.4 yet"
else
	point "man pages: $(echo $MAN1 $MAN4) in man1/man4, mode 644, unchanged${bad:+ (bad:$bad)}" test -z "$bad"
fi

# --- make uninstall ----------------------------------------------------------------

"${IN[@]}" make --no-print-directory -C "$SRC" uninstall "${vars[@]}" >"$TMP/uninstall.log" 2>&1
rc=$?
[ $rc -eq 0 ] || show "$TMP/uninstall.log"
left=$(files "$DEST")
ktap_print_msg "make uninstall: exit $rc; files left: ${left:-none}; empty directories left: $(find "$DEST" -mindepth 1 -type d | wc -l)"
point "make uninstall with the same variables: exit 0, no file left" test $rc -eq 0 -a -z "$left"

# --- without kernel headers ----------------------------------------------------------

DEST2=$TMP/dest2
make --no-print-directory -C "$SRC" install-userspace DESTDIR="$DEST2" PREFIX=/usr \
	KDIR="$TMP/no-headers" >"$TMP/install2.log" 2>&1
rc=$?
[ $rc -eq 0 ] || show "$TMP/install2.log"
grep -v '^lib/' "$TMP/wanted" >"$TMP/wanted2"
files "$DEST2" >"$TMP/installed2" 2>/dev/null
point "make install-userspace without kernel headers: exit 0, the programs and man pages only" \
	test $rc -eq 0 -a "$(cat "$TMP/installed2")" = "$(cat "$TMP/wanted2")"
make --no-print-directory -C "$SRC" uninstall-userspace DESTDIR="$DEST2" PREFIX=/usr \
	KDIR="$TMP/no-headers" >>"$TMP/install2.log" 2>&1
rc2=$?

DEST3=$TMP/dest3
make --no-print-directory -C "$SRC" install DESTDIR="$DEST3" PREFIX=/usr \
	KDIR="$TMP/no-headers" >"$TMP/install3.log" 2>&1
rc=$?
show "$TMP/install3.log" 6
point "make install without kernel headers: fails with the KDIR message, installs nothing; uninstall-userspace cleans up (exit $rc2)" \
	test $rc -ne 0 -a -n "$(grep -F "KDIR=$TMP/no-headers does not exist" "$TMP/install3.log")" \
	-a -z "$(files "$DEST3" 2>/dev/null)" -a -z "$(files "$DEST2")" -a $rc2 -eq 0

ktap_finished
