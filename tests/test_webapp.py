"""The example web service of the docs (``docs/examples/webapp.py``), run on loopback.

It talks to the emulator and is driven by a real HTTP client, as a browser would drive it:
a listing page by page, downloads streamed out (20 at once, with the app's peak memory
measured in a process of its own), a browser that leaves mid-download, and an upload streamed
through.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from qoder_files import AsyncClient
from qoder_files.testing import FilesEmulator, StoredFile

MIB = 1 << 20
EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"
BIG = os.urandom(20 * MIB)


def load_webapp() -> ModuleType:
    spec = importlib.util.spec_from_file_location("webapp", EXAMPLES / "webapp.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def with_big_file(emulator: FilesEmulator) -> str:
    """Turn one downloadable file into a 20 MiB one; return its id."""
    old = emulator.files[emulator.ids("tool_output")[0]]
    emulator.remove(old.file_id)
    emulator.add(
        StoredFile(
            file_id=old.file_id,
            filename="big video.mp4",
            mime_type="video/mp4",
            purpose=old.purpose,
            content=BIG,
            created_at=old.created_at,
            updated_at=old.updated_at,
        )
    )
    return old.file_id


@pytest.fixture
def emulator() -> FilesEmulator:
    em = FilesEmulator()
    em.seed(45)
    return em


@pytest.fixture
async def app_url(
    emulator: FilesEmulator, base_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[str, web.Application]]:
    """The example app, in this process, on a free loopback port; its client on the emulator."""
    monkeypatch.setenv("QODER_PAT", emulator.token)
    monkeypatch.setenv("QODER_BASE_URL", base_url)
    app = load_webapp().make_app()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        await runner.cleanup()


@pytest.fixture
async def browser() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def pool(client: AsyncClient) -> tuple[int, int]:
    """The client's open connections: (in use, idle in the pool).

    Read from aiohttp's connector, the one place that knows; there is no public count.
    """
    connector: Any = client._sender.content_transport._session.connector  # type: ignore[attr-defined]
    idle = sum(len(entries) for entries in connector._conns.values())
    return len(connector._acquired), idle


async def test_the_listing_pages_through_with_cursors(
    app_url: tuple[str, web.Application], browser: aiohttp.ClientSession, emulator: FilesEmulator
) -> None:
    url, _ = app_url
    seen: list[str] = []
    cursor: str | None = None
    while True:
        query = {"limit": "20"} | ({"cursor": cursor} if cursor else {})
        async with browser.get(f"{url}/files", params=query) as response:
            assert response.status == 200
            page = await response.json()
        seen += [item["file_id"] for item in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(emulator.ids(), reverse=True)  # every file once, newest first
    async with browser.get(f"{url}/files", params={"limit": "500"}) as response:
        assert response.status == 400
        assert "limit" in (await response.json())["error"]


async def test_a_download_streams_with_its_headers_and_errors_map(
    app_url: tuple[str, web.Application], browser: aiohttp.ClientSession, emulator: FilesEmulator
) -> None:
    url, _ = app_url
    file_id = with_big_file(emulator)
    async with browser.get(f"{url}/files/{file_id}/content") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "video/mp4"
        assert response.headers["Content-Length"] == str(len(BIG))
        assert response.headers["Content-Disposition"] == (
            "attachment; filename*=UTF-8''big%20video.mp4"
        )
        assert await response.read() == BIG
    internal = next(i for i in emulator.ids() if not emulator.files[i].downloadable)
    for path, status in [(internal, 403), ("file_missing", 404)]:
        async with browser.get(f"{url}/files/{path}/content") as response:
            assert response.status == status
            assert (await response.json())["type"] in ("permission_error", "not_found_error")


async def test_a_browser_leaving_mid_download_releases_the_upstream_fetch(
    app_url: tuple[str, web.Application], browser: aiohttp.ClientSession, emulator: FilesEmulator
) -> None:
    url, app = app_url
    file_id = with_big_file(emulator)
    client = next(value for value in app.values() if isinstance(value, AsyncClient))
    response = await browser.get(f"{url}/files/{file_id}/content")
    assert len(await response.content.readexactly(MIB)) == MIB
    assert pool(client)[0] == 1  # the storage fetch is under way
    response.close()  # the browser goes away, 19 MiB before the end
    for _ in range(200):
        if pool(client)[0] == 0:
            break
        await asyncio.sleep(0.01)
    in_use, idle = pool(client)
    assert in_use == 0
    assert idle <= 1  # at most the API connection; the storage one was closed, not pooled
    # The app goes on serving.
    async with browser.get(f"{url}/files/{file_id}/content") as again:
        assert await again.read() == BIG


async def test_an_upload_is_streamed_through_byte_identical(
    app_url: tuple[str, web.Application], browser: aiohttp.ClientSession, emulator: FilesEmulator
) -> None:
    url, _ = app_url
    form = aiohttp.FormData()
    form.add_field(
        "file", io.BytesIO(BIG), filename="clip.bin", content_type="application/octet-stream"
    )
    async with browser.post(f"{url}/files", data=form) as response:
        assert response.status == 201
        stored = await response.json()
    assert stored["size_bytes"] == len(BIG)
    assert emulator.files[stored["file_id"]].content == BIG
    bad = aiohttp.FormData()
    bad.add_field("other", b"x", filename="x.bin")
    async with browser.post(f"{url}/files", data=bad) as response:
        assert response.status == 400


# --- memory of 20 downloads at once, in the app's own process -----------------------------------


@pytest.fixture
def served_emulator() -> Iterator[tuple[FilesEmulator, str, str]]:
    emulator = FilesEmulator()
    emulator.seed(10)
    file_id = with_big_file(emulator)
    with emulator.serve_in_thread() as base_url:
        yield emulator, base_url, file_id


APP_PROCESS = """
import asyncio, json, resource, sys
sys.path.insert(0, {examples!r})
from aiohttp import web
import webapp

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

