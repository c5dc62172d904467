"""Which errors the SDK retries, and that retries never outlive the call's deadline."""

from __future__ import annotations

import time

import pytest

from sdk import RetryPolicy
from sdk._base import BaseClient
from sdk._errors import ResourceExhaustedError, RPCError, StatusCode


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
