#!/bin/bash
# test/real/nginx.sh: nginx (master + 2 workers) serving a local port.
#
# curl gets the page; the tree is dumped and restored; curl gets it again and
# the master still reloads on SIGHUP.  Until libcr restores listening sockets
# (the sockets issue), the dump must refuse naming the socket, and nginx must
# keep serving untouched: that is reported as XFAIL with the reason (counted as
# passed, never skipped silently).  Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
pass=0
fail=0
T=$(mktemp -d /tmp/libcr-nginx-XXXXXX)
master=""
cleanup() {
	[ -n "$master" ] && kill -9 "$master" $(pgrep -P "$master") 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; exit; }

if ! command -v nginx >/dev/null || ! command -v curl >/dev/null; then
	bad nginx "nginx or curl is not installed (make deps installs nginx-light and curl)"
	finish
fi
port=$((20000 + RANDOM % 20000))
mkdir -p "$T/www" "$T/tmp"
echo "libcr says hello $RANDOM" >"$T/www/index.html"
chmod -R a+rX "$T"
cat >"$T/nginx.conf" <<CONF
worker_processes 2;
daemon off;
master_process on;
pid $T/nginx.pid;
error_log $T/error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $T/tmp;
	proxy_temp_path $T/tmp;
	fastcgi_temp_path $T/tmp;
	uwsgi_temp_path $T/tmp;
	scgi_temp_path $T/tmp;
	server { listen 127.0.0.1:$port; root $T/www; }
}
CONF
setsid nginx -c "$T/nginx.conf" </dev/null >"$T/out" 2>&1 &
master=$!
disown "$master"
get() { curl -s --max-time 5 "http://127.0.0.1:$port/"; }
for _ in $(seq 100); do get >/dev/null 2>&1 && break; sleep 0.05; done
want=$(cat "$T/www/index.html")
if [ "$(get)" != "$want" ]; then
	bad nginx "nginx did not serve the page: $(cat "$T/error.log" "$T/out" 2>/dev/null | tail -3)"
	finish
fi
workers=$(pgrep -P "$master" | wc -l)
[ "$workers" = 2 ] || bad nginx "nginx runs $workers workers, want 2"

mkdir "$T/img"
if "$CRTOOL" dump -t "$master" -D "$T/img" 2>"$T/dump.err"; then
	# the whole tree is gone now; bring it back
	for _ in $(seq 100); do kill -0 "$master" 2>/dev/null || break; sleep 0.05; done
	if ! "$CRTOOL" restore -D "$T/img" -d 2>"$T/restore.err"; then
		bad nginx "restore failed: $(cat "$T/restore.err")"
	elif [ "$(get)" != "$want" ]; then
		bad nginx "the restored nginx does not serve the page"
	else
		kill -HUP "$master"
		sleep 1
		if [ "$(get)" = "$want" ] && [ "$(pgrep -P "$master" | wc -l)" = 2 ]; then
			ok "nginx: served before dump and after restore, reloaded on SIGHUP"
		else
			bad nginx "after SIGHUP: not serving, or not 2 workers"
		fi
	fi
else
	err=$(cat "$T/dump.err")
	case "$err" in
	*socket*)
		if [ "$(get)" = "$want" ] && [ "$(pgrep -P "$master" | wc -l)" = 2 ] &&
			! grep -q 'TracerPid:[[:space:]]*[1-9]' /proc/"$master"/status; then
			echo "XFAIL nginx: listening sockets are not restored yet (the sockets issue); the dump" \
				"refused as it must and nginx kept serving: $err"
			pass=$((pass + 1))
		else
			bad nginx "after the refused dump nginx is not serving as before"
		fi
		;;
	*) bad nginx "dump failed: $err" ;;
	esac
fi
finish
