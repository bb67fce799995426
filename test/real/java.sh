#!/bin/bash
# test/real/java.sh: a JVM (openjdk 17) with its GC threads, JIT compiler
# threads, a thread pool and a listening ServerSocket.
#
# The program counts in a task of a fixed thread pool, allocates garbage every
# step (so the collector runs), and answers every connection to its
# ServerSocket with the current count.  Run with -XX:+UseG1GC (a small heap, so that it collects)
# and with the default settings (the JVM picks its own collector), each dumped and restored
# twice, then dumped with --leave-running; after each, it must count on and
# its server must answer with a count that goes on from where it was.
NAME=java
. "$(dirname "$0")/rt-lib.sh"
need java
[ -x "$PY" ] || { bad "$NAME" "$PY is not installed"; finish; }

cat >"$T/Ctr.java" <<'JAVA'
import java.io.*;
import java.net.*;
import java.nio.file.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.*;

public class Ctr {
    public static void main(String[] a) throws Exception {
        Path cnt = Paths.get(a[0]), tmp = Paths.get(a[0] + ".tmp");
        ServerSocket ss = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Files.writeString(Paths.get(a[0] + ".port"), "" + ss.getLocalPort());
        AtomicLong n = new AtomicLong();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        Thread acceptor = new Thread(() -> {
            try {
                while (true) {
                    Socket s = ss.accept();
                    pool.submit(() -> {
                        try (s) {
                            s.getOutputStream().write((n.get() + "\n").getBytes());
                        }
                        return null;
                    });
                }
            } catch (IOException e) {
                e.printStackTrace();
                System.exit(1);
            }
        });
        acceptor.start();
        byte[][] garbage = new byte[64][];
        while (true) {
            long v = pool.submit(() -> n.incrementAndGet()).get();
            garbage[(int) (v % 64)] = new byte[200000];
            Files.writeString(tmp, v + "\n");
            Files.move(tmp, cnt, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            Thread.sleep(10);
        }
    }
}
JAVA

# the server answers with a count at least the one the file shows
check_more() {
	local c got
	c=$(count)
	got=$("$PY" -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(open(sys.argv[1]).read())), timeout=10)
print(s.makefile().readline().strip())' "$T/count.port" 2>&1)
	case "$got" in
	*[!0-9]* | "") bad "$1 server" "no answer: $got" ;;
	*) if [ "$got" -ge "$c" ]; then ok "$1: the ServerSocket answers $got"; else
		bad "$1 server" "it answers $got, the count is $c"; fi ;;
	esac
}

# G1 with a small heap (it collects every few steps), then the JVM's own choice
for gc in G1 default; do
	rm -f "$T/count"
	opts=""
	[ "$gc" = default ] || opts="-XX:+UseG1GC -Xmx48m -Xlog:gc:file=$T/gc.log"
	# the source launcher compiles it in memory (no class files to keep)
	start java $opts "$T/Ctr.java" "$T/count"
	if ! wait_count 5; then
		bad "java $gc" "it does not start: $(tail -c 300 "$T/out")"
		continue
	fi
	round "java $gc 1" "$pid"
	round "java $gc 2" "$pid"
	leave "java $gc" "$pid"
	if [ "$gc" = G1 ]; then
		c=$(grep -c "Pause Young" "$T/gc.log")
		[ "$c" -ge 2 ] && ok "java G1: $c collections" || bad "java G1" "$c collections in the test"
	fi
	kill -9 "$pid"
	gone "$pid"
done
finish
