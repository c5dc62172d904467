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
    judge_settings,
    make_app,
    minilm_dir,
)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    lm, reward = build_tiny_models(tmp_path_factory.mktemp("judge-models"))
    return TinyModels(lm=lm, reward=reward, minilm=minilm_dir())


@pytest.fixture
async def context(tiny_models: TinyModels) -> AsyncIterator[JudgeBuildContext]:
    """A judge build context whose server settings allow the tiny models (and the down endpoint)."""
    ctx = JudgeBuildContext(judge_settings(tiny_models))
    yield ctx
    await ctx.resources.aclose()


@pytest.fixture(scope="session")
def loaded_lm(tiny_models: TinyModels) -> LoadedLM:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_models.lm, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(tiny_models.lm, local_files_only=True).eval()
    return LoadedLM(model, tokenizer)


@pytest.fixture
async def openai_server(loaded_lm: LoadedLM, context: JudgeBuildContext) -> AsyncIterator[FakeOpenAI]:
    """The HTTP judge server, allowed (with the key variable JUDGE_TEST_KEY) in ``context``."""
    from aiohttp import web

    state = FakeOpenAI()
    runner = web.AppRunner(make_app(state, ModelAnswers(loaded_lm)))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    state.base_url = f"http://127.0.0.1:{port}/v1"
    context.allow_endpoint(state.base_url, "JUDGE_TEST_KEY")
    yield state
    await runner.cleanup()
