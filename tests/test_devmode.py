"""Abandoned pagers leave nothing behind: no warning under ``python -X dev``."""

from __future__ import annotations

import subprocess
import sys
import textwrap

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
    result = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error::ResourceWarning", "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert result.stderr == ""
