"""A tiny random-weight Qwen2 and an offline tokenizer, for smoke-testing a GRPO run on a laptop CPU.

    python -m trainers.tiny ./tiny-model --dataset ./tiny-math.jsonl
    verifier train grpo --model ./tiny-model --dataset ./tiny-math.jsonl --serve-in-process \\
        --reward math --reward think-answer-format --max-steps 2 --max-completion-length 16 --output-dir runs/smoke

Nothing is downloaded: the tokenizer is a byte-level BPE trained here on a few lines, so
any text encodes. The model learns nothing useful; it exercises the whole pipeline.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
CHATML_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_CORPUS = (
    "What is 2 + 2? The answer is 4.",
    "What is 3 + 5? The answer is \\boxed{8}.",
    "<think> 3 plus 5 is 8 </think> <answer> 8 </answer>",
    "Write a python function that returns the sum of two numbers.",
    "def add(a, b):\n    return a + b",
    '{"answer": 42, "ok": true}',
)
TINY_MATH = (("What is 2 + 2?", "4"), ("What is 3 + 5?", "8"), ("What is 1 + 6?", "7"), ("What is 4 + 4?", "8"))


def build_tokenizer(*, chat: bool = True) -> Any:
    """Byte-level BPE (any text encodes), ``<|endoftext|>`` pads, left padding (GRPOTrainer needs both).

    ``chat`` installs a ChatML template and makes ``<|im_end|>`` (the end of a turn) the EOS token.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=list(SPECIAL_TOKENS), initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    raw.train_from_iterator(list(_CORPUS) * 20, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        eos_token="<|im_end|>" if chat else "<|endoftext|>",
        pad_token="<|endoftext|>",
        padding_side="left",
    )
    if chat:
        tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer


def tiny_qwen2_config(tokenizer: Any, *, max_positions: int = 512, **overrides: Any) -> Any:
    """The one tiny Qwen2 shape (hidden 64, 2 layers, ~100k parameters) sized to ``tokenizer``.

    Tests, judges and benchmarks build their random models from it; ``overrides`` go to
    ``Qwen2Config`` (e.g. ``num_labels=1`` for a reward model).
    """
    from transformers import Qwen2Config

    return Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **overrides,
    )


def build_tiny_model(path: str | Path, *, seed: int = 0, chat: bool = True) -> Path:
    """Write a random Qwen2 (hidden 64, 2 layers) and its tokenizer to ``path`` with ``save_pretrained``."""
    import torch

    tokenizer = build_tokenizer(chat=chat)
    torch.manual_seed(seed)
    return save_tiny_causal_lm(tokenizer, path)


def save_tiny_causal_lm(tokenizer: Any, path: str | Path, *, max_positions: int = 512) -> Path:
    """A random tiny Qwen2 causal LM for ``tokenizer`` (seed torch first), saved with it to ``path``."""
    from transformers import Qwen2ForCausalLM

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model = Qwen2ForCausalLM(tiny_qwen2_config(tokenizer, max_positions=max_positions))
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    tokenizer.save_pretrained(path)
    model.save_pretrained(path)
    return path


def write_tiny_math_dataset(path: str | Path, *, chat: bool = True, repeat: int = 4) -> Path:
    """A JSONL of arithmetic prompts with an ``answer`` column (the ``math`` verifier's gold field)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for question, answer in TINY_MATH * repeat:
        prompt: Any = [{"role": "user", "content": question}] if chat else question
        rows.append(json.dumps({"prompt": prompt, "answer": answer}))
    path.write_text("\n".join(rows) + "\n")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainers.tiny", description=__doc__.split("\n")[0])
    parser.add_argument("output_dir", type=Path, help="where the model and tokenizer are saved")
    parser.add_argument("--dataset", type=Path, help="also write a tiny math JSONL dataset here")
    parser.add_argument("--text-prompts", action="store_true", help="dataset prompts as text, not chat messages")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"model: {build_tiny_model(args.output_dir, seed=args.seed)}")
    if args.dataset:
        print(f"dataset: {write_tiny_math_dataset(args.dataset, chat=not args.text_prompts)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
