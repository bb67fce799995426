#!/bin/bash
# test/real/nginx.sh: nginx (master + 2 workers) serving a local port.
#
# curl gets the page; a client on a keep-alive connection gets it too; the tree
# is dumped (--tcp-established) and restored; curl gets it again, the client
# gets it again on its old connection, and the master still reloads on SIGHUP.
# Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
pass=0
fail=0
T=$(mktemp -d /tmp/libcr-nginx-XXXXXX)
master=""
cleanup() {
	[ -n "${client:-}" ] && kill -9 "$client" 2>/dev/null
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

# a keep-alive client: one connection, a request before the dump and one after the
# restore, both answered on it (the worker's end is an established connection)
cat >"$T/client.py" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
f = s.makefile("rb")
def get():
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
    n = 0
    while True:
        l = f.readline()
        if not l:
            raise EOFError("connection closed")
        if l.lower().startswith(b"content-length:"):
            n = int(l.split(b":")[1])
        if l in (b"\r\n", b"\n"):
            break
    return f.read(n).decode()
try:
    first = get()
    print("FIRST", flush=True)
    sys.stdin.readline()     # the dump and restore happen here
    second = get()
except Exception as e:
    print("ERROR %s: %s" % (type(e).__name__, e), flush=True)
    sys.exit(1)
print("OK" if first == second == open(sys.argv[2]).read() else "DIFFERENT", flush=True)
PY
mkfifo "$T/client.in"
python3 "$T/client.py" "$port" "$T/www/index.html" <"$T/client.in" >"$T/client.out" 2>&1 &
client=$!
exec 7>"$T/client.in"
for _ in $(seq 100); do grep -q FIRST "$T/client.out" && break; sleep 0.05; done

mkdir "$T/img"
if ! grep -q FIRST "$T/client.out"; then
	bad nginx "the keep-alive client got no first answer: $(cat "$T/client.out")"
elif "$CRTOOL" dump -t "$master" -D "$T/img" --tcp-established 2>"$T/dump.err"; then
	# the whole tree is gone now; bring it back
	for _ in $(seq 100); do kill -0 "$master" 2>/dev/null || break; sleep 0.05; done
	if ! "$CRTOOL" restore -D "$T/img" -d 2>"$T/restore.err"; then
		bad nginx "restore failed: $(cat "$T/restore.err")"
	elif [ "$(get)" != "$want" ]; then
		bad nginx "the restored nginx does not serve the page"
	else
		echo >&7   # the client's second request, on its old connection
		wait "$client"
		if [ "$(cat "$T/client.out" | tail -n 1)" != OK ]; then
			bad nginx "the keep-alive connection: $(tr '\n' ' ' <"$T/client.out")"
		else
			kill -HUP "$master"
			sleep 1
			if [ "$(get)" = "$want" ] && [ "$(pgrep -P "$master" | wc -l)" = 2 ]; then
				ok "nginx: served before dump and after restore, a keep-alive connection answered on both sides of it, reloaded on SIGHUP"
			else
				bad nginx "after SIGHUP: not serving, or not 2 workers"
			fi
		fi
	fi
else
	bad nginx "dump failed: $(cat "$T/dump.err")"
fi
exec 7>&-
finish
