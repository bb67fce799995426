#!/bin/sh
# Installs what `make test-aarch64` needs: the cross compiler, protobuf-c for arm64
# and libnl-3 and libnl-route-3 for arm64 (dpkg multiarch; libcr links both),
# qemu-system-aarch64 and cpio.  A no-op when all are present.
set -e
PKGS="gcc-aarch64-linux-gnu libc6-dev-arm64-cross libprotobuf-c-dev:arm64 libnl-3-dev:arm64 libnl-route-3-dev:arm64 \
qemu-system-arm cpio"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "installing:$missing"
dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
apt-get update -qq
# the lock may be held by another apt run: wait for it rather than fail
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 $missing >/dev/null
