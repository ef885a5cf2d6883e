"""The blocking ``Client`` and ``SyncPager`` against the emulator served from a thread."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys
import threading
import time
import warnings
import weakref
from collections.abc import AsyncGenerator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from dev_mode import run_quietly

from qoder_files import (
    AsyncClient,
    AuthenticationError,
    Client,
    ClientClosedError,
    File,
    SyncPager,
    SyncScan,
    _bridge,
    _portal,
)
from qoder_files.pager import AsyncPager
from qoder_files.testing import Fault, FilesEmulator

Served = tuple[FilesEmulator, str]


@pytest.fixture
def served() -> Iterator[Served]:
    """A seeded emulator served from its own thread, and its base URL."""
    emulator = FilesEmulator()
    emulator.seed(250)
    with emulator.serve_in_thread() as url:
        yield emulator, url


@pytest.fixture
def client(served: Served) -> Iterator[Client]:
    emulator, url = served
    with Client(emulator.token, base_url=url) as c:
        yield c


@pytest.fixture
def aclose_calls(monkeypatch: pytest.MonkeyPatch) -> list[AsyncPager]:
    """Every ``AsyncPager.aclose()`` call, recorded."""
    calls: list[AsyncPager] = []
    original = AsyncPager.aclose

    async def recording(self: AsyncPager) -> None:
        calls.append(self)
        await original(self)

    monkeypatch.setattr(AsyncPager, "aclose", recording)
    return calls


def portal_of(client: Client) -> _portal.Portal:
    portal = client._runner._portal
    assert portal is not None
    return portal


def send_ctrl_c_after(seconds: float) -> threading.Timer:
    main = threading.main_thread().ident
    assert main is not None
    timer = threading.Timer(seconds, signal.pthread_kill, (main, signal.SIGINT))
    timer.start()
    return timer


async def other_tasks() -> int:
    return len(asyncio.all_tasks() - {asyncio.current_task()})


def ids(files: list[File]) -> list[str]:
    return [f.file_id for f in files]


# --- the blocking methods -------------------------------------------------------------------


def test_methods_mirror_the_async_client_and_keep_its_docstrings() -> None:
    assert Client.get_page.__doc__ == AsyncClient.get_page.__doc__
    assert Client.get_page.__qualname__ == "Client.get_page"
    assert "SyncPager" in (Client.list_files.__doc__ or "")
    assert "AsyncPager" not in (Client.list_files.__doc__ or "")
    public = {n for n in dir(AsyncClient) if not n.startswith("_")} - {"aclose"}
    assert public <= {n for n in dir(Client) if not n.startswith("_")}


def test_lists_and_gets_pages_like_the_async_client(served: Served, client: Client) -> None:
    emulator, _ = served
    assert ids(list(client.list_files(limit=100))) == emulator.ids()
    page = client.get_page(limit=3, purpose="tool_output")
    assert ids(page.data) == emulator.ids("tool_output")[:3]
    assert page.has_more


def test_repr_masks_the_token(served: Served) -> None:
    _, url = served
    with Client("pt-secret-token-abcd", base_url=url) as c:
        assert "pt-secret-token-abcd" not in repr(c)
        assert repr(c).startswith("<Client base_url='http://127.0.0.1:")
        assert "abcd" in repr(c)
        assert c.base_url == url


def test_arguments_are_checked_like_the_async_client(
    monkeypatch: pytest.MonkeyPatch, client: Client
) -> None:
    monkeypatch.delenv("QODER_PAT", raising=False)
    with pytest.raises(ValueError, match="QODER_PAT"):
        Client()
    with pytest.raises(ValueError, match="session"):
        Client("pt-x", session=object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout") as caught:
        Client("pt-x", timeout=float("inf"))
    with pytest.raises(ValueError, match="base_url") as caught:
        Client("pt-x", base_url="https://alice:pw-s3cret@api.example.test/api/v1/cloud")
    assert "s3cret" not in str(caught.value)
    with pytest.raises(ValueError, match="token"):
        Client("pt-x\r\nX-Evil: 1")
    with pytest.raises(ValueError, match="default_headers"):
        Client("pt-x", default_headers={"X-Trace": "a\nb"})
    with pytest.raises(ValueError, match="limit"):
        client.list_files(limit=0)
    with pytest.raises(ValueError, match="limit"):
        client.get_page(limit=101)


def test_api_errors_keep_their_type(served: Served) -> None:
    _, url = served
    with Client("pt-wrong", base_url=url) as c:
        with pytest.raises(AuthenticationError) as info:
            c.get_page()
        assert info.value.request_id
        with pytest.raises(AuthenticationError):
            list(c.list_files())


def test_works_where_the_calling_thread_runs_an_event_loop(served: Served) -> None:
    emulator, url = served

    async def notebook_cell() -> list[str]:
        with Client(emulator.token, base_url=url) as c:
            return ids(c.list_files(max_items=30).collect())

    assert asyncio.run(notebook_cell()) == emulator.ids()[:30]


def test_eight_threads_share_one_client(served: Served, client: Client) -> None:
    emulator, _ = served
    barrier = threading.Barrier(8)

    def job(n: int) -> tuple[list[str], list[str]]:
        barrier.wait()
        page = client.get_page(limit=n + 1)
        return ids(list(client.list_files(limit=10 + n))), ids(page.data)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(job, range(8)))
    for n, (listed, page) in enumerate(results):
        assert listed == emulator.ids()
        assert page == emulator.ids()[: n + 1]
    assert sum(t.name == "qoder-files-client" for t in threading.enumerate()) >= 1


def test_one_loop_thread_per_client_started_lazily(served: Served) -> None:
    emulator, url = served
    with Client(emulator.token, base_url=url) as c:
        assert c._runner._portal is None
        c.get_page(limit=1)
        thread = portal_of(c).thread
        c.get_page(limit=1)
        assert portal_of(c).thread is thread
    assert not thread.is_alive()


def test_calling_from_the_client_loop_thread_raises(client: Client) -> None:
    client.get_page(limit=1)
    portal = portal_of(client)

    async def inside() -> object:
        return client.get_page(limit=1)

    future = asyncio.run_coroutine_threadsafe(inside(), portal.loop)
    with pytest.raises(RuntimeError, match="own event loop thread"):
        future.result(timeout=5)
    assert len(client.get_page(limit=2).data) == 2


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_cancels_the_call_in_flight_and_the_client_stays_usable(
    served: Served, client: Client
) -> None:
    emulator, _ = served
    client.get_page(limit=1)
    emulator.add_fault(Fault.latency(1.5), route="list", times=1)
    timer = send_ctrl_c_after(0.2)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        client.get_page(limit=5)
    timer.join()
    assert time.monotonic() - started < 1.2
    assert portal_of(client).call(other_tasks()) == 0
    assert ids(client.get_page(limit=5).data) == emulator.ids()[:5]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_during_a_listing_keeps_the_cursor_for_resuming(
    served: Served, client: Client, aclose_calls: list[AsyncPager]
) -> None:
    emulator, _ = served
    emulator.add_fault(Fault.latency(1.5), route="list", start=2, times=1)
    pager = client.list_files(limit=10)
    seen: list[File] = []
    timer = send_ctrl_c_after(0.3)
    with pytest.raises(KeyboardInterrupt):
        seen.extend(pager)
    timer.join()
    assert ids(seen) == emulator.ids()[:10]
    assert pager.cursor == seen[-1].file_id
    assert len(aclose_calls) == 1
    rest = ids(list(client.list_files(limit=100, after=pager.cursor)))
    assert ids(seen) + rest == emulator.ids()


# --- lifecycle ------------------------------------------------------------------------------


def test_close_is_idempotent_and_final(served: Served) -> None:
    emulator, url = served
    c = Client(emulator.token, base_url=url)
    c.close()  # never used: no thread was started
    c.close()
    with pytest.raises(RuntimeError, match="closed"):
        c.get_page()
    with Client(emulator.token, base_url=url) as used:
        used.get_page(limit=1)
        thread = portal_of(used).thread
    used.close()
    assert not thread.is_alive()
    with pytest.raises(RuntimeError, match="closed"):
        used.list_files()


def test_an_unclosed_client_stops_its_thread_when_collected(served: Served) -> None:
    emulator, url = served
    c = Client(emulator.token, base_url=url)
    c.get_page(limit=1)
    thread = portal_of(c).thread
    del c
    gc.collect()
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_pager_outliving_its_client_closes_quietly(served: Served) -> None:
    emulator, url = served
    c = Client(emulator.token, base_url=url)
    pager = c.list_files(limit=10)
    c.close()
    with pytest.raises(RuntimeError, match="closed"):
        next(iter(pager))
    pager.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_gets_a_fresh_loop_and_session(served: Served, client: Client) -> None:
    emulator, _ = served
    expected = emulator.ids()
    assert ids(list(client.list_files(limit=100))) == expected
    parent_async, parent_thread = client._runner.client, portal_of(client).thread
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # multi-threaded fork (3.12+)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which exits without reporting
        status = 1
        try:
            fresh = client._runner._portal is None and client._runner.client is not parent_async
            listed = ids(list(client.list_files(limit=100)))
            child_thread = portal_of(client).thread
            gc.collect()  # the parent's session and loop must survive a collection untouched
            ok = fresh and listed == expected and child_thread is not parent_thread
            client.close()
            status = 0 if ok else 3
        finally:
            os._exit(status)
    _, wait_status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(wait_status) == 0
    # The parent's pooled connections were left alone by the child.
    assert ids(list(client.list_files(limit=100))) == expected
    assert client._runner.client is parent_async


# --- the sync pager -------------------------------------------------------------------------


def test_the_pager_crosses_into_the_loop_once_per_page(
    monkeypatch: pytest.MonkeyPatch, served: Served, client: Client
) -> None:
    emulator, _ = served
    hops = 0
    original = _bridge._next_batch

    def counting(batches: Any) -> Coroutine[Any, Any, list[File] | None]:
        nonlocal hops
        hops += 1
        return original(batches)

    monkeypatch.setattr(_bridge, "_next_batch", counting)
    assert ids(list(client.list_files(limit=50))) == emulator.ids()
    assert hops == 250 // 50 + 1  # five pages, then the end


def test_cursor_moves_item_by_item_and_resumes_forward(
    served: Served, client: Client, aclose_calls: list[AsyncPager]
) -> None:
    emulator, _ = served
    start = emulator.ids()[20]
    pager = client.list_files(limit=7, after=start)
    assert pager.cursor == start
    taken: list[str] = []
    for file in pager:
        taken.append(file.file_id)
        assert pager.cursor == file.file_id
        if len(taken) == 11:
            break
    assert len(aclose_calls) == 1  # break closed the async pager at once
    rest = ids(list(client.list_files(limit=100, after=pager.cursor)))
    assert taken + rest == emulator.ids()[21:]
    with pytest.raises(RuntimeError, match="only once"):
        iter(pager)


def test_backward_listing_and_resume(served: Served, client: Client) -> None:
    emulator, _ = served
    everything = emulator.ids()
    pager = client.list_files(limit=7, before=everything[100])
    taken = []
    for file in pager:
        taken.append(file.file_id)
        if len(taken) == 30:
            break
    assert taken == everything[70:100][::-1]
    rest = ids(list(client.list_files(limit=9, before=pager.cursor)))
    assert taken + rest == everything[:100][::-1]


def test_an_exception_in_the_loop_body_closes_the_async_pager(
    client: Client, aclose_calls: list[AsyncPager]
) -> None:
    pager = client.list_files(limit=10)

    def divide_each() -> None:
        for file in pager:
            _ = file.size_bytes / 0

    with pytest.raises(ZeroDivisionError):
        divide_each()
    assert len(aclose_calls) == 1
    assert "closed" in repr(pager)


def test_garbage_collection_closes_the_async_pager(
    client: Client, aclose_calls: list[AsyncPager]
) -> None:
    iterator = iter(client.list_files(limit=10))
    next(iterator)
    del iterator
    gc.collect()
    assert len(aclose_calls) == 1
    pager = client.list_files(limit=10)
    del pager
    gc.collect()
    assert len(aclose_calls) == 2


def test_with_and_close(client: Client, aclose_calls: list[AsyncPager]) -> None:
    with client.list_files(limit=10) as pager:
        assert isinstance(pager, SyncPager)
        assert "open" in repr(pager)
    assert len(aclose_calls) == 1
    pager.close()
    assert len(aclose_calls) == 1
    with pytest.raises(ClientClosedError):
        list(pager)  # closed before its end: it never looks complete


def test_pages_are_the_servers_pages(served: Served, client: Client) -> None:
    emulator, _ = served
    pager = client.list_files(limit=100, max_items=230)
    sizes = []
    for page in pager.pages():
        sizes.append(len(page.data))
        assert pager.cursor == page.data[-1].file_id
    assert sizes == [100, 100, 30]
    backward = client.list_files(limit=10, before=emulator.ids()[25])
    first = next(iter(backward.pages()))
    assert ids(first.data) == emulator.ids()[15:25]
    assert backward.cursor == emulator.ids()[15]


def test_collect_needs_a_bound(served: Served, client: Client) -> None:
    emulator, _ = served
    pager = client.list_files(limit=10)
    with pytest.raises(ValueError, match="max_items"):
        pager.collect()
    assert ids(pager.collect(unbounded=True)) == emulator.ids()
    assert pager.cursor == emulator.ids()[-1]
    with pytest.raises(RuntimeError, match="only once"):
        pager.collect()
    bounded = client.list_files(max_items=25)
    assert ids(bounded.collect()) == emulator.ids()[:25]
    assert bounded.cursor == emulator.ids()[24]


def test_collect_failure_keeps_the_cursor(served: Served, client: Client) -> None:
    emulator, _ = served
    emulator.add_fault(Fault.error(400), route="list", start=3)
    pager = client.list_files(limit=10)
    with pytest.raises(Exception, match="400"):
        pager.collect(unbounded=True)
    # the partial list never reached the caller, so the resume point is where collect began
    assert pager.cursor is None


class _ScanLike:
    """A bulk-scan shaped source: batches, collect and aclose only."""

    def __init__(self, batches: list[list[File]]) -> None:
        self._batches = batches
        self.closed = False

    async def _gen(self) -> AsyncGenerator[list[File], None]:
        for batch in self._batches:
            yield batch

    def batches(self) -> AsyncGenerator[list[File], None]:
        return self._gen()

    async def collect(self, *, unbounded: bool = False) -> list[File]:
        return [item for batch in self._batches for item in batch]

    async def aclose(self) -> None:
        self.closed = True


def test_the_scan_bridge_works_on_any_batch_source(client: Client) -> None:
    files = client.get_page(limit=6).data
    source = _ScanLike([files[:3], [], files[3:]])
    portal = portal_of(client)
    scan = SyncScan(portal, source)
    starting_cursor = scan.cursor
    assert starting_cursor is None
    assert list(scan) == files
    assert source.closed
    assert scan.cursor == files[-1].file_id
    assert SyncScan(portal, _ScanLike([files])).collect() == files


def test_a_scan_has_no_pages(client: Client) -> None:
    # A merged scan has no server pages: its type has no pages() (mypy rejects the call too).
    scan = client.scan_files()
    assert isinstance(scan, SyncScan)
    assert not hasattr(scan, "pages")
    assert isinstance(client.list_files(), SyncPager)
    scan.close()


def test_closing_from_the_loop_thread_does_not_block(served: Served) -> None:
    emulator, url = served
    c = Client(emulator.token, base_url=url)
    pager = c.list_files(limit=10)
    portal = portal_of(c)
    runner = c._runner
    call: Callable[[], None] = pager.close

    async def close_both() -> None:
        call()
        runner.close()

    asyncio.run_coroutine_threadsafe(close_both(), portal.loop)
    portal.thread.join(timeout=10)
    assert not portal.thread.is_alive()


def test_scan_files_through_the_sync_pager(
    served: Served, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator, _ = served
    assert ids(list(client.scan_files(limit=20))) == emulator.ids()
    assert ids(client.scan_files(max_items=33).collect()) == emulator.ids()[:33]
    closed: list[object] = []
    scan_type = type(client._runner.client.scan_files())
    original = scan_type.aclose

    async def recording(self: Any) -> None:
        closed.append(self)
        await original(self)

    monkeypatch.setattr(scan_type, "aclose", recording)
    scan = client.scan_files(limit=10)
    taken = []
    for file in scan:
        taken.append(file.file_id)
        if len(taken) == 15:
            break
    assert scan.cursor == taken[-1] == emulator.ids()[14]
    assert len(closed) == 1


async def _nothing() -> None:
    return None


def test_a_call_given_up_before_it_started_never_runs() -> None:
    job = _portal._Call(_nothing())
    assert job.future.cancel()
    job.start()  # closes the coroutine: no "never awaited" warning
    assert job.future.cancelled()


def test_the_fork_reset_orphans_the_parents_loop_and_client(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What os.register_at_fork runs in a child, run here on one client to see its effect.
    emulator, url = served
    c = Client(emulator.token, base_url=url)
    c.get_page(limit=1)
    old_portal, old_client = portal_of(c), c._runner.client
    monkeypatch.setattr(_portal, "_RUNNERS", weakref.WeakSet([c._runner]))
    _portal._after_fork_in_child()
    try:
        assert c._runner._portal is None
        assert c._runner.client is not old_client
        assert (old_portal, old_client) in _portal._FORK_ORPHANS
        assert ids(c.get_page(limit=3).data) == emulator.ids()[:3]
        assert portal_of(c) is not old_portal
    finally:
        _portal._FORK_ORPHANS.remove((old_portal, old_client))
        old_portal.call(old_client.aclose())
        old_portal.stop()
        c.close()


def test_a_loop_from_another_process_is_never_used(client: Client) -> None:
    pager = client.list_files(limit=10)
    portal = portal_of(client)
    real_pid = portal._pid
    portal._pid = real_pid + 1  # as a forked child sees its parent's portal
    try:
        with pytest.raises(RuntimeError, match="parent process"):
            client.get_page()
        pager.close()  # skipped quietly: the pager belongs to the other process
        portal.stop()  # likewise
        assert portal.thread.is_alive()
    finally:
        portal._pid = real_pid
    assert len(client.get_page(limit=1).data) == 1


def test_detach_after_the_loop_closed_drops_the_coroutine(served: Served) -> None:
    emulator, url = served
    c = Client(emulator.token, base_url=url)
    c.get_page(limit=1)
    portal = portal_of(c)
    c.close()
    assert portal.loop.is_closed()
    portal.detach(_nothing())  # no task, no "never awaited" warning


def test_closing_releases_callers_still_waiting(served: Served) -> None:
    emulator, url = served
    c = Client(emulator.token, base_url=url)
    c.get_page(limit=1)
    portal = portal_of(c)
    outcome: list[BaseException] = []
    started = threading.Event()

    async def long_call() -> None:
        started.set()
        await asyncio.sleep(30)

    def waiter() -> None:
        try:
            portal.call(long_call())
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=waiter)
    thread.start()
    assert started.wait(5)
    c.close()
    thread.join(5)
    assert not thread.is_alive()
    assert isinstance(outcome[0], RuntimeError)
    assert "closed" in str(outcome[0])


# --- handing batches across threads -----------------------------------------------------------


class _CountingServer:
    """``pages`` pages of three files, served from memory on the client's loop, counted."""

    def __init__(self, files: list[File], *, fail_at: int | None = None) -> None:
        self.files = files
        self.fail_at = fail_at
        self.started = 0

    async def fetch(self, request: Any) -> Any:
        from qoder_files import Page

        self.started += 1
        if self.started == self.fail_at:
            raise ValueError(f"page {self.started} failed")
        after = dict(request.params).get("after")
        index = 0 if after is None else [f.file_id for f in self.files].index(after) + 1
        await asyncio.sleep(0)
        chunk = self.files[index : index + 3]
        return Page(
            data=chunk,
            first_id=chunk[0].file_id if chunk else None,
            last_id=chunk[-1].file_id if chunk else None,
            has_more=index + 3 < len(self.files),
        )


