"""UNSAFE development backend: runs programs as plain host subprocesses, with rlimits and a temp dir only.

No namespaces, no seccomp, no filesystem or network isolation: a program can read and
write anything the server can. It exists so the service can be developed on machines
without bubblewrap or Docker, is only reachable by its loud name, and logs a warning
every time it is opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import resource
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from . import _rlimits
from ._io import RunOutput, feed
from ._layout import sandbox_env
from ._outcome import RawOutcome, compile_failed, finish, looks_like_oom
from ._program import CompiledTooLarge, Program, ProgramRunner, compile_limits, compiled
from ._types import ExecStatus, Execution, Job, Limits, sandbox_error
from .languages import Recipe, host_languages

log = logging.getLogger(__name__)


class UnsafeLocalSandbox(ProgramRunner):
    """Host subprocesses in a session of their own; see the module docstring for why this is unsafe."""

    name = "unsafe-local"

    def __init__(self, *, concurrency: int | None = None) -> None:
        log.warning(
            "UNSAFE sandbox backend 'unsafe-local' opened: untrusted code runs WITHOUT isolation. "
            "Use it for local development only."
        )
        self._sem = asyncio.Semaphore(concurrency or 2 * (os.cpu_count() or 1))
        self._languages = host_languages()

    def languages(self) -> list[str]:
        return list(self._languages)

    async def _compile(self, job: Job, recipe: Recipe, entry: str) -> Program | Execution:
        assert recipe.compile is not None
        limits = compile_limits(job, recipe)
        async with self._sem:
            with tempfile.TemporaryDirectory(prefix="sbx-unsafe-") as work:
                _write(work, job.file_bytes(), frozenset())
                comp = await self._phase(work, recipe.argv(recipe.compile, entry), limits, b"", job)
                output = (comp.stdout + comp.stderr).decode("utf-8", "replace")
                if comp.status is not ExecStatus.OK:
                    return compile_failed(comp, comp.wall_time_s, output, self.name)
                try:
                    return compiled(job, recipe, entry, Path(work), limits.workdir_bytes, output)
                except CompiledTooLarge as exc:
                    too_large = dataclasses.replace(comp, status=ExecStatus.NONZERO_EXIT, reason=str(exc))
                    return compile_failed(too_large, comp.wall_time_s, output, self.name)

    async def _run_program(self, job: Job, program: Program, stdin: bytes) -> Execution:
        async with self._sem:
            with tempfile.TemporaryDirectory(prefix="sbx-unsafe-") as work:
                _write(work, dict(program.files), program.executables)
                return await self._phase(work, list(program.argv), job.limits, stdin, job)

    async def aclose(self) -> None:
        """Nothing warm to release."""

    async def _phase(self, work: str, argv: list[str], limits: Limits, stdin: bytes, job: Job) -> Execution:
        raw = RawOutcome()
        started = time.monotonic()
        env = dict(sandbox_env(dict(job.env)), HOME=work, TMPDIR=work)
        (in_r, in_w), (out_r, out_w), (err_r, err_w) = os.pipe(), os.pipe(), os.pipe()
        rlimits = _rlimits.rlimits(limits, job.language, cgroup=False, own_uid=True)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=work,
                env=env,
                stdin=in_r,
                stdout=out_w,
                stderr=err_w,
                start_new_session=True,
                preexec_fn=lambda: _rlimits.apply(rlimits),
            )
        except OSError as exc:
            for fd in (in_w, out_r, err_r):
                os.close(fd)
            return sandbox_error(f"could not start {argv[0]}: {exc}", self.name)
        finally:
            for fd in (in_r, out_w, err_w):
                os.close(fd)
        output = RunOutput(out_r, err_r, limits.output_bytes, _group_killer(proc.pid))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        raw.wall_timeout = await output.supervise(
            proc.wait(), limits.wall_time_s, [asyncio.ensure_future(feed(in_w, stdin))]
        )
        raw.output_overflow = output.overflowed
        await proc.wait()  # killed by now
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        raw.cpu_time_s = max(0.0, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime))
        rc = proc.returncode
        raw.signal, raw.exit_code = (-rc, None) if rc is not None and rc < 0 else (None, rc)
        raw.memory_hit = (raw.signal is not None or bool(raw.exit_code)) and looks_like_oom(output.err.data)
        return finish(
            raw,
            limits,
            **output.streams(),
            wall_time_s=time.monotonic() - started,
            peak_memory_bytes=None,
            backend=self.name,
        )


def _write(work: str, files: dict[str, bytes], executables: frozenset[str]) -> None:
    for rel, content in files.items():
        path = Path(work, rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        if rel in executables:
            path.chmod(0o755)


def _group_killer(pid: int) -> Callable[[], None]:
    def kill() -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)

    return kill
