"""The emulator's strict g3 shape (and the g1 leniency beside it), spoken to on the wire."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from qoder_files.testing import FilesEmulator, StoredFile
from qoder_files.testing._store import SEED_SESSIONS

AUTH = {"Authorization": "Bearer pt-emulator"}


@pytest.fixture
def g3() -> FilesEmulator:
    em = FilesEmulator(shape="g3")
    em.seed(150)
    return em


@pytest.fixture
async def url(g3: FilesEmulator) -> AsyncIterator[str]:
    async with g3.serve() as base_url:
        yield base_url


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def get(http: aiohttp.ClientSession, url: str, **query: str | int) -> tuple[int, Any]:
    async with http.get(url, params=query, headers=AUTH) as r:
        return r.status, await r.json(content_type=None)


async def walk(http: aiohttp.ClientSession, url: str, **query: str | int) -> list[str]:
    """Every id of a forward listing, following ``next_page`` as the docs say."""
    ids: list[str] = []
    status, body = await get(http, f"{url}/files", **query)
    while True:
        assert status == 200, body
        ids += [f["id"] for f in body["data"]]
        if body["next_page"] is None:
            assert body["has_more"] is False
            return ids
        assert body["has_more"] is True
        status, body = await get(http, f"{url}/files", **query, page=body["next_page"])


def refused(status: int, body: Any, param: str) -> str:
    assert status == 400
    assert body["type"] == "error"
    assert body["request_id"]
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["param"] == param
    message: str = body["error"]["message"]
    assert f"'{param}'" in message
    return message


def scoped(em: FilesEmulator, session: str) -> list[str]:
    return [i for i in em.ids() if (em.files[i].scope or {}).get("id") == session]


# --- list ---------------------------------------------------------------------------------------


async def test_a_limit_over_100_is_a_400(http: aiohttp.ClientSession, url: str) -> None:
    refused(*await get(http, f"{url}/files", limit=101), "limit")
    status, body = await get(http, f"{url}/files", limit=100)
    assert (status, len(body["data"])) == (200, 100)


@pytest.mark.parametrize("limit", [1, 7, 100])
async def test_forward_walk_by_next_page(
    http: aiohttp.ClientSession, g3: FilesEmulator, url: str, limit: int
) -> None:
    assert await walk(http, url, limit=limit) == g3.ids()


async def test_next_page_is_opaque(
    http: aiohttp.ClientSession, g3: FilesEmulator, url: str
) -> None:
    _, body = await get(http, f"{url}/files", limit=10)
    assert body["next_page"] not in g3.ids()
    refused(*await get(http, f"{url}/files", page=g3.ids()[9]), "page")
    refused(*await get(http, f"{url}/files", page="not a cursor"), "page")
    _, by_id = await get(http, f"{url}/files", limit=10, after_id=body["last_id"])
    _, by_page = await get(http, f"{url}/files", limit=10, page=body["next_page"])
    assert by_page["data"] == by_id["data"]


async def test_backward_pages_carry_no_next_page(
    http: aiohttp.ClientSession, g3: FilesEmulator, url: str
) -> None:
    ids = g3.ids()
    _, body = await get(http, f"{url}/files", limit=5, before_id=ids[20])
    assert [f["id"] for f in body["data"]] == ids[15:20]
    assert body["has_more"] is True
    assert body["next_page"] is None
    _, top = await get(http, f"{url}/files", limit=5, before_id=ids[3])
    assert [f["id"] for f in top["data"]] == ids[0:3]
    assert (top["has_more"], top["next_page"]) == (False, None)


@pytest.mark.parametrize(
    "cursors",
    [("page", "after_id"), ("page", "before_id"), ("after_id", "before_id")],
)
async def test_cursors_are_mutually_exclusive(
    http: aiohttp.ClientSession, g3: FilesEmulator, url: str, cursors: tuple[str, str]
) -> None:
    _, first = await get(http, f"{url}/files", limit=2)
    values = {"page": first["next_page"], "after_id": g3.ids()[5], "before_id": g3.ids()[9]}
    status, body = await get(http, f"{url}/files", **{c: values[c] for c in cursors})
    assert status == 400
    assert "mutually exclusive" in body["error"]["message"]


@pytest.mark.parametrize("param", ["purpose", "after", "before"])
async def test_older_parameters_are_a_400_naming_them(
    http: aiohttp.ClientSession, g3: FilesEmulator, url: str, param: str
) -> None:
    value = "tool_output" if param == "purpose" else g3.ids()[3]
    refused(*await get(http, f"{url}/files", **{param: value}), param)


async def test_unknown_parameters_are_ignored(
    http: aiohttp.ClientSession, g3: FilesEmulator, url: str
) -> None:
    status, body = await get(http, f"{url}/files", limit=3, order="asc", include_deleted="true")
    assert status == 200
    assert [f["id"] for f in body["data"]] == g3.ids()[:3]


async def test_name_filters_by_case_insensitive_prefix(
    http: aiohttp.ClientSession, g3: FilesEmulator, url: str
) -> None:
    expected = [i for i in g3.ids() if g3.files[i].filename.startswith("report")]
    assert 5 < len(expected) < len(g3.ids())
    assert await walk(http, url, limit=4, name="RePoRt") == expected
    assert await walk(http, url, name="report-") == expected
    assert await walk(http, url, name="eport") == []


async def test_scope_id_filters(http: aiohttp.ClientSession, g3: FilesEmulator, url: str) -> None:
    session = SEED_SESSIONS[0]
    expected = scoped(g3, session)
    assert 3 < len(expected) < len(g3.ids())
    assert await walk(http, url, limit=3, scope_id=session) == expected
    both = [i for i in expected if g3.files[i].filename.startswith("notes")]
    assert await walk(http, url, limit=2, scope_id=session, name="notes") == both
    assert await walk(http, url, scope_id="sess_nobody") == []
    middle = expected[len(expected) // 2]
    _, body = await get(http, f"{url}/files", scope_id=session, before_id=middle, limit=100)
    assert [f["id"] for f in body["data"]] == expected[: expected.index(middle)]


async def test_g1_keeps_the_seed_parameters_and_ignores_the_new_ones(
    http: aiohttp.ClientSession,
) -> None:
    em = FilesEmulator()
    em.seed(60)
    ids = em.ids()
    async with em.serve() as url:
        cases: list[tuple[dict[str, str | int], list[str]]] = [
            ({"purpose": "tool_output", "limit": 100}, em.ids("tool_output")),
            ({"after": ids[4], "limit": 3}, ids[5:8]),
            ({"before": ids[4], "limit": 3}, ids[1:4]),
            ({"after_id": ids[4], "limit": 3}, ids[5:8]),
            ({"before_id": ids[4], "limit": 3}, ids[1:4]),
            ({"name": "report", "scope_id": SEED_SESSIONS[0], "limit": 5}, ids[:5]),
            ({"page": "anything", "limit": 5}, ids[:5]),
        ]
        for query, expected in cases:
            status, body = await get(http, f"{url}/files", **query)
            assert status == 200, query
            assert [f["file_id"] for f in body["data"]] == expected, query
            assert "next_page" not in body


# --- scope and the wire object ------------------------------------------------------------------


def test_seeded_scopes_are_deterministic_and_shown_in_g3_only() -> None:
    a, b = FilesEmulator(shape="g3"), FilesEmulator()
    a.seed(90)
    b.seed(90)
    assert a.ids() == b.ids()
    scopes = [a.files[i].scope for i in a.ids()]
    assert scopes == [b.files[i].scope for i in b.ids()]
    sessions = {s["id"] for s in scopes if s is not None}
    assert sessions <= set(SEED_SESSIONS)
    assert len(sessions) > 1
    assert 0 < scopes.count(None) < len(scopes)
    some = next(a.files[i] for i in a.ids() if a.files[i].scope is not None)
    wire = json.loads(some.rendered("g3"))
    assert wire["scope"] == {"id": some.scope["id"], "type": "session"}  # type: ignore[index]
    assert wire["downloadable"] is some.downloadable
    assert "scope" not in json.loads(some.rendered("g1"))


def test_an_added_file_has_no_scope_unless_given() -> None:
    em = FilesEmulator(shape="g3")
    stored = em.seed(1)[0]
    plain = StoredFile(
        file_id="file_plain",
        filename="p.txt",
        mime_type="text/plain",
        purpose="tool_output",
        content=b"",
        created_at=stored.created_at,
        updated_at=stored.created_at,
    )
    assert json.loads(em.add(plain).rendered("g3"))["scope"] is None


# --- upload, delete and download in g3 ----------------------------------------------------------


def form(
    filename: str = "notes.md", content_type: str | None = "text/markdown", **fields: str
) -> aiohttp.FormData:
    data = aiohttp.FormData()
    data.add_field("file", b"# hi\n", filename=filename, content_type=content_type)
    for name, value in fields.items():
        data.add_field(name, value)
    return data


async def post(http: aiohttp.ClientSession, url: str, data: aiohttp.FormData) -> tuple[int, Any]:
    async with http.post(f"{url}/files", data=data, headers=AUTH) as r:
        return r.status, await r.json(content_type=None)


async def test_upload_answers_200_with_name_and_no_scope(
    http: aiohttp.ClientSession, g3: FilesEmulator, url: str
) -> None:
    status, body = await post(http, url, form(name="dir/Plan.md", metadata='{"a": "b"}'))
    assert status == 200
    assert list(body) == [
        "id",
        "type",
        "filename",
        "mime_type",
        "size_bytes",
        "downloadable",
        "scope",
        "metadata",
        "created_at",
    ]
    assert (body["filename"], body["scope"], body["downloadable"]) == ("Plan.md", None, False)
    assert g3.ids()[0] == body["id"]


async def test_upload_refuses_purpose(
    http: aiohttp.ClientSession, g3: FilesEmulator, url: str
) -> None:
    count = len(g3.files)
    refused(*await post(http, url, form(purpose="user_upload")), "purpose")
    assert len(g3.files) == count


@pytest.mark.parametrize("name", ["..", ".", "x" * 256, "é" * 128, "dir/"])
async def test_upload_refuses_a_bad_name(
    http: aiohttp.ClientSession, g3: FilesEmulator, url: str, name: str
) -> None:
    refused(*await post(http, url, form(name=name)), "name")


@pytest.mark.parametrize(
    "case",
    [
        ("notes.md", "text/markdown", True),
        ("data.JSON", "application/octet-stream", True),  # the name decides
        (".gitignore", None, True),
        ("Dockerfile", "application/octet-stream", True),
        ("LICENSE", "text/plain", True),
        ("config", "application/x-toml", True),
        ("report.pdf", "application/pdf", False),
        ("report.pdf", "text/plain", False),  # the name decides
        ("photo.PNG", "image/png", False),
        ("blob", "application/octet-stream", False),
    ],
)
async def test_upload_takes_text_types_only(
    http: aiohttp.ClientSession, g3: FilesEmulator, url: str, case: tuple[str, str | None, bool]
) -> None:
    filename, content_type, accepted = case
    count = len(g3.files)
    status, body = await post(http, url, form(filename, content_type))
    if accepted:
        assert status == 200, body
        assert len(g3.files) == count + 1
    else:
        assert "text-based" in refused(status, body, "file")
        assert len(g3.files) == count


async def test_delete_answers_200_with_a_body(
    http: aiohttp.ClientSession, g3: FilesEmulator, url: str
) -> None:
    victim = g3.ids()[7]
    async with http.delete(f"{url}/files/{victim}", headers=AUTH) as r:
        assert (r.status, await r.json()) == (200, {"id": victim, "type": "file_deleted"})
    assert victim not in g3.files


async def test_download_gate_speaks_of_downloadable(
    http: aiohttp.ClientSession, g3: FilesEmulator, url: str
) -> None:
    internal = next(i for i in g3.ids() if not g3.files[i].downloadable)
    status, body = await get(http, f"{url}/files/{internal}/content")
    assert status == 403
    assert "'downloadable' is false" in body["error"]["message"]
