"""The one shared sandbox per server, how kinds get it, what it can run, and the per-run bookkeeping they all need."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any

from sandboxes import Execution, Job, Sandbox, SandboxError, available_backends, available_languages, open_sandbox
from sandboxes.bwrap import BwrapSandbox
from verifier_server.errors import Unavailable
from verifier_server.kinds.base import BuildContext, KindMetrics, ResourceBag

log = logging.getLogger(__name__)


class SharedSandbox:
    """A backend plus the server's metrics; `run` counts every run by backend and status."""

    def __init__(self, sandbox: Sandbox, backend: str, metrics: KindMetrics | None) -> None:
        self.sandbox, self.backend, self._metrics = sandbox, backend, metrics

    def languages(self) -> list[str]:
        return self.sandbox.languages()

    async def run(self, job: Job) -> Execution:
        execution = await self.sandbox.run(job)
        self._count(execution)
        return execution

    def run_many(self, job: Job, stdins: Sequence[bytes | str]) -> Counted:
        """The sandbox's run_many, each run counted as it comes."""
        return Counted(self.sandbox.run_many(job, stdins), self._count)

    def _count(self, execution: Execution) -> None:
        if self._metrics is not None:
            self._metrics.sandbox_runs.labels(self.backend, execution.status.value).inc()


class Counted:
    """An iterator over runs that counts each as it passes, holding none of them (a generator's frame would
    keep the last run, and its output, alive until the next)."""

    def __init__(self, runs: AsyncIterator[Execution], count: Callable[[Execution], None]) -> None:
        self._runs, self._count = runs, count

    def __aiter__(self) -> Counted:
        return self

    async def __anext__(self) -> Execution:
        execution = await anext(self._runs)
        self._count(execution)
        return execution

    async def aclose(self) -> None:
        close = getattr(self._runs, "aclose", None)
        if close is not None:
            await close()


def shared_sandbox(context: BuildContext, kind: str) -> SharedSandbox:
    """Raises Unavailable at registration when the configured backend cannot run here.

    Never falls back to running code unsandboxed: only an explicit `unsafe-local` does that.
    """
    backend = str(context.resources.settings.get("sandbox_backend", "bwrap"))
    state = _probe(context.resources, backend)
    if state != "ok":
        raise Unavailable(f"the {kind} kind runs code in the {backend!r} sandbox, which cannot run here: {state}")
    return _shared(context.resources, backend)


def runnable_languages(resources: ResourceBag) -> list[str]:
    """The languages the server's sandbox can run on this machine (none when it cannot run at all).

    Asked of the open sandbox when there is one (bwrap opens at start), else of the backend's probe.
    """
    backend = str(resources.settings.get("sandbox_backend", "bwrap"))
    if _probe(resources, backend) != "ok":
        return []
    shared = resources.peek(f"sandbox:{backend}")
    return sorted(shared.languages() if isinstance(shared, SharedSandbox) else available_languages(backend))


def _probe(resources: ResourceBag, backend: str) -> str:
    probe: Mapping[str, str] = resources.get_or_create("sandbox:probe", available_backends)
    return probe.get(backend, f"unknown sandbox backend {backend!r}")


def _shared(resources: ResourceBag, backend: str, preload: Mapping[str, str] | None = None) -> SharedSandbox:
    """The server's one sandbox. `preload` (bwrap only): trusted modules its fork server imports once."""
    settings = resources.settings

    def create() -> SharedSandbox:
        options: dict[str, Any] = {}
        if backend == "bwrap":
            options["preload"] = dict(preload or {})
            for option, key in (("uid_base", "sandbox_uid_base"), ("uid_range_size", "sandbox_uid_range_size")):
                if settings.get(key) is not None:
                    options[option] = int(settings[key])
        try:
            sandbox = open_sandbox(backend, **options)
        except SandboxError as exc:
            raise Unavailable(f"cannot start the {backend!r} sandbox: {exc}") from None
        return SharedSandbox(sandbox, backend, resources.metrics)

    return resources.get_or_create(f"sandbox:{backend}", create, close=lambda s: s.sandbox.aclose())


async def prepare_sandbox(
    resources: ResourceBag, *, allow_weak: bool, preload: Mapping[str, str] | None = None
) -> None:
    """At server start: open the bwrap sandbox (claiming its uids) and refuse to run it in a weak mode.

    Weak means runs would not get their own uids, cgroups and work dirs (see sandboxes/SETUP.md);
    only `allow_unsafe_weak_sandbox` lets the server start then, with a warning naming the gaps.
    A host without bwrap at all starts: code kinds are then refused, never run weakly.
    `preload`: the kinds' shipped programs (module name -> source), imported once by its fork server.
    """
    backend = str(resources.settings.get("sandbox_backend", "bwrap"))
    if backend != "bwrap":
        return
    state = _probe(resources, backend)
    if state != "ok":
        log.warning("code kinds are unavailable: the bwrap sandbox cannot run here: %s", state)
        return
    sandbox = _shared(resources, backend, preload).sandbox
    assert isinstance(sandbox, BwrapSandbox)
    gaps = await sandbox.isolation_gaps()
    if gaps and not allow_weak:
        await sandbox.aclose()
        raise Unavailable(
            "refusing to start: the bwrap sandbox would run in a weak mode: "
            + "; ".join(gaps)
            + ". Give the server what sandboxes/SETUP.md lists, or set allow_unsafe_weak_sandbox = true "
            "(VERIFIER_ALLOW_UNSAFE_WEAK_SANDBOX=1; development only)"
        )
    for gap in gaps:
        log.warning("UNSAFE weak sandbox (allow_unsafe_weak_sandbox is on): %s", gap)
    log.info("sandbox ready", extra={"backend": backend, "slot_uids": runs_of(sandbox.slot_uids()), "weak": bool(gaps)})


def runs_of(numbers: Iterable[int]) -> str:
    """60000..60003,60007: runs of consecutive numbers, for a log line."""
    runs: list[list[int]] = []
    for number in sorted(numbers):
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    return ",".join(f"{low}..{high}" for low, high in runs)


def new_nonce() -> str:
    return secrets.token_hex(16)


def read_report(execution: Execution, nonce: str) -> dict[str, Any] | None:
    """The harness's reply: the last stdout line, only if it is JSON carrying this run's nonce."""
    found = find_trailer(execution.stdout, nonce)
    return None if found is None else found[0]


def find_trailer(stdout: bytes, nonce: str) -> tuple[dict[str, Any], int] | None:
    """The last line of ``stdout`` (trailing newlines aside) when it is a JSON object carrying ``nonce``,
    and where the newline before it sits (-1 when it is the only line).

    Never copies what comes before that line: a reply can hold megabytes of test output.
    """
    end = len(stdout)
    while end and stdout[end - 1] == 0x0A:  # not rstrip: that copies the whole reply
        end -= 1
    cut = stdout.rfind(b"\n", 0, end)
    trailer = json_object(stdout[cut + 1 : end])
    if trailer is None or not secrets.compare_digest(str(trailer.get("nonce", "")), nonce):
        return None
    return trailer, cut


def json_object(line: bytes) -> dict[str, Any] | None:
    """``line`` as a JSON object, or None when it is anything else."""
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
