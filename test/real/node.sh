#!/bin/bash
# test/real/node.sh: node (v18+) with its libuv machinery: an http server with
# keep-alive holding a client's connection, fs.watch (inotify), a worker
# thread, and a child process (`cat`) it talks to over pipes.
#
# Every 20 ms node counts, posts the count to the worker (which sends back
# count + 1), writes "eN" to cat (which echoes it back) and writes a file in
# the watched directory.  A python client outside the tree keeps one
# keep-alive connection to the server and asks for the state every 5 ms; the
# server is dumped with --tcp-established and restored twice, then dumped
# with --leave-running.  After each, node must count on, and its answers
# (over the same connection) must show the worker, cat and the watcher
# keeping up with the count.
NAME=node
. "$(dirname "$0")/rt-lib.sh"
need node
[ -x "$PY" ] || { bad "$NAME" "$PY is not installed"; finish; }

cat >"$T/srv.js" <<'JS'
const http = require('http'), fs = require('fs'), cp = require('child_process');
const { Worker } = require('worker_threads');
const CNT = process.argv[2], dir = CNT + '.d';
let n = 0, seen = 0, fromWorker = 0, echoed = '';
fs.mkdirSync(dir, { recursive: true });
fs.watch(dir, () => { seen++; });
const w = new Worker(`const { parentPort } = require('worker_threads');
parentPort.on('message', m => parentPort.postMessage(m + 1));`, { eval: true });
w.on('message', m => { fromWorker = m; });
const child = cp.spawn('cat', [], { stdio: ['pipe', 'pipe', 'inherit'] });
child.stdout.on('data', d => { echoed = d.toString().trim().split('\n').pop(); });
child.on('exit', c => { console.log('cat exited', c); process.exit(1); });
const srv = http.createServer({ keepAlive: true }, (req, res) => {
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify({ n, seen, fromWorker, echoed }));
});
srv.keepAliveTimeout = 600000;
srv.listen(0, '127.0.0.1', () => fs.writeFileSync(CNT + '.port', '' + srv.address().port));
setInterval(() => {
  n++;
  w.postMessage(n);
  child.stdin.write('e' + n + '\n');
  fs.writeFileSync(dir + '/f', '' + n);
  fs.writeFileSync(CNT + '.tmp', n + '\n');
  fs.renameSync(CNT + '.tmp', CNT);
}, 20);
JS
cat >"$T/client.py" <<'PY'
import http.client, json, os, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(open(sys.argv[1] + ".port").read()), timeout=30)
sock = None
k = 0
try:
    while True:
        c.request("GET", "/")
        st = json.loads(c.getresponse().read())
        if sock is None:
            sock = c.sock
        elif c.sock is not sock:
            print("the connection was reopened after %d answers" % k, flush=True)
            sys.exit(1)
        k += 1
        with open(sys.argv[1] + ".cl.tmp", "w") as o:
            json.dump(st, o)
        os.replace(sys.argv[1] + ".cl.tmp", sys.argv[1] + ".cl")
        time.sleep(0.005)
except Exception as e:
    print("ERROR after %d answers: %s: %s" % (k, type(e).__name__, e), flush=True)
    sys.exit(1)
PY

# the client's last answer: the worker, cat and the watcher keep up with n
check_more() {
	local st c
	c=$(count)
	# the client asks every 5 ms, but a request sent while the server was away
	# is retransmitted by TCP with backoff (seconds, on a loaded machine)
	for _ in $(seq 200); do
		[ "$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["n"])' "$T/count.cl")" -ge "$c" ] && break
		sleep 0.05
	done
	if ! kill -0 "$cpid" 2>/dev/null; then
		bad "$1 client" "$(cat "$T/client.out")"
		finish
	fi
	st=$("$PY" -c '
import json, sys
s = json.load(open(sys.argv[1]))
n = s["n"]
ok = n >= int(sys.argv[3]) and s["fromWorker"] >= n - 5 and s["echoed"][1:].isdigit() and int(s["echoed"][1:]) >= n - 5
ok = ok and s["seen"] > int(sys.argv[2])   # the watcher saw files change since the last check
print(("ok " if ok else "bad ") + json.dumps(s))' "$T/count.cl" "$seen" "$c")
	seen=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["seen"])' "$T/count.cl")
	case "$st" in
	ok*) ok "$1: the keep-alive client gets ${st#ok }" ;;
	*) bad "$1" "the state is ${st#bad } (the count was $c before)" ;;
	esac
}

seen=0
start node "$T/srv.js" "$T/count"
if ! wait_count 5; then
	bad node "it does not start: $(tail -c 300 "$T/out")"
	finish
fi
"$PY" "$T/client.py" "$T/count" >"$T/client.out" 2>&1 &
cpid=$!
disown "$cpid"
PIDS="$PIDS $cpid"
# connected and answered: a connection still in the listen queue is not saved
for _ in $(seq 200); do [ -e "$T/count.cl" ] && break; sleep 0.05; done
round "node 1" "$pid" --tcp-established
round "node 2" "$pid" --tcp-established
leave "node" "$pid" --tcp-established
finish
