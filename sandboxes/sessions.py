"""Host side of sessions: stateful sandboxed interpreters that live across calls, forked copy-on-write.

A root session is a fork-server run process that serves cells instead of running one job
(_session_runtime.py). Forks are made inside the session (so memory is copy-on-write of the
live interpreter) and set up from outside (_keeper.py). The pieces, by process:

- **this module (the host)**: opens sessions through the zygote, owns each session's ctrl
  socket, output pipes and cgroup, enforces wall and CPU limits of cells (a cell past its
  limit plus a grace is killed with its session), decides each fork's unshare through the
  session's seccomp listener (_seccomp_notify.py), and keeps a tree per root session.
- **the keeper** (root): mounts a copy's private file systems, maps its ids, checks it.
- **the runtime** (in the sandbox): cells, fork children, detaching a copy from its parent.

Lifetime. Every session of a tree lives in pid namespaces nested in the root's: the root's
chain init (from the zygote) is the tree's last holder, and each fork's reaper holds its own
namespaces. Closing a session kills its cgroup (every process it started); a holder is
killed once its session and every fork below it are closed, which frees the namespaces and
the file systems. If this process dies, the zygote's death kills every chain init and with
them every session. Nothing here knows about rewards, gRPC or trainers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import marshal
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import session_protocol as proto
from ._claims import OwnedDir
from ._io import CappedReader, feed
from ._keeper_client import KeeperClient, inode
from ._layout import sandbox_env
from ._seccomp_notify import NotifyListener, parent_pid
from ._session_io import Channel, Output, StatusPipe, exit_text, kill_pidfd, pidfd
from ._session_types import LANGUAGES, CellResult, CellStatus, SessionError, SessionLimits, SessionLost, SessionsFull
from ._slots import RUN_DIR, collect_stale
from ._types import ExecStatus, Execution, SandboxError
from .cgroups import CgroupSlot

if TYPE_CHECKING:
    from .forkserver import ForkServer

__all__ = [
    "CellResult",
    "CellStatus",
    "SandboxSession",
    "SessionError",
    "SessionHost",
    "SessionLimits",
    "SessionLost",
    "SessionsFull",
    "sessions_unavailable_reason",
    "zygote_session_setup",
]

#: A cell gets this long past its own limit to stop by itself before the host kills the session.
KILL_GRACE_S = 1.0
#: How often the CPU time of a running cell is checked against its limit.
CPU_POLL_S = 0.1
#: Starting a session or a copy (hello, setup, checks) must finish within this.
SETUP_TIMEOUT_S = 30.0
INODES = 16384
CGROUP_TAG = "session"
#: Reapers and other namespace holders: tiny, no memory limit of their own, many processes.
HOLDERS_PIDS = 1 << 14


def zygote_session_setup() -> dict[str, Any]:
    """What the zygote needs at setup to serve sessions: runtime sources, the session filter, the reaper mount.

    Raises SandboxError saying why when sessions cannot run here (a capability only sessions
    need; no reaper: no compiler and none shipped prebuilt; no seccomp user notification): the
    session fork server then does not start, and opening a session fails with that reason. Jobs
    are unaffected (their own server).
    """
    reaper, session_filter = _session_requirements()
    here = Path(__file__).parent
    return {
        "session_modules": {
            "session_protocol": (here / "session_protocol.py").read_text(),
            "_session_runtime": (here / "_session_runtime.py").read_text(),
        },
        "session_seccomp_hex": session_filter.hex(),
        "mounts": [{"dest": proto.REAPER_PATH, "source": str(reaper), "symlink": ""}],
    }


def sessions_unavailable_reason() -> str | None:
    """Why sessions cannot run on this host (beyond what jobs need), or None: for the server's start-up log."""
    try:
        _session_requirements()
    except SandboxError as exc:
        return str(exc)
    return None


