"""Programs that run inside the sandbox (stdlib only), shipped with each job as files of its work dir."""

from __future__ import annotations

import py_compile
import sys
import tempfile
from functools import cache
from pathlib import Path

_HERE = Path(__file__).resolve().parent


@cache
def source(name: str) -> str:
    """The text of `name`.py."""
    return (_HERE / f"{name}.py").read_text()


@cache
def files(name: str) -> dict[str, bytes]:
    """Job files that run harness `name`: a two-line main.py importing it as module `_verifier_<name>`.

    Why a module and not main.py itself: Python caches bytecode for imported modules only.
    Next to the source goes an unchecked-hash .pyc for this interpreter's cache tag: a sandbox
    Python of the same version loads it instead of compiling the source (the code runner is
    ~800 lines: ~3 ms of every job), any other version ignores it and compiles the source.
    """
    module = f"_verifier_{name}"
    text = source(name).encode()
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
    return {
        "main.py": f"import {module}\n\n{module}.main()\n".encode(),
        f"{module}.py": text,
        f"__pycache__/{module}.{sys.implementation.cache_tag}.pyc": pyc,
    }
