"""Tiny offline causal LMs for tests: a random-weight Qwen2 and a byte-level BPE trained in-process.

Nothing is downloaded. ``build_tiny_causal_lm(path)`` writes a model directory that
``AutoModelForCausalLM.from_pretrained`` / ``AutoTokenizer.from_pretrained`` (and so
TRL's ``GRPOTrainer(model=str(path))``) load like any hub checkpoint. Imports of
torch/transformers happen inside the functions so collecting tests stays cheap.

    from tests.tiny_models import build_tiny_causal_lm
    model_dir = build_tiny_causal_lm(tmp_path / "tiny", chat=True)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")

CHATML_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
"""Minimal ChatML: without a template, conversational prompts fail in ``apply_chat_template``."""

_CORPUS = (
    "What is 2 + 2? The answer is 4.",
    "What is 3 + 5? The answer is 8.",
    "Write a python function that returns the sum of two numbers.",
    "def add(a, b):\n    return a + b",
    "<think> reasoning </think> <answer> 42 </answer>",
    '{"answer": 42, "ok": true}',
)


def build_tiny_tokenizer(*, chat: bool = False, vocab_size: int = 400) -> Any:
    """A ``PreTrainedTokenizerFast`` (byte-level BPE: any text encodes), pad set, left padding.

    ``chat`` makes ``<|im_end|>`` the EOS token and installs a ChatML template.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    raw.train_from_iterator(list(_CORPUS) * 20, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        eos_token="<|im_end|>" if chat else "<|endoftext|>",
        pad_token="<|endoftext|>",  # GRPOTrainer needs a pad token
        padding_side="left",  # GRPOTrainer requires left-padded prompts
    )
    if chat:
        tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer


def build_tiny_model(tokenizer: Any, *, seed: int = 0, hidden_size: int = 64, layers: int = 2) -> Any:
    """A random-weight ``Qwen2ForCausalLM`` sized to ``tokenizer`` (about 100k parameters)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def build_tiny_causal_lm(path: str | Path, *, chat: bool = False, seed: int = 0) -> Path:
    """Build the tiny tokenizer and model and ``save_pretrained`` both into ``path``; returns ``path``."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tiny_tokenizer(chat=chat)
    model = build_tiny_model(tokenizer, seed=seed)
    tokenizer.save_pretrained(path)
    model.save_pretrained(path)
    return path
