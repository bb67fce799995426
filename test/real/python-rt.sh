#!/bin/bash
# test/real/python-rt.sh: python3's runtime machinery across dump and restore.
#
#   pool:    multiprocessing.Pool(2): workers forked, tasks and results over
#            pipes, a semaphore in shared memory, helper threads.
#   manager: the forkserver start method (a fork server and a resource
#            tracker, fds passed over unix sockets), a Manager (a server
#            process listening on a path, the parent its client), a Queue
#            and a Pool.
#   asyncio: an event loop whose child watcher is a pidfd in its epoll
#            (PidfdChildWatcher): a long-lived `cat` it talks to over pipes,
#            and a short `sleep` started every step and waited for.
#   threads: a ThreadPoolExecutor(4) and an sqlite3 connection (a database
#            file with its journal and POSIX locks) written every step.
#
# Each program checks its own results and counts; each is dumped and restored
# twice, then dumped with --leave-running, and must count on after each.
NAME=python-rt
. "$(dirname "$0")/rt-lib.sh"
[ -x "$PY" ] || { bad "$NAME" "$PY is not installed"; finish; }

cat >"$T/common.py" <<'PY'
import os, sys
def step(n):
    t = sys.argv[1] + ".tmp"
    with open(t, "w") as o:
        o.write("%d\n" % n)
    os.replace(t, sys.argv[1])
PY
cat >"$T/pool.py" <<'PY'
import multiprocessing as mp, time
from common import step
def sq(x):
    return x * x
if __name__ == "__main__":
    p = mp.Pool(2)
    n = 0
    while True:
        assert p.map(sq, range(20)) == [x * x for x in range(20)]
        n += 1
        step(n)
        time.sleep(0.01)
PY
cat >"$T/manager.py" <<'PY'
import multiprocessing as mp, time
from common import step
def sq(x):
    return x * x
if __name__ == "__main__":
    mp.set_start_method("forkserver")
    m = mp.Manager()
    d = m.dict()
    q = mp.Queue()
    p = mp.Pool(2)
    n = 0
    while True:
        assert p.map(sq, range(10)) == [x * x for x in range(10)]
        d["n"] = n
        q.put(n)
        assert d["n"] == n and q.get() == n
        n += 1
        step(n)
        time.sleep(0.01)
PY
cat >"$T/aio.py" <<'PY'
import asyncio
from common import step
async def main():
    cat = await asyncio.create_subprocess_exec("cat", stdin=asyncio.subprocess.PIPE,
                                               stdout=asyncio.subprocess.PIPE)
    n = 0
    while True:
        sl = await asyncio.create_subprocess_exec("sleep", "0.02")
        cat.stdin.write(b"line %d\n" % n)
        await cat.stdin.drain()
        assert await cat.stdout.readline() == b"line %d\n" % n
        rc = await sl.wait()
        assert rc == 0, "sleep %d ended with %d" % (sl.pid, rc)
        n += 1
        step(n)
asyncio.set_child_watcher(asyncio.PidfdChildWatcher())
asyncio.run(main())
PY
cat >"$T/threads.py" <<'PY'
import concurrent.futures as cf, sqlite3, sys, time
from common import step
db = sqlite3.connect(sys.argv[1] + ".db")
db.execute("create table t(x)")
ex = cf.ThreadPoolExecutor(4)
n = 0
while True:
    assert list(ex.map(lambda x: x + 1, range(40))) == list(range(1, 41))
    db.execute("insert into t values(?)", (n,))
    db.commit()
    assert db.execute("select count(*), max(x) from t").fetchone() == (n + 1, n)
    n += 1
    step(n)
    time.sleep(0.01)
PY

for prog in ${RT_PROGS:-pool manager aio threads}; do
	rm -f "$T/count"
	start env -C "$T" "$PY" -W ignore "$T/$prog.py" "$T/count"
	if ! wait_count 5; then
		bad "$prog" "it does not start: $(tail -c 300 "$T/out")"
		continue
	fi
	round "$prog 1" "$pid"
	round "$prog 2" "$pid"
	leave "$prog" "$pid"
	pkill -9 -s "$pid"
	gone "$pid"
done
finish
