"""The adversarial corpus inside sessions: every program as a cell, and again in a fork, contained like a run.

Python programs run as Python cells, shell programs as bash cells, C programs are compiled
and run by bash cells. Containment is the same as for single runs: nothing escapes (no
"ESCAPED", no planted secret in the output), the host is untouched, output stays capped,
and no process of the session (or its fork) survives closing it. A cell's own status is not
asserted: a program that kills its interpreter simply loses its session, which is contained.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from adversarial_corpus import CORPUS, CORPUS_LIMITS, Case, render
from sandbox_probe import UID_BASE, UID_RANGE_SIZE, assert_no_survivors
from test_adversarial import ENV_SECRET, Host

from sandboxes import available_backends, open_sandbox
from sandboxes.sessions import SandboxSession, SessionHost, SessionLimits, SessionLost

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]
LIMITS = SessionLimits(
    cell_wall_time_s=CORPUS_LIMITS.wall_time_s,
    cell_cpu_time_s=CORPUS_LIMITS.cpu_time_s,
    memory_bytes=CORPUS_LIMITS.memory_bytes,
    processes=CORPUS_LIMITS.processes,
    disk_bytes=CORPUS_LIMITS.workdir_bytes,
    output_bytes=CORPUS_LIMITS.output_bytes,
    open_files=CORPUS_LIMITS.open_files,
    file_size_bytes=CORPUS_LIMITS.file_size_bytes,
)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def host() -> AsyncIterator[SessionHost]:
    if os.geteuid() != 0:
        pytest.skip("sessions need host root (the fork server)")
    if available_backends()["bwrap"] != "ok":
        pytest.skip("bwrap backend unavailable")
    # This test process's private uid range (sandbox_probe: 64 uids): 4 slots, then 16 session trees.
    box = open_sandbox("bwrap", uid_base=UID_BASE, uid_range_size=UID_RANGE_SIZE, concurrency=4)
    try:
        yield await box.sessions(max_trees=16)
    finally:
        await box.aclose()


@pytest.fixture(scope="module")
def planted() -> Iterator[Host]:
    facts = Host()
    yield facts
    facts.close()


async def run_case(session: SandboxSession, case: Case, planted: Host) -> bytes:
    """The case's program as cells of `session`; everything they printed."""
    source = render(case.source, planted.facts)
    try:
        if case.language == "python":
            result = await session.run(source)
            return result.stdout + result.stderr
        if case.language == "bash":
            result = await session.run(source, language="bash")
            return result.stdout + result.stderr
        return await run_c(session, source)
    except SessionLost:
        return b""  # the program killed its own interpreter before the cell ended: contained


async def run_c(session: SandboxSession, source: str) -> bytes:
    escaped = source.replace("'", "'\\''")
    compile_cell = f"printf '%s' '{escaped}' > main.c && gcc -O0 -o main main.c -lpthread"
    compiled = await session.run(compile_cell, language="bash", timeout_s=60)
    assert compiled.ok, compiled
    result = await session.run("./main", language="bash")
    return result.stdout + result.stderr


def check(case: Case, output: bytes, planted: Host) -> None:
    for needle in (*case.forbid_always, *case.expect.forbid):
        assert render(needle, planted.facts).encode() not in output, output[-2000:]
    assert len(output) <= 2 * CORPUS_LIMITS.output_bytes
    if case.expect.max_fds is not None and output.startswith(b"fds "):
        assert int(output.split()[1]) <= case.expect.max_fds


async def open_for(host: SessionHost, case: Case) -> SandboxSession:
    return await host.open("python", limits=LIMITS)


@pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
async def test_contained_as_a_cell(
    host: SessionHost, planted: Host, case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANDBOX_ADVERSARIAL_SECRET", ENV_SECRET)
    session = await open_for(host, case)
    try:
        output = await run_case(session, case, planted)
    finally:
        await session.close()
    check(case, output, planted)
    await assert_no_survivors()
    planted.assert_untouched()


@pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
async def test_contained_in_a_fork(
    host: SessionHost, planted: Host, case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANDBOX_ADVERSARIAL_SECRET", ENV_SECRET)
    parent = await open_for(host, case)
    (fork,) = await parent.fork(1)
    await parent.close()  # the copy must not need its parent, and must not reach it
    try:
        output = await run_case(fork, case, planted)
    finally:
        await fork.close()
    check(case, output, planted)
    await assert_no_survivors()
    planted.assert_untouched()
