"""Bench: a verifier fleet on three simulated Ray nodes vs one of its replicas, in one run.

Starts a Ray cluster of three nodes on this machine (``ray.cluster_utils.Cluster``), times
``fleet up`` until every replica serves, scores the same code-kind batch (N completions x
TESTS assert tests) through ``ray://NAME`` and straight to one replica, and times how long a
SIGKILLed replica takes to serve again. Every result is checked (a wrong or missing score
fails the run).

The simulated nodes share this machine's cores: on a 2-core machine three replicas
compete for the same two cores, so the fleet/one-replica ratio mostly shows the fleet's
overhead (controller, balancing, chunking), not scaling. Run it on a bigger machine or
a real cluster (``--address``) to see the scaling ratio.

    python bench/fleet.py            # N=240
    python bench/fleet.py --n 960
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sdk import Outcome, VerifierClient
from verifier_server.fleet import manage

ROOT = Path(__file__).resolve().parent.parent
NAME = "bench-fleet"
TESTS = 10


def workload(n: int) -> tuple[list[str], list[dict[str, Any]], list[float]]:
    completions, references, expected = [], [], []
    for i in range(n):
        body = "return a + b" if i % 4 else "return a - b"
        completions.append(f"Here you go:\n```python\ndef add(a, b):\n    {body}\n```")
        references.append({"test_list": [f"assert add({k}, {i}) == {k + i}" for k in range(TESTS)]})
        expected.append(1.0 if i % 4 or i == 0 else 0.0)  # a - 0 == a + 0
    return completions, references, expected


def rate(client: VerifierClient, n: int) -> float:
    completions, references, expected = workload(n)
    client.score("python-tests", completions[:8], references=references[:8])  # warm every channel
    start = time.perf_counter()
    results = client.score("python-tests", completions, references=references)
    elapsed = time.perf_counter() - start
    wrong = [i for i, r in enumerate(results) if r.outcome is not Outcome.OK or r.score != expected[i]]
    if len(results) != n or wrong:
        raise SystemExit(f"wrong results at {wrong[:10]} (of {len(results)})")
    return n / elapsed


def replacement_s(victim: manage.ReplicaStatus) -> float:
    if victim.pid is None:
        raise SystemExit(f"replica {victim.slot} reports no pid")
    os.kill(victim.pid, signal.SIGKILL)
    start = time.perf_counter()
    while True:
        now = {replica.slot: replica for replica in manage.status(NAME)}[victim.slot]
        if now.member and now.pid != victim.pid:
            return time.perf_counter() - start
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=240, help="completions per batch")
    parser.add_argument("--address", help="an existing Ray cluster instead of three simulated nodes")
    args = parser.parse_args()
    import ray

    cluster = None
    address = args.address
    if address is None:
        from ray.cluster_utils import Cluster

        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
        for _ in range(2):
            cluster.add_node(num_cpus=1)
        address = cluster.address
    ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    try:
        nodes = len([node for node in ray.nodes() if node["Alive"]])
        start = time.perf_counter()
        replicas = manage.up(manage.fleet_spec(NAME), wait_s=600)
        up_s = time.perf_counter() - start
        concurrency = 2 * len(replicas)  # every replica busy, for the fleet and the one replica alike
        with VerifierClient(f"ray://{NAME}", timeout_s=600, max_concurrent_chunks=concurrency) as fleet:
            chunk = fleet.chunk_limit(args.n)
            fleet_rate = rate(fleet, args.n)
        assert replicas[0].address is not None
        with VerifierClient(
            replicas[0].address, timeout_s=600, max_chunk_samples=chunk, max_concurrent_chunks=concurrency
        ) as one:
            one_rate = rate(one, args.n)
        back_s = replacement_s(replicas[-1])
    finally:
        try:
            manage.down(NAME)
        finally:
            ray.shutdown()
            if cluster is not None:
                cluster.shutdown()
    where = f"{nodes} simulated nodes on {os.cpu_count()} cores" if cluster else f"{nodes} nodes"
    print(f"fleet up ({len(replicas)} replicas, {where}) to all SERVING: {up_s:.1f} s")
    print(f"code kind ({TESTS} assert tests each), n={args.n}, requests of {chunk}:")
    print(f"  through ray://{NAME} ({len(replicas)} replicas): {fleet_rate:.1f} samples/s")
    print(f"  one replica, same requests: {one_rate:.1f} samples/s")
    print(f"  ratio fleet / one replica: {fleet_rate / one_rate:.2f}x")
    if cluster is not None:
        print("  (simulated nodes share this machine's cores: the ratio shows overhead, not scaling)")
    print(f"SIGKILLed replica serving again after: {back_s:.1f} s")


if __name__ == "__main__":
    main()
