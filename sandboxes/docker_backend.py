"""The Docker backend: the same contract through the Docker Engine API, one fresh container per job.

Containers are created ahead of time (a warm pool per image and limits) with no network,
a read-only root, every capability dropped, no-new-privileges, our seccomp deny list
profile, memory/pid/rlimit limits and tmpfs /work and /tmp; each is used for exactly one
phase (a compile, or one run) and then removed, so nothing can pass between runs. Files
go in as a tar stream on an exec's stdin (docker cp cannot write into tmpfs mounts); a
compile's work dir comes back the same way, as the program every run starts from. The
SDK is blocking, so each phase's engine calls run in a worker thread. An exec the engine
could not start has no pid: that is a sandbox error, never the program's exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import logging
import math
import os
import socket
import struct
import tarfile
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import seccomp
from ._fairness import FairScheduler
from ._layout import sandbox_env
from ._outcome import RawOutcome, compile_failed, finish, looks_like_oom
from ._program import CompiledTooLarge, Program, ProgramRunner, compile_limits, run_workdir_bytes
from ._types import ExecStatus, Execution, Job, Limits, SandboxError, sandbox_error
from .languages import LANGUAGES, Recipe

log = logging.getLogger(__name__)
USER = "65534:65534"
#: Each recipe's default image (the minbase image has bash as well as Python); others need images with
#: their toolchains, configured by the operator.
DEFAULT_IMAGES: dict[str, str] = {name: r.docker_image for name, r in LANGUAGES.items() if r.docker_image}


def _pool_key(image: str, limits: Limits) -> tuple[Any, ...]:
    return (
        image,
        limits.memory_bytes,
        limits.processes,
        limits.workdir_bytes,
        limits.open_files,
        limits.file_size_bytes,
        math.ceil(limits.cpu_time_s),
        limits.network,
    )


class DockerSandbox(ProgramRunner):
    """One container per phase from a warm pool; see the module docstring."""

    name = "docker"

    def __init__(
        self,
        *,
        images: Mapping[str, str] | None = None,
        concurrency: int | None = None,
        pool_size: int | None = None,
        client: Any = None,
    ) -> None:
        """`images` maps language -> image tag (default: the locally built Python image)."""
        import docker

        try:
            self.client = client or docker.from_env(timeout=30)
            self.client.ping()
        except Exception as exc:
            raise SandboxError(f"no Docker engine reachable: {exc}") from exc
        self.images = dict(images or DEFAULT_IMAGES)
        self.concurrency = concurrency or 2 * (os.cpu_count() or 1)
        self.pool_size = pool_size if pool_size is not None else self.concurrency
        self._slots = FairScheduler(self.concurrency)
        self._pools: dict[tuple[Any, ...], list[Any]] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._bg: set[asyncio.Future[Any]] = set()
        self._recycler = ThreadPoolExecutor(max_workers=4, thread_name_prefix="docker-recycle")

    def languages(self) -> list[str]:
        return [lang for lang in self.images if lang in LANGUAGES]

    # -- containers ---------------------------------------------------------------------------

    def _create(self, image: str, limits: Limits) -> Any:
        from docker.types import Ulimit

        cpu = math.ceil(limits.cpu_time_s)
        # exec: compiled programs run from the work dir (Docker's tmpfs default is noexec).
        tmpfs_opts = f"size={limits.workdir_bytes},mode=0700,uid=65534,gid=65534,nosuid,nodev,exec"
        return self.client.containers.run(
            image,
            ["sleep", "infinity"],
            detach=True,
            user=USER,
            working_dir="/work",
            network_mode="bridge" if limits.network else "none",
            read_only=True,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges", f"seccomp={seccomp.docker_profile()}"],
            mem_limit=limits.memory_bytes,
            memswap_limit=limits.memory_bytes,
            pids_limit=limits.processes + 1,  # + the idle `sleep` (pid 1)
            ipc_mode="private",
            init=False,
            environment={},
            tmpfs={"/work": tmpfs_opts, "/tmp": f"size={limits.workdir_bytes},mode=1777,nosuid,nodev"},
            ulimits=[
                Ulimit(name="nofile", soft=limits.open_files, hard=limits.open_files),
                Ulimit(name="fsize", soft=limits.file_size_bytes, hard=limits.file_size_bytes),
                Ulimit(name="cpu", soft=cpu, hard=cpu + 1),
                Ulimit(name="core", soft=0, hard=0),
            ],
            labels={"sandboxes.backend": "docker"},
            auto_remove=False,
            stop_signal="SIGKILL",
        )

    def _take(self, image: str, limits: Limits) -> Any:
        with self._lock:
            pool = self._pools.setdefault(_pool_key(image, limits), [])
            if pool:
                return pool.pop()
        return self._create(image, limits)

    def _refill(self, image: str, limits: Limits) -> None:
        key = _pool_key(image, limits)
        with self._lock:
            if self._closed or len(self._pools.get(key, [])) >= self.pool_size:
                return
        container = self._create(image, limits)
        with self._lock:
            if not self._closed:
                self._pools.setdefault(key, []).append(container)
                return
        self._discard(container)

    def _discard(self, container: Any) -> None:
        with contextlib.suppress(Exception):
            container.remove(force=True)

    def warm(self, language: str = "python", limits: Limits | None = None) -> None:
        """Fill the pool for `language` now (blocking), e.g. at server start or before a benchmark."""
        for _ in range(self.pool_size):
            self._refill(self.images[language], limits or Limits())

    # -- runs -----------------------------------------------------------------------------------

    async def _compile(self, job: Job, recipe: Recipe, entry: str) -> Program | Execution:
        assert recipe.compile is not None
        limits = compile_limits(job, recipe)
        argv = recipe.argv(recipe.compile, entry)
        return await self._in_container(job, limits, lambda c, t0: self._compile_in(c, job, recipe, entry, argv, t0))

    async def _run_program(self, job: Job, program: Program, stdin: bytes) -> Execution:
        limits = dataclasses.replace(job.limits, workdir_bytes=run_workdir_bytes(job.limits, program))
        return await self._in_container(job, limits, lambda c, t0: self._run_in(c, job, program, stdin, t0))

    async def _in_container(self, job: Job, limits: Limits, phase: Any) -> Any:
        """`phase(container, started)` in a fresh container for `limits`, then the container is recycled."""
        image = self.images[job.language]
        caller = await self._slots.acquire()
        try:
            started = time.monotonic()
            try:
                container = await asyncio.to_thread(self._take, image, limits)
            except Exception as exc:
                return sandbox_error(f"could not start a container: {exc}", self.name)
            try:
                return await asyncio.to_thread(phase, container, started)
            except Exception as exc:
                return sandbox_error(f"docker run failed: {exc}", self.name, time.monotonic() - started)
            finally:
                # Kill what runs in it right away (cancellation included), remove it off the hot path.
                _kill_container_processes(container)
                task = asyncio.ensure_future(
                    asyncio.get_running_loop().run_in_executor(self._recycler, self._recycle, container, image, limits)
                )
                self._bg.add(task)
                task.add_done_callback(self._bg.discard)
        finally:
            self._slots.release(caller)

    def _recycle(self, container: Any, image: str, limits: Limits) -> None:
        self._discard(container)
        with contextlib.suppress(Exception):
            self._refill(image, limits)

    def _unpack(self, container: Any, tar: bytes, env: dict[str, str]) -> Execution | None:
        unpack = self._exec(container, ["tar", "-x", "-C", "/work", "-f", "-"], tar, env, Limits(output_bytes=65536))
        if unpack.status is not ExecStatus.OK:
            return sandbox_error(f"could not write the job's files: {unpack.stderr[:500]!r}", self.name)
        return None

    def _compile_in(
        self, container: Any, job: Job, recipe: Recipe, entry: str, argv: list[str], started: float
    ) -> Program | Execution:
        env = sandbox_env(dict(job.env))
        limits = compile_limits(job, recipe)
        failed = self._unpack(container, _tar(job.file_bytes(), frozenset()), env)
        if failed is not None:
            return failed
        comp = self._exec(container, argv, b"", env, limits)
        output = (comp.stdout + comp.stderr).decode("utf-8", "replace")
        if comp.status is not ExecStatus.OK:
            return compile_failed(comp, time.monotonic() - started, output, self.name)
        packed = self._exec(
            container, ["tar", "-c", "-C", "/work", "-f", "-", "."], b"", env, Limits(output_bytes=limits.workdir_bytes)
        )
        if packed.status is ExecStatus.OUTPUT_LIMIT:
            too_large = dataclasses.replace(comp, status=ExecStatus.NONZERO_EXIT, reason=str(CompiledTooLarge()))
            return compile_failed(too_large, time.monotonic() - started, output, self.name)
        if packed.status is not ExecStatus.OK:
            return sandbox_error(f"could not read the compiled program: {packed.stderr[:500]!r}", self.name)
        files, executables = _untar(packed.stdout)
        return Program(files, executables, tuple(recipe.argv(recipe.run, entry)), entry, False, output)

    def _run_in(self, container: Any, job: Job, program: Program, stdin: bytes, started: float) -> Execution:
        env = sandbox_env(dict(job.env))
        failed = self._unpack(container, _tar(dict(program.files), program.executables), env)
        return failed or self._exec(container, list(program.argv), stdin, env, job.limits)

    def _exec(self, container: Any, argv: list[str], stdin: bytes, env: dict[str, str], limits: Limits) -> Execution:
        api = self.client.api
        started = time.monotonic()
        exec_id = api.exec_create(container.id, argv, stdin=True, user=USER, workdir="/work", environment=env)["Id"]
        sock = api.exec_start(exec_id, socket=True)
        raw_sock: socket.socket = getattr(sock, "_sock", sock)
        raw = RawOutcome()
        streams = {1: bytearray(), 2: bytearray()}
        truncated = {1: False, 2: False}
        writer = threading.Thread(target=_send_stdin, args=(raw_sock, stdin), daemon=True)
        writer.start()
        deadline = started + limits.wall_time_s
        buf = bytearray()
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raw.wall_timeout = True
                    break
                raw_sock.settimeout(remaining)
                try:
                    chunk = raw_sock.recv(65536)
                except TimeoutError:
                    raw.wall_timeout = True
                    break
                if not chunk:
                    break
                buf += chunk
                while len(buf) >= 8:
                    kind, size = struct.unpack(">BxxxL", bytes(buf[:8]))
                    if len(buf) < 8 + size:
                        break
                    data, buf = bytes(buf[8 : 8 + size]), buf[8 + size :]
                    stream = streams.get(kind)
                    if stream is None:
                        continue
                    room = limits.output_bytes - len(stream)
                    stream += data[:room]
                    if len(data) > room:
                        truncated[kind] = True
                        raw.output_overflow = True
                if raw.output_overflow:
                    break
        finally:
            if raw.wall_timeout or raw.output_overflow:
                _kill_exec(api, exec_id)
            with contextlib.suppress(Exception):
                raw_sock.close()
            with contextlib.suppress(Exception):
                sock.close()
        info = api.exec_inspect(exec_id)
        code = info.get("ExitCode")
        if not info.get("Pid") and not info.get("Running") and not (raw.wall_timeout or raw.output_overflow):
            raw.error = (
                f"docker could not start {argv[0]}: "
                + bytes(streams[1] + streams[2])[:500].decode("utf-8", "replace").strip()
            )
        if raw.wall_timeout or raw.output_overflow:
            raw.signal = 9
        elif isinstance(code, int) and code > 128 and not info.get("Running"):
            raw.signal = code - 128
        elif isinstance(code, int) and not info.get("Running"):
            raw.exit_code = code
        failed = raw.signal is not None or bool(raw.exit_code)
        killed = raw.signal == 9 and not raw.wall_timeout and _oom_killed(container)
        raw.memory_hit = killed or (failed and looks_like_oom(bytes(streams[2])))
        return finish(
            raw,
            limits,
            stdout=bytes(streams[1]),
            stderr=bytes(streams[2]),
            stdout_truncated=truncated[1],
            stderr_truncated=truncated[2],
            wall_time_s=time.monotonic() - started,
            peak_memory_bytes=_peak_memory(container),
            backend=self.name,
        )

    async def aclose(self) -> None:
        with self._lock:
            self._closed = True
            containers = [c for pool in self._pools.values() for c in pool]
            self._pools.clear()
        if self._bg:
            await asyncio.gather(*self._bg, return_exceptions=True)
        for container in containers:
            await asyncio.to_thread(self._discard, container)
        self._recycler.shutdown(wait=True)
        await asyncio.to_thread(self.client.close)


def _kill_exec(api: Any, exec_id: str) -> None:
    """SIGKILL an exec'd process by its host pid (docker kill can stall ~10 s on a flooding exec)."""
    with contextlib.suppress(Exception):
        pid = api.exec_inspect(exec_id).get("Pid")
        if pid:
            os.kill(int(pid), 9)


