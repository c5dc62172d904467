"""One program, many runs: what every backend shares of `run` and `run_many`.

A job becomes a `Program` once: its files after the compile step (if its language has one),
which of them are executable, and the argv that starts it. Each run then starts from that
program in a fresh work dir, as a fresh process in the same isolation, so nothing one run
writes (or deletes) reaches the next. A backend provides the two steps, `_compile` (one
phase in the sandbox, its work dir read back) and `_run_program` (one run); the driver
here turns them into `run` and `run_many` identically for every backend.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import stat
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ._types import DEFAULT_COMPILE_LIMITS, ExecStatus, Execution, Job, Limits, sandbox_error
from .languages import LANGUAGES, Recipe


@dataclass(frozen=True)
class Program:
    """A job ready to run: what its work dir holds at the start of every run, and how it starts."""

    files: Mapping[str, bytes]
    executables: frozenset[str]
    """Paths among `files` written with the execute bit (compiled binaries)."""
    argv: tuple[str, ...]
    entry: str
    in_interpreter: bool
    """Python without an explicit command: a warm interpreter may run `entry` itself (the fork server)."""
    compile_output: str = ""

    @property
    def size_bytes(self) -> int:
        return sum(len(content) for content in self.files.values())


class CompiledTooLarge(Exception):
    """The compile step left more in its work dir than a run's work dir may start with."""


def compile_limits(job: Job, recipe: Recipe) -> Limits:
    """The job's own compile limits, else the defaults with the recipe's compiler memory."""
    if job.compile_limits is not None:
        return job.compile_limits
    return dataclasses.replace(DEFAULT_COMPILE_LIMITS, memory_bytes=recipe.compile_memory_bytes)


def needs_compile(job: Job, recipe: Recipe) -> bool:
    return recipe.compile is not None and job.command is None


def interpreted(job: Job, recipe: Recipe, entry: str) -> Program:
    """A job without a compile step: its own files, its command or the recipe's run command."""
    argv = tuple(job.command) if job.command else tuple(recipe.argv(recipe.run, entry))
    in_interpreter = job.language == "python" and job.command is None
    return Program(job.file_bytes(), frozenset(), argv, entry, in_interpreter)


def compiled(job: Job, recipe: Recipe, entry: str, workdir: Path, limit_bytes: int, output: str) -> Program:
    """The program a compile step left in `workdir` (read after every process of that step is gone)."""
    files, executables = read_tree(workdir, limit_bytes)
    return Program(files, executables, tuple(recipe.argv(recipe.run, entry)), entry, False, output)


def read_tree(root: Path, limit_bytes: int) -> tuple[dict[str, bytes], frozenset[str]]:
    """Every regular file under `root` (never following a symlink) and which are executable, at most `limit_bytes`."""
    files: dict[str, bytes] = {}
    executables: set[str] = set()
    total = 0
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(directory, d))]
        for name in filenames:
            path = os.path.join(directory, name)
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
            except OSError:
                continue  # a symlink, a fifo without a writer: not part of a program
            try:
                info = os.fstat(fd)
                if not stat.S_ISREG(info.st_mode):
                    continue
                total += info.st_size
                if total > limit_bytes:
                    raise CompiledTooLarge(f"the compiled program's files exceed {limit_bytes} bytes")
                with os.fdopen(os.dup(fd), "rb") as f:
                    content = f.read(info.st_size + 1)
            finally:
                os.close(fd)
            rel = os.path.relpath(path, root)
            files[rel] = content
            if info.st_mode & 0o111:
                executables.add(rel)
    return files, frozenset(executables)


def run_workdir_bytes(limits: Limits, program: Program) -> int:
    """A run's work dir: its limit, or more when the program's own files would not leave it room."""
    return max(limits.workdir_bytes, program.size_bytes + (1 << 20)) if program.executables else limits.workdir_bytes


class ProgramRunner:
    """`run` and `run_many` for a backend that provides `_languages`, `_compile` and `_run_program`."""

    name: str

    def languages(self) -> list[str]:
        raise NotImplementedError

    async def _compile(self, job: Job, recipe: Recipe, entry: str) -> Program | Execution:
        raise NotImplementedError

    async def _run_program(self, job: Job, program: Program, stdin: bytes) -> Execution:
        raise NotImplementedError

    async def prepare(self, job: Job) -> Program | Execution:
        """The job's program (compiled once if its language needs it), or the Execution that ends it."""
        recipe = LANGUAGES.get(job.language)
        if recipe is None or job.language not in self.languages():
            return sandbox_error(f"language {job.language!r} is not available (have: {self.languages()})", self.name)
        entry = job.entrypoint or recipe.default_entrypoint
        if needs_compile(job, recipe):
            return await self._compile(job, recipe, entry)
        return interpreted(job, recipe, entry)

    async def run(self, job: Job) -> Execution:
        program = await self.prepare(job)
        if isinstance(program, Execution):
            return program
        return with_compile_output(await self._run_program(job, program, job.stdin_bytes), program)

    async def run_many(self, job: Job, stdins: Sequence[bytes | str]) -> AsyncGenerator[Execution, None]:
        """Compile once, then one run per stdin in order, each starting afresh; `job.stdin` is not used.

        A compile that fails yields its Execution (COMPILE_ERROR, or SANDBOX_ERROR) and ends the
        iteration. A backend may hold a slot until the iteration ends: a caller that stops early
        closes it (`contextlib.aclosing`).
        """
        program = await self.prepare(job)
        if isinstance(program, Execution):
            yield program
            return
        inputs = [stdin.encode() if isinstance(stdin, str) else stdin for stdin in stdins]
        async with contextlib.aclosing(self._runs(job, program, inputs)) as runs:
            async for execution in runs:
                yield with_compile_output(execution, program)

    async def _runs(self, job: Job, program: Program, stdins: list[bytes]) -> AsyncGenerator[Execution, None]:
        """One run per input; a backend with a cheaper way for many runs of one program overrides this."""
        for stdin in stdins:
            yield await self._run_program(job, program, stdin)


def with_compile_output(execution: Execution, program: Program) -> Execution:
    if not program.compile_output or execution.status is ExecStatus.SANDBOX_ERROR:
        return execution
    return dataclasses.replace(execution, compile_output=program.compile_output)
