import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)
os.makedirs("/work/m", exist_ok=True)
if libc.mount(b"none", b"/work/m", b"tmpfs", 0, None) == 0:
    print("ESCAPED mount")
else:
    print("blocked", os.strerror(ctypes.get_errno()))
if libc.mount(None, b"/", None, 32 | 4096, None) == 0:  # remount / read-write
    print("ESCAPED remount")
