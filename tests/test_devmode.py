"""Abandoned pagers and scans leave nothing behind: no warning under ``python -X dev``."""

from __future__ import annotations

import textwrap

from dev_mode import run_quietly

SCRIPT = textwrap.dedent(
    """
    import asyncio, gc, logging
    logging.getLogger("asyncio").setLevel(logging.ERROR)  # slow callbacks: a busy machine
    from qoder_files import AsyncClient
    from qoder_files.testing import Fault, FilesEmulator

    async def main():
        emulator = FilesEmulator()
        emulator.seed(500)
        emulator.add_fault(Fault.latency(0.01), route="list")
        async with emulator.serve() as url:
            async with AsyncClient(emulator.token, base_url=url) as client:
                for n in range(50):
                    async for _ in client.list_files(limit=10 + n):
                        break
                    pager = client.list_files(limit=5, before=emulator.ids()[300])
                    async for _ in pager.pages():
                        break
                gc.collect()
                await asyncio.sleep(0.05)
                # a pager left open with a read-ahead in flight when the client closes
                pending = client.list_files(limit=7)
                async for _ in pending:
                    break
        gc.collect()
        print("ok")

    asyncio.run(main())
    """
)


def test_abandoned_async_pagers_print_no_warning() -> None:
    assert run_quietly(SCRIPT, warnings="error::ResourceWarning").strip() == "ok"


# The loop closes each garbage async generator in a task of its own, in the order the
# collector found them. Here the pager outlives the scan (as when a young-generation pass
# collects the scan but not its older pagers), so its read-ahead is still in flight and
# closing the scan waits: every order of those closing tasks is tried.
ABANDONED_SCAN_SCRIPT = textwrap.dedent(
    """
    import asyncio, gc, itertools, logging, sys
    from datetime import UTC, datetime
    logging.getLogger("asyncio").setLevel(logging.ERROR)  # slow callbacks: a busy machine
    from qoder_files import AsyncScan, File, Page
    from qoder_files._cursor import CursorWalk
    from qoder_files.pager import AsyncPager

    async def fetch(request):
        if dict(request.params).get("after"):
            await asyncio.Event().wait()  # the read-ahead never arrives
        file = File(
            file_id="file_" + "0" * 32, filename="f.txt", size_bytes=1,
            mime_type="text/plain", created_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
        return Page(data=[file], first_id=file.file_id, last_id=file.file_id, has_more=True)

    async def abandon():
        # The generators a garbage scan leaves for the loop's finalizer hook to close.
        found = []
        hooks = sys.get_asyncgen_hooks()
        sys.set_asyncgen_hooks(hooks.firstiter, found.append)  # taken at the first step
        pager = AsyncPager(fetch, CursorWalk(limit=1))
        async for _ in AsyncScan([pager]):
            break
        sys.set_asyncgen_hooks(*hooks)
        gc.collect()
        return pager, found

    async def main():
        asyncio.get_running_loop().slow_callback_duration = 10.0
        close = sys.get_asyncgen_hooks().finalizer  # the loop's own
        tried = 0
        while True:
            pager, found = await abandon()
            orders = list(itertools.permutations(found))
            for generator in orders[tried]:
                close(generator)
            for _ in range(10):
                await asyncio.sleep(0)
            await pager.aclose()
            leftover = asyncio.all_tasks() - {asyncio.current_task()}
            assert not leftover, leftover
            tried += 1
            if tried == len(orders):
                break
        gc.collect()

    asyncio.run(main())
    print("ok")
    """
)


def test_an_abandoned_scan_is_closed_quietly_in_any_order() -> None:
    assert run_quietly(ABANDONED_SCAN_SCRIPT).strip() == "ok"
