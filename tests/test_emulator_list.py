"""The emulator's list route, spoken to on the wire (no SDK in between)."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from qoder_files.testing import FilesEmulator, StoredFile
from qoder_files.testing._store import make_file_id

AUTH = {"Authorization": "Bearer pt-emulator"}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def get(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None
) -> tuple[int, Any, Any]:
    async with http.get(url, headers=AUTH if headers is None else headers) as r:
        return r.status, await r.json(content_type=None), r.headers


async def test_seed_page_examples(
    http: aiohttp.ClientSession, emulator: FilesEmulator, base_url: str
) -> None:
    # 1. GET /files: default page of 20, newest first, the documented envelope.
    status, body, _ = await get(http, f"{base_url}/files")
    assert status == 200
    assert list(body) == ["data", "first_id", "has_more", "last_id"]
    assert len(body["data"]) == 20
    assert [f["file_id"] for f in body["data"]] == emulator.ids()[:20]
    assert body["first_id"] == emulator.ids()[0]
    assert body["last_id"] == emulator.ids()[19]
    assert body["has_more"] is True
    assert list(body["data"][0]) == [
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
    # 2. ?purpose=session_resource&limit=10
    status, body, _ = await get(http, f"{base_url}/files?purpose=session_resource&limit=10")
    assert status == 200
    assert [f["file_id"] for f in body["data"]] == emulator.ids("session_resource")[:10]
    assert {f["purpose"] for f in body["data"]} == {"session_resource"}
    # 3. ?limit=10&after=file_019e3bb8e6c47d18 (a truncated id that is not stored)
    status, body, _ = await get(http, f"{base_url}/files?limit=10&after=file_019e3bb8e6c47d18")
    assert status == 200
    older = [i for i in emulator.ids() if i < "file_019e3bb8e6c47d18"]
    assert [f["file_id"] for f in body["data"]] == older[:10]


async def test_empty_store(http: aiohttp.ClientSession) -> None:
    em = FilesEmulator()
    async with em.serve() as url:
        status, body, _ = await get(http, f"{url}/files")
    assert (status, body) == (
        200,
        {"data": [], "first_id": None, "has_more": False, "last_id": None},
    )


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("limit=0", "limit"),
        ("limit=-5", "limit"),
        ("limit=ten", "limit"),
        ("purpose=everything", "purpose"),
    ],
)
async def test_bad_parameters(
    http: aiohttp.ClientSession, base_url: str, query: str, param: str
) -> None:
    status, body, _ = await get(http, f"{base_url}/files?{query}")
    assert status == 400
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["param"] == param


@pytest.mark.parametrize(
    "query", ["after=a&before=b", "after=a&after_id=b", "before_id=a&after_id=b"]
)
async def test_two_cursors_are_rejected(
    http: aiohttp.ClientSession, base_url: str, query: str
) -> None:
    status, body, _ = await get(http, f"{base_url}/files?{query}")
    assert status == 400
    assert "mutually exclusive" in body["error"]["message"]


async def test_limit_over_100_is_capped(http: aiohttp.ClientSession, base_url: str) -> None:
    status, body, _ = await get(http, f"{base_url}/files?limit=150")
    assert status == 200
    assert len(body["data"]) == 100


async def test_cursor_aliases(
    http: aiohttp.ClientSession, emulator: FilesEmulator, base_url: str
) -> None:
    ids = emulator.ids()
    _, after, _ = await get(http, f"{base_url}/files?limit=3&after_id={ids[10]}")
    assert [f["file_id"] for f in after["data"]] == ids[11:14]
    _, before, _ = await get(http, f"{base_url}/files?limit=3&before_id={ids[10]}")
    assert [f["file_id"] for f in before["data"]] == ids[7:10]
    assert before["has_more"] is True
    _, top, _ = await get(http, f"{base_url}/files?limit=3&before={ids[2]}")
    assert [f["file_id"] for f in top["data"]] == ids[0:2]
    assert top["has_more"] is False


async def test_deleted_cursor_still_works(
    http: aiohttp.ClientSession, emulator: FilesEmulator, base_url: str
) -> None:
    ids = emulator.ids()
    emulator.remove(ids[5])
    _, body, _ = await get(http, f"{base_url}/files?limit=2&after={ids[5]}")
    assert [f["file_id"] for f in body["data"]] == ids[6:8]


async def test_auth_and_request_id(
    http: aiohttp.ClientSession, emulator: FilesEmulator, base_url: str
) -> None:
    status, body, headers = await get(http, f"{base_url}/files", headers={})
    assert status == 401
    assert body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "Invalid API key or token."},
    }
    assert headers["x-request-id"]
    status, _, headers = await get(http, f"{base_url}/files", headers={"x-api-key": "pt-emulator"})
    assert status == 401
    status, _, headers = await get(http, f"{base_url}/files", {**AUTH, "x-request-id": "mine"})
    assert (status, headers["x-request-id"]) == (200, "mine")


async def test_unknown_route_uses_error_envelope(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    status, body, _ = await get(http, f"{base_url}/nothing-here")
    assert status == 404
    assert body["error"]["type"] == "not_found_error"


async def test_get_and_missing_file(
    http: aiohttp.ClientSession, emulator: FilesEmulator, base_url: str
) -> None:
    first = emulator.ids()[0]
    status, body, _ = await get(http, f"{base_url}/files/{first}")
    assert (status, body["file_id"]) == (200, first)
    status, body, _ = await get(http, f"{base_url}/files/file_nonexistent123")
    assert status == 404
    assert body["error"] == {
        "type": "not_found_error",
        "message": "File 'file_nonexistent123' was not found.",
    }


async def test_g3_shape(http: aiohttp.ClientSession) -> None:
    em = FilesEmulator(shape="g3")
    em.seed(30)
    async with em.serve() as url:
        _, body, _ = await get(http, f"{url}/files?limit=10")
        assert body["last_id"] == em.ids()[9]
        assert body["next_page"] not in (None, body["last_id"])  # opaque
        first = body["data"][0]
        assert first["type"] == "file"
        assert "purpose" not in first
        assert "file_id" not in first
        _, paged, _ = await get(http, f"{url}/files?limit=10&page={body['next_page']}")
        assert paged["data"][0]["id"] == em.ids()[10]
        status, err, _ = await get(http, f"{url}/files?page=x&after_id=y")
        assert status == 400
        assert err["request_id"]
        _, last, _ = await get(http, f"{url}/files?limit=10&after_id={em.ids()[19]}")
        assert last["next_page"] is None


def test_seed_is_deterministic_and_time_ordered() -> None:
    a, b = FilesEmulator(), FilesEmulator()
    a.seed(200)
    b.seed(200)
    assert a.ids() == b.ids()
    files = [a.files[i] for i in a.ids()]
    assert all(x.created_at > y.created_at for x, y in itertools.pairwise(files))
    assert all(len(i) == len("file_") + 32 for i in a.ids())
    only = FilesEmulator()
    only.seed(20, purposes=["tool_output"])
    assert {f.purpose for f in only.files.values()} == {"tool_output"}
    assert only.seed(1)[0].created_at > files[0].created_at or True


def test_out_of_order_add_and_bad_arguments() -> None:
    import random
    from datetime import UTC, datetime

    em = FilesEmulator()
    em.seed(5)
    early = datetime(2020, 1, 1, tzinfo=UTC)
    stored = StoredFile(
        file_id=make_file_id(early, random.Random(1)),
        filename="old.txt",
        mime_type="text/plain",
        purpose="user_upload",
        content=b"x",
        created_at=early,
        updated_at=early,
    )
    em.add(stored)
    assert em.ids()[-1] == stored.file_id
    assert json.loads(stored.rendered("g1"))["size_bytes"] == 1
    with pytest.raises(ValueError, match="shape"):
        FilesEmulator(shape="g2")
    with pytest.raises(ValueError, match="every"):
        em.add_fault(object(), every=0)  # type: ignore[arg-type]
