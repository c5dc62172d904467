"""Three replicas on loopback behind the SDK's client-side round robin: spread, failover, drain.

Each replica exposes Prometheus metrics, so the tests count what every replica
served instead of trusting the client. A sample's expected verdict follows from its
text alone (``ok-*`` passes, ``no-*`` fails, ``aaa…b`` times out after backtracking),
so a lost, duplicated or reordered result shows up as a mismatch at its index.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from ops.support import eventually, scrape_counter
from sdk import Outcome, ScoreResult, VerifierClient, VerifierSpec, specs
from verifier_server.testing import ServerProcess, StartServer

SLOW_SAMPLE = "a" * 40 + "b"


def verdict_spec(regex_timeout_s: float = 0.2) -> VerifierSpec:
    """``ok-*`` scores 1, ``no-*`` 0; SLOW_SAMPLE backtracks until the regex timeout (a slow request)."""
    spec = specs.regex("replica-verdict", r"^ok|(a|aa)+$")
    return VerifierSpec(spec.name, spec.kind, {**spec.config, "timeout_s": regex_timeout_s})


def batch(size: int, slow_every: int = 5) -> list[str]:
    return [SLOW_SAMPLE if i % slow_every == 0 else ("ok-" if i % 2 else "no-") + str(i) for i in range(size)]


def expected(completion: str) -> tuple[float | None, Outcome]:
    if completion == SLOW_SAMPLE:
        return None, Outcome.TIMEOUT
    return (1.0 if completion.startswith("ok-") else 0.0), Outcome.OK


def assert_exactly_once(completions: list[str], results: list[ScoreResult]) -> None:
    assert len(results) == len(completions), "every sample needs exactly one result"
    mismatches = [
        (i, c, r.score, r.outcome)
        for i, (c, r) in enumerate(zip(completions, results, strict=True))
        if (r.score, r.outcome) != expected(c)
    ]
    assert not mismatches, f"results out of place or wrong: {mismatches[:5]}"


def metrics_port(server: ServerProcess) -> int:
    def find() -> int | None:
        for line in server.log_text().splitlines():
            if line.startswith("{") and '"metrics_port"' in line:
                port = json.loads(line).get("metrics_port")
                return int(port) if port else None
        return None

    return eventually(find, timeout_s=30)


@dataclass
class Replicas:
    servers: list[ServerProcess]
    ports: list[int] = field(default_factory=list)

    @property
    def addresses(self) -> list[str]:
        return [server.address for server in self.servers]

    def score_requests(self, i: int) -> float:
        return scrape_counter(self.ports[i], "verifier_requests_total", method="Score", code="OK")

    def busy(self, i: int) -> bool:
        """Replica ``i`` has served a Score call and is scoring samples right now."""
        return self.score_requests(i) > 0 and scrape_counter(self.ports[i], "verifier_inflight_samples") > 0


@pytest.fixture
def replicas(start_server: StartServer) -> Iterator[Replicas]:
    servers = [start_server(extra_args=["--metrics-port", "0", "--drain-timeout-s", "30"]) for _ in range(3)]
    yield Replicas(servers, [metrics_port(server) for server in servers])


class Background:
    """One ``client.score`` call on a thread, so the test can act on replicas while it runs."""

    def __init__(self, call: Callable[[], list[ScoreResult]]) -> None:
        self.results: list[ScoreResult] | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(call,), daemon=True)
        self._thread.start()

    def _run(self, call: Callable[[], list[ScoreResult]]) -> None:
        try:
            self.results = call()
        except BaseException as exc:  # re-raised by join() in the test's thread
            self.error = exc

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout_s: float = 120) -> list[ScoreResult]:
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), "scoring call did not finish"
        if self.error is not None:
            raise self.error
        assert self.results is not None
        return self.results


def test_a_batch_is_spread_across_all_replicas(replicas: Replicas):
    completions = batch(60, slow_every=10**9)  # no slow samples: 30 quick requests of 2
    with VerifierClient(replicas.addresses, max_chunk_samples=2, timeout_s=60) as client:

        def all_served() -> bool:
            assert_exactly_once(completions, client.score(verdict_spec(), completions))
            return all(replicas.score_requests(i) > 0 for i in range(3))

        eventually(all_served, timeout_s=60)


def test_sigkill_mid_run_scores_every_sample_exactly_once(replicas: Replicas):
    completions = batch(120)
    with VerifierClient(replicas.addresses, max_chunk_samples=5, timeout_s=120) as client:
        client.list()  # connect first, so the call below starts balanced
        # Slow samples of 0.5 s keep the batch running for seconds after replica 0 is seen busy.
        call = Background(lambda: client.score(verdict_spec(regex_timeout_s=0.5), completions))
        eventually(lambda: replicas.busy(0), timeout_s=60, interval_s=0.02)
        assert call.running, "the batch finished before the kill; make it slower"
        replicas.servers[0].kill()
        results = call.join()
    assert_exactly_once(completions, results)
    assert replicas.servers[0].process.returncode == -9
    assert replicas.score_requests(1) > 0 and replicas.score_requests(2) > 0


def test_sigterm_drains_in_flight_work_and_clients_move_on(replicas: Replicas):
    completions = batch(120)
    draining = replicas.servers[0]
    with VerifierClient(replicas.addresses, max_chunk_samples=5, timeout_s=120) as client:
        client.list()
        # Slow samples of 0.5 s keep the batch running for seconds after replica 0 is seen busy.
        call = Background(lambda: client.score(verdict_spec(regex_timeout_s=0.5), completions))
        eventually(lambda: replicas.busy(0), timeout_s=60, interval_s=0.02)
        assert call.running, "the batch finished before SIGTERM; make it slower"
        before = [replicas.score_requests(i) for i in (1, 2)]
        assert draining.stop(timeout_s=60) == 0, "a draining replica must exit cleanly"
        assert_exactly_once(completions, call.join())
        # After the drain every new call lands on the two that are left.
        more = batch(40)
        assert_exactly_once(more, client.score(verdict_spec(), more))
    after = [replicas.score_requests(i) for i in (1, 2)]
    assert all(a > b for a, b in zip(after, before, strict=True)), (before, after)
    assert '"msg": "stopped"' in draining.log_text()
