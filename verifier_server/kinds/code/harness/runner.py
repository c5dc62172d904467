# mypy: ignore-errors
# ruff: noqa: UP031, RUF046
# (runs inside the sandbox on the system Python, stdlib only, untyped on purpose to stay version-agnostic)
"""In-sandbox test runner for the function, assert and script styles (stdlib only, Python >= 3.9).

It runs as main.py inside the sandbox with two modules shipped beside it: the protocol
(`_verifier_protocol`: the request, the report, the status words and the value codec,
shared with the server) and the sandbox's exit classification (`_verifier_exits`). stdio
tests never come here: the sandbox runs those programs itself, once per test.

Why it is shaped like this: verdicts must not be forgeable by the candidate, which runs
in the same sandbox as this runner. Three processes:

* P (this process) reads the request (nonce, tests) from stdin, talks to the candidate
  and writes the only lines the server reads, to the sandbox's stdout. P is made
  non-dumpable, so the candidate (same uid) cannot read its memory or /proc fds.
* Z, a zygote that never holds the nonce or test code. Z forks a candidate process C on
  demand and passes P the pipes to it. Where every test needs a fresh candidate process
  (isolation "per_test", see protocol.EAGER_ZYGOTE_ENV), P forks Z before it reads the
  request. Otherwise P starts Z only when a second candidate process is needed, as a fresh
  interpreter (see Zygote.start): most samples need none, and a forked Z that lived
  through the sample cost about a fifth of its CPU.
* C, the candidate: its stdout/stderr are /dev/null, never the verdict channel. The first
  one, C0, P forks itself before the request too (prefork_candidate); Z forks any other.

function: C runs the candidate and returns values as tagged plain data; the server compares.
assert / script: P runs the trusted test code with the candidate's functions replaced by
proxies that call into C; only plain data crosses. Anything missing or garbled fails.
A candidate process that ends mid-test is judged by the sandbox's own exit rules.

The reply (see Report): one JSON line per test as it finishes, then a trailer line with
the nonce and the number of test lines. A failure of this harness's own machinery (it
could not fork, its zygote was gone before any candidate ran, a bug) is `harness_failed`
in the trailer: the server reports the sample as an error, never as the candidate's 0.
What the candidate can cause (killing the zygote, leaving processes that exhaust the
job's limit) stays the candidate's failure, so it cannot turn a 0 into an abstention.
"""

import _signal  # not signal's wrappers: their enum conversions copy-on-write ~40 pages per call here
import errno
import fcntl
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

import _verifier_exits as exits
import _verifier_protocol as protocol
from _verifier_protocol import dec, enc

SNIPPET = 2000


PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


def prctl(option, value):
    """prctl(2) with one argument; whether it took."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) == 0
    except Exception:
        return False


def nondumpable():
    """PR_SET_DUMPABLE=0: same-uid processes can no longer ptrace us or open /proc/<pid>/{mem,fd}."""
    prctl(PR_SET_DUMPABLE, 0)


# ---------------------------------------------------------------------------
# Z: the clean zygote
# ---------------------------------------------------------------------------


def devnull():
    return os.open(os.devnull, os.O_RDWR)


def processes():
    """Pids visible in /proc: with the sandbox's pid namespace, this job's processes only."""
    try:
        return set(int(name) for name in os.listdir("/proc") if name.isdigit())
    except OSError:
        return set()


#: waitpid's __WALL: children whatever signal they report their end with (os has no name for it).
WAIT_ALL = 0x40000000


def descendants():
    """Pids below this process, whatever their state, from /proc. P is a child subreaper when it
    may start Z on demand, so a process the candidate left behind (a setsid'd grandchild whose
    parent ended) stays below P, whoever its parent was."""
    parents = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                stat = f.read()
        except OSError:
            continue  # it ended
        parents[int(name)] = int(stat[stat.rfind(b")") + 2 :].split()[1])
    children = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    found, todo = set(), [os.getpid()]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def end_descendants(deadline):
    """SIGKILL every process below this one, round after round, and reap them, until this process
    has no child at all; how many were below it at `deadline` (0: none).

    "No child" is the only sound test of "nothing below": /proc is read one process at a
    time, so a process that forks and exits can hide its child from a scan, and a thread
    group whose leader exited reads as a zombie while its threads run. But with P a
    subreaper, a process's children become P's as it exits, before it can be reaped: while
    anything is below P, P has a child."""
    while True:
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG | WAIT_ALL)
            except ChildProcessError:
                return 0
            if pid == 0:
                break
        below = descendants()
        if time.monotonic() >= deadline:
            return max(1, len(below))
        for pid in below:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.001)


def reap_ended(waited_for):
    """Reap this process's ended children but those in `waited_for` (reaped where they are waited
    for): with P a subreaper, orphans the candidate left come to it when they end, and would
    hold the job's process slots until the sample ends (the sandbox's init reaped them before)."""
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is None or info.si_pid in waited_for:
            return
        try:
            os.waitpid(info.si_pid, 0)
        except ChildProcessError:
            return


def zygote(ctl):
    """Forks candidates on request; reports their exit statuses. Holds no secrets."""
    baseline = processes()  # the sandbox's own and the harness's: anything else was started by a candidate
    null = devnull()
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    _signal.set_wakeup_fd(wake_w)
    _signal.signal(_signal.SIGCHLD, lambda *_: None)
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
                spawn(ctl, json.loads(line), (wake_r, wake_w), baseline)


#: `python3 -I -c` this, with fd 3 its control socket and fd 4 the boot data (Zygote.start): build
#: the harness's modules from their sources, as P had them before any candidate code ran, then serve.
ZYGOTE_BOOT = """
import json, os, sys, types
chunks = []
while True:
    chunk = os.read(4, 1 << 20)
    if not chunk:
        break
    chunks.append(chunk)
