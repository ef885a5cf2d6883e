"""The transport seam: what the SDK asks of an HTTP transport, as plain values and protocols.

Everything above this seam (the retry loop, the verbs, the pagers) speaks only these types;
everything below it (the aiohttp adapter, ``qoder_files.testing.MockTransport``, a user's own
transport) implements ``AsyncTransport``. The seam is deliberately small:

- ``handle(request)`` sends one attempt of one request and returns an open ``HTTPResponse`` as
  soon as the status and headers are in;
- the response's body is read whole (``read(limit)``) or as a stream (``iter_bytes()``), then
  the response is closed (``aclose()``);
- a network failure at any of those steps raises ``APIConnectionError`` (``APITimeoutError``
  for a timeout); no other exception type is expected from a transport.

A transport never retries, never follows redirects, never adds credentials and never decodes
JSON: the layers above decide all of that, once, for every transport. This module is pure: it
imports neither asyncio nor aiohttp.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Protocol, runtime_checkable

import attrs

from ._public import publish
from ._wire import FormField

__all__ = ["AsyncTransport", "HTTPRequest", "HTTPResponse"]


@attrs.frozen(kw_only=True)
class HTTPRequest:
    """One attempt of one request, exactly as it goes on the wire.

    Attributes:
        method: ``GET``, ``POST`` or ``DELETE``.
        url: The absolute URL, without the query string.
        params: The query parameters, in order, not yet encoded.
        headers: Every header to send (credentials included for API requests, none for a
            presigned download).
        form: The multipart form of an upload, or ``None``. A part's value is ``bytes``, a
            ``str`` or a binary stream positioned at its start.
        timeout: Seconds the attempt may take, from connecting to the last byte of the body.
        external: Whether the URL leaves the API (a presigned download). A transport that
            borrows a caller's HTTP session must not send such a request through it: the
            session's cookies or default headers could carry credentials elsewhere.
    """

    method: str
    url: str
    params: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = attrs.field(factory=dict)
    form: tuple[FormField, ...] | None = None
    timeout: float = 30.0
    external: bool = False

    @property
    def query(self) -> dict[str, str]:
        """The query parameters as a dict (the last value wins for a repeated name)."""
        return dict(self.params)


@runtime_checkable
class HTTPResponse(Protocol):
    """An open response: status and headers are in, the body is still to be read."""

    @property
    def status(self) -> int:
        """The HTTP status."""
        ...

    @property
    def headers(self) -> Mapping[str, str]:
        """The response headers (looked up case-insensitively by the SDK)."""
        ...

    async def read(self, limit: int) -> bytes:
        """The whole body, decompressed; at most ``limit + 1`` bytes.

        A transport stops reading once the body exceeds ``limit`` and returns what it has
        (more than ``limit`` bytes), so the caller can tell a body that is too large without
        the transport ever holding all of it.
        """
        ...

    def iter_bytes(self, chunk_size: int) -> AsyncIterator[bytes]:
        """The body as it arrives, in chunks of at most ``chunk_size`` bytes."""
        ...

    async def aclose(self) -> None:
        """Release the connection (idempotent); an unread body is discarded."""
        ...


@runtime_checkable
class AsyncTransport(Protocol):
    """What ``AsyncClient(transport=...)`` accepts: anything that sends an ``HTTPRequest``."""

    async def handle(self, request: HTTPRequest) -> HTTPResponse:
        """Send one attempt and return the open response once its headers are in.

        Raises:
            APIConnectionError: the request could not be sent or the answer did not arrive.
            APITimeoutError: ``request.timeout`` ran out.
        """
        ...

    async def aclose(self) -> None:
        """Release every connection this transport holds (idempotent)."""
        ...


# Exported from ``qoder_files``: tracebacks, reprs, pickles and the reference show that path.
publish("qoder_files", globals(), __all__)
