"""Sessions: cell latency, forking a big session, and memory per idle session, against the baselines.

In one run, ours and what a user would otherwise build:

(a) a small cell in a warm session (through the server and SDK, and in the sandbox layer
    directly) vs `docker exec` into a running container and vs a fresh `python -c` per cell;
(b) forking a session that holds ~200 MB of state into 16 copies vs running its setup 16 times
    (16 fresh sessions);
(c) unshared memory (USS) per idle session with N sessions open.

Goals on a 2-core machine: cell p50 <= 2 ms; 16 forks of a 200 MB session <= 100 ms in total;
idle session <= 10 MiB unshared. Needs root (the fork server); docker is optional.

    .venv/bin/python bench/sessions.py [--cells 300] [--idle 200] [--state-mb 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandboxes import open_sandbox
from sandboxes.docker_image import DEFAULT_TAG, image_exists
from sandboxes.sessions import SessionHost, SessionLimits
from sdk import VerifierClient
from verifier_server.testing import start_server_process

CELL = "x = x + 1 if 'x' in dir() else 0"
PYTHON = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
MiB = 1024 * 1024


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def line(name: str, latencies_s: list[float], goal_ms: float | None = None) -> float:
    p50 = statistics.median(latencies_s) * 1e3
    goal = f"  (goal <= {goal_ms:g} ms: {'met' if p50 <= goal_ms else 'NOT met'})" if goal_ms else ""
    print(f"  {name:<46} p50 {p50:8.2f} ms   p95 {percentile(latencies_s, 0.95) * 1e3:8.2f} ms{goal}")
    return p50


# -- (a) cell latency --------------------------------------------------------------------------


def sdk_cells(address: str, n: int) -> list[float]:
    with VerifierClient(address) as client, client.session() as session:
        session.run(CELL)
        times = []
        for _ in range(n):
            started = time.perf_counter()
            assert session.run(CELL).ok
            times.append(time.perf_counter() - started)
        return times


async def sandbox_cells(host: SessionHost, n: int) -> list[float]:
    session = await host.open("python")
    try:
        await session.run(CELL)
        times = []
        for _ in range(n):
            started = time.perf_counter()
            assert (await session.run(CELL)).ok
            times.append(time.perf_counter() - started)
        return times
    finally:
        await session.close()


def fresh_python_cells(n: int) -> list[float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        subprocess.run([PYTHON, "-c", CELL], check=True)
        times.append(time.perf_counter() - started)
    return times


def docker_exec_cells(n: int) -> list[float] | None:
    if shutil.which("docker") is None or not image_exists(DEFAULT_TAG):
        return None
    started = subprocess.run(
        ["docker", "run", "-d", "--rm", "--network", "none", DEFAULT_TAG, "sleep", "infinity"],
        capture_output=True,
        text=True,
        check=False,
    )
    if started.returncode != 0:
        return None
    container = started.stdout.strip()
    try:
        times = []
        for _ in range(n):
            begin = time.perf_counter()
            subprocess.run(["docker", "exec", container, "python3", "-c", CELL], check=True, capture_output=True)
            times.append(time.perf_counter() - begin)
        return times
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)


# -- (b) forking a big session vs running its setup again ---------------------------------------


def setup_code(state_mb: int) -> str:
    """~state_mb MiB of live Python objects (many small ones, as real state is)."""
    return f"state = [bytes(1000) + i.to_bytes(4, 'little') for i in range({state_mb} * 1000)]"


async def fork_vs_setup(host: SessionHost, state_mb: int, copies: int) -> tuple[float, float, float]:
    limits = SessionLimits(memory_bytes=(4 * state_mb + 512) * MiB, cell_wall_time_s=300, cell_cpu_time_s=300)
    parent = await host.open("python", limits=limits)
    try:
        assert (await parent.run(setup_code(state_mb))).ok
        rss = _rss_mib(parent.pid)
        await (await parent.fork(1))[0].close()  # warm the keeper and the page cache once
        started = time.perf_counter()
        forks = await parent.fork(copies)
        forked_s = time.perf_counter() - started
        for fork in forks:
            await fork.close()
        started = time.perf_counter()
        fresh = [await host.open("python", limits=limits) for _ in range(copies)]
        for session in fresh:
            assert (await session.run(setup_code(state_mb))).ok
        setup_s = time.perf_counter() - started
        for session in fresh:
            await session.close()
        return rss, forked_s, setup_s
    finally:
        await parent.close()


# -- (c) idle memory ---------------------------------------------------------------------------


async def idle_memory(host: SessionHost, count: int) -> tuple[float, float]:
    sessions = []
    try:
        for _ in range(count):
            session = await host.open("python")
            assert (await session.run("x = 1")).ok
            sessions.append(session)
        uss = [_uss_mib(s.pid) for s in sessions]
        return statistics.mean(uss), max(uss)
    finally:
        for session in sessions:
            await session.close()


def _uss_mib(pid: int) -> float:
    fields = dict(
        (line.split(":")[0], int(line.split()[1]))
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]
    )
    return (fields["Private_Clean"] + fields["Private_Dirty"]) / 1024


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def sandbox_part(args: argparse.Namespace) -> tuple[list[float], tuple[float, float, float], tuple[float, float]]:
    trees = args.idle + 40
    box = open_sandbox("bwrap", uid_base=args.uid_base, uid_range_size=2 * trees + 64, concurrency=4)
    try:
        host = await box.sessions(max_trees=trees)
        cells = await sandbox_cells(host, args.cells)
        forks = await fork_vs_setup(host, args.state_mb, args.copies)
        idle = await idle_memory(host, args.idle)
        return cells, forks, idle
    finally:
        await box.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=300)
    parser.add_argument("--baseline-cells", type=int, default=30)
    parser.add_argument("--idle", type=int, default=200)
    parser.add_argument("--state-mb", type=int, default=200)
    parser.add_argument("--copies", type=int, default=16)
    parser.add_argument("--uid-base", type=int, default=500_000)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("sessions need root (the fork server)")
        return 1
    print(f"sessions bench ({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")
    server = start_server_process(
        tempfile.mkdtemp(prefix="bench-sessions-"),
        config={"sandbox_uid_base": args.uid_base + 3000, "sandbox_uid_range_size": 256, "max_sessions": 8},
    )
    try:
        sdk = sdk_cells(server.address, args.cells)
    finally:
        server.stop()
    cells, (rss, forked_s, setup_s), (idle_mean, idle_max) = asyncio.run(sandbox_part(args))
    fresh = fresh_python_cells(args.baseline_cells)
    docker = docker_exec_cells(args.baseline_cells)

    print("(a) one small cell in a warm session")
    ours = line("session via server + SDK (gRPC)", sdk, goal_ms=2.0)
    line("session, sandbox layer (no RPC)", cells)
    fresh_p50 = line("fresh `python -c` per cell (no sandbox, no state)", fresh)
    print(f"      ratio: fresh python -c / ours = {fresh_p50 / ours:.1f}x")
    if docker is None:
        print("  `docker exec` into a running container: n/a (no docker engine or image)")
    else:
        docker_p50 = line("`docker exec` into a running container", docker)
        print(f"      ratio: docker exec / ours = {docker_p50 / ours:.1f}x")
    print(f"(b) a session holding {rss:.0f} MiB (RSS) -> {args.copies} copies")
    met = "met" if forked_s * 1e3 <= 100 else "NOT met"
    print(f"  fork({args.copies}) in total                          {forked_s * 1e3:8.1f} ms   (goal <= 100 ms: {met})")
    print(f"  its setup run {args.copies} times (fresh sessions)         {setup_s * 1e3:8.1f} ms")
    print(f"      ratio: setup x{args.copies} / fork({args.copies}) = {setup_s / forked_s:.1f}x")
    print(f"(c) memory per idle session, {args.idle} open")
    goal = "met" if idle_mean <= 10 else "NOT met"
    print(f"  unshared (USS) mean {idle_mean:.2f} MiB, max {idle_max:.2f} MiB   (goal <= 10 MiB: {goal})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
