# mypy: ignore-errors
# ruff: noqa: UP031
# (runs inside the sandbox on the system Python, stdlib only; loaded into the fork server's zygote at setup)
"""A session's interpreter: the run process of a fork-server chain that serves cells instead of one job.

The zygote hands a session header to a warm chain like a job (see _zygote.py); `enter` then
does, as root, what a job's run process does (cgroups, fresh tmpfs /work, /tmp and /dev/shm,
rlimits, the session's uid) plus two things of its own: a fresh network namespace of the
session's own instead of a slot's, and the *session* seccomp filter, loaded with a
user-notification listener that goes to the host before any user code runs. From then on
it is the session (S): it serves the host's frames on its ctrl socket (session_protocol.py).

Cells. Python cells run in one `__main__` namespace, so variables, imports and the working
directory persist; a cell that raises keeps the state and reports the error; the wall and
CPU limits arm timers whose handler raises `CellTimeout` into the cell (state kept). A cell
that ignores that (a long C call, a handler of its own) is killed by the host, which then
reports the session lost. Bash cells run one `bash` per cell, started with the working
directory, exported and shell variables and functions the previous cell left (dumped by an EXIT trap
on fd 3); a runaway bash cell is killed alone and the state before it is kept.
Output goes straight to fd 1 and 2, pipes the host reads and caps.

Forks. `fork n` forks n children. Each child leaves every namespace behind with one
unshare(2) (user, mount, pid, ipc, net, uts: the only unshare the session filter lets through,
and only after the host agreed through the listener), spawns sandbox-reaper as pid 1 of its
new pid namespace and forks the copy (G) as pid 2, then exits. G says hello on its own ctrl;
the host (keeper) mounts fresh copies of /work, /tmp and /dev/shm and a new /proc over its
inherited ones and moves it into its own cgroup; on "go" G re-opens every file it holds on
its own copies, replaces pipes and sockets it inherited with /dev/null, gives shared memory
mappings copies of their own, drops every capability its user namespace gave it and says
ready. The host then verifies all of that from outside before the copy serves a cell, so
nothing here is trusted: user code ran in this process before.
"""

import ast
import ctypes
import linecache
import marshal
import os
import resource
import select
import signal
import socket
import stat
import sys
import time
import traceback
import types

import session_protocol as proto

libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
libc.syscall.restype = ctypes.c_long

MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
MNT_DETACH = 2
PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 38, 24, 47, 4
SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER = 1, 8
SYS_SECCOMP = {"x86_64": 317, "aarch64": 277}
PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
MAP_SHARED, MAP_FIXED, MAP_ANONYMOUS = 1, 0x10, 0x20
CAP_V3 = 0x20080522
#: Where a fork's files are copies of its own (the host mounted them); fds there are re-opened.
PRIVATE_MOUNTS = ("/work/", "/tmp/", "/dev/shm/")
BASH = "/bin/bash"


