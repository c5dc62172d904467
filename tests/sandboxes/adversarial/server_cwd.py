import os

for path in ("@@SERVER_CWD@@", "/work/main", "/root", "/home"):
    try:
        print("listing", path, os.listdir(path))
    except OSError as exc:
        print("blocked", path, exc)
