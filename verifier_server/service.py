"""The domain service behind the gRPC servicer: resolve verifiers, score batches, manage specs.

It owns the rules that hold for every kind: names are validated, built-in names are
reserved, specs are compiled (and so validated) before they are stored, compiled
verifiers are cached per ``name@version``, and a bad *sample* never fails a batch —
samples without a usable completion are answered ``invalid_input`` before the kind
sees them, and a kind that crashes turns into per-sample ``error`` outcomes (both in
``kinds.containment``, which composites use for their children too).
"""

from __future__ import annotations

import asyncio
import difflib
import hashlib
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sandboxes import as_caller
from verifier_server import kinds
from verifier_server.admission import AdmissionController, Ticket
from verifier_server.builtins import builtin_records
from verifier_server.domain import (
    Sample,
    ScoreResult,
    VerifierRecord,
    VerifierRef,
    VerifierSpec,
)
from verifier_server.errors import (
    AlreadyExists,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    SpecError,
)
from verifier_server.kinds.base import ResourceBag, Verifier, build_verifier
from verifier_server.kinds.containment import score_contained
from verifier_server.registry.base import RegistryStore

log = logging.getLogger(__name__)

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_LATEST_TTL_S = 1.0
_INLINE_CACHE_SIZE = 256
_STREAM_CHUNK = 16


class ScoringObserver(Protocol):
    """Told about every scored batch (metrics implement it; the service stays metrics-agnostic)."""

    def scored(self, kind: str, results: Sequence[ScoreResult], elapsed_s: float) -> None: ...

    def rejected(self, kind: str) -> None: ...


class _NoObserver:
    def scored(self, kind: str, results: Sequence[ScoreResult], elapsed_s: float) -> None:
        pass

    def rejected(self, kind: str) -> None:
        pass


@dataclass(frozen=True, slots=True)
class ScoredBatch:
    """Results of one request plus the verifier that produced them (``name@version``)."""

    verifier: str
    results: list[ScoreResult]


@dataclass
class _Compilation:
    """One compile in progress: the chain of names being compiled, to catch cycles."""

    service: VerifierService
    chain: tuple[str, ...]
    pending: Mapping[str, VerifierSpec] = field(default_factory=dict)

    @property
    def resources(self) -> ResourceBag:
        return self.service.resources

    async def resolve(self, ref: str) -> Verifier:
        parsed = VerifierRef.parse(ref)
        if parsed.name in self.chain:
            cycle = " -> ".join((*self.chain, parsed.name))
            raise SpecError("config.children", f"composite cycle: {cycle}")
        if parsed.name in self.pending and parsed.version is None:
            return await self.service.compile(self.pending[parsed.name], chain=(*self.chain, parsed.name))
        record = await self.service.get(parsed)
        return await self.service.compile_record(record, chain=(*self.chain, parsed.name))

    async def compile_inline(self, spec: VerifierSpec) -> Verifier:
        label = spec.name or "<inline>"
        if label in self.chain:
            raise SpecError("config.children", f"composite cycle: {' -> '.join((*self.chain, label))}")
        return await self.service.compile(spec, chain=(*self.chain, label), pending=self.pending)


