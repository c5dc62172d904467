"""The one shape every verifier kind has, and the helpers kinds use to read specs.

A kind (``VerifierKind``) is a class with a ``name``, its server settings type
(``settings_type``, the ``[kinds.NAME]`` table), a ``from_spec(config, context)``
constructor that validates the configuration (raising ``SpecError`` naming the field)
and returns a ready ``Verifier``, the built-in verifiers it ships (``builtin_specs``)
and the checks that need other verifiers (``validate``); ``BaseKind`` gives the last
two their defaults. A verifier has ``async score_batch(samples)`` returning one result
per sample in input order. Kinds never raise for a bad *sample*: they return a result
with an outcome and a reason.
"""

from __future__ import annotations

import builtins
import difflib
import functools
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, runtime_checkable

from verifier_server.domain import Sample, ScoreResult, VerifierSpec
from verifier_server.errors import SpecError

if TYPE_CHECKING:
    from verifier_server.kinds.settings import KindSettings

T = TypeVar("T")


@runtime_checkable
class Verifier(Protocol):
    """A compiled verifier: scores a batch, results in input order."""

    async def score_batch(self, samples: Sequence[Sample]) -> list[ScoreResult]: ...


class BuildContext(Protocol):
    """What a kind may use while compiling a spec.

    ``resources`` is a lazily-populated bag of shared server resources (the math
    worker pool, the sandbox, judge model backends) keyed by name, so a kind only
    pays for what it uses and every verifier naming the same model shares it.
    ``resolve`` compiles another registered verifier and ``compile_inline`` a nested
    spec (composites use both); cycles among them are rejected.
    """

    @property
    def resources(self) -> ResourceBag: ...

    async def resolve(self, ref: str) -> Verifier: ...

    async def compile_inline(self, spec: VerifierSpec) -> Verifier:
        """Compile a spec nested inside this one (a composite's inline child)."""
        ...


class Counting(Protocol):
    def inc(self, amount: float = 1) -> None: ...


class LabelledCounter(Protocol):
    def labels(self, *values: str) -> Counting: ...


class KindMetrics(Protocol):
    """The server's counters that kinds report into (``verifier_server.metrics.Metrics`` has them)."""

    @property
    def sandbox_runs(self) -> LabelledCounter:
        """Sandboxed runs, by backend and status."""
        ...

    @property
    def cascade_consulted(self) -> LabelledCounter:
        """Samples a cascade passed on, by the position of the child it passed them to."""
        ...

    @property
    def cascade_flips(self) -> LabelledCounter:
        """Samples on which a later cascade child reversed the first child's verdict, by its position."""
        ...


class ResourceBag:
    """Shared, lazily created resources; closed together when the server stops.

    ``settings`` are the server's: its own (``workers``, ``sandbox_backend``, ``data_dir``, ...)
    and each kind's ``[kinds.NAME]`` table under the kind's name, read typed through
    ``kinds.settings.kind_settings``. ``metrics`` are the server's counters (None outside a server).
    """

    def __init__(self, settings: Mapping[str, Any] | None = None, *, metrics: KindMetrics | None = None) -> None:
        self.settings: Mapping[str, Any] = settings or {}
        self.metrics = metrics
        self._items: dict[str, Any] = {}
        self._closers: list[Callable[[], Awaitable[None] | None]] = []

    def get_or_create(
        self,
        key: str,
        factory: Callable[[], T],
        close: Callable[[T], Awaitable[None] | None] | None = None,
    ) -> T:
        if key not in self._items:
            item = factory()
            self._items[key] = item
            if close is not None:
                self._closers.append(functools.partial(close, item))
        return self._items[key]  # type: ignore[no-any-return]

    def peek(self, key: str) -> Any | None:
        return self._items.get(key)

    async def aclose(self) -> None:
        for closer in reversed(self._closers):
            result = closer()
            if result is not None:
                await result
        self._closers.clear()
        self._items.clear()


