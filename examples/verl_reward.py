"""verl: remote verifiers as ``custom_reward_function``.

Per sample (default reward manager, or the async reward loop with ``acompute_score``)::

    python -m verl.trainer.main_ppo ... \\
        reward.custom_reward_function.path=examples/verl_reward.py \\
        reward.custom_reward_function.name=compute_score \\
        +reward.custom_reward_function.reward_kwargs.verifier=math \\
        +reward.custom_reward_function.reward_kwargs.server=127.0.0.1:50051

Batched (one RPC per batch): ``reward_model.reward_manager=batch`` with
``custom_reward_function.name=compute_score_batch``.

Each sample's reference is ``{"answer": ground_truth}`` plus ``extra_info``'s fields.
verl has no "skip" reward: unscored samples get ``failure_score`` (0.0) and ``verified=0``.
"""

from sdk.adapters.verl import acompute_score, compute_score, compute_score_batch

__all__ = ["acompute_score", "compute_score", "compute_score_batch"]
