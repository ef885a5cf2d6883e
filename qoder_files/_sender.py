"""``Sender``: the one retry loop, above the transport seam, for every verb and every download.

It turns a logical ``_wire.Request`` into attempts on an ``AsyncTransport``: the absolute URL,
the headers (credentials only for API requests, never for presigned URLs), the time limits,
the rate limit, and the retries. What an attempt's open response means is decided by a *step*
function the caller hands in; the step answers with a value (done), ``Retry`` (wait and try
again) or ``Follow`` (send another request at once, not counted as a retry). A value that is a
``Held`` keeps the response open for the caller (a stream); any other answer, or an exception,
closes it. ``send()`` is the step for API calls: read the body whole, within
``max_response_bytes``, and decode it with a pure ``_wire.decipher_*`` function; downloads and
streams bring steps of their own (``_stream``).

Time: a number given as ``timeout`` bounds an API call's whole attempt and a content
transfer's connecting and each wait for bytes (``_timeout``). A ``deadline`` bounds a whole
call, retries and waits included (``deadline_scope``); a retry whose wait would end past it is
not attempted, and the last failure is raised at once.

Retried, while the budget lasts: ``APIConnectionError`` from the transport (GETs always, writes
only with an idempotency key, and only when the caller can resend the body), the policy's
statuses, and on GETs a complete 2xx body that does not decode. A ``Retry-After`` longer than
the policy's ``max_wait`` raises at once. Sleep and clock are injected, so tests wait for no
one. This module never imports aiohttp; the token lives in one header value and is never
logged or formatted into a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Generic, TypeVar

from ._retry import RetryPolicy
from ._seam import AsyncTransport, HTTPRequest, HTTPResponse
from ._timeout import Timeout, TimeoutSetting, for_api, for_transfer
from ._wire import Request, Response, error_from_response, parse_retry_after
from .errors import (
    APIConnectionError,
    APITimeoutError,
    ClientClosedError,
    InvalidResponseError,
    QoderError,
)

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "Follow",
    "Held",
    "RateLimiter",
    "Retry",
    "Sender",
    "deadline_scope",
    "new_request_id",
    "read_body",
]

T = TypeVar("T")

logger = logging.getLogger("qoder_files")

DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024
"""The largest API response body read into memory (after decompression)."""

_REQUEST_ID = "x-request-id"
_IDEMPOTENCY_KEY = "Idempotency-Key"
_urandom = os.urandom

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


def new_request_id() -> str:
    """A random (version 4) UUID in its usual text form, the id every attempt of a request carries.

    The same value as ``str(uuid.uuid4())``, built in a third of the time: this runs once per
    page of a listing.
    """
    h = _urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


class RateLimiter:
    """A token bucket shared by every request of one client.

    Holds at most ``rate`` tokens (one second of burst, at least one); each attempt takes one,
    and waits the returned seconds when the bucket was empty. Callers reserve in arrival order
    without a lock, which is safe because everything runs on one event loop. Pure arithmetic
    over an injected clock: it never sleeps itself.
    """

    def __init__(self, rate: float, *, clock: Clock) -> None:
        self._rate = rate
        self._capacity = max(1.0, rate)
        self._tokens = self._capacity
        self._clock = clock
        self._stamp = clock()

    def reserve(self) -> float:
        """Take one token; return the seconds to wait before sending (0 when one was there)."""
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        self._tokens -= 1.0
        return -self._tokens / self._rate if self._tokens < 0 else 0.0


class Retry:
    """A step's answer: this attempt failed in a way worth another try.

    Attributes:
        error: What to raise when no retry is left (or the wait is beyond ``max_wait``).
        reason: A few words for the log line.
        wait: The server's ``Retry-After`` in seconds, or ``None`` for the backoff.
    """

    __slots__ = ("error", "reason", "wait")

    def __init__(self, error: QoderError, reason: str, wait: float | None = None) -> None:
        self.error = error
        self.reason = reason
        self.wait = wait


class Follow:
    """A step's answer: send ``request`` next, at once and without counting a retry."""

    __slots__ = ("request",)

    def __init__(self, request: Request) -> None:
        self.request = request


class Held:
    """Base of a step's answer that owns the attempt's open response: the loop leaves it open.

    Whoever receives it must close the response (a stream does, when its block ends).
    """

    __slots__ = ()


@contextlib.asynccontextmanager
async def deadline_scope(deadline: float | None, what: str) -> AsyncIterator[float | None]:
    """Bound the block to ``deadline`` seconds; yield the loop time it ends at (or ``None``).

    Whatever is under way when it passes is cancelled, and ``APITimeoutError`` raised.
    """
    if deadline is None:
        yield None
        return
    scope = asyncio.timeout(deadline)
    try:
        async with scope:
            yield scope.when()
    except TimeoutError:
        if not scope.expired():
            raise
        raise APITimeoutError(f"{what}: not done within the deadline of {deadline:g} s") from None


