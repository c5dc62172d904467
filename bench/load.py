"""Sustained mixed load (format, math, code where available) from several client processes.

Starts its own server replicas on loopback (or uses ``--address``), runs client
processes for ``--duration`` seconds, and prints throughput, p50/p99 latency, error
counts, lost and wrong samples (every response's result count and every score is
checked against what the sample must score), the requests each replica served, and
each server's RSS, open fds and child processes at start and end.

    python bench/load.py                          # 60 s, one replica, 4 client processes
    python bench/load.py --duration 600           # the 10-minute soak
    python bench/load.py --replicas 3 --kill-one  # balancing, then SIGKILL one replica a third of the way in
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import signal
import statistics
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sdk import RPCError, VerifierClient
from verifier_server.testing import ServerProcess, start_server_process

Workload = tuple[str, list[str], list[dict[str, Any]], list[float | None]]
"""(verifier, completions, references, expected scores; None = not checked)."""


# -- workloads: each sample's expected score follows from how it was built ------------------


def format_batch(rng: random.Random, size: int) -> Workload:
    completions, expected = [], []
    for _ in range(size):
        if rng.random() < 0.7:
            completions.append(
                f"<think>\nstep {rng.randint(0, 99)}\n</think>\n<answer>\n{rng.randint(0, 999)}\n</answer>"
            )
            expected.append(1.0)
        else:
            completions.append(f"the answer is {rng.randint(0, 999)}")
            expected.append(0.0)
    return "think-answer-format", completions, [{} for _ in range(size)], expected


def math_batch(rng: random.Random, size: int) -> Workload:
    completions, references, expected = [], [], []
    for _ in range(size):
        a, b = rng.randint(1, 50), rng.randint(1, 50)
        right = rng.random() < 0.6
        completions.append(f"{a} + {b} = \\boxed{{{a + b if right else a + b + 1}}}")
        references.append({"answer": str(a + b)})
        expected.append(1.0 if right else 0.0)
    return "math", completions, references, expected


def code_batch(rng: random.Random, size: int) -> Workload:
    """Programs run in the sandbox against a stdin/stdout case; one in four is wrong on purpose."""
    completions, references, expected = [], [], []
    for _ in range(size):
        n = rng.randint(1, 9)
        right = rng.random() < 0.75
        completions.append(f"```python\nprint(int(input()) * {n if right else n + 1})\n```")
        references.append({"tests": [{"input": "3\n", "output": f"{3 * n}\n"}]})
        expected.append(1.0 if right else 0.0)
    return "stdio-tests", completions, references, expected


WORKLOADS = {"format": format_batch, "math": math_batch, "code": code_batch}


# -- client processes ----------------------------------------------------------------------


@dataclass
class ClientStats:
    latencies_s: dict[str, list[float]] = field(default_factory=dict)
    samples: int = 0
    requests: int = 0
    lost: int = 0
    wrong: int = 0
    failed_samples: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)


def client_loop(
    addresses: list[str], kinds: list[str], batch: int, chunk: int, stop_at: float, seed: int
) -> ClientStats:
    """One training rank's worth of load: batches back to back until ``stop_at`` (monotonic)."""
    rng = random.Random(seed)
    stats = ClientStats()
    with VerifierClient(addresses, timeout_s=120, max_chunk_samples=chunk) as client:
        turn = 0
        while time.monotonic() < stop_at:
            kind = kinds[turn % len(kinds)]
            turn += 1
            verifier, completions, references, expected = WORKLOADS[kind](rng, batch)
            started = time.perf_counter()
            try:
                results = client.score(verifier, completions, references=references)
            except RPCError as error:
                stats.errors[f"{kind}:{error.status.name}"] += 1
                stats.failed_samples += batch
                continue
            stats.latencies_s.setdefault(kind, []).append(time.perf_counter() - started)
            stats.requests += 1
            stats.samples += len(results)
            stats.lost += max(0, batch - len(results))
            for result, want in zip(results, expected, strict=False):
                stats.outcomes[f"{kind}:{result.outcome.value}"] += 1
                if want is not None and result.score != want:
                    stats.wrong += 1
    return stats


def _client_entry(args: tuple[list[str], list[str], int, int, float, int]) -> ClientStats:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return client_loop(*args)


# -- server resources ----------------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (worker pools, sandboxes), from /proc's parent links."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rpartition(")")[2].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def resources(pid: int) -> str:
    try:
        kids = descendants(pid)
        kids_rss = sum(rss_kib(k) for k in kids if Path(f"/proc/{k}").exists())
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        return f"rss={rss_kib(pid) / 1024:.1f}MiB children={len(kids)} children_rss={kids_rss / 1024:.1f}MiB fds={fds}"
    except OSError:
        return "gone"


def served_requests(metrics_port: int | None) -> str:
    if metrics_port is None:
        return "?"
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
            lines = response.read().decode().splitlines()
    except OSError:
        return "gone"
    total = sum(
        float(line.rpartition(" ")[2])
        for line in lines
        if line.startswith("verifier_requests_total{") and 'method="Score"' in line
    )
    return str(int(total))


