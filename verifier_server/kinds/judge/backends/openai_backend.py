"""The ``openai`` backend: any OpenAI-compatible HTTP endpoint (vLLM, SGLang, hosted APIs).

Every request goes through ``_post``, the one place with retries (connection
errors, timeouts, 408/409/429/5xx and malformed bodies, with exponential backoff
that honours ``Retry-After``), per-request concurrency and rate limits (the calling
verifier's, then the endpoint's from the server's allow-list), and the API key, read
from the environment variable the spec names (one the allow-list lets it name).

What an endpoint says back never reaches a caller except as a parsed answer: a
failure's reason is a status class (``HTTP 503``, ``unreadable response``, a
connection error's type), and the raw body goes only to the server's log.

``/completions`` takes a whole batch in one request (a list of prompts) and can
score multi-token labels exactly with ``echo`` + ``logprobs``; ``/chat/completions``
takes one conversation per request and reads label probabilities from the first
answer token's ``top_logprobs``, so its labels must differ in their first token.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from contextlib import nullcontext
from typing import Any, TypeVar

import aiohttp

from verifier_server.kinds.judge.backends.base import DEFAULT_POLICY, CallPolicy, GenerationParams, Prompt
from verifier_server.kinds.judge.config import BackendConfig, OpenAIConfig
from verifier_server.kinds.judge.failures import JudgeFailure, JudgeTimeout
from verifier_server.kinds.judge.limits import CallLimits

log = logging.getLogger(__name__)

T = TypeVar("T")
_RETRY_STATUSES = frozenset({408, 409, 429})
_TOP_LOGPROBS = 20
_MAX_BODY_BYTES = 64 << 20
"""A judge's answer is small; a bigger body is a broken or hostile endpoint, not an answer."""


class OpenAIBackend:
    limits_per_request = True

    def __init__(self, config: BackendConfig, endpoint_limits: CallLimits | None = None) -> None:
        assert config.openai is not None  # read_backend_config sets it for this backend
        self.config = config
        self.api: OpenAIConfig = config.openai
        self.name = f"openai:{self.api.base_url}:{config.model}"
        self.endpoint_limits = endpoint_limits
        """The allow-list's bound on requests to this endpoint, shared with every other backend using it."""
        self.requests_sent = 0
        self._session: aiohttp.ClientSession | None = None

    # -- operations -----------------------------------------------------------------------

    async def generate(
        self, prompts: Sequence[Prompt], params: GenerationParams, policy: CallPolicy = DEFAULT_POLICY
    ) -> list[str | JudgeFailure]:
        sampling = {"max_tokens": params.max_new_tokens, "temperature": params.temperature}
        if self.api.endpoint == "completions":
            texts = _raw_prompts(prompts)
            outputs = await self._post(
                "/completions", {"prompt": texts, **sampling}, _completion_texts(len(texts)), policy
            )
            return [text for text in outputs]
        return await _each(
            prompts,
            lambda p: self._post("/chat/completions", {"messages": _messages(p), **sampling}, _chat_text, policy),
        )

    async def label_logprobs(
        self, prompts: Sequence[Prompt], labels: tuple[str, ...], policy: CallPolicy = DEFAULT_POLICY
    ) -> list[dict[str, float] | JudgeFailure]:
        if self.api.endpoint == "completions":
            return await self._echo_logprobs(_raw_prompts(prompts), labels, policy)
        payload = {"max_tokens": 1, "temperature": 0.0, "logprobs": True, "top_logprobs": _TOP_LOGPROBS}
        reader = _first_token_reader(labels)
        return await _each(
            prompts, lambda p: self._post("/chat/completions", {"messages": _messages(p), **payload}, reader, policy)
        )

    async def classify(
        self, conversations: Sequence[Prompt], policy: CallPolicy = DEFAULT_POLICY
    ) -> list[list[float] | JudgeFailure]:
        raise JudgeFailure("the openai backend does not serve reward models")

    async def embed(
        self, texts: Sequence[str], pooling: str, policy: CallPolicy = DEFAULT_POLICY
    ) -> list[list[float] | JudgeFailure]:
        vectors = await self._post("/embeddings", {"input": list(texts)}, _embeddings(len(texts)), policy)
        return [_normalized(v) for v in vectors]

    async def _echo_logprobs(
        self, prompts: list[str], labels: tuple[str, ...], policy: CallPolicy
    ) -> list[dict[str, float] | JudgeFailure]:
        """log P(label | prompt) from the server's logprobs of the echoed prompt + label."""
        texts = [prompt + label for prompt in prompts for label in labels]
        payload = {"prompt": texts, "max_tokens": 1, "temperature": 0.0, "echo": True, "logprobs": 1}
        spans = [(len(prompt), len(prompt) + len(label)) for prompt in prompts for label in labels]
        totals = await self._post("/completions", payload, _echo_reader(spans), policy)
        width = len(labels)
        return [dict(zip(labels, totals[i * width : (i + 1) * width], strict=True)) for i in range(len(prompts))]

    # -- the one HTTP choke point ------------------------------------------------------------

    async def _post(self, path: str, payload: dict[str, Any], read: Callable[[Any], T], policy: CallPolicy) -> T:
        url = self.api.base_url + path
        body = {"model": self.config.model, **payload}
        retry = policy.request
        attempts = retry.max_retries + 1
        timeout = aiohttp.ClientTimeout(total=retry.request_timeout_s)
        problem, timed_out, delay_s = "", False, retry.retry_backoff_s
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(delay_s)
                delay_s *= 2
            try:
                async with policy.limits or nullcontext(), self.endpoint_limits or nullcontext():
                    self.requests_sent += 1
                    # no redirects: the allow-list names where requests go, a 3xx must not move them
                    async with self._client().post(url, json=body, timeout=timeout, allow_redirects=False) as response:
                        raw = await response.content.read(_MAX_BODY_BYTES + 1)
                        status, retry_after = response.status, response.headers.get("Retry-After")
            except TimeoutError:
                problem, timed_out = f"no response within request_timeout_s={retry.request_timeout_s:g}", True
                continue
            except aiohttp.ClientError as exc:
                problem, timed_out = f"connection failed ({type(exc).__name__})", False
                log.warning("judge endpoint unreachable", extra={"url": url, "error": str(exc)[:500]})
                continue
            timed_out = False
            text = raw.decode("utf-8", "replace")
            if len(raw) > _MAX_BODY_BYTES:
                problem = f"response larger than {_MAX_BODY_BYTES >> 20} MiB"
                continue
            if status != 200:
                problem = f"HTTP {status}"
                log.warning("judge endpoint answered HTTP %d", status, extra={"url": url, "body": text[:500]})
                if status not in _RETRY_STATUSES and status < 500:
                    raise JudgeFailure(f"the judge endpoint rejected the request: {problem}")
                # an endpoint's Retry-After is honoured up to one request's timeout, never beyond
                delay_s = min(_retry_after(retry_after, delay_s), retry.request_timeout_s)
                continue
            try:
                return read(json.loads(text))
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                problem = f"unreadable response ({type(exc).__name__})"
                log.warning("judge endpoint answered an unreadable body", extra={"url": url, "body": text[:500]})
        failure = JudgeTimeout if timed_out else JudgeFailure
        raise failure(f"the judge endpoint failed after {attempts} attempt(s): {problem}")

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            headers = {}
            if self.api.api_key_env:
                key = self.api.api_key()
                if not key:
                    raise JudgeFailure(f"environment variable {self.api.api_key_env} (the judge API key) is not set")
                headers["Authorization"] = f"Bearer {key}"
            self._session = aiohttp.ClientSession(headers=headers)
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def _each(prompts: Sequence[Prompt], call: Callable[[Prompt], Awaitable[T]]) -> list[T | JudgeFailure]:
    """One request per prompt, concurrently; a failed request fails only its own prompt."""

    async def one(prompt: Prompt) -> T | JudgeFailure:
        try:
            return await call(prompt)
        except JudgeFailure as exc:
            return exc

    return list(await asyncio.gather(*(one(p) for p in prompts)))


