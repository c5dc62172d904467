"""JSON Schema validation whose regular expressions are bounded: the ``regex`` engine, with a timeout.

jsonschema evaluates ``pattern``, ``patternProperties`` and the property filter of
``additionalProperties`` with Python's ``re``, which cannot be interrupted: one schema with a
catastrophically backtracking pattern and one completion would pin a CPU forever. Here those
three keywords run on ``regex`` with a per-match timeout (a ``TimeoutError`` the caller turns
into a ``timeout`` outcome). ``unevaluatedProperties`` next to ``patternProperties`` would still
reach ``re`` inside jsonschema, so such schemas are refused at registration.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import jsonschema
import regex as safe_regex
from jsonschema.exceptions import ValidationError

MAX_SCHEMA_NODES = 10_000
"""Objects and arrays in one schema; beyond it a schema is a denial of service, not a format."""


def bounded_validator(schema: Any, match_timeout_s: float) -> Any:
    """A validator for ``schema`` (already checked) whose regexes give up after ``match_timeout_s``."""
    base = jsonschema.validators.validator_for(schema)

    def search(pattern: str, text: str) -> bool:
        return safe_regex.search(pattern, text, timeout=match_timeout_s) is not None

    def pattern(validator: Any, patrn: str, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
        if validator.is_type(instance, "string") and not search(patrn, instance):
            yield ValidationError(f"{instance[:100]!r} does not match {patrn[:100]!r}")

    def pattern_properties(
        validator: Any, patterns: Mapping[str, Any], instance: Any, schema: Mapping[str, Any]
    ) -> Iterator[ValidationError]:
        if not validator.is_type(instance, "object"):
            return
        for patrn, subschema in patterns.items():
            for key, value in instance.items():
                if search(patrn, key):
                    yield from validator.descend(value, subschema, path=key, schema_path=patrn)

    def additional_properties(
        validator: Any, extra_schema: Any, instance: Any, schema: Mapping[str, Any]
    ) -> Iterator[ValidationError]:
        if not validator.is_type(instance, "object"):
            return
        properties = schema.get("properties", {})
        patterns = list(schema.get("patternProperties", {}))
        extras = [key for key in instance if key not in properties and not any(search(p, key) for p in patterns)]
        if validator.is_type(extra_schema, "object"):
            for key in extras:
                yield from validator.descend(instance[key], extra_schema, path=key)
        elif not extra_schema and extras:
            shown = ", ".join(repr(key)[:100] for key in sorted(extras, key=str)[:10])
            yield ValidationError(f"Additional properties are not allowed ({shown} unexpected)")

    keywords = {
        "pattern": pattern,
        "patternProperties": pattern_properties,
        "additionalProperties": additional_properties,
    }
    return jsonschema.validators.extend(base, keywords)(schema)


def schema_problem(schema: Any) -> str:
    """Why ``schema`` cannot be validated with bounded effort, or ''. Iterative, linear in its size."""
    stack = [schema]
    nodes = 0
    pattern_properties = unevaluated = False
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            nodes += 1
            pattern_properties = pattern_properties or "patternProperties" in node
            unevaluated = unevaluated or "unevaluatedProperties" in node
            value = node.get("pattern")
            if isinstance(value, str):
                error = _regex_error(value)
                if error:
                    return f"pattern {value[:100]!r} is not a valid regular expression: {error}"
            patterns = node.get("patternProperties")
            if isinstance(patterns, Mapping):
                for value in patterns:
                    error = _regex_error(value) if isinstance(value, str) else "not a string"
                    if error:
                        return f"patternProperties key {str(value)[:100]!r} is not a valid regular expression: {error}"
            stack.extend(node.values())
        elif isinstance(node, list):
            nodes += 1
            stack.extend(node)
        if nodes > MAX_SCHEMA_NODES:
            return f"has more than {MAX_SCHEMA_NODES} objects and arrays"
    if pattern_properties and unevaluated:
        return "combines patternProperties with unevaluatedProperties, which this server cannot bound in time"
    return ""


def _regex_error(pattern: str) -> str:
    try:
        safe_regex.compile(pattern)
    except (safe_regex.error, RecursionError, OverflowError) as exc:
        return str(exc)
    return ""
