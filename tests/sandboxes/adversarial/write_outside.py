for path in ("/usr/escape", "/etc/escape", "/escape", "/proc/escape", "@@ESCAPE_DIR@@/escape-py"):
    try:
        with open(path, "w") as f:
            f.write("x")
        print("ESCAPED wrote", path)
    except OSError as exc:
        print("blocked", path, exc)
