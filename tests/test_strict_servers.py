"""The strict test servers themselves, spoken to on the wire, and today's client against G1.

These pin what ``strict_servers`` promises (each generation's paging, filters, refusals and
one-file routes), so a later client test that passes against them means what it says.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from strict_servers import StrictG1Server, StrictG3Server

from qoder_files import AsyncClient, RetryPolicy

AUTH = {"Authorization": "Bearer pt-strict"}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def g1() -> AsyncIterator[tuple[StrictG1Server, str]]:
    server = StrictG1Server()
    server.seed(250)
    async with server.serve() as url:
        yield server, url


@pytest.fixture
async def g3() -> AsyncIterator[tuple[StrictG3Server, str]]:
    server = StrictG3Server()
    server.seed(250)
    async with server.serve() as url:
        yield server, url


async def get(
    http: aiohttp.ClientSession, url: str, params: dict[str, str] | None = None
) -> tuple[int, Any]:
    async with http.get(url, params=params, headers=AUTH) as response:
        return response.status, await response.json(content_type=None)


def ids_of(body: dict[str, Any], key: str) -> list[str]:
    return [item[key] for item in body["data"]]


# --- both -------------------------------------------------------------------------------


def test_seed_is_deterministic_and_orders_by_time_then_id() -> None:
    first, second = StrictG1Server(), StrictG3Server()
    assert [r.id for r in first.seed(40, seed=3)] == [r.id for r in second.seed(40, seed=3)]
    live = first.live()
    assert [r.id for r in live] == [
        r.id for r in sorted(live, key=lambda r: (r.created_at, r.id), reverse=True)
    ]
    # Ties in creation time exist, and ids are not in time order: a client cannot sort by id.
    times = [r.created_at for r in live]
    assert len(set(times)) < len(times)
    assert [r.id for r in live] != sorted((r.id for r in live), reverse=True)


@pytest.mark.parametrize("server_class", [StrictG1Server, StrictG3Server])
async def test_bearer_auth_only(
    http: aiohttp.ClientSession, server_class: type[StrictG1Server | StrictG3Server]
) -> None:
    server = server_class()
    async with server.serve() as url:
        for headers in ({}, {"Authorization": "Bearer pt-other"}, {"x-api-key": "pt-strict"}):
            async with http.get(f"{url}/files", headers=headers) as response:
                assert response.status == 401
                body = await response.json()
        assert body["error"] == {
            "type": "authentication_error",
            "message": "Invalid API key or token.",
        }
        assert ("request_id" in body) is (server_class is StrictG3Server)
    assert [seen.headers.get("x-api-key") for seen in server.requests] == [None, None, "pt-strict"]


# --- the seed generation ----------------------------------------------------------------


async def test_g1_first_page_envelope_and_item(
    http: aiohttp.ClientSession, g1: tuple[StrictG1Server, str]
) -> None:
    server, url = g1
    status, body = await get(http, f"{url}/files")
    assert status == 200
    assert sorted(body) == ["data", "first_id", "has_more", "last_id"]
    assert ids_of(body, "file_id") == server.ids()[:20]
    assert (body["first_id"], body["last_id"], body["has_more"]) == (
        server.ids()[0],
        server.ids()[19],
        True,
    )
    assert sorted(body["data"][0]) == [
        "created_at",
        "file_id",
        "filename",
        "metadata",
        "mime_type",
        "purpose",
        "size_bytes",
        "status",
        "updated_at",
    ]
    assert all("." not in item["created_at"] for item in body["data"])


@pytest.mark.parametrize("purpose", [None, "tool_output"])
async def test_g1_walks_forward_and_backward(
    http: aiohttp.ClientSession, g1: tuple[StrictG1Server, str], purpose: str | None
) -> None:
    server, url = g1
    expected = [r.id for r in server.live() if purpose is None or r.purpose == purpose]
    base = {"limit": "7"} | ({"purpose": purpose} if purpose else {})
    forward: list[str] = []
    params = dict(base)
    while True:
        status, body = await get(http, f"{url}/files", params)
        assert status == 200
        forward += ids_of(body, "file_id")
        if not body["has_more"]:
            break
        params = base | {"after": body["last_id"]}
    assert forward == expected
    # Backward from the oldest: each page is newest first, pages come toward the newest.
    backward: list[str] = []
    params = base | {"before": expected[-1]}
    while True:
        status, body = await get(http, f"{url}/files", params)
        assert status == 200
        backward = ids_of(body, "file_id") + backward
        if not body["has_more"]:
            break
        params = base | {"before": body["first_id"]}
    assert backward == expected[:-1]


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "-3"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"purpose": "everything"}, "purpose"),
        ({"after": "file_unknown"}, "after"),
        ({"before": "file_unknown"}, "before"),
    ],
)
async def test_g1_refuses_bad_parameters(
    http: aiohttp.ClientSession,
    g1: tuple[StrictG1Server, str],
    params: dict[str, str],
    param: str,
) -> None:
    _, url = g1
    status, body = await get(http, f"{url}/files", params)
    assert status == 400
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["param"] == param


async def test_g1_limit_cap_and_both_cursors(
    http: aiohttp.ClientSession, g1: tuple[StrictG1Server, str]
) -> None:
    server, url = g1
    status, body = await get(http, f"{url}/files", {"limit": "500"})
    assert (status, len(body["data"])) == (200, 100)
    ids = server.ids()
    status, body = await get(http, f"{url}/files", {"after": ids[3], "before": ids[9]})
    assert status == 400
    assert "mutually exclusive" in body["error"]["message"]


async def test_g1_ignores_other_generations_parameters(
    http: aiohttp.ClientSession, g1: tuple[StrictG1Server, str]
) -> None:
    server, url = g1
    ids = server.ids()
    foreign = {
        "after_id": ids[10],
        "before_id": ids[40],
        "page": "pg_anything",
        "name": "zzz",
        "scope_id": "sess_none",
        "limit": "5",
    }
    status, body = await get(http, f"{url}/files", foreign)
    assert status == 200
    assert ids_of(body, "file_id") == ids[:5]
    assert server.requests[-1].params == foreign


async def test_g1_one_file_routes(
    http: aiohttp.ClientSession, g1: tuple[StrictG1Server, str]
) -> None:
    server, url = g1
    live = server.live()
    downloadable = next(r for r in live if r.purpose == "tool_output")
    internal = next(r for r in live if r.purpose == "session_resource")
    status, body = await get(http, f"{url}/files/{downloadable.id}")
    assert (status, body["file_id"], body["purpose"]) == (200, downloadable.id, "tool_output")
    # The content route: 302, the link in Location and in the JSON body.
    link_url = f"{url}/files/{downloadable.id}/content"
    async with http.get(link_url, headers=AUTH, allow_redirects=False) as response:
        assert response.status == 302
        link = await response.json()
        assert response.headers["Location"] == link["url"]
        assert sorted(link) == ["expires_at", "url"]
    async with http.get(link["url"]) as response:
        assert (response.status, await response.read()) == (200, downloadable.content)
    async with http.get(link["url"], headers=AUTH) as response:
        assert response.status == 400  # presigned links refuse a bearer token
    status, body = await get(http, f"{url}/files/{internal.id}/content")
    assert (status, body["error"]["type"]) == (403, "permission_error")
    # Delete: 204 and no body; then 404, gone from the list, its id still a valid cursor.
    victim = live[5]
    async with http.delete(f"{url}/files/{victim.id}", headers=AUTH) as response:
        assert (response.status, await response.read()) == (204, b"")
    status, body = await get(http, f"{url}/files/{victim.id}")
    assert (status, body["error"]["type"]) == (404, "not_found_error")
    status, body = await get(http, f"{url}/files", {"after": victim.id, "limit": "3"})
    assert ids_of(body, "file_id") == [r.id for r in live[6:9]]


async def test_g1_upload(http: aiohttp.ClientSession, g1: tuple[StrictG1Server, str]) -> None:
    server, url = g1
    form = aiohttp.FormData()
    form.add_field("file", b"hello\n", filename="hello.txt", content_type="text/plain")
    form.add_field("metadata", '{"project": "demo"}')
    async with http.post(f"{url}/files", data=form, headers=AUTH) as response:
        assert response.status == 201
        body = await response.json()
    assert (body["purpose"], body["filename"], body["size_bytes"]) == (
        "user_upload",
        "hello.txt",
        6,
    )
    assert body["metadata"] == {"project": "demo"}
    assert server.ids()[0] == body["file_id"]
    form = aiohttp.FormData()
    form.add_field("file", b"x", filename="x.txt")
    form.add_field("purpose", "tool_output")
    async with http.post(f"{url}/files", data=form, headers=AUTH) as response:
        assert (response.status, (await response.json())["purpose"]) == (201, "tool_output")
    for field, value in (("purpose", "bogus"), ("metadata", "[1]")):
        form = aiohttp.FormData()
        form.add_field("file", b"x", filename="x.txt")
        form.add_field(field, value)
        async with http.post(f"{url}/files", data=form, headers=AUTH) as response:
            assert response.status == 400
            assert (await response.json())["error"]["param"] == field
    form = aiohttp.FormData()
    form.add_field("purpose", "user_upload")
    async with http.post(f"{url}/files", data=form, headers=AUTH) as response:
        assert response.status == 400
        assert (await response.json())["error"]["message"] == "Field 'file' is required."


async def test_client_walks_the_strict_g1_server(g1: tuple[StrictG1Server, str]) -> None:
    server, url = g1
    async with AsyncClient(server.token, base_url=url, retry=RetryPolicy(backoff_base=0.0)) as c:
        files = await c.list_files(limit=7).collect(unbounded=True)
    assert [f.file_id for f in files] == server.ids()
    lists = [seen.params for seen in server.requests if seen.path.endswith("/files")]
    assert len(lists) == 36  # ceil(250 / 7)
    assert lists[0] == {"limit": "7"}
    assert all(set(params) == {"limit", "after"} for params in lists[1:])


# --- the newest generation --------------------------------------------------------------


async def test_g3_first_page_envelope_and_item(
    http: aiohttp.ClientSession, g3: tuple[StrictG3Server, str]
) -> None:
    server, url = g3
    status, body = await get(http, f"{url}/files")
    assert status == 200
    assert sorted(body) == ["data", "first_id", "has_more", "last_id", "next_page"]
    assert ids_of(body, "id") == server.ids()[:20]
    assert body["next_page"] not in server.records
    assert list(body["data"][0]) == [
        "id",
        "type",
        "filename",
        "size_bytes",
        "mime_type",
        "downloadable",
        "scope",
        "metadata",
        "created_at",
    ]
    assert {item["type"] for item in body["data"]} == {"file"}
    status, body = await get(http, f"{url}/files", {"limit": "100"})
    stamps = [item["created_at"] for item in body["data"]]
    assert any("." in s for s in stamps)
    assert any("." not in s for s in stamps)
    assert {None, "session"} == {item["scope"] and item["scope"]["type"] for item in body["data"]}


async def walk_g3(
    http: aiohttp.ClientSession, url: str, base: dict[str, str]
) -> tuple[list[str], list[dict[str, Any]]]:
    """Follow ``next_page`` to the end; the ids and every page's body."""
    ids: list[str] = []
    bodies = []
    params = dict(base)
    while True:
        status, body = await get(http, f"{url}/files", params)
        assert status == 200
        ids += ids_of(body, "id")
        bodies.append(body)
        if body["next_page"] is None:
            assert body["has_more"] is False
            return ids, bodies
        assert body["has_more"] is True
        params = base | {"page": body["next_page"]}


