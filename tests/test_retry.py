"""Retry policy arithmetic and Retry-After parsing."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from qoder_files import RetryPolicy
from qoder_files._retry import DEFAULT_RETRY_STATUSES, parse_retry_after


def test_defaults() -> None:
    policy = RetryPolicy()
    assert (policy.backoff_base, policy.backoff_max, policy.max_wait) == (0.5, 8.0, 60.0)
    assert policy.retry_statuses == DEFAULT_RETRY_STATUSES == {408, 429, 500, 502, 503, 504}


def test_full_jitter_is_capped() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_max=8.0)
    rng = random.Random(1)
    for retry, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (5, 8.0), (10, 8.0)]:
        waits = [policy.backoff(retry, rng) for _ in range(200)]
        assert all(0.0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling * 0.8
    assert 0 <= policy.backoff(1) <= 0.5


def test_policy_validation_and_conversion() -> None:
    with pytest.raises(ValueError, match="backoff_base"):
        RetryPolicy(backoff_base=-1)
    assert RetryPolicy(retry_statuses=[503]).retry_statuses == frozenset({503})


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "0"}, 0.0),
        ({"Retry-After": "1.5"}, 1.5),
        ({"Retry-After": "-4"}, 0.0),
        ({"retry-after-ms": "250"}, 0.25),
        ({"Retry-After-Ms": "250", "Retry-After": "9"}, 0.25),
        ({"retry-after-ms": "soon", "Retry-After": "2"}, 2.0),
        ({"Retry-After": "whenever"}, None),
        ({"RETRY-AFTER": "7"}, 7.0),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers) == expected


def test_parse_retry_after_http_date() -> None:
    now = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(datetime(2026, 11, 27, 12, 0, 30, tzinfo=UTC), usegmt=True)
    assert parse_retry_after({"Retry-After": later}, now=now.timestamp()) == 30.0
    earlier = format_datetime(datetime(2026, 11, 27, 11, 0, 0, tzinfo=UTC), usegmt=True)
    assert parse_retry_after({"Retry-After": earlier}, now=now.timestamp()) == 0.0
    assert parse_retry_after({"Retry-After": later}) is not None
