#!/bin/bash
# test/api-example.sh: libcr as a runtime links it.
#
#   example       build/examples/cr-example (Documentation/examples/cr-example.c, built
#                 by make against the tree): dumps a counting child through the API
#                 with a notify callback, restores it, and it counts on
#   pkg-config    after `make install PREFIX=TMP`, `pkg-config --cflags --libs libcr`
#                 builds the same example against the installed headers and libcr.so,
#                 and it runs
#   criu-link     `make install-criu-compat` adds sbin/criu, which answers as CRIU 3.x
# Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 2
B=${B:-$PWD/build}
pass=0
fail=0
work=$(mktemp -d /tmp/libcr-api-XXXXXX)
trap 'rm -rf "$work"' EXIT
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

if "$B/examples/cr-example" "$work/img1" >"$work/out1" 2>&1 &&
	grep -q 'dump: post-dump' "$work/out1" && grep -q 'restore: post-resume' "$work/out1"; then
	ok "example: $(tail -n 1 "$work/out1")"
else
	bad example "$(tr '\n' ' ' <"$work/out1")"
fi

P=$work/prefix
# shellcheck disable=SC2086  # $flags: pkg-config's words
if ! make -s install PREFIX="$P" B="$B" >"$work/install.out" 2>&1; then
	bad pkg-config "make install failed: $(tail -n 3 "$work/install.out")"
elif ! flags=$(PKG_CONFIG_PATH="$P/lib/pkgconfig" pkg-config --cflags --libs libcr 2>&1); then
	bad pkg-config "pkg-config: $flags"
elif ! cc -std=gnu11 -Wall -Werror -o "$work/cr-example" Documentation/examples/cr-example.c $flags \
	>"$work/cc.out" 2>&1; then
	bad pkg-config "cc with '$flags': $(tr '\n' ' ' <"$work/cc.out")"
elif ! LD_LIBRARY_PATH="$P/lib" "$work/cr-example" "$work/img2" >"$work/out2" 2>&1; then
	bad pkg-config "the example built with '$flags' failed: $(tr '\n' ' ' <"$work/out2")"
else
	ok "pkg-config: '$flags' builds the example against $P; $(tail -n 1 "$work/out2")"
fi

if ! make -s install-criu-compat PREFIX="$P" B="$B" >"$work/install2.out" 2>&1; then
	bad criu-link "make install-criu-compat failed: $(tail -n 3 "$work/install2.out")"
elif ! v=$("$P/sbin/criu" --version 2>&1) || ! [[ "$v" =~ ^Version:\ 3\. ]]; then
	bad criu-link "$P/sbin/criu --version: $v"
else
	ok "criu-link: $P/sbin/criu -> $(readlink "$P/sbin/criu"): $(echo "$v" | tr '\n' ' ')"
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
