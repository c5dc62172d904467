# Many children each under a per-process limit but together far over the job's memory.
import os

pids = []
for _ in range(8):
    pid = os.fork()
    if pid == 0:
        data = bytearray(96 * 1024 * 1024)
        import time; time.sleep(5)
        os._exit(0)
    pids.append(pid)
for pid in pids:
    os.waitpid(pid, 0)
