"""The fork server's zygote: a pre-started interpreter that forks one fresh, fully isolated process per run.

Runs under the sandbox's Python (stdlib only) as host root, started from its source (sent
over fd 0, see forkserver.BOOTSTRAP) rather than its path: every run is a fork of this
process, so nothing here may hold the host's paths or pids (chains forget each other's).
Once, it builds a read-only root from the host's layout table and pivots into it, imports
what runs share, and hands itself to its C loop (zygote.c), which it never leaves: it
keeps a few warm chains ready, because fork is the dominant cost here: for a chain it
creates a new pid namespace whose pid 1 is a tiny C init (a clone sharing this
process's memory, so neither a copy of this interpreter nor an exec) and forks the run
process R into it, which returns from the loop into Python (run_process). R unshares
mount/ipc/uts/cgroup namespaces, mounts /proc with a read-only /proc/sys, and waits.
A job is handed to one chain, used exactly once: R joins the slot's cgroups, mounts
fresh tmpfs /work, /tmp and /dev/shm, joins the slot's network namespace, applies rlimits, drops
to the slot's unprivileged uid, sets no_new_privs, loads the seccomp filter and only
then reads the job (files, argv) from its own pipe. The zygote never holds a job's data
and no chain has executed user code before its job, so nothing can pass from one run
to the next. The zygote reaps R (its exit status comes from the kernel, out of the
program's reach), reports it, and kills the chain's init: the kernel then kills
everything left in the pid namespace.

Protocol on fd 0 (SOCK_SEQPACKET): first message is this source, then the JSON setup (with
"preload_modules", the host's trusted modules to import once, see forkserver.ForkServer.start), answered "ready"
or "error: ..."; then (served by zygote.c) each message is a marshal-encoded header with fds
[stdin, stdout, stderr, payload, status, netns, *cgroup.procs] (and, with "many" in the header, a
socket last: R then serves many runs of the program, see serve_runs) and gets no answer. The
payload (files, executables, entry, argv, env) goes to R only. On the status pipe, R writes
{"error": ...} if its set-up or the program's exec fails (its copy is close-on-exec, so
a program that runs never holds it); the zygote writes {"exit_code"} or {"signal"} once
R is reaped. The host reads the first line. A zygote set up with "session_modules" serves
sessions only (see _session_runtime.py and zygote.c for what differs).
"""

from __future__ import annotations

import _signal
import array
import atexit
import ctypes
import fcntl
import gc
import importlib.abc
import io
import json
import marshal
import os
import resource
import signal
import socket
import sys
import traceback
import types
from typing import Any, NoReturn

libc = ctypes.CDLL(None, use_errno=True)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = (
    1,
    2,
    4,
    8,
    32,
    4096,
    16384,
    1 << 18,
)
CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = (
    0x00020000,
    0x02000000,
    0x04000000,
    0x08000000,
    0x20000000,
    0x40000000,
)
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, PR_SET_PDEATHSIG, PR_SET_NAME = 38, 22, 2, 1, 15
MNT_DETACH = 2
libc.syscall.restype = ctypes.c_long
SETUP_FAILED = 121
MAX_FD = 1 << 16
#: Where R keeps its copy of the status pipe from the job's set-up to the program's exec (close-on-exec).
ERROR_FD = 3
#: Where R, as the runner of many runs, keeps its socket to the host (see serve_runs).
RUNS_FD = 4