os.close(4)
boot = json.loads(b"".join(chunks).decode())
sys.path[:] = boot["path"]
for name, filename, source in boot["modules"]:
    module = types.ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module
    exec(compile(source, filename, "exec", dont_inherit=True), module.__dict__)
main = sys.modules[sys.argv[1]]
del boot, chunks, chunk, module, name, filename, source  # a candidate's `import __main__` finds none of it
main.zygote_main(3)
"""


def zygote_main(fd):
    """Z started on demand (Zygote.start): says it is ready, then serves as a forked Z would."""
    nondumpable()
    ctl = socket.socket(fileno=fd)
    ctl.sendall(b'{"ready": true}\n')
    zygote(ctl)


def reap(ctl):
    while True:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        ctl.sendall((json.dumps(exit_message(pid, status, usage)) + "\n").encode())


def exit_message(pid, status, usage):
    """How a reaped candidate process ended, as Z reports it to P."""
    msg = {"exit": pid, "cpu_s": usage.ru_utime + usage.ru_stime}
    if os.WIFSIGNALED(status):
        msg["signal"] = os.WTERMSIG(status)
    else:
        msg["code"] = os.WEXITSTATUS(status)
    return msg


def spawn(ctl, spec, wake, baseline):
    """C: a fork of Z that loads the candidate and serves calls on fds 3 (requests) -> 4 (replies).

    Fd 5 is C's set-up channel: closed right before any candidate code runs (opening its source
    included), written to only if our set-up failed. P reads it to EOF, so a set-up failure of
    ours is never mistaken for the candidate's exit, whatever code the candidate exits with."""
    made = []
    try:
        for _ in range(3):
            made.extend(os.pipe())
        pid = os.fork()
    except OSError as exc:
        for fd in made:
            os.close(fd)
        # Whose fault: processes the candidates left running exhaust the job's own limit; with
        # none left, the limit was hit from outside this job (or something else of ours failed).
        leftovers = len(processes() - baseline)
        reply = {"spawn_error": str(exc), "errno": exc.errno, "leftovers": leftovers}
        ctl.sendall((json.dumps(reply) + "\n").encode())
        return
    req_r, req_w, resp_r, resp_w, setup_r, setup_w = made
    if pid == 0:
        _signal.set_wakeup_fd(-1)
        for fd in (ctl.detach(), *wake, req_w, resp_r, setup_r):
            os.close(fd)
        candidate_process(spec, req_r, resp_w, setup_w)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass
    mine = [req_r, resp_w, setup_w]
    theirs = [req_w, resp_r, setup_r]
    socket.send_fds(ctl, [(json.dumps({"pid": pid}) + "\n").encode()], theirs)
    for fd in mine + theirs:
        os.close(fd)


def candidate_process(spec, req_r, resp_w, setup_w):
    """C's set-up (see spawn for its fds), then the candidate; never returns."""
    error_fd = setup_w
    try:
        os.setpgid(0, 0)
        _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
        _signal.signal(_signal.SIGPIPE, _signal.SIG_IGN)
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 6) for fd in (req_r, resp_w, setup_w)]  # clear of 3-5 first
        for target, fd in enumerate(high, 3):
            os.dup2(fd, target)
        error_fd = 5
        null = devnull()
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.dup2(null, 2)
        os.closerange(6, 1 << 16)
        limits = spec["limits"]
        cpu = max(1, int(math.ceil(limits["cpu_time_s"])))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        if limits.get("memory_bytes") and spec.get("rlimit_as", True):
            resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"], limits["memory_bytes"]))
    except BaseException as exc:
        try:
            os.write(error_fd, ("%s: %s" % (type(exc).__name__, exc)).encode()[:SNIPPET] or b"?")
        finally:
            os._exit(1)
    os.close(5)  # from here on, only the candidate's doing
    run_python_candidate(spec)


def prefork_candidate():
    """C0: the first candidate process, forked by P before it reads the request (so it never holds it).

    Most samples need one candidate process: this one spares Z a fork and P a round trip
    through Z (about a sixth of a sample's page faults). It waits for its spec, the first line
    on its request pipe, then becomes a candidate exactly as one forked by Z; Z forks any later
    one (isolation per_test, a candidate process that ended). P reaps it itself, through a pidfd.
    None when it cannot be made (no pidfds here, a failed fork): Z then forks every candidate."""
    if not hasattr(os, "pidfd_open"):
        return None
    made = []
    try:
        for _ in range(3):
            made.extend(os.pipe())
        pid = os.fork()
    except OSError:
        for fd in made:
            os.close(fd)
        return None
    req_r, req_w, resp_r, resp_w, setup_r, setup_w = made
    if pid == 0:
        for fd in (req_w, resp_r, setup_r):
            os.close(fd)
        line = b""
        while not line.endswith(b"\n"):
            chunk = os.read(req_r, 65536)
            if not chunk:
                os._exit(0)  # P needed no candidate process
            line += chunk
        candidate_process(json.loads(line), req_r, resp_w, setup_w)
    for fd in (req_r, resp_w, setup_w):
        os.close(fd)
    try:
        os.setpgid(pid, pid)  # as Z does: its group exists before anything may kill it
    except OSError:
        pass
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        kill(pid)
        os.waitpid(pid, 0)
        for fd in (req_w, resp_r, setup_r):
            os.close(fd)
        return None
    return pid, pidfd, [req_w, resp_r, setup_r]


# ---------------------------------------------------------------------------
# C: the candidate (Python runs in-process in a fork of Z: no interpreter start-up)
# ---------------------------------------------------------------------------


