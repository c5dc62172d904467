"""Programs that run inside the sandbox (stdlib only), shipped as source text with each job."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_HERE = Path(__file__).resolve().parent


@cache
def source(name: str) -> str:
    """The text of `name`.py, written into each job's work dir as its entrypoint."""
    return (_HERE / f"{name}.py").read_text()