class VerifierKind(Protocol):
    """A plugin: validates a spec's config and builds a verifier from it (see the module docstring)."""

    name: ClassVar[str]
    settings_type: ClassVar[type[KindSettings]]
    """Its ``[kinds.NAME]`` server settings; the server reads and checks them at start."""

    @classmethod
    def from_spec(cls, config: Mapping[str, Any], context: BuildContext) -> Verifier: ...

    @classmethod
    async def validate(cls, verifier: Verifier) -> None:
        """Checks that need other verifiers (a composite's children), run after ``from_spec``."""
        ...

    @classmethod
    def builtin_specs(cls) -> Sequence[Mapping[str, Any]]:
        """Verifiers every server ships of this kind: ``{"name", "kind", "config", "description"}``."""
        ...

    @classmethod
    def shipped_modules(cls) -> Mapping[str, Path]:
        """The trusted programs its sandbox jobs run, as ``kinds.sandboxed.shipping`` ships them
        (name -> source file, each after the modules it imports): the sandbox preloads them."""
        ...


class BaseKind:
    """The defaults of ``VerifierKind``'s optional members; kinds subclass it."""

    @classmethod
    async def validate(cls, verifier: Verifier) -> None:
        """Nothing to check beyond ``from_spec``'s own validation."""

    @classmethod
    def builtin_specs(cls) -> Sequence[Mapping[str, Any]]:
        """No built-ins."""
        return ()

    @classmethod
    def shipped_modules(cls) -> Mapping[str, Path]:
        """Runs no shipped program."""
        return {}


# ---------------------------------------------------------------------------
# Reading configuration with errors that name the field
# ---------------------------------------------------------------------------


class _SpecProblems:
    """The problems found while one spec compiles, in the order found, at most one per field (and none
    under a field that already has one: a consequence of the first is noise)."""

    def __init__(self) -> None:
        self.items: list[tuple[builtins.str, builtins.str]] = []

    def add(self, field: builtins.str, message: builtins.str) -> None:
        for known, _ in self.items:
            if field == known or field.startswith((known + ".", known + "[")):
                return
        self.items.append((field, message))

    def error(self) -> SpecError:
        return SpecError.of(self.items)


_COLLECTING: ContextVar[_SpecProblems | None] = ContextVar("spec_problems", default=None)


async def build_verifier(kind: type[VerifierKind], config: Mapping[str, Any], context: BuildContext) -> Verifier:
    """``kind.from_spec`` then ``kind.validate`` (composites resolve their children there), with
    every problem of the spec reported together, in one ``SpecError``.

    While ``from_spec`` runs, ``ConfigReader`` records a bad field and carries on with a
    stand-in value instead of raising, so the kind reads every field and ``finish()`` sees
    every unknown key. Whatever the kind raises afterwards is added (or dropped when it
    concerns a field already reported, or is an exception a stand-in value caused).
    """
    problems = _SpecProblems()
    token = _COLLECTING.set(problems)
    try:
        verifier = kind.from_spec(config, context)
    except SpecError as error:
        for field, message in error.problems:
            problems.add(field, message)
        raise problems.error() from None
    except Exception:
        if problems.items:
            raise problems.error() from None
        raise
    finally:
        _COLLECTING.reset(token)
    try:
        await kind.validate(verifier)  # kinds with references to other verifiers check them eagerly
    except SpecError as error:
        if not problems.items:
            raise
        for field, message in error.problems:
            problems.add(field, message)
    if problems.items:
        raise problems.error()
    return verifier  # type: ignore[no-any-return]


class _Stop(Exception):
    """Internal: a problem with no usable stand-in value (the kind cannot go on without the field)."""


