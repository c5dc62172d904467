"""The ``vllm`` backend: a vLLM engine in the server process (GPU).

vLLM is imported on the worker thread when the first batch arrives; registration
only checks that it is installed (``config.py``), so servers without it refuse the
spec with a clear ``SpecError`` instead of failing at import. The engine does its
own continuous batching; our batches just hand it many prompts at once. Memory
settings (``gpu_memory_utilization``, ``max_model_len``, ``tensor_parallel_size``)
pass straight through, so a judge can share a GPU with the trainer's vLLM.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from verifier_server.kinds.judge.backends.base import GenerationParams, Prompt
from verifier_server.kinds.judge.backends.inprocess import InProcessBackend
from verifier_server.kinds.judge.failures import JudgeFailure


@dataclass(slots=True)
class _Engine:
    llm: Any
    tokenizer: Any


class VLLMBackend(InProcessBackend[_Engine]):
    def load(self) -> _Engine:
        try:
            import vllm
        except ImportError as exc:
            raise JudgeFailure(f"the vllm backend needs vLLM, which this server cannot import: {exc}") from exc
        cfg = self.config
        options: dict[str, Any] = {
            "model": cfg.model,
            "dtype": cfg.dtype,
            "gpu_memory_utilization": cfg.vllm.gpu_memory_utilization,
            "tensor_parallel_size": cfg.vllm.tensor_parallel_size,
            "trust_remote_code": cfg.trust_remote_code,
        }
        if cfg.vllm.max_model_len is not None:
            options["max_model_len"] = cfg.vllm.max_model_len
        if cfg.task != "causal_lm":
            options["runner"] = "pooling"
        llm = vllm.LLM(**options)
        return _Engine(llm, llm.get_tokenizer())

    def _generate(self, prompts: list[Prompt], params: GenerationParams) -> list[str | JudgeFailure]:
        from vllm import SamplingParams

        engine = self.model()
        sampling = SamplingParams(max_tokens=params.max_new_tokens, temperature=params.temperature)
        inputs = [{"prompt_token_ids": self._ids(engine, p, generation_prompt=True)} for p in prompts]
        outputs = engine.llm.generate(inputs, sampling, use_tqdm=False)
        return [output.outputs[0].text for output in outputs]

    def _label_logprobs(self, prompts: list[Prompt], labels: tuple[str, ...]) -> list[dict[str, float] | JudgeFailure]:
        """log P(label | prompt) from vLLM's prompt log-probabilities of prompt + label."""
        from vllm import SamplingParams

        engine = self.model()
        label_ids = [engine.tokenizer.encode(label, add_special_tokens=False) for label in labels]
        rows = [self._ids(engine, p, generation_prompt=True) for p in prompts]
        inputs = [{"prompt_token_ids": row + ids} for row in rows for ids in label_ids]
        outputs = engine.llm.generate(inputs, SamplingParams(max_tokens=1, prompt_logprobs=0), use_tqdm=False)
        totals: list[float] = []
        for index, output in enumerate(outputs):
            row, ids = rows[index // len(labels)], label_ids[index % len(labels)]
            total = 0.0
            prompt_logprobs = output.prompt_logprobs or []
            for position, token in enumerate(ids, start=len(row)):
                entry = prompt_logprobs[position] if position < len(prompt_logprobs) else None
                total += entry[token].logprob if entry and token in entry else -math.inf
            totals.append(total)
        width = len(labels)
        return [dict(zip(labels, totals[i * width : (i + 1) * width], strict=True)) for i in range(len(rows))]

    def _classify(self, conversations: list[Prompt]) -> list[list[float] | JudgeFailure]:
        engine = self.model()
        inputs = [{"prompt_token_ids": self._ids(engine, c, generation_prompt=False)} for c in conversations]
        outputs = engine.llm.classify(inputs, use_tqdm=False)
        return [[float(x) for x in output.outputs.probs] for output in outputs]

    def _embed(self, texts: list[str], pooling: str) -> list[list[float] | JudgeFailure]:
        del pooling  # the pooling runner uses the model's own pooling config
        engine = self.model()
        outputs = engine.llm.embed(texts, use_tqdm=False)
        vectors = [[float(x) for x in output.outputs.embedding] for output in outputs]
        norms = [math.sqrt(sum(x * x for x in v)) or 1.0 for v in vectors]
        return [[x / n for x in v] for v, n in zip(vectors, norms, strict=True)]

    def _ids(self, engine: _Engine, prompt: Prompt, *, generation_prompt: bool) -> list[int]:
        if isinstance(prompt, str):
            return list(engine.tokenizer.encode(prompt))
        messages = [{"role": m.role, "content": m.content} for m in prompt]
        text = engine.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)
        return list(engine.tokenizer.encode(text, add_special_tokens=False))