def run_python_candidate(spec):
    """Load the candidate's source as module `solution` (its setup code after it, MBPP's
    test_setup_code, as one program would have it) and serve calls.

    Every page this process touches is a copy-on-write fault (~2 us here): a candidate process
    is forked per sample, so what it does before the candidate's code is kept short."""
    # sys.stdin/stdout/stderr stay the interpreter's own objects, unused so far (Z is forked before
    # P reads or writes anything), now over /dev/null: fresh ones would cost ~35 pages of copy-on-write.
    path = spec["source"]
    sys.argv = [path]
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))  # as `python3 solution.py` would
    try:
        with open(path, "rb") as f:
            source = f.read()
    except OSError as exc:  # an earlier candidate process deleted it: the candidate's own doing
        send(4, {"loaded": False, "error": "cannot read the solution: %s" % exc.strerror})
        os._exit(0)
    serve_candidate(source, path, spec.get("setup", ""))


def send(fd, obj):
    data = (json.dumps(obj) + "\n").encode()
    while data:
        data = data[os.write(fd, data) :]


def serve_candidate(source, path, setup):
    """Load the candidate as module `solution`, then answer call requests on fds 3 -> 4."""
    module = types.ModuleType("solution")
    module.__file__ = path
    sys.modules["solution"] = module
    try:
        exec(compile(source, path, "exec", dont_inherit=True), module.__dict__)
        names = [n for n, v in module.__dict__.items() if callable(v) and not n.startswith("__")]
        if setup:  # after the candidate's names are listed: setup's helpers are the tests', not proxied
            exec(compile(setup, "test_setup", "exec", dont_inherit=True), module.__dict__)
        send(4, {"loaded": True, "names": names})
    except BaseException as exc:
        send(4, {"loaded": False, "error": describe(exc, source_lines=True)})
        os._exit(0)
    reader = os.fdopen(3, "rb")
    for line in reader:
        try:
            req = json.loads(line)
            fn = resolve(module, req["fn"], req.get("solution_class", False))
            value = fn(*dec(req["args"]), **dec(req.get("kwargs", {"$dict": []})))
            send(4, {"ok": enc(value)})
        except MemoryError:
            os._exit(protocol.MEMORY_EXIT)
        except BaseException as exc:
            send(4, {"exc": type(exc).__name__, "msg": describe(exc, source_lines=True)})
    os._exit(0)


def resolve(module, name, solution_class):
    fn = module.__dict__.get(name)
    if fn is None and solution_class and isinstance(module.__dict__.get("Solution"), type):
        fn = getattr(module.__dict__["Solution"](), name)
    if fn is None:
        raise NameError("the solution defines no function %r" % name)
    return fn


def describe(exc, limit=SNIPPET, source_lines=False):
    """The traceback of `exc` without this harness's frames: what the candidate's (or the test's)
    own code did, ending with the exception line (a SyntaxError's caret included).

    Source lines are read only in the candidate's process: in P, a file the candidate wrote
    under a test's name would be read into trusted memory."""
    try:
        frames = []
        tb = exc.__traceback__
        while tb is not None:
            code = tb.tb_frame.f_code
            if code.co_filename not in HARNESS_FILES:
                frames.append((code.co_filename, tb.tb_lineno, code.co_name))
            tb = tb.tb_next
        lines = ["Traceback (most recent call last):\n"] if frames else []
        for filename, lineno, name in frames:
            lines.append('  File "%s", line %d, in %s\n' % (filename, lineno, name))
            if source_lines:
                import linecache

                source = linecache.getline(filename, lineno).strip()
                if source:
                    lines.append("    %s\n" % source)
        lines.extend(traceback.format_exception_only(type(exc), exc))
        text = "".join(lines).strip()
    except BaseException:
        text = "%s (its description failed)" % type(exc).__name__
    return text if limit is None else text[-limit:]


HARNESS_FILES = frozenset({describe.__code__.co_filename, enc.__code__.co_filename})


# ---------------------------------------------------------------------------
# P: talking to Z and C
# ---------------------------------------------------------------------------


class HarnessFault(BaseException):
    """This harness's own machinery failed: its zygote is gone, or it could not start a process.

    A BaseException that the Zygote also remembers (see Zygote.fault), so test code can neither
    turn it into a verdict nor swallow it; main() decides whose failure it was (see blame)."""


class ZygoteLost(HarnessFault):
    pass


class SpawnFailed(HarnessFault):
    def __init__(self, message, errno_value, leftovers):
        super().__init__(message)
        self.errno_value = errno_value
        self.leftovers = leftovers


class SetupFailed(HarnessFault):
    """A candidate process's set-up (before any candidate code) failed, by its set-up channel's word."""


class ZygoteStartFailed(HarnessFault):
    """Z, started on demand, did not come up: nothing of the candidate's was alive while it started."""


#: Seconds Z started on demand may take to say it is ready (a fresh interpreter: tens of ms when idle).
ZYGOTE_START_S = 30.0
#: Seconds P keeps killing the processes the candidate left before it starts Z on demand.
ENDING_S = 5.0


