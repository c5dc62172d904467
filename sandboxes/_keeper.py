# mypy: ignore-errors
# ruff: noqa: UP031, B905
"""The session keeper: root work on a session fork's namespaces, from outside them.

Runs as a standalone script under the sandbox's Python (stdlib only) as host root, in the
host's namespaces, started once by the host side (sessions.py); the host imports this module
too, for the constants of the protocol below. Nothing in here runs user code. A fork's copy
(see _session_runtime.py) made its own user, mount, pid, ipc, net and uts namespaces, but it
is unprivileged outside them and its seccomp filter refuses mount: everything that needs
privilege over those namespaces happens here, and everything the host must trust about a
copy is checked here, from /proc, never taken from the copy's word.

Protocol on fd 0 (SOCK_SEQPACKET): the first message is the JSON setup
(``{"seccomp_hex": the run filter}``), answered ``ready``. Then each request is one JSON
object ``{"id", "op", ...}`` (fds as SCM_RIGHTS) answered by one ``{"id", "ok", ...}``
(``ok`` false: ``error`` says why), in any order:

``adopt``   ``pid`` (the copy, host pid), ``parent`` (its parent session's interpreter),
            ``uid``, ``gid``, ``work_bytes``, ``tmp_bytes``, ``inodes``, ``judge_gid`` (int or
            null: a copy made to be scored gets /work readable by that group). Checks that
            every namespace of the copy is new and that it is pid 2 of its pid namespace,
            maps the session's uid and gid into its user namespace, mounts over /work, /tmp
            and /dev/shm fresh tmpfs copies of the parent's (populated while still detached,
            so the copy never sees them half-made) and a new /proc. Answer: ``reaper`` (host
            pid of the copy's pid 1).
``verify``  ``pid``, ``parent``, ``reaper``, ``uid``, ``gid``, ``sockets`` and ``pipes``
            (inode numbers the copy may hold: its ctrl socket, its output pipes), ``batch``
            (the fork request: what is read of the parent is read once per batch). Checks
            that the copy, after it detached itself, keeps nothing of its parent.
``parent_clean``  ``pid`` (a session that just forked), ``inodes``: it holds none of them
            (the copies' ctrl sockets and pipes, which it had to pass on).
``spawn``   ``pid`` (a copy), ``uid``, ``gid``, ``argv``, ``env``, ``rlimits``; fds
            [stdin, stdout, stderr, extra, status, *cgroup.procs]: starts a program in the
            copy's mount, pid, net, ipc and uts namespaces and cgroup, but *not* its user
            namespace, as ``uid``/``gid`` under the run seccomp filter, with those fds as
            0-3. Answer: ``child`` (host pid). When the program ends, one JSON line goes to
            ``status``: ``{"exit_code": n}`` or ``{"signal": n}``.
"""

