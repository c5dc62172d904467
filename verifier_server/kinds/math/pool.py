"""The math worker pool: processes the server owns, hard per-task deadlines, kill and replace.

Why processes and not threads: sympy can spin for minutes on a hostile input and
cannot be interrupted from another thread, and math-verify's own timeouts use
``signal.alarm`` which only works on a main thread. A process can always be killed.

Why a thread per worker on the parent side: each chunk is driven by one blocking
loop (send, then ``poll(deadline)`` per reply) on a dedicated thread, awaited from
asyncio through ``run_in_executor``. That keeps the pool independent of any one
event loop (tests run many loops; the server runs one) and needs no signals.

Workers start from a ``forkserver`` that has already imported sympy and
math-verify, so replacing a killed worker takes milliseconds and never forks the
multi-threaded gRPC server process itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from verifier_server.kinds.math.compare import CompareOptions, Verdict
from verifier_server.kinds.math.worker import GoldTask, PairTask, worker_main

log = logging.getLogger(__name__)

TIMEOUT = "timeout"
"""Marker in chunk results for a task that ran past its deadline (its worker was killed)."""
_STARTUP_TIMEOUT_S = 120.0

DEFAULT_MEMORY_MB = 1024
"""Address space a warm worker may add: ample for any real answer, far below a power tower's gigabytes."""

CRASHED = "crashed"
"""Marker for a task whose worker died under it (out of memory, a native crash)."""


@dataclass
class ChunkResult:
    """What came back for one chunk: per gold key whether it parsed, per pair its verdict or TIMEOUT."""

    golds: dict[str, bool | str] = field(default_factory=dict)
    pairs: dict[int, Verdict | str] = field(default_factory=dict)


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, context: Any, memory_mb: int) -> None:
        parent_conn, child_conn = context.Pipe(duplex=True)
        self.process = context.Process(
            target=worker_main, args=(child_conn, memory_mb), daemon=True, name="math-worker"
        )
        self.process.start()
        child_conn.close()
        self.conn: Connection = parent_conn

    def wait_ready(self, timeout_s: float) -> None:
        """Block until the worker has imported and warmed up, so start-up never eats an item's deadline."""
        try:
            ready = self.conn.poll(timeout_s) and self.conn.recv()[0] == "ready"
        except (OSError, EOFError):
            ready = False
        if not ready:
            self.kill()
            raise RuntimeError(f"math worker did not start within {timeout_s:g}s")

    def alive(self) -> bool:
        return bool(self.process.is_alive())

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()
        self.process.join(timeout=5)
        with contextlib.suppress(Exception):
            self.conn.close()

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.send(None)
        self.process.join(timeout=1)
        if self.process.is_alive():
            self.kill()
        with contextlib.suppress(Exception):
            self.conn.close()


