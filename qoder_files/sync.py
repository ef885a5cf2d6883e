"""``Client``: the blocking twin of ``AsyncClient``, over one private event loop per client.

Each ``Client`` owns an event loop running on a daemon thread (the portal pattern), started on
first use and kept for the client's whole life, so the pooled aiohttp session is created, used
and closed on one loop. A blocking method submits the ``AsyncClient`` coroutine of the same
name to that loop and waits; the forwarding is generic (``_blocking`` and ``_paging``), so no
method body exists twice. A ``SyncPager`` iterating a listing has a task on the loop pass it
the pages over a queue (``_Pump``), at most one waiting, and hands their items out on the
caller's thread.

Rules this module keeps: callers may already run an event loop of their own (Jupyter); many
threads may share one client; a call made from the client's own loop thread raises
``RuntimeError`` instead of deadlocking; Ctrl-C cancels the call in flight and leaves the client
usable; after ``os.fork()`` the child gets a fresh loop and session on first use and never
touches the parent's. This module never speaks HTTP itself.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import inspect
import os
import queue
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from types import TracebackType
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, cast

import aiohttp

from ._retry import RetryPolicy
from .client import AsyncClient
from .models import File, Page

__all__ = ["Client", "SyncPager"]

P = ParamSpec("P")
R = TypeVar("R")

_CANCEL_GRACE = 5.0  # seconds an interrupted call may take to unwind on the loop
_JOIN_TIMEOUT = 10.0  # seconds close() waits for the loop thread to finish

_RUNNERS: weakref.WeakSet[_Runner] = weakref.WeakSet()
# What a forked child inherited from its parent: loops, sessions and sockets it must neither use
# nor let the garbage collector finalize (that would unregister the parent's sockets from the
# epoll instance both processes share). Kept alive, untouched, for the child's life.
_FORK_ORPHANS: list[object] = []
# Tasks started from the loop thread itself with nobody waiting; the loop holds tasks weakly.
_DETACHED: set[asyncio.Task[None]] = set()


class _Call(Generic[R]):
    """One coroutine submitted from another thread, settled into a ``concurrent`` future."""

    __slots__ = ("_coro", "_task", "future")

    def __init__(self, coro: Coroutine[Any, Any, R]) -> None:
        self._coro = coro
        self._task: asyncio.Task[R] | None = None
        self.future: concurrent.futures.Future[R] = concurrent.futures.Future()

    def start(self) -> None:
        """Run on the loop: start the task, unless the caller gave up before it began."""
        if not self.future.set_running_or_notify_cancel():
            self._coro.close()
            return
        self._task = asyncio.get_running_loop().create_task(self._coro)
        self._task.add_done_callback(self._settle)

    def _settle(self, task: asyncio.Task[R]) -> None:
        if task.cancelled():
            self.future.set_exception(RuntimeError("the call was cancelled: the Client closed"))
        elif (exc := task.exception()) is not None:
            self.future.set_exception(exc)
        else:
            self.future.set_result(task.result())

    def cancel(self) -> None:
        """Run on the loop, once ``start`` has run: cancel the task."""
        assert self._task is not None  # the future was running, so start() made the task
        self._task.cancel()


class _Portal:
    """An event loop on a daemon thread, and a blocking ``call()`` into it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._closing = False
        self.thread = threading.Thread(target=self._run, name="qoder-files-client", daemon=True)
        self.thread.start()

    def in_loop_thread(self) -> bool:
        """Whether the current thread is the one running this portal's loop."""
        return threading.get_ident() == self.thread.ident

    def _check_usable(self) -> None:
        if os.getpid() != self._pid:
            raise RuntimeError("this event loop belongs to the parent process")
        if self.in_loop_thread():
            raise RuntimeError(
                "a blocking Client method was called from the Client's own event loop thread; "
                "use AsyncClient inside async code"
            )

    def call(self, coro: Coroutine[Any, Any, R]) -> R:
        """Run ``coro`` on the loop and wait for its outcome. Ctrl-C cancels it."""
        job = _Call(coro)
        with self._lock:
            if self._closing:
                coro.close()
                raise RuntimeError("this Client is closed")
            self.loop.call_soon_threadsafe(job.start)
        try:
            return job.future.result()
        except BaseException:
            # Finished (its own exception, or an interrupt that came too late), or not begun:
            # nothing runs on the loop any more.
            if job.future.done() or job.future.cancel():
                raise
            # Interrupted while the coroutine runs: cancel it and let it unwind, so the
            # session and any pager are left in a clean state for the next call.
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(job.cancel)
            concurrent.futures.wait([job.future], timeout=_CANCEL_GRACE)
            raise

    def detach(self, coro: Coroutine[Any, Any, None]) -> None:
        """From the loop thread only: run ``coro`` as a task nobody waits for."""
        if self.loop.is_closed():  # collected on this thread after the loop ended
            coro.close()
            return
        task = self.loop.create_task(coro)
        _DETACHED.add(task)
        task.add_done_callback(_DETACHED.discard)

    def stop(self) -> None:
        """Stop the loop (remaining tasks are cancelled) and join the thread."""
        if os.getpid() != self._pid:
            return
        if self.in_loop_thread():
            self.loop.stop()
            return
        with contextlib.suppress(RuntimeError):  # already closed
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(_JOIN_TIMEOUT)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            with self._lock:
                self._closing = True
            self.loop.run_until_complete(_cancel_remaining())
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
            self.loop.close()


