"""Install the Python packages offered to sandboxed programs into a root-owned, read-only folder.

    .venv/bin/python scripts/install_sandbox_python.py [--check] [-- PIP_ARGS...]
    # offline image builds: ... -- --no-index --find-links /tmp/wheelhouse

Sandboxed Python (reward functions of the ``python`` kind, code under test) runs on the
system interpreter (``/usr/bin/python3``). This puts ``SANDBOX_PACKAGES`` there, at the
versions this virtualenv has (so a reward function's math-verify gives the server's
verdicts), into ``sandboxes._layout.PYTHON_PACKAGES_DIR``: under ``/usr``, so every
sandbox sees it through its read-only ``/usr`` bind, owned by root and not writable by
anyone else, so no sandboxed program can change what the next one imports. It is not a
site directory of the host's Python; only sandboxes put it on their path.

Idempotent: a stamp file records what was installed; a second run with the same pins
does nothing. The new tree is built beside the old one and swapped in with one rename.
``--check`` exits 1 when the installed set differs from the wanted one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandboxes._layout import PYTHON_PACKAGES_DIR

SANDBOX_PACKAGES = ("numpy", "sympy", "math-verify", "regex")
"""What a reward author reaches for; their dependencies (mpmath, latex2sympy2_extended, antlr4) come along."""
SANDBOX_PYTHON = "/usr/bin/python3"
STAMP = ".installed"


def wanted() -> list[str]:
    """Each package pinned to this environment's version (unpinned if this environment lacks it)."""
    pins = []
    for name in SANDBOX_PACKAGES:
        try:
            pins.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            pins.append(name)
    return pins


def sandbox_python_version() -> str:
    out = subprocess.run(
        [SANDBOX_PYTHON, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout.strip()


def install(target: Path, pins: list[str], pip_args: list[str]) -> None:
    """Build the tree beside ``target``, make it read-only for everyone but root, swap it in."""
    staging = target.with_name(target.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-warn-script-location",
         "--target", str(staging), "--python-version", sandbox_python_version(), "--implementation", "cp",
         "--only-binary=:all:", *pip_args, *pins],
        check=True,
    )  # fmt: skip
    # Byte-compile with the sandbox's own interpreter: sandboxes cannot write __pycache__, and
    # without .pyc files importing sympy would recompile it on every run.
    subprocess.run([SANDBOX_PYTHON, "-m", "compileall", "-q", "-j", "0", str(staging)], check=False)
    (staging / STAMP).write_text("\n".join(pins) + "\n")
    for root, dirs, files in os.walk(staging):
        for name in dirs:
            _seal(Path(root) / name, 0o755)
        for name in files:
            path = Path(root) / name
            _seal(path, 0o755 if path.stat().st_mode & 0o100 else 0o644)
    _seal(staging, 0o755)
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _seal(path: Path, mode: int) -> None:
    os.chown(path, 0, 0, follow_symlinks=False)
    if not path.is_symlink():
        path.chmod(mode)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the installed set is not the wanted one")
    parser.add_argument("pip_args", nargs=argparse.REMAINDER, help="after --: passed to pip (--find-links, ...)")
    args = parser.parse_args()
    pip_args = [arg for arg in args.pip_args if arg != "--"]
    target = Path(PYTHON_PACKAGES_DIR)
    pins = wanted()
    stamp = target / STAMP
    current = stamp.read_text().split() if stamp.exists() else []
    if current == pins:
        print(f"sandbox python packages: up to date in {target} ({', '.join(pins)})")
        return 0
    if args.check:
        print(f"sandbox python packages: {target} has {current or 'nothing'}, wanted {pins}", file=sys.stderr)
        return 1
    if os.geteuid() != 0:
        print("sandbox python packages: need root (the folder must be root-owned); skipped", file=sys.stderr)
        return 1
    if not os.path.exists(SANDBOX_PYTHON):
        print(f"sandbox python packages: {SANDBOX_PYTHON} not found; skipped", file=sys.stderr)
        return 1
    target.parent.mkdir(parents=True, exist_ok=True)
    install(target, pins, pip_args)
    print(f"sandbox python packages: installed {', '.join(pins)} into {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
