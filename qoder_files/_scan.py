"""``AsyncScan``: one listing per purpose, run concurrently and merged newest first.

Fan-out: every purpose gets its own forward ``AsyncPager`` (with its one page of read-ahead);
``bounded()`` wraps their shared fetch in a semaphore, so at most ``concurrency`` requests are
in flight across all of them, retries and backoff included.

Merge: each purpose's current page is buffered, newest first. A purpose can only send items
older than the oldest one it has buffered (its tail), so the *horizon* is the newest of the
tails of the purposes that may still send more: every buffered item at or newer than it is
final and goes out in one sorted batch. The purpose whose tail set the horizon is drained by
that batch and refilled from its pager, whose next page is usually read ahead already. Items
are ordered by ``(created_at, file_id)``, both descending: the server's documented order.

Invariants: at most two pages per purpose are held (the buffer and the pager's read-ahead);
``max_items`` is exact; a failing purpose stops the scan with its own typed error; ``aclose()``
cancels every request in flight and waits until they are gone. This module never sends a
request itself: the pagers do.
"""

from __future__ import annotations

import asyncio
import itertools
import operator
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator, Sequence
from types import TracebackType
from typing import Any

from ._checks import check_max_items
from ._public import publish
from .errors import ClientClosedError
from .models import File, Page
from .pager import AsyncPager, Fetch, _retrieve

__all__ = ["AsyncScan", "bounded"]

_order_key = operator.attrgetter("created_at", "file_id")


def bounded(fetch: Fetch, concurrency: int) -> Fetch:
    """Wrap ``fetch`` so that at most ``concurrency`` calls run at once."""
    gate = asyncio.Semaphore(concurrency)

    async def limited(request: Any, *, objects: bool = False) -> Page[Any]:
        async with gate:
            return await (fetch(request, objects=True) if objects else fetch(request))

    return limited


async def _close(generator: AsyncGenerator[Any, None] | None) -> None:
    """Close ``generator`` unless a task is inside it: that task ends it by itself."""
    if generator is not None and not getattr(generator, "ag_running", False):
        await generator.aclose()


class _Items:
    """The scan's files one at a time, taken from its batches.

    A class, not an async generator: the event loop closes each garbage async generator in a
    task of its own, in no set order, and with two nested ones (this and ``_run``) both tasks
    could close ``_run`` at once, one failing with "aclose(): asynchronous generator is already
    running". An abandoned scan now leaves the loop one generator of its own to close.
    """

    __slots__ = ("_batch", "_batches")

    def __init__(self, batches: AsyncGenerator[list[File], None]) -> None:
        self._batches = batches
        self._batch: Iterator[File] = iter(())

    def __aiter__(self) -> _Items:
        return self

    async def __anext__(self) -> File:
        while (item := next(self._batch, None)) is None:
            self._batch = iter(await anext(self._batches))
        return item

    async def aclose(self) -> None:
        self._batch = iter(())
        await _close(self._batches)


class _Stream:
    """One purpose's pager, its batch iterator and the items buffered from it."""

    __slots__ = ("batches", "buffer", "done", "pager")

    def __init__(self, pager: AsyncPager) -> None:
        self.pager = pager
        self.batches: AsyncGenerator[list[File], None] | None = None
        self.buffer: list[File] = []
        self.done = False

    async def pull(self) -> None:
        """Refill ``buffer`` with the next non-empty page, or mark the stream ``done``."""
        if self.batches is None:
            self.batches = self.pager.batches()
        while True:
            items = await anext(self.batches, None)
            if items is None:
                self.done = True
                return
            if items:
                self.buffer = items
                return


def _merge(streams: list[_Stream]) -> list[File]:
    """Take every buffered item that no stream can still undercut, newest first.

    Every stream that is not done has a non-empty buffer, sorted newest first.
    """
    live = [s for s in streams if not s.done]
    if not live:
        return []
    if len(live) == 1:
        stream = live[0]
        batch, stream.buffer = stream.buffer, []
        return batch
    key = _order_key
    setter = max(live, key=lambda s: key(s.buffer[-1]))
    horizon = key(setter.buffer[-1])
    pieces: list[list[File]] = []
    for stream in live:
        buffer = stream.buffer
        if stream is setter:
            # Drained whole (even if a server sent it out of order), so the scan always advances.
            cut = len(buffer)
        else:
            cut = 0
            for item in buffer:
                if key(item) < horizon:
                    break
                cut += 1
            if not cut:
                continue
        pieces.append(buffer if cut == len(buffer) else buffer[:cut])
        stream.buffer = [] if cut == len(buffer) else buffer[cut:]
    if len(pieces) == 1:
        return pieces[0]
    batch = list(itertools.chain.from_iterable(pieces))
    batch.sort(key=key, reverse=True)
    return batch


