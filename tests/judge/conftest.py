"""Fixtures for the judge tests (helpers live in ``judge_support``)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from judge_support import (
    FakeOpenAI,
    JudgeBuildContext,
    LoadedLM,
    ModelAnswers,
    TinyModels,
    build_tiny_models,
    make_app,
    minilm_dir,
)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    lm, reward = build_tiny_models(tmp_path_factory.mktemp("judge-models"))
    return TinyModels(lm=lm, reward=reward, minilm=minilm_dir())


@pytest.fixture
async def context() -> AsyncIterator[JudgeBuildContext]:
    ctx = JudgeBuildContext()
    yield ctx
    await ctx.resources.aclose()


@pytest.fixture(scope="session")
def loaded_lm(tiny_models: TinyModels) -> LoadedLM:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_models.lm, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(tiny_models.lm, local_files_only=True).eval()
    return LoadedLM(model, tokenizer)


@pytest.fixture
async def openai_server(loaded_lm: LoadedLM) -> AsyncIterator[FakeOpenAI]:
    from aiohttp import web

    state = FakeOpenAI()
    runner = web.AppRunner(make_app(state, ModelAnswers(loaded_lm)))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    state.base_url = f"http://127.0.0.1:{port}/v1"
    yield state
    await runner.cleanup()