async def _cancel_remaining() -> None:
    # Calls queued just before the loop stopped start first (FIFO), then are cancelled here,
    # so no caller is left waiting for a loop that is gone.
    tasks = asyncio.all_tasks() - {asyncio.current_task()}
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _then_stop(portal: _Portal, coro: Coroutine[Any, Any, None]) -> None:
    try:
        await coro
    finally:
        portal.stop()


class _Runner:
    """Everything a ``Client`` owns, so that its finalizer never references the ``Client``."""

    def __init__(self, make_client: Callable[[], AsyncClient]) -> None:
        self._make_client = make_client
        self.client = make_client()
        self._portal: _Portal | None = None
        self._lock = threading.Lock()
        self._closed = False
        _RUNNERS.add(self)

    def enter(self) -> tuple[_Portal, AsyncClient]:
        """The running portal (started on first use) and the async client to call there."""
        with self._lock:
            if self._closed:
                raise RuntimeError("this Client is closed")
            if self._portal is None:
                self._portal = _Portal()
            portal, client = self._portal, self.client
        portal._check_usable()
        return portal, client

    def call(
        self,
        method: Callable[Concatenate[AsyncClient, P], Coroutine[Any, Any, R]],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        """Run ``method(client, *args, **kwargs)`` on the loop and wait for it."""
        portal, client = self.enter()
        return portal.call(method(client, *args, **kwargs))

    def close(self) -> None:
        """Close the async client on the loop, then stop the loop. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            portal, self._portal = self._portal, None
        if portal is None:
            return
        if portal.in_loop_thread():  # collected on the loop thread itself: finish there
            portal.detach(_then_stop(portal, self.client.aclose()))
            return
        try:
            portal.call(self.client.aclose())
        finally:
            portal.stop()

    def after_fork_in_child(self) -> None:
        """Leave the parent's loop and session alone; the next call builds fresh ones."""
        self._lock = threading.Lock()
        if self._portal is not None:
            _FORK_ORPHANS.append((self._portal, self.client))
            self._portal = None
            self.client = self._make_client()


def _after_fork_in_child() -> None:
    for runner in list(_RUNNERS):
        runner.after_fork_in_child()


if hasattr(os, "register_at_fork"):  # pragma: no branch - absent only on Windows
    os.register_at_fork(after_in_child=_after_fork_in_child)


class _BatchSource(Protocol):
    """What a ``SyncPager`` needs from an async listing (``AsyncPager`` and bulk scans)."""

    def batches(self) -> AsyncIterator[list[File]]: ...  # pragma: no cover

    async def aclose(self) -> None: ...  # pragma: no cover


async def _next_batch(batches: AsyncIterator[list[File]]) -> list[File] | None:
    try:
        return await anext(batches)
    except StopAsyncIteration:
        return None


async def _next_page(pages: AsyncIterator[Page[File]]) -> Page[File] | None:
    try:
        return await anext(pages)
    except StopAsyncIteration:
        return None


async def _shut(source: _BatchSource, iterator: AsyncIterator[Any] | None) -> None:
    if iterator is not None:
        await iterator.aclose()  # type: ignore[attr-defined]
    await source.aclose()


def _close_source(
    portal: _Portal, source: _BatchSource, iterator: AsyncIterator[Any] | None = None
) -> None:
    if os.getpid() != portal._pid:  # a forked child: the pager belongs to the parent
        return
    if portal.in_loop_thread():
        portal.detach(_shut(source, iterator))
        return
    with contextlib.suppress(RuntimeError):  # the client is closed: its pagers are too
        portal.call(_shut(source, iterator))


class _Failure:
    """An exception on its way from the loop to the thread iterating a listing."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _release(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():  # cancelled with the pump meanwhile
        waiter.set_result(None)


class _Pump:
    """Moves one listing's batches from the client's loop to the thread that iterates it.

    A task on the loop pulls the batches and puts each on a queue that the caller's thread
    reads, so a page crosses threads with one wake-up (of whichever side is waiting) instead of
    a blocking call into the loop and back per page. Flow control keeps memory bounded: at
    most one batch waits on the queue, because the task takes the next batch from the listing
    only once the caller has taken the last one. It first waits for the page read ahead to
    arrive: a caller that keeps up has taken the last batch by then, so the task goes on
    without being woken; and it hands a batch over only once the next page's request is on the
    wire. A listing that the caller iterates thus holds the caller's page, at most one on the
    queue and one read ahead. A failure crosses the queue as the exception it is.
    """

    __slots__ = ("_batches", "_lock", "_portal", "_queue", "_queued", "_ready", "_task", "_waiter")

    def __init__(
        self,
        portal: _Portal,
        batches: AsyncIterator[list[File]],
        ready: Callable[[], Coroutine[Any, Any, None]] | None,
    ) -> None:
        self._portal = portal
        self._batches = batches
        self._ready = ready
        self._queue: queue.SimpleQueue[list[File] | _Failure | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._queued = 0  # batches put and not yet taken
        self._waiter: asyncio.Future[None] | None = None  # the task, waiting for the caller
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """On the loop: start the task."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    def _put(self, item: list[File] | _Failure | None) -> None:
        with self._lock:
            self._queued += 1
        self._queue.put(item)

    async def _run(self) -> None:
        try:
            while True:
                if self._ready is not None:
                    await self._ready()
                with self._lock:
                    waiter = None
                    if self._queued:
                        waiter = self._waiter = asyncio.get_running_loop().create_future()
                if waiter is not None:
                    await waiter
                batch = await _next_batch(self._batches)
                if batch is None:
                    self._put(None)
                    return
                # Let the page read ahead put its request on the wire first: once the caller
                # wakes, the two threads take turns at the GIL and the request would wait.
                await asyncio.sleep(0)
                self._put(batch)
        except Exception as exc:
            self._put(_Failure(exc))  # the caller raises it; nobody awaits this task
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):  # by close(), or the Client closing
                self._put(_Failure(RuntimeError("the call was cancelled: the Client closed")))
            else:
                self._put(_Failure(exc))
            raise

    def take(self) -> list[File] | None:
        """On the caller's thread: the next batch (``None`` at the end), waiting for it."""
        item = self._queue.get()
        with self._lock:
            self._queued -= 1
            waiter, self._waiter = self._waiter, None
        if waiter is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits now
                self._portal.loop.call_soon_threadsafe(_release, waiter)
        if isinstance(item, _Failure):
            raise item.error
        return item

    async def _stop(self, source: _BatchSource) -> None:
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait((task,))
        await _shut(source, self._batches)

    def close(self, source: _BatchSource) -> None:
        """Stop the task and close the listing (``_close_source``, with the task first)."""
        portal = self._portal
        if os.getpid() != portal._pid:  # a forked child: the pager belongs to the parent
            return
        if portal.in_loop_thread():
            portal.detach(self._stop(source))
            return
        with contextlib.suppress(RuntimeError):  # the client is closed: its pagers are too
            portal.call(self._stop(source))


