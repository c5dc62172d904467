# mypy: ignore-errors
# ruff: noqa: UP031, RUF005, RUF046
# (runs inside the sandbox on the system Python, stdlib only, untyped on purpose to stay version-agnostic)
"""In-sandbox test runner (runs as main.py inside the sandbox; stdlib only, Python >= 3.9).

Why it is shaped like this: verdicts must not be forgeable by the candidate, which runs
in the same sandbox as this runner. Three processes:

* P (this process) reads the request (nonce, tests) from stdin, talks to the candidate
  and writes the only line the server reads, to the sandbox's stdout. P is made
  non-dumpable, so the candidate (same uid) cannot read its memory or /proc fds.
* Z, a zygote forked from P *before* P reads the request, so it never holds the nonce or
  test code. Z forks one candidate process C on demand and passes P the pipes to it.
* C, the candidate: its stdout/stderr are pipes (or /dev/null), never the verdict channel.

stdio: P feeds stdin, captures stdout, and sends it back raw; the server compares.
call: C runs the candidate and returns values as tagged plain data; the server compares.
assert / script: P runs the trusted test code with the candidate's functions replaced by
proxies that call into C; only plain data crosses. Anything missing or garbled fails.
"""

import base64
import json
import math
import os
import resource
import select
import signal
import socket
import sys
import time
import traceback
import types

MEMORY_EXIT = 251
SNIPPET = 2000


