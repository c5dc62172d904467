"""OpenRLHF: a remote verifier as the ``reward_func`` file.

    VERIFIER_SERVER=127.0.0.1:50051 VERIFIER_NAME=math \\
    python -m openrlhf.cli.train_ppo_ray ... --reward.remote_url examples/openrlhf_reward.py \\
        --data.label_key answer

Returns ``{"rewards", "scores", "extra_logs": {"verified"}}`` tensors. OpenRLHF has no
"skip" reward: unscored samples get 0.0 and ``verified=0``.
"""

from sdk.adapters.openrlhf import reward_func_for

reward_func = reward_func_for()  # verifier and server from VERIFIER_NAME / VERIFIER_SERVER
