files = []
try:
    while True:
        files.append(open("/dev/null"))
except OSError as exc:
    print("fds", len(files), exc)
