"""Backend selection: one table from name to constructor, and a probe of which ones can run here."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from typing import Any

from ._types import Sandbox, SandboxError

log = logging.getLogger(__name__)


def _bwrap(**options: Any) -> Sandbox:
    from .bwrap import BwrapSandbox

    return BwrapSandbox(**options)


def _docker(**options: Any) -> Sandbox:
    from .docker_backend import DockerSandbox

    return DockerSandbox(**options)


def _unsafe(**options: Any) -> Sandbox:
    from .unsafe_local import UnsafeLocalSandbox

    return UnsafeLocalSandbox(**options)


BACKENDS: dict[str, Callable[..., Sandbox]] = {"bwrap": _bwrap, "docker": _docker, "unsafe-local": _unsafe}


def open_sandbox(backend: str = "bwrap", **options: Any) -> Sandbox:
    """Construct a backend by name; options go to its constructor. Raises SandboxError if it cannot run here."""
    try:
        factory = BACKENDS[backend]
    except KeyError:
        raise SandboxError(f"unknown sandbox backend {backend!r}; choose one of {sorted(BACKENDS)}") from None
    return factory(**options)


def _probe_bwrap() -> str:
    if shutil.which("bwrap") is None:
        return "bwrap is not installed (apt-get install bubblewrap)"
    try:
        from . import seccomp

        seccomp.bpf_program()
    except Exception as exc:
        return f"seccomp filter unavailable: {exc}"
    if not os.path.exists("/proc/self/ns/user"):
        return "kernel without user namespaces"
    return "ok"


def _probe_docker() -> str:
    try:
        import docker
    except ImportError:
        return "the docker Python SDK is not installed"
    try:
        client = docker.from_env(timeout=3)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        return f"no Docker engine reachable: {exc.__class__.__name__}: {exc}"
    return "ok"


def available_backends() -> dict[str, str]:
    """Backend name -> "ok" or why it cannot run on this host. unsafe-local is always "ok" (and unsafe)."""
    return {"bwrap": _probe_bwrap(), "docker": _probe_docker(), "unsafe-local": "ok"}


def available_languages(backend: str = "bwrap") -> list[str]:
    """Languages `backend` could run on this host without opening it: toolchains found here (and mountable into a
    sandbox), or for Docker the languages with a default image. A backend object's own `languages()` is the
    authority once it is open."""
    if backend == "docker":
        from .docker_backend import DEFAULT_IMAGES

        return sorted(DEFAULT_IMAGES)
    if backend == "bwrap":
        from ._layout import runnable_languages, system_mounts

        return runnable_languages(system_mounts())
    from .languages import host_languages

    return host_languages()
