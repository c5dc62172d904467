"""A kind's server settings: its ``[kinds.NAME]`` table, read into one frozen dataclass per kind.

Each kind names its settings class (``VerifierKind.settings_type``, a ``KindSettings``); every
field is one key of the table, read by its type with the bounds its ``setting()`` gives, and
left at its default when the table leaves it out. The server reads every table when it starts
(``kinds.read_server_settings``), so a typo such as ``[kinds.math] cach_size = 5`` or a value of
the wrong type stops it with an error naming ``kinds.math.cach_size``, instead of being ignored.
Kinds read their table again while compiling a spec (``kind_settings``): a few dictionary
lookups, and tests may build a ``ResourceBag`` from a plain mapping.

One naming convention for limits a spec may set: ``cap_<field>`` is the most the spec field
``<field>`` may ask for (``KindSettings.cap`` turns it into a ``Cap`` that names the setting in
refusals). Other settings are the server's own bounds (``max_children``) or defaults.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from verifier_server.kinds.base import ConfigReader, ResourceBag
from verifier_server.kinds.caps import Cap

T = TypeVar("T")
S = TypeVar("S", bound="KindSettings")

ReadSetting = Callable[[ConfigReader, str, Any], Any]
"""A custom reader for one setting: ``(reader, key, default) -> value`` (for tables of tables)."""


def setting(
    default: T,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    positive: bool = False,
    choices: Sequence[str] | None = None,
    read: ReadSetting | None = None,
) -> T:
    """A settings field: its default, and the bounds its value must keep (checked when read)."""
    metadata = {"minimum": minimum, "maximum": maximum, "positive": positive, "choices": choices, "read": read}
    return dataclasses.field(default=default, metadata=metadata)


def cap(default: float) -> float:
    """A ``cap_<field>`` setting: a positive number, the most a spec's ``<field>`` may be."""
    return setting(float(default), positive=True)


@dataclass(frozen=True, slots=True)
class KindSettings:
    """The settings every kind's table may hold; each kind subclasses it with its own."""

    kind: ClassVar[str] = ""
    """The table these settings come from (``[kinds.KIND]``): the kind's ``name``."""
    renamed: ClassVar[Mapping[str, str]] = {}
    """Keys an earlier release used, and what they are called now (refused, naming the new key)."""

    max_inflight_samples: int | None = setting(None, minimum=0)
    """Admission control for this kind: samples in flight before RESOURCE_EXHAUSTED; 0 is unbounded;
    unset follows the server's ``max_inflight_samples``."""

    def cap(self, field: str) -> Cap:
        """The server's cap on the spec field ``field`` (its ``cap_<field>`` setting)."""
        return Cap(float(getattr(self, f"cap_{field}")), f"[kinds.{self.kind}] cap_{field}")


def read_settings(settings_type: type[S], table: Any) -> S:
    """``table`` (a ``[kinds.NAME]`` table) as ``settings_type``; ``SpecError`` names ``kinds.NAME.key``."""
    reader = ConfigReader({} if table is None else table, f"kinds.{settings_type.kind}")
    for old, new in settings_type.renamed.items():
        if reader.has(old):
            raise reader.error(old, f"this setting is now called {new}")
    values = {spec.name: _read(reader, spec, hint) for spec, hint in _fields(settings_type)}
    reader.finish()
    return settings_type(**values)


def kind_settings(resources: ResourceBag, settings_type: type[S]) -> S:
    """A kind's typed settings from the server's resources (checked once already at server start)."""
    return read_settings(settings_type, resources.settings.get(settings_type.kind))


def setting_names(settings_type: type[KindSettings]) -> list[str]:
    """Every key ``[kinds.NAME]`` accepts for this kind, in declaration order."""
    return [spec.name for spec, _ in _fields(settings_type)]


_FIELDS: dict[type[KindSettings], tuple[tuple[dataclasses.Field[Any], Any], ...]] = {}


def _fields(settings_type: type[KindSettings]) -> tuple[tuple[dataclasses.Field[Any], Any], ...]:
    """Each field with its resolved type (resolved once per class)."""
    known = _FIELDS.get(settings_type)
    if known is None:
        hints = typing.get_type_hints(settings_type)
        known = tuple((spec, hints[spec.name]) for spec in dataclasses.fields(settings_type))
        _FIELDS[settings_type] = known
    return known


def _read(reader: ConfigReader, spec: dataclasses.Field[Any], hint: Any) -> Any:
    meta, key = spec.metadata, spec.name
    default: Any = spec.default
    if meta.get("read") is not None:
        return meta["read"](reader, key, default)
    bounds = {"minimum": meta.get("minimum"), "maximum": meta.get("maximum")}
    value: Any
    if hint is bool:
        value = reader.bool(key, default)
    elif hint is int:
        value = reader.int(key, default, **bounds)
    elif hint is float:
        value = reader.float(key, default, **bounds)
    elif hint is str:
        value = reader.str(key, default, choices=meta.get("choices"))
    elif hint == int | None:
        value = reader.optional_int(key, **bounds)
        value = default if value is None else value
    elif hint == float | None:
        value = reader.optional_float(key, **bounds)
        value = default if value is None else value
    elif hint == tuple[str, ...]:
        value = reader.str_list(key, default)
    else:  # a programming error in a settings class; tests read every class
        raise TypeError(f"{key}: settings of type {hint} need a read= function")
    if meta.get("positive") and value is not None and value <= 0:
        raise reader.error(key, f"must be a positive number, got {value!r}")
    return value
