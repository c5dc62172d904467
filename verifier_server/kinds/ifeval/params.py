"""Binding an instruction's keyword arguments from untrusted data, with errors that name them.

IFEval's own ``build_description`` fills a missing argument with a *random* value, and
does the same for one out of its range (a negative count, an empty keyword); a verifier
must not, so a missing required argument, an unknown one, a wrong type or a value IFEval
would replace is the sample's ``invalid_input`` (``ConstraintError``) instead. Null
values are dropped first: Hugging Face stores every row's ``kwargs`` with the union of
all keys, unused ones null.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

RELATIONS = ("less than", "at least")
QUANTIFIERS = ("at least", "around", "at most")


class ConstraintError(ValueError):
    """The reference's constraints cannot be checked; the message names what is wrong."""


@dataclass(frozen=True, slots=True)
class Param:
    """One keyword argument: its type (``int``, ``str``, ``list`` of strings, or ``any``)."""

    name: str
    kind: str
    required: bool = True
    choices: Sequence[str] = ()
    minimum: int | None = None
    """Smallest ``int`` accepted (IFEval draws a random count in place of a negative one)."""
    nonblank: bool = False
    """A ``str`` must hold more than whitespace (IFEval draws a random keyword for an empty one)."""


@dataclass(frozen=True, slots=True)
class Signature:
    params: tuple[Param, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)
    """Other spellings accepted for a parameter (IFEval's ``section_spliter``)."""

    def bind(self, raw: Any, where: str) -> dict[str, Any]:
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise ConstraintError(f"{where}: must be an object of keyword arguments, got {type(raw).__name__}")
        given = {self.aliases.get(str(k), str(k)): v for k, v in raw.items() if v is not None}
        known = {p.name: p for p in self.params}
        for name in given:
            if name not in known:
                names = ", ".join(known) or "none"
                raise ConstraintError(f"{where}.{name}: not an argument of this instruction (takes: {names})")
        bound: dict[str, Any] = {}
        for param in self.params:
            if param.name not in given:
                if param.required:
                    raise ConstraintError(f"{where}.{param.name}: required")
                continue
            bound[param.name] = _coerce(param, given[param.name], f"{where}.{param.name}")
        return bound


def _coerce(param: Param, value: Any, where: str) -> Any:
    if param.kind == "int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConstraintError(f"{where}: must be an integer, got {value!r}")
        if param.minimum is not None and value < param.minimum:
            raise ConstraintError(f"{where}: must be at least {param.minimum}, got {value}")
        return value
    if param.kind == "str":
        if not isinstance(value, str):
            raise ConstraintError(f"{where}: must be a string, got {value!r}")
        if param.choices and value not in param.choices:
            raise ConstraintError(f"{where}: must be one of {', '.join(map(repr, param.choices))}; got {value!r}")
        if param.nonblank and not value.strip():
            raise ConstraintError(f"{where}: must not be blank")
        return value
    if param.kind == "list":
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple) or not value or not all(isinstance(v, str) for v in value):
            raise ConstraintError(f"{where}: must be a non-empty list of strings, got {value!r}")
        return list(value)
    return value
