import os
import signal

for pid in (os.getppid(), 1):
    for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP):
        try:
            os.kill(pid, sig)
            print("sent", sig, "to", pid)
        except OSError as exc:
            print("blocked", pid, exc)
print("still here")
