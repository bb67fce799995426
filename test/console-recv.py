#!/usr/bin/env python3
# test/console-recv.py SOCKET OUT IN [ROWS COLS]: the receiving end of a
# --console-socket (runc's, crtool restore's).  Listens on SOCKET, takes one
# terminal master passed with SCM_RIGHTS, writes "NAME ROWSxCOLS" (the window size
# the master has) to OUT.fd, then copies what the terminal prints to OUT and
# what is written to the FIFO IN to the terminal.  With ROWS COLS it first sets
# that window size.  Ends when the terminal hangs up (the tree was dumped).
#
# test/console-recv.py --spawn OUT IN ROWS COLS CMD...: the same for a new pty
# whose slave is CMD's terminal (CMD leads its own session); CMD's pid in OUT.pid.
import fcntl, os, pty, select, socket, struct, sys, termios

if sys.argv[1] == "--spawn":
    out, infifo = sys.argv[2:4]
    sys.argv = sys.argv[:1] + ["-", out, infifo] + sys.argv[4:6] + sys.argv[6:]
    # the dumped tree dies: its processes are reaped here at once, their pids free again
    import ctypes
    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    m, sl = pty.openpty()
    msg = os.ttyname(sl).encode()
    pid = os.fork()
    if pid == 0:
        os.close(m)
        os.setsid()
        fcntl.ioctl(sl, termios.TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(sl, fd)
        os.close(sl)
        os.execvp(sys.argv[6], sys.argv[6:])
    os.close(sl)
    with open(out + ".pid", "w") as f:
        f.write("%d\n" % pid)
else:
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
if len(sys.argv) > 5 and sys.argv[4]:
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
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