class Zygote:
    """P's side of Z, and of the pre-forked first candidate process when there is one (see prefork_candidate).

    `sock` is None while Z is not started: `boot` (zygote_boot) then starts it when a second
    candidate process is needed (see start)."""

    def __init__(self, sock, first=None, boot=None):
        self.sock = sock
        self.boot = boot
        self.subreaper = boot is not None  # P is one (see main): it reaps what comes to it
        self.deadline = None  # the job's own (run() sets it): starting Z on demand never passes it
        self.buf = b""
        self.exits = {}
        self.candidates = 0  # candidate processes asked for
        self.fault = None
        self.first = first  # (pid, pidfd, [req_w, resp_r, setup_r]) of C0 until it is handed out
        self.pidfds = {}  # pid -> pidfd of a candidate process P forked itself, until reaped

    def failed(self, fault):
        if self.fault is None:
            self.fault = fault
        raise self.fault

    def spawn(self, spec):
        if self.fault is not None:
            raise self.fault
        if self.first is not None:
            pid, pidfd, fds = self.first
            self.first = None
            self.candidates += 1
            self.pidfds[pid] = pidfd
            try:
                send(fds[0], spec)
            except OSError:
                pass  # it is gone: its set-up channel and its replies say how
            return pid, fds
        self.prepare(True)
        self.candidates += 1  # counted before Z forks: the candidate may run (and kill Z) before we hear back
        try:
            self.sock.sendall((json.dumps(spec) + "\n").encode())
        except OSError:
            self.failed(ZygoteLost("the harness zygote died"))
        pid, fds = None, []
        while pid is None:
            try:
                msg, got, _, _ = socket.recv_fds(self.sock, 65536, 8)
            except OSError:
                msg, got = b"", []
            if not msg:
                self.failed(ZygoteLost("the harness zygote died"))
            fds.extend(got)
            self.buf += msg
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                reply = json.loads(line)
                if "pid" in reply:
                    pid = reply["pid"]
                elif "spawn_error" in reply:
                    self.candidates -= 1
                    error = "the harness could not start a process: %s" % reply["spawn_error"]
                    self.failed(SpawnFailed(error, reply.get("errno"), reply.get("leftovers", 0)))
                else:
                    self.note(reply)
        return pid, fds

    def prepare(self, fresh):
        """Before a test: reap what ended below P, and start Z if the test needs a `fresh` candidate
        process and Z is not started (see start)."""
        if self.subreaper:
            reap_ended(set(self.pidfds))
        if fresh and self.sock is None and self.first is None and self.fault is None:
            self.start()

    def within(self, seconds):
        """A deadline `seconds` from now, but never past the job's own."""
        deadline = time.monotonic() + seconds
        return deadline if self.deadline is None else min(deadline, self.deadline)

    def start(self):
        """Z on demand: a fresh interpreter, not a fork of this process (which holds the request), built
        from the harness's sources as they were before any candidate code ran (zygote_boot).

        A fresh interpreter can be traced and written through /proc/<pid>/mem by any process of
        the same uid until it makes itself non-dumpable, so every process the candidate left is
        ended first (see end_descendants): none exists while Z starts. What it left that outlives
        its processes (files in the job's tmpfs, IPC objects) can still take the job's memory, so
        a Z that ran out of memory or was killed is the candidate's doing; any other failure to
        start is ours."""
        boot, self.boot = self.boot, None
        for pid, pidfd in self.pidfds.items():  # no longer waited for: end_descendants reaps them
            kill(pid)
            os.close(pidfd)
        self.pidfds.clear()
        left = end_descendants(self.within(ENDING_S))
        if left:
            self.failed(SpawnFailed("the solution's processes could not all be ended (%d left)" % left, None, left))
        p_sock, z_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        boot_r, boot_w = os.pipe()
        err_r, err_w = os.pipe()
        null = devnull()
        # Above 4 first: dup2 onto 0-4 in turn must not overwrite a source fd it still needs.
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (null, err_w, z_sock.fileno(), boot_r)]
        null_fd, err_fd, ctl_fd, boot_fd = high
        actions = [(os.POSIX_SPAWN_DUP2, fd, target) for fd, target in ((null_fd, 0), (null_fd, 1), (err_fd, 2))]
        actions += [(os.POSIX_SPAWN_DUP2, ctl_fd, 3), (os.POSIX_SPAWN_DUP2, boot_fd, 4)]
        try:
            argv = [sys.executable, "-I", "-c", ZYGOTE_BOOT, __name__]
            pid = os.posix_spawn(sys.executable, argv, os.environ, file_actions=actions, setsigdef=(signal.SIGINT,))
        except OSError as exc:
            for fd in (boot_w, err_r):
                os.close(fd)
            p_sock.close()
            why = "the harness could not start its zygote: %s" % exc
            if exc.errno == errno.ENOMEM:
                self.failed(SpawnFailed(why, exc.errno, 0))
            self.failed(ZygoteStartFailed(why))
        finally:
            for fd in (null, boot_r, err_w, *high):
                os.close(fd)
            z_sock.close()
        self.sock = p_sock
        line, self.buf = self.ready_line(self.within(ZYGOTE_START_S), boot_w, json.dumps(boot).encode())
        if line != b'{"ready": true}':
            self.start_failed(pid, err_r, line)
        os.close(err_r)

    def ready_line(self, deadline, boot_w, data):
        """Write Z's boot data and close `boot_w` (Z reads it to its end), then read Z's first line:
        (line, what came after it), the line None at the deadline and b"" when Z closed its end."""
        os.set_blocking(boot_w, False)
        buf = b""
        try:
            while b"\n" not in buf:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None, buf
                writing = [boot_w] if boot_w is not None else []
                readable, writable, _ = select.select([self.sock], writing, [], left)
                if writable:
                    try:
                        data = data[os.write(boot_w, data[:65536]) :]
                    except BlockingIOError:
                        pass
                    except OSError:
                        data = b""  # Z is gone: its end says how
                    if not data:
                        os.close(boot_w)
                        boot_w = None
                if readable:
                    try:
                        chunk = self.sock.recv(65536)
                    except OSError:
                        chunk = b""
                    if not chunk:
                        return b"", buf
                    buf += chunk
        finally:
            if boot_w is not None:
                os.close(boot_w)
        line, rest = buf.split(b"\n", 1)
        return line, rest

    def start_failed(self, pid, err_r, line):
        """Z did not say it is ready: whose failure (see start), with what it wrote to stderr."""
        status = None
        if line == b"":  # it closed its end: it is ending, by itself or killed
            until = time.monotonic() + 5.0
            while status is None and time.monotonic() < until:
                done, ended_with = os.waitpid(pid, os.WNOHANG)
                if done:
                    status = ended_with
                else:
                    time.sleep(0.005)
        if status is None:  # still running (too slow, or it said something else): stopped by us
            kill(pid)
            os.waitpid(pid, 0)
        os.set_blocking(err_r, False)
        try:
            said = os.read(err_r, 1 << 16)
        except OSError:
            said = b""
        os.close(err_r)
        tail = said.decode("utf-8", "replace").strip()[-SNIPPET:]
        if status is not None and (os.WIFSIGNALED(status) or "MemoryError" in tail):
            self.failed(SpawnFailed("the harness zygote ran out of memory or was killed while starting", None, 0))
        why = "timed out" if line is None else (tail or "it said %r" % line[:200])
        self.failed(ZygoteStartFailed("the harness zygote did not start: %s" % why))

    def note(self, msg):
        self.exits[msg["exit"]] = msg

    def drain(self):
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            if line:
                self.note(json.loads(line))

    def poll(self):
        try:
            data = self.sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            self.failed(ZygoteLost("the harness zygote died"))
        self.buf += data
        self.drain()

    def wait_exit(self, pid, deadline):
        pidfd = self.pidfds.get(pid)
        if pidfd is not None:
            if not select.select([pidfd], [], [], max(0.0, deadline - time.monotonic()))[0]:
                return None
            del self.pidfds[pid]
            os.close(pidfd)
            _, status, usage = os.wait4(pid, 0)
            return exit_message(pid, status, usage)
        while pid not in self.exits:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.sock], [], [], left)
            if ready:
                self.poll()
        return self.exits.pop(pid)


