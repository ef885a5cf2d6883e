"""The page bridge: blocking iteration over an async listing that runs on a portal's loop.

``SyncPager`` wraps an ``AsyncPager`` and ``SyncScan`` an ``AsyncScan``. What each needs from
its async source is declared as a protocol (``PageSource`` and ``BatchSource``), so mypy
checks both ends: a scan, which has no pages of its own, gets a type without ``pages()``.
Items cross threads through ``Pump``: a task on the loop pulls the source's batches and puts
them on a queue that the iterating thread reads.

Rules this module keeps: a listing crosses into the loop once per page, never once per item;
at most one batch waits on the queue, so a listing holds the caller's page, one waiting and
one read ahead; a failure on the loop reaches the caller as the exception it is, after the
batches before it; leaving a ``for`` loop early, ``close()``, ``with`` and garbage collection
all close the source and cancel its read-ahead; a listing is iterated once; a forked child
never touches its parent's listings. This module never speaks HTTP itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine, Iterator
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar

from ._convert import object_id
from ._portal import Portal
from ._public import publish
from .errors import ClientClosedError
from .models import File, Page

__all__ = ["BatchSource", "PageSource", "Pump", "SyncPager", "SyncScan"]


class BatchSource(Protocol):
    """What a ``SyncScan`` needs from an async listing; ``AsyncScan`` offers this much."""

    def batches(self) -> AsyncGenerator[list[File], None]:
        """Each batch of items in output order; the source is used once."""
        ...  # pragma: no cover

    async def collect(self, *, unbounded: bool = False) -> list[File]:
        """All items in a list (``ValueError`` when unbounded without ``unbounded=True``)."""
        ...  # pragma: no cover

    async def aclose(self) -> None:
        """Stop the listing and cancel its requests in flight; idempotent."""
        ...  # pragma: no cover


class PageSource(BatchSource, Protocol):
    """What a ``SyncPager`` needs from an async listing; ``AsyncPager`` offers it."""

    @property
    def cursor(self) -> str | None:
        """The resume point: id of the last item handed out, or the starting cursor."""
        ...  # pragma: no cover

    async def ahead_ready(self) -> None:
        """Wait until the page read ahead, if any, has arrived, without taking it."""
        ...  # pragma: no cover

    def pages(self) -> AsyncGenerator[Page[File], None]:
        """The server's pages as sent, in the order fetched."""
        ...  # pragma: no cover

    def json_batches(self) -> AsyncGenerator[list[dict[str, Any]], None]:
        """Each page's files as the server's JSON objects, in the order of travel."""
        ...  # pragma: no cover


S = TypeVar("S", bound=BatchSource)
B = TypeVar("B")


async def _next_batch(batches: AsyncIterator[B]) -> B | None:
    try:
        return await anext(batches)
    except StopAsyncIteration:
        return None


async def _next_page(pages: AsyncIterator[Page[File]]) -> Page[File] | None:
    try:
        return await anext(pages)
    except StopAsyncIteration:
        return None


async def _shut(source: BatchSource, iterator: AsyncGenerator[Any, None] | None) -> None:
    if iterator is not None:
        await iterator.aclose()
    await source.aclose()


def _close_source(
    portal: Portal, source: BatchSource, iterator: AsyncGenerator[Any, None] | None = None
) -> None:
    if portal.forked():  # a forked child: the listing belongs to the parent
        return
    if portal.in_loop_thread():
        portal.detach(_shut(source, iterator))
        return
    with contextlib.suppress(RuntimeError):  # the client is closed: its listings are too
        portal.call(_shut(source, iterator))


