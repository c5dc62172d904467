"""What this server can do, gathered from the kinds, sandboxes and judge backends present on this machine.

Only what can actually run here is listed: a language whose toolchain is not installed
(``go`` without a Go compiler) is left out for host sandboxes, as is a backend whose
probe fails, so a client can trust the list instead of finding out per sample.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from verifier_server import kinds
from verifier_server.builtins import builtin_records
from verifier_server.service import VerifierService


@dataclass(frozen=True)
class ServerCapabilities:
    server_version: str
    kinds: list[str]
    languages: list[str]
    sandbox_backends: list[str]
    judge_backends: list[str]
    builtin_verifiers: list[str]
    sandbox_python_packages: list[str]


def capabilities(service: VerifierService) -> ServerCapabilities:
    return ServerCapabilities(
        server_version=_server_version(),
        kinds=kinds.available_kinds(),
        languages=_languages(service),
        sandbox_backends=_sandbox_backends(),
        judge_backends=_judge_backends(),
        builtin_verifiers=sorted(builtin_records()),
        sandbox_python_packages=_sandbox_python_packages(),
    )


@cache
def _server_version() -> str:
    try:
        return version("verifier-service")
    except PackageNotFoundError:
        return "0+unknown"


@cache
def _sandbox_backends() -> list[str]:
    try:
        sandboxes = importlib.import_module("sandboxes")
        return [name for name, state in sandboxes.available_backends().items() if state == "ok"]
    except (ImportError, AttributeError):
        return []


def _languages(service: VerifierService) -> list[str]:
    """What this machine can run: the configured sandbox's languages here, not every recipe there is."""
    try:
        access = importlib.import_module("verifier_server.kinds.sandboxed.access")
    except ImportError:
        return []
    languages: list[str] = access.runnable_languages(service.resources)
    return languages


def _sandbox_python_packages() -> list[str]:
    """``name==version`` of each package installed for sandboxed Python."""
    try:
        layout = importlib.import_module("sandboxes._layout")
    except ImportError:
        return []
    if not layout.python_packages_installed():
        return []
    found = []
    for info in Path(layout.PYTHON_PACKAGES_DIR).glob("*.dist-info"):
        name, _, rest = info.name.removesuffix(".dist-info").partition("-")
        found.append(f"{name.lower().replace('_', '-')}=={rest}")
    return sorted(found)


@cache
def _judge_backends() -> list[str]:
    """The judge backend table's entries whose libraries this server has (none without the judge kind)."""
    try:
        from verifier_server.kinds.judge import available_backends
    except ImportError:
        return []
    return sorted(available_backends())
