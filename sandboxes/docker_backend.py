"""The Docker backend: the same contract through the Docker Engine API, one fresh container per job.

Containers are created ahead of time (a warm pool per image and limits) with no network,
a read-only root, every capability dropped, no-new-privileges, our seccomp deny list
profile, memory/pid/rlimit limits and tmpfs /work and /tmp; each is used for exactly one
job and then removed, so nothing can pass between jobs. Files go in as a tar stream on
an exec's stdin (docker cp cannot write into tmpfs mounts). The SDK is blocking, so each
job's engine calls run in a worker thread.

Known limit: the compile phase runs in the job's container, under the run limits'
memory/pids cgroup (its own wall time and rlimits apply).
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
from ._outcome import RawOutcome, compile_failed, finish
from ._types import DEFAULT_COMPILE_LIMITS, ExecStatus, Execution, Job, Limits, SandboxError, sandbox_error
from .docker_image import DEFAULT_TAG
from .languages import LANGUAGES

log = logging.getLogger(__name__)
USER = "65534:65534"
#: The minbase image has bash as well as Python; compiled languages need images with their toolchains.
DEFAULT_IMAGES: dict[str, str] = {"python": DEFAULT_TAG, "bash": DEFAULT_TAG}


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


class DockerSandbox:
    """One container per job from a warm pool; see the module docstring."""

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
        tmpfs_opts = f"size={limits.workdir_bytes},mode=0700,uid=65534,gid=65534,nosuid,nodev"
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

    async def run(self, job: Job) -> Execution:
        recipe = LANGUAGES.get(job.language)
        image = self.images.get(job.language)
        if recipe is None or image is None:
            return sandbox_error(f"no image configured for language {job.language!r}", self.name)
        entry = job.entrypoint or recipe.default_entrypoint
        caller = await self._slots.acquire()
        try:
            started = time.monotonic()
            try:
                container = await asyncio.to_thread(self._take, image, job.limits)
            except Exception as exc:
                return sandbox_error(f"could not start a container: {exc}", self.name)
            try:
                return await asyncio.to_thread(self._run_in, container, job, recipe, entry, started)
            except Exception as exc:
                return sandbox_error(f"docker run failed: {exc}", self.name, time.monotonic() - started)
            finally:
                # Kill what runs in it right away (cancellation included), remove it off the hot path.
                _kill_container_processes(container)
                task = asyncio.ensure_future(
                    asyncio.get_running_loop().run_in_executor(
                        self._recycler, self._recycle, container, image, job.limits
                    )
                )
                self._bg.add(task)
                task.add_done_callback(self._bg.discard)
        finally:
            self._slots.release(caller)

    def _recycle(self, container: Any, image: str, limits: Limits) -> None:
        self._discard(container)
        with contextlib.suppress(Exception):
            self._refill(image, limits)

    def _run_in(self, container: Any, job: Job, recipe: Any, entry: str, started: float) -> Execution:
        env = sandbox_env(dict(job.env))
        tar = _tar(job.file_bytes())
        unpack = self._exec(container, ["tar", "-x", "-C", "/work", "-f", "-"], tar, env, Limits(output_bytes=65536))
        if unpack.status is not ExecStatus.OK:
            return sandbox_error(f"could not write the job's files: {unpack.stderr[:500]!r}", self.name)
        compile_output = ""
        if recipe.compile and job.command is None:
            comp = self._exec(
                container, recipe.argv(recipe.compile, entry), b"", env, job.compile_limits or DEFAULT_COMPILE_LIMITS
            )
            compile_output = (comp.stdout + comp.stderr).decode("utf-8", "replace")
            if comp.status is not ExecStatus.OK:
                return compile_failed(comp, time.monotonic() - started, compile_output, self.name)
        argv = list(job.command) if job.command else recipe.argv(recipe.run, entry)
        result = self._exec(container, argv, job.stdin_bytes, env, job.limits)
        return dataclasses.replace(result, compile_output=compile_output)

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
        if raw.wall_timeout or raw.output_overflow:
            raw.signal = 9
        elif isinstance(code, int) and code > 128 and not info.get("Running"):
            raw.signal = code - 128
        elif isinstance(code, int) and not info.get("Running"):
            raw.exit_code = code
        raw.memory_hit = raw.signal == 9 and not raw.wall_timeout and _oom_killed(container)
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


def _tar(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for rel, content in files.items():
            info = tarfile.TarInfo(rel)
            info.size, info.mode, info.mtime = len(content), 0o644, int(time.time())
            tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


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