@pytest.mark.parametrize("limit", ["1", "7", "100"])
async def test_g3_walks_forward_by_next_page(
    http: aiohttp.ClientSession, g3: tuple[StrictG3Server, str], limit: str
) -> None:
    server, url = g3
    ids, bodies = await walk_g3(http, url, {"limit": limit})
    assert ids == server.ids()
    assert not {b["next_page"] for b in bodies} & set(server.records)


async def test_g3_after_id_and_before_id(
    http: aiohttp.ClientSession, g3: tuple[StrictG3Server, str]
) -> None:
    server, url = g3
    ids = server.ids()
    status, body = await get(http, f"{url}/files", {"after_id": ids[9], "limit": "5"})
    assert (status, ids_of(body, "id")) == (200, ids[10:15])
    assert body["next_page"] is not None
    # Backward, from the oldest, by first_id: newest first within a page, next_page null.
    backward: list[str] = []
    params = {"before_id": ids[-1], "limit": "7"}
    while True:
        status, body = await get(http, f"{url}/files", params)
        assert status == 200
        assert body["next_page"] is None
        backward = ids_of(body, "id") + backward
        if not body["has_more"]:
            break
        params = {"before_id": body["first_id"], "limit": "7"}
    assert backward == ids[:-1]


async def test_g3_filters(http: aiohttp.ClientSession, g3: tuple[StrictG3Server, str]) -> None:
    server, url = g3
    live = server.live()
    ids, _ = await walk_g3(http, url, {"name": "rEpOrT", "limit": "3"})
    assert ids == [r.id for r in live if r.filename.startswith("Report")]
    assert ids
    scope = next(r.scope_id for r in live if r.scope_id)
    ids, bodies = await walk_g3(http, url, {"scope_id": scope, "limit": "4"})
    assert ids == [r.id for r in live if r.scope_id == scope]
    assert {i["scope"]["id"] for b in bodies for i in b["data"]} == {scope}
    ids, _ = await walk_g3(http, url, {"scope_id": scope, "name": "no"})
    assert ids == [r.id for r in live if r.scope_id == scope and r.filename.startswith("no")]