async def read_body(response: HTTPResponse, limit: int, request: Request, request_id: str) -> bytes:
    """The whole body of ``response``, or ``InvalidResponseError`` when it exceeds ``limit``."""
    body = await response.read(limit)
    if len(body) > limit:
        raise InvalidResponseError(
            f"{describe(request)}: the response body is larger than {limit} bytes "
            "(max_response_bytes); nothing of it was kept",
            status_code=response.status,
            request_id=request_id,
        )
    return body


def describe(request: Request) -> str:
    """``METHOD path`` for messages and logs (a presigned URL is never shown)."""
    return f"{request.method} {request.path or 'presigned URL'}"


class _Decode(Generic[T]):
    """The step of an API call: read the body whole, then retry, or decode it."""

    __slots__ = ("decode", "limit", "request_id", "retry_statuses")

    def __init__(
        self,
        decode: Callable[[Response], T],
        limit: int,
        retry_statuses: frozenset[int],
        request_id: str,
    ) -> None:
        self.decode = decode
        self.limit = limit
        self.retry_statuses = retry_statuses
        self.request_id = request_id

    async def __call__(self, request: Request, response: HTTPResponse) -> T | Retry:
        body = await read_body(response, self.limit, request, self.request_id)
        answer = Response(
            status=response.status, headers=response.headers, body=body, request_id=self.request_id
        )
        if answer.status in self.retry_statuses:
            error = error_from_response(answer)
            return Retry(error, f"status {answer.status}", parse_retry_after(answer.headers))
        try:
            return self.decode(answer)
        except InvalidResponseError as exc:
            if request.method != "GET":
                raise
            return Retry(exc, exc.message)


