#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# --add copies files and folders to /opt/add; a static program runs, and a
# dynamically linked one runs too because its libraries come along.

. "$(dirname "$0")/common.bash"
ktap_set_plan 3

cat >"$TMP/hello.c" <<'C'
#include <stdio.h>
int main(int argc, char **argv)
{
	printf("hello %s\n", argc > 1 ? argv[1] : "?");
	return 7;
}
C
if ! gcc -O2 -static -o "$TMP/hello-static" "$TMP/hello.c" 2>"$TMP/cc.log" ||
   ! gcc -O2 -o "$TMP/hello-dynamic" "$TMP/hello.c" 2>>"$TMP/cc.log"; then
	show "$TMP/cc.log"
	ktap_skip_all "cannot build the test programs (gcc, libc6-dev)"
	exit "$KSFT_SKIP"
fi
ldd "$TMP/hello-dynamic" >/dev/null 2>&1 || ktap_print_msg "warning: hello-dynamic is not dynamic"
mkdir -p "$TMP/folder/sub"
echo "folder data" >"$TMP/folder/sub/data.txt"

vmrun --no-build --add "$TMP/hello-static" --add "$TMP/hello-dynamic" --add "$TMP/folder" \
	-- sh -c './hello-static static; echo "rc=$?"; ./hello-dynamic dynamic; echo "rc=$?";
		cat folder/sub/data.txt'
[ "$RC" -eq 0 ] || show "$ERR"
show "$OUT"
expect "a static program given with --add runs (prints, exits 7)" \
	"$(sed -n 1,2p "$OUT" | tr '\n' ' ')" = "hello static rc=7 "
expect "a dynamic program given with --add runs (its libraries are copied)" \
	"$(sed -n 3,4p "$OUT" | tr '\n' ' ')" = "hello dynamic rc=7 "
expect "a folder given with --add is copied with its contents" \
	"$(sed -n 5p "$OUT")" = "folder data"

ktap_finished