def blame(z, fault):
    """Whose failure `fault` is: "harness" (ours: the sample gets no verdict) or "candidate" (a 0).

    Before any candidate process existed, nothing the candidate wrote could have caused it.
    After, the candidate may have killed the zygote, or left processes (setsid escapes the
    process-group kill) that exhaust the job's process limit: its failure, or it could turn
    its 0 into an abstention. A fork refused for the process limit (EAGAIN) while no such
    process is left means the limit was hit from outside this job: ours. So is a Z started
    on demand that did not come up: every process of the candidate's was ended before."""
    if z.candidates == 0 or isinstance(fault, ZygoteStartFailed):
        return "harness"
    if isinstance(fault, SpawnFailed) and fault.errno_value == errno.EAGAIN and not fault.leftovers:
        return "harness"
    if isinstance(fault, SetupFailed) and z.candidates == 1:
        return "harness"  # the first candidate process: no candidate code had run anywhere yet
    return "candidate"


def kill(pid):
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
        except OSError:
            pass


def read_to_eof(fd, deadline):
    """A set-up channel's word: b"" once its writer closed it, None if the deadline came first."""
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                return data
            data += chunk


def ended(msg, limits, **facts):
    """(verdict, reason) for a candidate process that ended, by the sandbox's own rules (exits.py)."""
    word, reason = exits.classify(
        msg.get("code"),
        msg.get("signal"),
        cpu_time_s=float(msg.get("cpu_s") or 0.0),
        wall_time_limit_s=limits["wall_time_s"],
        cpu_time_limit_s=limits["cpu_time_s"],
        memory_bytes=limits["memory_bytes"],
        output_bytes=limits["output_bytes"],
        memory_hit=msg.get("code") == protocol.MEMORY_EXIT,
        **facts,
    )
    return protocol.FROM_SANDBOX.get(word, protocol.RUNTIME_ERROR), reason


class CandidateFault(BaseException):
    """Raised into test code when the candidate process failed; BaseException so `except Exception` misses it.

    Remembered on the Remote too: test code that swallows it (a bare `except:`) still fails the test."""

    def __init__(self, verdict, message):
        super().__init__(message)
        self.verdict = verdict


class CandidateRaised(Exception):
    """The candidate raised an exception; `text` is the candidate's own traceback tail.

    Test code may catch it as the built-in type the candidate raised (`except ValueError`,
    assertRaises): see crossing(). Never as control flow."""

    def __init__(self, text):
        super().__init__(text)
        self.text = text


#: Built-in exceptions that iteration machinery and the interpreter read as control flow:
#: a StopIteration out of `map(candidate, ...)` would end the loop of a trusted check early,
#: as if every item had been checked. From the candidate they cross as plain CandidateRaised.
CONTROL_FLOW = frozenset({"StopIteration", "StopAsyncIteration", "GeneratorExit", "KeyboardInterrupt", "SystemExit"})
_CROSSING = {}


def crossing(name, text):
    """The exception P raises into test code for the candidate's exception `name`."""
    builtin = getattr(__import__("builtins"), name, None)
    ordinary = isinstance(builtin, type) and issubclass(builtin, Exception) and builtin.__module__ == "builtins"
    if name in CONTROL_FLOW or not ordinary:
        return CandidateRaised(text)
    if name not in _CROSSING:
        try:
            _CROSSING[name] = type(name, (CandidateRaised, builtin), {})
        except TypeError:
            _CROSSING[name] = CandidateRaised
    try:
        return _CROSSING[name](text)
    except Exception:  # a built-in whose constructor wants more (UnicodeDecodeError)
        return CandidateRaised(text)


