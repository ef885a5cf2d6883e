"""``Client``: the blocking twin of ``AsyncClient``, over one private event loop per client.

This module owns ``Client`` and the generic forwarding that builds its methods from
``AsyncClient``'s: ``_blocking`` for coroutine methods, ``_paging`` for listings and
``_streaming`` for file streams, so no method body exists twice and each blocking method
carries its async twin's signature and docstring. The event loop and thread (the portal,
``_portal``), the blocking iteration of listings (``SyncPager`` and ``SyncScan``, ``_bridge``)
and of file content (``SyncFileStream``, ``_sync_stream``) live in modules of their own.

Rules this module keeps: callers may already run an event loop of their own (Jupyter); many
threads may share one client; a call made from the client's own loop thread raises
``RuntimeError`` instead of deadlocking; Ctrl-C cancels the call in flight and leaves the client
usable; after ``os.fork()`` the child gets a fresh loop and session on first use and never
touches the parent's. This module never speaks HTTP itself.
"""

from __future__ import annotations

import functools
import inspect
import weakref
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from ._bridge import BatchSource, SyncPager, SyncScan
from ._portal import Portal, Runner
from ._public import publish
from ._retry import RetryPolicy
from ._seam import AsyncTransport
from ._sender import DEFAULT_MAX_RESPONSE_BYTES
from ._stream import AsyncFileStream
from ._sync_stream import SyncFileStream
from ._timeout import Timeout
from .client import AsyncClient

if TYPE_CHECKING:
    import aiohttp

__all__ = ["Client", "SyncFileStream", "SyncPager", "SyncScan"]

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S", bound=BatchSource)
L = TypeVar("L", SyncPager, SyncScan)


# How an async pager or stream method's docstring reads for its blocking twin.
_SYNC_WORDING = (
    ("An ``AsyncPager``", "A ``SyncPager``"),
    ("An ``AsyncScan``", "A ``SyncScan``"),
    ("An ``AsyncFileStream``", "A ``SyncFileStream``"),
    ("``async for``, ``.batches()``", "``for``"),
    ("AsyncPager", "SyncPager"),
    ("AsyncScan", "SyncScan"),
    ("AsyncFileStream", "SyncFileStream"),
    ("async for", "for"),
    ("async with", "with"),
    ("an async context manager", "a context manager"),
)


def _reword(forward: Callable[..., Any]) -> None:
    doc = forward.__doc__ or ""
    for old, new in _SYNC_WORDING:
        doc = doc.replace(old, new)
    forward.__doc__ = doc


def _adopt(forward: Callable[..., Any], method: Callable[..., Any], *, returns: str = "") -> None:
    """Give ``forward`` the name, docstring and signature of ``method``, as a ``Client`` method.

    The signature is set explicitly and ``__wrapped__`` removed, so that ``inspect`` and
    documentation tools describe a blocking method of ``Client``, not the coroutine it runs.
    """
    functools.update_wrapper(forward, method)
    del forward.__wrapped__  # type: ignore[attr-defined]
    forward.__qualname__ = f"Client.{method.__name__}"
    forward.__module__ = __name__
    signature = inspect.signature(method)
    if returns:
        signature = signature.replace(return_annotation=returns)
    forward.__signature__ = signature  # type: ignore[attr-defined]


