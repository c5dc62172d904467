"""The fork server's zygote: a pre-started interpreter that forks one fresh, fully isolated process tree per run.

Runs as a standalone script under the sandbox's Python (stdlib only) as host root.
Once, it builds a read-only root from the host's layout table and pivots into it; per
request it forks S, which joins the slot's cgroups and unshares mount/pid/net/ipc/uts/
cgroup namespaces, then forks P1 (pid 1 of the new pid namespace: mounts /proc, a
read-only /proc/sys and fresh tmpfs /work and /tmp) which forks P2. P2 applies rlimits,
drops to the slot's unprivileged uid, sets no_new_privs, loads the seccomp filter and
only then reads the job (files, argv) from its own pipe, so the zygote never holds a
job's data and nothing can pass from one run to the next: every run is a fresh fork
of a zygote that has never executed user code. When P2 exits, P1 reports its status
and exits, and the kernel kills everything left in the pid namespace.

Protocol on fd 0 (SOCK_SEQPACKET): first message is the JSON setup, answered "ready"
or "error: ..."; then each message is a JSON header with fds
[stdin, stdout, stderr, payload, status, *cgroup.procs] and gets no answer.
"""

from __future__ import annotations

import array
import ctypes
import json
import marshal
import os
import resource
import signal
import socket
import sys
from typing import Any, NoReturn

libc = ctypes.CDLL(None, use_errno=True)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = (
    1, 2, 4, 8, 32, 4096, 16384, 1 << 18)
CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = (
    0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x20000000, 0x40000000)
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, PR_SET_CHILD_SUBREAPER, PR_SET_PDEATHSIG = 38, 22, 2, 36, 1
MNT_DETACH = 2
SETUP_FAILED = 121


def check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(src: str | None, dst: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    check(libc.mount(src and src.encode(), dst.encode(), fstype and fstype.encode(), flags,
                     data and data.encode()), f"mount {dst}")


def bind_ro(src: str, dst: str, extra: int = MS_NOSUID) -> None:
    mount(src, dst, None, MS_BIND | MS_REC)
    mount(None, dst, None, MS_BIND | MS_REMOUNT | MS_RDONLY | extra)


def build_root(root: str, mounts: list[dict[str, str]]) -> None:
    """Private mount namespace with a read-only tmpfs root holding only the layout's binds."""
    check(libc.unshare(CLONE_NEWNS), "unshare(mount)")
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", root, "tmpfs", MS_NOSUID, "size=1m,mode=0755")
    for m in mounts:
        dest = root + m["dest"]
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if m["symlink"]:
            os.symlink(m["symlink"], dest)
        elif os.path.isdir(m["source"]):
            os.makedirs(dest, exist_ok=True)
            bind_ro(m["source"], dest, MS_NOSUID | MS_NODEV)
        else:
            open(dest, "w").close()
            bind_ro(m["source"], dest, MS_NOSUID | MS_NODEV)
    for d in ("dev", "proc", "work", "tmp", "old"):
        os.makedirs(f"{root}/{d}", exist_ok=True)
    for dev in ("null", "zero", "full", "random", "urandom"):
        open(f"{root}/dev/{dev}", "w").close()
        bind_ro(f"/dev/{dev}", f"{root}/dev/{dev}")
        mount(None, f"{root}/dev/{dev}", None, MS_BIND | MS_REMOUNT | MS_NOSUID)  # writable /dev/null
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{root}/dev/{name}")
    check(libc.syscall(155, root.encode(), f"{root}/old".encode()), "pivot_root")  # SYS_pivot_root on x86_64
    os.chdir("/")
    check(libc.umount2(b"/old", MNT_DETACH), "umount old root")
    os.rmdir("/old")
    mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID)


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def load_seccomp(bpf: bytes) -> None:
    buf = ctypes.create_string_buffer(bpf, len(bpf))
    prog = SockFprog(len(bpf) // 8, ctypes.cast(buf, ctypes.c_void_p))
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    check(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0), "seccomp")


def read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def report(fd: int, **status: object) -> None:
    try:
        os.write(fd, (json.dumps(status) + "\n").encode())
    except OSError:
        pass


def run_python(job: dict[str, Any]) -> NoReturn:
    """Execute the entrypoint as __main__ the way `python3 main.py` would, then leave without unwinding."""
    import atexit
    import io
    import traceback
    import types

    entry = job["entry"]
    path = "/work/" + entry
    sys.argv = [entry, *job["args"]]
    sys.path.insert(0, os.path.dirname(path))
    stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8")
    stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8")
    stderr = io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "w", closefd=False)), encoding="utf-8",
                              errors="backslashreplace", line_buffering=True)
    sys.stdin = sys.__stdin__ = stdin  # type: ignore[misc]
    sys.stdout = sys.__stdout__ = stdout  # type: ignore[misc]
    sys.stderr = sys.__stderr__ = stderr  # type: ignore[misc]
    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__builtins__ = __builtins__  # type: ignore[attr-defined]
    sys.modules["__main__"] = main
    code = 0
    try:
        with open(path, "rb") as f:
            source = f.read()
        exec(compile(source, path, "exec"), main.__dict__)
    except SystemExit as exc:
        code = exit_code(exc)
    except BaseException:
        traceback.print_exc()
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