def check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(src: str | None, dst: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    check(
        libc.mount(src and src.encode(), dst.encode(), fstype and fstype.encode(), flags, data and data.encode()),
        f"mount {dst}",
    )


def bind_ro(src: str, dst: str, extra: int = MS_NOSUID) -> None:
    mount(src, dst, None, MS_BIND | MS_REC)
    mount(None, dst, None, MS_BIND | MS_REMOUNT | MS_RDONLY | extra)


def hide_command_line(text: bytes) -> None:
    """Overwrite our argv in place (what /proc/PID/cmdline shows), as setproctitle does.

    Every run is a fork of this process and every init shares its memory, so without this
    any sandboxed program could read the host path this script was started from.
    """
    with open("/proc/self/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    start, end = int(fields[45]), int(fields[46])  # proc(5) fields 48 and 49: arg_start, arg_end
    room = end - start
    if room < 2:
        return
    # A non-NUL last byte tells the kernel the title was rewritten: it then shows our
    # text up to its first NUL instead of the whole original area (PR_SET_MM would
    # need CAP_SYS_RESOURCE, which containers often drop).
    title = text[: room - 2] + b"\0"
    ctypes.memmove(start, title.ljust(room - 1, b"\0") + b" ", room)


def build_root(root: str, mounts: list[dict[str, str]]) -> None:
    """Private mount namespace with a read-only tmpfs root holding only the layout's entries.

    Every chain copies this mount table and tears its copy down after the run, so it is kept
    short: small /etc entries are copied into the root instead of bound, and /dev holds
    device nodes instead of bind mounts.
    """
    import shutil
    import stat

    check(libc.unshare(CLONE_NEWNS), "unshare(mount)")
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", root, "tmpfs", MS_NOSUID, "size=16m,mode=0755")
    for m in mounts:
        dest = root + m["dest"]
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if m["symlink"]:
            os.symlink(m["symlink"], dest)
        elif m["dest"].startswith("/etc/"):
            if os.path.isdir(m["source"]):
                shutil.copytree(m["source"], dest, symlinks=True)
            else:
                shutil.copyfile(m["source"], dest)
                os.chmod(dest, 0o644)
        elif os.path.isdir(m["source"]):
            os.makedirs(dest, exist_ok=True)
            bind_ro(m["source"], dest, MS_NOSUID | MS_NODEV)
        else:
            open(dest, "w").close()
            bind_ro(m["source"], dest, MS_NOSUID | MS_NODEV)
    for d in ("dev", "dev/shm", "proc", "work", "tmp", "old"):
        os.makedirs(f"{root}/{d}", exist_ok=True)
    for dev, minor in (("null", 3), ("zero", 5), ("full", 7), ("random", 8), ("urandom", 9)):
        os.mknod(f"{root}/dev/{dev}", 0o666 | stat.S_IFCHR, os.makedev(1, minor))
        os.chmod(f"{root}/dev/{dev}", 0o666)
    for name, target in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ):
        os.symlink(target, f"{root}/dev/{name}")
    check(libc.syscall(155, root.encode(), f"{root}/old".encode()), "pivot_root")  # SYS_pivot_root on x86_64
    os.chdir("/")
    check(libc.umount2(b"/old", MNT_DETACH), "umount old root")
    os.rmdir("/old")
    mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID)


def become_first_oom_victim() -> None:
    """Out of memory in an enclosing cgroup (a pod's), the kernel kills a run, never the server.

    Inherited by everything the run starts; only CAP_SYS_RESOURCE could lower it again.
    """
    fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, b"1000")
    finally:
        os.close(fd)


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class Seccomp:
    """The filter as the kernel wants it, built once in the zygote: a run only makes two prctl calls."""

    def __init__(self, bpf: bytes) -> None:
        self.buffer = ctypes.create_string_buffer(bpf, len(bpf))
        self.prog = SockFprog(len(bpf) // 8, ctypes.cast(self.buffer, ctypes.c_void_p))
        self.ref = ctypes.byref(self.prog)

    def load(self) -> None:
        check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
        check(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, self.ref, 0, 0), "seccomp")


def set_environment(env: dict[str, str]) -> None:
    """Replace the C environment and os.environ with `env`.

    Through os.environ's own dict rather than its MutableMapping methods, whose generic
    clear()/update() run enough Python to copy-on-write ~60 pages per run.
    """
    data = os.environ._data  # type: ignore[attr-defined]
    for key in list(data):
        os.unsetenv(key)
    data.clear()
    for key, value in env.items():
        encoded_key, encoded_value = key.encode(), value.encode()
        os.putenv(encoded_key, encoded_value)
        data[encoded_key] = encoded_value


