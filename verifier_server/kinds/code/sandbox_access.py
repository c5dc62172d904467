"""The one shared sandbox per server, how kinds get it, and the per-run bookkeeping they all need."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any

from sandboxes import Execution, Job, Sandbox, SandboxError, available_backends, open_sandbox
from verifier_server.errors import Unavailable
from verifier_server.kinds.base import BuildContext


class SharedSandbox:
    """A backend plus the server's metrics; `run` counts every run by backend and status."""

    def __init__(self, sandbox: Sandbox, backend: str, metrics: Any) -> None:
        self.sandbox, self.backend, self._metrics = sandbox, backend, metrics

    def languages(self) -> list[str]:
        return self.sandbox.languages()

    async def run(self, job: Job) -> Execution:
        execution = await self.sandbox.run(job)
        if self._metrics is not None:
            self._metrics.sandbox_runs.labels(self.backend, execution.status.value).inc()
        return execution


def shared_sandbox(context: BuildContext, kind: str) -> SharedSandbox:
    """Raises Unavailable at registration when the configured backend cannot run here.

    Never falls back to running code unsandboxed: only an explicit `unsafe-local` does that.
    """
    settings = context.resources.settings
    backend = str(settings.get("sandbox_backend", "bwrap"))
    probe: Mapping[str, str] = context.resources.get_or_create("sandbox:probe", available_backends)
    state = probe.get(backend, f"unknown sandbox backend {backend!r}")
    if state != "ok":
        raise Unavailable(f"the {kind} kind runs code in the {backend!r} sandbox, which cannot run here: {state}")

    def create() -> SharedSandbox:
        uid_base = settings.get("sandbox_uid_base")
        options = {"uid_base": int(uid_base)} if backend == "bwrap" and uid_base is not None else {}
        try:
            sandbox = open_sandbox(backend, **options)
        except SandboxError as exc:
            raise Unavailable(f"cannot start the {backend!r} sandbox: {exc}") from None
        return SharedSandbox(sandbox, backend, settings.get("metrics"))

    return context.resources.get_or_create(f"sandbox:{backend}", create, close=lambda s: s.sandbox.aclose())


def new_nonce() -> str:
    return secrets.token_hex(16)


def read_report(execution: Execution, nonce: str) -> dict[str, Any] | None:
    """The harness's reply: the last stdout line, only if it is JSON carrying this run's nonce."""
    lines = execution.stdout.rstrip(b"\n").rsplit(b"\n", 1)
    try:
        report = json.loads(lines[-1])
    except ValueError:
        return None
    if not isinstance(report, dict) or not secrets.compare_digest(str(report.get("nonce", "")), nonce):
        return None
    return report