class Sender:
    """Sends ``Request`` values through a transport, with the client's retry budget.

    Args:
        base_url: The API root (requests carry a path relative to it).
        token: The bearer token, sent on API requests only.
        transport: Where API requests go.
        content_transport: Where presigned (external) requests go; ``transport`` by default.
        user_agent: The ``User-Agent`` header value.
        timeout: Default time limits per attempt (seconds or a ``Timeout``).
        max_retries: Default retries per request.
        retry: The backoff and ``Retry-After`` policy.
        rate_limit: Requests per second for everything sent, or ``None``.
        default_headers: Extra headers for API requests.
        max_response_bytes: The largest API response body read.
        sleep: How to wait (``asyncio.sleep``; tests pass a recorder).
        clock: Monotonic seconds, for the rate limit.
        rng: The random source of the backoff jitter.
    """

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        transport: AsyncTransport,
        content_transport: AsyncTransport | None = None,
        user_agent: str,
        timeout: TimeoutSetting,
        max_retries: int,
        retry: RetryPolicy,
        rate_limit: float | None = None,
        default_headers: Mapping[str, str] | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.transport = transport
        self.content_transport = transport if content_transport is None else content_transport
        self.timeout = timeout
        self.max_retries = max_retries
        self.retry = retry
        self.max_response_bytes = max_response_bytes
        self.sleep = sleep
        self._limiter = RateLimiter(rate_limit, clock=clock) if rate_limit else None
        self._rng = rng or random.Random()
        self._closed = False
        self._user_agent = user_agent
        # Merged case-insensitively, the caller's defaults winning over ours, except for the
        # headers this class owns: one Authorization, one request id, one idempotency key.
        merged: dict[str, tuple[str, str]] = {}
        ours = {"Accept": "application/json", "User-Agent": user_agent}
        for name, value in (*ours.items(), *(default_headers or {}).items()):
            merged[name.lower()] = (name, value)
        for owned in (_REQUEST_ID, "authorization", _IDEMPOTENCY_KEY.lower()):
            merged.pop(owned, None)
        self._api_headers = dict(merged.values())
        self._api_headers["Authorization"] = f"Bearer {token}"

    @property
    def closed(self) -> bool:
        """Whether ``aclose()`` was called."""
        return self._closed

    async def aclose(self) -> None:
        """Close the transports (idempotent)."""
        self._closed = True
        await self.transport.aclose()
        if self.content_transport is not self.transport:
            await self.content_transport.aclose()

    def backoff(self, retry: int) -> float:
        """Seconds before retry number ``retry`` (1-based), with full jitter."""
        return self.retry.backoff(retry, self._rng)

    def _http_request(self, request: Request, request_id: str, limits: Timeout) -> HTTPRequest:
        if request.url is not None:
            # Leaving the API (a presigned URL): no token and no caller default headers.
            return HTTPRequest(
                method=request.method,
                url=request.url,
                headers={"User-Agent": self._user_agent},
                timeout=limits,
                external=True,
            )
        headers = {**self._api_headers, _REQUEST_ID: request_id}
        if request.idempotency_key is not None:
            headers[_IDEMPOTENCY_KEY] = request.idempotency_key
        if request.headers:
            headers.update(request.headers)
        if request.form is not None:
            for field in request.form:
                rewind = getattr(field.value, "seek", None)
                if rewind is not None:
                    rewind(0)  # a retry re-sends the whole file
        return HTTPRequest(
            method=request.method,
            url=self.base_url + request.path,
            params=request.params,
            headers=headers,
            form=request.form,
            timeout=limits,
        )

    async def send(
        self,
        request: Request,
        decode: Callable[[Response], T],
        *,
        timeout: TimeoutSetting | None = None,
        max_retries: int | None = None,
        deadline: float | None = None,
        end: float | None = None,
        can_resend: Callable[[], bool] | None = None,
    ) -> T:
        """Send an API request and return ``decode(response)`` of its complete answer.

        ``deadline`` bounds this call; ``end`` is the loop time of an enclosing call's
        deadline, which this one must not sleep past.
        """
        request_id = new_request_id()
        step = _Decode(decode, self.max_response_bytes, self.retry.retry_statuses, request_id)
        if deadline is None:  # the common case, once per page of a listing: no scope to enter
            return await self.run(
                request,
                step,
                request_id=request_id,
                timeout=timeout,
                max_retries=max_retries,
                end=end,
                can_resend=can_resend,
            )
        async with deadline_scope(deadline, describe(request)) as own_end:
            return await self.run(
                request,
                step,
                request_id=request_id,
                timeout=timeout,
                max_retries=max_retries,
                end=min((t for t in (own_end, end) if t is not None), default=None),
                can_resend=can_resend,
            )

    async def run(
        self,
        request: Request,
        step: Callable[[Request, HTTPResponse], Awaitable[T | Retry | Follow]],
        *,
        request_id: str | None = None,
        timeout: TimeoutSetting | None = None,
        max_retries: int | None = None,
        can_resend: Callable[[], bool] | None = None,
        end: float | None = None,
    ) -> T:
        """The retry loop: send ``request``, let ``step`` read each attempt's open response.

        ``can_resend`` is asked before any retry: a download whose sink cannot be rewound,
        or an upload whose one-pass source has started, answers ``False`` and the failure is
        raised. ``end`` is the loop time of the call's deadline: a retry whose wait would
        end past it is not attempted.
        """
        if self._closed:
            raise ClientClosedError("this client is closed")
        request_id = request_id or new_request_id()
        retries = self.max_retries if max_retries is None else max_retries
        setting = self.timeout if timeout is None else timeout
        api_limits = for_api(setting)
        transfer_limits = for_transfer(setting)
        debug = logger.isEnabledFor(logging.DEBUG)
        retry = 0
        while True:
            can_retry = request.retry_safe and retry < retries
            transport = self.transport if request.url is None else self.content_transport
            transfer = request.url is not None or request.form is not None
            limits = transfer_limits if transfer else api_limits
            if self._limiter is not None and (pause := self._limiter.reserve()) > 0:
                await self.sleep(pause)
            started = time.perf_counter() if debug else 0.0
            wait: float | None = None
            try:
                response = await transport.handle(self._http_request(request, request_id, limits))
                held = False
                try:
                    if debug:
                        logger.debug(
                            "%s -> %d in %.1f ms (attempt %d, request id %s)",
                            describe(request),
                            response.status,
                            (time.perf_counter() - started) * 1000,
                            retry + 1,
                            request_id,
                        )
                    outcome = await step(request, response)
                    held = isinstance(outcome, Held)
                finally:
                    if not held:
                        await response.aclose()
            except APIConnectionError as exc:
                error: QoderError = type(exc)(
                    f"{describe(request)}: {exc.message}", request_id=request_id
                )
                if not can_retry or (can_resend is not None and not can_resend()):
                    raise error from None
                reason = exc.message
            else:
                if type(outcome) is Follow:
                    request = outcome.request
                    continue
                if type(outcome) is not Retry:
                    return outcome  # type: ignore[return-value]
                error = outcome.error
                if (
                    not can_retry
                    or (outcome.wait is not None and outcome.wait > self.retry.max_wait)
                    or (can_resend is not None and not can_resend())
                ):
                    raise error
                wait, reason = outcome.wait, outcome.reason
            retry += 1
            if wait is None:
                wait = self.backoff(retry)
            if end is not None and asyncio.get_running_loop().time() + wait >= end:
                raise error  # the deadline would pass while waiting: the real failure says more
            logger.info(
                "retrying %s in %.2f s after %s (retry %d of %d, request id %s)",
                describe(request),
                wait,
                reason,
                retry,
                retries,
                request_id,
            )
            await self.sleep(wait)