def _kill_container_processes(container: Any) -> None:
    """SIGKILL every process of the container through its cgroup when the engine is local (fast, no API call)."""
    text = _cgroup_file(container, "cgroup.procs")
    for pid in (text or "").split():
        with contextlib.suppress(OSError):
            os.kill(int(pid), 9)


def _send_stdin(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):
        if data:
            sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)


def _tar(files: dict[str, bytes], executables: frozenset[str]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for rel, content in files.items():
            info = tarfile.TarInfo(rel)
            info.size, info.mtime = len(content), int(time.time())
            info.mode = 0o755 if rel in executables else 0o644
            tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def _untar(data: bytes) -> tuple[dict[str, bytes], frozenset[str]]:
    """The regular files of a tar stream (a compile's work dir) and which are executable; nothing else."""
    files: dict[str, bytes] = {}
    executables: set[str] = set()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for member in tar:
            rel = os.path.normpath(member.name)
            if not member.isreg() or rel.startswith(("/", "..")) or rel == ".":
                continue
            extracted = tar.extractfile(member)
            if extracted is None:
                continue
            files[rel] = extracted.read()
            if member.mode & 0o111:
                executables.add(rel)
    return files, frozenset(executables)


def _cgroup_file(container: Any, name: str) -> str | None:
    """Read the container's v1 memory cgroup when the engine is local (best effort)."""
    for base in (
        f"/sys/fs/cgroup/memory/docker/{container.id}",
        f"/sys/fs/cgroup/memory/system.slice/docker-{container.id}.scope",
    ):
        with contextlib.suppress(OSError), open(f"{base}/{name}") as f:
            return f.read()
    return None


def _oom_killed(container: Any) -> bool:
    text = _cgroup_file(container, "memory.oom_control")
    if text is None:
        return True  # SIGKILL without a timeout and no way to look: the memory limit is the likely cause
    return any(line.startswith("oom_kill ") and int(line.split()[1]) > 0 for line in text.splitlines())


def _peak_memory(container: Any) -> int | None:
    text = _cgroup_file(container, "memory.max_usage_in_bytes")
    return int(text) if text and text.strip().isdigit() else None
