"""verl with a verifier fleet on the same Ray cluster: each reward worker scores on its own node's replica.

1. On the Ray cluster verl trains on (every node has this project installed and can run
   the sandbox; see sandboxes/SETUP.md), start one verifier server per node::

       verifier fleet up --name rewards --config server.toml   # returns when every replica serves

2. Train with this file as the custom reward function. verl's reward loop awaits an
   ``async def compute_score``; the reward workers are Ray actors, so each one finds the
   fleet by name, prefers the replica on its own node, and follows replicas that are
   replaced::

       python -m verl.trainer.main_ppo ... \\
           reward.custom_reward_function.path=examples/verl_fleet.py \\
           reward.custom_reward_function.name=compute_score \\
           +reward.custom_reward_function.reward_kwargs.verifier=math \\
           +reward.custom_reward_function.reward_kwargs.fleet=rewards

3. ``verifier fleet status --name rewards`` while it runs; ``verifier fleet down --name rewards`` after.

A sample the fleet could not score gets 0.0 with ``verified=0`` (verl has no "skip" reward).
Check the fleet from any node of the cluster first: ``python examples/verl_fleet.py --fleet rewards``.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping
from typing import Any

from sdk.adapters.verl import acompute_score


async def compute_score(
    data_source: Any = None,
    solution_str: str = "",
    ground_truth: Any = None,
    extra_info: Mapping[str, Any] | None = None,
    *,
    fleet: str = "rewards",
    verifier: str | None = None,
    **kwargs: Any,
) -> float | dict[str, float]:
    """verl's per-sample reward, scored by the fleet ``fleet`` (``ray://fleet``)."""
    return await acompute_score(
        data_source, solution_str, ground_truth, extra_info, verifier=verifier, server=f"ray://{fleet}", **kwargs
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Score one math sample through a verifier fleet.")
    parser.add_argument("--fleet", default="rewards")
    args = parser.parse_args()
    right = asyncio.run(compute_score("gsm8k", "So the answer is \\boxed{4}.", "4", {}, fleet=args.fleet))
    print(f"fleet ray://{args.fleet}: {right}")


if __name__ == "__main__":
    main()
