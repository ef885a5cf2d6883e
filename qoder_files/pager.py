"""``AsyncPager``: the ``async for`` over a cursor-paged listing, in either direction.

The pager owns the I/O side of one walk; the rules (direction, cursors, ``max_items``,
termination) live in the pure ``_cursor.CursorWalk``. While the caller works through a page,
the pager already fetches the next one (one page ahead at most), so memory stays bounded by
two pages and network time overlaps the caller's work. That read-ahead is cancelled when the
pager is closed: ``aclose()``, ``async with``, garbage collection, or the client's ``aclose()``.
"""

from __future__ import annotations

import asyncio
import functools
import types
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Any

from ._convert import object_id
from ._cursor import CursorWalk, Direction
from ._public import publish
from ._wire import Request
from .errors import ClientClosedError
from .models import File, Page

__all__ = ["AsyncPager"]


Fetch = Callable[..., Awaitable[Page[Any]]]
"""How a pager gets the page of a request: ``fetch(request)`` gives a ``Page[File]``, and
``fetch(request, objects=True)`` (asked only by ``json_batches()``) a page whose items are the
JSON objects the server sent."""


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _retrieve(task: asyncio.Future[Any]) -> None:
    # Mark a read-ahead's failure as seen, so an abandoned pager logs no "never retrieved".
    if not task.cancelled():
        task.exception()


def _settle_waiter(waiter: asyncio.Future[None], _: object) -> None:
    if not waiter.done():  # its waiter may have been cancelled meanwhile
        waiter.set_result(None)


