"""Host side of the warm Python fork server: starts the zygote (_zygote.py) and runs jobs through it.

Why: a fresh bwrap + interpreter costs ~25 ms per run; forking a pre-started, pre-imported
interpreter into fresh namespaces costs a few. Isolation is per run, not per zygote:
each run is a new fork that gets new namespaces (its pid namespace's init is a small C
clone from zygote.c, built once by _native.py), new tmpfs mounts, the slot's cgroups,
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
from collections.abc import AsyncGenerator, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from . import _rlimits, seccomp
from ._claims import OwnedDir, orphans
from ._io import CappedReader, RunOutput, feed, read_available, start_feed
from ._layout import Mount, sandbox_env
from ._native import ZYGOTE_LIBRARY
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
#: The runner of many runs lives in the slot's cgroups beside each run.
RUNNER_PROCESSES = 1
#: How long a runner may take to set its sandbox up before it is given up.
RUNNER_START_S = 30.0
STATUS_CAP = 65536
ROOT_PREFIX = "zygote-root."
#: The zygote's whole environment. Every symbol bound at start: bound lazily, each run's fork
#: would look up and write (copy-on-write) the ones the zygote never called, ~12 pages a run.
#: A program never sees it: R replaces the environment with the job's before the program starts.
ZYGOTE_ENV = {"LD_BIND_NOW": "1"}
#: glibc's malloc on transparent huge pages (glibc >= 2.35; ignored by older ones): see `start`.
SESSION_ZYGOTE_ENV = {**ZYGOTE_ENV, "GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}


class ForkServer:
    """One zygote serving concurrent runs; restarted transparently if it dies."""

    name = "bwrap"

    def __init__(
        self,
        mounts: list[Mount],
        python: str,
        warm: int = 2,
        *,
        sessions: bool = False,
        preload: Mapping[str, str] | None = None,
    ) -> None:
        self.mounts, self.python, self.warm, self.sessions = mounts, python, warm, sessions
        self.preload = dict(preload or {})
        self._preloaded_sources = {f"{name}.py": source.encode() for name, source in self.preload.items()}
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._root: OwnedDir | None = None
        self._lock = asyncio.Lock()
        self._netns_fds: dict[int, int] = {}

    @classmethod
    async def start(
        cls,
        mounts: list[Mount],
        python: str = "/usr/bin/python3",
        warm: int = 2,
        *,
        sessions: bool = False,
        preload: Mapping[str, str] | None = None,
    ) -> ForkServer:
        """`warm`: chains (fresh namespaces with a pre-forked process) kept ready ahead of jobs.

        `preload`: trusted stdlib-only modules (name -> source, a module's imports first) the
        zygote imports once, as if from `/work/<name>.py`. A job that imports one of them gets
        it from sys.modules: no file to read, no bytecode to load, its pages shared with the
        zygote's. Jobs still ship their own copies (bwrap per run and other backends need them);
        here a copy identical to the preloaded source is left out of the work dir, with its
        bytecode (see `_work_files`): the program already holds what it would import.

        `sessions`: a zygote that serves sessions (see sessions.py) instead of jobs: it gets the
        session runtime, and its interpreter allocates on transparent huge pages, so that forking
        a session that holds hundreds of MB copies a few hundred page-table entries, not ~100k.
        """
        if os.geteuid() != 0:
            raise SandboxError("the fork server needs host root")
        if not os.path.exists(python):
            raise SandboxError(f"{python} not found")
        server = cls(mounts, python, warm, sessions=sessions, preload=preload)
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
        native = ZYGOTE_LIBRARY.path()  # before anything is started: a missing compiler fails cleanly here
        sessions: dict[str, Any] = {}
        if self.sessions:
            from .sessions import zygote_session_setup  # sessions.py imports this module

            sessions = zygote_session_setup()  # likewise what sessions lack here
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        _collect_stale_roots(RUN_DIR)
        self._root = OwnedDir.create(RUN_DIR, ROOT_PREFIX, mode=0o700)
        try:
            self._proc = subprocess.Popen(
                [self.python, "-I", "-B", "-c", BOOTSTRAP],
                stdin=child.fileno(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=SESSION_ZYGOTE_ENV if self.sessions else ZYGOTE_ENV,
                close_fds=True,
                start_new_session=True,
            )
        finally:
            child.close()
        setup = {
            "root": str(self._root.path),
            "mounts": [asdict(m) for m in self.mounts],
            "seccomp_hex": seccomp.bpf_program().hex(),
            "native": str(native),
            "warm": self.warm,
            "preload_modules": self.preload,
        }
        setup["mounts"] += sessions.pop("mounts", [])
        setup.update(sessions)
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
        started = time.monotonic()
        prepared = await self._prepare(job, program, slot, many=False)
        if isinstance(prepared, Execution):
            return prepared
        sock, header, payload = prepared
        pipes = [os.pipe() for _ in range(5)]  # stdin, stdout, stderr, payload, status
        (in_r, in_w), (out_r, out_w), (err_r, err_w), (pay_r, pay_w), (st_r, st_w) = pipes
        try:
            self._send(sock, header, [in_r, out_w, err_w, pay_r, st_w], slot)
        except OSError as exc:
            for fd in (in_w, out_r, err_r, pay_w, st_r):
                os.close(fd)
            return sandbox_error(f"fork server unreachable: {exc}", self.name)
        finally:
            for fd in (in_r, out_w, err_w, pay_r, st_w):
                os.close(fd)
        return await self._collect(stdin, payload, job.limits, slot, (in_w, out_r, err_r, pay_w, st_r), started)

    async def _prepare(
        self, job: Job, program: Program, slot: Slot, *, many: bool
    ) -> tuple[socket.socket, bytes, bytes] | Execution:
        """The warm zygote's socket and the request for `program`, with the slot's cgroup set for it.

        A sandbox error (as an Execution) when the fork server cannot start or the slot lacks
        the cgroup or network namespace every run here is confined by.
        """
        try:
            sock = await self._ensure()
        except SandboxError as exc:
            return sandbox_error(str(exc), self.name)
        cg = slot.cgroup
        if cg is None or slot.netns is None:
            return sandbox_error("the fork server needs cgroups and a slot network namespace", self.name)
        limits = job.limits
        cg.prepare(limits.memory_bytes, limits.processes + PROCESS_OVERHEAD + (RUNNER_PROCESSES if many else 0))
        header, payload = self._request(job, program, slot, many=many)
        return sock, header, payload

    def _request(self, job: Job, program: Program, slot: Slot, *, many: bool) -> tuple[bytes, bytes]:
        """The header the zygote hands R, and the payload R reads after its set-up."""
        limits = job.limits
        header = {
            "uid": slot.uid,
            "gid": slot.gid,
            "mode": "python" if program.in_interpreter else "exec",
            "workdir_bytes": run_workdir_bytes(limits, program),
            "inodes": 16384,
            # the runner of many runs is one more process of the program's uid
            "rlimits": _rlimits.rlimits(limits, job.language, cgroup=True, helpers=RUNNER_PROCESSES if many else 0),
            "many": many,
        }
        payload = {
            "files": self._work_files(program.files),
            "executables": sorted(program.executables),
            "entry": program.entry,
            "args": [],
            "env": sandbox_env(dict(job.env)),
            "argv": list(program.argv),
        }
        return marshal.dumps(header), marshal.dumps(payload)

    def _work_files(self, files: Mapping[str, bytes]) -> dict[str, bytes]:
        """`files` less the copies of preloaded modules: `NAME.py` identical to what the zygote imported as NAME,
        and that module's bytecode under `__pycache__/`. Writing them cost each harness job ~10% of its time."""
        preloaded = {path for path, content in files.items() if self._preloaded_sources.get(path) == content}
        modules = {path[: -len(".py")] for path in preloaded}
        return {
            path: content
            for path, content in files.items()
            if path not in preloaded and _pyc_module(path) not in modules
        }

    def _send(
        self, sock: socket.socket, header: bytes, fds: list[int], slot: Slot, extra: tuple[int, ...] = ()
    ) -> None:
        """One request to the zygote: `fds` then the slot's network namespace and cgroups, then `extra`."""
        assert slot.cgroup is not None and slot.netns is not None
        if slot.index not in self._netns_fds:
            self._netns_fds[slot.index] = os.open(slot.netns, os.O_RDONLY | os.O_CLOEXEC)
        procs = [self._netns_fds[slot.index], *slot.cgroup.procs_fds()]  # kept open: sent as copies
        sock.sendmsg([header], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, _fd_array([*fds, *procs, *extra]))])

    async def run_many(
        self, job: Job, program: Program, stdins: list[bytes], slot: Slot
    ) -> AsyncGenerator[Execution, None]:
        """Every run of `program` in one sandbox whose runner forks a fresh process per run (_zygote.serve_runs).

        Between runs the runner puts the work dir, /tmp and /dev/shm back and everything a run left
        running is killed, so each run starts as a single run would; what the per-run namespaces
        cost is paid once per program. A runner that a run stopped, killed or outlived is
        replaced by a fresh sandbox for the runs still to come.
        """
        done = 0
        while done < len(stdins):
            runner = await _Runner.open(self, job, program, slot)
            if isinstance(runner, Execution):
                yield runner  # this input's run could not start: our error
                done += 1
                continue
            try:
                while done < len(stdins):
                    execution = await runner.run(stdins[done], job.limits)
                    if execution is None:
                        break  # the runner could not put the sandbox back: this input goes to a fresh one
                    yield execution
                    done += 1
                    if not runner.reusable:
                        break
            finally:
                await runner.close()

    async def send_session(self, header: dict[str, object], fds: list[int]) -> None:
        """Hand a session to a warm chain (see _session_runtime.enter for the fds); the fds stay the caller's."""
        sock = await self._ensure()
        sock.sendmsg([marshal.dumps(header)], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, _fd_array(fds))])

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
        # Not waiting for the killed to leave: the slot's next user does (CgroupSlot.prepare), off this run's path.
        output = RunOutput(out_r, err_r, limits.output_bytes, lambda: cg.kill_all(wait=False))
        # The zygote writes one JSON line when the run process exits; before it, R reports a setup
        # or exec failure of ours on the same pipe (a close-on-exec copy the program never holds).
        status = CappedReader(st_r, STATUS_CAP, lambda: None, until=b"\n")
        feeders = [start_feed(pay_w, payload), start_feed(in_w, stdin)]
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


