import fcntl
import termios

for fd in (0, 1, 2):
    try:
        fcntl.ioctl(fd, termios.TIOCSTI, b"x")
        print("ESCAPED tiocsti", fd)
    except OSError as exc:
        print("blocked", fd, exc)
try:
    open("/dev/tty")
    print("ESCAPED tty")
except OSError as exc:
    print("blocked tty", exc)
