"""The client against servers that misbehave on purpose (``hostile.py``), not the emulator.

Each test pins one defect class of the transport-seam work: bounded memory whatever the body,
redirects never followed, exact success statuses, a spinning server stopped, presigned links
checked before use, downloads to a path, one client across event loops, and proxies; and
malformed fields of the newer file shape refused as a typed error, in a page and alone.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from dev_mode import run_quietly
from hostile import HostileServer, gzip_bomb

from qoder_files import (
    AsyncClient,
    InvalidResponseError,
    PaginationError,
    RedirectError,
    RetryPolicy,
)
from qoder_files.testing import FilesEmulator

TOKEN = "pt-hostile-0123456789SECRET"
FILE_ID = "file_019e3bb8c1387743bf4ef115aae5acb1"
FILE = {
    "file_id": FILE_ID,
    "filename": "a.txt",
    "size_bytes": 1,
    "mime_type": "text/plain",
    "purpose": "tool_output",
    "status": "ready",
    "metadata": {},
    "created_at": "2026-05-18T15:33:44Z",
}
TESTS = Path(__file__).parent


def quick(url: str, token: str = TOKEN, **kwargs: Any) -> AsyncClient:
    return AsyncClient(token, base_url=url, retry=RetryPolicy(backoff_base=0.0), **kwargs)


# --- 1. bounded memory -------------------------------------------------------------------------


async def test_a_body_over_the_cap_is_a_typed_error() -> None:
    async def big(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b" " * 5000, content_type="application/json")

    server = HostileServer({("GET", "/api/v1/cloud/files"): big})
    async with server.serve() as url, quick(url, max_response_bytes=4096) as client:
        with pytest.raises(InvalidResponseError, match="larger than 4096 bytes") as info:
            await client.get_page()
    assert TOKEN not in str(info.value)
    assert len(server.seen) == 1  # not retried: a bigger body will not shrink


async def test_a_gzip_body_inflating_past_the_cap_is_a_typed_error() -> None:
    bomb = gzip_bomb(64 << 20)

    async def inflating(request: web.Request) -> web.StreamResponse:
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip"})

    server = HostileServer({("GET", "/api/v1/cloud/files"): inflating})
    async with server.serve() as url, quick(url, max_response_bytes=1 << 20) as client:
        with pytest.raises(InvalidResponseError, match="larger than"):
            await client.get_page()


@pytest.mark.parametrize("kind", ["bomb", "endless"])
def test_hostile_bodies_stay_under_250_mb(kind: str) -> None:
    with subprocess.Popen(
        [sys.executable, str(TESTS / "hostile.py"), kind], stdout=subprocess.PIPE, text=True
    ) as server:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        script = textwrap.dedent(
            f"""
            import asyncio, resource
            from qoder_files import AsyncClient, InvalidResponseError

            async def main():
                async with AsyncClient({TOKEN!r}, base_url={url!r}, max_retries=0) as client:
                    try:
                        await client.get_page()
                    except InvalidResponseError as error:
                        print("typed:", error)

            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            asyncio.run(main())
            after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            print("grew_mb:", (after - before) / 1024)
            """
        )
        try:
            result = subprocess.run(
                [sys.executable, "-c", script],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        finally:
            server.kill()
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert "larger than" in lines["typed"]
    assert float(lines["grew_mb"]) < 250


# --- 4. exact success statuses; 3xx never followed ------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirected_delete_is_an_error_not_a_success(status: int) -> None:
    async def moved(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, headers={"Location": "https://elsewhere.test/x"})

    server = HostileServer({("DELETE", f"/api/v1/cloud/files/{FILE_ID}"): moved})
    async with server.serve() as url, quick(url) as client:
        with pytest.raises(RedirectError) as info:
            await client.delete_file(FILE_ID)
    assert info.value.status_code == status
    assert info.value.location == "https://elsewhere.test/x"
    assert [seen[0] for seen in server.seen] == ["DELETE"]  # never followed


async def test_a_redirected_listing_is_an_error() -> None:
    async def moved(request: web.Request) -> web.StreamResponse:
        return web.Response(status=307, headers={"Location": "/api/v1/cloud/files2"})

    server = HostileServer({("GET", "/api/v1/cloud/files"): moved})
    async with server.serve() as url, quick(url) as client:
        with pytest.raises(RedirectError, match="never follow"):
            await client.get_page()
    assert [seen[1] for seen in server.seen] == ["/api/v1/cloud/files"]


@pytest.mark.parametrize(("status", "ok"), [(200, True), (202, True), (204, True), (201, False)])
async def test_delete_success_statuses_are_exact(status: int, ok: bool) -> None:
    async def answer(request: web.Request) -> web.StreamResponse:
        if status == 204:
            return web.Response(status=204)
        return web.json_response({"id": FILE_ID, "type": "file_deleted"}, status=status)

    server = HostileServer({("DELETE", f"/api/v1/cloud/files/{FILE_ID}"): answer})
    async with server.serve() as url, quick(url) as client:
        if ok:
            await client.delete_file(FILE_ID)
        else:
            with pytest.raises(InvalidResponseError, match="status 201"):
                await client.delete_file(FILE_ID)


# --- 5. a spinning server stops ----------------------------------------------------------------


@pytest.mark.parametrize("max_items", [None, 10])
async def test_endless_empty_pages_raise(max_items: int | None) -> None:
    counter = iter(range(10**6))

    async def spin(request: web.Request) -> web.StreamResponse:
        cursor = f"file_{next(counter):032x}"
        return web.json_response(
            {"data": [], "first_id": cursor, "last_id": cursor, "has_more": True}
        )

    server = HostileServer({("GET", "/api/v1/cloud/files"): spin})
    async with server.serve() as url, quick(url) as client:
        pager = client.list_files(max_items=max_items)
        with pytest.raises(PaginationError, match="empty pages in a row"):
            await pager.collect(unbounded=True)
    assert 100 < len(server.seen) <= 102


# --- 6. presigned links checked before use -------------------------------------------------------


@pytest.mark.parametrize(
    "link",
    [
        "//storage.example.test/x?Signature=SECRETSIG",
        "http://storage.example.test/x?Signature=SECRETSIG",
        "ftp://storage.example.test/x?Signature=SECRETSIG",
        "https:///x?Signature=SECRETSIG",
        "not a url?Signature=SECRETSIG",
    ],
)
async def test_unsafe_download_links_are_refused_without_their_signature(link: str) -> None:
    async def content(request: web.Request) -> web.StreamResponse:
        return web.json_response({"url": link, "expires_at": "2099-01-01T00:00:00Z"})

    server = HostileServer({("GET", f"/api/v1/cloud/files/{FILE_ID}/content"): content})
    async with server.serve() as url, quick(url, max_retries=0) as client:
        with pytest.raises(InvalidResponseError, match="not an https URL") as info:
            await client.download_file(FILE_ID)
    assert "SECRETSIG" not in str(info.value)
    assert "SECRETSIG" not in repr(info.value)
    assert len(server.seen) == 1  # nothing fetched


async def test_a_storage_redirect_to_plain_http_is_refused() -> None:
    server = HostileServer({})

    async def content(request: web.Request) -> web.StreamResponse:
        return web.json_response({"url": str(request.url.with_path("/blob").with_query(None))})

    async def blob(request: web.Request) -> web.StreamResponse:
        return web.Response(
            status=302, headers={"Location": "http://storage.example.test/x?sig=SECRETSIG"}
        )

    server.routes[("GET", f"/api/v1/cloud/files/{FILE_ID}/content")] = content
    server.routes[("GET", "/blob")] = blob
    async with server.serve() as url, quick(url, max_retries=0) as client:
        with pytest.raises(InvalidResponseError) as info:
            await client.download_file(FILE_ID)
    assert "SECRETSIG" not in str(info.value)


# --- 8. downloads to a path --------------------------------------------------------------------


@pytest.fixture
def one_download() -> FilesEmulator:
    emulator = FilesEmulator()
    emulator.seed(12)
    return emulator


def downloadable(emulator: FilesEmulator) -> str:
    return emulator.ids("tool_output")[0]


async def test_dest_empty_string_is_refused(one_download: FilesEmulator) -> None:
    async with one_download.serve() as url, quick(url, one_download.token) as client:
        with pytest.raises(ValueError, match="dest must be a non-empty path"):
            await client.download_file(downloadable(one_download), "")
    assert one_download.requests == []


async def test_long_utf8_names_and_kept_permissions(
    one_download: FilesEmulator, tmp_path: Path
) -> None:
    name = "é" * 124 + ".t"  # 250 bytes: the old temporary name overflowed 255 bytes
    assert len(name.encode()) == 250
    dest = tmp_path / name
    dest.write_bytes(b"old")
    os.chmod(dest, 0o640)
    async with one_download.serve() as url, quick(url, one_download.token) as client:
        await client.download_file(downloadable(one_download), dest)
    assert dest.read_bytes() != b"old"
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o640
    assert os.listdir(tmp_path) == [name]


# --- 9. one client across successive event loops -----------------------------------------------


def test_one_client_across_two_asyncio_runs() -> None:
    script = textwrap.dedent(
        """
        import asyncio, gc
        import logging
        logging.getLogger("asyncio").setLevel(logging.ERROR)  # slow callbacks: a busy machine
        from qoder_files import AsyncClient
        from qoder_files.testing import FilesEmulator

        emulator = FilesEmulator()
        emulator.seed(30)
        with emulator.serve_in_thread() as url:
            client = AsyncClient(emulator.token, base_url=url)

            async def use():
                return len([f async for f in client.list_files(limit=7)])

            print(asyncio.run(use()), asyncio.run(use()))
            asyncio.run(client.aclose())
            del client
            gc.collect()
        """
    )
    assert run_quietly(script, timeout=60).split() == ["30", "30"]


# --- 10. proxies --------------------------------------------------------------------------------


class ForwardProxy:
    """A plain-http forward proxy on loopback that records each request it relays."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str | None]] = []

    async def relay(self, request: web.Request) -> web.StreamResponse:
        import aiohttp

        target = str(request.url)  # absolute-form request line: the target URL
        self.seen.append((request.method, target, request.headers.get("Authorization")))
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host",)}
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method,
                target,
                headers=headers,
                data=await request.read(),
                allow_redirects=False,
            ) as upstream,
        ):
            body = await upstream.read()
            kept = {
                k: v
                for k, v in upstream.headers.items()
                if k.lower() not in ("transfer-encoding", "content-encoding", "content-length")
            }
            return web.Response(status=upstream.status, body=body, headers=kept)