class _Failure:
    """An exception on its way from the loop to the thread iterating a listing."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _release(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():  # cancelled with the pump meanwhile
        waiter.set_result(None)


class Pump(Generic[B]):
    """Moves one listing's batches from the client's loop to the thread that iterates it.

    A task on the loop pulls the batches and puts each on a queue that the caller's thread
    reads, so a page crosses threads with one wake-up (of whichever side is waiting) instead of
    a blocking call into the loop and back per page. Flow control keeps memory bounded: at
    most one batch waits on the queue, because the task takes the next batch from the listing
    only once the caller has taken the last one. It first waits for the page read ahead to
    arrive (``ready``, when the source reads ahead): a caller that keeps up has taken the last
    batch by then, so the task goes on without being woken; and it hands a batch over only
    once the next page's request is on the wire. A listing that the caller iterates thus holds
    the caller's page, at most one on the queue and one read ahead. A failure crosses the
    queue as the exception it is. (A file stream's chunks cross the same way, as batches.)
    """

    __slots__ = ("_batches", "_lock", "_portal", "_queue", "_queued", "_ready", "_task", "_waiter")

    def __init__(
        self,
        portal: Portal,
        batches: AsyncIterator[B],
        ready: Callable[[], Coroutine[Any, Any, None]] | None,
    ) -> None:
        self._portal = portal
        self._batches = batches
        self._ready = ready
        self._queue: queue.SimpleQueue[B | _Failure | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._queued = 0  # batches put and not yet taken
        self._waiter: asyncio.Future[None] | None = None  # the task, waiting for the caller
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """On the loop: start the task."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    def _put(self, item: B | _Failure | None) -> None:
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
                self._put(_Failure(ClientClosedError("the call was cancelled: the Client closed")))
            else:
                self._put(_Failure(exc))
            raise

    def take(self) -> B | None:
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

    async def _stop(self, finish: Callable[[], Coroutine[Any, Any, None]]) -> None:
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait((task,))
        await finish()

    def close(self, finish: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Stop the task, then run ``finish()`` on the loop (which closes the source)."""
        portal = self._portal
        if portal.forked():  # a forked child: the listing belongs to the parent
            return
        if portal.in_loop_thread():
            portal.detach(self._stop(finish))
            return
        with contextlib.suppress(RuntimeError):  # the client is closed: its listings are too
            portal.call(self._stop(finish))


class _Listing(Generic[S]):
    """What ``SyncPager`` and ``SyncScan`` share: items, ``collect()``, ``cursor``, closing."""

    def __init__(self, portal: Portal, source: S) -> None:
        self._portal = portal
        self._source = source
        self._cursor: str | None = None
        self._cursor = self._resume_point()
        self._started = False
        self._finalizer = weakref.finalize(self, _close_source, portal, source)
        self._finalizer.atexit = False

    def _resume_point(self) -> str | None:
        """Where the source says the caller may resume; the last item handed out by default."""
        return self._cursor

    def _ready(self) -> Callable[[], Coroutine[Any, Any, None]] | None:
        """What the pump awaits before taking a batch; ``None`` for a source without read-ahead."""
        return None

    def __repr__(self) -> str:
        state = "closed" if not self._finalizer.alive else "open"
        return f"<{type(self).__name__} cursor={self._cursor!r} {state}>"

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
        for batch in self._batches():
            for item in batch:
                self._cursor = item.file_id
                yield item

    def batches(self) -> Iterator[list[File]]:
        """Yield each page's items as one list, in the order of travel (``max_items`` applied).

        For callers that handle a page at a time, such as a writer that makes one write per
        page. ``cursor`` is the id of the last item of the batch handed out.
        """
        self._start()
        return self._whole_batches()

    def _whole_batches(self) -> Iterator[list[File]]:
        for batch in self._batches():
            if batch:
                self._cursor = batch[-1].file_id
            yield batch

    def _batches(self, batches: AsyncGenerator[list[Any], None] | None = None) -> Iterator[Any]:
        source = self._source
        if batches is None:
            batches = source.batches()
        pump = Pump(self._portal, batches, self._ready())
        try:
            self._portal.call(pump.start())
            while (batch := pump.take()) is not None:
                yield batch
        finally:
            self._finalizer.detach()
            pump.close(lambda: _shut(source, batches))

    def collect(self, *, unbounded: bool = False) -> list[File]:
        """All items in a list, in one call into the loop.

        Requires ``max_items`` on the listing, or ``unbounded=True``.

        Raises:
            ValueError: neither ``max_items`` nor ``unbounded=True`` was given.
        """
        if self._started:
            raise RuntimeError("a pager can be iterated only once; start a new listing")
        try:
            files = self._portal.call(self._source.collect(unbounded=unbounded))
        except ValueError:
            raise  # nothing was fetched: the pager is still unused
        except BaseException:
            self._started = True
            raise
        finally:
            self._cursor = self._resume_point()
        self._started = True
        return files

    def close(self) -> None:
        """Stop the listing and cancel its read-ahead; idempotent."""
        self._finalizer()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SyncPager(_Listing[PageSource]):
    """Iterates a listing from blocking code, its pages crossing from the client's loop.

    Returned by ``Client.list_files()``. Use it once, with ``for``, ``.pages()`` or
    ``.collect()``::

        for file in client.list_files(purpose="tool_output"):
            ...

    Leaving a ``for`` loop early (``break`` or an exception) closes the listing and cancels its
    read-ahead; so do ``close()``, ``with pager:`` and garbage collection. ``cursor`` is the id
    of the last item handed out (the starting cursor before any); pass it back as ``after=``
    (forward) or ``before=`` (backward) to a new listing to continue with exactly the next item.
    """

    def _resume_point(self) -> str | None:
        return self._source.cursor

    def _ready(self) -> Callable[[], Coroutine[Any, Any, None]]:
        return self._source.ahead_ready

    def json_batches(self) -> Iterator[list[dict[str, Any]]]:
        """Yield each page's files as the JSON objects the server sent, in the order of travel.

        The blocking twin of ``AsyncPager.json_batches()``: the same walk as ``batches()``,
        without building a ``File``. ``cursor`` is the id of the last object handed out.
        """
        self._start()
        return self._object_batches()

    def _object_batches(self) -> Iterator[list[dict[str, Any]]]:
        for batch in self._batches(self._source.json_batches()):
            if batch:
                self._cursor = object_id(batch[-1])
            yield batch

    def pages(self) -> Iterator[Page[File]]:
        """Yield the server's pages as sent (``data`` newest first), in the order fetched."""
        self._start()
        return self._pages(self._source.pages())

    def _pages(self, pages: AsyncGenerator[Page[File], None]) -> Iterator[Page[File]]:
        try:
            while (page := self._portal.call(_next_page(pages))) is not None:
                self._cursor = self._source.cursor
                yield page
        finally:
            self._finalizer.detach()
            _close_source(self._portal, self._source, pages)


class SyncScan(_Listing[BatchSource]):
    """Iterates a bulk scan from blocking code: every purpose at once, merged newest first.

    Returned by ``Client.scan_files()``. Use it once, with ``for`` or ``.collect()``::

        for file in client.scan_files(concurrency=5):
            ...

    A scan merges several listings, so it has no server pages to hand out. Leaving a ``for``
    loop early closes the scan and cancels every request in flight; so do ``close()``,
    ``with scan:`` and garbage collection. ``cursor`` is the id of the last item handed out.
    """


# Exported from ``qoder_files``: tracebacks, reprs and the reference show that path.
publish("qoder_files", globals(), ["SyncPager", "SyncScan"])
