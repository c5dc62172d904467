"""Fixtures for math kind tests: one worker pool for the session, verifiers built through ``from_spec``."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from verifier_server.domain import VerifierSpec
from verifier_server.kinds.base import ResourceBag, Verifier
from verifier_server.kinds.math import MathKind, MathVerifier
from verifier_server.kinds.math.pool import MathPool


class KindContext:
    """The smallest BuildContext a math spec needs: a ResourceBag (math never resolves other verifiers)."""

    def __init__(self, resources: ResourceBag) -> None:
        self._resources = resources

    @property
    def resources(self) -> ResourceBag:
        return self._resources

    async def resolve(self, ref: str) -> Verifier:
        raise NotImplementedError("math specs have no children")

    async def compile_inline(self, spec: VerifierSpec) -> Verifier:
        raise NotImplementedError("math specs have no children")


@pytest.fixture(scope="session")
def math_context() -> Iterator[KindContext]:
    """Shared across the session so worker processes start once; closed at the end."""
    resources = ResourceBag({"math": {"workers": 2}})
    yield KindContext(resources)
    pool = resources.peek("math.pool")
    if isinstance(pool, MathPool):
        pool.close()


GENEROUS_TIMEOUT_S = 60.0
"""Per-item limit for every math verifier a test builds unless it sets its own: the machine is shared,
so a limit must be far above the work; only items built to run for minutes get a short one."""


@pytest.fixture
def make_verifier(math_context: KindContext) -> Callable[..., MathVerifier]:
    def make(config: Mapping[str, Any] | None = None) -> MathVerifier:
        return MathKind.from_spec({"timeout_s": GENEROUS_TIMEOUT_S, **(config or {})}, math_context)

    return make
