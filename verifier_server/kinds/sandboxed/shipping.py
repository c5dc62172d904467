"""Shipping trusted stdlib-only programs into sandbox jobs: a module and the modules it imports, with bytecode.

A shipped program runs as the job's main.py, a two-line bootstrap that imports it as
`_verifier_<name>` and calls its main(); each module it needs travels beside it as
`_verifier_<module>`. Why modules and not main.py itself: Python caches bytecode for
imported modules only. Next to each source goes an unchecked-hash .pyc for this
interpreter's cache tag: a sandbox Python of the same version loads it instead of
compiling the source (the code runner is ~800 lines: ~3 ms of every job), any other
version ignores it and compiles the source.

Where the sandbox keeps a warm interpreter (bwrap's fork server), it also imports every
kind's shipped modules (`VerifierKind.shipped_modules`) once, ahead of any job: a job then finds
them in sys.modules and reads, loads and executes none of them (~1.5 ms of every harness
job), and the fork server leaves the shipped copies out of the job's work dir (~10% of a
harness job's cost went to carrying and writing them). They stay in every job, for the
backends and modes without that interpreter.
"""

from __future__ import annotations

import py_compile
import sys
import tempfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path

PREFIX = "_verifier_"


def preload_sources(modules: Mapping[str, Path]) -> dict[str, str]:
    """`_verifier_<name>` -> source for `modules` (name -> file, in import order): what the sandbox preloads."""
    return {f"{PREFIX}{name}": Path(path).read_text() for name, path in modules.items()}


def job_files(main: str, modules: Mapping[str, Path]) -> dict[str, bytes]:
    """Files that run module `main` (a key of `modules`: name -> source file) as the job's main.py."""
    return dict(_bundle(main, tuple(sorted((name, str(path)) for name, path in modules.items()))))


@cache
def _bundle(main: str, modules: tuple[tuple[str, str], ...]) -> tuple[tuple[str, bytes], ...]:
    files: dict[str, bytes] = {"main.py": f"import {PREFIX}{main}\n\n{PREFIX}{main}.main()\n".encode()}
    for name, path in modules:
        files.update(_module_files(f"{PREFIX}{name}", Path(path).read_bytes()))
    return tuple(files.items())


def _module_files(module: str, text: bytes) -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp, f"{module}.py"), Path(tmp, f"{module}.pyc")
        src.write_bytes(text)
        py_compile.compile(
            str(src),
            cfile=str(out),
            dfile=f"/work/{module}.py",
            doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
        pyc = out.read_bytes()
    return {f"{module}.py": text, f"__pycache__/{module}.{sys.implementation.cache_tag}.pyc": pyc}