def enter(header, fds, setup_error, z):
    """R becomes a session (never returns). `z` holds the zygote's globals: its mount helpers and prepared state.

    fds: [ctrl, stdout, stderr, payload, status, *cgroup.procs]. As in a job, a failure
    before user code is reported on the status pipe and the process exits SETUP_FAILED.
    """
    ctrl, out_w, err_w, payload, status = fds[:5]
    try:
        if setup_error is not None:
            raise setup_error
        h = marshal.loads(header)
        for fd in fds[5:]:
            os.write(fd, b"0")  # join the session's cgroups: from here on, this process tree is the session
            os.close(fd)
        # Forks mount a /proc of their own; the kernel allows that only where the /proc
        # they inherit has nothing mounted inside it. /proc/sys is root's to write anyway.
        z.libc.umount2(b"/proc/sys", MNT_DETACH)
        owner = "nr_inodes=%d,uid=%d,gid=%d" % (h["inodes"], h["uid"], h["gid"])
        z.mount("tmpfs", "/work", "tmpfs", MS_NOSUID | MS_NODEV, "size=%d,%s,mode=0700" % (h["workdir_bytes"], owner))
        z.mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=%d,%s,mode=1777" % (h["tmp_bytes"], owner))
        shm = "size=%d,%s,mode=1777" % (h["tmp_bytes"], owner)
        z.mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, shm)
        z.check(z.libc.unshare(proto.CLONE_NEWNET), "unshare(network)")  # empty, loopback down, the session's own
        os.setsid()
        for sig in (signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_IGN)
        for which, value in h["rlimits"]:
            resource.setrlimit(which, (value, value + 1 if which == resource.RLIMIT_CPU else value))
        os.setgroups([])
        os.setresgid(h["gid"], h["gid"], h["gid"])
        os.setresuid(h["uid"], h["uid"], h["uid"])
        os.chdir("/work")
        z.check(z.libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
        listener = z.libc.syscall(
            SYS_SECCOMP[os.uname().machine],
            SECCOMP_SET_MODE_FILTER,
            SECCOMP_FILTER_FLAG_NEW_LISTENER,
            z.SESSION_SECCOMP.ref,
        )
        if listener < 0:
            z.check(-1, "seccomp(session filter)")
        job = marshal.loads(z.read_all(payload))
        for rel, content in job["files"].items():
            parent = os.path.dirname(rel)
            if parent:
                os.makedirs(parent, exist_ok=True)
            z.write_file(rel, content)
        null = os.open("/dev/null", os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        keep = sorted({ctrl, listener, status})
        os.closerange(3, keep[0])
        for low, high in zip(keep, [*keep[1:], z.MAX_FD]):  # noqa: B905
            os.closerange(low + 1, high)
        os.set_inheritable(ctrl, False)
        os.set_inheritable(listener, False)
        z.set_environment(job["env"])
        os.umask(0o022)
        stdin, stdout, stderr = z.JOB_STREAMS
        sys.stdin = sys.__stdin__ = stdin
        sys.stdout = sys.__stdout__ = stdout
        sys.stderr = sys.__stderr__ = stderr
        sys.argv = [""]
        sys.path.insert(0, "")
        sys.path[1:1] = [p for p in os.environ.get("PYTHONPATH", "").split(":") if p]  # as python3 would place them
        import gc

        gc.enable()
        sock = socket.socket(fileno=ctrl)
        session = Session(sock, job["language"], job["env"])
    except BaseException as exc:
        z.report(status, error="sandbox setup failed in the session process: %r" % (exc,))
        os._exit(z.SETUP_FAILED)
    os.close(status)
    try:
        proto.send(sock, {"op": "hello", "pid": os.getpid(), "language": session.language}, [listener])
    except OSError:
        os._exit(0)
    os.close(listener)
    session.serve()


class CellTimeout(BaseException):
    """Raised into a cell by the wall or CPU timer; BaseException so `except Exception` in user code misses it."""


class Session:
    def __init__(self, ctrl, language, env):
        self.ctrl, self.language = ctrl, language
        self.reader = proto.FrameReader()
        self.env = env
        self.python = PythonCells() if language == "python" else None
        self.bash = BashCells(env) if language == "bash" else None

    def serve(self):
        while True:
            try:
                frame = proto.recv(self.ctrl, self.reader)
            except (OSError, proto.ProtocolError):
                os._exit(0)
            if frame is None:
                os._exit(0)  # the host closed the session
            message, fds = frame
            for fd in fds:
                os.set_inheritable(fd, False)
            try:
                reply = self.dispatch(message, fds)
            except Exception as exc:
                for fd in fds:
                    _close(fd)
                reply = {"op": "error", "error": _line(exc)}
            if reply is not None:
                try:
                    proto.send(self.ctrl, reply)
                except OSError:
                    os._exit(0)

    def dispatch(self, message, fds):
        op = message["op"]
        if op == "run":
            timeout_s, cpu_s = float(message.get("timeout_s", 30.0)), float(message.get("cpu_s", 30.0))
            if message.get("language") == "bash" and self.bash is None:
                self.bash = BashCells(self.env)  # shell cells in a Python session: same files, own shell state
            cells = self.bash if message.get("language") == "bash" else (self.python or self.bash)
            if cells is None:
                raise ValueError("a bash session runs bash cells only")
            return cells.run(str(message.get("code", "")), timeout_s, cpu_s)
        if op == "fork":
            return self.fork(int(message["count"]), fds)
        if op == "attach":
            return self.attach(message, fds)
        raise ValueError("unknown op %r" % op)

    # -- fork ---------------------------------------------------------------------------------

    def fork(self, count, fds):
        if count < 1 or len(fds) != 3 * count:
            raise ValueError("fork of %d copies needs %d fds, got %d" % (count, 3 * count, len(fds)))
        groups = [fds[3 * i : 3 * i + 3] for i in range(count)]
        children, error = [], ""
        for group in groups:
            try:
                pid = os.fork()
            except OSError as exc:
                error = "fork failed: %s" % exc
                break
            if pid == 0:
                self.become_copy(group, fds)
                return None  # only the copy gets here, talking on its own ctrl now
            children.append(pid)
        for fd in fds:
            _close(fd)
        failed = 0
        for pid in children:
            _, status = os.waitpid(pid, 0)
            if status != 0:
                failed += 1
        if failed and not error:
            error = "%d of %d copies failed to start" % (failed, count)
        return {"op": "forked", "count": len(children) - failed, "error": error}

    def become_copy(self, group, all_fds):
        """In the fork child: new namespaces, the reaper as pid 1, the copy as pid 2; returns only in the copy."""
        ctrl, out_w, err_w = group
        try:
            for fd in all_fds:
                if fd not in group:
                    _close(fd)
            sock = socket.socket(fileno=ctrl)
            if libc.unshare(proto.FORK_UNSHARE_FLAGS) != 0:
                raise OSError(ctypes.get_errno(), "unshare: %s" % os.strerror(ctypes.get_errno()))
            os.posix_spawn(proto.REAPER_PATH, ["sandbox-reaper"], {})
            if os.fork() != 0:
                os._exit(0)
        except BaseException as exc:
            try:
                proto.send(socket.socket(fileno=ctrl), {"op": "failed", "error": "fork: " + _line(exc)})
            finally:
                os._exit(1)
        self.ctrl, self.reader = sock, proto.FrameReader()
        try:
            proto.send(sock, {"op": "hello", "pid": os.getpid(), "language": self.language})
            frame = proto.recv(sock, self.reader)
            if frame is None or frame[0].get("op") != "go":
                os._exit(0)
            detach_from_parent(ctrl, out_w, err_w)
        except BaseException as exc:
            try:
                proto.send(sock, {"op": "failed", "error": _line(exc)})
            finally:
                os._exit(1)
        proto.send(sock, {"op": "ready"})

    # -- attach -------------------------------------------------------------------------------

    def attach(self, message, fds):
        """Hand the namespace to host-supplied code for good (a throwaway copy being scored)."""
        if len(fds) != 1:
            raise ValueError("attach needs exactly one fd")
        module = types.ModuleType("_session_attached")
        exec(compile(str(message["module"]), "<session attach>", "exec", dont_inherit=True), module.__dict__)
        entry = module.__dict__[str(message["entry"])]
        proto.send(self.ctrl, {"op": "attached"})
        namespace = self.python.namespace if self.python is not None else {}
        try:
            entry(namespace, fds[0], message.get("args"))
        finally:
            os._exit(0)


# ---------------------------------------------------------------------------------------------
# Python cells
# ---------------------------------------------------------------------------------------------


class PythonCells:
    def __init__(self):
        main = types.ModuleType("__main__")
        main.__builtins__ = __builtins__
        sys.modules["__main__"] = main
        self.namespace = main.__dict__
        self.count = 0
        self.armed = False

    def _expire(self, signum, frame):
        if self.armed:
            self.armed = False
            raise CellTimeout("cpu" if signum == signal.SIGPROF else "wall")

    def run(self, code, timeout_s, cpu_s):
        self.count += 1
        name = "<cell %d>" % self.count
        reply = {"op": "done", "status": proto.OK, "error": "", "result": ""}
        started = _cpu()
        try:
            body, last = _compile_cell(code, name)
        except SyntaxError as exc:
            sys.stderr.write("".join(traceback.format_exception_only(type(exc), exc)))
            reply.update(status=proto.ERROR, error=_line(exc))
            return _finish(reply, started)
        linecache.cache[name] = (len(code), None, code.splitlines(True), name)
        for sig in (signal.SIGALRM, signal.SIGPROF):
            signal.signal(sig, self._expire)
        try:
            self.armed = True
            signal.setitimer(signal.ITIMER_REAL, max(timeout_s, 0.001))
            signal.setitimer(signal.ITIMER_PROF, max(cpu_s, 0.001))
            exec(body, self.namespace)
            if last is not None:
                value = eval(last, self.namespace)
                if value is not None:
                    self.namespace["_"] = value
                    reply["result"] = _repr(value)
        except CellTimeout as exc:
            reply.update(status=proto.TIMEOUT, error="cell exceeded its %s time limit" % exc.args[0])
        except SystemExit as exc:
            if exc.code not in (None, 0):
                reply.update(status=proto.ERROR, error="SystemExit: %s" % (exc.code,))
        except BaseException as exc:
            tb = exc.__traceback__
            try:
                traceback.print_exception(type(exc), exc, tb.tb_next if tb is not None else None)
            except BaseException:
                pass
            reply.update(status=proto.ERROR, error=_line(exc))
        finally:
            self.armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.setitimer(signal.ITIMER_PROF, 0)
        return _finish(reply, started)


def _compile_cell(code, name):
    """(body, last): the cell, with a trailing expression split off so its value can be shown."""
    tree = ast.parse(code, name, "exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = compile(ast.Expression(tree.body.pop().value), name, "eval", dont_inherit=True)
    return compile(tree, name, "exec", dont_inherit=True), last


def _repr(value):
    try:
        text = repr(value)
    except CellTimeout:
        raise
    except BaseException as exc:
        return "<repr failed: %s>" % _line(exc)
    if len(text) > proto.MAX_RESULT_CHARS:
        text = text[: proto.MAX_RESULT_CHARS] + "... [%d more chars]" % (len(text) - proto.MAX_RESULT_CHARS)
    return text


def _finish(reply, started):
    for stream in {sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__}:
        try:
            stream.flush()
        except BaseException:
            pass
    reply["cpu_s"] = round(_cpu() - started, 6)
    return reply


def _cpu():
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


# ---------------------------------------------------------------------------------------------
# Bash cells
# ---------------------------------------------------------------------------------------------

#: Sourced by each cell's bash before the cell (through BASH_ENV): restores the working
#: directory and functions, and arms the EXIT trap that dumps the state for the next cell.
BASH_PROLOGUE = r"""unset BASH_ENV
cd -- %(cwd)s 2>/dev/null || cd /work
%(variables)s
%(functions)s
__session_dump() {
  local __session_status=$? IFS=$' \t\n' __n
  trap - EXIT
  unset -f __session_dump
  { builtin printf '%%s\0' "$PWD"
    for __n in $(builtin compgen -e); do builtin printf '%%s=%%s\0' "$__n" "${!__n}"; done
    builtin printf '\0'
    for __n in $(builtin compgen -v); do
      case "$__n" in BASH*|COMP*|HIST*|FUNCNAME|GROUPS|DIRSTACK|PIPESTATUS|EUID|UID|PPID|SHELLOPTS|\
        LINENO|RANDOM|SRANDOM|SECONDS|EPOCH*|OPTARG|OPTIND|OPTERR|IFS|PS[0-9]|HOSTNAME|HOSTTYPE|MACHTYPE|\
        OSTYPE|SHLVL|PWD|OLDPWD|_|__*) continue;; esac
      [[ -v "$__n" && ! ${__n@a} == *x* ]] && builtin declare -p "$__n"
    done
    builtin printf '\0'; builtin declare -f; } >&3 2>/dev/null
  return $__session_status
}
trap __session_dump EXIT
"""
#: Bash variables the shell sets itself; not part of the state a cell leaves.
BASH_OWN = frozenset({"SHLVL", "_", "PWD", "BASH_ENV"})


class BashCells:
    def __init__(self, env):
        self.env = {k: v for k, v in env.items() if k not in BASH_OWN}
        self.cwd = "/work"
        self.variables = ""
        self.functions = ""

    def run(self, code, timeout_s, cpu_s):
        reply = {"op": "done", "status": proto.OK, "error": "", "result": ""}
        started = _cpu()
        if len(code.encode()) > 120 * 1024:
            reply.update(status=proto.ERROR, error="a bash cell is limited to 120 KiB (one argv string)")
            return _finish(reply, started)
        prologue = os.memfd_create("session-prologue", 0)
        dump_r, dump_w = os.pipe()
        try:
            quoted_cwd = "'" + self.cwd.replace("'", "'\\''") + "'"
            text = BASH_PROLOGUE % {"cwd": quoted_cwd, "variables": self.variables, "functions": self.functions}
            os.write(prologue, text.encode("utf-8", "surrogateescape"))
            os.lseek(prologue, 0, os.SEEK_SET)
            env = dict(self.env, BASH_ENV="/dev/fd/4")
            pid = os.posix_spawn(
                BASH,
                [BASH, "--noprofile", "--norc", "-c", code],
                env,
                file_actions=[(os.POSIX_SPAWN_DUP2, dump_w, 3), (os.POSIX_SPAWN_DUP2, prologue, 4)],
                setsid=True,
                setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
            )
        finally:
            os.close(dump_w)
            os.close(prologue)
        try:
            dump, code_or_none = _wait_bash(pid, dump_r, timeout_s)
        finally:
            os.close(dump_r)
        if code_or_none is None:
            reply.update(status=proto.TIMEOUT, error="cell exceeded its time limit; the shell state before it is kept")
            return _finish(reply, started)
        self._load(dump)
        if code_or_none != 0:
            reply.update(status=proto.ERROR, error="exit status %d" % code_or_none)
        return _finish(reply, started)

    def _load(self, dump):
        """Take the state the EXIT trap dumped: cwd NUL, NAME=value NUL..., NUL, `declare -p` lines NUL, functions."""
        head, sep, rest = dump.partition(b"\0\0")
        variables, sep2, functions = rest.partition(b"\0")
        if not sep or not sep2:
            return  # the trap did not run to the end (replaced, or fd 3 closed): keep the old state
        entries = head.split(b"\0")
        cwd, env = entries[0].decode("utf-8", "surrogateescape"), {}
        for entry in entries[1:]:
            name, eq, value = entry.partition(b"=")
            if eq and name:
                env[name.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        self.cwd = cwd or self.cwd
        self.env = {k: v for k, v in env.items() if k not in BASH_OWN}
        self.variables = variables.decode("utf-8", "surrogateescape")
        self.functions = functions.decode("utf-8", "surrogateescape")


def _wait_bash(pid, dump_r, limit_s):
    """(dump bytes, exit code) once bash exits, or (b"", None) after killing its group at `limit_s`."""
    deadline = time.monotonic() + limit_s
    pidfd = os.pidfd_open(pid)
    os.set_blocking(dump_r, False)
    chunks, exited = [], False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready = select.select([pidfd, dump_r], [], [], left)[0]
            if dump_r in ready:
                _drain(dump_r, chunks)
            if pidfd in ready:
                exited = True
                break
    finally:
        os.close(pidfd)
    if not exited:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        os.waitpid(pid, 0)
        return b"", None
    _, status = os.waitpid(pid, 0)
    _drain(dump_r, chunks)
    return b"".join(chunks), os.waitstatus_to_exitcode(status)


def _drain(fd, chunks):
    while True:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        if not data:
            return
        chunks.append(data)


# ---------------------------------------------------------------------------------------------
# A fork's copy leaving its parent behind (after the host mounted its own file systems)
# ---------------------------------------------------------------------------------------------


def detach_from_parent(ctrl, out_w, err_w):
    """Keep nothing that still reaches the parent or a sibling: fds, shared memory, cwd, capabilities."""
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    for fd in (out_w, err_w):
        if fd > 2:
            os.close(fd)
    keep = {1, 2, ctrl}
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            _reopen(fd)
    _unshare_mappings()
    try:
        os.chdir(os.getcwd())  # the same path, now on our own /work
    except OSError:
        os.chdir("/work")
    _drop_capabilities()


def _reopen(fd):
    """Point `fd` at our own copy of what it referred to (same flags and offset), or at /dev/null."""
    try:
        target = os.readlink("/proc/self/fd/%d" % fd)
        st = os.fstat(fd)
    except OSError:
        return  # closed meanwhile (the listdir fd itself)
    flags, pos = _fdinfo(fd)
    cloexec = bool(flags & os.O_CLOEXEC)
    reopen_flags = flags & ~(os.O_CLOEXEC | os.O_CREAT | os.O_EXCL | os.O_TRUNC)
    new = -1
    if (
        (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode) or stat.S_ISCHR(st.st_mode))
        and not target.endswith(" (deleted)")
        and target.startswith("/")
    ):
        try:
            new = os.open(target, reopen_flags)
        except OSError:
            new = -1
    if new < 0 and stat.S_ISREG(st.st_mode):
        new = _copy_to_memfd(fd)
    if new < 0:
        new = os.open("/dev/null", os.O_RDWR)
    if stat.S_ISREG(st.st_mode) and pos:
        try:
            os.lseek(new, pos, os.SEEK_SET)
        except OSError:
            pass
    os.dup2(new, fd, inheritable=not cloexec)
    os.close(new)


def _fdinfo(fd):
    flags, pos = 0, 0
    try:
        with open("/proc/self/fdinfo/%d" % fd) as info:
            for line in info:
                key, _, value = line.partition(":")
                if key == "flags":
                    flags = int(value.strip(), 8)
                elif key == "pos":
                    pos = int(value.strip())
    except (OSError, ValueError):
        pass
    return flags, pos


def _copy_to_memfd(fd):
    """A private copy of a file we cannot re-open by path (deleted, a memfd): its bytes in a new memfd."""
    try:
        new = os.memfd_create("session-copy", 0)
        offset = 0
        while True:
            data = os.pread(fd, 1 << 20, offset)
            if not data:
                break
            os.write(new, data)
            offset += len(data)
        return new
    except OSError:
        return -1


def _unshare_mappings():
    """Shared mappings of the parent's files or shared memory become mappings of our own copies."""
    with open("/proc/self/maps") as maps:
        lines = maps.read().splitlines()
    for line in lines:
        parts = line.split(None, 5)
        if len(parts) < 5 or parts[1][3] != "s":
            continue
        start, end = (int(x, 16) for x in parts[0].split("-"))
        perms, offset, path = parts[1], int(parts[2], 16), parts[5] if len(parts) > 5 else ""
        prot = (PROT_READ if perms[0] == "r" else 0) | (PROT_WRITE if perms[1] == "w" else 0)
        prot |= PROT_EXEC if perms[2] == "x" else 0
        if path.startswith(PRIVATE_MOUNTS) and not path.endswith(" (deleted)"):
            fd = os.open(path, os.O_RDWR if perms[1] == "w" else os.O_RDONLY)
            try:
                _mmap(start, end - start, prot, MAP_SHARED | MAP_FIXED, fd, offset)
            finally:
                os.close(fd)
        elif not path.startswith("/") or path.endswith(" (deleted)") or path.startswith(("/memfd:", "/SYSV")):
            _copy_mapping(start, end - start, prot)


def _copy_mapping(addr, length, prot):
    if not prot & PROT_READ:
        libc.mprotect(addr, length, PROT_READ)
    data = ctypes.string_at(addr, length)
    _mmap(addr, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0)
    ctypes.memmove(addr, data, length)
    libc.mprotect(addr, length, prot)


def _mmap(addr, length, prot, flags, fd, offset):
    got = libc.mmap(addr, length, prot, flags, fd, offset)
    if got is None or got == ctypes.c_void_p(-1).value:
        err = ctypes.get_errno()
        raise OSError(err, "remapping a shared mapping: %s" % os.strerror(err))


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _drop_capabilities():
    """The capabilities unshare(CLONE_NEWUSER) gave this process (over its own namespaces): all of them, for good."""
    for cap in range(64):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # EINVAL past the last capability: fine
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header, data = _CapHeader(CAP_V3, 0), (_CapData * 2)()
    if libc.capset(ctypes.byref(header), data) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "capset: %s" % os.strerror(err))


def _close(fd):
    try:
        os.close(fd)
    except OSError:
        pass


def _line(exc):
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()
    line = text[-1] if text else type(exc).__name__
    return line[: proto.MAX_ERROR_CHARS]