class Remote:
    """One candidate process serving calls; restarted after a crash or timeout (or `stop`)."""

    def __init__(self, z, spec, reply_cap):
        self.z, self.spec, self.reply_cap = z, spec, reply_cap
        self.pid = None
        self.names = []
        self.deadline = None
        self.fault = None

    def ensure(self, deadline):
        if self.pid is not None:
            return
        pid, (req_w, resp_r, setup_r) = self.z.spawn(self.spec)
        self.pid, self.req_w, self.resp = pid, req_w, os.fdopen(resp_r, "rb")
        try:
            word = read_to_eof(setup_r, deadline)
        finally:
            os.close(setup_r)
        if word:
            self.stop()
            self.z.failed(SetupFailed("a candidate process could not be set up: %s" % word.decode("utf-8", "replace")))
        msg = self._read(deadline)
        if not msg.get("loaded"):
            self.stop()
            error = str(msg.get("error", "the candidate did not load"))[-SNIPPET:]
            self.failed(CandidateFault(protocol.RUNTIME_ERROR, "loading the solution failed: " + error))
        names = msg.get("names")
        self.names = [n for n in names if isinstance(n, str)] if isinstance(names, list) else []

    def failed(self, fault):
        self.fault = fault
        raise fault

    def prepare(self):
        """Before a test's clock starts: what its candidate process needs, such as a zygote started on
        demand, is not the test's time (out_of_time left it TEST_OVERHEAD_S of the job's)."""
        self.z.prepare(self.pid is None)

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
                self.failed(CandidateFault(*ended({}, self.spec["limits"], wall_timeout=True)))
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                pid = self.pid
                self.pid = None
                os.close(self.req_w)
                self.resp.close()
                msg = self.z.wait_exit(pid, time.monotonic() + 0.5)
                if msg is None:
                    kill(pid)
                    msg = self.z.wait_exit(pid, time.monotonic() + 2.0) or {}
                if msg:
                    verdict, why = ended(msg, self.spec["limits"])
                else:  # never reaped by us (a session's copy is not our child): how it ended is not known here
                    verdict, why = protocol.RUNTIME_ERROR, "its exit status is unknown"
                self.failed(CandidateFault(verdict, "the solution process ended: %s" % (why or "exit code 0")))
            line += chunk
            if len(line) > self.reply_cap:
                self.stop()
                self.failed(CandidateFault(protocol.OUTPUT_LIMIT, "the solution returned too much data"))
        try:
            msg = json.loads(line)
        except ValueError:
            msg = None
        if not isinstance(msg, dict):
            self.stop()
            self.failed(CandidateFault(protocol.RUNTIME_ERROR, "garbled reply from the solution process"))
        return msg

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
        try:
            send(self.req_w, payload)
        except OSError:
            pass  # the candidate is gone: _read sees EOF and says how it ended
        msg = self._read(deadline)
        if "ok" in msg:
            try:
                return dec(msg["ok"])
            except (ValueError, TypeError, KeyError) as exc:
                self.failed(CandidateFault(protocol.RUNTIME_ERROR, "garbled value from the solution: %s" % exc))
        raise crossing(str(msg.get("exc", "Exception")), str(msg.get("msg", ""))[-SNIPPET:])


def proxy(remote, name):
    def call(*args, **kwargs):
        return remote.call(name, args, kwargs)

    call.__name__ = call.__qualname__ = name
    return call


class Report:
    """The verdict channel: one JSON line per test as it finishes, then a trailer with the nonce.

    `budget` bounds the bytes of test lines, which the server holds and parses: a result that
    would pass it becomes an output_limit verdict without its output (the server refuses
    samples whose expected outputs alone would need more than half of it)."""

    def __init__(self, fd, nonce, budget):
        self.fd, self.nonce, self.budget = fd, nonce, budget
        self.count = 0
        self.used = 0

    def add(self, res):
        line = json.dumps(res)
        if self.used + len(line) > self.budget:
            res = dict((k, v) for k, v in res.items() if k in ("name", "time_s"))
            res["status"] = protocol.OUTPUT_LIMIT
            res["error"] = "this sample's outputs passed the server's report budget (%d bytes)" % self.budget
            line = json.dumps(res)
        self.used += len(line) + 1
        self.count += 1
        self._write(line)
        return res

    def finish(self, trailer):
        trailer = dict(trailer, nonce=self.nonce, count=self.count)
        self._write(json.dumps(trailer))

    def _write(self, line):
        data = (line + "\n").encode()
        while data:
            data = data[os.write(self.fd, data) :]


class SampleInvalid(Exception):
    """The sample's own tests are unusable here (a test script defining no tests, or more than the server runs)."""


# ---------------------------------------------------------------------------
# modes
# ---------------------------------------------------------------------------


def fresh_per_test(req):
    """isolation "per_test": a new candidate process for every test (the default shares one)."""
    return req.get("isolation") == "per_test"


#: Wall time a test may take beyond its limit (a fresh candidate process, a zygote started on demand, the
#: harness's own work).
TEST_OVERHEAD_S = 0.5
#: Wall time of the job spent before `run` starts its clock (the sandbox, the bootstrap, the zygote).
STARTUP_MARGIN_S = 3.0


def out_of_time(req, report, not_run):
    """Before a test: when it could outlast the whole job's wall time (`job_wall_s`), report it and the
    tests after it (`not_run`: their names, None where the server names them) as timed out, not run.
    Stopping here keeps the verdicts of the tests already run; a job killed at its wall time loses them."""
    deadline = req.get("deadline")
    if deadline is None or time.monotonic() + req["limits"]["wall_time_s"] + TEST_OVERHEAD_S <= deadline:
        return False
    why = "not run: the sample's job would pass its wall time (%gs) before this test ends" % req["job_wall_s"]
    for name in not_run:
        report.add(
            {"status": protocol.TIMEOUT, "error": why}
            if name is None
            else {"name": name, "status": protocol.TIMEOUT, "error": why}
        )
    return True


