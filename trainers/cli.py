"""``verifier train grpo``: flags (or a YAML/JSON config file, which flags override) to a GRPO run.

    verifier train grpo --model ./tiny --dataset data.jsonl --reward math \\
        --reward think-answer-format --reward-weights 1,0.2 --server 127.0.0.1:50051 \\
        --max-steps 50 --output-dir runs/grpo
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from sdk.cli._help import HelpFormatter, with_default
from trainers.config import (
    IMPORTANCE_SAMPLING_LEVELS,
    LOSS_TYPES,
    VLLM_MODES,
    ConfigError,
    RecipeConfig,
    load_config_file,
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if getattr(args, "command", None) != "grpo":
        parser.print_help()
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = config_from_args(args)
        from trainers.grpo import train

        result = train(config)
    except ConfigError as error:
        print(f"verifier train: {error}", file=sys.stderr)
        return 2
    print(f"trained {result.global_step} steps; model saved to {result.output_dir}")
    if result.completions_log is not None:
        print(f"scored completions: {result.completions_log}")
    return 0


def config_from_args(args: argparse.Namespace) -> RecipeConfig:
    """File values first, then every flag the user gave (flags left out do not override)."""
    values: dict[str, Any] = load_config_file(args.config) if getattr(args, "config", None) else {}
    flags = {key: value for key, value in vars(args).items() if key not in ("command", "config")}
    values.update(flags)
    if "rewards" not in flags and "reward" in values:  # files may say `reward:` like the flag
        values["rewards"] = values.pop("reward")
    if "server" not in values and os.environ.get("VERIFIER_SERVER"):
        values["server"] = os.environ["VERIFIER_SERVER"]
    if "token" not in values and os.environ.get("VERIFIER_TOKEN"):
        values["token"] = os.environ["VERIFIER_TOKEN"]
    return RecipeConfig.from_mapping(values)


EXAMPLE = """example:
  python -m trainers.tiny ./tiny --dataset ./tiny.jsonl     # a tiny model and dataset for a smoke run
  verifier train grpo --model ./tiny --dataset ./tiny.jsonl --serve-in-process \\
      --reward math --reward think-answer-format --reward-weights 1,0.2 --max-steps 2 --output-dir runs/smoke"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="verifier train", description="Training recipes with remote rewards.", epilog=EXAMPLE,
        formatter_class=HelpFormatter,
    )  # fmt: skip
    commands = parser.add_subparsers(dest="command", metavar="RECIPE")
    grpo = commands.add_parser(
        "grpo",
        help="GRPO on TRL with verifier rewards",
        argument_default=argparse.SUPPRESS,  # only flags the user gives override the config file
        description="GRPO on TRL's GRPOTrainer; every reward comes from the verifier service.\n"
        "Before the model loads, the dataset, the model folder, the server and every --reward are checked.",
        epilog=EXAMPLE,
        formatter_class=HelpFormatter,
    )
    grpo.add_argument("--config", help="YAML or JSON file of options (keys as below, with underscores)")
    _add_run_flags(grpo)
    _add_reward_flags(grpo)
    _add_optimisation_flags(grpo)
    _add_generation_flags(grpo)
    _show_defaults(grpo)
    return parser


def _show_defaults(grpo: argparse.ArgumentParser) -> None:
    """The recipe's defaults live on ``RecipeConfig`` (flags are suppressed so a file's values survive)."""
    defaults = {f.name: f.default for f in dataclasses.fields(RecipeConfig) if f.default is not dataclasses.MISSING}
    for action in grpo._actions:
        if action.dest in defaults and action.dest != "rewards":
            action.help = with_default(action.help or "", defaults[action.dest])


