"""The judge backend table (issue 13): every entry's facts hold, by construction over the table.

Which judge types a backend serves, which modules it needs, its default concurrency and whether it
is an endpoint all come from its one entry; these tests walk the table, so a new entry is covered.
"""

from __future__ import annotations

from typing import Any

import pytest
from judge_support import DOWN_URL, JudgeBuildContext, TinyModels

from verifier_server.errors import SpecError
from verifier_server.kinds.judge import JudgeKind, available_backends
from verifier_server.kinds.judge.backends import BACKENDS, JudgeBackend

JUDGE_TYPES = ("llm", "reward_model", "similarity")


def config_for(entry: JudgeBackend, judge_type: str, models: TinyModels, **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"type": judge_type, "backend": entry.name, "model": str(models.lm), **extra}
    if entry.remote:
        config.update(model="served-name", base_url=DOWN_URL)
    if judge_type == "llm":
        config["template"] = "reference-equivalence"
    return config


def test_a_backend_offered_is_one_whose_modules_this_server_has() -> None:
    assert available_backends() == [name for name, entry in BACKENDS.items() if not entry.missing_modules()]
    assert "openai" in available_backends() and "transformers" in available_backends()


@pytest.mark.parametrize("name", sorted(BACKENDS))
@pytest.mark.parametrize("judge_type", JUDGE_TYPES)
def test_a_judge_type_a_backend_does_not_serve_is_refused_naming_the_backend(
    tiny_models: TinyModels, context: JudgeBuildContext, name: str, judge_type: str
) -> None:
    entry = BACKENDS[name]
    config = config_for(entry, judge_type, tiny_models)
    if judge_type in entry.judge_types and not entry.missing_modules():
        JudgeKind.from_spec(config, context)  # compiles; nothing loads until the first score
        return
    with pytest.raises(SpecError) as info:
        JudgeKind.from_spec(config, context)
    assert info.value.field == "config.backend"
    assert name in info.value.message


@pytest.mark.parametrize("name", [name for name in sorted(BACKENDS) if name in available_backends()])
def test_a_verifiers_concurrency_and_retries_follow_its_backends_entry(
    tiny_models: TinyModels, context: JudgeBuildContext, name: str
) -> None:
    entry = BACKENDS[name]
    judge = JudgeKind.from_spec(config_for(entry, "llm", tiny_models), context)
    assert judge.runner.batching.max_concurrency == entry.default_max_concurrency  # type: ignore[attr-defined]
    with_retries = config_for(entry, "llm", tiny_models, max_retries=1)
    if entry.remote:  # the HTTP retry policy exists only for endpoints
        JudgeKind.from_spec(with_retries, context)
    else:
        with pytest.raises(SpecError) as info:
            JudgeKind.from_spec(with_retries, context)
        assert info.value.field == "config.max_retries"


def test_an_endpoints_verifiers_share_one_instance_whatever_they_say_about_loading(
    tiny_models: TinyModels, context: JudgeBuildContext
) -> None:
    """dtype and device mean nothing to an endpoint: two verifiers differing only there share its cache."""
    entry = BACKENDS["openai"]
    first = JudgeKind.from_spec(config_for(entry, "llm", tiny_models, dtype="float16"), context)
    second = JudgeKind.from_spec(config_for(entry, "llm", tiny_models, dtype="float32", device="cpu"), context)
    local = JudgeKind.from_spec(config_for(BACKENDS["transformers"], "llm", tiny_models, dtype="float16"), context)
    other = JudgeKind.from_spec(config_for(BACKENDS["transformers"], "llm", tiny_models, dtype="float32"), context)
    assert first.runner.model is second.runner.model  # type: ignore[attr-defined]
    assert local.runner.model is not other.runner.model  # type: ignore[attr-defined]