class ConfigReader:
    """Typed access to a spec's config; every error names the dotted field path.

    Unknown keys are rejected so that a typo (``max_lenght``) fails at registration
    instead of silently using a default, and named with the closest known key; a
    required key that is missing is named with the unknown key that looks like its
    misspelling. Under ``build_verifier`` problems are collected rather than raised
    one at a time (see there); elsewhere the first problem raises.
    """

    def __init__(self, config: Mapping[str, Any], prefix: str = "config") -> None:
        if not isinstance(config, Mapping):
            raise SpecError(prefix, f"must be an object, got {type(config).__name__}")
        self._config = config
        self._prefix = prefix
        self._seen: set[str] = set()

    def path(self, key: str) -> str:
        return f"{self._prefix}.{key}"

    def error(self, key: str, message: str) -> SpecError:
        return SpecError(self.path(key), message)

    def has(self, key: str) -> bool:
        return key in self._config

    def raw(self, key: str, default: Any = None) -> Any:
        self._seen.add(key)
        return self._config.get(key, default)

    def _problem(self, key: builtins.str, message: builtins.str, stand_in: Any = _Stop) -> Any:
        """Report a bad field: raise it, or (while collecting) record it and return ``stand_in``."""
        problems = _COLLECTING.get()
        if problems is None or stand_in is _Stop:
            raise self.error(key, message)
        problems.add(self.path(key), message)
        return stand_in

    def _wrong(self, key: builtins.str, expected: builtins.str, stand_in: Any = _Stop) -> Any:
        """A value of the wrong type, or a required one that is missing (named with its likely misspelling)."""
        if key in self._config:
            return self._problem(key, f"must be {expected}, got {_type_name(self._config[key])}", stand_in)
        return self._problem(key, f"required ({expected}), not given{self._misspelled(key)}", stand_in)

    def _misspelled(self, key: builtins.str) -> builtins.str:
        others = [k for k in self._config if isinstance(k, builtins.str) and k not in self._seen]
        close = difflib.get_close_matches(key, others, n=1, cutoff=0.7)
        return f"; is {close[0]!r} a misspelling of it?" if close else ""

    def str(
        self, key: builtins.str, default: builtins.str | None = None, *, choices: Sequence[builtins.str] | None = None
    ) -> builtins.str:
        value = self.raw(key, default)
        usable_default = default if isinstance(default, builtins.str) and (not choices or default in choices) else None
        if not isinstance(value, builtins.str):
            stand_in = usable_default if usable_default is not None else ("" if choices is None else _Stop)
            return builtins.str(self._wrong(key, "a string", stand_in))
        if choices is not None and value not in choices:
            close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            message = f"must be one of {', '.join(choices)}; got {value!r}{hint}"
            return builtins.str(self._problem(key, message, _Stop if usable_default is None else usable_default))
        return value

    def optional_str(self, key: builtins.str) -> builtins.str | None:
        value = self.raw(key)
        if value is None or isinstance(value, builtins.str):
            return value
        return self._wrong(key, "a string", None)  # type: ignore[no-any-return]

    def bool(self, key: builtins.str, default: builtins.bool) -> builtins.bool:
        value = self.raw(key, default)
        if not isinstance(value, builtins.bool):
            return builtins.bool(self._wrong(key, "true or false", default))
        return value

    def float(
        self,
        key: builtins.str,
        default: builtins.float | None = None,
        *,
        minimum: builtins.float | None = None,
        maximum: builtins.float | None = None,
    ) -> builtins.float:
        value = self.raw(key, default)
        if isinstance(value, builtins.bool) or not isinstance(value, builtins.int | builtins.float):
            value = self._wrong(key, "a number", _stand_in_number(default, minimum, maximum))
        return builtins.float(_check_range(self, key, builtins.float(value), minimum, maximum))

    def optional_float(
        self, key: builtins.str, *, minimum: builtins.float | None = None, maximum: builtins.float | None = None
    ) -> builtins.float | None:
        value = self.raw(key)
        if value is None:
            return None
        if isinstance(value, builtins.bool) or not isinstance(value, builtins.int | builtins.float):
            return self._wrong(key, "a number", None)  # type: ignore[no-any-return]
        return self.float(key, minimum=minimum, maximum=maximum)

    def int(
        self,
        key: builtins.str,
        default: builtins.int | None = None,
        *,
        minimum: builtins.int | None = None,
        maximum: builtins.int | None = None,
    ) -> builtins.int:
        value = self.raw(key, default)
        if isinstance(value, builtins.float) and value.is_integer():
            value = builtins.int(value)
        if isinstance(value, builtins.bool) or not isinstance(value, builtins.int):
            value = self._wrong(key, "an integer", builtins.int(_stand_in_number(default, minimum, maximum)))
        return builtins.int(_check_range(self, key, value, minimum, maximum))

    def optional_int(
        self, key: builtins.str, *, minimum: builtins.int | None = None, maximum: builtins.int | None = None
    ) -> builtins.int | None:
        value = self.raw(key)
        if value is None:
            return None
        if isinstance(value, builtins.float) and value.is_integer():
            value = builtins.int(value)
        if isinstance(value, builtins.bool) or not isinstance(value, builtins.int):
            return self._wrong(key, "an integer", None)  # type: ignore[no-any-return]
        return self.int(key, minimum=minimum, maximum=maximum)

    def str_list(self, key: builtins.str, default: Sequence[builtins.str] = ()) -> tuple[builtins.str, ...]:
        value = self.raw(key, list(default))
        if isinstance(value, builtins.str):
            value = [value]
        if not isinstance(value, list | tuple) or not all(isinstance(v, builtins.str) for v in value):
            return tuple(self._problem(key, "must be a list of strings", tuple(default)))
        return tuple(value)

    def mapping(
        self, key: builtins.str, default: Mapping[builtins.str, Any] | None = None
    ) -> Mapping[builtins.str, Any]:
        value = self.raw(key, {} if default is None else default)
        if not isinstance(value, Mapping):
            return self._wrong(key, "an object", {} if default is None else default)  # type: ignore[no-any-return]
        return value

    def sub(self, key: builtins.str) -> ConfigReader:
        return ConfigReader(self.mapping(key), self.path(key))

    def regex(self, key: builtins.str, flags: builtins.int = 0) -> re.Pattern[builtins.str]:
        pattern = self.str(key)
        try:
            return re.compile(pattern, flags)
        except re.error as exc:
            message = f"invalid regular expression {pattern!r}: {exc}"
            return self._problem(key, message, re.compile("(?!)"))  # type: ignore[no-any-return]

    def finish(self) -> None:
        """Reject keys nobody read: almost always a typo in the spec, named with the closest known key."""
        unknown = sorted((builtins.str(k) for k in set(self._config) - self._seen), key=builtins.str)
        problems = [(self.path(key), self._unknown_message(key)) for key in unknown]
        if not problems:
            return
        collecting = _COLLECTING.get()
        if collecting is None:
            raise SpecError.of(problems)
        for field, message in problems:
            collecting.add(field, message)

    def _unknown_message(self, key: builtins.str) -> builtins.str:
        known = sorted(self._seen)
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        if close:
            return f"unknown option; did you mean {close[0]!r}?"
        return f"unknown option (known: {', '.join(known)})" if known else "unknown option (this takes no options)"


def _stand_in_number(default: Any, minimum: Any, maximum: Any) -> Any:
    """A value of the right type to carry on with after a bad number was recorded."""
    if isinstance(default, int | float) and not isinstance(default, bool):
        return default
    return next((bound for bound in (minimum, maximum) if bound is not None), 0)


def _check_range(reader: ConfigReader, key: str, value: Any, minimum: Any, maximum: Any) -> Any:
    if minimum is not None and value < minimum:
        return reader._problem(key, f"must be >= {minimum}, got {value}", minimum)
    if maximum is not None and value > maximum:
        return reader._problem(key, f"must be <= {maximum}, got {value}", maximum)
    return value


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def reference_value(sample: Sample, keys: Sequence[str]) -> tuple[str | None, Any]:
    """The first of ``keys`` present (and not None) in the sample's reference."""
    for key in keys:
        value = sample.reference.get(key)
        if value is not None:
            return key, value
    return None, None
