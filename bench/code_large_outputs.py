"""Bench: code samples with large outputs (8 samples x 120 stdio tests x 1 MB each), server memory and stalls.

Issue 12 measured this shape at +1 GB of server memory and 1.8 s stalls of the event loop,
when every sample's whole reply was buffered and parsed on it. Prints the server's peak
memory growth (VmHWM) and the slowest of the trivial `format` scores a second client sends
every 20 ms while the batch runs (each one needs the event loop).

    python bench/code_large_outputs.py                     # this checkout
    python bench/code_large_outputs.py --repo /other/tree  # another checkout's server, to compare
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sdk import VerifierClient
from verifier_server import testing

SAMPLES, TESTS, OUTPUT_BYTES = 8, 120, 1_000_000
LOUD = f"```python\nimport sys\nsys.stdout.write('x' * {OUTPUT_BYTES})\n```"
PING = {"kind": "format", "config": {"type": "regex", "pattern": "a"}}


def peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def pinger(address: str, stop: threading.Event, latencies: list[float]) -> None:
    with VerifierClient(address, timeout_s=120) as client:
        while not stop.is_set():
            start = time.perf_counter()
            client.score(PING, completions=["a"])
            latencies.append(time.perf_counter() - start)
            time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", type=Path, default=testing.REPO_ROOT, help="checkout whose server to start")
    args = parser.parse_args()
    testing.REPO_ROOT = args.repo.resolve()
    server = testing.start_server_process()
    reference = {"tests": [{"input": str(i), "output": str(i)} for i in range(TESTS)]}
    spec = {"kind": "code", "config": {"tests": "stdio", "time_limit_s": 10}}
    try:
        with VerifierClient(server.address, timeout_s=600) as client:
            client.score(spec, completions=[LOUD], references=[{"tests": reference["tests"][:2]}])  # warm
            client.score(PING, completions=["a"])
            before = peak_rss_bytes(server.pid)
            stop, latencies = threading.Event(), []  # type: ignore[var-annotated]
            thread = threading.Thread(target=pinger, args=(server.address, stop, latencies))
            thread.start()
            start = time.perf_counter()
            results = client.score(spec, completions=[LOUD] * SAMPLES, references=[reference] * SAMPLES)
            elapsed = time.perf_counter() - start
            stop.set()
            thread.join()
            growth = peak_rss_bytes(server.pid) - before
    finally:
        server.stop()
    outcomes = sorted({f"{r.outcome}:{r.score}" for r in results})
    print(f"checkout: {args.repo}")
    print(f"{SAMPLES} samples x {TESTS} tests x {OUTPUT_BYTES} B output: {elapsed:.1f} s, outcomes {outcomes}")
    print(f"server peak memory growth: {growth / 2**20:.0f} MiB")
    print(
        f"trivial scores during the batch: {len(latencies)}, slowest {max(latencies) * 1000:.0f} ms, "
        f"median {sorted(latencies)[len(latencies) // 2] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