class AsyncPager:
    """Iterates the files of one listing, fetching pages as needed.

    Use it once, in one of three ways::

        async for file in client.list_files(purpose="tool_output"):
            ...
        async for page in client.list_files(limit=100).pages():
            ...
        files = await client.list_files().collect(unbounded=True)

    Item iteration follows the order of travel: newest to oldest forward, and from the cursor
    toward the newest backward (``before=``). ``pages()`` hands out the server's pages as sent.
    ``cursor`` is the id of the last item handed out (the starting cursor before that); pass
    it back as ``after=`` (forward) or ``before=`` (backward) to continue with exactly the next
    item, also after an exception.
    """

    def __init__(self, fetch: Fetch, walk: CursorWalk) -> None:
        self._fetch = fetch
        self._walk = walk
        self._cursor = walk.start
        self._ahead: asyncio.Task[Page[Any]] | None = None  # the next page, read ahead
        self._waiting: asyncio.Task[Page[Any]] | None = None  # the page being awaited now
        self._started = False
        self._closed = False
        self._objects = False  # json_batches(): pages keep the server's JSON objects
        self._iterator: AsyncIterator[Any] | None = None

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("done" if self._walk.done else "open")
        return f"<AsyncPager {self.direction.value} cursor={self._cursor!r} {state}>"

    @property
    def cursor(self) -> str | None:
        """Id of the last item handed out, or the starting cursor before any."""
        return self._cursor

    @property
    def closed(self) -> bool:
        """Whether ``aclose()`` was called (by the caller or by the client's ``aclose()``)."""
        return self._closed

    @property
    def direction(self) -> Direction:
        """``Direction.BACKWARD`` when the walk started with ``before=``, else ``FORWARD``."""
        return self._walk.direction

    def _start(self) -> None:
        if self._started:
            raise RuntimeError(
                "a pager can be iterated only once; continue with a new listing from its cursor"
            )
        self._started = True

    def _cut_off(self) -> ClientClosedError:
        return ClientClosedError(
            "the listing was closed before it was complete (by aclose() of the pager or of "
            f"its client); resume from cursor {self._cursor!r}"
        )

    async def _next_batch(self) -> tuple[Page[Any], list[Any]] | None:
        """The next server page and its items in the order of travel, or ``None`` at the end.

        Raises:
            ClientClosedError: the pager (or its client) was closed before the walk ended: a
                cut-off listing must never look complete.
        """
        if self._closed:
            if self._walk.done:
                return None
            raise self._cut_off()
        task, self._ahead = self._ahead, None
        if task is None:
            request = self._walk.next_request()
            if request is None:
                return None
            task = self._spawn(request)
        # A task, not a bare await, so that aclose() (or the client's) can cancel it.
        self._waiting = task
        try:
            page = await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if self.closed and task.cancelled() and not (current and current.cancelling()):
                raise self._cut_off() from None  # closed under the caller
            raise
        finally:
            self._waiting = None
        items = self._walk.accept(page)
        following = self._walk.next_request()
        if following is not None:
            self._ahead = self._spawn(following)
        return self._walk.shown(page), items

    def _spawn(self, request: Request) -> asyncio.Task[Page[Any]]:
        fetching = self._fetch(request, objects=True) if self._objects else self._fetch(request)
        if type(fetching) is types.CoroutineType:  # an ``async def``: skip ensure_future's checks
            task = asyncio.get_running_loop().create_task(fetching)
        else:
            task = asyncio.ensure_future(fetching)
        task.add_done_callback(_retrieve)
        return task

    async def _send_ahead(self) -> None:
        """Let the read-ahead run up to its first wait, which puts its request on the wire.

        Called before a caller on this loop gets a page: one that works through the items
        without awaiting would otherwise hold the loop, and the request would leave only when
        the page is done. (``batches()`` skips it: a bridge that hands pages to another thread
        decides itself when to let go of the loop; the sync facade's pump waits the same way.)
        """
        if self._ahead is not None:
            await asyncio.sleep(0)

    async def ahead_ready(self) -> None:
        """Wait until the page read ahead, if one is on its way, has arrived; don't take it.

        For bridges such as the sync facade, which hand a page over only once the caller took
        the previous one: waiting here first lets them decide at the last moment. It never
        raises for the read-ahead's failure; taking the batch does.
        """
        task = self._ahead
        if task is not None and not task.done():
            arrived = task.get_loop().create_future()
            task.add_done_callback(functools.partial(_settle_waiter, arrived))
            await arrived

    async def batches(self) -> AsyncGenerator[list[File], None]:
        """Yield each page's items in the order of travel (for bridges such as the sync facade).

        ``cursor`` moves to the last item of a batch when the next batch is asked for; callers
        that hand items out one by one track the finer position themselves.
        """
        self._start()
        try:
            while (batch := await self._next_batch()) is not None:
                items = batch[1]
                yield items
                if items:
                    self._cursor = items[-1].file_id
        finally:
            self._cancel_ahead()

    async def json_batches(self) -> AsyncGenerator[list[dict[str, Any]], None]:
        """Yield each page's files as the JSON objects the server sent, in the order of travel.

        The walk is the same as ``batches()`` (cursors, direction, ``max_items``, the ``name``
        filter, resuming from ``cursor``), but no ``File`` is built: each object is handed out
        as decoded, in the server's own shape (``file_id`` on the seed generation, ``id`` and
        ``type`` on the newest). Only its id is checked. For callers that pass the listing on
        as JSON, such as a web app's response or an export, without paying for models.
        """
        self._start()
        self._objects = True
        self._walk.read_objects()
        try:
            while (batch := await self._next_batch()) is not None:
                items = batch[1]
                yield items
                if items:
                    self._cursor = object_id(items[-1])
        finally:
            self._cancel_ahead()

    async def _items(self) -> AsyncIterator[File]:
        try:
            while (batch := await self._next_batch()) is not None:
                await self._send_ahead()
                for item in batch[1]:
                    self._cursor = item.file_id
                    yield item
        finally:
            self._cancel_ahead()

    def __aiter__(self) -> AsyncIterator[File]:
        self._start()
        self._iterator = self._items()
        return self._iterator

    async def pages(self) -> AsyncGenerator[Page[File], None]:
        """Yield the server's pages as sent (``data`` newest first), in the order fetched."""
        self._start()
        try:
            while (batch := await self._next_batch()) is not None:
                await self._send_ahead()
                page, items = batch
                if items:
                    self._cursor = items[-1].file_id
                yield page
        finally:
            self._cancel_ahead()

    async def collect(self, *, unbounded: bool = False) -> list[File]:
        """All items in a list. Requires ``max_items`` on the listing, or ``unbounded=True``.

        If it fails part way, the partial list is lost to the caller, so ``cursor`` goes back
        to where ``collect()`` started: resuming from it misses nothing.

        Raises:
            ValueError: neither ``max_items`` nor ``unbounded=True`` was given.
        """
        if self._walk.unbounded and not unbounded:
            raise ValueError(
                "collect() needs max_items on the listing, or unbounded=True to load every file"
            )
        start = self._cursor
        try:
            return [item async for item in self]
        except BaseException:
            self._cursor = start
            raise

    def _cancel_ahead(self) -> asyncio.Task[Page[Any]] | None:
        task, self._ahead = self._ahead, None
        if task is not None and not task.done():
            loop = task.get_loop()
            if _running_loop() is loop:
                task.cancel()
            elif not loop.is_closed():  # garbage collected from another thread
                loop.call_soon_threadsafe(task.cancel)
        return task

    async def aclose(self) -> None:
        """Stop the walk and cancel the read-ahead; idempotent.

        Iterating a listing closed before its end raises ``ClientClosedError``.
        """
        self._closed = True
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            waiting.cancel()  # its awaiting caller then sees the end of the walk
        pending = {t for t in (self._cancel_ahead(), waiting) if t is not None}
        iterator, self._iterator = self._iterator, None
        if iterator is not None and not iterator.ag_running:  # type: ignore[attr-defined]
            await iterator.aclose()  # type: ignore[attr-defined]
        if pending:
            await asyncio.wait(pending)

    async def __aenter__(self) -> AsyncPager:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __del__(self) -> None:
        self._cancel_ahead()


# Exported from ``qoder_files``: tracebacks, reprs and the reference show that path.
publish("qoder_files", globals(), ["AsyncPager"])
