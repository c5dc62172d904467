"""Benchmark: the judge kind's dynamic batching vs one model call per sample.

The same 512 LLM-as-judge calls (template ``reference-equivalence``, verdict from
the Yes/No log-probabilities) on a tiny random Qwen2 built here, offline, on CPU:

* batched: 512 concurrent ``score_batch`` calls of one sample each, as concurrent
  reward requests arrive at the server; the judge gathers them into model batches.
* per-sample: what a hand-written async reward function does: render the prompt,
  then one forward pass per sample on a worker thread (``asyncio.to_thread``),
  all samples awaited concurrently with ``asyncio.gather``.

Both compute the same quantity; the script checks they agree. Runtime is bounded
(about 10-30 s on 2 cores). Run: ``.venv/bin/python bench/judge_batching.py``.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from verifier_server.domain import Sample
from verifier_server.kinds.base import (
    ConfigReader,
    ResourceBag,
    Verifier,
)
from verifier_server.kinds.judge import BUILTIN_TEMPLATES, JudgeKind
from verifier_server.kinds.judge.inputs import template_variables
from verifier_server.kinds.judge.scoring import read_scoring
from verifier_server.kinds.judge.templates import render

CALLS = 512
MAX_BATCH_SIZE = 64
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_model(root: Path) -> Path:
    """A random-weight Qwen2 (hidden 64, 2 layers) with a BPE tokenizer trained in-process."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from trainers.tiny import save_tiny_causal_lm

    torch.manual_seed(0)
    # repeated so that frequent words (and the labels Yes / No) become single tokens
    corpus = [t.text for t in BUILTIN_TEMPLATES.values()] * 20 + [
        "What is 12 + 30? The answer is 42.",
        "Yes",
        "No",
    ] * 20
    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    raw.train_from_iterator(
        corpus,
        trainers.BpeTrainer(
            vocab_size=1000,
            special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tokenizer.chat_template = CHAT_TEMPLATE
    return save_tiny_causal_lm(tokenizer, root / "tiny-judge", max_positions=1024)


def make_samples() -> list[Sample]:
    return [
        Sample(
            completion=f"Adding the numbers gives {i % 97}, so the answer is {i % 89}.",
            prompt=f"What is {i} + {i % 13}?",
            reference={"answer": str(i + i % 13), "rubric": "Correct arithmetic, shown briefly."},
        )
        for i in range(CALLS)
    ]


def judge_settings(model_dir: Path) -> dict[str, Any]:
    """Server settings that let judges load the benchmark's model (models load only from model roots)."""
    return {"judge": {"model_roots": [str(model_dir.parent)]}}


class _Context:
    def __init__(self, model_dir: Path) -> None:
        self.resources = ResourceBag(judge_settings(model_dir))

    async def resolve(self, ref: str) -> Verifier:
        raise LookupError(ref)

    async def compile_inline(self, spec: Any) -> Verifier:
        raise LookupError(spec)


GENERATE = {"template": "rubric", "max_new_tokens": 16, "parse_retries": 0}
LOGPROBS = {"template": "reference-equivalence"}
MODES: dict[str, dict[str, Any]] = {"generate": GENERATE, "logprobs": LOGPROBS}


def judge_config(model_dir: Path, mode: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "llm",
        "model": str(model_dir),
        "device": "cpu",
        "dtype": "float32",
        "max_batch_size": MAX_BATCH_SIZE,
        "max_wait_ms": 5,
        "cache_size": 0,
        **mode,
    }


async def run_service(model_dir: Path, samples: list[Sample], mode: dict[str, Any]) -> tuple[float, list[Any]]:
    """Through a real server: 512 concurrent one-sample Score calls (many reward calls in
    flight at once), which the server gathers into model batches."""
    from sdk import AsyncVerifierClient
    from verifier_server.testing import start_server_process

    config = {"kinds": judge_settings(model_dir)}
    with start_server_process(extra_args=["--log-level", "WARNING"], config=config) as server:
        async with AsyncVerifierClient(server.address, timeout_s=300) as client:
            await client.register({"name": "bench-judge", "kind": "judge", "config": judge_config(model_dir, mode)})

            async def one(sample: Sample) -> Any:
                (result,) = await client.score(
                    "bench-judge", [sample.completion], prompts=[sample.prompt], references=[dict(sample.reference)]
                )
                return result

            await asyncio.gather(*(one(s) for s in samples[:2]))  # load the model before timing
            start = time.perf_counter()
            results = await asyncio.gather(*(one(s) for s in samples))
            elapsed = time.perf_counter() - start
    return elapsed, [r.score for r in results]


async def run_batched(model_dir: Path, samples: list[Sample], mode: dict[str, Any]) -> tuple[float, list[Any]]:
    context = _Context(model_dir)
    config = judge_config(model_dir, mode)
    judge = JudgeKind.from_spec(config, context)
    await judge.score_batch(samples[:2])  # load the model before timing
    start = time.perf_counter()
    batches = await asyncio.gather(*(judge.score_batch([s]) for s in samples))
    elapsed = time.perf_counter() - start
    stats = judge.runner.stats  # type: ignore[attr-defined]
    calls = stats.model_calls - 1
    print(f"  batched: {calls} model calls for {CALLS} judge calls, largest batch {stats.largest_batch}")
    await context.resources.aclose()
    results = [b[0] for b in batches]
    if mode is LOGPROBS and any(r.score is None for r in results):
        raise SystemExit(f"batched judge failed: {[r.reason for r in results if r.score is None][:3]}")
    return elapsed, [r.score for r in results]


async def run_per_sample(model_dir: Path, samples: list[Sample], mode: dict[str, Any]) -> tuple[float, list[Any]]:
    """A typical hand-written async judge reward: one model call per sample, on a thread."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True, dtype=torch.float32).eval()
    template = BUILTIN_TEMPLATES[mode["template"]]
    yes_ids, no_ids = (tokenizer(label, add_special_tokens=False)["input_ids"] for label in ("Yes", "No"))
    if len(yes_ids) != 1 or len(no_ids) != 1:
        raise SystemExit("the bench tokenizer must encode Yes and No as single tokens")
    yes, no = yes_ids[0], no_ids[0]
    rule = read_scoring(ConfigReader({}), template.scoring)
    greedy = GenerationConfig(
        max_new_tokens=GENERATE["max_new_tokens"],
        do_sample=False,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )

    def judge_one(sample: Sample) -> Any:
        variables = template_variables(sample)
        messages = [
            {"role": "system", "content": render(template.system or "", variables)},
            {"role": "user", "content": render(template.text, variables)},
        ]
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
        with torch.inference_mode():
            if mode is GENERATE:
                out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=greedy)
                verdict = rule.parse(
                    tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True), reasoning=False
                )
                return None if verdict is None else verdict.value
            logprobs = torch.log_softmax(model(input_ids=ids).logits[0, -1].float(), dim=-1)
        p_yes, p_no = math.exp(float(logprobs[yes])), math.exp(float(logprobs[no]))
        return p_yes / (p_yes + p_no)

    async def reward(batch: list[Sample]) -> list[Any]:
        return list(await asyncio.gather(*(asyncio.to_thread(judge_one, s) for s in batch)))

    await reward(samples[:2])  # warm up
    start = time.perf_counter()
    outputs = await reward(samples)
    return time.perf_counter() - start, outputs


def measure(model_dir: Path, mode_name: str, how: str) -> None:
    """One measurement, printed as JSON; run in its own process (see ``main``)."""
    mode = MODES[mode_name]
    run = {"batched": run_batched, "service": run_service, "per-sample": run_per_sample}[how]
    elapsed_s, scores = asyncio.run(run(model_dir, make_samples(), mode))
    print(json.dumps({"elapsed_s": elapsed_s, "scores": scores}))


def spawn(model_dir: Path, mode_name: str, how: str) -> tuple[float, list[float | None]]:
    """A fresh interpreter per measurement: torch's OpenMP threads left spinning by one
    measurement would otherwise slow down the next, whichever it is."""
    command = [sys.executable, __file__, "--measure", str(model_dir), mode_name, how]
    out = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise SystemExit(f"measurement {mode_name}/{how} failed:\n{out.stderr[-2000:]}")
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    for line in lines[:-1]:
        print(line)
    result = json.loads(lines[-1])
    return result["elapsed_s"], result["scores"]


def compare(model_dir: Path, mode_name: str) -> None:
    per_sample_s, expected = spawn(model_dir, mode_name, "per-sample")
    batched_s, got = spawn(model_dir, mode_name, "batched")
    service_s, through_service = spawn(model_dir, mode_name, "service")
    if mode_name == "logprobs":
        worst = max(abs(a - b) for a, b in zip(expected, got, strict=True) if a is not None and b is not None)
        agreement = f"max score difference {worst:.1e}"
    else:
        same = sum(
            a == b or (a is not None and b is not None and abs(a - b) < 1e-9)
            for a, b in zip(expected, got, strict=True)
        )
        agreement = f"same verdict {same}/{CALLS}"
    print(f"  per-sample (one model call per sample): {CALLS / per_sample_s:8.1f} judge calls/s ({per_sample_s:.2f} s)")
    print(f"  dynamic batching (judge kind):          {CALLS / batched_s:8.1f} judge calls/s ({batched_s:.2f} s)")
    print(f"  through the service (512 concurrent calls): {CALLS / service_s:8.1f} judge calls/s ({service_s:.2f} s)")
    print(
        f"  {mode_name}: speedup {per_sample_s / batched_s:.1f}x in-kind, "
        f"{per_sample_s / service_s:.1f}x through the service ({agreement})"
    )
    if any(score is None for score in through_service) and mode_name == "logprobs":
        raise SystemExit("some judge calls through the service failed")


def main() -> None:
    import torch

    print(f"{CALLS} judge calls, max batch size {MAX_BATCH_SIZE}, CPU, torch threads {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory(prefix="judge-bench-") as tmp:
        model_dir = build_model(Path(tmp))
        print("generated verdict (rubric template, up to 16 new tokens, greedy):")
        compare(model_dir, "generate")
        print("log-probability verdict (reference-equivalence, P(Yes) vs P(No), one forward pass):")
        compare(model_dir, "logprobs")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--measure":
        measure(Path(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        main()
