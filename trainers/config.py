"""The GRPO recipe's options: one frozen dataclass, loaded from a YAML/JSON file and overridden by flags.

Everything the recipe does is decided here, so a run is reproducible from its config
file alone; ``to_dict()`` is what the recipe writes next to its checkpoints.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOSS_TYPES = ("grpo", "dr_grpo", "dapo", "bnpo", "cispo", "sapo", "luspo", "vespo")
"""TRL 1.16's ``GRPOConfig.loss_type`` values."""

IMPORTANCE_SAMPLING_LEVELS = ("token", "sequence")
"""``sequence`` is GSPO (one importance ratio per completion)."""

VLLM_MODES = ("colocate", "server")


class ConfigError(ValueError):
    """The recipe's options cannot be used as given; the message names the option."""


@dataclass(frozen=True)
class RecipeConfig:
    """A GRPO run with remote verifier rewards."""

    model: str
    """A local ``save_pretrained`` directory (or a hub id where the machine can download)."""
    dataset: str
    """A ``.jsonl``/``.json``/``.parquet``/``.csv`` file; each row has a prompt column, every
    other column is sent to the verifiers as that sample's reference."""
    output_dir: str
    rewards: tuple[str, ...] = ("math",)
    """Verifier names (``name`` or ``name@version``); each is one TRL reward function."""
    reward_weights: tuple[float, ...] | None = None
    """One weight per reward; None weighs every reward 1."""
    server: str = "127.0.0.1:50051"
    """The verifier server(s), comma-separated; ignored with ``serve_in_process``."""
    token: str | None = None
    """Bearer token for servers with auth enabled."""
    serve_in_process: bool = False
    """Start a verifier server beside the trainer for a single-machine run (a child process,
    so scoring never competes with training for the GIL); stopped when training ends."""
    async_rewards: bool = True
    """Async reward functions: TRL runs them concurrently, so several verifiers overlap."""
    reward_timeout_s: float = 60.0
    """The longest one reward call may take; past it the batch's rewards are None."""
    prompt_column: str = "prompt"
    completions_log: str | None = None
    """A JSONL file receiving every scored completion and its reward (default
    ``<output_dir>/completions.jsonl``; "" turns it off)."""
    max_steps: int = 100
    num_generations: int = 4
    per_device_train_batch_size: int = 4
    gradient_accumulation_steps: int = 1
    max_completion_length: int = 256
    learning_rate: float = 1e-6
    temperature: float = 1.0
    beta: float = 0.0
    """KL coefficient; 0 skips the reference model (TRL's default)."""
    loss_type: str = "dapo"
    importance_sampling_level: str = "token"
    logging_steps: int = 1
    save_steps: int = 0
    """Checkpoint every N steps; 0 saves only the final model."""
    seed: int = 0
    report_to: str = "none"
    """Where TRL logs (``none``, ``tensorboard``, ``wandb``, ...); metrics always land in
    ``trainer_state.json`` and on the console."""
    use_vllm: bool = False
    vllm_mode: str = "colocate"
    vllm_server_base_url: str | None = None
    """For ``vllm_mode="server"``: where ``trl vllm-serve`` listens (default its localhost:8000)."""
    vllm_gpu_memory_utilization: float = 0.3
    peft_lora_r: int | None = None
    """LoRA rank; None trains the full model. Needs the ``peft`` package."""
    peft_lora_alpha: int | None = None
    """Default ``2 * peft_lora_r``."""
    bf16: bool = False
    """CPU-safe default; turn on for GPUs that support it."""
    gradient_checkpointing: bool = False
    extra_grpo_args: Mapping[str, Any] = field(default_factory=dict)
    """Any other ``trl.GRPOConfig`` field, passed through unchanged (config files only)."""

    def __post_init__(self) -> None:
        self._validate()

    def _validate(self) -> None:
        if not self.rewards:
            raise ConfigError("rewards: give at least one verifier name (--reward NAME)")
        if self.reward_weights is not None and len(self.reward_weights) != len(self.rewards):
            raise ConfigError(
                f"reward_weights: {len(self.reward_weights)} weights for {len(self.rewards)} rewards "
                f"({', '.join(self.rewards)})"
            )
        if self.loss_type not in LOSS_TYPES:
            raise ConfigError(f"loss_type: {self.loss_type!r} is not one of {', '.join(LOSS_TYPES)}")
        if self.importance_sampling_level not in IMPORTANCE_SAMPLING_LEVELS:
            raise ConfigError(
                "importance_sampling_level: must be 'token' or 'sequence' (GSPO), "
                f"not {self.importance_sampling_level!r}"
            )
        if self.vllm_mode not in VLLM_MODES:
            raise ConfigError(f"vllm_mode: must be 'colocate' or 'server', not {self.vllm_mode!r}")
        for name in ("max_steps", "num_generations", "per_device_train_batch_size", "max_completion_length"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be at least 1")
        if self.num_generations < 2:
            raise ConfigError("num_generations: GRPO compares completions within a group; use at least 2")
        if self.reward_timeout_s <= 0:
            raise ConfigError("reward_timeout_s: must be positive")
        if self.peft_lora_r is not None and self.peft_lora_r < 1:
            raise ConfigError("peft_lora_r: must be at least 1")

    @property
    def completions_log_path(self) -> Path | None:
        if self.completions_log == "":
            return None
        return Path(self.completions_log or Path(self.output_dir) / "completions.jsonl")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["token"] = "***" if self.token else None  # never write credentials next to checkpoints
        return data

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> RecipeConfig:
        """Build from plain data (a parsed file merged with flags); unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"unknown option(s): {', '.join(unknown)} (known: {', '.join(sorted(names))})")
        missing = [name for name in ("model", "dataset", "output_dir") if not data.get(name)]
        if missing:
            raise ConfigError(f"missing required option(s): {', '.join(missing)}")
        values = dict(data)
        values["rewards"] = _as_tuple(values.get("rewards", cls.rewards), str, "rewards")
        if values.get("reward_weights") is not None:
            values["reward_weights"] = _as_tuple(values["reward_weights"], float, "reward_weights")
        return cls(**values)


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON config file into a mapping of option names (dashes become underscores)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"config: cannot read {path}: {exc}") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = json.loads(text)
    except Exception as exc:  # yaml and json raise different types; both mean "unparseable"
        raise ConfigError(f"config: {path} is not valid {path.suffix.lstrip('.') or 'JSON'}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config: {path} must hold a mapping of options")
    return {str(key).replace("-", "_"): value for key, value in data.items()}


def _as_tuple(value: Any, kind: type, name: str) -> tuple[Any, ...]:
    """Accept a list or a comma-separated string (``"1,0.2"``), the form flags and files use."""
    items = value.split(",") if isinstance(value, str) else list(value)
    try:
        return tuple(kind(item.strip() if isinstance(item, str) else item) for item in items if item != "")
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: cannot read {value!r} as a list of {kind.__name__}") from None
