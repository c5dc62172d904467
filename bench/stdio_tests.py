"""Bench: one compiled C++ program x 20 stdin/stdout tests.

Three ways, each timed on the same program and tests:

- `run_many`: the sandbox compiles once and runs the program once per test, each run a
  fresh process in a fresh work dir (how the code kind runs stdio tests now);
- per test under bubblewrap: one `Sandbox.run` per test, so every test compiles the
  program again and runs it (what a caller without `run_many` has to do);
- through the service: `stdio-tests` scoring `--samples` completions of the program with the
  20 tests each (the whole code kind path: extraction, runs, checking). Run this part on an
  older checkout too (same command) for a before/after of the service itself.

    PYTHONPATH=. .venv/bin/python bench/stdio_tests.py [--rounds 3] [--samples 16]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandboxes import ExecStatus, Job, Limits, available_backends, open_sandbox

TESTS = 20
PYTHON = """n = int(input())
a = sorted(map(int, input().split()))
print(sum(a), a[0], a[-1])
"""
PROGRAM = r"""#include <bits/stdc++.h>
int main() {
    long long n; std::cin >> n;
    std::vector<long long> a(n);
    for (auto &x : a) std::cin >> x;
    std::sort(a.begin(), a.end());
    long long sum = 0;
    for (auto x : a) sum += x;
    std::cout << sum << " " << a.front() << " " << a.back() << "\n";
}
"""


def cases() -> list[tuple[str, str]]:
    out = []
    for t in range(TESTS):
        values = [(t * 37 + k * 11) % 101 - 50 for k in range(50 + t)]
        stdin = f"{len(values)}\n{' '.join(map(str, values))}\n"
        out.append((stdin, f"{sum(values)} {min(values)} {max(values)}\n"))
    return out


LIMITS = Limits(wall_time_s=5.0, cpu_time_s=2.0)


async def run_many(box: object, job: Job, tests: list[tuple[str, str]]) -> int:
    passed = 0
    async for execution in box.run_many(job, [stdin for stdin, _ in tests]):  # type: ignore[attr-defined]
        passed += execution.status is ExecStatus.OK and execution.stdout.decode() == tests[passed][1]
    return passed


async def per_test(box: object, job: Job, tests: list[tuple[str, str]]) -> int:
    passed = 0
    for stdin, expected in tests:
        execution = await box.run(Job(job.language, job.files, stdin=stdin, limits=job.limits))  # type: ignore[attr-defined]
        passed += execution.status is ExecStatus.OK and execution.stdout.decode() == expected
    return passed


async def sandbox_part(rounds: int) -> None:
    if available_backends()["bwrap"] != "ok":
        print(f"bwrap: skipped ({available_backends()['bwrap']})")
        return
    box = open_sandbox("bwrap")
    try:
        if "cpp" not in box.languages():
            print("no C++ toolchain: skipped")
            return
        tests = cases()
        job = Job("cpp", {"main.cpp": PROGRAM}, limits=LIMITS)
        await run_many(box, job, tests[:1])  # warm: fork server, compiler caches
        ways = {"run_many (compile once)": run_many, "per test under bwrap (compile + run)": per_test}
        results: dict[str, list[float]] = {label: [] for label in ways}
        for _ in range(rounds):
            for label, way in ways.items():
                started = time.perf_counter()
                passed = await way(box, job, tests)
                results[label].append(time.perf_counter() - started)
                assert passed == TESTS, (label, passed)
        base = statistics.median(results["per test under bwrap (compile + run)"])
        for label, times in results.items():
            median = statistics.median(times)
            print(f"{label:<38} {median * 1e3:8.0f} ms per program x {TESTS} tests  "
                  f"({TESTS / median:6.1f} tests/s, x{base / median:5.1f})")
    finally:
        await box.aclose()


def service_part(samples: int) -> None:
    from sdk import VerifierClient
    from verifier_server.testing import start_server_process

    reference = {"tests": [{"input": stdin, "output": expected} for stdin, expected in cases()]}
    server = start_server_process()
    try:
        with VerifierClient(server.address, timeout_s=600) as client:
            for language, source, n in (("cpp", PROGRAM, samples), ("python", PYTHON, samples * 4)):
                completion = f"```{language}\n{source}```"
                client.score("stdio-tests", completions=[completion], references=[reference])  # warm
                started = time.perf_counter()
                results = client.score("stdio-tests", completions=[completion] * n, references=[reference] * n)
                elapsed = time.perf_counter() - started
                passed = sum(r.score == 1.0 for r in results)
                print(f"service stdio-tests ({language}, {TESTS} tests each): {n / elapsed:6.2f} completions/s "
                      f"({passed}/{n} fully passed)")
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--service-only", action="store_true", help="only the service part (for older checkouts)")
    args = parser.parse_args()
    if not args.service_only:
        asyncio.run(sandbox_part(args.rounds))
    service_part(args.samples)
