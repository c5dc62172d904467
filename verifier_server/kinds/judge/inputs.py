"""What a judge reads from a sample: template variables and conversations.

Kept apart from the verifiers so the three sub-kinds agree on what "the prompt"
and "the completion" mean for chat-formatted samples.
"""

from __future__ import annotations

import json
from typing import Any

from verifier_server.domain import Content, Message, Sample


def as_text(content: Content | None) -> str | None:
    """One message is its content; several are a transcript, so the judge sees the whole context."""
    if content is None or isinstance(content, str):
        return content
    if len(content) == 1:
        return content[0].content
    return "\n\n".join(f"{message.role}: {message.content}" for message in content)


def reference_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def template_variables(sample: Sample) -> dict[str, Any]:
    """``prompt``, ``completion`` and every reference field (reference fields cannot shadow the two)."""
    variables: dict[str, Any] = {k: v for k, v in sample.reference.items() if v is not None}
    variables["prompt"] = as_text(sample.prompt)
    variables["completion"] = as_text(sample.completion)
    return {k: v for k, v in variables.items() if v is not None}


def conversation(sample: Sample) -> tuple[Message, ...]:
    """The prompt and the completion as one chat, the shape a reward model was trained on."""
    messages: list[Message] = []
    if isinstance(sample.prompt, str):
        messages.append(Message("user", sample.prompt))
    elif sample.prompt:
        messages.extend(sample.prompt)
    if isinstance(sample.completion, str):
        messages.append(Message("assistant", sample.completion))
    elif sample.completion:
        messages.extend(sample.completion)
    return tuple(messages)
