"""The default backend: every phase of a job runs in a fresh bubblewrap sandbox.

bwrap is started with an empty environment (its pid 1 would otherwise expose ours via
/proc/1/environ), as the slot's unprivileged host uid, inside the slot's cgroups and
under rlimits; it then creates user, pid, net, mount, ipc, uts and cgroup namespaces,
binds the system read-only, forbids nested user namespaces and loads our seccomp
filter. The work dir is a per-run tmpfs mounted on the host: a compile phase runs in one,
and what it leaves there is read back as the program (see _program.py). Runs go to the
warm fork server (forkserver.py) when one could be started; everything else, and
everything as a fallback, runs here. bwrap reports on a status fd whether it reached the
program at all (`--json-status-fd`: an exit code only once the program was exec'd), so
its own failures are never mistaken for the program's exit, whatever the program prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import shutil
import signal
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import TYPE_CHECKING

from . import _rlimits, seccomp
from ._claims import DEFAULT_UID_BASE, DEFAULT_UID_RANGE_SIZE, UidClaim, UidRange, claim_uids
from ._io import RunOutput, feed, read_available
from ._isolation import bwrap_failure_hint, missing_capabilities, missing_privileges
from ._layout import WORKDIR, readable_by_others, runnable_languages, sandbox_env, system_mounts
from ._outcome import RawOutcome, compile_failed, finish, looks_like_oom
from ._program import CompiledTooLarge, Program, ProgramRunner, compile_limits, compiled, run_workdir_bytes
from ._slots import Slot, SlotPool, cleared_after, mount_workdir, write_files
from ._types import ExecStatus, Execution, Job, Limits, SandboxError, sandbox_error
from .forkserver import ForkServer
from .languages import Recipe

if TYPE_CHECKING:  # sessions.py builds on the fork server; loaded only when sessions are asked for
    from .sessions import SessionHost

log = logging.getLogger(__name__)

#: bwrap's own processes (outer monitor, namespace init) count against the pids limit.
BWRAP_PROCESS_OVERHEAD = 3
#: What bwrap writes on its status fd once the program was exec'd, and only then.
EXEC_REACHED = b'"exit-code"'


def _preexec(slot: Slot, procs_fds: list[int], rlimits: list[tuple[int, int]], drop: bool) -> Callable[[], None]:
    """Runs in the forked child before exec(bwrap): cgroups first (as root), then rlimits, then the uid."""

    def child() -> None:
        for fd in procs_fds:
            os.write(fd, b"0")
        with open("/proc/self/oom_score_adj", "wb", buffering=0) as oom:
            oom.write(b"1000")  # out of memory in an enclosing cgroup, a run dies first, never the server
        _rlimits.apply(rlimits)
        if drop:
            os.setgroups([])
            os.setresgid(slot.gid, slot.gid, slot.gid)
            os.setresuid(slot.uid, slot.uid, slot.uid)

    return child


class BwrapSandbox(ProgramRunner):
    """bubblewrap per run, plus an optional warm Python fork server. See the module docstring."""

    name = "bwrap"

    def __init__(
        self,
        *,
        concurrency: int | None = None,
        uid_base: int = DEFAULT_UID_BASE,
        uid_range_size: int = DEFAULT_UID_RANGE_SIZE,
        bwrap_path: str | None = None,
        forkserver: bool = True,
        preload: Mapping[str, str] | None = None,
    ) -> None:
        """`concurrency` defaults to 2 x cores; `forkserver=False` forces bwrap per run for Python too.

        `preload`: trusted modules the fork server imports once for every run (see ForkServer.start).

        As root, the slots' uids are claimed here, exclusively, from [uid_base, uid_base +
        uid_range_size) (see _claims.py): SandboxError when other live servers hold too many.
        """
        path = bwrap_path or shutil.which("bwrap")
        if path is None:
            raise SandboxError("bubblewrap (bwrap) is not installed; apt-get install bubblewrap")
        self.bwrap = path
        self.concurrency = concurrency or 2 * (os.cpu_count() or 1)
        self.privileged = os.geteuid() == 0 and not missing_capabilities()
        self._uids = UidRange(uid_base, uid_range_size)
        self._pool: SlotPool | None = None
        self._mounts = [m for m in system_mounts() if m.symlink or readable_by_others(m.source) or not self.privileged]
        self._languages = runnable_languages(self._mounts)
        self._use_forkserver = forkserver and self.privileged
        self._forkserver: ForkServer | None = None
        self._preload = dict(preload or {})
        self._forkserver_lock = asyncio.Lock()
        self._sessions: SessionHost | None = None
        self._session_server: ForkServer | None = None
        self._session_uids: list[UidClaim] = []
        self._sessions_lock = asyncio.Lock()
        seccomp.bpf_program()  # fail at construction, not on the first job
        if self.privileged:
            self.pool()  # claim the uids now: a clash is the operator's to fix before any job

    def languages(self) -> list[str]:
        return list(self._languages)

    def pool(self) -> SlotPool:
        if self._pool is None:
            self._pool = SlotPool(self.concurrency, uids=self._uids, tag="bwrap", privileged=self.privileged)
        return self._pool

    def slot_uids(self) -> list[int]:
        """The host uids runs execute as (claimed exclusively as root; the server's own uid otherwise)."""
        return [slot.uid for slot in self.pool().slots]

    async def _forkserver_or_none(self) -> ForkServer | None:
        """The one fork server, started by whichever run needs it first while the others wait."""
        if not self._use_forkserver:
            return None
        if self._forkserver is not None:
            return self._forkserver
        async with self._forkserver_lock:
            if self._forkserver is None and self._use_forkserver:
                try:
                    self._forkserver = await ForkServer.start(
                        self._mounts, warm=min(self.concurrency, 4), preload=self._preload
                    )
                except (OSError, SandboxError) as exc:
                    log.warning("python fork server unavailable, falling back to bwrap per run: %s", exc)
                    self._use_forkserver = False
        return self._forkserver

    async def isolation_gaps(self) -> list[str]:
        """What this host lacks of the full design (root, per-slot uids and cgroups, a working bwrap); [] when nothing.

        The check is a real run through bwrap, so what Docker or Kubernetes forbid (a
        masked /proc, a seccomp or AppArmor profile that refuses namespaces) shows up here.
        """

        gaps = missing_privileges(self.privileged, self.pool().slots)
        trial = await self._trial_run()
        if trial.status is not ExecStatus.OK:
            why = trial.reason or trial.stderr.decode("utf-8", "replace").strip()
            gaps.append(f"bwrap cannot start a sandbox here: {why}{bwrap_failure_hint(trial)}")
        return gaps

    async def _trial_run(self) -> Execution:
        """`true` through bwrap per run (the path compiled languages always take)."""
        job = Job(self._languages[0] if self._languages else "bash", {}, command=("true",))
        async with self.pool().acquire() as slot:
            with cleared_after(slot):
                try:
                    mount_workdir(slot, job.limits.workdir_bytes)
                    return await self._phase(slot, ["true"], job.limits, b"", job)
                except OSError as exc:
                    return sandbox_error(f"bwrap backend setup failed: {exc}", self.name)

    async def _compile(self, job: Job, recipe: Recipe, entry: str) -> Program | Execution:
        """The compile phase in a fresh work dir of one slot; what it leaves there is the program."""
        assert recipe.compile is not None
        limits = compile_limits(job, recipe)
        started = time.monotonic()
        async with self.pool().acquire() as slot:
            with cleared_after(slot):
                try:
                    mount_workdir(slot, limits.workdir_bytes)
                    write_files(slot, job.file_bytes())
                    comp = await self._phase(slot, recipe.argv(recipe.compile, entry), limits, b"", job)
                    output = (comp.stdout + comp.stderr).decode("utf-8", "replace")
                    if comp.status is not ExecStatus.OK:
                        return compile_failed(comp, time.monotonic() - started, output, self.name)
                    if slot.cgroup is not None:
                        slot.cgroup.kill_all()  # nothing of the compile step may still be writing
                    try:
                        return compiled(job, recipe, entry, slot.workdir, limits.workdir_bytes, output)
                    except CompiledTooLarge as exc:
                        too_large = dataclasses.replace(comp, status=ExecStatus.NONZERO_EXIT, reason=str(exc))
                        return compile_failed(too_large, time.monotonic() - started, output, self.name)
                except OSError as exc:
                    return sandbox_error(f"bwrap backend setup failed: {exc}", self.name, time.monotonic() - started)

    async def _run_program(self, job: Job, program: Program, stdin: bytes) -> Execution:
        """One run: on the fork server when there is one, else bwrap in a fresh work dir."""
        started = time.monotonic()
        async with self.pool().acquire() as slot:
            server = await self._forkserver_or_none()
            if server is not None:
                return await server.run(job, program, stdin, slot)
            with cleared_after(slot):
                try:
                    mount_workdir(slot, run_workdir_bytes(job.limits, program))
                    write_files(slot, dict(program.files), program.executables)
                    return await self._phase(slot, list(program.argv), job.limits, stdin, job)
                except OSError as exc:
                    return sandbox_error(f"bwrap backend setup failed: {exc}", self.name, time.monotonic() - started)

    async def _runs(self, job: Job, program: Program, stdins: list[bytes]) -> AsyncGenerator[Execution, None]:
        """Many runs on the fork server: one sandbox per program, a fresh process per run, in one slot."""
        server = await self._forkserver_or_none() if len(stdins) > 1 else None
        if server is None:
            async with contextlib.aclosing(super()._runs(job, program, stdins)) as runs:
                async for execution in runs:
                    yield execution
            return
        async with self.pool().acquire() as slot:
            try:
                async with contextlib.aclosing(server.run_many(job, program, stdins, slot)) as runs:
                    async for execution in runs:
                        yield execution
            finally:
                if slot.cgroup is not None:
                    slot.cgroup.kill_all()

    def _argv(
        self, slot: Slot, limits: Limits, argv: list[str], env: dict[str, str], seccomp_fd: int, status_fd: int
    ) -> list[str]:
        args = [
            self.bwrap,
            "--unshare-all",
            "--unshare-user",
            "--disable-userns",
            "--die-with-parent",
            "--new-session",
            "--cap-drop",
            "ALL",
            "--hostname",
            "sandbox",
            "--uid",
            str(slot.uid),
            "--gid",
            str(slot.gid),
        ]
        for m in self._mounts:
            args += ["--symlink", m.symlink, m.dest] if m.symlink else ["--ro-bind", m.source, m.dest]
        args += ["--dev", "/dev"]  # bwrap's minimal /dev: null, zero, full, random, urandom, tty, shm
        args += [
            "--proc",
            "/proc",
            "--bind",
            str(slot.workdir),
            WORKDIR,
            "--size",
            str(limits.workdir_bytes),
            "--tmpfs",
            "/tmp",
            "--remount-ro",
            "/",
            "--chdir",
            WORKDIR,
            "--seccomp",
            str(seccomp_fd),
            "--json-status-fd",
            str(status_fd),
        ]
        for key, value in env.items():
            args += ["--setenv", key, value]
        return [*args, "--", *argv]

    async def _phase(self, slot: Slot, argv: list[str], limits: Limits, stdin: bytes, job: Job) -> Execution:
        """One bwrap invocation under `limits`; never raises for the program's behaviour."""
        cg = slot.cgroup
        if cg is not None:
            cg.prepare(limits.memory_bytes, limits.processes + BWRAP_PROCESS_OVERHEAD)
        procs_fds = cg.procs_fds() if cg is not None else []
        seccomp_fd = seccomp.bpf_fd()
        raw = RawOutcome()
        started = time.monotonic()
        (in_r, in_w), (out_r, out_w), (err_r, err_w), (st_r, st_w) = os.pipe(), os.pipe(), os.pipe(), os.pipe()
        rlimits = _rlimits.rlimits(limits, job.language, cgroup=cg is not None)
        try:
            os.set_inheritable(seccomp_fd, True)
            cmd = self._argv(slot, limits, argv, sandbox_env(dict(job.env)), seccomp_fd, st_w)
            proc = await asyncio.create_subprocess_exec(
                *cmd,
                stdin=in_r,
                stdout=out_w,
                stderr=err_w,
                env={},
                pass_fds=(seccomp_fd, st_w),
                start_new_session=True,
                preexec_fn=_preexec(slot, procs_fds, rlimits, self.privileged),
            )
        except OSError as exc:
            for fd in (in_w, out_r, err_r, st_r):
                os.close(fd)
            return sandbox_error(f"could not start bwrap: {exc}", self.name)
        finally:
            for fd in (seccomp_fd, in_r, out_w, err_w, st_w):  # the slot keeps its cgroup fds
                os.close(fd)
        output = RunOutput(out_r, err_r, limits.output_bytes, _killer(proc, slot))
        raw.wall_timeout = await output.supervise(
            proc.wait(), limits.wall_time_s, [asyncio.ensure_future(feed(in_w, stdin))]
        )
        raw.output_overflow = output.overflowed
        await proc.wait()  # killed by now
        exec_reached = EXEC_REACHED in read_available(st_r, close=True)
        rc = proc.returncode
        if rc is not None and rc < 0:
            raw.signal = -rc
        elif rc is not None and rc > 128 and rc - 128 in signal.valid_signals():
            raw.signal = rc - 128  # bwrap reports a child killed by a signal as 128 + signo
        else:
            raw.exit_code = rc
        wall = time.monotonic() - started
        raw.cpu_time_s = (cg.cpu_time_s() if cg is not None else None) or 0.0
        failed = raw.signal is not None or bool(raw.exit_code)
        raw.memory_hit = failed and ((cg is not None and cg.hit_memory_limit()) or looks_like_oom(output.err.data))
        if not (exec_reached or raw.wall_timeout or raw.output_overflow or raw.memory_hit):
            # bwrap ended without reaching the program (set-up or exec failed), by nothing the program did.
            raw.error = "bwrap failed: " + (output.err.data.decode("utf-8", "replace").strip() or f"exit code {rc}")
        return finish(
            raw,
            limits,
            **output.streams(),
            wall_time_s=wall,
            peak_memory_bytes=cg.peak_memory() if cg is not None else None,
            backend=self.name,
        )

    def claim_session_uids(self, max_trees: int) -> list[int]:
        """Claim the uids of `max_trees` session trees now (two each: the sessions', their judges'); idempotent.

        Drawn from the same range as the slots and claimed the same way (exclusively, by
        flock; see _claims.py), so no other server on this kernel runs anything as them.
        SandboxError naming the holders when the range has too few free. A no-op where
        sessions cannot run (not privileged): `sessions()` says why then.
        """
        if self.privileged and not self._session_uids:
            self.pool()  # the slots' uids first: a server's jobs never wait on its sessions' claims
            self._session_uids = claim_uids(self._uids, 2 * max_trees, purpose=f"{max_trees} session trees")
        return [claim.uid for claim in self._session_uids]

    def sessions_unavailable(self) -> str | None:
        """Why opening a session would fail here (checked ahead, for the server's start-up log), or None."""
        if not self._use_forkserver:
            return "sessions need the fork server (host root, a C compiler, cgroups)"
        from .sessions import sessions_unavailable_reason

        return sessions_unavailable_reason()

    async def sessions(self, *, max_trees: int = 64) -> SessionHost:
        """The session host on this backend's fork server (started on first use).

        Sessions run as uids claimed by `claim_session_uids` (claimed here if not yet, for
        `max_trees` trees). Raises SessionError where sessions cannot run (not root, no fork
        server, see `sessions_unavailable`; no free uids).
        """
        from ._session_types import SessionError
        from .sessions import SessionHost

        async with self._sessions_lock:
            if self._sessions is not None:
                return self._sessions
            if not self._use_forkserver:
                raise SessionError(str(self.sessions_unavailable()))
            try:
                uids = self.claim_session_uids(max_trees)
            except SandboxError as exc:
                raise SessionError(str(exc)) from None
            if self._session_server is None:
                try:
                    self._session_server = await ForkServer.start(self._mounts, warm=2, sessions=True)
                except (OSError, SandboxError) as exc:
                    raise SessionError(f"the session fork server did not start: {exc}") from None
            server = self._session_server
            self._sessions = await SessionHost.start(server, uids=uids, python=server.python)
            return self._sessions

    async def aclose(self) -> None:
        if self._sessions is not None:
            await self._sessions.aclose()
            self._sessions = None
        if self._session_server is not None:
            await self._session_server.aclose()
            self._session_server = None
        if self._forkserver is not None:
            await self._forkserver.aclose()
            self._forkserver = None
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        for claim in self._session_uids:
            claim.release()
        self._session_uids.clear()


def _killer(proc: asyncio.subprocess.Process, slot: Slot) -> Callable[[], None]:
    def kill() -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        if slot.cgroup is not None:
            slot.cgroup.kill_all()

    return kill
