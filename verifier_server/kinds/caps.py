"""Server caps on per-spec limits: a spec may ask for less than its server allows, never more.

Every limit a spec sets (a timeout, a token budget, a concurrency) costs the server, so each has a
cap in the server's ``[kinds.NAME]`` settings, named ``cap_<field>`` after the spec field it bounds
(``KindSettings.cap`` reads it). A spec over a cap is refused with ``INVALID_ARGUMENT`` naming the
field and the setting, instead of being silently clamped: a verifier that quietly runs with another
limit than the one its author wrote scores differently.
"""

from __future__ import annotations

from dataclasses import dataclass

from verifier_server.kinds.base import ConfigReader


@dataclass(frozen=True, slots=True)
class Cap:
    """The largest value a spec may give one field, and the server setting that says so."""

    value: float
    setting: str
    """Where an operator changes it, e.g. ``[kinds.math] cap_timeout_s``."""

    def check(self, reader: ConfigReader, key: str, value: float) -> None:
        if value > self.value:
            cap, given = _number(self.value), _number(value)
            raise reader.error(key, f"must be <= {cap} (this server's cap, {self.setting}); got {given}")


def capped_float(reader: ConfigReader, key: str, default: float, cap: Cap, *, minimum: float | None = None) -> float:
    """A spec's number, at most ``cap``; the default is lowered to the cap when the server's cap is lower."""
    value = reader.float(key, min(default, cap.value), minimum=minimum)
    cap.check(reader, key, value)
    return value


def capped_int(reader: ConfigReader, key: str, default: int, cap: Cap, *, minimum: int | None = None) -> int:
    value = reader.int(key, int(min(default, cap.value)), minimum=minimum)
    cap.check(reader, key, value)
    return value


def _number(value: float) -> str:
    """A whole number in full (a byte cap reads ``67108864``, not ``6.71089e+07``), any other as ``:g``."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
