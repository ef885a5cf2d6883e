"""Every published API generation, for real: the client against the independent strict servers.

``strict_servers`` implements each generation's list route from the fact sheet and nothing
else (the seed server ignores ``page``/``name``/``scope_id``; the newest ignores ``purpose``,
``after`` and ``before``), so a client that sends the wrong dialect gets wrong pages, not
errors. Each test runs with the generation detected (``auto``) and pinned.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from strict_servers import SESSIONS, StrictG1Server, StrictG3Server

from qoder_files import AsyncClient, Client, File, RetryPolicy
from qoder_files._generations import G1, G3, Dialect, check_generation, detect
from qoder_files._wire import list_request

TOKEN = "pt-strict"
Server = StrictG1Server | StrictG3Server


@pytest.fixture(params=[(G1, "auto"), (G1, G1), (G3, "auto"), (G3, G3)], ids=str)
async def served(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Server, str, str]]:
    generation, pinned = request.param
    server: Server = StrictG1Server() if generation == G1 else StrictG3Server()
    server.seed(250)
    async with server.serve() as url:
        yield server, url, pinned


def client_for(url: str, pinned: str) -> AsyncClient:
    return AsyncClient(
        TOKEN, base_url=url, api_generation=pinned, retry=RetryPolicy(backoff_base=0.0)
    )


def ids(files: list[File]) -> list[str]:
    return [f.file_id for f in files]


@pytest.mark.parametrize("limit", [1, 7, 100])
async def test_full_forward_walks(served: tuple[Server, str, str], limit: int) -> None:
    server, url, pinned = served
    async with client_for(url, pinned) as client:
        got = ids(await client.list_files(limit=limit).collect(unbounded=True))
    assert got == server.ids()


@pytest.mark.parametrize("position", [0, 1, 57, 248, 249])
async def test_fresh_clients_start_from_a_cursor_either_way(
    served: tuple[Server, str, str], position: int
) -> None:
    server, url, pinned = served
    everything = server.ids()
    anchor = everything[position]
    async with client_for(url, pinned) as client:
        older = ids(await client.list_files(after=anchor, limit=9).collect(unbounded=True))
    async with client_for(url, pinned) as client:
        newer = ids(await client.list_files(before=anchor, limit=9).collect(unbounded=True))
    assert older == everything[position + 1 :]
    assert newer == everything[:position][::-1]  # the order of travel


async def test_resume_after_break(served: tuple[Server, str, str]) -> None:
    server, url, pinned = served
    async with client_for(url, pinned) as client:
        pager = client.list_files(limit=13)
        first: list[str] = []
        async for file in pager:
            first.append(file.file_id)
            if len(first) == 40:
                break
        await pager.aclose()
        rest = ids(await client.list_files(after=pager.cursor, limit=13).collect(unbounded=True))
    assert first + rest == server.ids()


def prefix_matches(server: Server, prefix: str) -> list[str]:
    return [r.id for r in server.live() if r.filename.lower().startswith(prefix.lower())]


@pytest.mark.parametrize("max_items", [1, 6, 30])
async def test_name_filter_with_max_items(served: tuple[Server, str, str], max_items: int) -> None:
    server, url, pinned = served
    expected = prefix_matches(server, "re")[:max_items]
    async with client_for(url, pinned) as client:
        pager = client.list_files(name="RE", limit=10, max_items=max_items)
        got = ids(await pager.collect())
        rest = ids(
            await client.list_files(name="re", after=pager.cursor, limit=10).collect(unbounded=True)
        )
        page = await client.get_page(name="re", limit=20)
    assert got == expected
    assert got + rest == prefix_matches(server, "re")  # the resume cursor loses nothing
    matching = set(prefix_matches(server, "re"))
    if isinstance(server, StrictG1Server):  # filtered here, page by page
        assert ids(page.data) == [i for i in server.ids()[:20] if i in matching]
        assert all("name" not in seen.params for seen in server.requests)
    else:  # the server filtered
        assert ids(page.data) == prefix_matches(server, "re")[:20]


async def test_scope_filter_on_the_newest_generation() -> None:
    server = StrictG3Server()
    server.seed(250)
    scope = SESSIONS[1]
    async with server.serve() as url, client_for(url, "auto") as client:
        got = ids(await client.list_files(scope_id=scope, limit=10).collect(unbounded=True))
        scanned = ids(await client.scan_files(scope_id=scope, limit=10).collect(unbounded=True))
    expected = [r.id for r in server.live() if r.scope_id == scope]
    assert got == expected
    assert scanned == expected
    assert got


@pytest.mark.parametrize("pinned", ["auto", G1, G3])
async def test_refusals_hand_out_nothing(pinned: str) -> None:
    cases: list[tuple[Server, dict[str, Any], str]] = [
        (StrictG3Server(), {"purpose": "tool_output"}, "purpose cannot filter"),
        (StrictG1Server(), {"scope_id": SESSIONS[0]}, "scope_id cannot filter"),
    ]
    for server, kwargs, message in cases:
        generation = G3 if isinstance(server, StrictG3Server) else G1
        if pinned not in ("auto", generation):
            continue
        server.seed(50)
        got: list[File] = []
        async with server.serve() as url, client_for(url, pinned) as client:
            pager = client.list_files(**kwargs)

            async def consume(pager: Any = pager, got: list[File] = got) -> None:
                async for file in pager:
                    got.append(file)

            with pytest.raises(ValueError, match=message):
                await consume()
            with pytest.raises(ValueError, match=message):
                await client.get_page(**kwargs)
        assert got == []
        listed = [seen for seen in server.requests if seen.path.endswith("/files")]
        assert all(seen.params == {"limit": "1"} for seen in listed)  # at most the probe


@contextlib.contextmanager
def serve_in_thread(server: Server) -> Iterator[str]:
    ready: list[str] = []
    started = threading.Event()
    stop: list[asyncio.Event] = []
    loop_box: list[asyncio.AbstractEventLoop] = []

    async def main() -> None:
        async with server.serve() as url:
            ready.append(url)
            stop.append(asyncio.Event())
            loop_box.append(asyncio.get_running_loop())
            started.set()
            await stop[0].wait()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield ready[0]
    finally:
        loop_box[0].call_soon_threadsafe(stop[0].set)
        thread.join(10)


@pytest.mark.parametrize("generation", [G1, G3])
def test_the_sync_facade_both_ways(generation: str) -> None:
    server: Server = StrictG1Server() if generation == G1 else StrictG3Server()
    server.seed(120)
    everything = server.ids()
    with serve_in_thread(server) as url, Client(TOKEN, base_url=url) as client:
        assert ids(list(client.list_files(limit=11))) == everything
        back = ids(client.list_files(before=everything[60], limit=11).collect(unbounded=True))
        assert back == everything[:60][::-1]
        named = ids(client.list_files(name="notes", max_items=4).collect())
        assert named == prefix_matches(server, "notes")[:4]


async def test_uploads_and_deletes_in_each_generation() -> None:
    for server in (StrictG1Server(), StrictG3Server()):
        server.seed(5)
        async with server.serve() as url, client_for(url, "auto") as client:
            if isinstance(server, StrictG3Server):
                with pytest.raises(ValueError, match="purpose cannot be set"):
                    await client.upload_file(b"x\n", filename="a.md", purpose="user_upload")
                assert not [s for s in server.requests if s.method == "POST"]
                stored = await client.upload_file(b"# notes\n", filename="notes.md")
            else:
                stored = await client.upload_file(
                    b"# notes\n", filename="notes.md", purpose="tool_output"
                )
            assert stored.filename == "notes.md"
            assert (await client.get_file(stored.file_id)).file_id == stored.file_id
            await client.delete_file(stored.file_id)
            assert stored.file_id not in server.ids()


# --- the pure side ------------------------------------------------------------------------------


def test_detect_reads_items_then_the_envelope() -> None:
    assert detect({"data": [{"file_id": "file_1"}], "next_page": "x"}) == G1
    assert detect({"data": [{"id": "file_1", "type": "file"}]}) == G3
    assert detect({"data": [], "next_page": None}) == G3
    assert detect({"data": []}) == G1
    assert detect([]) == G1


def test_render_per_generation() -> None:
    request = list_request(limit=5, after="file_a", name="re")
    unknown = Dialect()
    assert unknown.needs_probe(request)
    assert not unknown.needs_probe(list_request(limit=5))
    g1, g3 = Dialect(G1), Dialect(G3)
    assert dict(g1.render(request).params) == {"limit": "5", "after": "file_a"}
    assert dict(g3.render(request).params) == {"name": "re", "limit": "5", "after_id": "file_a"}
    assert dict(g3.render(list_request(before="file_b")).params) == {"before_id": "file_b"}
    assert g1.render(list_request(limit=3)) == list_request(limit=3)
    g1.learn(G3)
    assert g1.generation == G1  # a pin is never overridden
    unknown.learn(G3)
    unknown.learn(G1)
    assert unknown.generation == G3  # the first answer wins


def test_api_generation_is_checked() -> None:
    assert check_generation("g3") == "g3"
    with pytest.raises(ValueError, match="api_generation"):
        check_generation("g2")
    with pytest.raises(ValueError, match="api_generation"):
        AsyncClient(TOKEN, api_generation="latest")
