"""The table of verifier kinds: kind name -> the class that implements it.

Kinds are imported lazily so that a server that never scores with a judge never
imports torch. Adding a kind means writing its class (the ``VerifierKind`` protocol
in ``kinds.base``: ``from_spec``, its ``settings_type``, and where it has them its
``builtin_specs``, ``validate`` and ``shipped_modules``) and adding one line here; its
built-ins, server settings, capabilities entry and preloaded sandbox modules follow from
the class.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from verifier_server.errors import SpecError
from verifier_server.kinds.base import VerifierKind
from verifier_server.kinds.settings import KindSettings, read_settings

log = logging.getLogger(__name__)

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


def shipped_modules() -> dict[str, Path]:
    """Every available kind's shipped programs (``VerifierKind.shipped_modules``), merged in order.

    What the server's sandbox preloads; two kinds that ship different files under one name
    would load each other's, so that is refused (a programming error, found by the tests).
    """
    merged: dict[str, Path] = {}
    for name in available_kinds():
        for module, path in kind_class(name).shipped_modules().items():
            if merged.setdefault(module, Path(path)) != Path(path):
                raise ValueError(f"kind {name!r} ships {path} as {module!r}, already shipped as {merged[module]}")
    return merged


def read_server_settings(tables: Mapping[str, Any]) -> dict[str, KindSettings]:
    """Every ``[kinds.NAME]`` table of the server's config, typed; ``SpecError`` names ``kinds.NAME.key``.

    Called at server start, so a misspelt kind or setting stops the server instead of being
    ignored. A kind that is not available here (its dependencies are missing) keeps its table
    unread, with a warning: the server runs without that kind anyway.
    """
    if not isinstance(tables, Mapping):
        raise SpecError("kinds", "must be a table of [kinds.NAME] tables")
    typed: dict[str, KindSettings] = {}
    for name, table in tables.items():
        if name not in KIND_TABLE:
            known = ", ".join(sorted(KIND_TABLE))
            raise SpecError(f"kinds.{name}", f"no verifier kind is called that (known: {known})")
        try:
            kind = kind_class(name)
        except SpecError as exc:
            log.warning("settings [kinds.%s] are not checked: %s", name, exc.message)
            continue
        typed[name] = read_settings(kind.settings_type, table)
    return typed
