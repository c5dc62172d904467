"""The sandbox's own C helpers (zygote.c, reaper.c): each built once per source version, or shipped prebuilt.

Why compile at run time: the package stays pure Python to install, and every host that
runs C jobs already has a C compiler (the sandbox's C/C++ support needs one anyway). A
build is cached under /run/sandboxes (or /var/cache/verifier-sandboxes where /run is
noexec) by a hash of its source, so an upgrade rebuilds it. An image without a compiler
ships every helper prebuilt under /usr/lib/verifier-sandboxes, by the same names: its
build script calls `prebuild` (deploy/build_image.sh), so a new helper ships by being
listed in `HELPERS`, never by a line of shell that knows its name or flags.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ._types import SandboxError

HERE = Path(__file__).parent
#: Where an image ships the helpers prebuilt (deploy/build_image.sh), for hosts without a compiler.
PREBUILT = Path("/usr/lib/verifier-sandboxes")
#: Where builds may live, in order: /run (cleared at boot), unless it is mounted noexec,
#: as on many systemd hosts, where neither a library nor a program can be mapped executable.
CACHES = (Path("/run/sandboxes"), Path("/var/cache/verifier-sandboxes"))


@dataclass(frozen=True)
class NativeHelper:
    """One C source of ours and everything needed to build, name and find its binary."""

    stem: str
    """The file name before the source hash: `<stem>-<hash><suffix>`."""
    source: Path
    flags: tuple[str, ...]
    """The compiler's flags beside `-O2 -Wall`: `-shared -fPIC` for a library, none for a program."""
    suffix: str
    purpose: str
    """What it is, for error messages ("the fork server's namespace init")."""

    def file_name(self) -> str:
        """A hash of the source in the name, so an upgrade never loads a stale build."""
        return f"{self.stem}-{hashlib.sha256(self.source.read_bytes()).hexdigest()[:12]}{self.suffix}"

    def path(self, cache: Path | None = None, prebuilt: Path = PREBUILT) -> Path:
        """The built file: shipped prebuilt for this source, else built (into `cache`) on first use."""
        name = self.file_name()
        if (prebuilt / name).exists():
            return prebuilt / name
        target = (cache or default_cache()) / name
        if not target.exists():
            self.build(target)
        return target

    def build(self, target: Path) -> None:
        """Compile to `target` atomically: servers that start at once never load a half-built file."""
        compiler = shutil.which("cc") or shutil.which("gcc")
        if compiler is None:
            raise SandboxError(f"building {self.purpose} needs a C compiler (cc), and none is installed")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}.{os.getpid()}-{secrets.token_hex(4)}.partial")
        built = subprocess.run(
            [compiler, *self.flags, "-O2", "-Wall", "-o", str(partial), str(self.source)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if built.returncode != 0:
            partial.unlink(missing_ok=True)
            raise SandboxError(f"building {self.purpose} failed: {built.stderr.strip()[-2000:]}")
        partial.chmod(0o755)
        os.replace(partial, target)


#: The fork-server zygote's native half (its serve loop and each run's namespace init), loaded into it as a library.
ZYGOTE_LIBRARY = NativeHelper(
    "libsandbox-zygote", HERE / "zygote.c", ("-shared", "-fPIC"), ".so", "the fork server's native loop"
)
#: pid 1 of a session fork's pid namespace, a program bound into the sandbox root.
SESSION_REAPER = NativeHelper("sandbox-reaper", HERE / "reaper.c", (), "", "the session fork reaper")
HELPERS = (ZYGOTE_LIBRARY, SESSION_REAPER)


def default_cache(candidates: tuple[Path, ...] = CACHES) -> Path:
    """The first candidate on a filesystem that allows mapping code."""
    for path in candidates:
        probe = next((p for p in (path, *path.parents) if p.exists()), Path("/"))
        try:
            if not os.statvfs(probe).f_flag & os.ST_NOEXEC:
                return path
        except OSError:
            continue
    raise SandboxError(f"no place for the sandbox's C helpers: {', '.join(map(str, candidates))} are noexec")


def prebuild(directory: Path) -> list[Path]:
    """Build every helper into `directory` under the name `path` looks for: what an image without a compiler ships."""
    built = []
    for helper in HELPERS:
        helper.build(directory / helper.file_name())
        built.append(directory / helper.file_name())
    return built


if __name__ == "__main__":
    for built_file in prebuild(Path(sys.argv[1])):
        print(built_file)