import contextlib
import ctypes
import fcntl
import json
import os
import resource
import socket
import stat
import struct
import time

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = (
    0x00020000,
    0x04000000,
    0x08000000,
    0x20000000,
    0x40000000,
)
NAMESPACES = ("user", "mnt", "pid", "net", "ipc", "uts")
NS_GET_TGID_FROM_PIDNS = 0x8004B707  # _IOR(0xb7, 0x7, int): translate a pid of that namespace into ours
SYSCALLS = {  # x86_64, aarch64
    "x86_64": {"move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432},
    "aarch64": {"move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432},
}[os.uname().machine]
FSCONFIG_SET_STRING, FSCONFIG_SET_FD, FSCONFIG_CMD_CREATE = 1, 5, 6
MOUNT_ATTR_NOSUID, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC = 0x2, 0x4, 0x8
MOVE_MOUNT_F_EMPTY_PATH = 0x4
AT_FDCWD = -100
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, PR_SET_PDEATHSIG = 38, 22, 2, 1
MAX_FD = 1 << 16
#: Where a session's private file systems live (mounted by the session's run process, and by us for copies).
PRIVATE = (("work", "/work", 0o700, 0), ("tmp", "/tmp", 0o1777, 0), ("dev/shm", "/dev/shm", 0o1777, MOUNT_ATTR_NOEXEC))


#: Our own mount namespace, to return to after attaching mounts in a copy's.
OWN_MNT_NS = -1


class Refused(Exception):
    """The copy is not what the host asked for: it must not be used."""


def check(rc, what):
    if rc < 0:
        err = ctypes.get_errno()
        raise OSError(err, "%s: %s" % (what, os.strerror(err)))
    return rc


# ---------------------------------------------------------------------------------------------
# reading a process from /proc
# ---------------------------------------------------------------------------------------------


def status(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.split()
    return fields


def ns_inodes(pid):
    return {name: os.stat("/proc/%d/ns/%s" % (pid, name)).st_ino for name in NAMESPACES}


def private_devs(pid):
    """st_dev of the process's /work, /tmp and /dev/shm."""
    return {os.stat("/proc/%d/root/%s" % (pid, rel)).st_dev for rel, _, _, _ in PRIVATE}


def fd_stats(pid):
    base = "/proc/%d/fd" % pid
    found = []
    for name in os.listdir(base):
        with contextlib.suppress(OSError):
            found.append((int(name), os.stat("%s/%s" % (base, name))))
    return found


def shared_maps(pid):
    """(perms, dev, inode, path) of each shared mapping."""
    found = []
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) >= 5 and parts[1][3] == "s":
                major, minor = (int(x, 16) for x in parts[3].split(":"))
                found.append(
                    (parts[1], os.makedev(major, minor), int(parts[4]), parts[5].strip() if len(parts) > 5 else "")
                )
    return found


def shm_dev():
    """The device of the kernel's internal shmem mount: memfds, shared anonymous memory, SysV segments."""
    fd = os.memfd_create("keeper-probe", 0)
    try:
        return os.fstat(fd).st_dev
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------
# adopt: namespaces checked, ids mapped, private file systems mounted
# ---------------------------------------------------------------------------------------------


def adopt(req):
    pid, parent = int(req["pid"]), int(req["parent"])
    mine, theirs = ns_inodes(pid), ns_inodes(parent)
    same = [name for name in NAMESPACES if mine[name] == theirs[name]]
    if same:
        raise Refused("the copy shares its parent's %s namespace" % ", ".join(same))
    st = status(pid)
    if st["NSpid"][-1] != "2" or int(st["Uid"][0]) != req["uid"]:
        raise Refused(
            "pid %d is not a new copy (pid %s in its namespace, uid %s)" % (pid, st["NSpid"][-1], st["Uid"][0])
        )
    map_ids(pid, parent, req["uid"], req["gid"])
    mount_private(req, pid, parent)
    with open("/proc/%d/ns/pid" % pid) as ns:
        reaper = fcntl.ioctl(ns.fileno(), NS_GET_TGID_FROM_PIDNS, 1)
    return {"reaper": reaper}


def map_ids(pid, parent, uid, gid):
    """Map the session's uid and gid (and only them) into the copy's user namespace, one to one.

    The kernel takes a map only from a process in the namespace's parent: for a fork of a fork
    that is the parent copy's namespace, which a helper joins (this process never leaves ours).
    """

    def write():
        for name, ident in (("uid_map", uid), ("gid_map", gid)):
            with open("/proc/%d/%s" % (pid, name), "w") as f:
                f.write("%d %d 1" % (ident, ident))

    try:
        if os.stat("/proc/%d/ns/user" % parent).st_ino == os.stat("/proc/self/ns/user").st_ino:
            write()
        else:
            in_child(lambda: (check(libc.setns(os.open("/proc/%d/ns/user" % parent, os.O_RDONLY), 0), "setns(user)"),
                              write()))  # fmt: skip
    except OSError as exc:
        raise Refused("cannot map the copy's ids: %s" % exc) from None


def in_child(work):
    """Run `work` in a forked child (for what must not change this process); raise what it raised."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read_end)
        try:
            work()
            os._exit(0)
        except BaseException as exc:
            with contextlib.suppress(BaseException):
                os.write(write_end, str(exc).encode()[:4000])
            os._exit(1)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as f:
        message = f.read()
    _, wstatus = os.waitpid(child, 0)
    if wstatus != 0:
        raise OSError(message.decode("utf-8", "replace") or "helper ended with status %d" % wstatus)


def mount_private(req, pid, parent):
    """Each tmpfs built detached and filled from the parent, a /proc for the copy's pid namespace, all attached."""
    mounts = []
    for rel, _, mode, attrs in PRIVATE:
        source = os.open("/proc/%d/root/%s" % (parent, rel), os.O_RDONLY | os.O_DIRECTORY)
        size = req["work_bytes"] if rel == "work" else req["tmp_bytes"]
        group = req["gid"]
        if rel == "work" and req.get("judge_gid") is not None:
            mode, group = 0o750, req["judge_gid"]
        options = {
            "size": str(size),
            "nr_inodes": str(req["inodes"]),
            "mode": "%o" % mode,
            "uid": str(req["uid"]),
            "gid": str(group),
        }
        mount_fd = detached_mount("tmpfs", options, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | attrs)
        mounts.append(mount_fd)
        try:
            copy_tree(source, mount_fd, req["uid"], req["gid"])
        finally:
            os.close(source)
    with open("/proc/%d/ns/pid" % pid) as pidns:
        mounts.append(
            detached_mount("proc", {}, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, pidns.fileno())
        )
    targets = [path for _, path, _, _ in PRIVATE] + ["/proc"]
    mntns = os.open("/proc/%d/ns/mnt" % pid, os.O_RDONLY)
    try:
        check(libc.setns(mntns, CLONE_NEWNS), "setns(mount)")
        try:
            for path, mount_fd in zip(targets, mounts):
                args = (mount_fd, b"", AT_FDCWD, path.encode(), MOVE_MOUNT_F_EMPTY_PATH)
                check(libc.syscall(SYSCALLS["move_mount"], *args), "attach " + path)
        finally:
            check(libc.setns(OWN_MNT_NS, CLONE_NEWNS), "setns(back to our mount namespace)")
    finally:
        os.close(mntns)
        for mount_fd in mounts:
            os.close(mount_fd)


def detached_mount(fstype, options, attrs, pidns=-1):
    """A new mount of `fstype` not attached anywhere yet (fsopen/fsmount); `pidns`: proc's pid namespace."""
    fs = check(libc.syscall(SYSCALLS["fsopen"], fstype.encode(), 1), "fsopen(%s)" % fstype)
    try:
        for key, value in options.items():
            check(
                libc.syscall(SYSCALLS["fsconfig"], fs, FSCONFIG_SET_STRING, key.encode(), value.encode(), 0),
                "%s %s" % (fstype, key),
            )
        if pidns >= 0:  # Linux >= 6.18; older kernels would need a process inside the namespace to mount it
            check(libc.syscall(SYSCALLS["fsconfig"], fs, FSCONFIG_SET_FD, b"pidns", None, pidns), "proc pidns")
        check(libc.syscall(SYSCALLS["fsconfig"], fs, FSCONFIG_CMD_CREATE, None, None, 0), "%s create" % fstype)
        return check(libc.syscall(SYSCALLS["fsmount"], fs, 1, attrs), "fsmount(%s)" % fstype)
    finally:
        os.close(fs)


def copy_tree(src_dir, dst_dir, uid, gid):
    """Copy a directory of the (untrusted) parent: never following a link, entries recreated, owned by the session.

    Relative to directory fds throughout, with O_NOFOLLOW: a symlink is copied as a symlink and
    nothing in the tree can point this root process anywhere else.
    """
    stack = [(src_dir, dst_dir)]
    while stack:
        src, dst = stack.pop()
        for entry in os.scandir(src):
            st = entry.stat(follow_symlinks=False)
            mode = stat.S_IMODE(st.st_mode) & 0o1777  # no setuid/setgid bits
            name = entry.name
            if stat.S_ISDIR(st.st_mode):
                os.mkdir(name, mode, dir_fd=dst)
                child_src = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=src)
                child_dst = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dst)
                stack.append((child_src, child_dst))
            elif stat.S_ISREG(st.st_mode):
                copy_file(src, dst, name, mode)
            elif stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(name, dir_fd=src), name, dir_fd=dst)
            elif stat.S_ISFIFO(st.st_mode):
                os.mkfifo(name, mode, dir_fd=dst)
            else:
                continue  # sockets (bound in the parent, dead here) and anything else stay behind
            os.chown(name, uid, gid, dir_fd=dst, follow_symlinks=False)
        if src is not src_dir:
            os.close(src)
            os.close(dst)