async def main():
    runner = web.AppRunner(webapp.make_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    before = peak_mb()
    print(site._server.sockets[0].getsockname()[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()
    print(json.dumps({{"grew_mb": peak_mb() - before}}), flush=True)

asyncio.run(main())
"""


async def fetch_digest(browser: aiohttp.ClientSession, url: str) -> str:
    hasher = hashlib.sha256()
    async with browser.get(url) as response:
        assert response.status == 200
        async for chunk in response.content.iter_chunked(MIB):
            hasher.update(chunk)
    return hasher.hexdigest()


def test_twenty_concurrent_downloads_and_an_upload_keep_the_app_under_64_mb(
    served_emulator: tuple[FilesEmulator, str, str],
) -> None:
    emulator, base_url, file_id = served_emulator
    env = dict(os.environ, QODER_PAT=emulator.token, QODER_BASE_URL=base_url)
    code = textwrap.dedent(APP_PROCESS.format(examples=str(EXAMPLES)))
    with subprocess.Popen(
        [sys.executable, "-W", "error", "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    ) as app:
        assert app.stdin is not None
        assert app.stdout is not None
        try:
            url = f"http://127.0.0.1:{app.stdout.readline().strip()}"

            async def drive() -> tuple[list[str], dict[str, Any]]:
                async with aiohttp.ClientSession() as browser:
                    content_url = f"{url}/files/{file_id}/content"
                    digests = await asyncio.gather(
                        *(fetch_digest(browser, content_url) for _ in range(20))
                    )
                    form = aiohttp.FormData()
                    form.add_field("file", io.BytesIO(BIG), filename="back.bin")
                    async with browser.post(f"{url}/files", data=form) as response:
                        assert response.status == 201
                        stored = await response.json()
                return list(digests), stored

            digests, stored = asyncio.run(drive())
            app.stdin.close()
            found = json.loads(app.stdout.readline())
        finally:
            if not app.stdin.closed:  # failed before the app was told to stop
                app.kill()
        assert app.wait(30) == 0
    assert digests == [hashlib.sha256(BIG).hexdigest()] * 20
    assert emulator.files[stored["file_id"]].content == BIG
    assert found["grew_mb"] < 64, found
