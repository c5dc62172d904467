"""The ``transformers`` backend: a Hugging Face model in the server process (CPU or GPU).

torch and transformers are imported on the worker thread at first use, so that
registering a judge (or importing this module) costs nothing. Padding follows the
operation: generation pads on the left (new tokens continue every row), scoring
and pooling pass explicit position ids or pad on the right so a padded row scores
the same as the row alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from verifier_server.kinds.judge.backends.base import GenerationParams, Prompt
from verifier_server.kinds.judge.backends.inprocess import InProcessBackend
from verifier_server.kinds.judge.failures import JudgeFailure

if TYPE_CHECKING:
    import torch

R = TypeVar("R")
_HEADS = {"causal_lm": "AutoModelForCausalLM", "classification": "AutoModelForSequenceClassification"}


@dataclass(slots=True)
class _Loaded:
    model: Any
    tokenizer: Any
    device: Any
    max_positions: int | None


class TransformersBackend(InProcessBackend[_Loaded]):
    def load(self) -> _Loaded:
        import torch
        import transformers

        cfg = self.config
        options: dict[str, Any] = {
            "local_files_only": not cfg.allow_download,
            "trust_remote_code": cfg.trust_remote_code,
        }
        tokenizer = transformers.AutoTokenizer.from_pretrained(cfg.model, **options)
        head = getattr(transformers, _HEADS.get(cfg.task, "AutoModel"))
        dtype = cfg.dtype if cfg.dtype == "auto" else getattr(torch, cfg.dtype)
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu") if cfg.device == "auto" else cfg.device
        model = head.from_pretrained(cfg.model, dtype=dtype, **options).to(device).eval()
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
        if tokenizer.pad_token_id is None:
            raise JudgeFailure(f"judge model {cfg.model!r}: its tokenizer has no pad, eos or unk token to pad with")
        if getattr(model.config, "pad_token_id", None) is None:
            model.config.pad_token_id = tokenizer.pad_token_id  # sequence classification finds the last token by it
        positions = getattr(model.config, "max_position_embeddings", None)
        return _Loaded(model, tokenizer, device, positions if isinstance(positions, int) else None)

    # -- operations (worker thread side; InProcessBackend runs them off the event loop) ---

    def _generate(self, prompts: list[Prompt], params: GenerationParams) -> list[str | JudgeFailure]:
        import torch
        import transformers

        m = self.model()
        encoded = [self._encode(m, p, generation_prompt=True, reserve=params.max_new_tokens) for p in prompts]

        def run(rows: list[list[int]]) -> list[str]:
            input_ids, mask = _pad(rows, m.tokenizer.pad_token_id, left=True, device=m.device)
            sampling = params.temperature > 0
            config = transformers.GenerationConfig(
                max_new_tokens=params.max_new_tokens,
                do_sample=sampling,
                temperature=params.temperature if sampling else None,
                top_p=None,
                top_k=None,
                pad_token_id=m.tokenizer.pad_token_id,
                eos_token_id=m.model.generation_config.eos_token_id,
            )
            with torch.inference_mode():
                out = m.model.generate(input_ids=input_ids, attention_mask=mask, generation_config=config)
            return list(m.tokenizer.batch_decode(out[:, input_ids.shape[1] :], skip_special_tokens=True))

        return _run_valid(encoded, run)

    def _label_logprobs(self, prompts: list[Prompt], labels: tuple[str, ...]) -> list[dict[str, float] | JudgeFailure]:
        m = self.model()
        label_ids = [m.tokenizer(label, add_special_tokens=False)["input_ids"] for label in labels]
        longest = max(len(ids) for ids in label_ids)
        encoded = [self._encode(m, p, generation_prompt=True, reserve=longest) for p in prompts]
        if longest == 1:  # one forward pass per prompt: read the next-token distribution
            return _run_valid(encoded, lambda rows: self._next_token_logprobs(m, rows, labels, label_ids))
        return _run_valid(encoded, lambda rows: self._sequence_logprobs(m, rows, labels, label_ids))

    def _next_token_logprobs(
        self, m: _Loaded, rows: list[list[int]], labels: tuple[str, ...], label_ids: list[list[int]]
    ) -> list[dict[str, float]]:
        logprobs = self._last_logprobs(m, rows, keep=1)[:, -1, :]
        token_ids = [ids[0] for ids in label_ids]
        picked = logprobs[:, token_ids].tolist()
        return [dict(zip(labels, row, strict=True)) for row in picked]

    def _sequence_logprobs(
        self, m: _Loaded, rows: list[list[int]], labels: tuple[str, ...], label_ids: list[list[int]]
    ) -> list[dict[str, float]]:
        """log P(label | prompt) summed over the label's tokens, for labels of several tokens ("10")."""
        longest = max(len(ids) for ids in label_ids)
        sequences = [row + ids for row in rows for ids in label_ids]
        chunk = max(self.config.instance.max_batch_size, len(labels))
        totals: list[float] = []
        for start in range(0, len(sequences), chunk):
            part = sequences[start : start + chunk]
            logprobs = self._last_logprobs(m, part, keep=longest + 1)
            for offset in range(len(part)):
                ids = label_ids[(start + offset) % len(labels)]
                first = longest - len(ids)  # kept logits start one position before the longest label
                total = sum(float(logprobs[offset, first + t, token]) for t, token in enumerate(ids))
                totals.append(total if math.isfinite(total) else -math.inf)
        width = len(labels)
        return [dict(zip(labels, totals[i * width : (i + 1) * width], strict=True)) for i in range(len(rows))]

    def _last_logprobs(self, m: _Loaded, rows: list[list[int]], keep: int) -> torch.Tensor:
        import torch

        input_ids, mask = _pad(rows, m.tokenizer.pad_token_id, left=True, device=m.device)
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            logits = m.model(
                input_ids=input_ids, attention_mask=mask, position_ids=position_ids, logits_to_keep=keep
            ).logits
        return torch.log_softmax(logits[:, -keep:, :].float(), dim=-1)

    def _classify(self, conversations: list[Prompt]) -> list[list[float] | JudgeFailure]:
        import torch

        m = self.model()
        encoded = [self._encode(m, c, generation_prompt=False, reserve=0) for c in conversations]

        def run(rows: list[list[int]]) -> list[list[float]]:
            input_ids, mask = _pad(rows, m.tokenizer.pad_token_id, left=False, device=m.device)
            with torch.inference_mode():
                logits = m.model(input_ids=input_ids, attention_mask=mask).logits
            return [list(map(float, row)) for row in logits.float().tolist()]

        return _run_valid(encoded, run)

    def _embed(self, texts: list[str], pooling: str) -> list[list[float] | JudgeFailure]:
        import torch

        m = self.model()
        limit = min(m.max_positions or 512, m.tokenizer.model_max_length or 512)
        rows = [m.tokenizer(text, truncation=True, max_length=limit)["input_ids"] for text in texts]
        input_ids, mask = _pad(rows, m.tokenizer.pad_token_id, left=False, device=m.device)
        with torch.inference_mode():
            hidden = m.model(input_ids=input_ids, attention_mask=mask).last_hidden_state.float()
        if pooling == "cls":
            pooled = hidden[:, 0]
        else:
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        normalized = torch.nn.functional.normalize(pooled, dim=-1)
        return [list(map(float, row)) for row in normalized.tolist()]

    def _encode(self, m: _Loaded, prompt: Prompt, *, generation_prompt: bool, reserve: int) -> list[int] | JudgeFailure:
        tokenizer = m.tokenizer
        if isinstance(prompt, str):
            ids: list[int] = tokenizer(prompt)["input_ids"]
        else:
            if not tokenizer.chat_template:
                return JudgeFailure(
                    f"judge model {self.config.model!r} has no chat template; use chat: false with a raw-text template"
                )
            messages = [{"role": message.role, "content": message.content} for message in prompt]
            text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if m.max_positions is not None and len(ids) + reserve > m.max_positions:
            return JudgeFailure(
                f"judge input is {len(ids)} tokens (+{reserve} to generate); the model accepts {m.max_positions}"
            )
        return ids


def _pad(rows: list[list[int]], pad_id: int, *, left: bool, device: Any) -> tuple[torch.Tensor, torch.Tensor]:
    import torch

    width = max(len(row) for row in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        if left:
            ids[i, width - len(row) :] = torch.tensor(row)
            mask[i, width - len(row) :] = 1
        else:
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
    return ids.to(device), mask.to(device)


def _run_valid(
    encoded: list[list[int] | JudgeFailure], run: Callable[[list[list[int]]], list[R]]
) -> list[R | JudgeFailure]:
    """Run ``run`` on the inputs that encoded, and put per-input failures back in their places."""
    valid = [(i, ids) for i, ids in enumerate(encoded) if not isinstance(ids, JudgeFailure)]
    answers: list[R | JudgeFailure] = [
        ids if isinstance(ids, JudgeFailure) else JudgeFailure("judge input was not run") for ids in encoded
    ]
    if valid:
        for (i, _), answer in zip(valid, run([ids for _, ids in valid]), strict=True):
            answers[i] = answer
    return answers