def _retry_after(header: str | None, default_s: float) -> float:
    try:
        return max(0.0, float(header)) if header else default_s
    except ValueError:
        return default_s


def _messages(prompt: Prompt) -> list[dict[str, str]]:
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    return [{"role": m.role, "content": m.content} for m in prompt]


def _raw_prompts(prompts: Sequence[Prompt]) -> list[str]:
    if not all(isinstance(p, str) for p in prompts):
        raise JudgeFailure("endpoint 'completions' needs raw-text prompts (chat: false)")
    return [p for p in prompts if isinstance(p, str)]


def _chat_text(data: Any) -> str:
    content = data["choices"][0]["message"]["content"]
    if not isinstance(content, str):
        raise TypeError("choices[0].message.content is not a string")
    return content


def _completion_texts(count: int) -> Callable[[Any], list[str]]:
    def read(data: Any) -> list[str]:
        choices = sorted(data["choices"], key=lambda c: c["index"])
        texts = [c["text"] for c in choices]
        if len(texts) != count or not all(isinstance(t, str) for t in texts):
            raise ValueError(f"expected {count} text choices, got {len(texts)}")
        return texts

    return read


def _first_token_reader(labels: tuple[str, ...]) -> Callable[[Any], dict[str, float]]:
    def read(data: Any) -> dict[str, float]:
        top = data["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
        found: dict[str, list[float]] = {}
        for entry in top:
            # "Yes", " yes" and "YES" are one verdict spelled differently: merge them
            found.setdefault(str(entry["token"]).strip().lower(), []).append(float(entry["logprob"]))
        return {label: _logsumexp(found.get(label.strip().lower(), [])) for label in labels}

    return read


def _echo_reader(spans: list[tuple[int, int]]) -> Callable[[Any], list[float]]:
    def read(data: Any) -> list[float]:
        choices = sorted(data["choices"], key=lambda c: c["index"])
        if len(choices) != len(spans):
            raise ValueError(f"expected {len(spans)} choices, got {len(choices)}")
        totals = []
        for choice, (start, end) in zip(choices, spans, strict=True):
            logprobs = choice["logprobs"]
            picked = [
                lp
                for offset, lp in zip(logprobs["text_offset"], logprobs["token_logprobs"], strict=False)
                if start <= offset < end and lp is not None
            ]
            if not picked:
                raise ValueError("the echoed logprobs do not cover the label")
            totals.append(float(sum(picked)))
        return totals

    return read


def _embeddings(count: int) -> Callable[[Any], list[list[float]]]:
    def read(data: Any) -> list[list[float]]:
        items = sorted(data["data"], key=lambda d: d["index"])
        if len(items) != count:
            raise ValueError(f"expected {count} embeddings, got {len(items)}")
        return [[float(x) for x in item["embedding"]] for item in items]

    return read


def _normalized(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


def _logsumexp(values: list[float]) -> float:
    if not values:
        return -math.inf
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))
