"""``json_batches()``: the same walk as ``batches()``, handing out the server's JSON objects.

Run against the independent strict servers of both generations (detected and pinned), through
the blocking facade, and against hostile pages built with ``MockTransport``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import test_generations
from strict_servers import StrictG1Server, StrictG3Server
from test_generations import TOKEN, Server, client_for

from qoder_files import AsyncClient, Client, HTTPRequest, InvalidResponseError
from qoder_files._convert import object_id
from qoder_files._generations import G1, G3
from qoder_files.testing import MockResponse, MockTransport

served = test_generations.served  # the strict servers of both generations, detected and pinned


async def objects_of(pager: Any) -> list[dict[str, Any]]:
    return [obj async for batch in pager.json_batches() for obj in batch]


@pytest.mark.parametrize("limit", [1, 7, 100])
async def test_forward_walks_hand_out_the_objects_as_sent(
    served: tuple[Server, str, str], limit: int
) -> None:
    server, url, pinned = served
    async with client_for(url, pinned) as client:
        objects = await objects_of(client.list_files(limit=limit))
        files = await client.list_files(limit=limit).collect(unbounded=True)
    assert [object_id(obj) for obj in objects] == server.ids()
    seed = isinstance(server, StrictG1Server)
    assert all(("file_id" in obj) is seed and ("type" in obj) is not seed for obj in objects)
    # the objects are what the typed listing reads, value for value
    assert [f.filename for f in files] == [obj["filename"] for obj in objects]
    assert [f.size_bytes for f in files] == [obj["size_bytes"] for obj in objects]


@pytest.mark.parametrize("position", [0, 1, 57, 248, 249])
async def test_fresh_clients_start_from_a_cursor_either_way(
    served: tuple[Server, str, str], position: int
) -> None:
    server, url, pinned = served
    everything = server.ids()
    anchor = everything[position]
    async with client_for(url, pinned) as client:
        older = await objects_of(client.list_files(after=anchor, limit=9))
    async with client_for(url, pinned) as client:
        newer = await objects_of(client.list_files(before=anchor, limit=9))
    assert [object_id(obj) for obj in older] == everything[position + 1 :]
    assert [object_id(obj) for obj in newer] == everything[:position][::-1]


async def test_max_items_is_exact_and_the_cursor_resumes(
    served: tuple[Server, str, str],
) -> None:
    server, url, pinned = served
    async with client_for(url, pinned) as client:
        pager = client.list_files(limit=30, max_items=101)
        first = await objects_of(pager)
        rest = await client.list_files(after=pager.cursor, limit=30).collect(unbounded=True)
    assert len(first) == 101
    assert pager.cursor == object_id(first[-1])
    assert [object_id(obj) for obj in first] + [f.file_id for f in rest] == server.ids()


async def test_the_name_filter_applies_to_objects_too(served: tuple[Server, str, str]) -> None:
    server, url, pinned = served
    wanted = [r.id for r in server.live() if r.filename.lower().startswith("re")]
    assert wanted  # the seeded names include some
    async with client_for(url, pinned) as client:
        objects = await objects_of(client.list_files(name="RE", limit=10))
    assert [object_id(obj) for obj in objects] == wanted


async def test_a_pager_is_used_once(served: tuple[Server, str, str]) -> None:
    _, url, pinned = served
    async with client_for(url, pinned) as client:
        pager = client.list_files(limit=5, max_items=5)
        await objects_of(pager)
        with pytest.raises(RuntimeError, match="only once"):
            await objects_of(pager)


@contextlib.contextmanager
def server_thread(server: Server) -> Iterator[str]:
    """``server`` on a loop of its own thread, for the blocking facade."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop = asyncio.Event()
    address: list[str] = []

    async def serve() -> None:
        async with server.serve() as url:
            address.append(url)
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield address[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


@pytest.mark.parametrize("generation", [G1, G3])
def test_the_blocking_twin(generation: str) -> None:
    server: Server = StrictG1Server() if generation == G1 else StrictG3Server()
    server.seed(120)
    with server_thread(server) as url, Client(TOKEN, base_url=url) as client:
        pager = client.list_files(limit=25, max_items=60)
        batches = list(pager.json_batches())
        rest = [f.file_id for f in client.list_files(after=pager.cursor)]
    assert [len(batch) for batch in batches] == [25, 25, 10]
    got = [object_id(obj) for batch in batches for obj in batch]
    assert pager.cursor == got[-1]
    assert got + rest == server.ids()


# --- hostile pages ---------------------------------------------------------------------------


def seed_object(file_id: str) -> dict[str, Any]:
    return {
        "file_id": file_id,
        "filename": "a.txt",
        "size_bytes": 1,
        "mime_type": "text/plain",
        "created_at": "2026-05-18T15:33:44Z",
    }


def mock_client(data: list[Any], **options: Any) -> AsyncClient:
    def listing(request: HTTPRequest) -> MockResponse:
        return MockResponse(json={"data": data, "has_more": False})

    return AsyncClient(
        TOKEN,
        base_url="https://api.example.test/api/v1/cloud",
        transport=MockTransport(listing),
        **options,
    )


@pytest.mark.parametrize(
    "item",
    [
        "file_1",
        None,
        [],
        {"filename": "no id.txt"},
        {"file_id": ""},
        {"file_id": 7},
        {"id": None, "type": "file"},
    ],
    ids=repr,
)
async def test_an_item_without_a_usable_id_is_refused(item: Any) -> None:
    async with mock_client([seed_object("file_a"), item]) as client:
        with pytest.raises(InvalidResponseError, match="documented shape") as caught:
            await objects_of(client.list_files())
    assert TOKEN not in str(caught.value)


async def test_other_fields_pass_through_untouched() -> None:
    odd = {**seed_object("file_b"), "size_bytes": "big", "extra": {"nested": [1, 2]}}
    async with mock_client([odd]) as client:
        objects = await objects_of(client.list_files())
    assert objects == [odd]


async def test_a_name_filter_skips_objects_whose_name_is_not_text() -> None:
    named = {**seed_object("file_c"), "filename": "report.md"}
    nameless = {**seed_object("file_d"), "filename": 12}
    async with mock_client([named, nameless], api_generation=G1) as client:
        objects = await objects_of(client.list_files(name="rep"))
    assert objects == [named]