def user_process(h: dict[str, Any], fds: list[int], bpf: bytes) -> NoReturn:
    """P2: lock down, then become the program."""
    stdin, stdout, stderr, payload, status = fds[:5]
    try:
        os.setsid()
        for sig in (signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_IGN if h["mode"] == "python" else signal.SIG_DFL)
        for which, value in h["rlimits"]:
            resource.setrlimit(which, (value, value + 1 if which == resource.RLIMIT_CPU else value))
        os.setgroups([])
        os.setresgid(h["gid"], h["gid"], h["gid"])
        os.setresuid(h["uid"], h["uid"], h["uid"])
        os.chdir("/work")
        load_seccomp(bpf)
        job = marshal.loads(read_all(payload))
        for rel, content in job["files"].items():
            parent = os.path.dirname(rel)
            if parent:
                os.makedirs(parent, exist_ok=True)
            with open(rel, "wb") as f:
                f.write(content)
        os.dup2(stdin, 0)
        os.dup2(stdout, 1)
        os.dup2(stderr, 2)
        os.closerange(3, 1 << 16)
        os.environ.clear()
        os.environ.update(job["env"])
        os.umask(0o022)
    except BaseException as exc:
        report(status, error=f"sandbox setup failed in the program process: {exc!r}")
        os._exit(SETUP_FAILED)
    if h["mode"] == "python":
        run_python(job)
    try:
        os.execvpe(job["argv"][0], job["argv"], job["env"])
    except OSError as exc:
        os.write(2, f"sandbox: cannot execute {job['argv'][0]}: {exc.strerror}\n".encode())
        os._exit(127)


def namespace_init(h: dict[str, Any], fds: list[int], bpf: bytes) -> NoReturn:
    """P1: pid 1 of the run's namespaces. Mounts the per-run filesystems, runs P2, reaps, reports."""
    status = fds[4]
    try:
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        bind_ro("/proc/sys", "/proc/sys", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        opts = f"size={h['workdir_bytes']},nr_inodes={h['inodes']},uid={h['uid']},gid={h['gid']}"
        mount("tmpfs", "/work", "tmpfs", MS_NOSUID | MS_NODEV, opts + ",mode=0700")
        mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, opts + ",mode=1777")
        socket.sethostname("sandbox")
        child = os.fork()
    except BaseException as exc:
        report(status, error=f"sandbox setup failed in the namespace init: {exc!r}")
        os._exit(SETUP_FAILED)
    if child == 0:
        user_process(h, fds, bpf)
    for fd in fds[:4]:
        os.close(fd)
    while True:
        try:
            pid, wstatus = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(0)
        except InterruptedError:
            continue
        if pid == child:
            break
    if os.WIFSIGNALED(wstatus):
        report(status, signal=os.WTERMSIG(wstatus))
    else:
        report(status, exit_code=os.WEXITSTATUS(wstatus))
    os._exit(0)  # the kernel now kills whatever is left in the pid namespace


def spawn(h: dict[str, Any], fds: list[int], bpf: bytes) -> NoReturn:
    """S: join the slot's cgroups, create the namespaces, fork their init, and leave."""
    status = fds[4]
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in fds[5:]:
            os.write(fd, b"0")
            os.close(fd)
        check(libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
                           | CLONE_NEWCGROUP), "unshare")
        if os.fork() == 0:
            namespace_init(h, fds[:5], bpf)
    except BaseException as exc:
        report(status, error=f"sandbox setup failed in the spawner: {exc!r}")
        os._exit(SETUP_FAILED)
    os._exit(0)


PRELOAD = ("abc", "array", "bisect", "collections", "copy", "dataclasses", "decimal", "enum", "fractions",
           "functools", "heapq", "io", "itertools", "json", "math", "operator", "random", "re", "statistics",
           "string", "sys", "time", "traceback", "types", "typing", "threading", "atexit")


def serve(sock: socket.socket) -> None:
    setup = json.loads(sock.recv(1 << 20))
    try:
        build_root(setup["root"], setup["mounts"])
        for name in PRELOAD:
            __import__(name)
        bpf = bytes.fromhex(setup["seccomp_hex"])
    except BaseException as exc:
        sock.send(f"error: {exc!r}".encode())
        return
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # auto-reap spawners and orphaned inits
    sock.send(b"ready")
    fd_size = array.array("i").itemsize
    while True:
        msg, ancdata, _flags, _addr = sock.recvmsg(1 << 16, socket.CMSG_SPACE(16 * fd_size))
        if not msg:
            return  # the host closed the socket: shut down
        fds = array.array("i")
        for level, kind, data in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[: len(data) - (len(data) % fd_size)])
        try:
            h = json.loads(msg)
            if os.fork() == 0:
                spawn(h, list(fds), bpf)
        except BaseException as exc:
            if len(fds) > 4:
                report(fds[4], error=f"fork server could not start the run: {exc!r}")
        finally:
            for fd in fds:
                os.close(fd)


if __name__ == "__main__":
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    serve(socket.socket(fileno=0))
