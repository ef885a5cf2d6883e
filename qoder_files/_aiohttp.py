"""``AiohttpTransport``: the one module that imports aiohttp.

It implements the seam of ``_seam`` over pooled ``aiohttp.ClientSession`` objects and turns
every aiohttp and socket exception into ``APIConnectionError`` (``APITimeoutError`` for a
timeout), both while connecting and while the body is read.

Sessions belong to event loops, so it keeps one per loop. A web app or a test suite that runs
one client under two ``asyncio.run()`` calls gets a fresh session on the second loop, and the
first loop's session is closed while that loop still runs: each session is watched by a
suspended async generator, which the loop finalizes at shutdown (``shutdown_asyncgens``, as
``asyncio.run``, ``asyncio.Runner`` and the blocking ``Client``'s loop do), and whose
``finally`` closes the session. A borrowed session is used as it is and never closed.

Proxies: the environment (``HTTPS_PROXY``, ``HTTP_PROXY``, ``NO_PROXY``), read when the
transport is made, is honoured unless an explicit ``proxy`` URL is given, which then serves
every request. The choice is made here, once per host, rather than by aiohttp's
``trust_env``, which re-reads the environment and ``.netrc`` (in a worker thread) on every
request and would send ``.netrc`` credentials to a storage host.
"""

from __future__ import annotations

import asyncio
import platform
import urllib.request
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any

import aiohttp

from ._seam import AsyncBody, HTTPRequest
from ._timeout import Timeout
from .errors import APIConnectionError, APITimeoutError

__all__ = ["USER_AGENT_SUFFIX", "AiohttpTransport"]

USER_AGENT_SUFFIX = f"python/{platform.python_version()} aiohttp/{aiohttp.__version__}"

_NETWORK_ERRORS = (aiohttp.ClientError, OSError)  # TimeoutError is an OSError
# Which limit ran out (aiohttp 3.10 and later say; earlier ones raise a bare timeout).
_CONNECT_TIMEOUT: Any = getattr(aiohttp, "ConnectionTimeoutError", ())
_READ_TIMEOUT: Any = getattr(aiohttp, "SocketTimeoutError", ())


def _seconds(value: float | None) -> str:
    return f"{value:g} s" if value is not None else "the time allowed"


def _translate(exc: BaseException, request: HTTPRequest) -> APIConnectionError:
    if isinstance(exc, TimeoutError):
        limits = request.timeout
        if isinstance(exc, _CONNECT_TIMEOUT):
            return APITimeoutError(f"no connection within {_seconds(limits.connect)}")
        if isinstance(exc, _READ_TIMEOUT) or limits.total is None:
            return APITimeoutError(f"no byte from the server for {_seconds(limits.read)}")
        return APITimeoutError(f"no complete response within {_seconds(limits.total)}")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return APIConnectionError("the response body was cut off before it was complete")
    reason = str(exc) or type(exc).__name__
    return APIConnectionError(f"connection failed ({type(exc).__name__}: {reason})")


class _Response:
    """An open aiohttp response, behind the seam's ``HTTPResponse`` protocol."""

    __slots__ = ("_request", "_response", "headers", "status")

    def __init__(self, response: aiohttp.ClientResponse, request: HTTPRequest) -> None:
        self._response = response
        self._request = request
        self.status = response.status
        self.headers: Mapping[str, str] = response.headers

    async def read(self, limit: int) -> bytes:
        response = self._response
        try:
            length = response.content_length
            if length is not None and length <= limit and "Content-Encoding" not in self.headers:
                # The common case, a plain body of a known, acceptable size: one read.
                return await response.read()
            chunks: list[bytes] = []
            size = 0
            content = response.content
            while size <= limit and (chunk := await content.readany()):
                chunks.append(chunk)
                size += len(chunk)
            return b"".join(chunks)
        except _NETWORK_ERRORS as exc:
            raise _translate(exc, self._request) from None

    async def iter_bytes(self, chunk_size: int) -> AsyncIterator[bytes]:
        content = self._response.content
        while True:
            try:
                chunk = await content.read(chunk_size)
            except _NETWORK_ERRORS as exc:
                raise _translate(exc, self._request) from None
            if not chunk:
                return
            yield chunk

    async def aclose(self) -> None:
        self._response.release()