def _blocking(
    method: Callable[Concatenate[AsyncClient, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[Client, P], R]:
    """Make the blocking twin of an ``AsyncClient`` coroutine method (docstring included)."""

    def forward(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._runner.call(method, *args, **kwargs)

    _adopt(forward, method)
    return forward


def _paging(
    method: Callable[Concatenate[AsyncClient, P], S],
    bridge: Callable[[Portal, S], L],
) -> Callable[Concatenate[Client, P], L]:
    """Make the blocking twin of an ``AsyncClient`` method that returns an async listing.

    ``bridge`` is the blocking type that iterates it: ``SyncPager`` or ``SyncScan``.
    """

    def forward(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> L:
        portal, client = self._runner.enter()

        async def open_source() -> S:
            # Built on the loop: pagers join the client's registry, which the loop also reads.
            return method(client, *args, **kwargs)

        return bridge(portal, portal.call(open_source()))

    _adopt(forward, method, returns=bridge.__name__)
    _reword(forward)
    return forward


def _streaming(
    method: Callable[Concatenate[AsyncClient, P], AsyncFileStream],
) -> Callable[Concatenate[Client, P], SyncFileStream]:
    """Make the blocking twin of an ``AsyncClient`` method that returns an ``AsyncFileStream``.

    The arguments are checked here, on the caller's thread; nothing touches the loop until
    the stream's block is entered.
    """

    def forward(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> SyncFileStream:
        portal, client = self._runner.enter()
        return SyncFileStream(portal, method(client, *args, **kwargs))

    _adopt(forward, method, returns="SyncFileStream")
    _reword(forward)
    return forward


class Client:
    """Blocking client for the Files API: the same arguments and methods as ``AsyncClient``.

    Every method runs the ``AsyncClient`` method of the same name on a private event loop (one
    daemon thread per client, started on first use) and waits for it. One ``Client`` may be
    shared by many threads, and it works where an event loop already runs (Jupyter).

    Args:
        token: A personal access token (``pt-…``). Defaults to the ``QODER_PAT`` environment
            variable.
        base_url: The API root. Defaults to ``QODER_BASE_URL``, then
            ``https://openapi.qoder.sh/api/v1/cloud``. Plain ``http`` only to loopback hosts.
        timeout: Time limits of one attempt of one request: seconds, or a ``Timeout``. Seconds
            bound an API call's whole attempt, and a content transfer's connecting and each
            wait for bytes (never the whole transfer).
        max_retries: How many times a failed request is retried (not counting the first try).
        rate_limit: Requests per second shared by everything this client sends, or ``None``.
        retry: Backoff and ``Retry-After`` settings; ``None`` for the defaults.
        default_headers: Extra headers sent with every API request (never to presigned URLs).
        session: Must be ``None``: an aiohttp session belongs to the event loop it was made on,
            and this client sends from its own private loop (use ``AsyncClient`` to borrow one).
        proxy: A proxy URL for every request, downloads included; ``None`` honours
            ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY``.
        max_response_bytes: The largest API response body read into memory (32 MiB).
        transport: An ``AsyncTransport`` (such as ``qoder_files.testing.MockTransport``) to
            send every request through; it runs on this client's private loop.
        api_generation: ``"auto"`` (learn it from the server), ``"g1"`` or ``"g3"``; see the
            "API generations" page.

    Raises:
        ValueError: the token is missing or blank, or another argument is invalid.

    Example::

        with Client() as client:
            for file in client.list_files(purpose="tool_output", max_items=10):
                print(file.file_id, file.filename)
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | Timeout = 30.0,
        max_retries: int = 2,
        rate_limit: float | None = None,
        retry: RetryPolicy | None = None,
        default_headers: dict[str, str] | None = None,
        session: aiohttp.ClientSession | None = None,
        proxy: str | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        transport: AsyncTransport | None = None,
        api_generation: str = "auto",
    ) -> None:
        if session is not None:
            raise ValueError(
                "session is not supported by the blocking Client, which sends from its own "
                "event loop; use AsyncClient(session=...) instead"
            )
        runner: Runner[AsyncClient] = Runner(
            functools.partial(
                AsyncClient,
                token,
                base_url=base_url,
                timeout=timeout,
                max_retries=max_retries,
                rate_limit=rate_limit,
                retry=retry,
                default_headers=default_headers,
                proxy=proxy,
                max_response_bytes=max_response_bytes,
                transport=transport,
                api_generation=api_generation,
            )
        )
        self._runner = runner
        self._finalizer = weakref.finalize(self, runner.close)

    def __repr__(self) -> str:
        return f"<Client base_url={self.base_url!r} token={self._runner.client._masked_token!r}>"

    @property
    def base_url(self) -> str:
        """The API root this client talks to."""
        return self._runner.client.base_url

    def close(self) -> None:
        """Close the HTTP session and stop the event loop thread. Idempotent."""
        self._finalizer()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    list_files = _paging(AsyncClient.list_files, SyncPager)
    get_page = _blocking(AsyncClient.get_page)
    scan_files = _paging(AsyncClient.scan_files, SyncScan)
    get_file = _blocking(AsyncClient.get_file)
    upload_file = _blocking(AsyncClient.upload_file)
    get_download_url = _blocking(AsyncClient.get_download_url)
    download_file = _blocking(AsyncClient.download_file)
    stream_file = _streaming(AsyncClient.stream_file)
    delete_file = _blocking(AsyncClient.delete_file)
    delete_files = _blocking(AsyncClient.delete_files)
    mirror = _blocking(AsyncClient.mirror)
    sync_inventory = _blocking(AsyncClient.sync_inventory)


# Exported from ``qoder_files``: tracebacks, reprs and the reference show that path.
publish("qoder_files", globals(), ["Client"])
