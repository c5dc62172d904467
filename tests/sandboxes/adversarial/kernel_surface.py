# keyctl, bpf, perf_event_open, io_uring_setup, userfaultfd: must fail; arguments are harmless if they did not.
import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
checks = {"keyctl": (250, 0, 0), "add_key": (248, 0, 0), "bpf": (321, 0, 0, 0), "perf_event_open": (298, 0, 0, -1, -1, 0),
          "io_uring_setup": (425, 1, 0), "userfaultfd": (323, 0)}
buf = ctypes.create_string_buffer(256)
for name, (nr, *args) in checks.items():
    call_args = [ctypes.c_long(a) for a in args]
    if name == "io_uring_setup":
        call_args = [ctypes.c_long(1), buf]
    rc = libc.syscall(ctypes.c_long(nr), *call_args)
    err = ctypes.get_errno()
    if rc >= 0 or err not in (1, 38):  # EPERM or ENOSYS from the filter
        print("ESCAPED", name, rc, os.strerror(err))
    else:
        print("blocked", name, os.strerror(err))
