# mypy: ignore-errors
# ruff: noqa: UP031
# (runs inside a session's throwaway copy on the system Python, stdlib only)
"""The candidate side of scoring a session: serves the copy's live namespace to the judge's test runner.

Handed over by the session runtime's "attach" op as `serve(namespace, fd, args)`, with the
runner's modules as `args["modules"]` (`_verifier_<name>` -> source, dependencies first); the
copy is untrusted (the session's cells ran in it), so it only ever answers calls with plain
data, in the runner's serve protocol (see runner.serve_candidate): first {"loaded", "names"},
then one {"ok"} or {"exc", "msg"} per {"fn", "args", "kwargs", "solution_class"} request. The
pseudo-function VALUES answers with the namespace's plain-data variables.
"""

import json
import os
import sys
import types

VALUES = "__session_values__"
MAX_VALUE_BYTES = 1 << 20


def serve(namespace, fd, args):
    for name, source in args["modules"].items():
        module = types.ModuleType(name)
        sys.modules[name] = module
        exec(compile(source, "<%s>" % name, "exec", dont_inherit=True), module.__dict__)
    runner = sys.modules["_verifier_runner"]
    os.dup2(fd, 3)
    os.dup2(fd, 4)
    if fd > 4:
        os.close(fd)
    names = [n for n, v in namespace.items() if callable(v) and not n.startswith("_")]
    runner.send(4, {"loaded": True, "names": names})
    for line in os.fdopen(3, "rb"):
        try:
            req = json.loads(line)
            if req["fn"] == VALUES:
                runner.send(4, {"ok": plain_values(runner, namespace)})
                continue
            fn = resolve(namespace, req["fn"], req.get("solution_class", False))
            value = fn(*runner.dec(req["args"]), **runner.dec(req.get("kwargs", {"$dict": []})))
            runner.send(4, {"ok": runner.enc(value)})
        except MemoryError:
            os._exit(runner.protocol.MEMORY_EXIT)
        except BaseException as exc:
            runner.send(4, {"exc": type(exc).__name__, "msg": runner.describe(exc)})
    os._exit(0)


def resolve(namespace, name, solution_class):
    fn = namespace.get(name)
    if fn is None and solution_class and isinstance(namespace.get("Solution"), type):
        fn = getattr(namespace["Solution"](), name)
    if fn is None:
        raise NameError("the session defines no function %r" % name)
    return fn


def plain_values(runner, namespace):
    """The namespace's variables that are plain data (numbers, strings, lists, dicts...), encoded."""
    values = {}
    for name, value in list(namespace.items()):
        if name.startswith("_") or callable(value) or isinstance(value, types.ModuleType):
            continue
        try:
            encoded = runner.enc(value)
        except (TypeError, RecursionError):
            continue
        if len(json.dumps(encoded)) <= MAX_VALUE_BYTES:
            values[name] = encoded
    return {"$dict": [[name, encoded] for name, encoded in values.items()]}
