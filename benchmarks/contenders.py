"""The listings the benchmark puts side by side, each a plain blocking call.

Every contender lists every file the server has, newest first, with ``limit=100``, from a cold
client (session set up inside the timed call), and returns a ``Tally`` so the runner can check
that all of them saw the same files. None of them keeps the items: each is counted and dropped,
as a streaming job would.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime
from typing import Any, Generic, TypeVar

import aiohttp

LIMIT = 100

T = TypeVar("T")


class Tally:
    """How many items a contender saw, and the ids of the first and last."""

    __slots__ = ("count", "first", "last")

    def __init__(self) -> None:
        self.count = 0
        self.first: str | None = None
        self.last: str | None = None

    def key(self) -> tuple[int, str | None, str | None]:
        return self.count, self.first, self.last


def _tally_ids(ids: Iterable[str], tally: Tally) -> None:
    # The per-item work every contender does: look at the id.
    for file_id in ids:
        if tally.first is None:
            tally.first = file_id
        tally.last = file_id
        tally.count += 1


# --- the baseline: a hand-written aiohttp loop yielding plain dicts ---------------------------


async def _dict_items(
    session: aiohttp.ClientSession, url: str, loads: Callable[[bytes], Any]
) -> AsyncIterator[dict[str, Any]]:
    params = {"limit": str(LIMIT)}
    while True:
        async with session.get(url, params=params) as response:
            response.raise_for_status()
            page = loads(await response.read())
        for item in page["data"]:
            yield item
        if not page["has_more"]:
            return
        params = {"limit": str(LIMIT), "after": page["last_id"]}


async def _hand_loop(base_url: str, token: str, loads: Callable[[bytes], Any]) -> Tally:
    tally = Tally()
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        _tally_ids(
            [item["file_id"] async for item in _dict_items(session, f"{base_url}/files", loads)],
            tally,
        )
    return tally


def hand_loop_json(base_url: str, token: str) -> Tally:
    """aiohttp + ``json.loads``, plain dicts: the lower bound a typed SDK is measured against."""
    return asyncio.run(_hand_loop(base_url, token, json.loads))


def hand_loop_orjson(base_url: str, token: str) -> Tally:
    """The same loop with orjson (what the SDK uses with the ``speedups`` extra)."""
    import orjson

    return asyncio.run(_hand_loop(base_url, token, orjson.loads))


# --- qoder_files -------------------------------------------------------------------------------


async def _async_list(base_url: str, token: str) -> Tally:
    from qoder_files import AsyncClient

    tally = Tally()
    async with AsyncClient(token, base_url=base_url) as client:
        _tally_ids([f.file_id async for f in client.list_files(limit=LIMIT)], tally)
    return tally


def async_list_files(base_url: str, token: str) -> Tally:
    """``async for`` over ``AsyncClient.list_files(limit=100)``: typed ``File`` objects."""
    return asyncio.run(_async_list(base_url, token))


async def _async_scan(base_url: str, token: str) -> Tally:
    from qoder_files import AsyncClient

    tally = Tally()
    async with AsyncClient(token, base_url=base_url) as client:
        _tally_ids([f.file_id async for f in client.scan_files(limit=LIMIT)], tally)
    return tally


def async_scan_files(base_url: str, token: str) -> Tally:
    """``async for`` over ``AsyncClient.scan_files(limit=100)``: five cursors, merged."""
    return asyncio.run(_async_scan(base_url, token))


def sync_client_class() -> Any | None:
    """``qoder_files.Client`` when the sync facade is available, else ``None``."""
    try:
        import qoder_files

        return qoder_files.Client
    except (ImportError, AttributeError):
        return None


def sync_list_files(base_url: str, token: str) -> Tally:
    """``for`` over ``Client.list_files(limit=100)``: the blocking facade."""
    client_class = sync_client_class()
    if client_class is None:
        raise RuntimeError("qoder_files.Client is not available")
    tally = Tally()
    with client_class(token, base_url=base_url) as client:
        _tally_ids([f.file_id for f in client.list_files(limit=LIMIT)], tally)
    return tally


# --- the peer: the httpx + pydantic pager pattern of the big vendor SDKs -----------------------


def _pydantic_models() -> tuple[type[Any], type[Any]]:
    from pydantic import BaseModel, ConfigDict, Field

    class FileModel(BaseModel):
        model_config = ConfigDict(extra="allow", frozen=True)

        file_id: str
        filename: str
        size_bytes: int
        mime_type: str
        purpose: str | None = None
        status: str | None = None
        metadata: dict[str, Any] = Field(default_factory=dict)
        created_at: datetime
        updated_at: datetime | None = None

    class CursorPage(BaseModel, Generic[T]):
        data: list[T]
        first_id: str | None = None
        last_id: str | None = None
        has_more: bool = False

    return FileModel, CursorPage


class AsyncCursorPager(Generic[T]):
    """A generic auto-paging iterator over ``CursorPage[model]`` responses, as vendor SDKs do."""

    def __init__(self, http: Any, path: str, params: dict[str, str], page_model: Any) -> None:
        self._http = http
        self._path = path
        self._params = params
        self._page_model = page_model

    async def pages(self) -> AsyncIterator[Any]:
        params = dict(self._params)
        while True:
            response = await self._http.get(self._path, params=params)
            response.raise_for_status()
            page = self._page_model.model_validate(response.json())
            yield page
            if not page.has_more or not page.data:
                return
            params["after"] = page.last_id

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.data:
                yield item


async def _httpx_pydantic(base_url: str, token: str) -> Tally:
    import httpx

    file_model, cursor_page = _pydantic_models()
    tally = Tally()
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url + "/", headers=headers) as http:
        pager: AsyncCursorPager[Any] = AsyncCursorPager(
            http, "files", {"limit": str(LIMIT)}, cursor_page[file_model]
        )
        _tally_ids([f.file_id async for f in pager], tally)
    return tally


def httpx_pydantic(base_url: str, token: str) -> Tally:
    """httpx.AsyncClient + pydantic models with a generic page model, validated per page."""
    return asyncio.run(_httpx_pydantic(base_url, token))


# --- streaming: one large file's content, chunk by chunk ---------------------------------------

STREAM_CHUNK = 65536


def _byte_tally(size: int) -> Tally:
    tally = Tally()
    tally.count = size
    return tally


async def _hand_stream(base_url: str, token: str) -> Tally:
    from blobserver import FILE_ID

    size = 0
    async with aiohttp.ClientSession() as session:
        link_url = f"{base_url}/files/{FILE_ID}/content"
        async with session.get(link_url, headers={"Authorization": f"Bearer {token}"}) as answer:
            answer.raise_for_status()
            url = (await answer.json())["url"]
        async with session.get(url) as response:  # a presigned URL: no credentials
            response.raise_for_status()
            async for chunk in response.content.iter_chunked(STREAM_CHUNK):
                size += len(chunk)
    return _byte_tally(size)


def hand_stream(base_url: str, token: str) -> Tally:
    """aiohttp: the link, then the content in 64 KiB chunks: the baseline for a stream."""
    return asyncio.run(_hand_stream(base_url, token))


async def _async_stream_file(base_url: str, token: str) -> Tally:
    from blobserver import FILE_ID

    from qoder_files import AsyncClient

    size = 0
    async with (
        AsyncClient(token, base_url=base_url) as client,
        client.stream_file(FILE_ID, chunk_size=STREAM_CHUNK) as stream,
    ):
        async for chunk in stream:
            size += len(chunk)
    return _byte_tally(size)


def async_stream_file(base_url: str, token: str) -> Tally:
    """``AsyncClient.stream_file``, 64 KiB chunks."""
    return asyncio.run(_async_stream_file(base_url, token))


def sync_stream_file(base_url: str, token: str) -> Tally:
    """``Client.stream_file`` (the blocking twin), 64 KiB chunks."""
    from blobserver import FILE_ID

    client_class = sync_client_class()
    assert client_class is not None
    size = 0
    with (
        client_class(token, base_url=base_url) as client,
        client.stream_file(FILE_ID, chunk_size=STREAM_CHUNK) as stream,
    ):
        for chunk in stream:
            size += len(chunk)
    return _byte_tally(size)
