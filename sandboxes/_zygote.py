"""The fork server's zygote: a pre-started interpreter that forks one fresh, fully isolated process tree per run.

Runs as a standalone script under the sandbox's Python (stdlib only) as host root.
Once, it builds a read-only root from the host's layout table and pivots into it. It
keeps a few warm chains ready, because fork is the dominant cost here (~0.6 ms each):
for a chain it forks S, which unshares mount/pid/ipc/uts/cgroup namespaces and
forks P1 (pid 1 of the new pid namespace: mounts /proc with a read-only /proc/sys),
which pre-forks P2 and waits. A job is handed to one chain, used exactly once: P1
moves P2 into the slot's cgroups and mounts fresh tmpfs /work and /tmp; P2
joins the slot's network namespace, applies rlimits, drops to the slot's unprivileged uid, sets no_new_privs, loads the
seccomp filter and only then reads the job (files, argv) from its own pipe. The zygote
never holds a job's data and no chain has executed user code before its job, so
nothing can pass from one run to the next. When P2 exits, P1 reports its status and
exits, and the kernel kills everything left in the pid namespace.

Protocol on fd 0 (SOCK_SEQPACKET): first message is the JSON setup, answered "ready"
or "error: ..."; then each message is a JSON header with fds
[stdin, stdout, stderr, payload, status, netns, *cgroup.procs] and gets no answer.
"""

from __future__ import annotations

import array
import ctypes
import gc
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
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, PR_SET_CHILD_SUBREAPER, PR_SET_PDEATHSIG = 38, 22, 2, 36, 1
MNT_DETACH = 2
SYS_CLONE = 56  # x86_64
libc.syscall.restype = ctypes.c_long
SETUP_FAILED = 121


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
    for d in ("dev", "proc", "work", "tmp", "old"):
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
    stderr = io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(2, "w", closefd=False)),
        encoding="utf-8",
        errors="backslashreplace",
        line_buffering=True,
    )
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
    stdin, stdout, stderr, payload, status, netns = fds[:6]
    try:
        check(libc.setns(netns, CLONE_NEWNET), "setns(slot network namespace)")
        os.close(netns)
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
        gc.enable()
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


FD_SIZE = array.array("i").itemsize
MAX_FDS = 16


def recv_request(sock: socket.socket) -> tuple[dict[str, Any], list[int]] | None:
    """One header + fds message; None when the peer closed the socket."""
    msg, ancdata, _flags, _addr = sock.recvmsg(1 << 16, socket.CMSG_SPACE(MAX_FDS * FD_SIZE))
    fds = array.array("i")
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % FD_SIZE)])
    if not msg:
        for fd in fds:
            os.close(fd)
        return None
    return json.loads(msg), list(fds)


def send_request(sock: socket.socket, h: dict[str, Any], fds: list[int]) -> None:
    sock.sendmsg([json.dumps(h).encode()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())])


def namespace_init(ctrl: socket.socket, bpf: bytes) -> NoReturn:
    """P1: pid 1 of a warm chain's fresh namespaces. Prepared ahead of any job; used for exactly one.

    Before a job: mounts /proc (read-only /proc/sys), pre-forks P2 and waits. On the job:
    moves P2 into the slot's cgroups, mounts the job's tmpfs /work and /tmp,
    hands the job to P2, then reaps until P2 exits, reports, and exits (which kills
    everything left in the pid namespace).
    """
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        bind_ro("/proc/sys", "/proc/sys", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        socket.sethostname("sandbox")
        to_child, from_parent = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        child = os.fork()
    except BaseException:
        os._exit(SETUP_FAILED)
    if child == 0:
        ctrl.close()
        to_child.close()
        request = recv_request(from_parent)
        if request is None:
            os._exit(0)
        from_parent.close()
        user_process(request[0], request[1], bpf)
    from_parent.close()
    request = recv_request(ctrl)
    if request is None:
        os._exit(0)  # the zygote went away before using this chain
    ctrl.close()
    h, fds = request
    status = fds[4]
    try:
        for fd in fds[6:]:
            # Only P2 joins (by its pid in this namespace): its whole tree is the job. P1 stays
            # outside, so the limits count only the program and each write is one migration.
            os.write(fd, str(child).encode())
            os.close(fd)
        opts = f"size={h['workdir_bytes']},nr_inodes={h['inodes']},uid={h['uid']},gid={h['gid']}"
        mount("tmpfs", "/work", "tmpfs", MS_NOSUID | MS_NODEV, opts + ",mode=0700")
        mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, opts + ",mode=1777")
        send_request(to_child, h, fds[:6])
    except BaseException as exc:
        report(status, error=f"sandbox setup failed in the namespace init: {exc!r}")
        os._exit(SETUP_FAILED)
    to_child.close()
    for fd in (*fds[:4], fds[5]):
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


def clone_into_namespaces() -> int:
    """fork() that also creates the chain's namespaces: the child is pid 1 of a new pid namespace.

    A raw clone(2) saves the intermediate process that unshare + fork would need (a fork
    costs ~0.6 ms here). No CLONE_NEWNET: P2 joins its slot's network namespace (_netns.py).
    Like os.fork, the child then runs CPython's after-fork hooks.
    """
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP | signal.SIGCHLD
    ctypes.pythonapi.PyOS_BeforeFork()
    pid = libc.syscall(SYS_CLONE, flags, 0, None, None, 0)
    if pid == 0:
        ctypes.pythonapi.PyOS_AfterFork_Child()
    else:
        ctypes.pythonapi.PyOS_AfterFork_Parent()
    if pid < 0:
        check(-1, "clone")
    return int(pid)


def make_chain(bpf: bytes) -> socket.socket:
    """Create fresh namespaces with their init P1; returns P1's control socket."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    if clone_into_namespaces() == 0:
        ours.close()
        namespace_init(theirs, bpf)
    theirs.close()
    return ours


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
    "threading",
    "atexit",
)


def serve(sock: socket.socket) -> None:
    """Hand each request to a warm chain; refill chains only while no request is waiting."""
    import select

    setup = json.loads(sock.recv(1 << 20))
    try:
        build_root(setup["root"], setup["mounts"])
        for name in PRELOAD:
            __import__(name)
        bpf = bytes.fromhex(setup["seccomp_hex"])
        warm = int(setup.get("warm", 2))
        # Children must not walk (and so copy-on-write) the zygote's objects: freeze them out of
        # the collector, and collect nothing in the zygote and its helpers; P2 turns GC back on.
        gc.collect()
        gc.freeze()
        gc.disable()
    except BaseException as exc:
        sock.send(f"error: {exc!r}".encode())
        return
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # auto-reap spawners and orphaned inits
    chains = [make_chain(bpf) for _ in range(warm)]
    sock.send(b"ready")
    while True:
        while len(chains) < warm and not select.select([sock], [], [], 0)[0]:
            chains.append(make_chain(bpf))
        request = recv_request(sock)
        if request is None:
            # The host closed the socket: close idle chains (their inits see EOF and exit) and
            # wait until every child is gone, so none is left for the host's init to reap.
            for chain in chains:
                chain.close()
            try:
                os.waitpid(-1, 0)  # with SIGCHLD ignored: blocks until no child remains
            except ChildProcessError:
                pass
            return
        h, fds = request
        chain = chains.pop(0) if chains else make_chain(bpf)
        try:
            send_request(chain, h, fds)
        except BaseException as exc:
            if len(fds) > 4:
                report(fds[4], error=f"fork server could not start the run: {exc!r}")
        finally:
            chain.close()
            for fd in fds:
                os.close(fd)


if __name__ == "__main__":
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    serve(socket.socket(fileno=0))