def copy_file(src_dir, dst_dir, name, mode):
    src = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=src_dir)
    try:
        dst = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode, dir_fd=dst_dir)
        try:
            offset, size = 0, os.fstat(src).st_size
            while offset < size:
                sent = os.sendfile(dst, src, offset, size - offset)  # copy_file_range refuses across file systems
                if sent == 0:
                    break
                offset += sent
        finally:
            os.close(dst)
    finally:
        os.close(src)


# ---------------------------------------------------------------------------------------------
# verify: nothing of the parent left in the copy
# ---------------------------------------------------------------------------------------------


def verify(req):
    pid, parent, reaper = int(req["pid"]), int(req["parent"]), int(req["reaper"])
    sockets, pipes = set(req["sockets"]), set(req["pipes"])
    parent_devs, shmem, parent_keys = parent_facts(parent, req.get("batch"))
    problems = []
    for fd, st in fd_stats(pid):
        kind = stat.S_IFMT(st.st_mode)
        if kind == stat.S_IFSOCK:
            bad = st.st_ino not in sockets
        elif kind == stat.S_IFIFO:
            bad = st.st_ino not in pipes
        elif kind in (stat.S_IFREG, stat.S_IFDIR):
            bad = st.st_dev in parent_devs or (st.st_dev == shmem and (st.st_dev, st.st_ino) in parent_keys)
        else:
            bad = kind != stat.S_IFCHR  # device nodes of the read-only /dev are fine; event fds and the like are not
        if bad:
            problems.append("fd %d (%s)" % (fd, os.readlink("/proc/%d/fd/%d" % (pid, fd))))
    for perms, dev, ino, path in shared_maps(pid):
        if dev in parent_devs or (dev, ino) in parent_keys:
            problems.append("shared mapping of %s (%s)" % (path or "memory", perms))
    if os.stat("/proc/%d/cwd" % pid).st_dev in parent_devs:
        problems.append("working directory on the parent's file system")
    # A copy or reaper that has just started may not yet have dropped what it is about to drop: polled.
    problems += settled_problems(lambda: credential_problems(pid, "2", req["uid"], req["gid"], no_new_privs=True))
    problems += settled_problems(lambda: credential_problems(reaper, "1", req["uid"], req["gid"], no_new_privs=False))
    if not settled(lambda: not os.listdir("/proc/%d/fd" % reaper)):
        problems.append("the reaper holds fds")  # it closes every fd it inherited first thing
    members = {name for name in os.listdir("/proc/%d/root/proc" % pid) if name.isdigit()}
    if not members <= {"1", "2"}:
        problems.append("other processes in its pid namespace: %s" % ", ".join(sorted(members - {"1", "2"})))
    if problems:
        raise Refused("the copy kept what it shares with its parent: " + "; ".join(problems[:8]))
    return {}


