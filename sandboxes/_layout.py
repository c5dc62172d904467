"""What a bubblewrap or fork-server sandbox sees of the host filesystem, in one place.

Only system directories are visible, all read-only; `/etc` is reduced to the few files
toolchains need (no shadow, no host config), plus what each installed language's
toolchain declares in its recipe (a sysroot, a config dir). The work dir and /tmp are
private tmpfs mounts created per run. Both the bwrap argv and the fork server's
pivot_root are built from this table, so the two paths cannot drift apart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .languages import LANGUAGES, SYSTEM_PATH

WORKDIR = "/work"
PATH = SYSTEM_PATH
#: The whole environment of a sandboxed program (plus Job.env). Nothing of the server's.
BASE_ENV = {"PATH": PATH, "HOME": WORKDIR, "TMPDIR": "/tmp", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
#: Directories bound read-only when they exist; symlinks (merged /usr) are recreated as symlinks.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_ENTRIES = (
    "alternatives",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "ssl/openssl.cnf",
    "nsswitch.conf",
    "mime.types",
)
#: Python packages offered to sandboxed programs (numpy, sympy, math-verify, regex, ...), installed
#: by scripts/install_sandbox_python.py: root-owned, under /usr, so every sandbox sees it through
#: the read-only /usr bind and no sandboxed program can change it. Put on PYTHONPATH when present.
PYTHON_PACKAGES_DIR = "/usr/local/lib/verifier-sandbox/python-packages"
#: Numeric libraries start one thread per core unless told; those threads count against a run's
#: process limit, so one thread each (a run is one core's worth of work anyway).
PYTHON_PACKAGES_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass(frozen=True)
class Mount:
    """One read-only bind (source -> dest) or one symlink (target at dest)."""

    dest: str
    source: str = ""
    symlink: str = ""


@cache
def system_mounts() -> tuple[Mount, ...]:
    """The read-only part of the sandbox filesystem, ordered parents first (computed once per process)."""
    mounts: list[Mount] = []
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            mounts.append(Mount(path, symlink=os.readlink(path)))
        elif os.path.isdir(path):
            mounts.append(Mount(path, source=path))
    for entry in ETC_ENTRIES:
        path = f"/etc/{entry}"
        if os.path.exists(path):
            mounts.append(Mount(path, source=os.path.realpath(path) if entry != "alternatives" else path))
    seen = {m.dest for m in mounts}
    for recipe in LANGUAGES.values():
        toolchain = recipe.toolchain()
        for host, dest in toolchain.mounts if toolchain is not None else ():
            source = host if readable_by_others(host) else expose_readonly(host, recipe.name)
            if source and dest not in seen:
                seen.add(dest)
                mounts.append(Mount(dest, source=source))
    return tuple(mounts)


def runnable_languages(mounts: tuple[Mount, ...] | list[Mount]) -> list[str]:
    """Languages whose toolchain is installed and whose every declared mount is among `mounts`."""
    present = {m.dest for m in mounts}
    found = []
    for name, recipe in LANGUAGES.items():
        toolchain = recipe.toolchain()
        if toolchain is not None and all(dest in present for _, dest in toolchain.mounts):
            found.append(name)
    return found


def expose_readonly(path: str, name: str) -> str:
    """Bind a toolchain that sits under an unreadable home (rustup in /root) read-only at a reachable path.

    Only root can; the sandbox uid then reaches it without seeing anything else of the home.
    Returns the new path, or "" when that is not possible here.
    """
    import ctypes

    target = Path("/run/sandboxes/toolchains") / name
    if os.geteuid() != 0:
        return ""
    try:
        # A bind mount from the same filesystem is invisible to os.path.ismount; ask the kernel.
        if str(target) in (line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()):
            return str(target)
        target.mkdir(parents=True, exist_ok=True)
        for parent in (target, *list(target.parents)[:2]):  # toolchains/ and sandboxes/ under /run
            parent.chmod(parent.stat().st_mode | 0o755)
    except OSError:
        return ""
    libc = ctypes.CDLL(None, use_errno=True)
    ms_bind, ms_rec, ms_remount, ms_rdonly, ms_nosuid = 4096, 16384, 32, 1, 2
    if libc.mount(path.encode(), str(target).encode(), None, ms_bind | ms_rec, None) != 0:
        return ""
    libc.mount(None, str(target).encode(), None, ms_bind | ms_remount | ms_rdonly | ms_nosuid, None)
    return str(target)


@cache
def sandbox_path() -> str:
    """PATH inside the sandbox: the toolchains' own directories (mounted outside /usr) first, then the system's."""
    present = {m.dest for m in system_mounts()}
    extra: list[str] = []
    for recipe in LANGUAGES.values():
        toolchain = recipe.toolchain()
        if toolchain is not None and all(dest in present for _, dest in toolchain.mounts):
            extra += [d for d in toolchain.path if d not in extra]
    return ":".join([*extra, PATH])


def sandbox_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(BASE_ENV, PATH=sandbox_path())
    if python_packages_installed():
        env.update(PYTHON_PACKAGES_ENV, PYTHONPATH=PYTHON_PACKAGES_DIR)
    env.update(extra or {})
    return env


@cache
def python_packages_installed() -> bool:
    """Whether the offered packages are there and safe to offer: root-owned and not writable by others."""
    try:
        info = os.stat(PYTHON_PACKAGES_DIR)
    except OSError:
        return False
    return info.st_uid == 0 and not info.st_mode & 0o022 and readable_by_others(PYTHON_PACKAGES_DIR)


def readable_by_others(path: str) -> bool:
    """Whether an unprivileged uid can read `path`: world-readable itself, every parent world-searchable."""
    p = Path(path)
    try:
        mode = p.stat().st_mode
        if not mode & 0o004 or (p.is_dir() and not mode & 0o001):
            return False
        return all(parent.stat().st_mode & 0o001 for parent in p.parents)
    except OSError:
        return False
