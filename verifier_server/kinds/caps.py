"""Server caps on per-spec limits: a spec may ask for less than its server allows, never more.

Every limit a spec sets (a timeout, a token budget, a concurrency) costs the server, so each has a
cap in the server's ``[kinds.NAME]`` settings, named ``cap_<field>``. A spec over a cap is refused
with ``INVALID_ARGUMENT`` naming the field and the setting, instead of being silently clamped: a
verifier that quietly runs with another limit than the one its author wrote scores differently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from verifier_server.errors import SpecError
from verifier_server.kinds.base import ConfigReader


@dataclass(frozen=True, slots=True)
class Cap:
    """The largest value a spec may give one field, and the server setting that says so."""

    value: float
    setting: str
    """Where an operator changes it, e.g. ``[kinds.math] cap_timeout_s``."""

    def check(self, reader: ConfigReader, key: str, value: float) -> None:
        if value > self.value:
            raise reader.error(key, f"must be <= {self.value:g} (this server's cap, {self.setting}); got {value:g}")


def kind_settings(settings: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    """The server's ``[kinds.KIND]`` table (empty when absent)."""
    section = settings.get(kind) or {}
    return section if isinstance(section, Mapping) else {}


def read_cap(settings: Mapping[str, Any], kind: str, field: str, default: float) -> Cap:
    """``[kinds.KIND] cap_FIELD`` from the server's settings, or ``default``; errors name the setting."""
    key = f"cap_{field}"
    value = kind_settings(settings, kind).get(key, default)
    setting = f"[kinds.{kind}] {key}"
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise SpecError(f"settings.{kind}.{key}", f"server setting {setting} must be a positive number, got {value!r}")
    return Cap(float(value), setting)


def capped_float(reader: ConfigReader, key: str, default: float, cap: Cap, *, minimum: float | None = None) -> float:
    """A spec's number, at most ``cap``; the default is lowered to the cap when the server's cap is lower."""
    value = reader.float(key, min(default, cap.value), minimum=minimum)
    cap.check(reader, key, value)
    return value


def capped_int(reader: ConfigReader, key: str, default: int, cap: Cap, *, minimum: int | None = None) -> int:
    value = reader.int(key, int(min(default, cap.value)), minimum=minimum)
    cap.check(reader, key, value)
    return value
