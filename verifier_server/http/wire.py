"""Translation between JSON bodies and domain types: the HTTP face's only wire edge.

The JSON mirrors the proto (``protos/verifier/v1/verifier.proto``) field for field,
except that references, configs and details are JSON objects rather than JSON text.
A whole-request problem raises ``InvalidArgument`` naming the field; a problem with one
sample becomes that sample's ``input_error`` (scored ``invalid_input``), as on gRPC.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from verifier_server.capabilities import ServerCapabilities
from verifier_server.domain import Content, Message, Outcome, Sample, ScoreResult, VerifierRecord, VerifierSpec
from verifier_server.errors import InvalidArgument
from verifier_server.spec_bounds import check_spec_bounds

SPEC_FIELDS = ("name", "kind", "config", "description")


def parse_body(body: bytes) -> dict[str, Any]:
    """The request's JSON object; anything else is a 400 naming ``body``."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidArgument("body", f"is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise InvalidArgument("body", f"must be a JSON object, got {_type_name(payload)}")
    return payload


def check_fields(payload: Mapping[str, Any], known: Sequence[str], prefix: str = "") -> None:
    """Refuse unknown keys, so a typo (``"verifer"``) fails loudly instead of being ignored."""
    for key in payload:
        if key not in known:
            raise InvalidArgument(f"{prefix}{key}", f"unknown field (known: {', '.join(known)})")


def spec_from_json(value: Any, field: str, max_spec_bytes: int) -> VerifierSpec:
    """A spec object within the server's bounds; ``field`` is its place in the request ("" for the whole body)."""
    if not isinstance(value, dict):
        raise InvalidArgument(field or "body", f"must be a JSON object, got {_type_name(value)}")
    prefix = f"{field}." if field else ""
    check_fields(value, SPEC_FIELDS, prefix)
    kind, name = value.get("kind"), value.get("name", "")
    config, description = value.get("config"), value.get("description", "")
    config = {} if config is None else config
    if not isinstance(kind, str) or not kind:
        raise InvalidArgument(f"{prefix}kind", "is required (a string)")
    if not isinstance(name, str):
        raise InvalidArgument(f"{prefix}name", f"must be a string, got {_type_name(name)}")
    if not isinstance(config, dict):
        raise InvalidArgument(f"{prefix}config", f"must be a JSON object, got {_type_name(config)}")
    if not isinstance(description, str):
        raise InvalidArgument(f"{prefix}description", f"must be a string, got {_type_name(description)}")
    config_bytes = len(json.dumps(config))  # measured as the gRPC face measures config_json
    check_spec_bounds(
        name, description, config_bytes, max_spec_bytes, field=field or "body", config_field=f"{prefix}config"
    )
    return VerifierSpec(name=name, kind=kind, config=config, description=description)


def target_from_json(value: Any, max_spec_bytes: int) -> str | VerifierSpec:
    """``"verifier"``: a ``name[@version]`` string or an inline spec object."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict):
        return spec_from_json(value, "verifier", max_spec_bytes)
    if value is None:
        raise InvalidArgument("verifier", "is required: a verifier name or an inline spec")
    raise InvalidArgument("verifier", f"must be a name or a spec object, got {_type_name(value)}")


def samples_from_json(value: Any, limit: int) -> list[Sample]:
    if not isinstance(value, list):
        raise InvalidArgument("samples", f"must be a list of sample objects, got {_type_name(value)}")
    if len(value) > limit:
        raise InvalidArgument("samples", f"{len(value)} samples exceed this server's limit of {limit}")
    return [sample_from_json(item, index) for index, item in enumerate(value)]


def sample_from_json(item: Any, index: int) -> Sample:
    """One sample; what is wrong with it goes in ``input_error`` (the first problem found)."""
    if not isinstance(item, dict):
        return Sample(completion=None, input_error=f"samples[{index}] must be a JSON object, got {_type_name(item)}")
    completion, problem = content_from_json(item.get("completion"), "completion")
    prompt, prompt_problem = content_from_json(item.get("prompt"), "prompt")
    reference = item.get("reference")
    if reference is None:
        reference = {}
    elif not isinstance(reference, dict):
        problem = problem or f"reference must be a JSON object, got {_type_name(reference)}"
        reference = {}
    ids = item.get("completion_ids")
    if ids is not None and not (isinstance(ids, list) and all(type(i) is int for i in ids)):
        problem = problem or "completion_ids must be a list of integers"
        ids = None
    return Sample(
        completion=completion,
        prompt=prompt,
        reference=reference,
        completion_ids=tuple(ids) if ids else None,
        input_error=problem or prompt_problem,
    )


def content_from_json(value: Any, field: str) -> tuple[Content | None, str]:
    """Text, or chat messages ``[{"role", "content"}]``; (content, problem)."""
    if value is None or isinstance(value, str):
        return value, ""
    if not isinstance(value, list):
        return None, f"{field} must be text or a list of chat messages, got {_type_name(value)}"
    messages = []
    for position, message in enumerate(value):
        if not isinstance(message, dict):
            return None, f"{field}[{position}] must be a message object with role and content"
        role, content = message.get("role", ""), message.get("content")
        if not isinstance(role, str) or not isinstance(content, str):
            return None, f"{field}[{position}] needs a string role and a string content"
        messages.append(Message(role, content))
    return tuple(messages), ""


def result_to_json(index: int, result: ScoreResult) -> dict[str, Any]:
    score, outcome, reason = result.score, result.outcome, result.reason
    if score is not None and not math.isfinite(score):
        score, outcome, reason = None, Outcome.ERROR, f"verifier produced a non-finite score ({score})"
    return {
        "index": index,
        "score": score if outcome is Outcome.OK else None,
        "outcome": outcome.value,
        "reason": reason,
        "components": result.components,
        "details": result.details,
        "latency_ms": result.latency_s * 1000.0,
    }


def results_to_json(results: Sequence[ScoreResult]) -> list[dict[str, Any]]:
    return [result_to_json(index, result) for index, result in enumerate(results)]


def spec_to_json(spec: VerifierSpec) -> dict[str, Any]:
    return {"name": spec.name, "kind": spec.kind, "config": dict(spec.config), "description": spec.description}


def record_to_json(record: VerifierRecord) -> dict[str, Any]:
    return {
        "spec": spec_to_json(record.spec),
        "version": record.version,
        "created_at_unix_s": record.created_at_unix_s,
        "builtin": record.builtin,
    }


def capabilities_to_json(info: ServerCapabilities, max_samples: int, max_message_bytes: int) -> dict[str, Any]:
    return {
        "server_version": info.server_version,
        "kinds": info.kinds,
        "languages": info.languages,
        "sandbox_backends": info.sandbox_backends,
        "judge_backends": info.judge_backends,
        "max_samples_per_request": max_samples,
        "max_message_bytes": max_message_bytes,
        "builtin_verifiers": info.builtin_verifiers,
        "sandbox_python_packages": info.sandbox_python_packages,
    }


def dumps(payload: Any) -> bytes:
    """Strict JSON (no NaN/Infinity, which other languages' parsers refuse); such values become null."""
    try:
        return json.dumps(payload, ensure_ascii=False, allow_nan=False, default=str).encode()
    except ValueError:
        return json.dumps(_finite(payload), ensure_ascii=False, allow_nan=False, default=str).encode()


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "object", list: "list", str: "string", bool: "boolean", int: "number", float: "number"}.get(
        type(value), type(value).__name__
    )
