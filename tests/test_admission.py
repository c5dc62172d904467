"""Admission control: per-kind bounds, per-client fairness, release, and rejection counting."""

from __future__ import annotations

import pytest

from verifier_server.admission import AdmissionController, AdmissionLimits
from verifier_server.errors import ResourceExhausted


def test_unbounded_by_default():
    controller = AdmissionController()
    with controller.admit("math", 10_000), controller.admit("math", 10_000):
        assert controller.inflight("math") == 20_000
    assert controller.inflight("math") == 0


def test_bound_per_kind_with_retry_hint():
    controller = AdmissionController(AdmissionLimits(max_inflight_samples=100, retry_after_s=0.25))
    with controller.admit("math", 60):
        with pytest.raises(ResourceExhausted) as info:
            controller.admit("math", 50)
        assert info.value.retry_after_s == 0.25
        assert "60 of 100" in info.value.message
        with controller.admit("format", 50):  # other kinds have their own bound
            pass
        with controller.admit("math", 40):
            assert controller.inflight("math") == 100
    with controller.admit("math", 100):
        pass


def test_a_batch_larger_than_the_bound_runs_when_idle():
    controller = AdmissionController(AdmissionLimits(max_inflight_samples=10))
    with controller.admit("code", 50):
        with pytest.raises(ResourceExhausted):
            controller.admit("code", 1)


def test_per_kind_override():
    controller = AdmissionController(AdmissionLimits(max_inflight_samples=1000, per_kind={"judge": 4}))
    with controller.admit("judge", 4):
        with pytest.raises(ResourceExhausted):
            controller.admit("judge", 1)
        with controller.admit("math", 999):
            pass


def test_one_client_cannot_take_the_whole_kind_while_others_are_active():
    controller = AdmissionController(AdmissionLimits(max_inflight_samples=100, per_client_fraction=0.5))
    with controller.admit("math", 40, client="job-a"), controller.admit("math", 10, client="job-b"):
        with pytest.raises(ResourceExhausted, match="job-a"):
            controller.admit("math", 20, client="job-a")
        with controller.admit("math", 30, client="job-b"):
            assert controller.inflight("math") == 80
    # alone, a client may use the whole bound
    with controller.admit("math", 60, client="job-a"), controller.admit("math", 40, client="job-a"):
        pass


def test_tickets_release_once_even_on_errors():
    controller = AdmissionController(AdmissionLimits(max_inflight_samples=10))
    ticket = controller.admit("math", 5)
    with pytest.raises(RuntimeError), ticket:
        raise RuntimeError("verifier crashed")
    ticket.__exit__(None, None, None)
    assert controller.inflight("math") == 0
