"""What this server can do, gathered from the kinds, sandboxes and judge backends present."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError, version

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


def capabilities(service: VerifierService) -> ServerCapabilities:
    sandbox_backends, languages = _sandbox_info()
    return ServerCapabilities(
        server_version=_server_version(),
        kinds=kinds.available_kinds(),
        languages=languages,
        sandbox_backends=sandbox_backends,
        judge_backends=_judge_backends(),
        builtin_verifiers=sorted(builtin_records()),
    )


@cache
def _server_version() -> str:
    try:
        return version("verifier-service")
    except PackageNotFoundError:
        return "0+unknown"


@cache
def _sandbox_info() -> tuple[list[str], list[str]]:
    try:
        sandboxes = importlib.import_module("sandboxes")
        backends = [name for name, state in sandboxes.available_backends().items() if state == "ok"]
        return backends, sorted(sandboxes.LANGUAGES)
    except (ImportError, AttributeError):
        return [], []


@cache
def _judge_backends() -> list[str]:
    """The judge backend table's entries whose libraries this server has (none without the judge kind)."""
    try:
        from verifier_server.kinds.judge import available_backends
    except ImportError:
        return []
    return sorted(available_backends())
