# mypy: ignore-errors
# (runs inside the sandbox on the system Python, stdlib only, untyped on purpose to stay version-agnostic)
"""In-sandbox host for a user's Python function (reward functions, custom output checkers); shipped by user_function.py.

Reads {"nonce", "fn", "op", ...} as JSON on stdin, runs user.py, writes one JSON line to
the original stdout; the user's own prints are redirected to stderr so they cannot
corrupt the reply. op "batch": fn(*args, **kwargs) once; op "map": fn(*item) for each item.
"""

import json
import os
import sys
import traceback
import types


def plain(value):
    """numpy scalars and other number-likes become floats; anything else its repr."""
    try:
        return float(value)
    except Exception:
        return repr(value)[:200]


def main():
    request = json.loads(sys.stdin.buffer.read())
    reply_fd = os.dup(1)
    os.dup2(2, 1)
    report = {"nonce": request.pop("nonce")}
    try:
        with open("user.py", "rb") as f:
            source = f.read()
        module = types.ModuleType("user_module")
        module.__file__ = "user.py"
        sys.modules["user_module"] = module
        exec(compile(source, "user.py", "exec"), module.__dict__)
        fn = getattr(module, request["fn"])
        if request["op"] == "batch":
            report["result"] = fn(*request.get("args", ()), **request.get("kwargs", {}))
        else:
            report["results"] = [fn(*item) for item in request["items"]]
        text = json.dumps(report, default=plain)
    except BaseException as exc:
        tail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        text = json.dumps({"nonce": report["nonce"], "error": tail[-2000:]})
    data = (text + "\n").encode()
    while data:
        data = data[os.write(reply_fd, data) :]
    os._exit(0)


if __name__ == "__main__":
    main()
