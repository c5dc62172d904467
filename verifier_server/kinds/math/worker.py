"""The loop a math worker process runs: parse golds, judge (gold, answer) pairs, reply per task.

Replies go back one per task (not one per chunk) so the parent knows exactly which
task was running when a deadline passed: only that task times out, and the rest of
the chunk is resent to a fresh worker. Parsed golds stay cached in the worker, so
a gold shared by a GRPO group is parsed once however many answers it has.
"""

from __future__ import annotations

import resource
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from verifier_server.kinds.math.compare import CompareOptions, Parsed, Verdict, judge, parse_math
from verifier_server.kinds.math.warmup import warm_up

_GOLD_CACHE_SIZE = 4096

GoldTask = tuple[str, str]
"""(gold key, normalized gold)."""
PairTask = tuple[int, str, str]
"""(pair id, gold key, normalized answer)."""
Chunk = tuple[CompareOptions, Sequence[GoldTask], Sequence[PairTask]]


def worker_main(conn: Connection, memory_mb: int = 0) -> None:
    """Serve chunks until the parent sends None or goes away.

    ``memory_mb`` caps the worker's address space above what it uses once warm, so an
    answer that makes sympy allocate without end raises MemoryError (a verdict) instead
    of taking the machine's memory; 0 leaves it uncapped.
    """
    warm_up()  # cheap when forked warm from the forkserver; needed under "spawn"
    if memory_mb > 0:
        _cap_address_space(memory_mb)
    conn.send(("ready", None, None))
    golds: dict[str, Parsed | None] = {}
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        _serve_chunk(conn, message, golds)


def _cap_address_space(memory_mb: int) -> None:
    used_kb = 0
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                used_kb = int(line.split()[1])
    limit = used_kb * 1024 + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _serve_chunk(conn: Connection, chunk: Chunk, golds: dict[str, Parsed | None]) -> None:
    options, gold_tasks, pair_tasks = chunk
    if len(golds) > _GOLD_CACHE_SIZE:
        golds.clear()
    for key, norm in gold_tasks:
        if key not in golds:
            golds[key] = _safe(parse_math, norm)
        conn.send(("gold", key, golds[key] is not None))
    for pair_id, key, answer in pair_tasks:
        gold = golds.get(key)
        verdict: Verdict
        if gold is None:
            verdict = Verdict(False, "gold_unparseable", "gold could not be parsed")
        else:
            try:
                verdict = judge(gold, answer, options)
            except RecursionError:
                verdict = Verdict(False, "unparseable", "answer too deeply nested to parse")
            except MemoryError:
                verdict = Verdict(False, "too_large", "answer too large to evaluate: it needs more memory than allowed")
            except Exception as exc:
                verdict = Verdict(False, "error", f"comparison failed: {type(exc).__name__}: {str(exc)[:200]}")
        conn.send(("pair", pair_id, verdict))
    conn.send(("done", None, None))


def _safe(func: Any, arg: str) -> Any:
    try:
        return func(arg)
    except (Exception, MemoryError):
        return None
