"""Think-answer format check: in-process Python reward (open-r1 style) vs the service.

Runs both in one process run on the same completions and prints samples/s, the
ratio, and the per-sample service overhead in microseconds. The service is a real
server subprocess on loopback, called through the async SDK with 256-sample batches
and several batches in flight (as concurrent GRPO reward calls would be).

    python bench/format_throughput.py [--samples 200000] [--batch 256] [--inflight 8]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sdk import AsyncVerifierClient
from verifier_server.testing import start_server_process


def open_r1_format_reward(completions: list[list[dict[str, str]]], **kwargs: object) -> list[float]:
    """open-r1's ``format_reward`` as published (regex over the first message's content)."""
    pattern = r"^<think>\n.*?\n</think>\n<answer>\n.*?\n</answer>$"
    contents = [completion[0]["content"] for completion in completions]
    matches = [re.match(pattern, content, re.DOTALL | re.MULTILINE) for content in contents]
    return [1.0 if match else 0.0 for match in matches]


def make_completions(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    words = "let us compute the sum of the two numbers carefully and check the result".split()
    out = []
    for _ in range(count):
        reasoning = " ".join(rng.choices(words, k=rng.randint(20, 80)))
        answer = str(rng.randint(0, 1000))
        if rng.random() < 0.7:
            out.append(f"<think>\n{reasoning}\n</think>\n<answer>\n{answer}\n</answer>")
        else:
            out.append(f"{reasoning} so the answer is {answer}")
    return out


def bench_in_process(completions: list[str], batch: int) -> float:
    conversational = [[{"role": "assistant", "content": c}] for c in completions]
    started = time.perf_counter()
    for start in range(0, len(conversational), batch):
        open_r1_format_reward(conversational[start : start + batch])
    return len(completions) / (time.perf_counter() - started)


async def bench_service(address: str, completions: list[str], batch: int, inflight: int) -> float:
    async with AsyncVerifierClient(address) as client:
        await client.score("think-answer-format", completions[:batch])  # warm the channel and the cache
        gate = asyncio.Semaphore(inflight)

        async def one(start: int) -> None:
            async with gate:
                results = await client.score("think-answer-format", completions[start : start + batch])
                assert len(results) == len(completions[start : start + batch])

        started = time.perf_counter()
        await asyncio.gather(*(one(start) for start in range(0, len(completions), batch)))
        return len(completions) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--inflight", type=int, default=8)
    args = parser.parse_args()
    completions = make_completions(args.samples)
    with start_server_process(extra_args=["--log-level", "WARNING"]) as server:
        in_process = bench_in_process(completions, args.batch)
        service = asyncio.run(bench_service(server.address, completions, args.batch, args.inflight))
    overhead_us = (1 / service - 1 / in_process) * 1e6
    print(f"samples={args.samples} batch={args.batch} inflight={args.inflight}")
    print(f"in-process open-r1 format_reward: {in_process:,.0f} samples/s")
    print(f"service think-answer-format:      {service:,.0f} samples/s")
    print(f"ratio service/in-process: {service / in_process:.2f}x; service overhead {overhead_us:.1f} us/sample")
    print(f"goal >= 50,000 samples/s through the service: {'met' if service >= 50_000 else 'NOT met'}")


if __name__ == "__main__":
    main()
