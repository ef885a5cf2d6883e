"""The transport seam: what the SDK asks of an HTTP transport, as plain values and protocols.

Everything above this seam (the retry loop, the verbs, the pagers) speaks only these types;
everything below it (the aiohttp adapter, ``qoder_files.testing.MockTransport``, a user's own
transport) implements ``AsyncTransport``. The seam is deliberately small:

- ``handle(request)`` sends one attempt of one request and returns an open ``HTTPResponse`` as
  soon as the status and headers are in;
- the response's body is read whole (``read(limit)``) or as a stream (``iter_bytes()``), then
  the response is closed (``aclose()``);
- a network failure at any of those steps raises ``APIConnectionError`` (``APITimeoutError``
  for a timeout); no other exception type is expected from a transport;
- an upload part may be an ``AsyncBody``: content read from an async source while it is
  sent, in one pass, never gathered whole.

A transport never retries, never follows redirects, never adds credentials and never decodes
JSON: the layers above decide all of that, once, for every transport. This module is pure: it
imports neither asyncio nor aiohttp.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import Protocol, runtime_checkable

import attrs

from ._public import publish
from ._timeout import Timeout
from ._wire import FormField

__all__ = ["AsyncBody", "AsyncTransport", "HTTPRequest", "HTTPResponse"]


class AsyncBody:
    """An upload part's content, taken from an async source while the request is sent.

    A transport iterates it (``async for chunk in body``) once, writing each chunk as it
    comes; it is never gathered in memory. It cannot be iterated twice: the source is gone
    once read, which is why the client never retries such an upload after its first byte.

    Args:
        chunks: The source, as an async iterable of ``bytes``.
        size: The content's length in bytes when known (a transport may then send a
            ``Content-Length``), else ``None``. A source that gives another number of bytes
            fails the upload with ``ValueError``.

    Attributes:
        size: The announced length, or ``None``.
        taken: Bytes handed to the transport so far.
        started: Whether any byte was asked for; from then on the request cannot be re-sent.
        failure: The exception the source raised (or the size mismatch), if any: the
            upload then fails with it, whatever words the transport found for it.
    """

    __slots__ = ("_chunks", "_source", "failure", "size", "started", "taken")

    def __init__(self, chunks: AsyncIterable[bytes], *, size: int | None = None) -> None:
        self._source = chunks
        self._chunks: AsyncIterator[bytes] | None = None
        self.size = size
        self.taken = 0
        self.started = False
        self.failure: Exception | None = None

    def __repr__(self) -> str:
        return f"<AsyncBody size={self.size!r} taken={self.taken}>"

    def __aiter__(self) -> AsyncBody:
        if self.started:
            raise RuntimeError("an AsyncBody can be sent only once")
        self.started = True
        self._chunks = aiter(self._source)
        return self

    async def __anext__(self) -> bytes:
        assert self._chunks is not None, "iterate with async for"
        try:
            chunk = b""
            while not chunk:  # an empty chunk would end a chunked body early
                chunk = await self._next()
        except StopAsyncIteration:
            raise
        except Exception as exc:
            self.failure = exc  # the transport reports a failed body in its own words
            raise
        return chunk

    async def _next(self) -> bytes:
        assert self._chunks is not None
        try:
            given: object = await anext(self._chunks)  # callers do not always honour types
        except StopAsyncIteration:
            if self.size is not None and self.taken != self.size:
                raise ValueError(
                    f"the upload source gave {self.taken} bytes, not the {self.size} "
                    "announced by size"
                ) from None
            raise
        if isinstance(given, bytes):
            chunk = given
        elif isinstance(given, bytearray | memoryview):
            chunk = bytes(given)
        else:
            raise TypeError(f"an upload source must give bytes, got {type(given).__name__}")
        self.taken += len(chunk)
        if self.size is not None and self.taken > self.size:
            raise ValueError(
                f"the upload source gave more than the {self.size} bytes announced by size"
            )
        return chunk


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
            ``str``, a binary stream positioned at its start, or an ``AsyncBody``.
        timeout: The attempt's time limits: ``connect`` (getting a connection), ``read``
            (each wait for bytes of the answer, and for an ``AsyncBody``, each wait to send
            more of it) and ``total`` (the whole attempt, body included); ``None`` is no
            limit.
        external: Whether the URL leaves the API (a presigned download). A transport that
            borrows a caller's HTTP session must not send such a request through it: the
            session's cookies or default headers could carry credentials elsewhere.
    """

    method: str
    url: str
    params: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = attrs.field(factory=dict)
    form: tuple[FormField, ...] | None = None
    timeout: Timeout = attrs.field(factory=lambda: Timeout(total=30.0))
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
            APITimeoutError: a limit of ``request.timeout`` ran out.
        """
        ...

    async def aclose(self) -> None:
        """Release every connection this transport holds (idempotent)."""
        ...


# Exported from ``qoder_files``: tracebacks, reprs, pickles and the reference show that path.
publish("qoder_files", globals(), __all__)
