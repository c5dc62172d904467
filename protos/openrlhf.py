"""OpenRLHF's remote reward query, read the same way by the HTTP face and the SDK's adapter (stdlib only).

OpenRLHF sends each sample as ``query`` (the decoded prompt + response, *with* special
tokens) next to ``prompts`` (the templated prompt). The server's HTTP face
(``verifier_server/http/openrlhf.py``) and the SDK's ``reward_func`` adapter
(``sdk/adapters/openrlhf.py``) cannot import each other, so the split lives here, beside the
wire contract both already share.
"""

from __future__ import annotations

from collections.abc import Sequence

END_OF_TURN_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", "</s>", "<eos>", "<end_of_turn>")


def response_text(query: str, prompt: str, end_of_turn_tokens: Sequence[str] = END_OF_TURN_TOKENS) -> str:
    """The generated part of ``query``: after the prompt, without trailing end-of-turn tokens.

    The prompt is found at its first occurrence, so a BOS the tokenizer put in front of it
    does not matter; a query without the prompt is all response. Format verifiers would
    otherwise see ``<|im_end|>`` after the answer.
    """
    start = query.find(prompt) if prompt else -1
    text = query[start + len(prompt) :] if start >= 0 else query
    stripped = True
    while stripped:
        stripped = False
        text = text.rstrip()
        for token in end_of_turn_tokens:
            if text.endswith(token):
                text = text[: -len(token)]
                stripped = True
    return text
