"""Sandbox latency and throughput: p50/p95 per run and runs/s with 2 concurrent workers.

Compares, for a trivial Python program and a 10-assert test run: our bubblewrap backend
(warm fork server, and bwrap per run), the fork server running one program many times
(`run_many`, 20 runs per call: what stdio tests use), our Docker backend (warm pool),
`docker run --rm` per job, and a bare `python -c` subprocess with no isolation at all.
Bounded runtime: each measurement stops after a fixed number of runs or seconds.

    .venv/bin/python bench/sandbox.py [--seconds 4] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandboxes import ExecStatus, Job, available_backends, open_sandbox
from sandboxes.docker_image import DEFAULT_TAG, image_exists

PROGRAMS = {
    "trivial": "print('hello')",
    "10-assert test": "\n".join(
        ["def add(a, b):\n    return a + b", "def rev(s):\n    return s[::-1]"]
        + [f"assert add({i}, {i}) == {2 * i}" for i in range(5)]
        + [f"assert rev('ab{i}') == '{i}ba'" for i in range(5)]
        + ["print('10 passed')"]
    ),
}
EXPECTED = {"trivial": b"hello\n", "10-assert test": b"10 passed\n"}
PYTHON = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable


@dataclass
class Result:
    latencies_s: list[float]
    elapsed_s: float
    failures: int

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies_s) * 1e3

    @property
    def p95_ms(self) -> float:
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1e3

    @property
    def runs_per_s(self) -> float:
        return len(self.latencies_s) / self.elapsed_s


async def measure(run_one: Callable[[], Awaitable[bool]], *, workers: int, seconds: float, max_runs: int,
                  warmup: int) -> Result:
    for _ in range(warmup):
        await run_one()
    latencies: list[float] = []
    failures = 0
    deadline = time.monotonic() + seconds
    started = time.monotonic()

    async def worker() -> None:
        nonlocal failures
        while time.monotonic() < deadline and len(latencies) < max_runs:
            t0 = time.perf_counter()
            ok = await run_one()
            latencies.append(time.perf_counter() - t0)
            failures += not ok

    await asyncio.gather(*(worker() for _ in range(workers)))
    return Result(latencies, time.monotonic() - started, failures)


def sandbox_runner(box: object, program: str) -> Callable[[], Awaitable[bool]]:
    async def run_one() -> bool:
        r = await box.run(Job("python", {"main.py": PROGRAMS[program]}))  # type: ignore[attr-defined]
        return r.status is ExecStatus.OK and r.stdout == EXPECTED[program]

    return run_one


RUNS_PER_CALL = 20


def many_runner(box: object, program: str) -> Callable[[], Awaitable[bool]]:
    """One run_many call of RUNS_PER_CALL runs; `measure` counts it as that many runs (see `line`)."""

    async def run_one() -> bool:
        job = Job("python", {"main.py": PROGRAMS[program]})
        runs = [r async for r in box.run_many(job, [b""] * RUNS_PER_CALL)]  # type: ignore[attr-defined]
        return all(r.status is ExecStatus.OK and r.stdout == EXPECTED[program] for r in runs)

    return run_one


def per_run(r: Result, runs: int) -> Result:
    """A measurement of calls that each did `runs` runs, as one of single runs."""
    latencies = [t / runs for t in r.latencies_s for _ in range(runs)]
    return Result(latencies, r.elapsed_s, r.failures)


def subprocess_runner(argv_for: Callable[[str], list[str]], program: str) -> Callable[[], Awaitable[bool]]:
    async def run_one() -> bool:
        proc = await asyncio.create_subprocess_exec(*argv_for(PROGRAMS[program]), stdout=subprocess.PIPE,
                                                    stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        out, _ = await proc.communicate()
        return proc.returncode == 0 and out == EXPECTED[program]

    return run_one


def line(name: str, program: str, r: Result, baseline: Result | None) -> str:
    ratio = f"  p50 x{r.p50_ms / baseline.p50_ms:5.2f} / runs/s x{r.runs_per_s / baseline.runs_per_s:5.2f} vs bare" \
        if baseline else ""
    fails = f"  FAILED {r.failures}" if r.failures else ""
    return (f"{name:<28} {program:<15} p50 {r.p50_ms:8.2f} ms  p95 {r.p95_ms:8.2f} ms  "
            f"{r.runs_per_s:8.1f} runs/s  (n={len(r.latencies_s)}){ratio}{fails}")


async def main(seconds: float, workers: int) -> None:
    backends = available_backends()
    docker_ok = backends["docker"] == "ok" and image_exists(DEFAULT_TAG)
    print(f"# {workers} concurrent workers, up to {seconds:g}s per measurement; python: {PYTHON}")
    forkserver: dict[str, Result] = {}
    many: dict[str, Result] = {}
    bares: dict[str, Result] = {}
    docker_run: dict[str, Result] = {}
    for program in PROGRAMS:
        bare = await measure(subprocess_runner(lambda code: [PYTHON, "-c", code], program),
                             workers=workers, seconds=seconds, max_runs=2000, warmup=5)
        print(line("bare subprocess (no isol.)", program, bare, None))
        if backends["bwrap"] == "ok":
            for label, options in (("bwrap (fork server)", {"forkserver": True}),
                                   ("bwrap (bwrap per run)", {"forkserver": False})):
                box = open_sandbox("bwrap", **options)
                try:
                    r = await measure(sandbox_runner(box, program), workers=workers, seconds=seconds,
                                      max_runs=4000, warmup=20)
                    print(line(label, program, r, bare))
                    if options["forkserver"]:  # unloaded latency: one run at a time
                        forkserver[program] = r
                        r = await measure(sandbox_runner(box, program), workers=1, seconds=seconds / 2,
                                          max_runs=2000, warmup=5)
                        print(line(label[:-1] + ", 1 worker)", program, r, None))
                        r = per_run(await measure(many_runner(box, program), workers=workers, seconds=seconds,
                                                  max_runs=200, warmup=2), RUNS_PER_CALL)
                        many[program] = r
                        print(line(f"fork server, run_many x{RUNS_PER_CALL}", program, r, bare))
                    bares[program] = bare
                finally:
                    await box.aclose()
        else:
            print(f"bwrap: skipped ({backends['bwrap']})")
        if docker_ok:
            from sandboxes.docker_backend import DockerSandbox

            box = DockerSandbox(concurrency=workers, pool_size=workers + 2)
            try:
                await asyncio.to_thread(box.warm)
                r = await measure(sandbox_runner(box, program), workers=workers, seconds=seconds, max_runs=60,
                                  warmup=2)
                print(line("docker backend (warm pool)", program, r, bare))
            finally:
                await box.aclose()
            r = await measure(subprocess_runner(
                lambda code: ["docker", "run", "--rm", "--network=none", DEFAULT_TAG, "python3", "-c", code], program),
                workers=workers, seconds=seconds, max_runs=12, warmup=1)
            docker_run[program] = r
            print(line("docker run --rm per job", program, r, bare))
        else:
            reason = backends["docker"] if backends["docker"] != "ok" else f"image {DEFAULT_TAG} not built"
            print(f"docker: skipped ({reason})")
    summary(forkserver, many, bares, docker_run)


def summary(
    forkserver: dict[str, Result], many: dict[str, Result], bares: dict[str, Result], docker_run: dict[str, Result]
) -> None:
    """Goals for the trivial program: >= 4x bare `python -c` runs/s in the same run (issue 13), >= 50x docker run."""
    r, bare = forkserver.get("trivial"), bares.get("trivial")
    if r is None or bare is None:
        return
    for label, result in (("single runs", r), (f"run_many x{RUNS_PER_CALL}", many.get("trivial"))):
        if result is not None:
            ratio = result.runs_per_s / bare.runs_per_s
            print(f"goal (trivial, fork server, {label}): {result.runs_per_s:.0f} runs/s = x{ratio:.2f} bare "
                  f"python -c (>= 4x: {'met' if ratio >= 4 else 'MISSED'})")
    d = docker_run.get("trivial")
    if d is not None:
        speedup = r.runs_per_s / d.runs_per_s
        print(f"goal (trivial): fork server vs docker run --rm: x{speedup:.1f} runs/s, "
              f"x{d.p50_ms / r.p50_ms:.1f} p50 (>= 50x: {'met' if speedup >= 50 else 'MISSED'})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("bwrap") is None:
        print("note: bwrap not installed")
    asyncio.run(main(args.seconds, args.workers))