def write_file(rel: str, content: bytes, mode: int = 0o644) -> None:
    """os.write, not open(): a buffered file object per file costs pages of copy-on-write."""
    fd = os.open(rel, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


#: sys.stdin/stdout/stderr of every run, built once in the zygote (see job_streams).
JOB_STREAMS: tuple[io.TextIOWrapper, io.TextIOWrapper, io.TextIOWrapper] | None = None
#: The session runtime (_session_runtime.py) and its filter, when the host sent them at setup.
SESSION: types.ModuleType | None = None
SESSION_SECCOMP: Seccomp | None = None


def load_session_runtime(sources: dict[str, str]) -> types.ModuleType:
    """Build the session modules from their sources (in order: the protocol first) as importable modules."""
    import_sources(sources, "<sandbox %s>")
    return sys.modules["_session_runtime"]


class SourceText(importlib.abc.InspectLoader):
    """The loader of a module built from its source text: `get_source` is how tracebacks (linecache) and
    a program that starts a fresh interpreter with its own modules find the text, as from a file's loader."""

    def __init__(self, text: str) -> None:
        self.text = text

    def get_source(self, name: str) -> str:
        return self.text


def import_sources(sources: dict[str, str], filename: str) -> None:
    """Build modules from their sources, in order (a module's imports first), as if imported: each
    in sys.modules under its name, its code's file `filename % name`, its loader giving the text back."""
    for name, text in sources.items():
        module = types.ModuleType(name)
        module.__file__ = filename % name
        module.__loader__ = SourceText(text)
        sys.modules[name] = module
        exec(compile(text, module.__file__, "exec", dont_inherit=True), module.__dict__)


def job_streams() -> tuple[io.TextIOWrapper, io.TextIOWrapper, io.TextIOWrapper]:
    """The text streams a run's program gets, as `python3 main.py` would set them up over pipes.

    Built once here rather than per run (that costs ~80 pages of copy-on-write each time);
    never used in the zygote, so every run starts from the same pristine objects. Built
    while a pipe stands in for fds 0-2, so that what the file objects cache about their fd
    (not seekable, not a tty) matches the pipes each run gets on those fds.
    """
    pipe_r, pipe_w = os.pipe()
    saved = [os.dup(fd) for fd in (0, 1, 2)]
    try:
        os.dup2(pipe_r, 0)
        os.dup2(pipe_w, 1)
        os.dup2(pipe_w, 2)
        stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8")
        stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8")
        stderr = io.TextIOWrapper(
            io.BufferedWriter(io.FileIO(2, "w", closefd=False)),
            encoding="utf-8",
            errors="backslashreplace",
            line_buffering=True,
        )
        for stream in (stdin, stdout, stderr):
            stream.seekable()  # cache it now, for a pipe
    finally:
        for fd, original in zip((0, 1, 2), saved, strict=True):
            os.dup2(original, fd)
            os.close(original)
        os.close(pipe_r)
        os.close(pipe_w)
    return stdin, stdout, stderr


def load_native(path: str) -> ctypes.PyDLL:
    """zygote.c: the serve loop (zygote_serve) and each run's namespace init.

    A PyDLL: the loop is called with the GIL held, as this process's one thread, and forks
    through Python's own fork hooks. RTLD_GLOBAL, so that tests can ask a run what its copy
    of the loop still knows (zygote_known_processes) through the process's global symbols.
    """
    lib = ctypes.PyDLL(path, mode=ctypes.RTLD_GLOBAL)
    hook = ctypes.c_void_p
    lib.zygote_serve.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, hook, hook, hook]
    lib.zygote_serve.restype = ctypes.c_int
    lib.zygote_error.restype = ctypes.c_char_p
    return lib


def fork_hooks() -> list[int | None]:
    """PyOS_BeforeFork, PyOS_AfterFork_Parent and PyOS_AfterFork_Child: what os.fork() calls around fork()."""
    api = ctypes.pythonapi
    return [
        ctypes.cast(f, ctypes.c_void_p).value
        for f in (api.PyOS_BeforeFork, api.PyOS_AfterFork_Parent, api.PyOS_AfterFork_Child)
    ]


def read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def report(fd: int, **status: object) -> None:
    try:
        os.write(fd, (json.dumps(status) + "\n").encode())
    except OSError:
        pass


#: A Python program about to run: its `__main__` module, its path, and its code when compiled ahead (else None).
Entered = tuple[types.ModuleType, str, "types.CodeType | None"]


