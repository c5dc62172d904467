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
    return ServerCapabilities(
        server_version=_server_version(),
        kinds=kinds.available_kinds(),
        languages=_languages(service),
        sandbox_backends=_sandbox_backends(),
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


@cache
def _judge_backends() -> list[str]:
    try:
        judge = importlib.import_module("verifier_server.kinds.judge")
    except ImportError:
        return []
    available = getattr(judge, "available_backends", None)
    return sorted(available()) if available else []