def reply_cap(req):
    return min(64 << 20, int(req.get("report_budget", 64 << 20)) + (64 << 10))


def candidate_spec(req):
    """What Z needs to start a candidate process: its source, limits and the setup code it runs after its own."""
    return {
        "source": protocol.CANDIDATE_FILE,
        "limits": req["limits"],
        "rlimit_as": req.get("rlimit_as", True),
        "setup": req.get("setup", ""),
    }


def mode_function(z, req, report):
    remote = Remote(z, candidate_spec(req), reply_cap(req))
    for i, test in enumerate(req["tests"]):
        if out_of_time(req, report, [None] * (len(req["tests"]) - i)):
            break
        remote.prepare()
        remote.deadline = time.monotonic() + req["limits"]["wall_time_s"]
        start = time.monotonic()
        try:
            args = dec(test["args"])
            value = remote.call(req["fn_name"], args, {}, solution_class=True)
            res = {"status": protocol.RETURNED, "value": enc(value)}
        except HarnessFault:
            raise
        except CandidateFault as exc:
            res = {"status": exc.verdict, "error": str(exc)}
        except CandidateRaised as exc:
            res = {"status": protocol.RUNTIME_ERROR, "error": exc.text}
        except BaseException as exc:
            res = {"status": protocol.RUNTIME_ERROR, "error": describe(exc)}
        res["time_s"] = round(time.monotonic() - start, 4)
        res = report.add(res)
        if fresh_per_test(req):
            remote.stop()
        if req.get("stop_on_failure") and res["status"] != protocol.RETURNED:
            break
    remote.stop()


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
    """One test's verdict. A failure of the candidate process counts even if test code swallowed it."""
    remote.prepare()
    remote.deadline = time.monotonic() + limits["wall_time_s"]
    remote.fault = None
    start = time.monotonic()
    try:
        fn()
        res = {"status": protocol.PASSED}
    except HarnessFault:
        raise
    except CandidateFault as exc:
        res = {"status": exc.verdict, "error": str(exc)}
    except CandidateRaised as exc:
        res = {"status": protocol.RUNTIME_ERROR, "error": exc.text}
    except AssertionError as exc:
        res = {"status": protocol.WRONG_ANSWER, "error": ("assertion failed: " + str(exc)).strip()[-SNIPPET:]}
    except BaseException as exc:
        res = {"status": protocol.RUNTIME_ERROR, "error": describe(exc)}
    if remote.z.fault is not None:
        raise remote.z.fault
    if remote.fault is not None and res["status"] == protocol.PASSED:
        res = {"status": remote.fault.verdict, "error": str(remote.fault)}
    res["time_s"] = round(time.monotonic() - start, 4)
    return res


def loaded_candidate(z, req):
    """A candidate process serving calls, its module loaded within the wall time (else CandidateFault)."""
    remote = Remote(z, candidate_spec(req), reply_cap(req))
    remote.deadline = time.monotonic() + req["limits"]["wall_time_s"]
    remote.ensure(remote.deadline)
    return remote


def mode_assert(z, req, report):
    try:
        remote = loaded_candidate(z, req)
    except CandidateFault as exc:
        for _ in req["tests"]:
            report.add({"status": exc.verdict, "error": str(exc)})
        return
    ns = test_namespace(remote, set(remote.names) | set(req.get("names", [])))
    if req.get("setup"):
        setup = run_test(
            remote, req["limits"], lambda: exec(compile(req["setup"], "test_setup", "exec", dont_inherit=True), ns)
        )
        if setup["status"] != protocol.PASSED:
            for _ in req["tests"]:
                report.add(dict(setup, error="test setup failed: " + setup.get("error", "")))
            remote.stop()
            return
        if fresh_per_test(req):
            remote.stop()
    for i, test in enumerate(req["tests"]):
        if out_of_time(req, report, [None] * (len(req["tests"]) - i)):
            break
        if test.get("check"):
            entry = test["entry_point"]

            def body(test=test, entry=entry):
                exec(compile(test["code"], "test", "exec", dont_inherit=True), ns)
                ns["check"](ns.get(entry) or proxy(remote, entry))
        else:

            def body(test=test, i=i):
                exec(compile(test["code"], "test_%d" % i, "exec", dont_inherit=True), ns)

        res = report.add(run_test(remote, req["limits"], body))
        if fresh_per_test(req):
            remote.stop()
        if req.get("stop_on_failure") and res["status"] != protocol.PASSED:
            break
    remote.stop()


SCRIPT = "test_script.py"


def script_tests(ns):
    """(name, callable) for each test the test script itself defines: functions compiled from its
    source and TestCase classes created by it. Names it merely imports (`from solution import *`
    brings the candidate's own `test_*` functions, as proxies) are not its tests."""
    import unittest

    cases = []
    for name, value in list(ns.items()):
        if isinstance(value, types.FunctionType):
            if name.startswith("test") and value.__code__.co_filename == SCRIPT:
                cases.append((name, value))
        elif isinstance(value, type) and issubclass(value, unittest.TestCase) and value.__module__ == ns["__name__"]:
            for case in unittest.defaultTestLoader.loadTestsFromTestCase(value):
                cases.append((case.id().replace(ns["__name__"] + ".", ""), unittest_runner(case)))
    return cases


