"""Builds the fork server's namespace init (init.c, a small shared library) once per source version.

Why compile at run time: the package stays pure Python to install, and every host that
runs C jobs already has a C compiler (the sandbox's C/C++ support needs one anyway). The
library is cached under /run/sandboxes (or /var/cache/verifier-sandboxes where /run is
noexec) by a hash of its source, so an upgrade rebuilds it. An image without a compiler
ships it prebuilt under /usr/lib/verifier-sandboxes, by the same name.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
from pathlib import Path

from ._types import SandboxError

SOURCE = Path(__file__).with_name("init.c")
#: Where an image ships the library prebuilt (deploy/build_image.sh), for hosts without a compiler.
PREBUILT = Path("/usr/lib/verifier-sandboxes")
#: Where the library may live, in order: /run (cleared at boot), unless it is mounted
#: noexec, as on many systemd hosts, where a library cannot be mapped executable.
CACHES = (Path("/run/sandboxes"), Path("/var/cache/verifier-sandboxes"))


def default_cache(candidates: tuple[Path, ...] = CACHES) -> Path:
    """The first candidate on a filesystem that allows mapping code."""
    for path in candidates:
        probe = next((p for p in (path, *path.parents) if p.exists()), Path("/"))
        try:
            if not os.statvfs(probe).f_flag & os.ST_NOEXEC:
                return path
        except OSError:
            continue
    raise SandboxError(f"no place for the fork server's namespace init: {', '.join(map(str, candidates))} are noexec")


def library_name() -> str:
    """The library's file name: a hash of its source, so an upgrade never loads a stale build."""
    return f"libsandbox-init-{hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]}.so"


def init_library(cache: Path | None = None, prebuilt: Path = PREBUILT) -> Path:
    """Path of the built library: shipped prebuilt for this source, else built on first use."""
    if (prebuilt / library_name()).exists():
        return prebuilt / library_name()
    cache = cache or default_cache()
    target = cache / library_name()
    if target.exists():
        return target
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise SandboxError("the Python fork server needs a C compiler (cc) to build its namespace init")
    cache.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}-{secrets.token_hex(4)}.partial")  # builders may race
    built = subprocess.run(
        [compiler, "-shared", "-fPIC", "-O2", "-Wall", "-o", str(partial), str(SOURCE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if built.returncode != 0:
        partial.unlink(missing_ok=True)
        raise SandboxError(f"building the fork server's namespace init failed: {built.stderr.strip()[-2000:]}")
    partial.chmod(0o755)
    os.replace(partial, target)  # atomic: concurrent servers never load a half-written file
    return target