@pytest.fixture
async def proxy_url() -> Any:
    proxy = ForwardProxy()
    server = HostileServer({})
    server._dispatch = proxy.relay  # type: ignore[method-assign]
    async with server.serve() as url:
        yield proxy, url.removesuffix("/api/v1/cloud")


@pytest.mark.parametrize("how", ["environment", "argument"])
async def test_requests_and_downloads_go_through_the_proxy(
    how: str, proxy_url: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy, address = proxy_url
    emulator = FilesEmulator()
    emulator.seed(10)
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    kwargs: dict[str, Any] = {}
    if how == "environment":
        monkeypatch.setenv("HTTP_PROXY", address)
    else:
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # overridden: never used
        kwargs["proxy"] = address
    async with emulator.serve() as url, quick(url, emulator.token, **kwargs) as client:
        files = [f async for f in client.list_files(limit=5)]
        content = await client.download_file(downloadable(emulator))
    assert len(files) == 10
    assert content
    paths = [target.split("?")[0] for _, target, _ in proxy.seen]
    assert sum(path.endswith("/api/v1/cloud/files") for path in paths) == 2  # both pages
    assert sum(path.endswith("/content") for path in paths) == 1
    api = [auth for _, target, auth in proxy.seen if "/_download/" not in target]
    assert set(api) == {f"Bearer {emulator.token}"}
    presigned = [auth for _, target, auth in proxy.seen if "/_download/" in target]
    assert presigned == [None]  # the content, fetched through the proxy without the token


def test_a_bad_proxy_is_refused_without_its_password() -> None:
    with pytest.raises(ValueError, match="proxy") as info:
        AsyncClient(TOKEN, proxy="socks5://user:hunter2@proxy.test:1080")
    assert "hunter2" not in str(info.value)


# --- 11. malformed newer fields ------------------------------------------------------------------

G3_FILE = {
    "id": FILE_ID,
    "type": "file",
    "filename": "a.txt",
    "mime_type": "text/plain",
    "size_bytes": 1,
    "downloadable": True,
    "scope": {"id": "sess_019e3bb8e6c47d18", "type": "session"},
    "metadata": {},
    "created_at": "2026-05-18T15:33:44Z",
}


@pytest.mark.parametrize(
    "change",
    [
        {"scope": "sess_019e3bb8e6c47d18"},
        {"scope": {"id": "sess_019e3bb8e6c47d18"}},
        {"scope": {"id": 7, "type": "session"}},
        {"downloadable": "true"},
    ],
)
async def test_a_malformed_scope_or_flag_is_an_invalid_response(change: dict[str, Any]) -> None:
    broken = {**G3_FILE, **change}

    async def one(request: web.Request) -> web.StreamResponse:
        return web.json_response(broken)

    async def page(request: web.Request) -> web.StreamResponse:
        body = {"data": [G3_FILE, broken], "first_id": FILE_ID, "last_id": FILE_ID}
        return web.json_response({**body, "has_more": False, "next_page": None})

    field = next(iter(change))
    server = HostileServer(
        {("GET", f"/api/v1/cloud/files/{FILE_ID}"): one, ("GET", "/api/v1/cloud/files"): page}
    )
    async with server.serve() as url, quick(url) as client:
        with pytest.raises(InvalidResponseError, match=field):
            await client.get_file(FILE_ID)
        with pytest.raises(InvalidResponseError, match=field):
            await client.get_page()