def mode_script(z, req, report):
    try:
        remote = loaded_candidate(z, req)
    except CandidateFault as exc:
        report.add({"name": "load", "status": exc.verdict, "error": str(exc)})
        return
    module = types.ModuleType("solution")
    names = exposed(set(remote.names) | set(req.get("names", [])))
    for name in names:
        setattr(module, name, proxy(remote, name))
    module.__all__ = names
    sys.modules["solution"] = module
    ns = {"__name__": "__test__", "__builtins__": __import__("builtins")}
    loaded = run_test(
        remote, req["limits"], lambda: exec(compile(req["script"], SCRIPT, "exec", dont_inherit=True), ns)
    )
    if loaded["status"] != protocol.PASSED:
        report.add(dict(loaded, name="load", error="the test script failed to load: " + loaded.get("error", "")))
        remote.stop()
        return
    if fresh_per_test(req):
        remote.stop()
    collected = {}
    res = run_test(remote, req["limits"], lambda: collected.update(cases=script_tests(ns)))
    cases = collected.get("cases")
    if cases is None:
        report.add(
            dict(res, name="collect", error="collecting the test script's tests failed: " + res.get("error", ""))
        )
        remote.stop()
        return
    if not cases:  # its top-level code may have run and passed: no test of the candidate's failed
        remote.stop()
        raise SampleInvalid("the test script defines no tests (test* functions or unittest.TestCase classes)")
    most = req.get("max_tests")
    if most is not None and len(cases) > most:
        remote.stop()
        raise SampleInvalid(
            "the test script defines %d tests; this server runs at most %d per sample" % (len(cases), most)
        )
    # Only the harness knows the script's tests: every one gets a line, or the server's fraction
    # would count only those reached (an early stop must never raise the reward).
    for i, (name, fn) in enumerate(cases):
        reported = i
        try:
            if out_of_time(req, report, [n for n, _ in cases[i:]]):
                break
            res = report.add(dict(run_test(remote, req["limits"], fn), name=name))
            reported += 1
            if fresh_per_test(req):
                remote.stop()
        except HarnessFault as exc:
            for later, _ in cases[reported:]:
                report.add({"name": later, "status": protocol.RUNTIME_ERROR, "error": "not run: %s" % exc})
            raise
        if req.get("stop_on_failure") and res["status"] != protocol.PASSED:
            for later, _ in cases[i + 1 :]:
                report.add({"name": later, "status": protocol.SKIPPED, "error": "not run: an earlier test failed"})
            break
    remote.stop()


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


MODES = {protocol.FUNCTION: mode_function, protocol.ASSERT: mode_assert, protocol.SCRIPT: mode_script}


def trusted_imports_only():
    """Drop the work dir from sys.path: the candidate can write files there, and a test that
    imports a module (MBPP's `import heapq as hq`) must never load one of those into this
    process, which holds the nonce."""
    work = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != work]


def zygote_boot():
    """What starts Z on demand (Zygote.start), taken now, before any candidate code runs: the
    harness's modules as their loaders give their source (the fork server keeps the text of
    each module it preloaded; a module imported from the work dir is read from its file now,
    before the candidate could change it) and the import path the candidates get. None when a
    source cannot be had: Z is then forked up front."""
    modules = []
    for module in (protocol, exits, sys.modules[__name__]):
        try:
            source = module.__loader__.get_source(module.__name__)
        except Exception:
            source = None
        if not isinstance(source, str):
            return None
        modules.append((module.__name__, module.__file__, source))
    return {"modules": modules, "path": list(sys.path)}


def start_zygote(verdict_fd, first):
    p_sock, z_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        pid = os.fork()
    except OSError:
        p_sock.close()
        z_sock.close()
        raise
    if pid == 0:
        p_sock.close()
        os.close(verdict_fd)
        if first is not None:  # C0's pipes and pidfd are P's alone
            for fd in (first[1], *first[2]):
                os.close(fd)
        try:
            zygote(z_sock)
        finally:
            os._exit(0)
    z_sock.close()
    return Zygote(p_sock, first)


def run(z, request, report):
    """The trailer: what ended the run early, by whose fault (protocol.TRAILER_KEYS)."""
    trailer = {}
    if request.get("job_wall_s"):
        request["deadline"] = time.monotonic() + float(request["job_wall_s"]) - STARTUP_MARGIN_S
    z.deadline = request.get("deadline")
    try:
        MODES[request["style"]](z, request, report)
    except SampleInvalid as exc:
        trailer["invalid"] = str(exc)
    except HarnessFault as exc:
        trailer["harness_error" if blame(z, exc) == "candidate" else "harness_failed"] = str(exc)
    except BaseException as exc:
        trailer["harness_failed"] = describe(exc)
    return trailer


def main():
    trusted_imports_only()
    nondumpable()
    verdict_fd = os.dup(1)
    boot = zygote_boot() if os.environ.get(protocol.EAGER_ZYGOTE_ENV) != "1" else None
    first = prefork_candidate()  # before Z: Z's count of this job's processes includes it
    try:
        # Z on demand needs every process the candidate leaves to stay below P (see Zygote.start);
        # C0 runs nothing of the candidate's before P reads the request.
        if boot is not None and first is not None and prctl(PR_SET_CHILD_SUBREAPER, 1):
            z, failure = Zygote(None, first, boot), None
        else:
            z, failure = start_zygote(verdict_fd, first), None
    except OSError as exc:
        z, failure = None, "the harness could not start its zygote: %s" % exc
    # Z and C0 are forked; only now may secrets enter this process. From here on a
    # candidate's SIGINT must not become a KeyboardInterrupt in here (an exit without a verdict).
    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
    request = json.loads(sys.stdin.buffer.read())
    os.dup2(2, 1)  # test code that prints must not reach the verdict channel
    report = Report(verdict_fd, request.pop("nonce"), int(request.get("report_budget", 64 << 20)))
    trailer = {"harness_failed": failure} if failure else run(z, request, report)
    report.finish(trailer)
    os._exit(0)


if __name__ == "__main__":
    main()
