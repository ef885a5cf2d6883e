"""Read-ahead: the next page is fetched while the caller works, and nothing outlives a close."""

from __future__ import annotations

import asyncio
import statistics
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dev_mode import run_quietly

from qoder_files import AsyncClient, File, Page
from qoder_files._cursor import CursorWalk
from qoder_files._wire import Request
from qoder_files.pager import AsyncPager
from qoder_files.testing import Fault, FilesEmulator


def client_tasks() -> set[asyncio.Task[Any]]:
    """Tasks the SDK started (the in-process server's own tasks are left out)."""
    current = asyncio.current_task()
    return {
        task
        for task in asyncio.all_tasks()
        if task is not current and "RequestHandler" not in task.get_coro().__qualname__  # type: ignore[union-attr]
    }


class FakeServer:
    """Serves ``pages`` pages of three files from memory and logs when each fetch starts/ends."""

    def __init__(self, pages: int) -> None:
        start = datetime(2026, 1, 1, tzinfo=UTC)
        self.files = [
            File(
                file_id=f"file_{n:032x}",
                filename=f"f{n}.txt",
                size_bytes=n,
                mime_type="text/plain",
                created_at=start + timedelta(seconds=n),
            )
            for n in range(pages * 3, 0, -1)
        ]
        self.log: list[str] = []
        self.release = asyncio.Event()
        self.stalled: set[int] = set()  # pages that wait for ``release``

    async def fetch(self, request: Request) -> Page[File]:
        params = dict(request.params)
        after = params.get("after")
        index = 0 if after is None else [f.file_id for f in self.files].index(after) + 1
        number = index // 3 + 1
        self.log.append(f"start {number}")
        if number in self.stalled:
            await self.release.wait()
        else:
            await asyncio.sleep(0)
        chunk = self.files[index : index + 3]
        self.log.append(f"end {number}")
        return Page(
            data=chunk,
            first_id=chunk[0].file_id,
            last_id=chunk[-1].file_id,
            has_more=index + 3 < len(self.files),
        )


async def test_next_page_is_requested_before_the_current_one_is_consumed() -> None:
    server = FakeServer(pages=4)
    pager = AsyncPager(server.fetch, CursorWalk(limit=3))
    seen: list[tuple[str, list[str]]] = []
    async for f in pager:
        for _ in range(5):
            await asyncio.sleep(0)  # give a read-ahead every chance to run
        seen.append((f.file_id, list(server.log)))
    assert [f for f, _ in seen] == [f.file_id for f in server.files]
    # at the first item of page k, page k+1 has been requested, and page k+2 has not
    for k in range(1, 4):
        log = seen[(k - 1) * 3][1]
        assert f"start {k + 1}" in log
        assert f"start {k + 2}" not in log
    # one page ahead at most, in order
    assert server.log == [
        "start 1", "end 1", "start 2", "end 2", "start 3", "end 3", "start 4", "end 4",
    ]  # fmt: skip


async def test_the_request_leaves_even_if_the_caller_never_awaits() -> None:
    server = FakeServer(pages=4)
    pager = AsyncPager(server.fetch, CursorWalk(limit=3))
    logs = [list(server.log) async for _ in pager]  # no await between items
    for k in range(1, 4):
        # handed the first item of page k, the request for page k+1 is already out
        assert f"start {k + 1}" in logs[(k - 1) * 3]
        assert f"start {k + 2}" not in logs[(k - 1) * 3 + 2]


async def test_a_slow_read_ahead_is_waited_for() -> None:
    server = FakeServer(pages=3)
    server.stalled.add(2)  # page 2 is requested but does not arrive until released
    pager = AsyncPager(server.fetch, CursorWalk(limit=3))
    iterator = aiter(pager)
    await anext(iterator)
    assert server.log[-1] == "start 2"
    await anext(iterator)
    await anext(iterator)
    waiting = asyncio.ensure_future(anext(iterator))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    server.release.set()
    assert (await waiting).file_id == server.files[3].file_id
    await pager.aclose()
    assert client_tasks() == set()


async def test_network_time_overlaps_the_callers_work() -> None:
    latency = 0.04
    emulator = FilesEmulator()
    emulator.seed(300)
    emulator.add_fault(Fault.latency(latency), route="list")
    waits: list[float] = []
    async with (
        emulator.serve() as url,
        AsyncClient(emulator.token, base_url=url) as client,
        client.list_files(limit=25) as pager,
    ):
        asked = time.perf_counter()
        async for _page in pager.pages():
            waits.append(time.perf_counter() - asked)
            await asyncio.sleep(latency * 1.5)  # the caller's work on this page
            asked = time.perf_counter()
    assert len(waits) == 12
    # the first page has to be waited for; the others were read ahead during the work
    assert waits[0] >= latency
    assert statistics.median(waits[1:]) < latency / 2


async def test_break_leaves_one_read_ahead_that_aclose_cancels(
    client: AsyncClient, emulator: FilesEmulator
) -> None:
    emulator.add_fault(Fault.latency(0.2), route="list")
    pager = client.list_files(limit=10)
    async for _ in pager:
        break
    ahead = client_tasks()
    assert len(ahead) == 1  # exactly one page read ahead
    await asyncio.sleep(0.1)  # it reaches the server, which holds it for 0.2 s
    assert len(emulator.requests) == 2
    assert not any(task.done() for task in ahead)
    await pager.aclose()
    assert client_tasks() == set()
    assert all(task.cancelled() for task in ahead)