def test_a_slow_caller_holds_its_page_one_waiting_and_one_read_ahead(client: Client) -> None:
    from qoder_files._cursor import CursorWalk

    files = client.get_page(limit=30).data
    server = _CountingServer(files)
    pager = SyncPager(portal_of(client), AsyncPager(server.fetch, CursorWalk(limit=3)))
    iterator = iter(pager)
    seen = [next(iterator)]
    time.sleep(0.3)  # the loop has all the time it wants to run ahead
    assert server.started == 3  # this page, the next one waiting, one read ahead: no more
    for file in iterator:
        seen.append(file)
        assert server.started <= len(seen) // 3 + 3
    assert ids(seen) == ids(files)
    assert portal_of(client).call(other_tasks()) == 0


def test_a_failure_crosses_threads_after_the_pages_before_it(client: Client) -> None:
    from qoder_files._cursor import CursorWalk

    files = client.get_page(limit=30).data
    server = _CountingServer(files, fail_at=3)
    pager = SyncPager(portal_of(client), AsyncPager(server.fetch, CursorWalk(limit=3)))
    seen: list[File] = []
    with pytest.raises(ValueError, match="page 3 failed"):
        seen.extend(pager)
    assert ids(seen) == ids(files[:6])
    assert pager.cursor == files[5].file_id
    assert portal_of(client).call(other_tasks()) == 0


