# mypy: ignore-errors
# (runs inside the sandbox on the system Python, stdlib only, untyped on purpose to stay version-agnostic)
"""In-sandbox host for a user's Python function (reward functions, custom output checkers); shipped by user_function.py.

Reads {"nonce", "fn", "op", ...} as JSON on stdin, runs user.py, writes one JSON line to
the original stdout; the user's own prints are redirected to stderr so they cannot
corrupt the reply. op "batch": fn(*args, **kwargs) once; op "map": fn(*item) for each item,
an item whose call raises an Exception getting a null result and its line in "item_errors"
(the item's index -> "Type: message"). Any other failure is the reply's "error", with the
"stage" it happened in: "load" (user.py or its function) or "call".
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
    stage = "load"
    try:
        with open("user.py", "rb") as f:
            source = f.read()
        module = types.ModuleType("user_module")
        module.__file__ = "user.py"
        sys.modules["user_module"] = module
        exec(compile(source, "user.py", "exec", dont_inherit=True), module.__dict__)
        fn = getattr(module, request["fn"])
        stage = "call"
        if request["op"] == "batch":
            report["result"] = fn(*request.get("args", ()), **request.get("kwargs", {}))
        else:
            report["results"], errors = [], {}
            for k, item in enumerate(request["items"]):
                try:
                    report["results"].append(fn(*item))
                except Exception as exc:  # this item's failure only: the others keep their results
                    report["results"].append(None)
                    errors[str(k)] = f"{type(exc).__name__}: {exc}"[-500:]
            if errors:
                report["item_errors"] = errors
        text = json.dumps(report, default=plain)
    except BaseException as exc:
        tail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        text = json.dumps({"nonce": report["nonce"], "error": tail[-2000:], "stage": stage})
    data = (text + "\n").encode()
    while data:
        data = data[os.write(reply_fd, data) :]
    os._exit(0)


if __name__ == "__main__":
    main()
