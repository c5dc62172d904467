"""Host side of the session keeper (_keeper.py): starts it and turns its request/answer protocol into awaitables."""

from __future__ import annotations

import array
import asyncio
import contextlib
import itertools
import json
import os
import socket
import subprocess
from pathlib import Path
from typing import Any

from . import seccomp
from ._session_types import SessionError

KEEPER = Path(__file__).with_name("_keeper.py")


class KeeperRefused(SessionError):
    """The keeper refused a request: a copy failed its checks, or its setup failed."""


class KeeperClient:
    """One keeper process; requests may overlap, answers are matched by id."""

    def __init__(self, proc: subprocess.Popen[bytes], sock: socket.socket) -> None:
        self._proc, self._sock = proc, sock
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        sock.setblocking(False)
        asyncio.get_running_loop().add_reader(sock.fileno(), self._readable)

    @classmethod
    async def start(cls, python: str) -> KeeperClient:
        def spawn() -> tuple[subprocess.Popen[bytes], socket.socket]:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                proc = subprocess.Popen(
                    [python, "-I", "-B", str(KEEPER)],
                    stdin=theirs.fileno(),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env={},
                    close_fds=True,
                    start_new_session=True,
                )
            finally:
                theirs.close()
            ours.settimeout(30)
            ours.send(json.dumps({"seccomp_hex": seccomp.bpf_program().hex()}).encode())
            if ours.recv(64) != b"ready":
                proc.kill()
                proc.wait()
                raise SessionError("the session keeper did not start")
            return proc, ours

        proc, sock = await asyncio.get_running_loop().run_in_executor(None, spawn)
        return cls(proc, sock)

    def _readable(self) -> None:
        try:
            data = self._sock.recv(1 << 20)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._fail_all("the session keeper exited")
            return
        reply = json.loads(data)
        future = self._waiting.pop(reply.get("id"), None)
        if future is not None and not future.done():
            future.set_result(reply)

    def _fail_all(self, why: str) -> None:
        with contextlib.suppress(ValueError, RuntimeError, OSError):
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(SessionError(why))
        self._waiting.clear()

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    async def request(self, op: str, fds: list[int] | tuple[int, ...] = (), **fields: Any) -> dict[str, Any]:
        """Send one request; raises KeeperRefused with the keeper's reason when it says no."""
        if self._proc.poll() is not None:
            raise SessionError("the session keeper is not running")
        ident = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = future
        data = json.dumps({"id": ident, "op": op, **fields}).encode()
        ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())] if fds else []
        try:
            self._sock.sendmsg([data], ancillary)
        except BlockingIOError:
            await asyncio.sleep(0.001)
            self._sock.sendmsg([data], ancillary)
        reply = await future
        if not reply.get("ok"):
            raise KeeperRefused(str(reply.get("error", "refused")))
        return reply

    async def aclose(self) -> None:
        self._fail_all("the session keeper was stopped")
        self._sock.close()
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.run_in_executor(None, self._proc.wait), 2.0)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
            await loop.run_in_executor(None, self._proc.wait)


def inode(fd: int) -> int:
    return os.fstat(fd).st_ino
