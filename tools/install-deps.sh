#!/bin/sh
# Installs the Debian packages libcr builds and tests with; a no-op when all are present.
set -e
PKGS="gcc make libc6-dev binutils pkg-config libprotobuf-c-dev protobuf-c-compiler \
libnl-3-dev libnl-route-3-dev libcap-dev libbsd-dev nginx-light curl procps iproute2 util-linux python3 valgrind \
nftables iptables redis-server redis-tools \
runc busybox-static podman lxc file openssh-server iputils-arping libcap2-bin passwd \
postgresql memcached haproxy sqlite3 dnsmasq mariadb-server \
openjdk-17-jdk-headless nodejs golang-go tmux screen bsdutils perl ruby"
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
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