class AsyncScan:
    """Iterates the files of several purposes at once, merged newest first.

    Built by ``AsyncClient.scan_files()``. Use it once, in one of three ways::

        async for file in client.scan_files():
            ...
        async for batch in client.scan_files().batches():  # lists, in output order
            ...
        files = await client.scan_files(max_items=5000).collect()

    ``break`` leaves read-ahead requests open until the scan is closed: use ``async with``,
    call ``aclose()``, or close the client.
    """

    def __init__(
        self,
        pagers: Sequence[AsyncPager],
        *,
        max_items: int | None = None,
        prepare: Callable[[], Awaitable[Sequence[AsyncPager] | None]] | None = None,
    ) -> None:
        self._streams = [_Stream(pager) for pager in pagers]
        self._prepare = prepare  # may swap the pagers for others before the first request
        self._max_items = check_max_items(max_items)
        self._fills: set[asyncio.Task[None]] = set()
        self._started = False
        self._closed = False
        self._batches: AsyncGenerator[list[File], None] | None = None
        self._iterator: _Items | None = None

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("started" if self._started else "new")
        return f"<AsyncScan purposes={len(self._streams)} {state}>"

    def _start(self) -> None:
        if self._started:
            raise RuntimeError("a scan can be iterated only once; start a new scan")
        self._started = True

    def batches(self) -> AsyncGenerator[list[File], None]:
        """Yield lists of files in output order (for bridges such as the sync facade).

        Each list is what the merge could release at once, usually about one page.
        """
        self._start()
        self._batches = self._run()
        return self._batches

    def __aiter__(self) -> AsyncIterator[File]:
        if self._iterator is None:
            self._start()
            self._batches = self._run()
            self._iterator = _Items(self._batches)
        return self._iterator

    async def collect(self, *, unbounded: bool = False) -> list[File]:
        """All items in a list. Requires ``max_items`` on the scan, or ``unbounded=True``.

        Raises:
            ValueError: neither ``max_items`` nor ``unbounded=True`` was given.
        """
        if self._max_items is None and not unbounded:
            raise ValueError(
                "collect() needs max_items on the scan, or unbounded=True to load every file"
            )
        return [item async for item in self]

    async def _run(self) -> AsyncGenerator[list[File], None]:
        remaining = self._max_items
        try:
            if self._prepare is not None:
                replacement = await self._prepare()
                if replacement is not None:
                    for stream in self._streams:
                        await stream.pager.aclose()
                    self._streams = [_Stream(pager) for pager in replacement]
            streams = self._streams
            needy = streams
            while True:
                if self._closed or (needy and not await self._fill(needy)):
                    raise ClientClosedError(
                        "the scan was closed before it was complete (by aclose() of the scan "
                        "or of its client)"
                    )
                batch = _merge(streams)
                if remaining is not None:
                    if len(batch) >= remaining:
                        batch = batch[:remaining]
                    remaining -= len(batch)
                if batch:
                    yield batch
                if remaining == 0 or all(s.done for s in streams):
                    return
                needy = [s for s in streams if not s.buffer and not s.done]
        finally:
            await self._shutdown()

    async def _fill(self, streams: list[_Stream]) -> bool:
        """Refill ``streams`` concurrently; ``False`` when the scan was closed meanwhile."""
        tasks = []
        for stream in streams:
            task = asyncio.ensure_future(stream.pull())
            task.add_done_callback(_retrieve)
            tasks.append(task)
        self._fills.update(tasks)
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            self._fills.difference_update(task for task in tasks if task.done())
        closed = False
        for task in done:
            if task.cancelled():
                # Not our own cancellation (asyncio.wait would have raised): aclose() of the
                # scan or of the client stopped this fill, so the iteration ends.
                closed = True
            elif (error := task.exception()) is not None:
                raise error
        if closed:
            self._closed = True
            return False
        return True

    async def _shutdown(self) -> None:
        fills = list(self._fills)
        self._fills.clear()
        for task in fills:
            task.cancel()
        if fills:
            await asyncio.wait(fills)
        for stream in self._streams:
            await stream.pager.aclose()
            await _close(stream.batches)

    async def aclose(self) -> None:
        """Stop the scan and cancel every request in flight; idempotent. Iteration then ends."""
        self._closed = True
        # Suspended between batches (after a ``break``): finish it here. One that is running
        # (another task is inside it) ends by itself once its fills are cancelled.
        if self._iterator is not None:
            await self._iterator.aclose()
        await _close(self._batches)
        await self._shutdown()

    async def __aenter__(self) -> AsyncScan:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


# Exported from ``qoder_files``: tracebacks, reprs and the reference show that path.
publish("qoder_files", globals(), ["AsyncScan"])