async def test_g3_ignores_older_generations_parameters(
    http: aiohttp.ClientSession, g3: tuple[StrictG3Server, str]
) -> None:
    server, url = g3
    ids = server.ids()
    for foreign in ({"purpose": "tool_output"}, {"after": ids[10]}, {"before": ids[40]}):
        status, body = await get(http, f"{url}/files", foreign | {"limit": "5"})
        assert (status, ids_of(body, "id")) == (200, ids[:5])
    status, body = await get(http, f"{url}/files", {"purpose": "bogus"})
    assert status == 200


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": "101"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"page": "file_not_a_token"}, "page"),
        ({"after_id": "file_unknown"}, "after_id"),
        ({"page": "a", "after_id": "b"}, None),
        ({"page": "a", "before_id": "b"}, None),
        ({"after_id": "a", "before_id": "b"}, None),
    ],
)
async def test_g3_refusals(
    http: aiohttp.ClientSession,
    g3: tuple[StrictG3Server, str],
    params: dict[str, str],
    param: str | None,
) -> None:
    _, url = g3
    status, body = await get(http, f"{url}/files", params)
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"].get("param") == param
    assert body["request_id"].startswith("req_")


async def test_g3_one_file_routes(
    http: aiohttp.ClientSession, g3: tuple[StrictG3Server, str]
) -> None:
    server, url = g3
    live = server.live()
    downloadable = next(r for r in live if r.downloadable)
    internal = next(r for r in live if not r.downloadable)
    status, body = await get(http, f"{url}/files/{downloadable.id}")
    assert (status, body["id"], body["downloadable"]) == (200, downloadable.id, True)
    status, link = await get(http, f"{url}/files/{downloadable.id}/content")
    assert (status, sorted(link)) == (200, ["expires_at", "url"])
    async with http.get(link["url"]) as response:
        assert (response.status, await response.read()) == (200, downloadable.content)
    async with http.get(link["url"], headers=AUTH) as response:
        assert response.status == 400
    status, body = await get(http, f"{url}/files/{internal.id}/content")
    assert (status, body["error"]["type"]) == (403, "permission_error")
    async with http.delete(f"{url}/files/{internal.id}", headers=AUTH) as response:
        assert response.status == 200
        assert await response.json() == {"id": internal.id, "type": "file_deleted"}
    status, body = await get(http, f"{url}/files/{internal.id}")
    assert (status, body["error"]["type"]) == (404, "not_found_error")
    assert internal.id not in server.ids()


