n = 0
try:
    while n < 2_000_000:
        open(f"/work/f{n}", "w").close()
        n += 1
except OSError as exc:
    print("inodes", n, exc)
