"""TRL: GRPO with rewards from the verifier service, written against the SDK directly.

    python examples/trl_grpo.py                                  # tiny CPU smoke run, local server
    python examples/trl_grpo.py --server 127.0.0.1:50051 --model ./my-model --dataset data.jsonl

The one-command version of the same run is ``verifier train grpo`` (see ``trainers/``);
this script shows the three lines that matter if you write your own trainer script:
``AsyncRemoteReward(name, target=...)`` per verifier, passed as ``reward_funcs``.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sdk import AsyncRemoteReward


@contextlib.contextmanager
def server_address(server: str | None, workdir: Path) -> Iterator[str]:
    """The given server, or a local one for the length of the run."""
    if server:
        yield server
        return
    from trainers.local_server import local_server

    with local_server(workdir / "server") as address:
        yield address


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", help="verifier server; default: start one locally")
    parser.add_argument("--model", help="a save_pretrained directory; default: a tiny random model")
    parser.add_argument("--dataset", help="JSONL with prompt + answer; default: tiny arithmetic")
    parser.add_argument("--max-steps", type=int, default=2)
    parser.add_argument("--output-dir", default=None)
    args = parser.parse_args()

    from datasets import load_dataset
    from trl import GRPOConfig, GRPOTrainer

    from trainers.tiny import build_tiny_model, write_tiny_math_dataset

    workdir = Path(args.output_dir or tempfile.mkdtemp(prefix="trl-grpo-"))
    model = args.model or str(build_tiny_model(workdir / "tiny-model"))
    data = args.dataset or str(write_tiny_math_dataset(workdir / "data.jsonl"))
    with server_address(args.server, workdir) as address:
        rewards = [
            AsyncRemoteReward("math", target=address, timeout_s=30).as_function(),
            AsyncRemoteReward("think-answer-format", target=address, timeout_s=30).as_function(),
        ]
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=rewards,
            args=GRPOConfig(
                output_dir=str(workdir / "run"),
                max_steps=args.max_steps,
                per_device_train_batch_size=4,
                num_generations=4,
                max_completion_length=16,
                reward_weights=[1.0, 0.2],
                logging_steps=1,
                bf16=False,
                use_cpu=True,
                report_to="none",
                save_strategy="no",
            ),
            train_dataset=load_dataset("json", data_files=data, split="train"),
        )
        trainer.train()
    for entry in trainer.state.log_history:
        if "rewards/math/mean" in entry:
            print(
                f"step {entry['step']}: math={entry['rewards/math/mean']:.3f} "
                f"format={entry['rewards/think-answer-format/mean']:.3f} math_latency_s={entry['math/latency_s']:.3f}"
            )
    print(f"finished {trainer.state.global_step} steps")


if __name__ == "__main__":
    main()