class _AsyncBodyPayload(aiohttp.payload.Payload):
    """An ``AsyncBody`` as an aiohttp multipart part: each chunk written as it comes.

    ``read`` bounds each wait for the connection to take a chunk, so a server that stops
    reading an upload fails it instead of holding it forever.
    """

    def __init__(self, body: AsyncBody, *, content_type: str | None, read: float | None) -> None:
        super().__init__(body, content_type=content_type or "application/octet-stream")
        self._body = body
        self._size = body.size
        self._read = read

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        raise TypeError("a streamed upload cannot be decoded")  # never logged or cached

    async def write(self, writer: Any) -> None:
        read = self._read
        async for chunk in self._body:
            if read is None:
                await writer.write(chunk)
                continue
            try:
                async with asyncio.timeout(read):
                    await writer.write(chunk)
            except TimeoutError:
                # A plain OSError: aiohttp would take a bare timeout for its own.
                raise OSError(f"the server took no upload bytes for {read:g} s") from None


async def _close_with_loop(session: aiohttp.ClientSession) -> AsyncGenerator[None, None]:
    # Suspended at ``yield`` for the session's life; the loop's shutdown_asyncgens() (or
    # aclose() of the transport) resumes it into the ``finally``, on the session's own loop.
    try:
        yield
    finally:
        await session.close()


class AiohttpTransport:
    """Sends requests over aiohttp, with one pooled session per event loop.

    Args:
        session: A caller-owned ``aiohttp.ClientSession`` to send through (never closed here).
        proxy: A proxy URL for every request; ``None`` honours the proxy environment
            variables instead.
        limit: Most connections per session.
    """

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None = None,
        proxy: str | None = None,
        limit: int = 100,
    ) -> None:
        self._borrowed = session
        self._proxy = proxy
        self._env_proxies = {} if proxy is not None else urllib.request.getproxies_environment()
        self._proxy_by_host: dict[tuple[str, str], str | None] = {}
        self._limit = limit
        self._loop: asyncio.AbstractEventLoop | None = None
        self._session: aiohttp.ClientSession | None = None
        self._guards: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[aiohttp.ClientSession, AsyncGenerator[None, None]]
        ] = weakref.WeakKeyDictionary()
        self._timeouts: dict[Timeout, aiohttp.ClientTimeout] = {}

    async def _session_here(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if loop is self._loop and self._session is not None:
            return self._session
        if self._borrowed is not None:
            return self._borrowed
        entry = self._guards.get(loop)
        if entry is None:
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._limit, ttl_dns_cache=300)
            )
            guard = _close_with_loop(session)
            await anext(guard)
            entry = self._guards[loop] = (session, guard)
        self._loop, self._session = loop, entry[0]
        return entry[0]

    def _timeout(self, limits: Timeout) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get(limits)
        if timeout is None:
            timeout = aiohttp.ClientTimeout(
                total=limits.total, connect=limits.connect, sock_read=limits.read
            )
            if len(self._timeouts) < 64:  # a few distinct settings per client, in practice
                self._timeouts[limits] = timeout
        return timeout

    @staticmethod
    def _form(request: HTTPRequest) -> aiohttp.FormData | None:
        if request.form is None:
            return None
        form = aiohttp.FormData(quote_fields=False)
        for field in request.form:
            value = field.value
            if isinstance(value, AsyncBody):
                value = _AsyncBodyPayload(
                    value, content_type=field.content_type, read=request.timeout.read
                )
            form.add_field(
                field.name, value, filename=field.filename, content_type=field.content_type
            )
        return form

    def _proxy_for(self, url: str) -> str | None:
        if self._proxy is not None or not self._env_proxies:
            return self._proxy
        scheme, _, rest = url.partition("://")
        host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
        key = (scheme, host)
        if key not in self._proxy_by_host:
            # (documented in the standard library, missing from its type stubs)
            bypass = urllib.request.proxy_bypass_environment(  # type: ignore[attr-defined]
                host, self._env_proxies
            )
            self._proxy_by_host[key] = None if bypass else self._env_proxies.get(scheme)
        return self._proxy_by_host[key]

    async def handle(self, request: HTTPRequest) -> _Response:
        """Send one attempt; the response is open once its status and headers are in."""
        session = await self._session_here()
        try:
            response = await session.request(
                request.method,
                request.url,
                params=request.params or None,
                headers=request.headers,
                data=self._form(request),
                timeout=self._timeout(request.timeout),
                allow_redirects=False,
                proxy=self._proxy_for(request.url),
            )
        except _NETWORK_ERRORS as exc:
            raise _translate(exc, request) from None
        return _Response(response, request)

    async def aclose(self) -> None:
        """Close this loop's session now (idempotent); a borrowed session stays open.

        Sessions made on other loops are closed when those loops shut down.
        """
        loop = asyncio.get_running_loop()
        entry = self._guards.pop(loop, None)
        if loop is self._loop:
            self._loop = self._session = None
        if entry is not None:
            await entry[1].aclose()