async def test_client_close_cancels_an_abandoned_read_ahead(
    emulator: FilesEmulator, base_url: str
) -> None:
    emulator.add_fault(Fault.latency(0.2), route="list")
    client = AsyncClient(emulator.token, base_url=base_url)
    async for _ in client.list_files(limit=10):
        break
    assert len(client_tasks()) == 1
    await client.aclose()
    assert client_tasks() == set()


DEV_MODE_SCRIPT = textwrap.dedent(
    """
    import asyncio, gc, os
    import logging
    logging.getLogger("asyncio").setLevel(logging.ERROR)  # slow callbacks: a busy machine
    from qoder_files import AsyncClient, InternalServerError
    from qoder_files.testing import Fault, FilesEmulator

    def sockets():
        found = 0
        for fd in os.listdir("/proc/self/fd"):
            try:
                found += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
            except OSError:
                pass
        return found

    def nothing_pending():
        leftover = asyncio.all_tasks() - {asyncio.current_task()}
        assert not leftover, leftover

    async def main(url, failing_url, token):
        # gc.collect() on a busy host can exceed dev mode's 0.1 s slow-callback report;
        # this script checks what is left behind, not timing.
        asyncio.get_running_loop().slow_callback_duration = 10.0
        async with AsyncClient(token, base_url=url) as client:
            for n in range(20):
                # pager: break with a read-ahead in flight, then close
                pager = client.list_files(limit=10 + n)
                async for _ in pager:
                    break
                await pager.aclose()
                nothing_pending()
                # scan: break, then close through async with
                async with client.scan_files(limit=5 + n) as scan:
                    async for _ in scan:
                        break
                nothing_pending()
                # scan: a bridge-style consumer of batches
                scan = client.scan_files(limit=7, max_items=40 + n)
                async for batch in scan.batches():
                    break
                await scan.aclose()
                nothing_pending()
                # abandoned without a close: garbage collection cleans up
                async for _ in client.scan_files(limit=9):
                    break
                async for _ in client.list_files(limit=9):
                    break
                gc.collect()
                await asyncio.sleep(0.03)
                nothing_pending()
            files = await client.scan_files(max_items=321).collect()
            assert len(files) == 321
            # a scan that fails part way
            async with AsyncClient(token, base_url=failing_url, max_retries=0) as failing:
                try:
                    async for _ in failing.scan_files(limit=3):
                        pass
                except InternalServerError:
                    pass
                else:
                    raise AssertionError("the injected 500 did not surface")
                nothing_pending()
            # left open when the client closes, with read-aheads in flight
            async for _ in client.scan_files(limit=11):
                break
            async for _ in client.list_files(limit=11):
                break
        nothing_pending()

    before = sockets()
    emulator = FilesEmulator()
    emulator.seed(600)
    emulator.add_fault(Fault.latency(0.005), route="list")
    broken = FilesEmulator()
    broken.seed(600)
    broken.add_fault(Fault.error(500), route="list", start=9)
    with emulator.serve_in_thread() as url, broken.serve_in_thread() as failing_url:
        asyncio.run(main(url, failing_url, emulator.token))
    gc.collect()
    assert sockets() == before, (before, sockets())
    print("ok")
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts sockets in /proc")
def test_nothing_is_left_behind_under_dev_mode() -> None:
    assert run_quietly(DEV_MODE_SCRIPT, timeout=300).strip() == "ok"


async def test_ahead_ready_waits_for_the_read_ahead_without_taking_it() -> None:
    server = FakeServer(pages=3)
    server.stalled.add(2)
    pager = AsyncPager(server.fetch, CursorWalk(limit=3))
    await pager.ahead_ready()  # nothing read ahead yet: returns at once
    assert server.log == []
    batches = pager.batches()
    first = await anext(batches)
    assert [f.file_id for f in first] == [f.file_id for f in server.files[:3]]
    waiting = asyncio.ensure_future(pager.ahead_ready())
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiting.done()  # page 2 is on its way, stalled
    server.release.set()
    await waiting
    assert server.log == ["start 1", "end 1", "start 2", "end 2"]  # arrived, page 3 not asked
    second = await anext(batches)
    assert [f.file_id for f in second] == [f.file_id for f in server.files[3:6]]
    await pager.aclose()
    await batches.aclose()
    assert client_tasks() == set()


async def test_ahead_ready_does_not_raise_for_a_failed_read_ahead() -> None:
    async def fetch(request: Request) -> Page[File]:
        if dict(request.params).get("after"):
            raise ValueError("page 2 failed")
        files = FakeServer(pages=1).files
        return Page(data=files, first_id=files[0].file_id, last_id=files[-1].file_id, has_more=True)

    pager = AsyncPager(fetch, CursorWalk(limit=3))
    batches = pager.batches()
    await anext(batches)
    await pager.ahead_ready()
    with pytest.raises(ValueError, match="page 2 failed"):
        await anext(batches)
    await pager.aclose()
    assert client_tasks() == set()


async def test_a_fetch_may_return_any_awaitable() -> None:
    server = FakeServer(pages=2)

    def fetch(request: Request) -> asyncio.Future[Page[File]]:
        return asyncio.ensure_future(server.fetch(request))  # a future, not a coroutine

    pager = AsyncPager(fetch, CursorWalk(limit=3))
    assert [f.file_id async for f in pager] == [f.file_id for f in server.files]
