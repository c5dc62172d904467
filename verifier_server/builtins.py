"""Verifiers present on every fresh server, so a first user can score right away.

Built-ins live in code, not in the registry: their names are reserved (registering
over one is refused) so ``math`` always means the verifier this release ships.
They come from the kind table (each kind declares its own, ``VerifierKind.builtin_specs``)
and from the dataset presets (``verifier_server.presets``); a kind that is not available
on this server (its dependencies are missing) contributes none, and neither do the
presets of that kind.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from verifier_server import kinds, presets
from verifier_server.domain import VerifierRecord, VerifierSpec
from verifier_server.errors import SpecError

log = logging.getLogger(__name__)


@cache
def builtin_records() -> dict[str, VerifierRecord]:
    """Every built-in verifier by name, as version 1."""
    available: set[str] = set()
    raw: list[Mapping[str, Any]] = []
    for name in kinds.KIND_TABLE:
        try:
            kind = kinds.kind_class(name)
        except SpecError as exc:
            log.info("no built-ins of kind %s: %s", name, exc.message)
            continue
        available.add(name)
        raw.extend(kind.builtin_specs())
    raw.extend(spec for spec in presets.builtin_specs() if spec["kind"] in available)
    return _records(raw)


def _records(raw: Iterable[Mapping[str, Any]]) -> dict[str, VerifierRecord]:
    records: dict[str, VerifierRecord] = {}
    for item in raw:
        spec = VerifierSpec(
            name=item["name"], kind=item["kind"], config=item.get("config", {}), description=item.get("description", "")
        )
        records[spec.name] = VerifierRecord(spec=spec, version=1, created_at_unix_s=0.0, builtin=True)
    return records
