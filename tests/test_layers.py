"""Layers never point back up (issue 13): read from the source, so a new import that breaks it fails here.

Kinds sit below the service and its faces: they may not import the service, the servicer, the
server or anything above them (per-sample containment lives in ``kinds.containment`` for that
reason). Product code launches servers through ``verifier_server.launcher``; ``testing`` is for tests.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ABOVE_KINDS = {
    "verifier_server.service",
    "verifier_server.servicer",
    "verifier_server.rpc_guard",
    "verifier_server.server",
    "verifier_server.http",
    "verifier_server.capabilities",
    "verifier_server.builtins",
    "verifier_server.main",
    "verifier_server.launcher",
    "verifier_server.testing",
}


def imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def reaches(module: str, targets: set[str]) -> bool:
    return any(module == target or module.startswith(target + ".") for target in targets)


def test_kinds_import_nothing_above_them() -> None:
    offending = [
        f"{path.relative_to(REPO)}: {module}"
        for path in sorted((REPO / "verifier_server" / "kinds").rglob("*.py"))
        for module in imports(path)
        if reaches(module, ABOVE_KINDS)
    ]
    assert not offending, offending


def test_product_code_launches_servers_through_the_launcher_not_the_test_helpers() -> None:
    offending = [
        f"{path.relative_to(REPO)}: {module}"
        for package in ("verifier_server", "sdk", "trainers")
        for path in sorted((REPO / package).rglob("*.py"))
        if path != REPO / "verifier_server" / "testing.py"
        for module in imports(path)
        if reaches(module, {"verifier_server.testing"})
    ]
    assert not offending, offending
