"""The portal: an event loop on a daemon thread, and blocking calls into it from other threads.

``Portal`` owns one loop and the thread running it; ``Portal.call()`` runs a coroutine there
and waits for its outcome. ``Runner`` owns what a blocking client needs for its whole life: an
async client, and the portal it is used on, started on first use. The fork registry lives here
too: after ``os.fork()`` every runner in the child drops the parent's loop and client, so the
next call builds fresh ones.

Rules this module keeps: a call made from a portal's own loop thread raises ``RuntimeError``
instead of deadlocking; Ctrl-C (any exception in the waiting thread) cancels the coroutine in
flight and lets it unwind on the loop, so the next call finds a clean state; a call queued when
the loop stops is cancelled, never left waiting; a forked child never touches, nor lets the
garbage collector finalize, what its parent owns. This module knows nothing of HTTP or of the
Files API: the async client is any object with an ``aclose()`` coroutine.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import threading
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar

from .errors import ClientClosedError

__all__ = ["Portal", "Runner"]

P = ParamSpec("P")
R = TypeVar("R")

_CANCEL_GRACE = 5.0  # seconds an interrupted call may take to unwind on the loop
_JOIN_TIMEOUT = 10.0  # seconds close() waits for the loop thread to finish

_RUNNERS: weakref.WeakSet[Runner[Any]] = weakref.WeakSet()
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
            self.future.set_exception(
                ClientClosedError("the call was cancelled: the Client closed")
            )
        elif (exc := task.exception()) is not None:
            self.future.set_exception(exc)
        else:
            self.future.set_result(task.result())

    def cancel(self) -> None:
        """Run on the loop, once ``start`` has run: cancel the task."""
        assert self._task is not None  # the future was running, so start() made the task
        self._task.cancel()


class Portal:
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

    def forked(self) -> bool:
        """Whether this is a forked child: the loop belongs to the parent and is never used."""
        return os.getpid() != self._pid

    def check_usable(self) -> None:
        """Raise ``RuntimeError`` where a blocking call would misbehave or deadlock."""
        if self.forked():
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
                raise ClientClosedError("this Client is closed")
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
        if self.forked():
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


async def _then_stop(portal: Portal, coro: Coroutine[Any, Any, None]) -> None:
    try:
        await coro
    finally:
        portal.stop()


class _Closable(Protocol):
    """What a ``Runner`` needs from the async client it owns."""

    async def aclose(self) -> None: ...  # pragma: no cover


C = TypeVar("C", bound=_Closable)


class Runner(Generic[C]):
    """Everything a blocking client owns, so that its finalizer never references the client.

    Args:
        make_client: Builds the async client; called once now, and again in a forked child.
    """

    def __init__(self, make_client: Callable[[], C]) -> None:
        self._make_client = make_client
        self.client = make_client()
        self._portal: Portal | None = None
        self._lock = threading.Lock()
        self._closed = False
        _RUNNERS.add(self)

    def enter(self) -> tuple[Portal, C]:
        """The running portal (started on first use) and the async client to call there."""
        with self._lock:
            if self._closed:
                raise ClientClosedError("this Client is closed")
            if self._portal is None:
                self._portal = Portal()
            portal, client = self._portal, self.client
        portal.check_usable()
        return portal, client

    def call(
        self,
        method: Callable[Concatenate[C, P], Coroutine[Any, Any, R]],
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
        """Leave the parent's loop and client alone; the next call builds fresh ones."""
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
