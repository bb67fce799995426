#!/usr/bin/env python3
# test/console-recv.py SOCKET OUT IN [ROWS COLS]: the receiving end of a
# --console-socket (runc's, crtool restore's).  Listens on SOCKET, takes one
# terminal master passed with SCM_RIGHTS, writes "NAME ROWSxCOLS" (the window size
# the master has) to OUT.fd, then copies what the terminal prints to OUT and
# what is written to the FIFO IN to the terminal.  With ROWS COLS it first sets
# that window size.  Ends when the terminal hangs up (the tree was dumped).
import fcntl, os, select, socket, struct, sys, termios

path, out, infifo = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(1)
c, _ = s.accept()
msg, fds, _, _ = socket.recv_fds(c, 4096, 1)
c.close()
if not fds:
    sys.exit("console-recv: no fd came with the message")
m = fds[0]
if len(sys.argv) > 5:
    fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack("HHHH", int(sys.argv[4]), int(sys.argv[5]), 0, 0))
rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(m, termios.TIOCGWINSZ, b"\0" * 8))
o = open(out, "ab", buffering=0)
with open(out + ".fd", "w") as f:
    f.write("%s %dx%d\n" % (msg.decode(errors="replace"), rows, cols))
fi = os.open(infifo, os.O_RDWR | os.O_NONBLOCK)
while True:
    r, _, _ = select.select([m, fi], [], [])
    if m in r:
        try:
            d = os.read(m, 4096)
        except OSError:
            break
        if not d:
            break
        o.write(d)
    if fi in r:
        os.write(m, os.read(fi, 4096))
