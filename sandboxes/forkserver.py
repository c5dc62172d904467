"""Host side of the warm Python fork server: starts the zygote (_zygote.py) and runs jobs through it.

Why: a fresh bwrap + interpreter costs ~25 ms per run; forking a pre-started, pre-imported
interpreter into fresh namespaces costs a few. Isolation is per run, not per zygote:
each run is a new fork that gets new namespaces (its pid namespace's init is the small C
program init.c, built once by _init_library.py), new tmpfs mounts, the slot's cgroups,
rlimits, an unprivileged uid and the seccomp filter, and the zygote never sees job data.
Requires host root (the zygote creates namespaces without a user namespace so the
program runs as a real unprivileged host uid).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import marshal
import os
import socket
import subprocess
import time
from dataclasses import asdict
from pathlib import Path

from . import _rlimits, seccomp
from ._claims import OwnedDir, orphans
from ._init_library import init_library
from ._io import CappedReader, RunOutput, feed
from ._layout import Mount, sandbox_env
from ._outcome import RawOutcome, finish, looks_like_oom
from ._program import Program, run_workdir_bytes
from ._slots import RUN_DIR, Slot
from ._types import Execution, Job, Limits, SandboxError, sandbox_error

ZYGOTE = Path(__file__).with_name("_zygote.py")
#: The zygote's whole command line. Its source arrives as the first message on fd 0, so
#: neither its argv nor its code objects hold this checkout's path: every run is a fork
#: of the zygote and could read them.
BOOTSTRAP = "import os;exec(compile(os.read(0,1<<20),'sandbox-zygote','exec'),{'__name__':'__main__'})"
#: Only the program's own tree lives in the slot's cgroups (the namespace's C init stays outside).
PROCESS_OVERHEAD = 0
STATUS_CAP = 65536
ROOT_PREFIX = "zygote-root."


class ForkServer:
    """One zygote serving concurrent runs; restarted transparently if it dies."""

    name = "bwrap"

    def __init__(self, mounts: list[Mount], python: str, warm: int = 2) -> None:
        self.mounts, self.python, self.warm = mounts, python, warm
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._root: OwnedDir | None = None
        self._lock = asyncio.Lock()
        self._netns_fds: dict[int, int] = {}

    @classmethod
    async def start(cls, mounts: list[Mount], python: str = "/usr/bin/python3", warm: int = 2) -> ForkServer:
        """`warm`: chains (fresh namespaces with a pre-forked process) kept ready ahead of jobs."""
        if os.geteuid() != 0:
            raise SandboxError("the fork server needs host root")
        if not os.path.exists(python):
            raise SandboxError(f"{python} not found")
        server = cls(mounts, python, warm)
        await server._ensure()
        return server

    async def _ensure(self) -> socket.socket:
        async with self._lock:
            if self._proc is not None and self._proc.poll() is None and self._sock is not None:
                return self._sock
            self._stop()
            return await asyncio.get_running_loop().run_in_executor(None, self._spawn)

    def _spawn(self) -> socket.socket:
        Path("/run/sandboxes").mkdir(parents=True, exist_ok=True)
        init = init_library()  # before anything is started: a missing compiler fails cleanly here
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        _collect_stale_roots(RUN_DIR)
        self._root = OwnedDir.create(RUN_DIR, ROOT_PREFIX, mode=0o700)
        try:
            self._proc = subprocess.Popen(
                [self.python, "-I", "-B", "-c", BOOTSTRAP],
                stdin=child.fileno(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={},
                close_fds=True,
                start_new_session=True,
            )
        finally:
            child.close()
        setup = {
            "root": str(self._root.path),
            "mounts": [asdict(m) for m in self.mounts],
            "seccomp_hex": seccomp.bpf_program().hex(),
            "init": str(init),
            "warm": self.warm,
        }
        parent.settimeout(30)
        parent.send(ZYGOTE.read_bytes())
        parent.send(json.dumps(setup).encode())
        try:
            reply = parent.recv(65536).decode("utf-8", "replace")
        except OSError as exc:
            reply = f"error: {exc}"
        if reply != "ready":
            parent.close()
            self._stop()
            raise SandboxError(f"fork server did not start: {reply or 'exited'}")
        self._sock = parent
        return parent

    def _stop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=2.0)  # EOF on its socket: it drains its chains and exits
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self._proc.kill()
                self._proc.wait()
            self._proc = None
        if self._root is not None:
            with contextlib.suppress(OSError):
                os.rmdir(self._root.path)  # the zygote's tmpfs lived in its own mount namespace
            self._root.release()
            self._root = None

    async def run(self, job: Job, program: Program, stdin: bytes, slot: Slot) -> Execution:
        """One run of `program`: its entry in the pre-imported interpreter (Python), else its argv exec'd."""
        limits = job.limits
        started = time.monotonic()
        try:
            sock = await self._ensure()
        except SandboxError as exc:
            return sandbox_error(str(exc), self.name)
        cg = slot.cgroup
        if cg is None or slot.netns is None:
            return sandbox_error("the fork server needs cgroups and a slot network namespace", self.name)
        cg.prepare(limits.memory_bytes, limits.processes + PROCESS_OVERHEAD)
        header = {
            "uid": slot.uid,
            "gid": slot.gid,
            "mode": "python" if program.in_interpreter else "exec",
            "workdir_bytes": run_workdir_bytes(limits, program),
            "inodes": 16384,
            "rlimits": _rlimits.rlimits(limits, job.language, cgroup=True, helpers=0),
        }
        env = sandbox_env(dict(job.env))
        payload = marshal.dumps(
            {
                "files": dict(program.files),
                "executables": sorted(program.executables),
                "entry": program.entry,
                "args": [],
                "env": env,
                "argv": list(program.argv),
            }
        )
        pipes = [os.pipe() for _ in range(5)]  # stdin, stdout, stderr, payload, status
        (in_r, in_w), (out_r, out_w), (err_r, err_w), (pay_r, pay_w), (st_r, st_w) = pipes
        if slot.index not in self._netns_fds:
            self._netns_fds[slot.index] = os.open(slot.netns, os.O_RDONLY | os.O_CLOEXEC)
        procs = [self._netns_fds[slot.index], *cg.procs_fds()]  # kept open: sent as copies
        try:
            sock.sendmsg(
                [marshal.dumps(header)],
                [(socket.SOL_SOCKET, socket.SCM_RIGHTS, _fd_array([in_r, out_w, err_w, pay_r, st_w, *procs]))],
            )
        except OSError as exc:
            for fd in (in_w, out_r, err_r, pay_w, st_r):
                os.close(fd)
            return sandbox_error(f"fork server unreachable: {exc}", self.name)
        finally:
            for fd in (in_r, out_w, err_w, pay_r, st_w):
                os.close(fd)
        return await self._collect(stdin, payload, limits, slot, (in_w, out_r, err_r, pay_w, st_r), started)

    async def _collect(
        self,
        stdin: bytes,
        payload: bytes,
        limits: Limits,
        slot: Slot,
        fds: tuple[int, int, int, int, int],
        started: float,
    ) -> Execution:
        in_w, out_r, err_r, pay_w, st_r = fds
        cg = slot.cgroup
        assert cg is not None
        raw = RawOutcome()
        output = RunOutput(out_r, err_r, limits.output_bytes, cg.kill_all)
        # The zygote writes one JSON line when the run process exits; before it, R reports a setup
        # or exec failure of ours on the same pipe (a close-on-exec copy the program never holds).
        status = CappedReader(st_r, STATUS_CAP, lambda: None, until=b"\n")
        feeders = [asyncio.ensure_future(feed(pay_w, payload)), asyncio.ensure_future(feed(in_w, stdin))]
        raw.wall_timeout = await output.supervise(
            asyncio.shield(status.done), limits.wall_time_s, feeders, also_close=[status]
        )
        raw.output_overflow = output.overflowed
        report: dict[str, object] = {}
        for line in status.data.decode("utf-8", "replace").splitlines():
            with contextlib.suppress(ValueError):
                report.update(json.loads(line))
        if "error" in report:
            raw.error = str(report["error"])
        elif not raw.wall_timeout and not raw.output_overflow and not report:
            raw.error = "the run ended without a status report (killed from outside?)"
        raw.exit_code = report.get("exit_code") if isinstance(report.get("exit_code"), int) else None  # type: ignore[assignment]
        raw.signal = report.get("signal") if isinstance(report.get("signal"), int) else None  # type: ignore[assignment]
        raw.cpu_time_s = cg.cpu_time_s() or 0.0
        failed = raw.signal is not None or bool(raw.exit_code)
        raw.memory_hit = failed and (cg.hit_memory_limit() or looks_like_oom(output.err.data))
        if raw.wall_timeout and raw.exit_code is None and raw.signal is None:
            raw.signal = 9
        return finish(
            raw,
            limits,
            **output.streams(),
            wall_time_s=time.monotonic() - started,
            peak_memory_bytes=cg.peak_memory(),
            backend=self.name,
        )

    async def aclose(self) -> None:
        async with self._lock:
            self._stop()
            for fd in self._netns_fds.values():
                os.close(fd)
            self._netns_fds.clear()


def _collect_stale_roots(base: Path) -> None:
    """Remove root mount points of zygotes whose server died without closing (only dirs nobody owns)."""
    from ._slots import _pid_alive

    for path, claim in orphans(base, ROOT_PREFIX):
        with contextlib.suppress(OSError):
            os.rmdir(path)
        claim.release(unlink=True)
    for path in base.glob("zygote-root-*-*"):  # older versions named them by the server's pid
        pid = path.name.split("-")[2]
        if pid.isdigit() and not _pid_alive(int(pid)):
            with contextlib.suppress(OSError):
                os.rmdir(path)


def _fd_array(fds: list[int]) -> bytes:
    import array

    return array.array("i", fds).tobytes()