async def upload(http: aiohttp.ClientSession, url: str, **fields: Any) -> tuple[int, Any]:
    form = aiohttp.FormData()
    for name, value in fields.items():
        if isinstance(value, tuple):
            form.add_field(name, value[1], filename=value[0], content_type=value[2])
        else:
            form.add_field(name, value)
    async with http.post(f"{url}/files", data=form, headers=AUTH) as response:
        return response.status, await response.json()


async def test_g3_upload(http: aiohttp.ClientSession, g3: tuple[StrictG3Server, str]) -> None:
    server, url = g3
    status, body = await upload(
        http,
        url,
        file=("local.txt", b"hello\n", "text/plain"),
        name="dir/stored.md",
        metadata='{"project": "demo"}',
        purpose="tool_output",  # not a G3 field: ignored
    )
    assert status == 200
    assert (body["type"], body["filename"], body["downloadable"], body["scope"]) == (
        "file",
        "stored.md",
        False,
        None,
    )
    assert "purpose" not in body
    assert server.ids()[0] == body["id"]
    status, body = await upload(http, url, file=("Makefile", b"all:\n", "application/x-bin"))
    assert (status, body["filename"]) == (200, "Makefile")
    status, body = await upload(http, url, file=("a.bin", b"\x00", "application/octet-stream"))
    assert (status, body["error"]["param"]) == (400, "file")
    status, body = await upload(http, url, file=("a.txt", b"x", "text/plain"), name="..")
    assert (status, body["error"]["param"]) == (400, "name")
