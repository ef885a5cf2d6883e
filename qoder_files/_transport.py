"""The client side's only I/O seam: one aiohttp session, retries, rate limit, logging.

``Transport.send(request, decode)`` sends one logical ``Request`` (retrying attempts as the
``RetryPolicy`` allows) and hands the complete ``Response`` to a pure ``decode`` function from
``_wire``. This is the only client module that imports aiohttp; it turns every aiohttp and
socket exception into ``APIConnectionError``/``APITimeoutError``. The token lives in one header
value and is never logged, formatted into a message, or shown by a repr.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import platform
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any, TypeVar

import aiohttp
from multidict import CIMultiDict

from ._retry import RetryPolicy
from ._version import __version__
from ._wire import Request, Response, error_from_response, parse_retry_after
from .errors import APIConnectionError, APITimeoutError, InvalidResponseError

__all__ = ["USER_AGENT", "RateLimiter", "Transport", "connection_error", "new_request_id"]

T = TypeVar("T")

logger = logging.getLogger("qoder_files")

_sleep = asyncio.sleep  # the one place this module waits (tests replace it)

USER_AGENT = (
    f"qoder-files/{__version__} python/{platform.python_version()} aiohttp/{aiohttp.__version__}"
)

_REQUEST_ID = "x-request-id"
_IDEMPOTENCY_KEY = "Idempotency-Key"
_urandom = os.urandom


def new_request_id() -> str:
    """A random (version 4) UUID in its usual text form, the id every attempt of a request carries.

    The same value as ``str(uuid.uuid4())``, built in a third of the time: this runs once per
    page of a listing.
    """
    h = _urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def connection_error(
    exc: aiohttp.ClientError | OSError, what: str, request_id: str, seconds: float
) -> APIConnectionError:
    """The ``APIConnectionError`` (or ``APITimeoutError``) an aiohttp or socket error stands for."""
    if isinstance(exc, TimeoutError):
        return APITimeoutError(
            f"{what}: no complete response within {seconds:g} s", request_id=request_id
        )
    if isinstance(exc, aiohttp.ClientPayloadError):
        return APIConnectionError(
            f"{what}: the response body was cut off before it was complete",
            request_id=request_id,
        )
    reason = str(exc) or type(exc).__name__
    return APIConnectionError(
        f"{what}: connection failed ({type(exc).__name__}: {reason})", request_id=request_id
    )


class RateLimiter:
    """A token bucket shared by every request of one client.

    Holds at most ``rate`` tokens (one second of burst, at least one); each attempt takes one,
    waiting for it when the bucket is empty. Callers reserve in arrival order without a lock,
    which is safe because everything runs on one event loop.
    """

    def __init__(self, rate: float) -> None:
        self._rate = rate
        self._capacity = max(1.0, rate)
        self._tokens = self._capacity
        self._stamp = time.monotonic()

    async def acquire(self) -> None:
        """Wait until one request may be sent."""
        now = time.monotonic()
        self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        self._tokens -= 1.0
        if self._tokens < 0:
            await _sleep(-self._tokens / self._rate)


class Transport:
    """Sends ``Request`` values over one pooled aiohttp session.

    The session is created lazily, on first use, inside the running loop (so a client may be
    built outside one). A borrowed ``session`` is used as is and never closed.
    """

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        timeout: float,
        max_retries: int,
        retry: RetryPolicy,
        rate_limit: float | None,
        default_headers: Mapping[str, str] | None,
        session: aiohttp.ClientSession | None,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.timeout = timeout
        self.max_retries = max_retries
        self.retry = retry
        self._limiter = RateLimiter(rate_limit) if rate_limit else None
        self._session = session
        self._owns_session = session is None
        # Presigned URLs never go through a borrowed session: its default headers or cookies
        # could carry credentials to the storage host. They get a bare session of our own.
        self._bare_session: aiohttp.ClientSession | None = None
        self._closed = False
        self._rng = random.Random()
        self._api_headers = {
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            **(default_headers or {}),
            "Authorization": f"Bearer {token}",
        }
        # What a plain API request (no headers or idempotency key of its own) sends, built once
        # in the multidict aiohttp uses, so that each request costs one C-level copy. It holds
        # no request id: each request adds its own, which is what the merged dict would send.
        self._api_template = CIMultiDict(
            (key, value) for key, value in self._api_headers.items() if key != _REQUEST_ID
        )
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    @property
    def closed(self) -> bool:
        """Whether ``aclose()`` was called."""
        return self._closed

    @staticmethod
    def _new_session() -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=100, ttl_dns_cache=300), auto_decompress=True
        )

    def _get_session(self, external: bool = False) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("this client is closed")
        if external and not self._owns_session:
            if self._bare_session is None:
                self._bare_session = self._new_session()
            return self._bare_session
        if self._session is None:
            self._session = self._new_session()
        return self._session

    async def aclose(self) -> None:
        """Close the sessions we own (idempotent); a borrowed one is left open."""
        self._closed = True
        session, self._session = self._session, None
        bare, self._bare_session = self._bare_session, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()
        if bare is not None:
            await bare.close()

    def _client_timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            timeout = self._timeouts[seconds] = aiohttp.ClientTimeout(total=seconds)
        return timeout

    def _headers(self, request: Request, request_id: str) -> Mapping[str, str]:
        if request.url is not None:
            # Leaving the API (a presigned URL): no token and no caller default headers.
            headers = {"User-Agent": USER_AGENT}
        elif request.idempotency_key is None and not request.headers:
            template = self._api_template.copy()
            template.add(_REQUEST_ID, request_id)
            return template
        else:
            headers = {**self._api_headers, _REQUEST_ID: request_id}
            if request.idempotency_key is not None:
                headers[_IDEMPOTENCY_KEY] = request.idempotency_key
        headers.update(request.headers)
        return headers

    def _url(self, request: Request) -> str:
        return request.url if request.url is not None else self.base_url + request.path

    def _form(self, request: Request) -> aiohttp.FormData | None:
        if request.form is None:
            return None
        form = aiohttp.FormData(quote_fields=False)
        for field in request.form:
            value = field.value
            if hasattr(value, "seek"):
                value.seek(0)  # a retry re-sends the whole file
            form.add_field(
                field.name, value, filename=field.filename, content_type=field.content_type
            )
        return form

    @contextlib.contextmanager
    def translate_errors(self, what: str, request_id: str, seconds: float) -> Iterator[None]:
        """Turn aiohttp and socket exceptions raised inside the block into ``QoderError``."""
        try:
            yield
        except (aiohttp.ClientError, OSError) as exc:  # TimeoutError is an OSError
            raise connection_error(exc, what, request_id, seconds) from None

    def _issue(
        self, session: aiohttp.ClientSession, request: Request, request_id: str, seconds: float
    ) -> Awaitable[aiohttp.ClientResponse]:
        """The aiohttp request of one attempt, to await (inside the error translation)."""
        return session.request(
            request.method,
            self._url(request),
            params=request.params or None,
            headers=self._headers(request, request_id),
            data=self._form(request),
            timeout=self._client_timeout(seconds),
            allow_redirects=False,
        )

    @contextlib.asynccontextmanager
    async def open(
        self, request: Request, request_id: str, timeout: float | None = None
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """One attempt, with the response left open for streaming its body.

        Errors while connecting and reading headers are translated here; the caller wraps its
        own body reads in ``translate_errors`` (and only those: a failing disk write is not a
        network error).
        """
        session = self._get_session(external=request.url is not None)
        if self._limiter is not None:
            await self._limiter.acquire()
        seconds = self.timeout if timeout is None else timeout
        with self.translate_errors(self.describe_request(request), request_id, seconds):
            response = await self._issue(session, request, request_id, seconds)
        try:
            yield response
        finally:
            response.release()

    @staticmethod
    def describe_request(request: Request) -> str:
        """``METHOD path`` for messages and logs (a presigned URL is never shown)."""
        return f"{request.method} {request.path or 'presigned URL'}"

    async def _attempt(self, request: Request, request_id: str, seconds: float) -> Response:
        """One attempt, its body read whole: ``open()`` and ``translate_errors`` in one frame.

        This is every page of a listing, so it does what those two do without their context
        manager objects, and words a failure only when there is one.
        """
        session = self._get_session(external=request.url is not None)
        if self._limiter is not None:
            await self._limiter.acquire()
        try:
            response = await self._issue(session, request, request_id, seconds)
            try:
                body = await response.read()
            finally:
                response.release()
        except (aiohttp.ClientError, OSError) as exc:  # TimeoutError is an OSError
            what = self.describe_request(request)
            raise connection_error(exc, what, request_id, seconds) from None
        return Response(
            status=response.status, headers=response.headers, body=body, request_id=request_id
        )

    def backoff(self, retry: int) -> float:
        """Seconds before retry number ``retry`` (1-based), with full jitter."""
        return self.retry.backoff(retry, self._rng)

    async def send(
        self,
        request: Request,
        decode: Callable[[Response], T],
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> T:
        """Send ``request``, retrying as the policy allows, and return ``decode(response)``.

        Retried (GETs always, writes only with an idempotency key): connection errors, timeouts,
        cut-off bodies, the policy's statuses, and on GETs a complete 2xx body that does not
        decode. Each retry waits for ``Retry-After``/``retry-after-ms`` when sent, else a
        full-jitter backoff; a ``Retry-After`` beyond ``max_wait`` raises at once.
        """
        request_id = new_request_id()
        retries = self.max_retries if max_retries is None else max_retries
        seconds = self.timeout if timeout is None else timeout
        attempt = 0
        debug = logger.isEnabledFor(logging.DEBUG)
        while True:
            attempt += 1
            can_retry = request.retry_safe and attempt <= retries
            started = time.perf_counter() if debug else 0.0
            try:
                response = await self._attempt(request, request_id, seconds)
            except APIConnectionError as exc:
                if not can_retry:
                    raise
                wait, reason = self.backoff(attempt), exc.message
            else:
                if debug:
                    logger.debug(
                        "%s -> %d in %.1f ms (attempt %d, request id %s)",
                        self.describe_request(request),
                        response.status,
                        (time.perf_counter() - started) * 1000,
                        attempt,
                        request_id,
                    )
                if response.status in self.retry.retry_statuses and can_retry:
                    hinted = parse_retry_after(response.headers)
                    if hinted is not None and hinted > self.retry.max_wait:
                        raise error_from_response(response)
                    wait = self.backoff(attempt) if hinted is None else hinted
                    reason = f"status {response.status}"
                else:
                    try:
                        return decode(response)
                    except InvalidResponseError as exc:
                        if not (can_retry and request.method == "GET"):
                            raise
                        wait, reason = self.backoff(attempt), exc.message
            logger.info(
                "retrying %s in %.2f s after %s (retry %d of %d, request id %s)",
                self.describe_request(request),
                wait,
                reason,
                attempt,
                retries,
                request_id,
            )
            await _sleep(wait)

    def describe(self) -> dict[str, Any]:
        """Settings worth showing in a repr (never the token)."""
        return {"base_url": self.base_url.rstrip("/")}
