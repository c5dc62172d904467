"""Which errors the SDK retries, and that retries never outlive the call's deadline."""

from __future__ import annotations

import time

import pytest

from sdk import AsyncVerifierClient, RetryPolicy, ServerUnavailableError, VerifierClient
from sdk._base import MIN_ATTEMPT_S, BaseClient
from sdk._errors import ResourceExhaustedError, RPCError, StatusCode
from tests.host_claims import refused_address


@pytest.mark.parametrize(
    ("status", "retried"),
    [
        (StatusCode.UNAVAILABLE, True),
        (StatusCode.CANCELLED, True),  # a replica shutting down as the call arrived
        (StatusCode.INVALID_ARGUMENT, False),
        (StatusCode.NOT_FOUND, False),
        (StatusCode.DEADLINE_EXCEEDED, False),
        (StatusCode.INTERNAL, False),
        (StatusCode.PERMISSION_DENIED, False),
    ],
)
def test_retryable_statuses(status: StatusCode, retried: bool):
    client = BaseClient("127.0.0.1:1")
    delay = client.retry_delay_s(RPCError(status, "x"), attempt=1, deadline=time.monotonic() + 60)
    assert (delay is not None) is retried


def test_resource_exhausted_waits_for_the_server_hint():
    client = BaseClient("127.0.0.1:1")
    error = ResourceExhaustedError(StatusCode.RESOURCE_EXHAUSTED, "full", retry_after_s=0.75)
    assert client.retry_delay_s(error, attempt=1, deadline=time.monotonic() + 60) == 0.75


def test_no_retry_past_the_deadline_or_the_attempt_budget():
    client = BaseClient("127.0.0.1:1", retry=RetryPolicy(max_attempts=3, initial_backoff_s=1.0))
    unavailable = RPCError(StatusCode.UNAVAILABLE, "down")
    assert client.retry_delay_s(unavailable, attempt=1, deadline=time.monotonic() + 0.1) is None
    assert client.retry_delay_s(unavailable, attempt=3, deadline=time.monotonic() + 60) is None
    assert client.retry_delay_s(unavailable, attempt=2, deadline=time.monotonic() + 60) is not None


def test_a_retry_needs_time_left_for_its_attempt():
    client = BaseClient("127.0.0.1:1", retry=RetryPolicy(max_attempts=3, initial_backoff_s=0.001, max_backoff_s=0.001))
    unavailable = RPCError(StatusCode.UNAVAILABLE, "down")
    assert client.retry_delay_s(unavailable, attempt=1, deadline=time.monotonic() + MIN_ATTEMPT_S / 2) is None
    assert client.retry_delay_s(unavailable, attempt=1, deadline=time.monotonic() + 30) is not None
    assert not client.time_for_attempt(time.monotonic() + MIN_ATTEMPT_S / 2)
    assert client.time_for_attempt(time.monotonic() + 30)


# Backoffs long against each call's one second, so a retry often ends near the deadline.
TIGHT = RetryPolicy(max_attempts=100, initial_backoff_s=0.3, max_backoff_s=0.3)


def test_a_server_that_stays_down_is_unavailable_not_a_deadline():
    with VerifierClient(refused_address(), timeout_s=1.0, retry=TIGHT) as client:
        for _ in range(3):
            with pytest.raises(ServerUnavailableError):
                client.list()


async def test_async_a_server_that_stays_down_is_unavailable_not_a_deadline():
    async with AsyncVerifierClient(refused_address(), timeout_s=1.0, retry=TIGHT) as client:
        for _ in range(3):
            with pytest.raises(ServerUnavailableError):
                await client.list()