class SyncPager:
    """Iterates a listing from blocking code, its pages crossing from the client's loop.

    Use it once, with ``for``, ``.pages()`` or ``.collect()``::

        for file in client.list_files(purpose="tool_output"):
            ...

    Leaving a ``for`` loop early (``break`` or an exception) closes the listing and cancels its
    read-ahead; so do ``close()``, ``with pager:`` and garbage collection. ``cursor`` is the id
    of the last item handed out (the starting cursor before any); pass it back as ``after=``
    (forward) or ``before=`` (backward) to a new listing to continue with exactly the next item.
    """

    def __init__(self, portal: _Portal, source: _BatchSource) -> None:
        self._portal = portal
        self._source = source
        self._cursor: str | None = getattr(source, "cursor", None)
        self._started = False
        self._finalizer = weakref.finalize(self, _close_source, portal, source)
        self._finalizer.atexit = False

    def __repr__(self) -> str:
        state = "closed" if not self._finalizer.alive else "open"
        return f"<SyncPager cursor={self._cursor!r} {state}>"

    @property
    def cursor(self) -> str | None:
        """Id of the last item handed out, or the starting cursor before any."""
        return self._cursor

    def _start(self) -> None:
        if self._started:
            raise RuntimeError("a pager can be iterated only once; start a new listing")
        self._started = True

    def __iter__(self) -> Iterator[File]:
        self._start()
        return self._items()

    def _items(self) -> Iterator[File]:
        source = self._source
        pump = _Pump(self._portal, source.batches(), getattr(source, "ahead_ready", None))
        try:
            self._portal.call(pump.start())
            while (batch := pump.take()) is not None:
                for item in batch:
                    self._cursor = item.file_id
                    yield item
        finally:
            self._finalizer.detach()
            pump.close(source)

    def pages(self) -> Iterator[Page[File]]:
        """Yield the server's pages as sent (``data`` newest first), in the order fetched.

        Raises:
            TypeError: this listing does not hand out pages (a merged bulk scan).
        """
        open_pages = getattr(self._source, "pages", None)
        if open_pages is None:
            raise TypeError(f"{type(self._source).__name__} does not hand out pages")
        self._start()
        return self._pages(cast("Callable[[], AsyncIterator[Page[File]]]", open_pages)())

    def _pages(self, pages: AsyncIterator[Page[File]]) -> Iterator[Page[File]]:
        try:
            while (page := self._portal.call(_next_page(pages))) is not None:
                self._cursor = getattr(self._source, "cursor", self._cursor)
                yield page
        finally:
            self._finalizer.detach()
            _close_source(self._portal, self._source, pages)

    def collect(self, *, unbounded: bool = False) -> list[File]:
        """All items in a list, in one call into the loop.

        Requires ``max_items`` on the listing, or ``unbounded=True``.

        Raises:
            ValueError: neither ``max_items`` nor ``unbounded=True`` was given.
        """
        if self._started:
            raise RuntimeError("a pager can be iterated only once; start a new listing")
        collect = getattr(self._source, "collect", None)
        if collect is None:
            raise TypeError(f"{type(self._source).__name__} cannot collect")
        try:
            files: list[File] = self._portal.call(collect(unbounded=unbounded))
        except ValueError:
            raise  # nothing was fetched: the pager is still unused
        except BaseException:
            self._started = True
            raise
        finally:
            self._cursor = getattr(self._source, "cursor", self._cursor)
        self._started = True
        return files

    def close(self) -> None:
        """Stop the listing and cancel its read-ahead; idempotent."""
        self._finalizer()

    def __enter__(self) -> SyncPager:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# How an async pager method's docstring reads for its blocking twin.