def nondumpable():
    """PR_SET_DUMPABLE=0: same-uid processes can no longer ptrace us or open /proc/<pid>/{mem,fd}."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)
    except Exception:
        pass


# ---------------------------------------------------------------------------
# tagged plain-data codec (the only thing that crosses between C and P)
# ---------------------------------------------------------------------------


def enc(value, depth=0):
    if depth > 200:
        raise TypeError("value nested too deeply")
    t = type(value)
    if value is None or t is bool or t is str:
        return value
    if t is int:
        return value if abs(value) < 2**53 else {"$int": str(value)}
    if t is float:
        if math.isfinite(value):
            return value
        return {"$float": repr(value)}
    if t is list:
        return [enc(v, depth + 1) for v in value]
    if t is tuple:
        return {"$tuple": [enc(v, depth + 1) for v in value]}
    if t is set or t is frozenset:
        return {"$set" if t is set else "$frozenset": [enc(v, depth + 1) for v in value]}
    if t is dict:
        return {"$dict": [[enc(k, depth + 1), enc(v, depth + 1)] for k, v in value.items()]}
    if t is bytes:
        return {"$bytes": base64.b64encode(value).decode()}
    if t is complex:
        return {"$complex": [value.real, value.imag]}
    raise TypeError("unsupported value type %s (only plain data crosses the harness boundary)" % t.__name__)


def dec(value, depth=0):
    """Builds only plain built-in types; anything unexpected raises ValueError."""
    if depth > 200:
        raise ValueError("value nested too deeply")
    t = type(value)
    if value is None or t in (bool, str, int, float):
        return value
    if t is list:
        return [dec(v, depth + 1) for v in value]
    if t is dict and len(value) == 1:
        ((tag, inner),) = value.items()
        if tag == "$int" and type(inner) is str:
            return int(inner)
        if tag == "$float" and inner in ("inf", "-inf", "nan"):
            return float(inner)
        if tag == "$tuple" and type(inner) is list:
            return tuple(dec(v, depth + 1) for v in inner)
        if tag in ("$set", "$frozenset") and type(inner) is list:
            items = [dec(v, depth + 1) for v in inner]
            return set(items) if tag == "$set" else frozenset(items)
        if tag == "$dict" and type(inner) is list:
            return {dec(k, depth + 1): dec(v, depth + 1) for k, v in (pair for pair in inner if len(pair) == 2)}
        if tag == "$bytes" and type(inner) is str:
            return base64.b64decode(inner)
        if tag == "$complex" and type(inner) is list and len(inner) == 2:
            return complex(float(inner[0]), float(inner[1]))
    raise ValueError("malformed value from the candidate")


# ---------------------------------------------------------------------------
# Z: the clean zygote
# ---------------------------------------------------------------------------


def devnull():
    return os.open(os.devnull, os.O_RDWR)


def zygote(ctl):
    """Forks candidates on request; reports their exit statuses. Holds no secrets."""
    null = devnull()
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    buf = b""
    while True:
        try:
            ready, _, _ = select.select([ctl, wake_r], [], [])
        except InterruptedError:
            continue
        if wake_r in ready:
            os.read(wake_r, 4096)
        reap(ctl)
        if ctl in ready:
            data = ctl.recv(65536)
            if not data:
                os._exit(0)
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                spawn(ctl, json.loads(line), (wake_r, wake_w))


def reap(ctl):
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        msg = {"exit": pid}
        if os.WIFSIGNALED(status):
            msg["signal"] = os.WTERMSIG(status)
        else:
            msg["code"] = os.WEXITSTATUS(status)
        ctl.sendall((json.dumps(msg) + "\n").encode())


def spawn(ctl, spec, wake):
    serve = spec.get("serve", False)
    stdin_r, stdin_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    if serve:
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setpgid(0, 0)
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGPIPE, signal.SIG_DFL if not spec.get("python") else signal.SIG_IGN)
            ctl.close()
            for fd in wake:
                os.close(fd)
            if serve:
                os.dup2(req_r, 3)
                os.dup2(resp_w, 4)
                null = devnull()
                os.dup2(null, 0)
                os.dup2(null, 1)
                os.dup2(null, 2)
                keep = 5
            else:
                os.dup2(stdin_r, 0)
                os.dup2(out_w, 1)
                os.dup2(err_w, 2)
                keep = 3
            os.closerange(keep, 1 << 16)
            limits = spec["limits"]
            cpu = max(1, int(math.ceil(limits["cpu_time_s"])))
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
            if limits.get("memory_bytes") and spec.get("rlimit_as", True):
                resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"], limits["memory_bytes"]))
        except BaseException:
            os._exit(125)
        if spec.get("python"):
            run_python_candidate(spec)
        try:
            os.execvp(spec["argv"][0], spec["argv"])
        except OSError as exc:
            os.write(2, ("cannot execute %s: %s\n" % (spec["argv"][0], exc.strerror)).encode())
            os._exit(127)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass
    mine = [stdin_r, out_w, err_w] + ([req_r, resp_w] if serve else [])
    theirs = [stdin_w, out_r, err_r] + ([req_w, resp_r] if serve else [])
    socket.send_fds(ctl, [(json.dumps({"pid": pid}) + "\n").encode()], theirs)
    for fd in mine + theirs:
        os.close(fd)


# ---------------------------------------------------------------------------
# C: the candidate (Python runs in-process in a fork of Z: no interpreter start-up)
# ---------------------------------------------------------------------------


def run_python_candidate(spec):
    import io

    sys.stdin = sys.__stdin__ = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8")
    sys.stdout = sys.__stdout__ = io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8"
    )
    sys.stderr = sys.__stderr__ = io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(2, "w", closefd=False)),
        encoding="utf-8",
        errors="backslashreplace",
        line_buffering=True,
    )
    path = spec["source"]
    sys.argv = [path]
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))  # as `python3 solution.py` would
    with open(path, "rb") as f:
        source = f.read()
    if spec.get("serve"):
        serve_candidate(source, path)
    module = types.ModuleType("__main__")
    module.__file__ = path
    module.__builtins__ = __builtins__
    sys.modules["__main__"] = module
    code = 0
    try:
        exec(compile(source, path, "exec"), module.__dict__)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except MemoryError:
        code = MEMORY_EXIT
    except BaseException:
        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            code = code or 120
    os._exit(code & 0xFF)


def send(fd, obj):
    data = (json.dumps(obj) + "\n").encode()
    while data:
        data = data[os.write(fd, data) :]


def serve_candidate(source, path):
    """Load the candidate as module `solution`, then answer call requests on fds 3 -> 4."""
    module = types.ModuleType("solution")
    module.__file__ = path
    sys.modules["solution"] = module
    try:
        exec(compile(source, path, "exec"), module.__dict__)
        names = [n for n, v in module.__dict__.items() if callable(v) and not n.startswith("__")]
        send(4, {"loaded": True, "names": names})
    except BaseException as exc:
        send(4, {"loaded": False, "error": describe(exc)})
        os._exit(0)
    reader = os.fdopen(3, "rb")
    for line in reader:
        try:
            req = json.loads(line)
            fn = resolve(module, req["fn"], req.get("solution_class", False))
            value = fn(*dec(req["args"]), **dec(req.get("kwargs", {"$dict": []})))
            send(4, {"ok": enc(value)})
        except MemoryError:
            os._exit(MEMORY_EXIT)
        except BaseException as exc:
            send(4, {"exc": type(exc).__name__, "msg": describe(exc)})
    os._exit(0)


def resolve(module, name, solution_class):
    fn = module.__dict__.get(name)
    if fn is None and solution_class and isinstance(module.__dict__.get("Solution"), type):
        fn = getattr(module.__dict__["Solution"](), name)
    if fn is None:
        raise NameError("the solution defines no function %r" % name)
    return fn


def describe(exc):
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return text[-SNIPPET:]


# ---------------------------------------------------------------------------
# P: talking to Z and C
# ---------------------------------------------------------------------------


class Zygote:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.exits = {}

    def spawn(self, spec):
        self.sock.sendall((json.dumps(spec) + "\n").encode())
        pid, fds = None, []
        while pid is None:
            msg, got, _, _ = socket.recv_fds(self.sock, 65536, 8)
            if not msg:
                raise RuntimeError("the harness zygote died")
            fds.extend(got)
            self.buf += msg
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                reply = json.loads(line)
                if "pid" in reply:
                    pid = reply["pid"]
                else:
                    self.note(reply)
        return pid, fds

    def note(self, msg):
        self.exits[msg["exit"]] = msg

    def drain(self):
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            if line:
                self.note(json.loads(line))

    def poll(self):
        data = self.sock.recv(65536)
        if not data:
            raise RuntimeError("the harness zygote died")
        self.buf += data
        self.drain()

    def wait_exit(self, pid, deadline):
        while pid not in self.exits:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.sock], [], [], left)
            if ready:
                self.poll()
        return self.exits.pop(pid)


def kill(pid):
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
        except OSError:
            pass


def run_stdio(z, spec, stdin, limits):
    """One candidate run: feed stdin, capture stdout (capped), wait for the exit status."""
    start = time.monotonic()
    deadline = start + limits["wall_time_s"]
    pid, (stdin_w, out_r, err_r) = z.spawn(spec)
    cap = limits["output_bytes"]
    out, err = bytearray(), bytearray()
    pending = stdin
    os.set_blocking(stdin_w, False)
    readers = {out_r: out, err_r: err}
    writers = [stdin_w] if pending else []
    if not pending:
        os.close(stdin_w)
    status = None
    while readers or writers:
        left = deadline - time.monotonic()
        if left <= 0:
            status = "timeout"
            break
        r, w, _ = select.select(list(readers) + [z.sock], writers, [], left)
        if z.sock in r:
            z.poll()
            r.remove(z.sock)
        for fd in w:
            try:
                n = os.write(fd, pending[:65536])
                pending = pending[n:]
            except BrokenPipeError:
                pending = b""
            if not pending:
                os.close(fd)
                writers = []
        for fd in r:
            chunk = os.read(fd, 65536)
            if not chunk:
                os.close(fd)
                del readers[fd]
                continue
            readers[fd].extend(chunk)
            if len(readers[fd]) > cap:
                status = "output_limit"
        if status:
            break
    if status:
        kill(pid)
    for fd in list(readers) + writers:
        os.close(fd)
    exit_msg = z.wait_exit(pid, max(deadline, time.monotonic()) + 2.0)
    if exit_msg is None:
        kill(pid)
        exit_msg = z.wait_exit(pid, time.monotonic() + 2.0) or {}
    elapsed = time.monotonic() - start
    if status is None:
        status = classify_exit(exit_msg, elapsed, limits)
    return {
        "status": status,
        "exit_code": exit_msg.get("code"),
        "signal": exit_msg.get("signal"),
        "stdout": bytes(out[:cap]).decode("utf-8", "replace"),
        "stderr": bytes(err[-SNIPPET:]).decode("utf-8", "replace"),
        "time_s": round(elapsed, 4),
    }


def classify_exit(msg, elapsed, limits):
    sig = msg.get("signal")
    code = msg.get("code")
    if sig == signal.SIGXCPU or (sig == signal.SIGKILL and elapsed >= limits["cpu_time_s"]):
        return "timeout"
    if code == MEMORY_EXIT or (sig == signal.SIGKILL):
        return "memory"
    if sig is not None or code != 0:
        return "runtime_error"
    return "ok"


class CandidateFault(BaseException):
    """Raised into test code when the candidate process failed; BaseException so `except Exception` misses it."""

    def __init__(self, verdict, message):
        super().__init__(message)
        self.verdict = verdict


class CandidateError(Exception):
    """The candidate raised an exception type that is not a built-in one."""


class Remote:
    """One candidate process serving calls; restarted after a crash or timeout."""

    def __init__(self, z, spec):
        self.z, self.spec = z, spec
        self.pid = None
        self.load_error = None
        self.names = []
        self.deadline = None

    def ensure(self, deadline):
        if self.pid is not None:
            return
        pid, (stdin_w, out_r, err_r, req_w, resp_r) = self.z.spawn(self.spec)
        for fd in (stdin_w, out_r, err_r):
            os.close(fd)
        self.pid, self.req_w, self.resp = pid, req_w, os.fdopen(resp_r, "rb")
        msg = self._read(deadline)
        if not msg.get("loaded"):
            self.load_error = str(msg.get("error", "the candidate did not load"))[-SNIPPET:]
            self.stop()
            raise CandidateFault("runtime_error", "loading the solution failed: " + self.load_error)
        self.names = [n for n in msg.get("names", []) if isinstance(n, str)]

    def stop(self):
        if self.pid is not None:
            kill(self.pid)
            self.z.wait_exit(self.pid, time.monotonic() + 2.0)
            os.close(self.req_w)
            self.resp.close()
            self.pid = None

    def _read(self, deadline):
        fd = self.resp.fileno()
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                raise CandidateFault("timeout", "time limit exceeded")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                pid = self.pid
                self.pid = None
                msg = self.z.wait_exit(pid, time.monotonic() + 0.5)
                if msg is None:
                    kill(pid)
                    msg = self.z.wait_exit(pid, time.monotonic() + 2.0) or {}
                os.close(self.req_w)
                self.resp.close()
                verdict = (
                    "memory"
                    if msg.get("code") == MEMORY_EXIT or msg.get("signal") == signal.SIGKILL
                    else "runtime_error"
                )
                raise CandidateFault(verdict, "the solution process exited (%s)" % (msg or "unknown status"))
            line += chunk
            if len(line) > 64 << 20:
                self.stop()
                raise CandidateFault("output_limit", "the solution returned too much data")
        try:
            return json.loads(line)
        except ValueError:
            self.stop()
            raise CandidateFault("runtime_error", "garbled reply from the solution process") from None

    def call(self, name, args, kwargs, solution_class=False):
        deadline = self.deadline or time.monotonic() + 10
        self.ensure(deadline)
        try:
            payload = {
                "fn": name,
                "args": enc(tuple(args)),
                "kwargs": enc(dict(kwargs)),
                "solution_class": solution_class,
            }
        except TypeError as exc:
            raise TypeError("argument cannot be sent to the solution: %s" % exc) from None
        send(self.req_w, payload)
        msg = self._read(deadline)
        if "ok" in msg:
            try:
                return dec(msg["ok"])
            except ValueError as exc:
                raise CandidateFault("runtime_error", str(exc)) from None
        name = str(msg.get("exc", "Exception"))
        text = str(msg.get("msg", ""))[-SNIPPET:]
        builtin = getattr(__import__("builtins"), name, None)
        if isinstance(builtin, type) and issubclass(builtin, Exception) and builtin.__module__ == "builtins":
            raise builtin(text)
        raise CandidateError(text)


def proxy(remote, name):
    def call(*args, **kwargs):
        return remote.call(name, args, kwargs)

    call.__name__ = call.__qualname__ = name
    return call


# ---------------------------------------------------------------------------
# modes
# ---------------------------------------------------------------------------


def compile_step(z, req):
    comp = req.get("compile")
    if not comp:
        return None
    spec = {"argv": comp["argv"], "limits": comp["limits"], "rlimit_as": False}
    res = run_stdio(z, spec, b"", comp["limits"])
    output = (res["stdout"] + res["stderr"])[-SNIPPET:]
    return {"ok": res["status"] == "ok", "status": res["status"], "output": output}


def mode_stdio(z, req):
    results = []
    spec = dict(req["candidate"], limits=req["limits"])
    for test in req["tests"]:
        res = run_stdio(z, spec, test.get("stdin", "").encode(), req["limits"])
        results.append(res)
        if req.get("stop_on_failure") and res["status"] != "ok":
            break
    return results


def mode_call(z, req):
    remote = Remote(z, dict(req["candidate"], serve=True, limits=req["limits"]))
    results = []
    for test in req["tests"]:
        remote.deadline = time.monotonic() + req["limits"]["wall_time_s"]
        start = time.monotonic()
        try:
            args = dec(test["args"])
            value = remote.call(req["fn_name"], args, {}, solution_class=True)
            res = {"status": "returned", "value": enc(value)}
        except CandidateFault as exc:
            res = {"status": exc.verdict, "error": str(exc)}
        except BaseException as exc:
            res = {"status": "runtime_error", "error": describe(exc)}
        res["time_s"] = round(time.monotonic() - start, 4)
        results.append(res)
        if req.get("stop_on_failure") and res["status"] != "returned":
            break
    remote.stop()
    return results


def exposed(names):
    """Candidate names the tests may see: never one that shadows a builtin (`all`, `abs`, `len`)."""
    shadow = set(dir(__import__("builtins")))
    return sorted(n for n in names if n not in shadow and n.isidentifier())


def test_namespace(remote, names):
    ns = {"__name__": "__test__", "__builtins__": __import__("builtins")}
    for name in exposed(names):
        ns[name] = proxy(remote, name)
    return ns


def run_test(remote, limits, fn):
    remote.deadline = time.monotonic() + limits["wall_time_s"]
    start = time.monotonic()
    try:
        fn()
        res = {"status": "passed"}
    except CandidateFault as exc:
        res = {"status": exc.verdict, "error": str(exc)}
    except AssertionError as exc:
        res = {"status": "wrong_answer", "error": ("assertion failed: " + str(exc)).strip()[-SNIPPET:]}
    except BaseException as exc:
        res = {"status": "runtime_error", "error": describe(exc)}
    res["time_s"] = round(time.monotonic() - start, 4)
    return res


def loaded_candidate(z, req):
    """A candidate process serving calls, its module loaded within the wall time (else CandidateFault)."""
    remote = Remote(z, dict(req["candidate"], serve=True, limits=req["limits"]))
    remote.deadline = time.monotonic() + req["limits"]["wall_time_s"]
    remote.ensure(remote.deadline)
    return remote


def mode_assert(z, req):
    try:
        remote = loaded_candidate(z, req)
    except CandidateFault as exc:
        return [{"status": exc.verdict, "error": str(exc)} for _ in req["tests"]]
    ns = test_namespace(remote, set(remote.names) | set(req.get("names", [])))
    if req.get("setup"):
        setup = run_test(remote, req["limits"], lambda: exec(compile(req["setup"], "test_setup", "exec"), ns))
        if setup["status"] != "passed":
            return [dict(setup, error="test setup failed: " + setup.get("error", "")) for _ in req["tests"]]
    results = []
    for i, test in enumerate(req["tests"]):
        if test.get("check"):
            entry = test["entry_point"]

            def body(test=test, entry=entry):
                exec(compile(test["code"], "test", "exec"), ns)
                ns["check"](ns.get(entry) or proxy(remote, entry))
        else:

            def body(test=test, i=i):
                exec(compile(test["code"], "test_%d" % i, "exec"), ns)

        res = run_test(remote, req["limits"], body)
        results.append(res)
        if req.get("stop_on_failure") and res["status"] != "passed":
            break
    remote.stop()
    return results


def mode_script(z, req):
    import unittest

    try:
        remote = loaded_candidate(z, req)
    except CandidateFault as exc:
        return [{"name": "load", "status": exc.verdict, "error": str(exc)}]
    module = types.ModuleType("solution")
    names = exposed(set(remote.names) | set(req.get("names", [])))
    for name in names:
        setattr(module, name, proxy(remote, name))
    module.__all__ = names
    sys.modules["solution"] = module
    ns = {"__name__": "__test__", "__builtins__": __import__("builtins")}
    loaded = run_test(remote, req["limits"], lambda: exec(compile(req["script"], "test_script.py", "exec"), ns))
    if loaded["status"] != "passed":
        return [dict(loaded, name="load", error="the test script failed to load: " + loaded.get("error", ""))]
    cases = []
    for name, value in list(ns.items()):
        if name.startswith("test") and isinstance(value, types.FunctionType):
            cases.append((name, value))
        elif isinstance(value, type) and issubclass(value, unittest.TestCase):
            for case in unittest.defaultTestLoader.loadTestsFromTestCase(value):
                cases.append((case.id().replace("__test__.", ""), unittest_runner(case)))
    results = []
    for name, fn in cases:
        res = dict(run_test(remote, req["limits"], fn), name=name)
        results.append(res)
        if req.get("stop_on_failure") and res["status"] != "passed":
            break
    remote.stop()
    if not results:
        results.append({"name": "collect", "status": "runtime_error", "error": "the test script defines no tests"})
    return results


def unittest_runner(case):
    import unittest

    def run():
        result = unittest.TestResult()
        case.run(result)
        if result.failures:
            raise AssertionError(result.failures[0][1][-SNIPPET:])
        if result.errors:
            raise RuntimeError(result.errors[0][1][-SNIPPET:])
        if result.skipped:
            raise RuntimeError("skipped: " + str(result.skipped[0][1]))

    return run


MODES = {"stdio": mode_stdio, "call": mode_call, "assert": mode_assert, "script": mode_script}


def trusted_imports_only():
    """Drop the work dir from sys.path: the candidate can write files there, and a test that
    imports a module (MBPP's `import heapq as hq`) must never load one of those into this
    process, which holds the nonce."""
    work = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != work]


def main():
    trusted_imports_only()
    nondumpable()
    verdict_fd = os.dup(1)
    p_sock, z_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        p_sock.close()
        os.close(verdict_fd)
        try:
            zygote(z_sock)
        finally:
            os._exit(0)
    z_sock.close()
    # The zygote is forked; only now may secrets enter this process.
    request = json.loads(sys.stdin.buffer.read())
    os.dup2(2, 1)  # test code that prints must not reach the verdict channel
    nonce = request.pop("nonce")
    z = Zygote(p_sock)
    report = {"nonce": nonce, "results": []}
    try:
        report["compile"] = compile_step(z, request)
        if report["compile"] is None or report["compile"]["ok"]:
            report["results"] = MODES[request["mode"]](z, request)
    except BaseException as exc:
        report["harness_error"] = describe(exc)
    data = (json.dumps(report) + "\n").encode()
    while data:
        data = data[os.write(verdict_fd, data) :]
    os._exit(0)


if __name__ == "__main__":
    main()