class MathPool:
    """A fixed number of worker processes shared by every math verifier on the server."""

    def __init__(
        self, size: int | None = None, *, start_method: str = "forkserver", memory_mb: int = DEFAULT_MEMORY_MB
    ) -> None:
        self.size = size or os.cpu_count() or 1
        self.memory_mb = memory_mb
        """Address space each worker may add once warm (0: uncapped); past it sympy raises MemoryError."""
        self._context = multiprocessing.get_context(start_method)
        if start_method == "forkserver":
            self._context.set_forkserver_preload(["verifier_server.kinds.math.preload"])
        self._idle: queue.SimpleQueue[_Worker | None] = queue.SimpleQueue()
        self._executor = ThreadPoolExecutor(max_workers=self.size, thread_name_prefix="math-pool")
        self._workers: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        self.kills = 0
        """Workers killed for running past a deadline or found dead (for tests and metrics)."""
        self.pairs_sent = 0
        """(gold, answer) pairs handed to workers, resends excluded (for tests and metrics)."""
        # Start (and warm) the workers in the background now, so the first batch does not pay for it.
        threading.Thread(target=self._start_all, name="math-pool-start", daemon=True).start()

    def _start_all(self) -> None:
        for _ in range(self.size):
            worker: _Worker | None
            try:
                worker = self._replace(None)
            except Exception:
                log.exception("math worker failed to start; it will be retried on first use")
                worker = None
            self._idle.put(worker)

    async def run_chunk(
        self, options: CompareOptions, golds: Sequence[GoldTask], pairs: Sequence[PairTask], timeout_s: float
    ) -> ChunkResult:
        """Judge ``pairs`` (after parsing their ``golds``); each task gets ``timeout_s`` on its own."""
        if self._closed:
            raise RuntimeError("math worker pool is closed")
        self.pairs_sent += len(pairs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run_chunk_blocking, options, golds, pairs, timeout_s)

    def _run_chunk_blocking(
        self, options: CompareOptions, golds: Sequence[GoldTask], pairs: Sequence[PairTask], timeout_s: float
    ) -> ChunkResult:
        result = ChunkResult()
        worker = self._idle.get()
        try:
            pending_golds, pending_pairs = list(golds), list(pairs)
            while pending_golds or pending_pairs:
                if worker is None or not worker.alive():
                    worker = self._replace(worker)
                worker, pending_golds, pending_pairs = self._drive(
                    worker, options, pending_golds, pending_pairs, timeout_s, result
                )
        finally:
            self._idle.put(worker)
        return result

    def _drive(
        self,
        worker: _Worker,
        options: CompareOptions,
        golds: list[GoldTask],
        pairs: list[PairTask],
        timeout_s: float,
        result: ChunkResult,
    ) -> tuple[_Worker | Any, list[GoldTask], list[PairTask]]:
        """Send one chunk and collect replies until done or a deadline passes.

        Returns the worker to use next and the tasks still to do (empty when done).
        On a deadline the task in flight is marked TIMEOUT, the worker is killed and
        replaced, and the remaining tasks are returned for a resend.
        """
        try:
            worker.conn.send((options, golds, pairs))
        except (OSError, EOFError, BrokenPipeError):
            return self._replace(worker), golds, pairs
        gold_index = pair_index = 0
        while True:
            failure = TIMEOUT
            try:
                message = worker.conn.recv() if worker.conn.poll(timeout_s) else None
            except (OSError, EOFError):
                message, failure = None, CRASHED
            if message is None:
                self.kills += 1
                if gold_index < len(golds):
                    key = golds[gold_index][0]
                    result.golds[key] = failure
                    rest_pairs = [p for p in pairs if p[1] != key]
                    for p in pairs:
                        if p[1] == key:
                            result.pairs[p[0]] = failure
                    # The fresh worker has parsed nothing: resend every gold the remaining
                    # pairs need, including those the killed worker had already parsed.
                    needed = {p[1] for p in rest_pairs}
                    return self._replace(worker), [g for g in golds if g[0] in needed], rest_pairs
                if pair_index < len(pairs):
                    result.pairs[pairs[pair_index][0]] = failure
                    still_needed = {p[1] for p in pairs[pair_index + 1 :]}
                    return self._replace(worker), [g for g in golds if g[0] in still_needed], pairs[pair_index + 1 :]
                return self._replace(worker), [], []
            kind, key, value = message
            if kind == "gold":
                result.golds[key] = bool(value)
                gold_index += 1
            elif kind == "pair":
                result.pairs[key] = value
                pair_index += 1
            else:
                return worker, [], []

    def _replace(self, worker: _Worker | None) -> _Worker:
        if worker is not None:
            worker.kill()
            with self._lock:
                self._workers.discard(worker)
        fresh = _Worker(self._context, self.memory_mb)
        fresh.wait_ready(_STARTUP_TIMEOUT_S)
        with self._lock:
            self._workers.add(fresh)
        return fresh

    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (for tests and operators)."""
        with self._lock:
            return [worker.process.pid for worker in self._workers if worker.alive()]

    async def aclose(self) -> None:
        """Stop every worker; called by the server's ResourceBag on shutdown."""
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.close)

    def close(self) -> None:
        self._closed = True
        with self._lock:
            workers = list(self._workers)
            self._workers.clear()
        for worker in workers:
            worker.stop()
        self._executor.shutdown(wait=False, cancel_futures=True)
