"""Builds sandbox-reaper (reaper.c), the init of a session fork's pid namespace, once per source version.

Built and cached like the fork server's namespace init (see _init_library.py for why at run
time and where). The zygote binds it read-only into the sandbox root at `REAPER_PATH`, where
a fork child can spawn it (the sandbox sees no host path).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
from pathlib import Path

from ._init_library import default_cache
from ._types import SandboxError
from .session_protocol import REAPER_PATH

SOURCE = Path(__file__).with_name("reaper.c")

__all__ = ["REAPER_PATH", "reaper_program"]


def reaper_program(cache: Path | None = None) -> Path:
    """Path of the built program; builds it on first use."""
    cache = cache or default_cache()
    source = SOURCE.read_bytes()
    target = cache / f"sandbox-reaper-{hashlib.sha256(source).hexdigest()[:12]}"
    if target.exists():
        return target
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise SandboxError("sessions need a C compiler (cc) to build the fork reaper")
    cache.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}-{secrets.token_hex(4)}.partial")
    built = subprocess.run(
        [compiler, "-O2", "-Wall", "-o", str(partial), str(SOURCE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if built.returncode != 0:
        partial.unlink(missing_ok=True)
        raise SandboxError(f"building the session fork reaper failed: {built.stderr.strip()[-2000:]}")
    partial.chmod(0o755)
    os.replace(partial, target)
    return target