class _Runner:
    """The host's side of one runner of many runs (see ForkServer.run_many and _zygote.serve_runs)."""

    def __init__(self, server: ForkServer, runs: socket.socket, status_r: int, slot: Slot, pid: int) -> None:
        self.server, self.runs, self.status_r, self.slot, self.pid = server, runs, status_r, slot, pid
        self.reusable = True

    @classmethod
    async def open(cls, server: ForkServer, job: Job, program: Program, slot: Slot) -> _Runner | Execution:
        """Hand the program to a warm chain as a runner; its sandbox is set up once it says "ready"."""
        prepared = await server._prepare(job, program, slot, many=True)
        if isinstance(prepared, Execution):
            return prepared
        sock, header, payload = prepared
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        (pay_r, pay_w), (st_r, st_w) = os.pipe(), os.pipe()
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)  # the runner's own stdio
        try:
            server._send(sock, header, [null, null, null, pay_r, st_w], slot, extra=(theirs.fileno(),))
        except OSError as exc:
            ours.close()
            for fd in (pay_w, st_r):
                os.close(fd)
            return sandbox_error(f"fork server unreachable: {exc}", server.name)
        finally:
            theirs.close()
            for fd in (null, pay_r, st_w):
                os.close(fd)
        ours.setblocking(False)
        runner = cls(server, ours, st_r, slot, 0)
        failure = await runner._started(payload, pay_w)
        if failure:
            await runner.close()
            return sandbox_error(failure, server.name)
        assert slot.cgroup is not None  # _prepare checked it
        pids = slot.cgroup.pids()
        if len(pids) != 1:
            await runner.close()
            return sandbox_error(f"the runner's cgroup holds {len(pids)} processes at its start", server.name)
        runner.pid = pids[0]
        return runner

    async def _started(self, payload: bytes, pay_w: int) -> str:
        """'' once the runner is ready; else why it is not (its set-up failed, or it never said)."""
        loop = asyncio.get_running_loop()
        feeder = asyncio.ensure_future(feed(pay_w, payload))
        ready = asyncio.ensure_future(loop.sock_recv(self.runs, 65536))
        try:
            reply = await asyncio.wait_for(ready, RUNNER_START_S)
        except TimeoutError:
            return "the fork server's runner did not start"
        finally:
            feeder.cancel()
        if reply == b"ready":
            return ""
        report = read_available(self.status_r)
        return _field(report, "error") or "the fork server's runner ended while setting up"

    async def run(self, stdin: bytes, limits: Limits) -> Execution | None:
        """One run (None: the runner could not put its sandbox back, the run did not happen)."""
        cg = self.slot.cgroup
        assert cg is not None
        cg.reset_counters()
        started = time.monotonic()
        raw = RawOutcome()
        (in_r, in_w), (out_r, out_w), (err_r, err_w) = os.pipe(), os.pipe(), os.pipe()
        try:
            self.runs.sendmsg([b"run"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, _fd_array([in_r, out_w, err_w]))])
        except OSError:
            self.reusable = False
            for fd in (in_w, out_r, err_r):
                os.close(fd)
            return None
        finally:
            for fd in (in_r, out_w, err_w):
                os.close(fd)
        output = RunOutput(out_r, err_r, limits.output_bytes, lambda: cg.kill_all(spare=self.pid))
        reply = asyncio.ensure_future(asyncio.get_running_loop().sock_recv(self.runs, STATUS_CAP))
        feeders = [start_feed(in_w, stdin)]
        try:
            raw.wall_timeout = await output.supervise(asyncio.shield(reply), limits.wall_time_s, feeders)
        finally:
            if not reply.done():
                reply.cancel()
                self.reusable = False  # its answer about this run is still to come: out of step with us
        raw.output_overflow = output.overflowed
        text = reply.result() if reply.done() and not reply.cancelled() else b""
        if b"restore_failed" in text:
            self.reusable = False
            return None
        report = _json(text)
        if "error" in report:
            raw.error = str(report["error"])
        exit_code, sig = report.get("exit_code"), report.get("signal")
        raw.exit_code = exit_code if isinstance(exit_code, int) else None
        raw.signal = sig if isinstance(sig, int) else None
        if not text and not raw.wall_timeout and not raw.output_overflow:
            raw.signal = 9  # the run stopped or killed its runner: it ended with it, by its own doing
            self.reusable = False
        if raw.wall_timeout and raw.exit_code is None and raw.signal is None:
            raw.signal = 9
        raw.cpu_time_s = cg.cpu_time_s() or 0.0
        failed = raw.signal is not None or bool(raw.exit_code)
        raw.memory_hit = failed and (cg.hit_memory_limit() or looks_like_oom(output.err.data))
        if raw.memory_hit:
            self.reusable = False
        return finish(
            raw,
            limits,
            **output.streams(),
            wall_time_s=time.monotonic() - started,
            peak_memory_bytes=cg.peak_memory(),
            backend=self.server.name,
        )

    async def close(self) -> None:
        """The runner exits once its socket closes; the zygote then ends its namespaces."""
        self.runs.close()
        os.close(self.status_r)


def _json(text: bytes) -> dict[str, object]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _field(text: bytes, key: str) -> str:
    for line in text.decode("utf-8", "replace").splitlines():
        value = _json(line.encode()).get(key)
        if value:
            return str(value)
    return ""


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


def _pyc_module(path: str) -> str | None:
    """NAME for a cached-bytecode path `__pycache__/NAME.<cache tag>.pyc` (the layout of PEP 3147), else None."""
    directory, _, name = path.rpartition("/")
    if directory != "__pycache__" or not name.endswith(".pyc") or name.count(".") < 2:
        return None
    return name.split(".", 1)[0]