def metrics_port_of(server: ServerProcess) -> int | None:
    for line in server.log_text().splitlines():
        if line.startswith("{") and '"metrics_port"' in line:
            return json.loads(line).get("metrics_port")
    return None


def usable_kinds(addresses: list[str], wanted: list[str]) -> list[str]:
    """The wanted kinds this server has and can score, each warmed up (pools started) before the baseline."""
    kinds = []
    with VerifierClient(addresses, timeout_s=120) as client:
        try:
            available = set(client.capabilities().kinds)
        except RPCError as error:  # a broken kind plugin can fail GetCapabilities; probe instead
            print(f"warning: GetCapabilities failed ({error}); probing kinds one by one")
            available = set(wanted)
        for kind in wanted:
            if kind not in available:
                continue
            verifier, completions, references, _ = WORKLOADS[kind](random.Random(0), 8)
            try:
                client.score(verifier, completions, references=references)
            except RPCError as error:
                print(f"warning: leaving out {kind}: {error}")
                continue
            kinds.append(kind)
    if not kinds:
        raise SystemExit("no usable verifier kinds on the server")
    return kinds


# -- main ----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (600 for the soak)")
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--batch", type=int, default=64, help="samples per score call")
    parser.add_argument("--chunk", type=int, default=32, help="max samples per request (SDK chunking)")
    parser.add_argument("--replicas", type=int, default=1, help="server replicas to start on loopback")
    parser.add_argument("--workers", type=int, default=1, help="worker processes per replica (math)")
    parser.add_argument("--kill-one", action="store_true", help="SIGKILL one replica a third of the way in")
    parser.add_argument("--kinds", default="", help="comma-separated subset of format,math,code")
    args = parser.parse_args()

    servers = [
        start_server_process(extra_args=["--metrics-port", "0", "--workers", str(args.workers)])
        for _ in range(args.replicas)
    ]
    try:
        return run(args, servers)
    finally:
        for server in servers:
            server.stop()


def run(args: argparse.Namespace, servers: list[ServerProcess]) -> int:
    addresses = [server.address for server in servers]
    wanted = [k for k in (args.kinds.split(",") if args.kinds else WORKLOADS) if k]
    kinds = usable_kinds(addresses, wanted)
    ports = [metrics_port_of(server) for server in servers]
    print(
        f"kinds={','.join(kinds)} replicas={len(servers)} clients={args.clients} batch={args.batch} "
        f"chunk={args.chunk} duration={args.duration:g}s"
    )
    for i, server in enumerate(servers):
        print(f"start  replica{i} pid={server.pid} {resources(server.pid)}")

    stop_at = time.monotonic() + args.duration
    jobs = [(addresses, kinds, args.batch, args.chunk, stop_at, seed) for seed in range(args.clients)]
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(args.clients) as pool:
        pending = pool.map_async(_client_entry, jobs)
        if args.kill_one and len(servers) > 1:
            time.sleep(args.duration / 3)
            served = served_requests(ports[0])
            servers[0].kill()
            print(
                f"killed replica0 (SIGKILL) at t={time.perf_counter() - started:.1f}s after it served {served} requests"
            )
        all_stats: list[ClientStats] = pending.get(timeout=args.duration + 300)
    elapsed = time.perf_counter() - started
    report(all_stats, elapsed, kinds)

    for i, server in enumerate(servers):
        state = resources(server.pid) if server.process.poll() is None else f"exited rc={server.process.returncode}"
        print(f"end    replica{i} pid={server.pid} {state} served_score_requests={served_requests(ports[i])}")
    totals = merge(all_stats)
    return 1 if totals.lost or totals.wrong else 0


def merge(all_stats: list[ClientStats]) -> ClientStats:
    total = ClientStats()
    for stats in all_stats:
        for kind, values in stats.latencies_s.items():
            total.latencies_s.setdefault(kind, []).extend(values)
        total.samples += stats.samples
        total.requests += stats.requests
        total.lost += stats.lost
        total.wrong += stats.wrong
        total.failed_samples += stats.failed_samples
        total.errors.update(stats.errors)
        total.outcomes.update(stats.outcomes)
    return total


def report(all_stats: list[ClientStats], elapsed_s: float, kinds: list[str]) -> None:
    total = merge(all_stats)
    every = [v for values in total.latencies_s.values() for v in values]
    print(
        f"throughput {total.samples / elapsed_s:.1f} samples/s, {total.requests / elapsed_s:.2f} calls/s "
        f"over {elapsed_s:.1f}s; call latency p50={percentile(every, 50) * 1000:.1f}ms "
        f"p99={percentile(every, 99) * 1000:.1f}ms"
    )
    for kind in kinds:
        values = total.latencies_s.get(kind, [])
        print(
            f"  {kind:7s} calls={len(values)} p50={percentile(values, 50) * 1000:.1f}ms "
            f"p99={percentile(values, 99) * 1000:.1f}ms"
        )
    print(
        f"samples scored={total.samples} lost={total.lost} wrong={total.wrong} "
        f"failed_calls={sum(total.errors.values())} failed_samples={total.failed_samples}"
    )
    print(f"errors {dict(total.errors) or '{}'}")
    print(f"outcomes {dict(sorted(total.outcomes.items()))}")


if __name__ == "__main__":
    sys.exit(main())