def test_no_task_outlives_a_listing_left_early_or_finished(
    served: Served, client: Client, aclose_calls: list[AsyncPager]
) -> None:
    emulator, _ = served
    for file in client.list_files(limit=10):
        if file.file_id == emulator.ids()[15]:
            break
    assert portal_of(client).call(other_tasks()) == 0
    assert ids(list(client.list_files(limit=100))) == emulator.ids()
    assert portal_of(client).call(other_tasks()) == 0
    assert len(aclose_calls) == 2


def test_closing_the_client_cuts_off_a_listing_waiting_for_its_next_page(served: Served) -> None:
    emulator, url = served
    c = Client(emulator.token, base_url=url)
    emulator.add_fault(Fault.latency(3), route="list", start=2, times=1)
    seen: list[File] = []
    closer = threading.Timer(0.3, c.close)
    closer.start()
    started = time.monotonic()
    pager = c.list_files(limit=10)
    with pytest.raises(ClientClosedError):  # no hang, and never a complete-looking end
        seen.extend(pager)
    closer.join()
    assert time.monotonic() - started < 2.5
    assert ids(seen) == emulator.ids()[:10]


def test_a_listing_whose_loop_task_is_cancelled_raises_instead_of_hanging(
    served: Served, client: Client
) -> None:
    emulator, _ = served
    emulator.add_fault(Fault.latency(1.5), route="list", start=2, times=1)
    pager = client.list_files(limit=10)
    portal = portal_of(client)

    async def cancel_the_pump() -> None:
        for task in asyncio.all_tasks():
            if task.get_coro().__qualname__ == "Pump._run":  # type: ignore[union-attr]
                task.cancel()

    seen: list[File] = []
    timer = threading.Timer(0.3, portal.call, (cancel_the_pump(),))
    timer.start()
    with pytest.raises(RuntimeError, match="closed"):
        seen.extend(pager)
    timer.join()
    assert ids(seen) == emulator.ids()[:10]
    assert portal.call(other_tasks()) == 0
    assert ids(list(client.list_files(limit=100))) == emulator.ids()