def enter_main(job: dict[str, Any]) -> Entered:
    """What `python3 main.py` sets up before the program's first line: argv, path, streams, `__main__`.

    The runner of many runs does this once and each run's fork inherits it (see serve_runs): done
    per run, it copy-on-writes ~80 pages of the interpreter each time. Only builtins and the job
    here (not os.path nor os.environ's Python methods): code the zygote never ran writes to its
    code objects when it first runs, which is another copy per page in every run.
    """
    entry = job["entry"]
    path = "/work/" + entry
    sys.argv = [entry, *job["args"]]
    sys.path.insert(0, path.rpartition("/")[0])
    # as python3 would place them; the job's env is the environment (set_environment)
    sys.path[1:1] = list(filter(None, job["env"].get("PYTHONPATH", "").split(":")))
    assert JOB_STREAMS is not None
    stdin, stdout, stderr = JOB_STREAMS
    sys.stdin = sys.__stdin__ = stdin  # type: ignore[misc]
    sys.stdout = sys.__stdout__ = stdout  # type: ignore[misc]
    sys.stderr = sys.__stderr__ = stderr  # type: ignore[misc]
    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__builtins__ = __builtins__  # type: ignore[attr-defined]
    sys.modules["__main__"] = main
    return main, path, None


def compile_program(path: str) -> types.CodeType:
    """The program's code as python3 compiles it: `dont_inherit`, so no `from __future__` of this file reaches it."""
    with open(path, "rb") as f:
        return compile(f.read(), path, "exec", dont_inherit=True)


def compiled_ahead(path: str) -> types.CodeType | None:
    """The program's code, compiled once for all of a runner's runs; None when it does not compile.

    Each run then compiles it itself, failing as `python3 main.py` would. Called inside the first
    run's wall time, as python3 compiles inside its own: a program slow to compile times out as
    it would there, rather than holding the runner's start (our failure, not the program's).
    """
    try:
        return compile_program(path)
    except BaseException:
        return None


def run_python(main: types.ModuleType, path: str, compiled: types.CodeType | None) -> NoReturn:
    """Execute the entrypoint as __main__ the way `python3 main.py` would, then leave without unwinding."""
    code = 0
    try:
        exec(compiled or compile_program(path), main.__dict__)
    except SystemExit as exc:
        code = exit_code(exc)
    except BaseException as exc:
        # Start at the program's own frame, as `python main.py` would: not at this file's host path.
        tb = exc.__traceback__
        traceback.print_exception(type(exc), exc, tb.tb_next if tb is not None else None)
        code = 1
    try:
        if "threading" in sys.modules:
            sys.modules["threading"]._shutdown()  # type: ignore[attr-defined]
        atexit._run_exitfuncs()  # type: ignore[attr-defined]
    except SystemExit as exc:
        code = exit_code(exc)
    except BaseException:
        traceback.print_exc()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            code = code or 120
    assert JOB_STREAMS is not None
    for stream in JOB_STREAMS[1:]:  # python3 closes the original streams last, even when replaced: their rest
        try:
            if not stream.closed:
                stream.flush()
        except Exception:
            pass
    os._exit(code)


def exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code & 0xFF
    try:
        print(exc.code, file=sys.stderr)
    except Exception:
        pass
    return 1


