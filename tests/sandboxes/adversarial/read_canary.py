try:
    print("ESCAPED", open("@@CANARY_PATH@@").read())
except OSError as exc:
    print("blocked", exc)
