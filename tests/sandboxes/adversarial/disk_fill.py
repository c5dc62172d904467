written = 0
try:
    with open("/work/fill", "wb") as f:
        for _ in range(4096):
            f.write(b"\0" * (1 << 20))
            written += 1
except OSError as exc:
    print("filled MiB", written, exc)
written = 0
try:
    for i in range(4096):
        with open(f"/tmp/fill{i}", "wb") as f:
            f.write(b"\0" * (1 << 20))
        written += 1
except OSError as exc:
    print("tmp filled MiB", written, exc)
