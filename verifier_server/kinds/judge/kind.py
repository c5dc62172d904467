"""The ``judge`` kind: compiles a spec into an ``llm``, ``reward_model`` or ``similarity`` judge.

Compiling validates everything that can be checked without loading a model (the
config, the template, that the backend's libraries exist and the model directory
is there), so a bad spec fails at registration; the model itself loads on first
use, on a worker thread, and is shared through the server's ``ResourceBag``; each
verifier keeps its own limits (``runner.JudgeRunner``). What a spec may reach is
``policy.py``'s decision.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from verifier_server.kinds.base import BaseKind, BuildContext, ConfigReader, Verifier
from verifier_server.kinds.judge.backends import backend_named, read_backend_config
from verifier_server.kinds.judge.builtins import builtin_specs
from verifier_server.kinds.judge.config import BackendConfig, read_verifier_limits
from verifier_server.kinds.judge.llm import LLMJudge, read_llm_config
from verifier_server.kinds.judge.reward_model import RewardModelJudge, read_reward_model_config
from verifier_server.kinds.judge.runner import JudgeRunner, shared_runner
from verifier_server.kinds.judge.settings import JudgeSettings
from verifier_server.kinds.judge.similarity import SimilarityJudge, read_similarity_config
from verifier_server.kinds.settings import kind_settings

_TASKS = {"llm": "causal_lm", "reward_model": "classification", "similarity": "embedding"}

Build = Callable[[JudgeRunner], Verifier]


class JudgeKind(BaseKind):
    name: ClassVar[str] = "judge"
    settings_type = JudgeSettings

    @classmethod
    def from_spec(cls, config: Mapping[str, Any], context: BuildContext) -> Verifier:
        reader = ConfigReader(config)
        judge_type = reader.str("type", choices=tuple(_TASKS))
        settings = kind_settings(context.resources, JudgeSettings)
        backend = read_backend_config(reader, judge_type, _TASKS[judge_type], settings)
        limits = read_verifier_limits(reader, backend_named(backend.backend), settings)
        build = _read_judge(judge_type, reader, backend, settings)
        reader.finish()
        return build(shared_runner(context.resources, backend).for_verifier(limits))

    @classmethod
    def builtin_specs(cls) -> list[dict[str, Any]]:
        return builtin_specs()


def _read_judge(judge_type: str, reader: ConfigReader, backend: BackendConfig, settings: JudgeSettings) -> Build:
    if judge_type == "llm":
        llm = read_llm_config(reader, backend, settings)
        return lambda runner: LLMJudge(llm, runner)
    if judge_type == "reward_model":
        reward = read_reward_model_config(reader)
        return lambda runner: RewardModelJudge(reward, runner)
    similarity = read_similarity_config(reader)
    return lambda runner: SimilarityJudge(similarity, runner)
