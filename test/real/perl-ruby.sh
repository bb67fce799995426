#!/bin/bash
# test/real/perl-ruby.sh: perl and ruby interpreters with their usual
# machinery.
#
#   perl: a forked child it talks to over two pipes, and SIGALRM every 50 ms
#         (alarm, re-armed by its handler) that it counts
#   ruby: threads (a Queue between them), a TCPServer on a thread of its own
#         answering each connection with the count, and a child (IO.popen
#         `cat`) it talks to
#
# Each is dumped and restored twice, then dumped with --leave-running, and
# must count on after each (perl: its alarms go on too; ruby: its server
# answers).
NAME=perl-ruby
. "$(dirname "$0")/rt-lib.sh"

cat >"$T/prog.pl" <<'PL'
use strict; use warnings; use IO::Handle; use Time::HiRes qw(ualarm usleep);
my $cnt = $ARGV[0];
my $alarms = 0;
$SIG{ALRM} = sub { $alarms++; ualarm(50000); };
pipe(my $to_r, my $to_w) or die; pipe(my $from_r, my $from_w) or die;
my $kid = fork() // die;
if (!$kid) {
    close $to_w; close $from_r; $from_w->autoflush(1);
    while (my $l = <$to_r>) { print $from_w "echo $l"; }
    exit 0;
}
close $to_r; close $from_w; $to_w->autoflush(1);
ualarm(50000);
for (my $n = 1; ; $n++) {
    print $to_w "$n\n";
    my $l = <$from_r>;
    die "bad echo $l" unless defined $l && $l eq "echo $n\n";
    open(my $o, '>', "$cnt.tmp") or die; print $o "$n\n"; close $o; rename("$cnt.tmp", $cnt) or die;
    open($o, '>', "$cnt.alrm.tmp") or die; print $o "$alarms\n"; close $o; rename("$cnt.alrm.tmp", "$cnt.alrm");
    usleep(10000);
}
PL
cat >"$T/prog.rb" <<'RB'
require 'socket'
cnt = ARGV[0]
n = 0
srv = TCPServer.new('127.0.0.1', 0)
File.write(cnt + '.port', srv.addr[1].to_s)
Thread.new { loop { c = srv.accept; c.puts(n); c.close } }
q = Queue.new
r = Queue.new
4.times { Thread.new { loop { r << q.pop + 1 } } }
cat = IO.popen(['cat'], 'r+')
loop do
  4.times { |i| q << i }
  got = 4.times.map { r.pop }.sort
  raise "bad threads #{got}" unless got == [1, 2, 3, 4]
  n += 1
  cat.puts("l#{n}"); cat.flush
  raise 'bad echo' unless cat.gets == "l#{n}\n"
  File.write(cnt + '.tmp', "#{n}\n")
  File.rename(cnt + '.tmp', cnt)
  sleep 0.01
end
RB

alarms() { c=$(cat "$T/count.alrm" 2>/dev/null); echo "${c:-0}"; }
check_perl() {
	local a
	a=$(alarms)
	sleep 0.5
	if [ "$(alarms)" -gt "$a" ]; then ok "$1: SIGALRM goes on ($a -> $(alarms))"; else
		bad "$1" "no SIGALRM since the restore ($a)"; fi
}
check_ruby() {
	local c got
	c=$(count)
	got=$("$PY" -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(open(sys.argv[1]).read())), timeout=10)
print(s.makefile().readline().strip())' "$T/count.port" 2>&1)
	case "$got" in
	*[!0-9]* | "") bad "$1 server" "no answer: $got" ;;
	*) if [ "$got" -ge "$c" ]; then ok "$1: the TCPServer answers $got"; else
		bad "$1 server" "it answers $got, the count is $c"; fi ;;
	esac
}

for lang in perl ruby; do
	if ! command -v $lang >/dev/null || [ ! -x "$PY" ]; then
		bad $lang "$lang or $PY is not installed (make deps)"
		continue
	fi
	rm -f "$T/count"
	ext=pl
	[ $lang = ruby ] && ext=rb
	check_more() { check_$lang "$@"; }
	start $lang "$T/prog.$ext" "$T/count"
	if ! wait_count 5; then
		bad $lang "it does not start: $(tail -c 300 "$T/out")"
		continue
	fi
	round "$lang 1" "$pid"
	round "$lang 2" "$pid"
	leave "$lang" "$pid"
	pkill -9 -s "$pid"
	gone "$pid"
done
finish