def _session_requirements() -> tuple[Path, bytes]:
    """The reaper program and the session filter; SandboxError saying why when sessions cannot run here."""
    from . import seccomp
    from ._isolation import session_privilege_gap
    from ._native import SESSION_REAPER

    gap = session_privilege_gap()
    if gap:
        raise SandboxError(gap)
    try:
        return SESSION_REAPER.path(), seccomp.session_bpf_program()
    except Exception as exc:
        raise SandboxError(f"sessions cannot run here: {exc}") from exc


# ---------------------------------------------------------------------------------------------
# sessions
# ---------------------------------------------------------------------------------------------


@dataclass
class _Tree:
    """A root session and every fork below it: one uid pair, one seccomp listener, one chain init."""

    uid: int
    gid: int
    judge_uid: int
    listener: NotifyListener | None = None
    pending_unshares: dict[int, int] = field(default_factory=dict)
    """Interpreter host pid -> unshares still allowed to its children (a fork in progress)."""

    def allow(self, pid: int) -> bool:
        parent = parent_pid(pid)
        left = self.pending_unshares.get(parent, 0)
        if left <= 0:
            return False
        self.pending_unshares[parent] = left - 1
        return True


class SandboxSession:
    """One session (a root or a fork). Methods are safe to call concurrently: they run one at a time."""

    def __init__(
        self,
        host: SessionHost,
        tree: _Tree,
        parent: SandboxSession | None,
        language: str,
        limits: SessionLimits,
        channel: Channel,
        outputs: tuple[Output, Output],
        cgroup: CgroupSlot,
    ) -> None:
        self.host, self.tree, self.parent, self.language, self.limits = host, tree, parent, language, limits
        self.channel, self.stdout, self.stderr, self.cgroup = channel, outputs[0], outputs[1], cgroup
        self.pid = -1
        """The interpreter's host pid (once known)."""
        self.interpreter = -1
        """pidfd of the interpreter."""
        self.holder = -1
        """pidfd of what holds this session's namespaces: the chain init (root) or the reaper (fork)."""
        self.children: list[SandboxSession] = []
        self.closed = False
        self.collected = False
        self.lost_reason = ""
        self._lock = asyncio.Lock()

    @property
    def alive(self) -> bool:
        return not self.closed and not self.lost_reason and not self.channel.closed

    # -- cells ----------------------------------------------------------------------------------

    async def run(
        self, code: str, *, timeout_s: float | None = None, cpu_s: float | None = None, language: str | None = None
    ) -> CellResult:
        """Run one cell. Never raises for what the cell does; raises SessionLost if the session was already gone.

        `language` "bash" runs a shell cell in a Python session (same files, the shell's own state).
        """
        if language not in (None, self.language, "bash"):
            raise SessionError(f"a {self.language} session cannot run {language} cells")
        timeout_s = self.limits.cell_wall_time_s if timeout_s is None else timeout_s
        cpu_s = self.limits.cell_cpu_time_s if cpu_s is None else cpu_s
        async with self._lock:
            self._require_alive()
            started = time.monotonic()
            cpu_before = self.cgroup.cpu_time_s() or 0.0
            message = {"op": "run", "code": code, "timeout_s": timeout_s, "cpu_s": cpu_s}
            if language is not None:
                message["language"] = language
            await self.channel.send(message)
            reply, killed = await self._await_cell(started + timeout_s + KILL_GRACE_S, cpu_before, cpu_s)
            wall = time.monotonic() - started
            cpu = max(0.0, (self.cgroup.cpu_time_s() or 0.0) - cpu_before)
            stdout, out_cut = self.stdout.take(self.limits.output_bytes)
            stderr, err_cut = self.stderr.take(self.limits.output_bytes)
            base = CellResult(
                CellStatus.OK,
                stdout,
                stderr,
                stdout_truncated=out_cut,
                stderr_truncated=err_cut,
                wall_time_s=wall,
                cpu_time_s=cpu,
            )
            if killed:
                what = f"{timeout_s:g}s of wall time" if killed == "wall" else f"{cpu_s:g}s of CPU time"
                error = f"the cell ran past {what} and did not stop: the session was killed and its state is lost"
                return replace(base, status=CellStatus.TIMEOUT, error=error, session_lost=True)
            if reply is not None and reply.get("status") not in proto.CELL_STATUSES:
                await self._lose("the session answered a cell with nonsense")
                reply = None
            if reply is None:
                return replace(base, status=CellStatus.LOST, error=self.lost_reason, session_lost=True)
            return replace(
                base,
                status=CellStatus(reply["status"]),
                error=str(reply.get("error", ""))[: proto.MAX_ERROR_CHARS],
                result=str(reply.get("result", ""))[: proto.MAX_RESULT_CHARS + 64],
            )

    async def _await_cell(self, deadline: float, cpu_before: float, cpu_s: float) -> tuple[dict[str, Any] | None, str]:
        """(the done frame, "") or (None, why it was killed: "wall" / "cpu"), or (None, "") if the session died."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                await self._lose("a cell ran past its time limit and was killed")
                return None, "wall"
            try:
                message, fds = await self.channel.receive(min(left, CPU_POLL_S))
            except TimeoutError:
                if (self.cgroup.cpu_time_s() or 0.0) - cpu_before > cpu_s + KILL_GRACE_S:
                    await self._lose("a cell ran past its CPU time limit and was killed")
                    return None, "cpu"
                continue
            except SessionLost:
                await self._lose(self._death_reason())
                return None, ""
            for fd in fds:
                os.close(fd)
            if message.get("op") == "done":
                return message, ""

    # -- forks ----------------------------------------------------------------------------------

    async def fork(self, count: int) -> list[SandboxSession]:
        """`count` independent copies of this session (memory copy-on-write, files copied), each checked."""
        if count < 1 or count > 64:
            raise SessionError("a fork makes 1 to 64 copies at a time")
        async with self._lock:
            self._require_alive()
            return await self._fork(count, judge=False)

    async def _fork(self, count: int, *, judge: bool) -> list[SandboxSession]:
        host = self.host
        await host.ensure_keeper()
        plans = [host.new_copy_plan(self) for _ in range(count)]
        host.batches += 1
        for plan in plans:
            plan.batch = host.batches
        passed = [fd for plan in plans for fd in plan.theirs]
        inodes = [inode(fd) for fd in passed]
        self.tree.pending_unshares[self.pid] = count
        copies: list[SandboxSession] = []
        try:
            await self.channel.send({"op": "fork", "count": count}, passed)
            for fd in passed:
                os.close(fd)
            adoptions = [asyncio.ensure_future(self._adopt(plan, judge)) for plan in plans]
            try:
                forked = await self._await_op("forked", SETUP_TIMEOUT_S)
                results = await asyncio.gather(*adoptions, return_exceptions=True)
            except BaseException:
                for task in adoptions:
                    task.cancel()
                raise
            copies = [plan.session for plan in plans]
            failures = [r for r in results if isinstance(r, BaseException)]
            if forked.get("error"):
                failures.append(SessionError(str(forked["error"])))
            if failures:
                raise failures[0] if isinstance(failures[0], SessionError) else SessionError(str(failures[0]))
            await host.keeper.request("parent_clean", pid=self.pid, inodes=inodes)
        except BaseException:
            for plan in plans:
                await plan.session.close()
            raise
        finally:
            self.tree.pending_unshares.pop(self.pid, None)
        self.children.extend(copies)
        return copies

    async def _await_op(self, op: str, timeout_s: float) -> dict[str, Any]:
        try:
            message, fds = await self.channel.receive(timeout_s)
        except TimeoutError:
            await self._lose(f"the session did not answer {op!r} in time")
            raise SessionLost(self.lost_reason) from None
        except SessionLost:
            await self._lose(self._death_reason())
            raise SessionLost(self.lost_reason) from None
        for fd in fds:
            os.close(fd)
        if message.get("op") != op:
            raise SessionError(f"expected {op!r}, got {message.get('op')!r}: {message.get('error', '')}")
        return message

    async def _adopt(self, plan: _CopyPlan, judge: bool) -> None:
        """Make one copy usable: its pid from the kernel, its mounts and cgroup from outside, then the checks."""
        copy, host = plan.session, self.host
        await copy._await_op("hello", SETUP_TIMEOUT_S)
        pid = copy.channel.sender()
        if pid <= 0:
            raise SessionError("a copy's hello came from more than one process")
        copy.pid = pid
        copy.interpreter = pidfd(pid)
        reaper = _ns_pid_to_host(pid, 1)
        copy.holder = pidfd(reaper)
        tree, limits = self.tree, copy.limits
        await host.keeper.request(
            "adopt",
            pid=pid,
            parent=self.pid,
            uid=tree.uid,
            gid=tree.gid,
            judge_gid=tree.judge_uid if judge else None,
            work_bytes=limits.disk_bytes,
            tmp_bytes=limits.disk_bytes,
            inodes=INODES,
        )
        copy.cgroup.add(pid)
        host.holders.add(reaper)
        await copy.channel.send({"op": "go"})
        await copy._await_op("ready", SETUP_TIMEOUT_S)
        await host.keeper.request(
            "verify",
            pid=pid,
            parent=self.pid,
            reaper=reaper,
            uid=tree.uid,
            gid=tree.gid,
            sockets=[plan.socket_inode],
            pipes=plan.pipe_inodes,
            batch=plan.batch,
        )

    # -- judging a throwaway copy ------------------------------------------------------------

    async def judge(
        self,
        *,
        candidate_module: str,
        candidate_entry: str,
        candidate_args: Any,
        argv: Sequence[str],
        stdin: bytes,
        wall_time_s: float,
        output_bytes: int,
    ) -> Execution:
        """Run a judge program against a throwaway copy of this session; the session itself is unchanged.

        In the copy, `candidate_entry(namespace, fd, candidate_args)` from `candidate_module`
        serves the live namespace on a socket; the judge program runs in the copy's namespaces
        and cgroup under a uid of its own (not the session's, so nothing the session left
        running can reach its memory or fds), with that socket as fd 3. Returns the judge's
        Execution (stdout/stderr capped at `output_bytes`). argv[0] "python3" is the sandbox's Python.
        """
        async with self._lock:
            self._require_alive()
            (copy,) = await self._fork(1, judge=True)
        try:
            started = time.monotonic()
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            pipes = [os.pipe() for _ in range(4)]  # stdin, stdout, stderr, status
            (in_r, in_w), (out_r, out_w), (err_r, err_w), (st_r, st_w) = pipes
            try:
                await copy.channel.send(
                    {"op": "attach", "module": candidate_module, "entry": candidate_entry, "args": candidate_args},
                    [theirs.fileno()],
                )
                theirs.close()
                await copy._await_op("attached", SETUP_TIMEOUT_S)
                await self.host.keeper.request(
                    "spawn",
                    [in_r, out_w, err_w, ours.fileno(), st_w, *copy.cgroup.procs_fds()],
                    pid=copy.pid,
                    uid=self.tree.judge_uid,
                    gid=self.tree.judge_uid,
                    argv=[self.host.python if argv[0] == "python3" else argv[0], *argv[1:]],
                    env=sandbox_env(),
                    rlimits=[[7, 256], [4, 0]],  # RLIMIT_NOFILE, RLIMIT_CORE
                )
            except BaseException:
                for fd in (in_w, out_r, err_r, st_r):
                    os.close(fd)
                raise
            finally:
                for fd in (in_r, out_w, err_w, st_w):
                    os.close(fd)
                ours.close()
                theirs.close()
            return await _collect_judge(copy, stdin, (in_w, out_r, err_r, st_r), wall_time_s, output_bytes, started)
        finally:
            await copy.close()  # also when attaching or spawning the judge failed: the copy is throwaway

    # -- ending ---------------------------------------------------------------------------------

    async def close(self) -> None:
        """Kill every process of this session now; its namespaces go once its forks are closed too."""
        if self.closed:
            return
        self.closed = True
        self.channel.close()
        self.stdout.close()
        self.stderr.close()
        kill_pidfd(self.interpreter)
        self.interpreter = -1
        await asyncio.get_running_loop().run_in_executor(None, self.cgroup.remove)
        self.host.collect(self)

    async def _lose(self, reason: str) -> None:
        """The session is unusable from now on: note why and kill what is left of it."""
        if not self.lost_reason:
            self.lost_reason = reason
        await asyncio.get_running_loop().run_in_executor(None, self.cgroup.kill_all)

    def _death_reason(self) -> str:
        if self.cgroup.hit_memory_limit():
            return f"the session ran out of memory ({self.limits.memory_bytes // (1 << 20)} MiB) and was killed"
        if self.cgroup.hit_pids_limit():
            return f"the session hit its process limit ({self.limits.processes}) and its interpreter died"
        return "the session's interpreter exited or was killed"

    def _require_alive(self) -> None:
        if self.closed:
            raise SessionLost("the session is closed")
        if self.lost_reason:
            raise SessionLost(self.lost_reason)
        if self.channel.closed:
            self.lost_reason = self._death_reason()
            raise SessionLost(self.lost_reason)


@dataclass
class _CopyPlan:
    """What the host prepares for one copy before asking for it: its channel, pipes and cgroup."""

    session: SandboxSession
    theirs: list[int]
    socket_inode: int
    pipe_inodes: list[int]
    batch: int = 0
    """Which fork request the copy belongs to (the keeper reads the parent once per request)."""


async def _collect_judge(
    copy: SandboxSession,
    stdin: bytes,
    fds: tuple[int, int, int, int],
    wall_time_s: float,
    output_bytes: int,
    started: float,
) -> Execution:
    from ._io import RunOutput

    in_w, out_r, err_r, st_r = fds
    output = RunOutput(out_r, err_r, output_bytes, copy.cgroup.kill_all)
    status = CappedReader(st_r, 4096, lambda: None, until=b"\n")
    feeder = asyncio.ensure_future(feed(in_w, stdin))
    timed_out = await output.supervise(asyncio.shield(status.done), wall_time_s, [feeder], also_close=[status])
    report: dict[str, Any] = {}
    with contextlib.suppress(ValueError):
        report = json.loads(status.data.decode("utf-8", "replace") or "{}")
    exit_code = report.get("exit_code") if isinstance(report.get("exit_code"), int) else None
    sig = report.get("signal") if isinstance(report.get("signal"), int) else None
    if timed_out:
        exec_status, reason = ExecStatus.TIMEOUT, f"the judge ran past {wall_time_s:g}s"
    elif output.overflowed:
        exec_status, reason = ExecStatus.OUTPUT_LIMIT, f"the judge wrote more than {output_bytes} bytes"
    elif exit_code == 0:
        exec_status, reason = ExecStatus.OK, ""
    elif exit_code is None and sig is None:
        exec_status, reason = ExecStatus.SANDBOX_ERROR, "the judge ended without a status"
    else:
        exec_status, reason = ExecStatus.NONZERO_EXIT, f"the judge ended with {report}"
    return Execution(
        exec_status,
        exit_code,
        sig,
        wall_time_s=time.monotonic() - started,
        cpu_time_s=copy.cgroup.cpu_time_s() or 0.0,
        peak_memory_bytes=copy.cgroup.peak_memory(),
        reason=reason,
        backend="bwrap-session",
        **output.streams(),
    )


def _ns_pid_to_host(pid: int, ns_pid: int) -> int:
    """Host pid of pid `ns_pid` in the pid namespace of `pid` (nsfs NS_GET_TGID_FROM_PIDNS, Linux >= 6.10)."""
    import fcntl

    from ._keeper import NS_GET_TGID_FROM_PIDNS

    with open(f"/proc/{pid}/ns/pid") as ns:
        return int(fcntl.ioctl(ns.fileno(), NS_GET_TGID_FROM_PIDNS, ns_pid))


# ---------------------------------------------------------------------------------------------
# the host
# ---------------------------------------------------------------------------------------------


class SessionHost:
    """Opens root sessions through a fork server and keeps what all sessions share: the keeper, uids, cgroups.

    `uids` are this host's alone (claimed exclusively, see _claims.py), taken two at a time:
    each root session and its forks run as the first of a pair, judges of its copies as the
    second. Its cgroups are named after a directory it owns by a lock (see _claims.OwnedDir),
    so whatever a crashed server left is collected by the next host, in any pid namespace.
    """

    def __init__(self, forkserver: ForkServer, *, uids: Sequence[int], python: str) -> None:
        if len(uids) < 2:
            raise SessionError("sessions need at least two uids (one session tree)")
        self.forkserver, self.python = forkserver, python
        self.uids = tuple(uids)
        """Every uid this host's sessions and judges may run as."""
        self._free_uids = [(uids[i], uids[i + 1]) for i in range(0, len(uids) - 1, 2)]
        self._serial = 0
        self.batches = 0
        self.keeper: KeeperClient = None  # type: ignore[assignment]  # set by start()
        self.holders: CgroupSlot = None  # type: ignore[assignment]
        self._dir: OwnedDir | None = None
        self.roots: set[SandboxSession] = set()

    @classmethod
    async def start(cls, forkserver: ForkServer, *, uids: Sequence[int], python: str) -> SessionHost:
        host = cls(forkserver, uids=uids, python=python)
        collect_stale(RUN_DIR, CGROUP_TAG)
        host._dir = OwnedDir.create(RUN_DIR, f"{CGROUP_TAG}.")
        holders = CgroupSlot.create(f"{host._dir.path.name}-holders")
        if holders is None:
            host._release_dir()
            raise SessionError("sessions need writable v1 memory and pids cgroups")
        holders.prepare(1 << 62, HOLDERS_PIDS)
        host.holders = holders
        try:
            host.keeper = await KeeperClient.start(python)
        except BaseException:
            holders.remove()
            host._release_dir()
            raise
        return host

    def _release_dir(self) -> None:
        if self._dir is not None:
            with contextlib.suppress(OSError):
                os.rmdir(self._dir.path)
            self._dir.release()
            self._dir = None

    async def ensure_keeper(self) -> None:
        """A keeper that died (killed by an operator, crashed) is replaced before the next fork needs it."""
        if not self.keeper.alive:
            await self.keeper.aclose()
            self.keeper = await KeeperClient.start(self.python)

    def _cgroup(self, limits: SessionLimits) -> CgroupSlot:
        self._serial += 1
        assert self._dir is not None
        cgroup = CgroupSlot.create(f"{self._dir.path.name}-{self._serial}")
        if cgroup is None:
            raise SessionError("cannot create a cgroup for the session")
        cgroup.prepare(limits.memory_bytes, limits.processes)
        return cgroup

    async def open(
        self,
        language: str,
        *,
        files: dict[str, bytes] | None = None,
        env: dict[str, str] | None = None,
        limits: SessionLimits | None = None,
    ) -> SandboxSession:
        """A new root session with `files` in /work; setup code is the caller's first cell."""
        if language not in LANGUAGES:
            raise SessionError(f"sessions run {' or '.join(LANGUAGES)}, not {language!r}")
        for path in files or {}:
            parts = path.split("/")
            if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
                raise SessionError(f"file path {path!r} must be relative, without '.' or '..' parts")
        limits = limits or SessionLimits()
        if not self._free_uids:
            raise SessionsFull(f"all {len(self.uids) // 2} session trees this host has uids for are in use")
        uid, judge_uid = self._free_uids.pop(0)
        tree = _Tree(uid=uid, gid=uid, judge_uid=judge_uid)
        cgroup = self._cgroup(limits)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        (out_r, out_w), (err_r, err_w), (pay_r, pay_w), (st_r, st_w) = (os.pipe() for _ in range(4))
        header = {
            "mode": "session",
            "uid": uid,
            "gid": uid,
            "workdir_bytes": limits.disk_bytes,
            "tmp_bytes": limits.disk_bytes,
            "inodes": INODES,
            "rlimits": _rlimits(limits),
        }
        payload = marshal.dumps({"files": dict(files or {}), "env": sandbox_env(dict(env or {})), "language": language})
        session = SandboxSession(
            self,
            tree,
            None,
            language,
            limits,
            Channel(ours),
            (Output(out_r, limits.output_bytes), Output(err_r, limits.output_bytes)),
            cgroup,
        )
        status = StatusPipe(st_r)  # before anything can fail: the handlers below read it
        try:
            try:
                await self.forkserver.send_session(
                    header, [theirs.fileno(), out_w, err_w, pay_r, st_w, *cgroup.procs_fds()]
                )
            except BaseException:
                os.close(pay_w)  # never handed to `feed`, which closes it
                raise
            finally:
                theirs.close()
                for fd in (out_w, err_w, pay_r, st_w):
                    os.close(fd)
            await feed(pay_w, payload)
            started = await status.line(SETUP_TIMEOUT_S)
            if "error" in started:
                raise SessionError(str(started["error"]))
            session.holder = pidfd(int(started["init"]))
            hello, fds = await session.channel.receive(SETUP_TIMEOUT_S)
            if hello.get("op") != "hello" or len(fds) != 1:
                for fd in fds:
                    os.close(fd)
                raise SessionError(f"the session did not start: {hello}")
            session.pid = session.channel.sender()
            session.interpreter = pidfd(session.pid)
            tree.listener = NotifyListener(fds[0], tree.allow)
        except (TimeoutError, SessionLost) as exc:
            ended = await status.line(1.0)  # a setup failure is reported there
            await session.close()
            said = session.stderr.take(4096)[0].decode("utf-8", "replace").strip()[-2000:]
            why = ended.get("error") or f"{exc or 'no answer'} ({exit_text(ended)}){': ' + said if said else ''}"
            raise SessionError(f"the session did not start: {why}") from None
        except BaseException:
            await session.close()
            raise
        finally:
            os.close(st_r)
        self.roots.add(session)
        return session

    def new_copy_plan(self, parent: SandboxSession) -> _CopyPlan:
        """The channel, pipes and cgroup of one copy of `parent`, before it exists."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        (out_r, out_w), (err_r, err_w) = os.pipe(), os.pipe()
        cgroup = self._cgroup(parent.limits)
        copy = SandboxSession(
            self,
            parent.tree,
            parent,
            parent.language,
            parent.limits,
            Channel(ours),
            (Output(out_r, parent.limits.output_bytes), Output(err_r, parent.limits.output_bytes)),
            cgroup,
        )
        theirs_fd = theirs.detach()
        return _CopyPlan(copy, [theirs_fd, out_w, err_w], inode(theirs_fd), [inode(out_w), inode(err_w)])

    def collect(self, session: SandboxSession) -> None:
        """Kill namespace holders no live session needs any more, from `session` up its tree."""
        node: SandboxSession | None = session
        while node is not None and node.closed and not node.collected:
            if any(not child.collected for child in node.children):
                return
            node.collected = True
            kill_pidfd(node.holder)
            node.holder = -1
            if node.parent is None:
                self.roots.discard(node)
                if node.tree.listener is not None:
                    node.tree.listener.close()
                self._free_uids.append((node.tree.uid, node.tree.judge_uid))
            node = node.parent

    async def aclose(self) -> None:
        for root in list(self.roots):
            for session in _walk(root):
                await session.close()
        await self.keeper.aclose()
        await asyncio.get_running_loop().run_in_executor(None, self.holders.remove)
        self._release_dir()


def _walk(root: SandboxSession) -> list[SandboxSession]:
    """Leaves first, so each close can collect its holder at once."""
    order: list[SandboxSession] = []
    for child in root.children:
        order += _walk(child)
    return [*order, root]


def _rlimits(limits: SessionLimits) -> list[tuple[int, int]]:
    import math
    import resource

    return [
        (resource.RLIMIT_CPU, math.ceil(limits.cpu_lifetime_s)),
        (resource.RLIMIT_FSIZE, limits.file_size_bytes),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_CORE, 0),
        # Counted per uid across a whole tree (forks share it): the pids cgroup is the real bound.
        (resource.RLIMIT_NPROC, 1 << 14),
        (resource.RLIMIT_MEMLOCK, 0),
        (resource.RLIMIT_MSGQUEUE, 0),
    ]