def settled(condition, timeout_s=2.0):
    """Whether `condition` holds, polling briefly (a process just started may not have run yet)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


def settled_problems(problems_now, timeout_s=2.0):
    """The problems `problems_now` still finds once they are gone or `timeout_s` has passed (see settled)."""
    found = []

    def clean():
        found[:] = problems_now()
        return not found

    settled(clean, timeout_s)
    return found


#: What verify reads of a parent, for the copies of one fork request (the parent is idle meanwhile).
_PARENT_FACTS = {}


def parent_facts(parent, batch):
    """(its private file system devices, the shmem device, (dev, inode) of what it holds or maps shared)."""
    key = (parent, batch)
    if batch is None or key not in _PARENT_FACTS:
        shmem = shm_dev()
        keys = {(st.st_dev, st.st_ino) for _, st in fd_stats(parent)}
        keys |= {(dev, ino) for perms, dev, ino, _ in shared_maps(parent) if "w" in perms or dev == shmem}
        _PARENT_FACTS.clear()
        _PARENT_FACTS[key] = (private_devs(parent), shmem, keys)
    return _PARENT_FACTS[key]


def credential_problems(pid, ns_pid, uid, gid, no_new_privs):
    st = status(pid)
    problems = []
    if st["NSpid"][-1] != ns_pid:
        problems.append("pid %d is pid %s of its namespace, not %s" % (pid, st["NSpid"][-1], ns_pid))
    if {int(x) for x in st["Uid"]} != {uid} or {int(x) for x in st["Gid"]} != {gid}:
        problems.append("pid %d runs as uid %s gid %s" % (pid, st["Uid"], st["Gid"]))
    for key in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
        if int(st[key][0], 16) != 0:
            problems.append("pid %d keeps capabilities (%s %s)" % (pid, key, st[key][0]))
    if st["Seccomp"][0] != "2" or (no_new_privs and st["NoNewPrivs"][0] != "1"):
        problems.append("pid %d is not under the session's seccomp filter" % pid)
    return problems


def parent_clean(req):
    held = {
        st.st_ino for _, st in fd_stats(int(req["pid"])) if stat.S_IFMT(st.st_mode) in (stat.S_IFSOCK, stat.S_IFIFO)
    }
    if held & set(req["inodes"]):
        raise Refused("the session kept the channels of its copies")
    return {}


# ---------------------------------------------------------------------------------------------
# spawn: a program in a copy's namespaces, as another uid
# ---------------------------------------------------------------------------------------------


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def spawn(req, fds, seccomp):
    """Fork a helper that joins the copy's namespaces and forks the program; the helper waits for it."""
    pid = int(req["pid"])
    report_r, report_w = os.pipe()
    helper = os.fork()
    if helper == 0:
        os.close(report_r)
        try:
            child = enter_and_exec(pid, req, fds, seccomp, report_w)
        except BaseException as exc:
            with contextlib.suppress(BaseException):
                os.write(report_w, json.dumps({"error": "%s" % (exc,)}).encode())
            os._exit(1)
        os.write(report_w, json.dumps({"child": child}).encode())
        os.close(report_w)
        status_fd = fds[4]
        for fd in fds:
            if fd != status_fd:
                with contextlib.suppress(OSError):
                    os.close(fd)
        with contextlib.suppress(ChildProcessError, OSError):
            _, wstatus = os.waitpid(child, 0)
            if os.WIFSIGNALED(wstatus):
                line = {"signal": os.WTERMSIG(wstatus)}
            else:
                line = {"exit_code": os.WEXITSTATUS(wstatus)}
            os.write(status_fd, (json.dumps(line) + "\n").encode())
        os._exit(0)
    os.close(report_w)
    with os.fdopen(report_r, "rb") as f:
        reply = json.loads(f.read() or b'{"error": "the spawn helper died"}')
    if "error" in reply:
        raise Refused(reply["error"])
    return {"child": reply["child"]}