_DEV_MODE_SCRIPT = """
import gc, logging
logging.getLogger("asyncio").setLevel(logging.ERROR)  # slow callbacks: a busy machine
from qoder_files import Client
from qoder_files.testing import Fault, FilesEmulator

emulator = FilesEmulator()
emulator.seed(300)
emulator.add_fault(Fault.latency(0.005), route="list")
with emulator.serve_in_thread() as url:
    with Client(emulator.token, base_url=url) as client:
        for n in range(20):
            for _ in client.list_files(limit=10 + n):
                break
            iterator = iter(client.list_files(limit=7))
            next(iterator)
            del iterator
            gc.collect()
        assert len(list(client.list_files(limit=100))) == 300
        left_open = iter(client.list_files(limit=9))
        next(left_open)  # still open, with a page waiting, when the client closes
    gc.collect()
print("ok")
"""


def test_sync_listings_leave_nothing_behind_under_dev_mode() -> None:
    assert run_quietly(_DEV_MODE_SCRIPT, warnings="error::ResourceWarning").strip() == "ok"


def test_closing_the_client_cuts_off_collect_and_scans(served: Served) -> None:
    emulator, url = served
    for start, listing in ((2, "collect"), (4, "scan")):
        c = Client(emulator.token, base_url=url)
        emulator.clear_faults()
        emulator.add_fault(Fault.latency(3), route="list", start=start, times=1)
        closer = threading.Timer(0.5, c.close)
        closer.start()
        pager = c.list_files(limit=10) if listing == "collect" else c.scan_files(limit=5)
        with pytest.raises(ClientClosedError):
            pager.collect(unbounded=True)
        closer.join()


def test_batches_hand_out_a_page_at_a_time_in_the_order_of_travel(
    served: Served, client: Client
) -> None:
    emulator, _ = served
    pager = client.list_files(limit=7, max_items=30)
    batches = [ids(batch) for batch in pager.batches()]
    assert [len(batch) for batch in batches] == [7, 7, 7, 7, 2]
    assert [i for batch in batches for i in batch] == emulator.ids()[:30]
    assert pager.cursor == emulator.ids()[29]
    backward = client.list_files(before=emulator.ids()[10], limit=4)
    assert [f.file_id for b in backward.batches() for f in b] == emulator.ids()[:10][::-1]
    scan = client.scan_files(limit=5, max_items=12)
    assert [f.file_id for batch in scan.batches() for f in batch] == emulator.ids()[:12]
    with pytest.raises(RuntimeError, match="only once"):
        scan.batches()
