"""Checks a GRPO run passes before anything heavy loads: the model, the dataset, the server and every reward.

A run that would train on ``None`` rewards (an unknown verifier name, nobody answering at
the server address) or die inside transformers with a traceback (a model path that does
not exist) is stopped here with one sentence naming the option and what to do. NOT_FOUND
is permanent, so it is never worth loading a model for; a mid-run outage is different
and still costs only that batch's rewards (see ``trainers.rewards``).
"""

from __future__ import annotations

from pathlib import Path

from sdk import NotFoundError, ServerUnavailableError, VerifierClient, VerifierError
from trainers.config import ConfigError, RecipeConfig

PREFLIGHT_TIMEOUT_S = 15.0
"""How long the server gets to answer the first call (the SDK retries UNAVAILABLE until then)."""


def check_local_inputs(config: RecipeConfig) -> None:
    """The dataset file and the model folder exist, and the model's config and tokenizer load."""
    dataset = Path(config.dataset)
    if not dataset.is_file():
        raise ConfigError(f"dataset: {dataset} does not exist (from {Path.cwd()})")
    check_model(config.model)


def check_model(model: str) -> None:
    """A local folder must hold a loadable ``save_pretrained`` model; anything else must be a hub id this
    machine can fetch. Only the config and tokenizer are read (milliseconds), never the weights."""
    path = Path(model).expanduser()
    looks_local = path.exists() or model.startswith((".", "/", "~")) or model.count("/") > 1
    if looks_local and not path.is_dir():
        what = "is a file, not a folder" if path.exists() else "does not exist"
        raise ConfigError(
            f"model: {model} {what}; pass a folder written by save_pretrained "
            "(`python -m trainers.tiny ./tiny` makes a tiny one for a smoke run)"
        )
    if looks_local and not (path / "config.json").is_file():
        raise ConfigError(f"model: {model} has no config.json; it is not a folder written by save_pretrained")
    from transformers import AutoConfig, AutoTokenizer

    try:
        AutoConfig.from_pretrained(str(path) if looks_local else model)
        AutoTokenizer.from_pretrained(str(path) if looks_local else model)
    except (OSError, ValueError, KeyError) as exc:
        where = "cannot be loaded" if looks_local else "is not a local folder and cannot be downloaded here"
        raise ConfigError(f"model: {model} {where}: {_first_line(exc)}") from None


def check_rewards(config: RecipeConfig, server: str) -> None:
    """The server answers and knows every reward name (did-you-mean from the server on a typo)."""
    with VerifierClient(server, token=config.token, timeout_s=PREFLIGHT_TIMEOUT_S) as client:
        unknown: list[str] = []
        for name in config.rewards:
            try:
                client.get(name)
            except NotFoundError as error:
                unknown.append(f"--reward {name}: {error.message}")
            except ServerUnavailableError:
                hint = "" if config.serve_in_process else "; start one with `verifier serve` or pass --serve-in-process"
                raise ConfigError(f"server: no verifier server answers at {server}{hint}") from None
            except VerifierError as error:
                raise ConfigError(f"server {server}: {error}") from None
    if unknown:
        raise ConfigError("; ".join(unknown) + " (`verifier list` shows what the server has)")


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
