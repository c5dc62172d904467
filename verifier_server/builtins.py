"""Verifiers present on every fresh server, so a first user can score right away.

Built-ins live in code, not in the registry: their names are reserved (registering
over one is refused) so ``math`` always means the verifier this release ships.
Each kind module that ships built-ins exposes ``builtin_specs()``; a kind whose
dependencies are missing on this server simply contributes none.
"""

from __future__ import annotations

import importlib
import logging
from functools import cache

from verifier_server.domain import VerifierRecord, VerifierSpec

log = logging.getLogger(__name__)

_PROVIDERS = (
    "verifier_server.kinds.format",
    "verifier_server.kinds.math",
    "verifier_server.kinds.code",
    "verifier_server.kinds.judge",
    "verifier_server.presets",
)


@cache
def builtin_records() -> dict[str, VerifierRecord]:
    """Every built-in verifier by name, as version 1."""
    records: dict[str, VerifierRecord] = {}
    for module_name in _PROVIDERS:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            log.info("no built-ins from %s: %s", module_name, exc)
            continue
        provider = getattr(module, "builtin_specs", None)
        if provider is None:
            continue
        for raw in provider():
            spec = VerifierSpec(
                name=raw["name"], kind=raw["kind"], config=raw.get("config", {}), description=raw.get("description", "")
            )
            records[spec.name] = VerifierRecord(spec=spec, version=1, created_at_unix_s=0.0, builtin=True)
    return records
