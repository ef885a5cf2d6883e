"""Scriptable faults for the emulator: what can go wrong on a route, and when.

A ``Fault`` says what happens (latency, an error status, a reset connection, a truncated or
undecodable body, a gateway HTML page, a repeated page, ``has_more`` without cursors); a
schedule says on which requests of a route it happens. Pure data; the emulator acts on it.
"""

from __future__ import annotations

import attrs

__all__ = ["ROUTES", "Fault", "FaultSchedule"]

ROUTES = ("*", "content", "delete", "download", "get", "list", "upload")
"""The routes a fault can be scheduled on (``*``: every route)."""


@attrs.frozen(kw_only=True)
class Fault:
    """One thing that goes wrong. Build it with the class methods.

    Attributes:
        kind: ``latency``, ``status``, ``reset``, ``truncate``, ``html``, ``bad_json``,
            ``repeat_page``, ``null_cursor`` or ``lose_response``.
        status: HTTP status for ``status`` and ``html``.
        retry_after: ``Retry-After`` header value for ``status``, if any.
        seconds: Delay for ``latency``.
        body: Raw body for ``status``; ``None`` sends the documented error envelope.
    """

    kind: str
    status: int = 503
    retry_after: str | None = None
    seconds: float = 0.0
    body: bytes | None = None

    @classmethod
    def latency(cls, seconds: float) -> Fault:
        """Delay the answer by ``seconds`` (then answer normally)."""
        return cls(kind="latency", seconds=seconds)

    @classmethod
    def error(
        cls, status: int, *, retry_after: float | str | None = None, body: bytes | None = None
    ) -> Fault:
        """Answer with ``status`` (and ``Retry-After`` when given), in the error envelope."""
        header = None if retry_after is None else str(retry_after)
        return cls(kind="status", status=status, retry_after=header, body=body)

    @classmethod
    def reset(cls) -> Fault:
        """Close the connection without answering."""
        return cls(kind="reset")

    @classmethod
    def lose_response(cls) -> Fault:
        """Handle the request normally, then close the connection instead of answering.

        The server did the work but the client never hears of it: the case a write's
        idempotency key exists for.
        """
        return cls(kind="lose_response")

    @classmethod
    def truncate(cls) -> Fault:
        """Send headers with the full ``Content-Length``, half the body, then close."""
        return cls(kind="truncate")

    @classmethod
    def html(cls, status: int = 502) -> Fault:
        """Answer like a gateway: an HTML error page."""
        return cls(kind="html", status=status)

    @classmethod
    def bad_json(cls) -> Fault:
        """Answer 200 with a complete body that is not valid JSON (a mangling proxy)."""
        return cls(kind="bad_json", status=200)

    @classmethod
    def repeat_page(cls) -> Fault:
        """Answer a list request with the previous list response again, ignoring the cursor."""
        return cls(kind="repeat_page", status=200)

    @classmethod
    def null_cursor(cls) -> Fault:
        """Answer a list request with no items, null ids and ``has_more: true``."""
        return cls(kind="null_cursor", status=200)


@attrs.define(kw_only=True)
class FaultSchedule:
    """When a fault fires on its route: request numbers ``start``, ``start + every``, ...

    Attributes:
        fault: What happens.
        route: ``list``, ``get``, ``upload``, ``content``, ``download``, ``delete`` or ``*``.
        every: Fire on every ``every``-th request of the route.
        start: The first request number (1-based) it fires on.
        times: Fire at most this many times (``None``: no limit).
        fired: How many times it has fired so far.
    """

    fault: Fault
    route: str = attrs.field(default="*")
    every: int = 1
    start: int = 1
    times: int | None = None
    fired: int = 0

    @route.validator
    def _check_route(self, _: attrs.Attribute[str], value: str) -> None:
        # A misspelt route would be accepted and never fire: the test would pass for nothing.
        if value not in ROUTES:
            raise ValueError(f"route must be one of {', '.join(ROUTES)}; got {value!r}")

    def matches(self, route: str, number: int) -> bool:
        """Whether it fires on request ``number`` of ``route`` (and count it if so)."""
        if self.route not in ("*", route) or number < self.start:
            return False
        if (number - self.start) % self.every or (
            self.times is not None and self.fired >= self.times
        ):
            return False
        self.fired += 1
        return True
