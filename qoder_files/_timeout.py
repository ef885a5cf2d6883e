"""``Timeout``: the time limits of one attempt, and what a plain number given as ``timeout=`` means.

A request is one of two kinds, and a number means something different for each:

- an API call (list, get, link, delete) has a small JSON answer, so a number bounds the whole
  attempt, from connecting to the last byte (``total``): a server dribbling a body cannot hold
  the call forever;
- a content transfer (a download, a stream, an upload) may rightly take minutes, so a number
  bounds connecting and each wait for bytes (``connect`` and ``read``), never the whole
  transfer: a slow but steady transfer succeeds, a stalled one fails.

A ``Timeout`` value is applied as given to both kinds. Everything here is pure: no I/O, no
asyncio, no aiohttp.
"""

from __future__ import annotations

import math

import attrs

from ._public import publish

__all__ = ["Timeout", "TimeoutSetting", "check_timeout_setting", "for_api", "for_transfer"]


def _limit(instance: object, attribute: attrs.Attribute[float | None], value: object) -> None:
    if value is None:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(
            f"Timeout.{attribute.name} must be None or a positive, finite number of seconds, "
            f"got {value!r}"
        )


@attrs.frozen(kw_only=True)
class Timeout:
    """Time limits of one attempt of one request, in seconds; ``None`` means no limit.

    Pass one wherever ``timeout=`` is accepted (the clients' constructors and every method).
    A plain number there still works: for API calls it is ``Timeout(total=n)``, for content
    transfers ``Timeout(connect=n, read=n)``.

    Attributes:
        connect: Getting a connection: resolving, connecting, TLS, and waiting for a free
            connection in the client's pool.
        read: Each wait for bytes from the server: for the answer to start, then between any
            two pieces of it. A transfer that keeps moving is never cut by it.
        total: The whole attempt, from connecting to the last byte of the answer.

    Raises:
        ValueError: a limit is not ``None`` or a positive, finite number.

    Example::

        # Downloads may take as long as they need, as long as bytes keep coming.
        client = AsyncClient(timeout=Timeout(connect=10, read=30))
    """

    connect: float | None = attrs.field(default=None, validator=_limit)
    read: float | None = attrs.field(default=None, validator=_limit)
    total: float | None = attrs.field(default=None, validator=_limit)


TimeoutSetting = float | Timeout
"""What ``timeout=`` accepts: seconds, or a ``Timeout``."""


def check_timeout_setting(value: object, name: str = "timeout") -> TimeoutSetting:
    """A ``Timeout``, or a positive, finite number of seconds; otherwise ``ValueError``."""
    if isinstance(value, Timeout):
        return value
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(
            f"{name} must be a positive, finite number of seconds or a Timeout, got {value!r}"
        )
    return float(value)


def for_api(setting: TimeoutSetting) -> Timeout:
    """The limits of an API call: a number bounds the whole attempt."""
    if isinstance(setting, Timeout):
        return setting
    return Timeout(total=setting)


def for_transfer(setting: TimeoutSetting) -> Timeout:
    """The limits of a content transfer: a number bounds connecting and each wait for bytes."""
    if isinstance(setting, Timeout):
        return setting
    return Timeout(connect=setting, read=setting)


# Exported from ``qoder_files``: tracebacks, reprs and the reference show that path.
publish("qoder_files", globals(), ["Timeout"])
