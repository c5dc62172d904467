"""The table of verifier kinds: kind name -> the class that implements it.

Kinds are imported lazily so that a server that never scores with a judge never
imports torch. Adding a kind means adding one line here.
"""

from __future__ import annotations

import importlib
from functools import cache

from verifier_server.errors import SpecError
from verifier_server.kinds.base import VerifierKind

KIND_TABLE: dict[str, str] = {
    "format": "verifier_server.kinds.format:FormatKind",
    "composite": "verifier_server.kinds.composite:CompositeKind",
    "math": "verifier_server.kinds.math:MathKind",
    "code": "verifier_server.kinds.code:CodeKind",
    "python": "verifier_server.kinds.python_reward:PythonRewardKind",
    "judge": "verifier_server.kinds.judge:JudgeKind",
    "ifeval": "verifier_server.kinds.ifeval:IFEvalKind",
}


@cache
def kind_class(kind: str) -> type[VerifierKind]:
    """The class for ``kind``; ``SpecError`` naming the field when it is unknown."""
    target = KIND_TABLE.get(kind)
    if target is None:
        raise SpecError("kind", f"unknown verifier kind {kind!r} (known: {', '.join(sorted(KIND_TABLE))})")
    module_name, _, attr = target.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)  # type: ignore[no-any-return]
    except (ImportError, AttributeError) as exc:
        raise SpecError("kind", f"verifier kind {kind!r} is not available on this server: {exc}") from None


def available_kinds() -> list[str]:
    """Kinds whose module imports on this server."""
    names = []
    for kind in sorted(KIND_TABLE):
        try:
            kind_class(kind)
        except SpecError:
            continue
        names.append(kind)
    return names
