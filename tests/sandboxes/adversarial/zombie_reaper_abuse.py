# Leave many zombie children behind and exit: the run must still end and clean up.
import os

for _ in range(20):
    try:
        if os.fork() == 0:
            os._exit(0)
    except OSError:
        break
print("zombies left")
