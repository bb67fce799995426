#!/bin/bash
# test/real/go.sh: a Go program with its runtime: many threads (Ms), the
# sysmon, goroutines on timers, a signal handler (signal.Notify) and an
# os/exec child (`cat`) it talks to over pipes (newer Go also holds a pidfd
# for the child).
#
# Every 10 ms a goroutine writes "lN" to cat and checks the echo; eight
# goroutines spin on their own work; SIGUSR1 is counted by a handler.  It is
# dumped and restored twice, then dumped with --leave-running; after each it
# must count on, and a SIGUSR1 sent to it must be seen by the handler.
NAME=go
. "$(dirname "$0")/rt-lib.sh"
need go

mkdir "$T/src"
cat >"$T/src/main.go" <<'GO'
package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	cnt := os.Args[1]
	var usr1 int64
	sig := make(chan os.Signal, 8)
	signal.Notify(sig, syscall.SIGUSR1)
	go func() {
		for range sig {
			n := atomic.AddInt64(&usr1, 1)
			os.WriteFile(cnt+".usr1", []byte(fmt.Sprintf("%d\n", n)), 0644)
		}
	}()
	var spin [8]int64
	for i := range spin {
		go func(i int) {
			for {
				atomic.AddInt64(&spin[i], 1)
				time.Sleep(time.Millisecond)
			}
		}(i)
	}
	cat := exec.Command("cat")
	in, _ := cat.StdinPipe()
	outp, _ := cat.StdoutPipe()
	if err := cat.Start(); err != nil {
		panic(err)
	}
	out := bufio.NewReader(outp)
	for n := 1; ; n++ {
		fmt.Fprintf(in, "l%d\n", n)
		if line, err := out.ReadString('\n'); err != nil || line != fmt.Sprintf("l%d\n", n) {
			fmt.Println("bad echo", n, line, err)
			os.Exit(1)
		}
		os.WriteFile(cnt+".tmp", []byte(fmt.Sprintf("%d\n", n)), 0644)
		os.Rename(cnt+".tmp", cnt)
		time.Sleep(10 * time.Millisecond)
	}
}
GO
cat >"$T/src/go.mod" <<'MOD'
module libcrtest
go 1.19
MOD
if ! (cd "$T/src" && GOCACHE=$T/cache GOFLAGS=-mod=mod go build -o "$T/prog" .) >"$T/build.out" 2>&1; then
	bad go "the build failed: $(cat "$T/build.out")"
	finish
fi

usr1() { c=$(cat "$T/count.usr1" 2>/dev/null); echo "${c:-0}"; }
# the handler still runs: a SIGUSR1 is counted
check_more() {
	local u
	u=$(usr1)
	kill -USR1 "$pid"
	for _ in $(seq 100); do [ "$(usr1)" -gt "$u" ] && break; sleep 0.05; done
	if [ "$(usr1)" -gt "$u" ]; then ok "$1: SIGUSR1 handled ($(usr1) so far)"; else
		bad "$1" "SIGUSR1 was not handled"; fi
}

start "$T/prog" "$T/count"
if ! wait_count 5; then
	bad go "it does not start: $(tail -c 300 "$T/out")"
	finish
fi
echo "threads: $(ls /proc/$pid/task | wc -l)"
check_more "go before"
round "go 1" "$pid"
round "go 2" "$pid"
leave "go" "$pid"
finish