def _add_run_flags(grpo: argparse.ArgumentParser) -> None:
    grpo.add_argument("--model", help="a local save_pretrained directory (model + tokenizer)")
    grpo.add_argument("--dataset", help="JSONL/JSON/Parquet/CSV; a prompt column, other columns are references")
    grpo.add_argument("--prompt-column", dest="prompt_column", help="the prompt column")
    grpo.add_argument(
        "--output-dir", dest="output_dir", help="model, recipe.json, trainer_state.json and completions.jsonl go here"
    )
    grpo.add_argument("--max-steps", dest="max_steps", type=int)
    grpo.add_argument("--logging-steps", dest="logging_steps", type=int)
    grpo.add_argument("--save-steps", dest="save_steps", type=int, help="checkpoint every N steps (0: final only)")
    grpo.add_argument("--seed", type=int)
    grpo.add_argument("--report-to", dest="report_to", help="none, tensorboard, wandb, ...")
    grpo.add_argument(
        "--completions-log",
        dest="completions_log",
        help="JSONL of scored completions (default <output-dir>/completions.jsonl; '' for none)",
    )


def _add_reward_flags(grpo: argparse.ArgumentParser) -> None:
    grpo.add_argument(
        "--reward", dest="rewards", action="append", help="a verifier name; repeat for several (default: math)"
    )
    grpo.add_argument("--reward-weights", dest="reward_weights", help="comma-separated, one per --reward")
    grpo.add_argument("--server", help="verifier server address(es), comma-separated (env VERIFIER_SERVER)")
    grpo.add_argument("--token", help="bearer token (env VERIFIER_TOKEN)")
    grpo.add_argument(
        "--serve-in-process",
        dest="serve_in_process",
        action="store_true",
        help="start a verifier server beside the trainer for this run",
    )
    grpo.add_argument(
        "--async-rewards",
        dest="async_rewards",
        action=argparse.BooleanOptionalAction,
        help="score with all verifiers concurrently (default on)",
    )
    grpo.add_argument(
        "--reward-timeout-s", dest="reward_timeout_s", type=float, help="past this a batch's rewards are None"
    )


def _add_optimisation_flags(grpo: argparse.ArgumentParser) -> None:
    grpo.add_argument("--learning-rate", dest="learning_rate", type=float)
    grpo.add_argument("--beta", type=float, help="KL coefficient (0: no reference model)")
    grpo.add_argument("--loss-type", dest="loss_type", choices=LOSS_TYPES)
    grpo.add_argument(
        "--importance-sampling-level",
        dest="importance_sampling_level",
        choices=IMPORTANCE_SAMPLING_LEVELS,
        help="sequence = GSPO",
    )
    grpo.add_argument("--per-device-train-batch-size", dest="per_device_train_batch_size", type=int)
    grpo.add_argument("--gradient-accumulation-steps", dest="gradient_accumulation_steps", type=int)
    grpo.add_argument("--peft-lora-r", dest="peft_lora_r", type=int, help="train a LoRA of this rank (needs peft)")
    grpo.add_argument("--peft-lora-alpha", dest="peft_lora_alpha", type=int)
    grpo.add_argument("--bf16", action=argparse.BooleanOptionalAction)
    grpo.add_argument("--gradient-checkpointing", dest="gradient_checkpointing", action=argparse.BooleanOptionalAction)


def _add_generation_flags(grpo: argparse.ArgumentParser) -> None:
    grpo.add_argument("--num-generations", dest="num_generations", type=int, help="completions per prompt")
    grpo.add_argument("--max-completion-length", dest="max_completion_length", type=int)
    grpo.add_argument("--temperature", type=float)
    grpo.add_argument("--use-vllm", dest="use_vllm", action="store_true", help="generate with vLLM (CUDA)")
    grpo.add_argument("--vllm-mode", dest="vllm_mode", choices=VLLM_MODES)
    grpo.add_argument("--vllm-server-base-url", dest="vllm_server_base_url", help="for --vllm-mode server")
    grpo.add_argument("--vllm-gpu-memory-utilization", dest="vllm_gpu_memory_utilization", type=float)


if __name__ == "__main__":
    sys.exit(main())