def enter_and_exec(pid, req, fds, seccomp, report_w):
    stdin, stdout, stderr, extra = fds[:4]
    namespaces = [
        (name, os.open("/proc/%d/ns/%s" % (pid, name), os.O_RDONLY)) for name in ("net", "ipc", "uts", "pid", "mnt")
    ]
    flags = {"net": CLONE_NEWNET, "ipc": CLONE_NEWIPC, "uts": CLONE_NEWUTS, "pid": CLONE_NEWPID, "mnt": CLONE_NEWNS}
    for name, fd in namespaces:
        check(libc.setns(fd, flags[name]), "setns(%s)" % name)
        os.close(fd)
    for fd in fds[5:]:
        os.write(fd, b"0")  # into the copy's cgroup, with what it starts
    child = os.fork()  # a child: only children enter the pid namespace
    if child != 0:
        return child
    try:
        libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
        os.chdir("/work")
        os.setgroups([req["gid"]])
        os.setresgid(req["gid"], req["gid"], req["gid"])
        os.setresuid(req["uid"], req["uid"], req["uid"])
        for which, value in req["rlimits"]:
            resource.setrlimit(which, (value, value))
        check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
        check(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(seccomp.prog), 0, 0), "seccomp")
        for target, fd in enumerate((stdin, stdout, stderr, extra)):
            os.dup2(fd, target)
        os.closerange(4, MAX_FD)
        os.execve(req["argv"][0], req["argv"], req["env"])
    except BaseException as exc:
        with contextlib.suppress(BaseException):
            os.write(2, ("keeper: cannot start %s: %s\n" % (req["argv"][0], exc)).encode())
    os._exit(127)


class Seccomp:
    def __init__(self, bpf):
        self.buffer = ctypes.create_string_buffer(bpf, len(bpf))
        self.prog = SockFprog(len(bpf) // 8, ctypes.cast(self.buffer, ctypes.c_void_p))


# ---------------------------------------------------------------------------------------------
# serving
# ---------------------------------------------------------------------------------------------

FD_SIZE = struct.calcsize("i")


def serve(sock):
    global OWN_MNT_NS
    OWN_MNT_NS = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    setup = json.loads(sock.recv(1 << 20))
    seccomp = Seccomp(bytes.fromhex(setup["seccomp_hex"]))
    sock.send(b"ready")
    while True:
        msg, ancdata, _flags, _addr = sock.recvmsg(1 << 20, socket.CMSG_SPACE(16 * FD_SIZE))
        fds = []
        for level, kind, data in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                usable = len(data) - len(data) % FD_SIZE
                fds.extend(struct.unpack("%di" % (usable // FD_SIZE), data[:usable]))
        if not msg:
            return
        req = json.loads(msg)
        try:
            if req["op"] == "adopt":
                reply = adopt(req)
            elif req["op"] == "verify":
                reply = verify(req)
            elif req["op"] == "parent_clean":
                reply = parent_clean(req)
            elif req["op"] == "spawn":
                reply = spawn(req, fds, seccomp)
            else:
                raise Refused("unknown op %r" % req["op"])
            reply.update(ok=True)
        except (Refused, OSError, KeyError, ValueError) as exc:
            reply = {"ok": False, "error": "%s" % (exc,)}
        finally:
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
        reply["id"] = req.get("id")
        sock.send(json.dumps(reply).encode())
        reap()


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


if __name__ == "__main__":
    libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
    libc.prctl(15, b"session-keeper", 0, 0, 0)
    serve(socket.socket(fileno=0))