_SYNC_WORDING = (
    ("An ``AsyncPager``", "A ``SyncPager``"),
    ("An ``AsyncScan``", "A ``SyncPager``"),
    ("``async for``, ``.batches()``", "``for``"),
    ("AsyncPager", "SyncPager"),
    ("async for", "for"),
    ("async with", "with"),
)


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
    method: Callable[Concatenate[AsyncClient, P], _BatchSource],
) -> Callable[Concatenate[Client, P], SyncPager]:
    """Make the blocking twin of an ``AsyncClient`` method that returns an async pager."""

    def forward(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> SyncPager:
        portal, client = self._runner.enter()

        async def open_source() -> _BatchSource:
            # Built on the loop: pagers join the client's registry, which the loop also reads.
            return method(client, *args, **kwargs)

        return SyncPager(portal, portal.call(open_source()))

    _adopt(forward, method, returns="SyncPager")
    doc = forward.__doc__ or ""
    for old, new in _SYNC_WORDING:
        doc = doc.replace(old, new)
    forward.__doc__ = doc
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
        timeout: Seconds allowed for one attempt of one request.
        max_retries: How many times a failed request is retried (not counting the first try).
        rate_limit: Requests per second shared by everything this client sends, or ``None``.
        retry: Backoff and ``Retry-After`` settings; ``None`` for the defaults.
        default_headers: Extra headers sent with every API request (never to presigned URLs).
        session: Must be ``None``: an aiohttp session belongs to the event loop it was made on,
            and this client sends from its own private loop (use ``AsyncClient`` to borrow one).

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
        timeout: float = 30.0,
        max_retries: int = 2,
        rate_limit: float | None = None,
        retry: RetryPolicy | None = None,
        default_headers: dict[str, str] | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        if session is not None:
            raise ValueError(
                "session is not supported by the blocking Client, which sends from its own "
                "event loop; use AsyncClient(session=...) instead"
            )
        runner = _Runner(
            functools.partial(
                AsyncClient,
                token,
                base_url=base_url,
                timeout=timeout,
                max_retries=max_retries,
                rate_limit=rate_limit,
                retry=retry,
                default_headers=default_headers,
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

    list_files = _paging(AsyncClient.list_files)
    get_page = _blocking(AsyncClient.get_page)
    scan_files = _paging(AsyncClient.scan_files)
    get_file = _blocking(AsyncClient.get_file)
    upload_file = _blocking(AsyncClient.upload_file)
    get_download_url = _blocking(AsyncClient.get_download_url)
    download_file = _blocking(AsyncClient.download_file)
    delete_file = _blocking(AsyncClient.delete_file)