class VerifierService:
    """Everything the servicer calls; knows nothing about protobuf."""

    def __init__(
        self,
        store: RegistryStore,
        resources: ResourceBag | None = None,
        *,
        admission: AdmissionController | None = None,
        observer: ScoringObserver | None = None,
    ) -> None:
        self.store = store
        self.resources = resources or ResourceBag()
        self.admission = admission or AdmissionController()
        self.observer: ScoringObserver = observer or _NoObserver()
        self._compiled: dict[tuple[str, int], Verifier] = {}
        self._inline: OrderedDict[str, Verifier] = OrderedDict()
        self._latest: dict[str, tuple[float, VerifierRecord]] = {}

    # -- registry ---------------------------------------------------------------

    async def register(self, spec: VerifierSpec, *, dry_run: bool = False) -> VerifierRecord:
        """Compile (and so check) ``spec``, then store it as its name's next version; ``dry_run`` stores
        nothing and answers version 0."""
        _check_name(spec.name)
        if spec.name in builtin_records():
            raise AlreadyExists(f"{spec.name!r} is a built-in verifier; register under another name")
        await self.compile(spec, chain=(spec.name,), pending={spec.name: spec})
        if dry_run:
            return VerifierRecord(spec=spec, version=0)
        record = await self.store.register(spec)
        self._latest.pop(spec.name, None)
        log.info("registered verifier", extra={"verifier": record.ref, "kind": spec.kind})
        return record

    async def get(self, ref: VerifierRef, *, full_spec: bool = True) -> VerifierRecord:
        """The record for ``ref``; without ``full_spec`` (score-role callers) its config is withheld."""
        record = await self._get(ref)
        return record if full_spec else _without_config(record)

    async def _get(self, ref: VerifierRef) -> VerifierRecord:
        builtin = builtin_records().get(ref.name)
        if builtin is not None:
            if ref.version not in (None, 1):
                raise NotFound(f"built-in verifier {ref.name!r} has only version 1")
            return builtin
        if ref.version is None:
            cached = self._latest.get(ref.name)
            if cached is not None and cached[0] > time.monotonic():
                return cached[1]
        record = await self.store.get(ref)
        if record is None:
            raise NotFound(await self._not_found_message(ref))
        if ref.version is None:
            self._latest[ref.name] = (time.monotonic() + _LATEST_TTL_S, record)
        return record

    async def list(self, *, all_versions: bool = False, full_specs: bool = True) -> list[VerifierRecord]:
        """Every verifier; without ``full_specs`` (score-role callers) names, versions and kinds only."""
        stored = await self.store.list(all_versions=all_versions)
        records = sorted([*builtin_records().values(), *stored], key=lambda r: (r.spec.name, r.version))
        return records if full_specs else [_without_config(record) for record in records]

    async def delete(self, ref: VerifierRef) -> int:
        if ref.name in builtin_records():
            raise InvalidArgument("name", f"{ref.name!r} is a built-in verifier and cannot be deleted")
        deleted = await self.store.delete(ref)
        if deleted == 0:
            raise NotFound(await self._not_found_message(ref))
        self._latest.pop(ref.name, None)
        for key in [key for key in self._compiled if key[0] == ref.name and ref.version in (None, key[1])]:
            del self._compiled[key]
        return deleted

    async def _not_found_message(self, ref: VerifierRef) -> str:
        names = sorted({*builtin_records(), *(r.spec.name for r in await self.store.list())})
        if ref.version is not None and ref.name in names:
            return f"verifier {ref.name!r} has no version {ref.version}"
        close = difflib.get_close_matches(ref.name, names, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(n) for n in close)}?" if close else ""
        return f"unknown verifier {str(ref)!r}{hint}"

    # -- compiling --------------------------------------------------------------

    async def compile(
        self,
        spec: VerifierSpec,
        *,
        chain: tuple[str, ...] = (),
        pending: Mapping[str, VerifierSpec] | None = None,
    ) -> Verifier:
        """Build a verifier from a spec; ``SpecError`` names the offending field."""
        kind = kinds.kind_class(spec.kind)
        context = _Compilation(self, chain, pending or {})
        return await build_verifier(kind, spec.config, context)  # validates, reporting every problem at once

    async def compile_record(self, record: VerifierRecord, *, chain: tuple[str, ...] = ()) -> Verifier:
        key = (record.spec.name, record.version)
        verifier = self._compiled.get(key)
        if verifier is None:
            verifier = await self.compile(record.spec, chain=chain or (record.spec.name,))
            self._compiled[key] = verifier
        return verifier

    async def _inline_verifier(self, spec: VerifierSpec) -> Verifier:
        key = hashlib.sha256(json.dumps([spec.kind, spec.config], sort_keys=True, default=str).encode()).hexdigest()
        verifier = self._inline.get(key)
        if verifier is None:
            verifier = await self.compile(spec, chain=(spec.name or "<inline>",))
            self._inline[key] = verifier
            if len(self._inline) > _INLINE_CACHE_SIZE:
                self._inline.popitem(last=False)
        else:
            self._inline.move_to_end(key)
        return verifier

    async def resolve(self, target: str | VerifierSpec) -> tuple[str, str, Verifier]:
        """A compiled verifier for a ``name[@version]`` or an inline spec, with its label and kind."""
        if isinstance(target, VerifierSpec):
            return f"{target.name or '<inline>'}@inline", target.kind, await self._inline_verifier(target)
        record = await self.get(VerifierRef.parse(target))
        return record.ref, record.spec.kind, await self.compile_record(record)

    # -- scoring ----------------------------------------------------------------

    async def score(self, target: str | VerifierSpec, samples: Sequence[Sample], client: str = "") -> ScoredBatch:
        label, kind, verifier = await self.resolve(target)
        with self._admitted(kind, len(samples), client), as_caller(client):
            started = time.perf_counter()
            results = await score_contained(verifier, samples)
        self.observer.scored(kind, results, time.perf_counter() - started)
        return ScoredBatch(label, results)

    async def score_stream(
        self, target: str | VerifierSpec, samples: Sequence[Sample], client: str = ""
    ) -> AsyncIterator[tuple[int, ScoreResult]]:
        """Results as soon as each chunk is scored, tagged with the sample's index."""
        _, kind, verifier = await self.resolve(target)

        async def run_chunk(start: int) -> list[tuple[int, ScoreResult]]:
            chunk = samples[start : start + _STREAM_CHUNK]
            started = time.perf_counter()
            results = await score_contained(verifier, chunk)
            self.observer.scored(kind, results, time.perf_counter() - started)
            return list(enumerate(results, start))

        with self._admitted(kind, len(samples), client):
            with as_caller(client):  # the tasks copy it: their sandbox runs share slots fairly per client
                tasks = [asyncio.create_task(run_chunk(start)) for start in range(0, len(samples), _STREAM_CHUNK)]
            try:
                for finished in asyncio.as_completed(tasks):
                    for item in await finished:
                        yield item
            finally:
                for task in tasks:
                    task.cancel()

    def _admitted(self, kind: str, count: int, client: str) -> Ticket:
        try:
            return self.admission.admit(kind, count, client)
        except ResourceExhausted:
            self.observer.rejected(kind)
            raise

    async def aclose(self) -> None:
        await self.resources.aclose()
        await self.store.aclose()


def _without_config(record: VerifierRecord) -> VerifierRecord:
    """What a score-role caller may see of a verifier: name, version, kind and description.

    A spec's config is its author's (other tenants' test data, endpoints, model paths, the
    server's own directories for built-ins); scoring by name does not need it.
    """
    spec = VerifierSpec(name=record.spec.name, kind=record.spec.kind, description=record.spec.description)
    return VerifierRecord(
        spec=spec, version=record.version, created_at_unix_s=record.created_at_unix_s, builtin=record.builtin
    )


def _check_name(name: str) -> None:
    if not NAME_PATTERN.match(name or ""):
        raise InvalidArgument(
            "spec.name",
            f"{name!r} is not a valid verifier name (letters, digits, '.', '_', '-'; at most 128; no '@')",
        )
