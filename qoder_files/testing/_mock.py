"""``MockTransport``: answer a client's requests with a function, in memory, for unit tests.

``AsyncClient(token, transport=MockTransport(handler))`` sends every request, presigned
downloads included, to ``handler``; nothing touches the network and aiohttp is never loaded.
The handler gets the ``HTTPRequest`` exactly as the SDK would put it on the wire (URL, query,
headers with the token, multipart parts) and returns a ``MockResponse``, either directly or
from a coroutine. An upload part streamed from an async source (an ``AsyncBody``) is read
first, as a network transport would send it, and handed to the handler as ``bytes``.
Raising ``APIConnectionError`` (or ``APITimeoutError``) from the handler stands for a network
failure, which the client retries like a real one.

Everything above the seam runs for real: retries, backoff (with an injected sleep), error
mapping, decoding and paging.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any

import attrs
from multidict import CIMultiDict

from qoder_files._seam import AsyncBody, HTTPRequest
from qoder_files.errors import APIConnectionError

__all__ = ["MockResponse", "MockTransport"]

_UNSET: Any = object()


class MockResponse:
    """A canned response for ``MockTransport``.

    Args:
        status: The HTTP status.
        json: A value to send as the JSON body (sets ``Content-Type``).
        content: The raw body, when ``json`` is not given.
        headers: Response headers.
        chunks: The body as separate chunks (a streamed download); overrides ``content``.
        cut_off: Raise ``APIConnectionError`` after the chunks, as a connection dropped
            before the body was complete would.

    Example::

        MockResponse(200, json={"data": [], "has_more": False})
    """

    def __init__(
        self,
        status: int = 200,
        *,
        json: Any = _UNSET,
        content: bytes = b"",
        headers: Mapping[str, str] | None = None,
        chunks: Iterable[bytes] | None = None,
        cut_off: bool = False,
    ) -> None:
        self.status = status
        self.headers: CIMultiDict[str] = CIMultiDict(headers or {})
        if json is not _UNSET:
            content = _dumps(json)
            self.headers.setdefault("Content-Type", "application/json")
        self._chunks = [content] if chunks is None else list(chunks)
        self._cut_off = cut_off
        self.closed = False

    def __repr__(self) -> str:
        return f"<MockResponse {self.status}>"

    async def read(self, limit: int) -> bytes:
        """The body, at most ``limit + 1`` bytes of it (the seam's contract)."""
        body = b"".join(self._chunks)
        if self._cut_off:
            raise APIConnectionError("the response body was cut off before it was complete")
        return body[: limit + 1]

    async def iter_bytes(self, chunk_size: int) -> AsyncIterator[bytes]:
        """The body in its chunks, each split to at most ``chunk_size`` bytes."""
        for chunk in self._chunks:
            for start in range(0, len(chunk), chunk_size):
                yield chunk[start : start + chunk_size]
        if self._cut_off:
            raise APIConnectionError("the response body was cut off before it was complete")

    async def aclose(self) -> None:
        """Mark the response released."""
        self.closed = True


async def _read(field: Any) -> Any:
    """A form field with an ``AsyncBody`` value read into ``bytes``; others as they are."""
    if not isinstance(field.value, AsyncBody):
        return field
    try:
        content = b"".join([chunk async for chunk in field.value])
    except Exception as exc:
        # What a network transport does with a body that failed while it was being sent.
        raise APIConnectionError(f"the request body could not be sent ({exc})") from exc
    return attrs.evolve(field, value=content)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


Handler = Callable[[HTTPRequest], "MockResponse | Awaitable[MockResponse]"]


class MockTransport:
    """A transport that hands every request to ``handler`` and returns its ``MockResponse``.

    Args:
        handler: Takes an ``HTTPRequest``; returns a ``MockResponse`` or an awaitable of one.

    Attributes:
        requests: Every request handled, in order (streamed upload parts as ``bytes``).
        closed: Whether the client closed the transport.
    """

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.requests: list[HTTPRequest] = []
        self.closed = False

    async def handle(self, request: HTTPRequest) -> MockResponse:
        """Record ``request`` and return the handler's response."""
        if request.form is not None and any(isinstance(f.value, AsyncBody) for f in request.form):
            request = attrs.evolve(request, form=tuple([await _read(f) for f in request.form]))
        self.requests.append(request)
        response = self._handler(request)
        if inspect.isawaitable(response):
            response = await response
        if not isinstance(response, MockResponse):
            raise TypeError(
                f"a MockTransport handler must return a MockResponse, got {type(response).__name__}"
            )
        return response

    async def aclose(self) -> None:
        """Mark the transport closed (idempotent)."""
        self.closed = True
