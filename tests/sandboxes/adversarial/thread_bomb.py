import threading
import time

threads = []
while True:
    try:
        t = threading.Thread(target=time.sleep, args=(100,), daemon=True)
        t.start()
        threads.append(t)
    except RuntimeError:
        time.sleep(0.01)
