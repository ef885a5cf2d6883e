"""Retry policy: which attempts to repeat, how long to wait, and reading ``Retry-After``.

Pure arithmetic over statuses and headers; the transport asks, this module answers. It never
sleeps and imports neither asyncio nor aiohttp.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Mapping
from email.utils import parsedate_to_datetime

import attrs

from ._checks import check_backoff, check_retry_statuses
from ._public import publish

__all__ = ["DEFAULT_RETRY_STATUSES", "RetryPolicy", "parse_retry_after"]

DEFAULT_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def _seconds(_: object, attribute: attrs.Attribute[float], value: object) -> None:
    check_backoff(value, attribute.name)


def _statuses(values: Iterable[int]) -> frozenset[int]:
    return check_retry_statuses(values)


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How the client waits between attempts.

    The number of retries is the client's ``max_retries``; this policy only shapes the waits.
    Every field is checked when the policy is made: a duration must be a finite number of
    seconds, zero or more, and a status an integer from 100 to 599.

    Attributes:
        backoff_base: First backoff ceiling in seconds; doubled on every retry ("full jitter":
            the wait is uniform between 0 and the ceiling).
        backoff_max: Upper bound of the backoff ceiling in seconds.
        max_wait: The longest ``Retry-After`` the client will sleep. A longer one raises
            ``RateLimitError`` at once, with ``retry_after`` set, instead of burning attempts.
        retry_statuses: HTTP statuses that are retried.
    """

    backoff_base: float = attrs.field(default=0.5, validator=_seconds)
    backoff_max: float = attrs.field(default=8.0, validator=_seconds)
    max_wait: float = attrs.field(default=60.0, validator=_seconds)
    retry_statuses: frozenset[int] = attrs.field(
        default=DEFAULT_RETRY_STATUSES, converter=_statuses
    )

    def backoff(self, retry: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based), with full jitter."""
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** (retry - 1))
        return (rng or random).uniform(0.0, ceiling)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.title())
    if value is None:
        for key, candidate in headers.items():
            if key.lower() == name:
                return candidate
    return value


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date).

    Returns ``None`` when neither header is present or readable; never a negative number.
    """
    millis = _header(headers, "retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = _header(headers, "retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


# Exported from ``qoder_files``: tracebacks, reprs, pickles and the reference show that path.
publish("qoder_files", globals(), ["RetryPolicy"])
