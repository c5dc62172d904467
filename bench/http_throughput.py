"""Format check over HTTP/JSON vs the same over gRPC, one server, one run.

Both faces sit on the same service object, so the difference is the wire: JSON bodies
through aiohttp vs protobuf through grpc.aio. The client side of each is what a trainer
would run: HTTP posts ``{"verifier", "samples"}`` with a pooled aiohttp session and reads
the JSON reply; gRPC goes through the async SDK. Batches of 256 samples, several in
flight (as concurrent GRPO reward calls would be), alternating rounds (medians printed).
Besides samples/s it prints CPU time per sample in the server and in the client, which a
machine loaded by other work distorts far less than wall-clock rates.

    python bench/http_throughput.py [--samples 200000] [--batch 256] [--inflight 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from format_throughput import make_completions

from sdk import AsyncVerifierClient
from verifier_server.testing import start_server_process

VERIFIER = "think-answer-format"


async def bench_http(url: str, completions: list[str], batch: int, inflight: int) -> float:
    connector = aiohttp.TCPConnector(limit=inflight)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(start: int) -> None:
            chunk = completions[start : start + batch]
            body = json.dumps({"verifier": VERIFIER, "samples": [{"completion": c} for c in chunk]})
            async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
                reply = json.loads(await response.read())
            assert response.status == 200 and len(reply["results"]) == len(chunk), reply

        await one(0)  # warm the connection and the verifier cache
        gate = asyncio.Semaphore(inflight)

        async def gated(start: int) -> None:
            async with gate:
                await one(start)

        started = time.perf_counter()
        await asyncio.gather(*(gated(start) for start in range(0, len(completions), batch)))
        return len(completions) / (time.perf_counter() - started)


async def bench_grpc(address: str, completions: list[str], batch: int, inflight: int) -> float:
    async with AsyncVerifierClient(address) as client:
        await client.score(VERIFIER, completions[:batch])
        gate = asyncio.Semaphore(inflight)

        async def one(start: int) -> None:
            async with gate:
                results = await client.score(VERIFIER, completions[start : start + batch])
                assert len(results) == len(completions[start : start + batch])

        started = time.perf_counter()
        await asyncio.gather(*(one(start) for start in range(0, len(completions), batch)))
        return len(completions) / (time.perf_counter() - started)


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) of a process: this one, or another by pid (from /proc)."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Face:
    """One face's rounds: samples/s, and CPU microseconds per sample in the server and in the client."""

    name: str
    rates: list[float] = field(default_factory=list)
    server_us: list[float] = field(default_factory=list)
    client_us: list[float] = field(default_factory=list)

    def measure(self, run: Callable[[], Coroutine[Any, Any, float]], server_pid: int, samples: int) -> None:
        server, client = cpu_seconds(server_pid), cpu_seconds()
        self.rates.append(asyncio.run(run()))
        self.server_us.append((cpu_seconds(server_pid) - server) / samples * 1e6)
        self.client_us.append((cpu_seconds() - client) / samples * 1e6)

    def line(self, label: str) -> str:
        rounds = ", ".join(f"{r:,.0f}" for r in self.rates)
        return (
            f"{label} {statistics.median(self.rates):,.0f} samples/s (rounds: {rounds}); CPU per sample: "
            f"server {statistics.median(self.server_us):.1f} us, client {statistics.median(self.client_us):.1f} us"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--inflight", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="alternate HTTP and gRPC this many times; medians")
    args = parser.parse_args()
    completions = make_completions(args.samples // args.rounds)
    http, grpc = Face("http"), Face("grpc")
    with start_server_process(extra_args=["--http-port", "0", "--log-level", "WARNING"]) as server:
        url = f"http://127.0.0.1:{server.http_port}/v1/score"
        for _ in range(args.rounds):  # alternating, so load from elsewhere hits both alike
            http.measure(lambda: bench_http(url, completions, args.batch, args.inflight), server.pid, len(completions))
            grpc.measure(
                lambda: bench_grpc(server.address, completions, args.batch, args.inflight), server.pid, len(completions)
            )
    print(f"samples={args.samples} batch={args.batch} inflight={args.inflight} rounds={args.rounds} {VERIFIER}")
    print(http.line("HTTP/JSON POST /v1/score:"))
    print(grpc.line("gRPC Score (async SDK):  "))
    ratio = statistics.median(http.rates) / statistics.median(grpc.rates)
    print(f"ratio HTTP/gRPC: {ratio:.2f}x")
    met = statistics.median(http.rates) >= 25_000
    print(f"goal >= 25,000 samples/s over HTTP: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
