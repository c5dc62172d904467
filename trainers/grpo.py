"""Build and run TRL's ``GRPOTrainer`` from a ``RecipeConfig``, with rewards from the verifier service.

Heavy imports (torch, transformers, trl, datasets) happen inside the functions so the
``verifier`` CLI stays fast for everything that is not training.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainers import preflight
from trainers.config import ConfigError, RecipeConfig
from trainers.rewards import CompletionsLog, build_reward_funcs

log = logging.getLogger(__name__)

DATASET_FORMATS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}


class MissingDependencyError(ConfigError):
    """An option needs a package that is not installed; the message says which and how to get it."""


@dataclass
class TrainResult:
    """What a finished run reports back to its caller."""

    global_step: int
    log_history: list[dict[str, Any]]
    output_dir: Path
    completions_log: Path | None


def check_dependencies(config: RecipeConfig) -> None:
    """Fail before loading anything when an option needs a package this machine lacks."""
    if config.peft_lora_r is not None and importlib.util.find_spec("peft") is None:
        raise MissingDependencyError("peft_lora_r: LoRA training needs the 'peft' package (pip install peft)")
    if config.use_vllm:
        if importlib.util.find_spec("vllm") is None:
            raise MissingDependencyError(
                "use_vllm: vLLM generation needs the 'vllm' package on a CUDA machine "
                "(pip install 'verifier-service[vllm]'); drop --use-vllm to generate with transformers"
            )
        import torch

        if not torch.cuda.is_available():
            raise MissingDependencyError("use_vllm: vLLM generation needs a CUDA GPU; none is visible")


def load_prompts(config: RecipeConfig) -> Any:
    """The training dataset with a ``prompt`` column (text or chat messages); other columns are references."""
    from datasets import load_dataset

    path = Path(config.dataset)
    fmt = DATASET_FORMATS.get(path.suffix)
    if fmt is None:
        raise ConfigError(f"dataset: {path} must end in one of {', '.join(DATASET_FORMATS)}")
    if not path.is_file():
        raise ConfigError(f"dataset: {path} does not exist")
    dataset = load_dataset(fmt, data_files=str(path), split="train")
    if config.prompt_column not in dataset.column_names:
        raise ConfigError(
            f"prompt_column: {path} has no column {config.prompt_column!r} (columns: {', '.join(dataset.column_names)})"
        )
    if config.prompt_column != "prompt":
        if "prompt" in dataset.column_names:
            dataset = dataset.remove_columns("prompt")
        dataset = dataset.rename_column(config.prompt_column, "prompt")
    return dataset


def grpo_args(config: RecipeConfig) -> Any:
    """The ``trl.GRPOConfig`` for this recipe: CPU-safe unless a GPU is visible."""
    import torch
    from trl import GRPOConfig

    values: dict[str, Any] = {
        "output_dir": config.output_dir,
        "max_steps": config.max_steps,
        "num_generations": config.num_generations,
        "per_device_train_batch_size": config.per_device_train_batch_size,
        "gradient_accumulation_steps": config.gradient_accumulation_steps,
        "max_completion_length": config.max_completion_length,
        "learning_rate": config.learning_rate,
        "temperature": config.temperature,
        "beta": config.beta,
        "loss_type": config.loss_type,
        "importance_sampling_level": config.importance_sampling_level,
        "logging_steps": config.logging_steps,
        "save_strategy": "steps" if config.save_steps else "no",
        "seed": config.seed,
        "report_to": config.report_to,
        "bf16": config.bf16,
        "gradient_checkpointing": config.gradient_checkpointing,
        "use_cpu": not torch.cuda.is_available(),
        "reward_weights": list(config.reward_weights) if config.reward_weights else None,
        "use_vllm": config.use_vllm,
        "vllm_mode": config.vllm_mode,
        "vllm_gpu_memory_utilization": config.vllm_gpu_memory_utilization,
        "dataloader_num_workers": 0,
    }
    if config.save_steps:
        values["save_steps"] = config.save_steps
    if config.vllm_server_base_url:
        values["vllm_server_base_url"] = config.vllm_server_base_url
    values.update(config.extra_grpo_args)
    try:
        return GRPOConfig(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"GRPOConfig rejected the options: {exc}") from None


def peft_config(config: RecipeConfig) -> Any:
    if config.peft_lora_r is None:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=config.peft_lora_r,
        lora_alpha=config.peft_lora_alpha or 2 * config.peft_lora_r,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )


def build_trainer(config: RecipeConfig, *, server: str, callbacks: Sequence[Any] = ()) -> Any:
    """A ready ``GRPOTrainer`` whose reward functions call the verifier server at ``server``."""
    from trl import GRPOTrainer

    check_dependencies(config)
    reward_funcs = build_reward_funcs(
        config.rewards,
        target=server,
        timeout_s=config.reward_timeout_s,
        async_rewards=config.async_rewards,
        completions_log=CompletionsLog(config.completions_log_path),
        token=config.token,
    )
    return GRPOTrainer(
        model=config.model,
        reward_funcs=list[Any](reward_funcs),
        args=grpo_args(config),
        train_dataset=load_prompts(config),
        peft_config=peft_config(config),
        callbacks=list(callbacks) or None,
    )


def train(config: RecipeConfig, *, callbacks: Sequence[Any] = ()) -> TrainResult:
    """Run the recipe end to end: server (if local), training, final save."""
    check_dependencies(config)
    preflight.check_local_inputs(config)
    output_dir = Path(config.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    with _verifier_server(config) as server:
        preflight.check_rewards(config, server)
        # The address the rewards really went to (an in-process server's port is picked at start).
        recipe = {**config.to_dict(), "server": server}
        (output_dir / "recipe.json").write_text(json.dumps(recipe, indent=2, default=str))
        trainer = build_trainer(config, server=server, callbacks=callbacks)
        trainer.train()
        trainer.save_model(config.output_dir)
        # With checkpoints off TRL writes no state; keep the metric history (reward curves) anyway.
        trainer.state.save_to_json(str(output_dir / "trainer_state.json"))
    return TrainResult(
        global_step=trainer.state.global_step,
        log_history=list(trainer.state.log_history),
        output_dir=output_dir,
        completions_log=config.completions_log_path,
    )


@contextlib.contextmanager
def _verifier_server(config: RecipeConfig) -> Iterator[str]:
    if not config.serve_in_process:
        yield config.server
        return
    from trainers.local_server import local_server

    with local_server(Path(config.output_dir) / "verifier-server") as address:
        yield address
