"""Format check over HTTP/JSON vs the same over gRPC, one server, one run.

Both faces sit on the same service object, so the difference is the wire: JSON bodies
through aiohttp vs protobuf through grpc.aio. The client side of each is what a trainer
would run: HTTP posts ``{"verifier", "samples"}`` with a pooled aiohttp session and reads
the JSON reply; gRPC goes through the async SDK. Batches of 256 samples, several in
flight (as concurrent GRPO reward calls would be). Prints samples/s for both.

    python bench/http_throughput.py [--samples 200000] [--batch 256] [--inflight 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--inflight", type=int, default=8)
    args = parser.parse_args()
    completions = make_completions(args.samples)
    with start_server_process(extra_args=["--http-port", "0", "--log-level", "WARNING"]) as server:
        url = f"http://127.0.0.1:{server.http_port}/v1/score"
        http = asyncio.run(bench_http(url, completions, args.batch, args.inflight))
        grpc = asyncio.run(bench_grpc(server.address, completions, args.batch, args.inflight))
    print(f"samples={args.samples} batch={args.batch} inflight={args.inflight} verifier={VERIFIER}")
    print(f"HTTP/JSON POST /v1/score: {http:,.0f} samples/s")
    print(f"gRPC Score (async SDK):   {grpc:,.0f} samples/s")
    print(f"ratio HTTP/gRPC: {http / grpc:.2f}x")
    print(f"goal >= 25,000 samples/s over HTTP: {'met' if http >= 25_000 else 'NOT met'}")


if __name__ == "__main__":
    main()