def run_process(ctrl: socket.socket, seccomp: Seccomp) -> NoReturn:
    """R: prepared ahead of any job in its fresh namespaces; used for exactly one job, then it becomes the program.

    Before the job: drops every fd but its control socket (zygote.c already restored the
    signal mask and forgot the zygote's bookkeeping), unshares the remaining namespaces and
    mounts /proc. A failure there is kept and reported on the job's status pipe, so it is
    never mistaken for the program's exit.
    """
    setup_error: BaseException | None = None
    try:
        libc.prctl(PR_SET_NAME, b"python3", 0, 0, 0)  # what the program would see under `python3 main.py`
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        os.closerange(3, ctrl.fileno())
        os.closerange(ctrl.fileno() + 1, MAX_FD)
        check(libc.unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP), "unshare")
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        bind_ro("/proc/sys", "/proc/sys", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        socket.sethostname("sandbox")
        become_first_oom_victim()
    except BaseException as exc:
        setup_error = exc
    request = recv_request(ctrl)
    if request is None:
        os._exit(0)  # the zygote closed this chain unused
    ctrl.close()
    header, fds = request
    if SESSION is not None:  # a session zygote serves sessions only
        SESSION.enter(header, fds, setup_error, types.SimpleNamespace(**globals()))  # never returns
    stdin, stdout, stderr, payload, status, netns = fds[:6]
    try:
        if setup_error is not None:
            raise setup_error
        h = marshal.loads(header)
        runs = fds.pop() if h.get("many") else -1
        for fd in fds[6:]:
            os.write(fd, b"0")  # join the slot's cgroups: from here on, this process tree is the job
            os.close(fd)
        opts = f"size={h['workdir_bytes']},nr_inodes={h['inodes']},uid={h['uid']},gid={h['gid']}"
        mount("tmpfs", "/work", "tmpfs", MS_NOSUID | MS_NODEV, opts + ",mode=0700")
        mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, opts + ",mode=1777")
        # POSIX semaphores and shared memory (multiprocessing's locks and pools) live here.
        mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts + ",mode=1777")
        check(libc.setns(netns, CLONE_NEWNET), "setns(slot network namespace)")
        os.close(netns)
        os.setsid()
        for sig in (_signal.SIGPIPE, _signal.SIGXFSZ):
            _signal.signal(sig, _signal.SIG_IGN if h["mode"] == "python" else _signal.SIG_DFL)
        cpu_limit = -1
        for which, value in h["rlimits"]:
            if runs >= 0 and which == resource.RLIMIT_CPU:
                cpu_limit = value  # per run, set in each run's process: the runner's CPU adds up over runs
                continue
            resource.setrlimit(which, (value, value + 1 if which == resource.RLIMIT_CPU else value))
        os.setgroups([])
        os.setresgid(h["gid"], h["gid"], h["gid"])
        os.setresuid(h["uid"], h["uid"], h["uid"])
        os.chdir("/work")
        seccomp.load()
        job = marshal.loads(read_all(payload))
        write_job_files(job)
        if runs >= 0:
            runs = fcntl.fcntl(runs, fcntl.F_DUPFD_CLOEXEC, RUNS_FD + 1)  # out of the way of the dup2s below
        os.dup2(stdin, 0)
        os.dup2(stdout, 1)
        os.dup2(stderr, 2)
        if status != ERROR_FD:
            os.dup2(status, ERROR_FD, inheritable=False)  # ours until exec: the program never holds it
        os.set_inheritable(ERROR_FD, False)
        if runs >= 0:
            os.dup2(runs, RUNS_FD, inheritable=False)
        os.closerange((RUNS_FD if runs >= 0 else ERROR_FD) + 1, MAX_FD)
        set_environment(job["env"])
        os.umask(0o022)
        gc.enable()
    except BaseException as exc:
        report(status, error=f"sandbox setup failed in the run process: {exc!r}")
        os._exit(SETUP_FAILED)
    if runs >= 0:
        serve_runs(job, h["mode"], cpu_limit)
    become_program(job, h["mode"])


def become_program(job: dict[str, Any], mode: str, entered: Entered | None = None) -> NoReturn:
    """The last step of a run: run the entry in this interpreter (python) or exec the argv.

    `entered`: what enter_main(job) returned, when a runner of many runs did it ahead of this run.
    """
    if mode == "python":
        os.close(ERROR_FD)
        run_python(*(entered or enter_main(job)))
    try:
        os.execvpe(job["argv"][0], job["argv"], job["env"])
    except OSError as exc:
        report(ERROR_FD, error=f"the sandbox could not execute {job['argv'][0]}: {exc.strerror}")
        os._exit(SETUP_FAILED)


#: Signals the runner of many runs ignores, so a program cannot end it by one it can catch.
RUNNER_IGNORES = tuple(
    sig for sig in signal.valid_signals() if sig not in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD)
)


def serve_runs(job: dict[str, Any], mode: str, cpu_limit: int) -> NoReturn:
    """R as the runner of many runs of one program (Sandbox.run_many), all in this set-up sandbox.

    For each request on RUNS_FD (fds [stdin, stdout, stderr]) R puts the work dir, /tmp and
    /dev/shm back as the job left them, forks a fresh process that becomes the program
    exactly as a single run would, reaps it and answers with its exit status (or the
    sandbox's error). The host kills whatever a run leaves behind, except R, before the next
    request. R holds nothing a program may not see (it never runs other code), ignores every
    signal it can, and cannot be traced or read (it changed uid: not dumpable); a program that
    stops or kills it only ends its own runs here (the host starts a fresh sandbox for the rest).
    """
    for sig in RUNNER_IGNORES:
        try:
            _signal.signal(sig, _signal.SIG_IGN)
        except (OSError, ValueError):
            pass
    os.close(ERROR_FD)  # R's own end is the zygote's report of R's exit
    entered = enter_main(job) if mode == "python" else None  # R itself never runs the program
    runs = socket.socket(fileno=RUNS_FD)
    runs.send(b"ready")
    fresh = True
    while True:
        request = recv_request(runs)
        if request is None:
            os._exit(0)  # the host is done with this program
        try:
            if not fresh:
                restore_sandbox(job)
        except BaseException as exc:
            runs.send(json.dumps({"restore_failed": repr(exc)}).encode())
            os._exit(SETUP_FAILED)
        if fresh and entered is not None:
            entered = (*entered[:2], compiled_ahead(entered[1]))
        fresh = False
        runs.send(run_once(job, mode, request[1], cpu_limit, entered))


