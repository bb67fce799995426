#!/bin/bash
# test/cpu-features.sh: a restore on a CPU without a feature the image's registers
# need fails at once, naming the feature.  Run by tools/test-aarch64.sh in a second
# arm64 VM whose CPU has no SVE (-cpu max,sve=off), on test/fixtures/image-aarch64
# (dumped where SVE was live).  Elsewhere it says why it has nothing to do.
set -u
cd "$(dirname "$0")/.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
FX=test/fixtures/image-aarch64
if [ "$(uname -m)" != aarch64 ] || grep -qw sve /proc/cpuinfo; then
	echo "SKIP missing-sve: needs an arm64 CPU without SVE"
	echo "0 passed, 0 failed"
	exit 0
fi
T=$(mktemp -d /tmp/libcr-cpu-XXXXXX) || exit 2
trap 'rm -rf "$T"' EXIT
cp -r "$FX" "$T/img"
timeout 60 "$CRTOOL" restore -D "$T/img" -d >"$T/out" 2>"$T/err"
rc=$?
line=$(cat "$T/err")
if [ "$rc" != 0 ] && [ "$(grep -c '' "$T/err")" = 1 ] &&
	[[ "$line" == "Error: "*"need CPU feature 'sve' that this CPU lacks"* ]]; then
	echo "PASS missing-sve"
	echo "1 passed, 0 failed"
	exit 0
fi
echo "FAIL missing-sve: exit status $rc, stderr: $line"
echo "0 passed, 1 failed"
exit 1
