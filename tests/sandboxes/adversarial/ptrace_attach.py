import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)
PTRACE_ATTACH = 16
for pid in (os.getppid(), 1):
    if libc.ptrace(PTRACE_ATTACH, pid, 0, 0) == 0:
        print("ESCAPED ptrace", pid)
    else:
        print("blocked", pid, os.strerror(ctypes.get_errno()))