def run_once(job: dict[str, Any], mode: str, fds: list[int], cpu_limit: int, entered: Entered | None) -> bytes:
    """One run in a fork of the runner; its status line (or our error, from its close-on-exec pipe)."""
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(err_r)
            for fd, target in zip(fds, (0, 1, 2), strict=True):
                os.dup2(fd, target)
            os.dup2(err_w, ERROR_FD, inheritable=False)
            os.closerange(ERROR_FD + 1, MAX_FD)
            for sig in RUNNER_IGNORES:
                _signal.signal(sig, _signal.SIG_DFL)
            for sig in (_signal.SIGPIPE, _signal.SIGXFSZ):
                _signal.signal(sig, _signal.SIG_IGN if mode == "python" else _signal.SIG_DFL)
            if cpu_limit >= 0:
                resource.setrlimit(resource.RLIMIT_CPU, (cpu_limit, cpu_limit + 1))
            os.setsid()
        except BaseException as exc:
            report(ERROR_FD, error=f"sandbox setup failed in the run process: {exc!r}")
            os._exit(SETUP_FAILED)
        become_program(job, mode, entered)
    os.close(err_w)
    for fd in fds:
        os.close(fd)
    _, wstatus = os.waitpid(pid, 0)
    error = read_all(err_r).strip()
    os.close(err_r)
    if error:
        return error
    if os.WIFSIGNALED(wstatus):
        return b'{"signal": %d}' % os.WTERMSIG(wstatus)
    return b'{"exit_code": %d}' % os.WEXITSTATUS(wstatus)


def restore_sandbox(job: dict[str, Any]) -> None:
    """Empty /work, /tmp and /dev/shm (as their owner: whatever a run made of them), remove the System V IPC
    objects a run made, and write the job's files again."""
    for top in ("/work", "/tmp", "/dev/shm"):
        empty_dir(top)
    remove_ipc_objects()
    write_job_files(job)


IPC_RMID = 0
IPC_INFO_BUFFER = (ctypes.c_int * 32)()
#: Per System V IPC kind (sysvipc(7)): how to ask how many exist (*_INFO into IPC_INFO_BUFFER; which
#: int counts them) and how to remove one. POSIX message queues need no entry: RLIMIT_MSGQUEUE is 0.
IPC_KINDS = (
    ("msg", lambda: libc.msgctl(0, 12, IPC_INFO_BUFFER), 0, lambda ipc_id: libc.msgctl(ipc_id, IPC_RMID, None)),
    ("shm", lambda: libc.shmctl(0, 14, IPC_INFO_BUFFER), 0, lambda ipc_id: libc.shmctl(ipc_id, IPC_RMID, None)),
    ("sem", lambda: libc.semctl(0, 0, 19, IPC_INFO_BUFFER), 7, lambda ipc_id: libc.semctl(ipc_id, 0, IPC_RMID)),
)


def remove_ipc_objects() -> None:
    """Remove every message queue, shared memory segment and semaphore set in this IPC namespace.

    They outlive the run that made them (the namespace is the runner's, shared by its runs), so
    without this one run could leave state for the next. Counting first costs one syscall per
    kind; this namespace's /proc/sysvipc is read only when a run made something.
    """
    for kind, count, count_index, remove in IPC_KINDS:
        if count() >= 0 and IPC_INFO_BUFFER[count_index] == 0:
            continue
        with open("/proc/sysvipc/" + kind, "rb") as f:
            ids = [int(line.split()[1]) for line in f.read().splitlines()[1:]]
        for ipc_id in ids:
            check(remove(ipc_id), f"removing System V {kind} {ipc_id}")


