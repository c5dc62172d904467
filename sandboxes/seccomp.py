"""The seccomp filter every sandboxed process runs under, compiled to BPF with libseccomp.

Namespaces already deny most of these syscalls to an unprivileged uid; the filter is the
second wall for kernel attack surface that namespaces do not cover (keyrings, bpf,
perf, io_uring) and makes "no nested namespaces" independent of sysctls. Blocked calls
fail with EPERM rather than killing the process, so programs see an ordinary error.
The BPF bytes are built once per process and passed to bwrap (`--seccomp FD`) or loaded
with prctl by the fork server.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
from collections.abc import Callable
from functools import cache

BLOCKED_SYSCALLS = (
    # Filesystem namespace changes.
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    # Namespaces: no nested sandboxes, no joining others.
    "unshare",
    "setns",
    # Debugging other processes.
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    # Kernel attack surface.
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    # Host administration.
    "reboot",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "quotactl_fd",
    "sethostname",
    "setdomainname",
    "iopl",
    "ioperm",
    "syslog",
    "lookup_dcookie",
    "open_by_handle_at",
    "name_to_handle_at",
    "nfsservctl",
    "vhangup",
    "personality",
    "uselib",
    "fanotify_init",
    "mbind",
    "migrate_pages",
    "move_pages",
    "set_mempolicy",
)
#: clone3 takes its flags through a pointer seccomp cannot read; ENOSYS makes libc fall back to clone.
ENOSYS_SYSCALLS = ("clone3",)
#: clone flags that would create namespaces; clone() with any of them fails with EPERM.
CLONE_NS_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x00000080)

_SCMP_ACT_ALLOW = 0x7FFF0000
_SCMP_ACT_NOTIFY = 0x7FC00000
_SCMP_CMP_NE, _SCMP_CMP_EQ, _SCMP_CMP_MASKED_EQ = 1, 4, 7
_AF_NETLINK, _AF_PACKET, _SOCK_RAW = 16, 17, 3


def _act_errno(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


class SeccompUnavailable(RuntimeError):
    """libseccomp is missing or refused to build the filter."""


def _lib() -> ctypes.CDLL:
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError as exc:
        raise SeccompUnavailable(f"libseccomp not found ({exc}); apt-get install libseccomp2") from exc
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(_ArgCmp),
    ]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


@cache
def bpf_program() -> bytes:
    """The filter as raw `struct sock_filter` instructions (what bwrap --seccomp reads)."""
    return _export(BLOCKED_SYSCALLS, _block_namespace_clones)


@cache
def session_bpf_program() -> bytes:
    """The filter of a session (see _session_runtime.py): the run filter, except for two things.

    unshare(2) with exactly FORK_UNSHARE_FLAGS goes to the session's user-notification
    listener (the host lets it through only for a fork it asked for); any other unshare
    fails. And, because a fork's copies briefly hold capabilities over namespaces of their
    own, the socket families whose kernel code those capabilities unlock (netlink: routing,
    nftables; packet and raw sockets) are refused to the whole session.
    """
    return _export(tuple(n for n in BLOCKED_SYSCALLS if n != "unshare"), _session_rules)


def _block_namespace_clones(lib: ctypes.CDLL, ctx: int) -> None:
    clone = lib.seccomp_syscall_resolve_name(b"clone")
    for flag in CLONE_NS_FLAGS:
        cmp = _ArgCmp(0, _SCMP_CMP_MASKED_EQ, flag, flag)
        if lib.seccomp_rule_add_array(ctx, _act_errno(errno.EPERM), clone, 1, ctypes.byref(cmp)) != 0:
            raise SeccompUnavailable("seccomp rule for clone flags failed")


def _session_rules(lib: ctypes.CDLL, ctx: int) -> None:
    from .session_protocol import FORK_UNSHARE_FLAGS

    _block_namespace_clones(lib, ctx)
    unshare = lib.seccomp_syscall_resolve_name(b"unshare")
    rules: tuple[tuple[int, int, _ArgCmp], ...] = (
        (unshare, _SCMP_ACT_NOTIFY, _ArgCmp(0, _SCMP_CMP_EQ, FORK_UNSHARE_FLAGS, 0)),
        (unshare, _act_errno(errno.EPERM), _ArgCmp(0, _SCMP_CMP_NE, FORK_UNSHARE_FLAGS, 0)),
    )
    socket_nr = lib.seccomp_syscall_resolve_name(b"socket")
    refused = [_ArgCmp(0, _SCMP_CMP_EQ, family, 0) for family in (_AF_NETLINK, _AF_PACKET)]
    refused.append(_ArgCmp(1, _SCMP_CMP_MASKED_EQ, 0xF, _SOCK_RAW))
    rules += tuple((socket_nr, _act_errno(errno.EPERM), cmp) for cmp in refused)
    for nr, action, cmp in rules:
        if lib.seccomp_rule_add_array(ctx, action, nr, 1, ctypes.byref(cmp)) != 0:
            raise SeccompUnavailable("seccomp rule for the session filter failed (libseccomp >= 2.5 needed)")


def _export(blocked: tuple[str, ...], extra: Callable[[ctypes.CDLL, int], None]) -> bytes:
    lib = _lib()
    ctx = lib.seccomp_init(_SCMP_ACT_ALLOW)
    if not ctx:
        raise SeccompUnavailable("seccomp_init failed")
    try:
        for names, action in ((blocked, _act_errno(errno.EPERM)), (ENOSYS_SYSCALLS, _act_errno(errno.ENOSYS))):
            for name in names:
                nr = lib.seccomp_syscall_resolve_name(name.encode())
                if nr < 0:  # not a syscall on this architecture
                    continue
                if lib.seccomp_rule_add_array(ctx, action, nr, 0, None) != 0:
                    raise SeccompUnavailable(f"seccomp rule for {name} failed")
        extra(lib, ctx)
        read_fd, write_fd = os.pipe()
        try:
            if lib.seccomp_export_bpf(ctx, write_fd) != 0:
                raise SeccompUnavailable("seccomp_export_bpf failed")
            os.close(write_fd)
            write_fd = -1
            chunks = []
            while chunk := os.read(read_fd, 65536):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)
    finally:
        lib.seccomp_release(ctx)


def bpf_fd() -> int:
    """A fresh readable fd holding the program (bwrap consumes one per run)."""
    fd = os.memfd_create("sandbox-seccomp", os.MFD_CLOEXEC)
    os.write(fd, bpf_program())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def docker_profile() -> str:
    """The same deny list as a Docker seccomp profile (JSON), for `security_opt=["seccomp=..."]`.

    Docker's default profile (20.10) still allows io_uring, so the Docker backend uses ours.
    """
    import json

    rules: list[dict[str, object]] = [
        {"names": list(BLOCKED_SYSCALLS), "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EPERM},
        {"names": list(ENOSYS_SYSCALLS), "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOSYS},
    ]
    for flag in CLONE_NS_FLAGS:
        rules.append(
            {
                "names": ["clone"],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": errno.EPERM,
                "args": [{"index": 0, "value": flag, "valueTwo": flag, "op": "SCMP_CMP_MASKED_EQ"}],
            }
        )
    return json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules})