def empty_dir(top: str) -> None:
    """Remove everything under `top`, without recursion (a run may leave a tree deeper than the stack)."""
    pending, found = [top], []
    while pending:
        directory = pending.pop()
        for entry in os.scandir(directory):
            if entry.is_dir(follow_symlinks=False):
                os.chmod(entry.path, 0o700)
                pending.append(entry.path)
                found.append(entry.path)
            else:
                os.unlink(entry.path)
    for directory in reversed(found):
        os.rmdir(directory)


def write_job_files(job: dict[str, Any]) -> None:
    executables = set(job["executables"])
    for rel, content in job["files"].items():
        parent = os.path.dirname(rel)
        if parent:
            os.makedirs(parent, exist_ok=True)
        write_file(rel, content, 0o755 if rel in executables else 0o644)


FD_SIZE = array.array("i").itemsize
MAX_FDS = 16
#: zygote_serve's returns in the zygote (see zygote.c); in a run process it returns its control fd.
ZYGOTE_DONE, ZYGOTE_FAILED = -1, -2


def recv_request(sock: socket.socket) -> tuple[bytes, list[int]] | None:
    """One header + fds message (the header undecoded: only R reads it); None when the peer closed."""
    msg, ancdata, _flags, _addr = sock.recvmsg(1 << 16, socket.CMSG_SPACE(MAX_FDS * FD_SIZE))
    fds = array.array("i")
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % FD_SIZE)])
    if not msg:
        for fd in fds:
            os.close(fd)
        return None
    return msg, list(fds)


#: Imported once in the zygote, so a run that uses them pays nothing. Not `threading`: its
#: after-fork hook alone costs every run ~135 copy-on-write faults (~0.3 ms), while the few
#: programs that start threads import it in ~1 ms.
PRELOAD = (
    "abc",
    "array",
    "bisect",
    "collections",
    "copy",
    "dataclasses",
    "decimal",
    "enum",
    "fractions",
    "functools",
    "heapq",
    "io",
    "itertools",
    "json",
    "math",
    "operator",
    "random",
    "re",
    "statistics",
    "string",
    "sys",
    "time",
    "traceback",
    "types",
    "typing",
    "atexit",
)


def serve(sock: socket.socket) -> None:
    """Set up once, then hand the loop to zygote.c; in each new run process it returns R's control socket."""
    setup = json.loads(sock.recv(1 << 20))
    try:
        own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)  # before /proc leaves our root
        hide_command_line(b"python3 -I sandbox-zygote")
        native = load_native(setup["native"])  # before the host's files leave our root
        build_root(setup["root"], setup["mounts"])
        for name in PRELOAD:
            __import__(name)
        # The host's trusted modules, as a job that ships them in its work dir would import them.
        import_sources(setup.get("preload_modules", {}), "/work/%s.py")
        global JOB_STREAMS, SESSION, SESSION_SECCOMP
        JOB_STREAMS = job_streams()
        seccomp = Seccomp(bytes.fromhex(setup["seccomp_hex"]))
        if setup.get("session_modules"):
            SESSION = load_session_runtime(setup["session_modules"])
            SESSION_SECCOMP = Seccomp(bytes.fromhex(setup["session_seccomp_hex"]))
        warm = int(setup.get("warm", 2))
        hooks = fork_hooks()
        # An ignored SIGCHLD inherited from the host would have the kernel reap every run before the
        # loop could (no status, ever), and would reach every program: runs start from the default.
        _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
        del setup
        # Children must not walk (and so copy-on-write) the zygote's objects: freeze them out of
        # the collector, and collect nothing in the zygote; R turns GC back on.
        gc.collect()
        gc.freeze()
        gc.disable()
    except BaseException as exc:
        sock.send(f"error: {exc!r}".encode())
        return
    ctrl = native.zygote_serve(sock.fileno(), own_pidns, warm, SESSION is not None, *hooks)
    if ctrl == ZYGOTE_FAILED:
        sock.send(b"error: " + native.zygote_error())
    elif ctrl != ZYGOTE_DONE:  # a new run process R
        del native, hooks
        run_process(socket.socket(fileno=ctrl), seccomp)


if __name__ == "__main__":
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    libc.prctl(PR_SET_NAME, b"sandbox-zygote", 0, 0, 0)  # tells it apart from its runs in ps/top
    serve(socket.socket(fileno=0))
