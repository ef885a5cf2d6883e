"""The emulator's one-file routes, spoken to on the wire (no SDK in between)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from yarl import URL

from qoder_files.testing import Fault, FilesEmulator, StoredFile, _form, _store

AUTH = {"Authorization": "Bearer pt-emulator"}
CONFLICT = "Idempotency key reused with a different request body."


@pytest.fixture(params=["g1", "g3"])
def shape(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def emulator(shape: str) -> FilesEmulator:
    """30 files in each API generation; conftest's ``base_url`` serves it."""
    em = FilesEmulator(shape=shape)
    em.seed(30)
    return em


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def form(
    content: bytes | None = b"hello\n",
    *,
    filename: str = "hello.txt",
    **fields: str,
) -> aiohttp.FormData:
    data = aiohttp.FormData()
    if content is not None:
        data.add_field("file", content, filename=filename, content_type="text/plain")
    for name, value in fields.items():
        data.add_field(name, value)
    return data


def only_fields(**fields: str) -> aiohttp.MultipartWriter:
    writer = aiohttp.MultipartWriter("form-data")
    for name, value in fields.items():
        writer.append(value).set_content_disposition("form-data", name=name)
    return writer


async def call(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    data: Any = None,
) -> tuple[int, Any, Any]:
    async with http.request(
        method,
        url,
        headers={**AUTH, **(headers or {})},
        data=data,
        allow_redirects=False,
    ) as r:
        body = await r.read()
        try:
            decoded: Any = json.loads(body) if body else None
        except ValueError:
            decoded = body.decode()
        return r.status, decoded, r.headers


def file_id_of(body: dict[str, Any]) -> str:
    return str(body.get("file_id") or body["id"])


# --- upload -------------------------------------------------------------------------------------


async def test_upload_stores_and_lists_first(
    http: aiohttp.ClientSession, emulator: FilesEmulator, base_url: str, shape: str
) -> None:
    newest_before = emulator.ids()[0]
    status, body, _ = await call(
        http,
        "POST",
        f"{base_url}/files",
        data=form(b"# Notes\n", filename="notes.md", metadata='{"project":"demo"}'),
    )
    assert status == (201 if shape == "g1" else 200)
    file_id = file_id_of(body)
    assert file_id > newest_before
    assert emulator.ids()[0] == file_id
    assert body["filename"] == "notes.md"
    assert body["mime_type"] == "text/markdown"
    assert body["size_bytes"] == 8
    assert body["metadata"] == {"project": "demo"}
    if shape == "g1":
        assert body["purpose"] == "user_upload"
        assert body["status"] == "ready"
    else:
        assert body["type"] == "file"
        assert body["downloadable"] is False
        assert "purpose" not in body
    assert emulator.files[file_id].content == b"# Notes\n"
    status, listing, _ = await call(http, "GET", f"{base_url}/files?limit=1")
    assert file_id_of(listing["data"][0]) == file_id
    status, got, _ = await call(http, "GET", f"{base_url}/files/{file_id}")
    assert (status, got) == (200, body)


async def test_upload_takes_purpose_and_name(
    http: aiohttp.ClientSession, emulator: FilesEmulator, base_url: str, shape: str
) -> None:
    fields = {"name": "dir/report.json"}
    if shape == "g1":  # g3 has no purpose
        fields["purpose"] = "tool_output"
    status, body, _ = await call(
        http, "POST", f"{base_url}/files", data=form(b"hello\n", filename="ignored.bin", **fields)
    )
    assert status in (200, 201)
    stored = emulator.files[file_id_of(body)]
    assert (stored.purpose, stored.filename, stored.mime_type) == (
        "tool_output" if shape == "g1" else "user_upload",
        "report.json",
        "application/json",
    )


@pytest.mark.parametrize(
    ("filename", "mime_type"),
    [("a.pdf", "application/pdf"), ("Makefile", "text/plain"), ("c.yml", "application/x-yaml")],
)
async def test_upload_guesses_the_type_from_the_name(
    http: aiohttp.ClientSession, filename: str, mime_type: str
) -> None:
    em = FilesEmulator()  # g1: any type; g3 takes text types alone (tests/test_emulator_g3.py)
    async with em.serve() as url:
        _, body, _ = await call(http, "POST", f"{url}/files", data=form(filename=filename))
    assert body["mime_type"] == mime_type


MULTIPART_XYZ = {"Content-Type": "multipart/form-data; boundary=xyz"}
BAD_UPLOADS: dict[str, tuple[Any, dict[str, str] | None, str, str | None]] = {
    # case: (body factory, headers, message fragment, param)
    "no file": (lambda: only_fields(purpose="user_upload"), None, "'file' is required.", "file"),
    "not multipart": (
        lambda: b"{}",
        {"Content-Type": "application/json"},
        "'file' is required.",
        "file",
    ),
    "metadata not JSON": (lambda: form(metadata="{x"), None, "a JSON object", "metadata"),
    "metadata not an object": (lambda: form(metadata="[1]"), None, "a JSON object", "metadata"),
    "metadata too big": (lambda: form(metadata="{}" + " " * 8192), None, "8 KB", "metadata"),
    "unknown purpose": (lambda: form(purpose="homework"), None, "Field 'purpose'", "purpose"),
    "dot name": (lambda: form(name=".."), None, "Field 'name' must be", "name"),
    "cut multipart": (
        lambda: b"--xyz\r\nContent-Disposition: form-data; name=file\r\n\r\ncut",
        MULTIPART_XYZ,
        "valid multipart/form-data",
        None,
    ),
}


@pytest.mark.parametrize("case", list(BAD_UPLOADS))
async def test_upload_refuses_bad_requests(
    http: aiohttp.ClientSession, emulator: FilesEmulator, base_url: str, case: str
) -> None:
    make, headers, message, param = BAD_UPLOADS[case]
    count = len(emulator.files)
    status, body, _ = await call(http, "POST", f"{base_url}/files", data=make(), headers=headers)
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert message in body["error"]["message"]
    assert body["error"].get("param") == param
    assert len(emulator.files) == count


async def test_upload_refuses_nested_multipart(http: aiohttp.ClientSession, base_url: str) -> None:
    outer = aiohttp.MultipartWriter("form-data")
    outer.append(aiohttp.MultipartWriter("mixed"))
    status, body, _ = await call(http, "POST", f"{base_url}/files", data=outer)
    assert status == 400
    assert "Nested multipart" in body["error"]["message"]


async def test_upload_size_limit(
    http: aiohttp.ClientSession, base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_form, "_MAX_UPLOAD_BYTES", 10)
    status, body, _ = await call(http, "POST", f"{base_url}/files", data=form(b"x" * 11))
    assert status == 400
    assert body["error"]["message"] == "File exceeds the 50 MB limit."


async def test_upload_ids_stay_later_than_files_from_the_future(
    http: aiohttp.ClientSession, base_url: str, shape: str
) -> None:
    em = FilesEmulator(shape=shape)
    future = em.seed(3, start=datetime.now(UTC) + timedelta(days=30))
    async with em.serve() as url:
        _, first, _ = await call(http, "POST", f"{url}/files", data=form())
        _, second, _ = await call(http, "POST", f"{url}/files", data=form(b"other"))
    assert em.ids()[:2] == [file_id_of(second), file_id_of(first)]
    assert em.files[file_id_of(first)].created_at > future[-1].created_at


async def test_upload_ids_survive_a_lost_millisecond(
    http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    em = FilesEmulator()
    em.seed(2)
    calls: list[datetime] = []
    real = _store.make_file_id

    def rounding_down(created_at: datetime, rng: Any) -> str:
        calls.append(created_at)
        if len(calls) == 1:  # as if float rounding lost the millisecond that was added
            return em.ids()[0]
        return real(created_at, rng)

    monkeypatch.setattr(_store, "make_file_id", rounding_down)
    async with em.serve() as url:
        _, body, _ = await call(http, "POST", f"{url}/files", data=form())
    assert len(calls) == 2
    assert em.ids()[0] == file_id_of(body)
    assert calls[1] - calls[0] == timedelta(milliseconds=1)


async def test_upload_after_foreign_ids(http: aiohttp.ClientSession) -> None:
    em = FilesEmulator()
    now = datetime.now(UTC)
    em.add(
        StoredFile(
            file_id="file_custom",
            filename="x.txt",
            mime_type="text/plain",
            purpose="user_upload",
            content=b"x",
            created_at=now,
            updated_at=now,
        )
    )
    async with em.serve() as url:
        status, body, _ = await call(http, "POST", f"{url}/files", data=form())
    assert status == 201
    assert file_id_of(body).startswith("file_")


# --- idempotency --------------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["Idempotency-Key", "X-Idempotency-Key"])
async def test_same_key_and_body_replays_without_running_again(
    http: aiohttp.ClientSession, emulator: FilesEmulator, base_url: str, header: str
) -> None:
    count = len(emulator.files)
    key = {header: "key-1"}
    first = await call(http, "POST", f"{base_url}/files", data=form(), headers=key)
    again = await call(http, "POST", f"{base_url}/files", data=form(), headers=key)
    assert first[0] == again[0]
    assert first[1] == again[1]
    assert "Idempotent-Replayed" not in first[2]
    assert again[2]["Idempotent-Replayed"] == "true"
    assert len(emulator.files) == count + 1


async def test_same_key_with_another_body_is_a_conflict(
    http: aiohttp.ClientSession, emulator: FilesEmulator, base_url: str
) -> None:
    key = {"Idempotency-Key": "key-2"}
    await call(http, "POST", f"{base_url}/files", data=form(b"one"), headers=key)
    count = len(emulator.files)
    status, body, _ = await call(http, "POST", f"{base_url}/files", data=form(b"two"), headers=key)
    assert status == 409
    assert body["error"] == {"type": "conflict_error", "message": CONFLICT}
    victim = emulator.ids()[-1]
    status, body, _ = await call(http, "DELETE", f"{base_url}/files/{victim}", headers=key)
    assert status == 409
    assert len(emulator.files) == count


async def test_without_a_key_every_upload_runs(
    http: aiohttp.ClientSession, emulator: FilesEmulator, base_url: str
) -> None:
    count = len(emulator.files)
    await call(http, "POST", f"{base_url}/files", data=form())
    await call(http, "POST", f"{base_url}/files", data=form())
    assert len(emulator.files) == count + 2


async def test_a_failed_write_is_not_remembered(
    http: aiohttp.ClientSession, emulator: FilesEmulator, base_url: str
) -> None:
    key = {"Idempotency-Key": "key-3"}
    status, _, _ = await call(
        http, "POST", f"{base_url}/files", data=form(metadata="{x"), headers=key
    )
    assert status == 400
    status, _, _ = await call(
        http, "POST", f"{base_url}/files", data=form(metadata="{}"), headers=key
    )
    assert status in (200, 201)


# --- content and download -----------------------------------------------------------------------


def downloadable(emulator: FilesEmulator) -> StoredFile:
    return emulator.files[emulator.ids("tool_output")[0]]


async def test_content_link_in_both_generations(
    http: aiohttp.ClientSession, emulator: FilesEmulator, base_url: str, shape: str
) -> None:
    stored = downloadable(emulator)
    before = datetime.now(UTC)
    status, body, headers = await call(http, "GET", f"{base_url}/files/{stored.file_id}/content")
    if shape == "g1":
        assert status == 302
        assert headers["Location"] == body["url"]
    else:
        assert status == 200
        assert "Location" not in headers
    assert list(body) == ["expires_at", "url"]
    expires = datetime.fromisoformat(body["expires_at"])
    assert before + timedelta(seconds=3598) <= expires <= before + timedelta(seconds=3601)
    url = URL(body["url"])
    assert url.path.startswith("/api/v1/cloud/files/_download/")
    assert "response-content-disposition" in url.query
    async with http.get(body["url"]) as r:  # no Authorization header
        assert r.status == 200
        assert await r.read() == stored.content
        assert r.content_type == stored.mime_type
        assert stored.filename in r.headers["Content-Disposition"]


async def test_content_refuses_internal_and_unknown_files(
    http: aiohttp.ClientSession, emulator: FilesEmulator, base_url: str
) -> None:
    internal = emulator.ids("user_upload")[0]
    status, body, _ = await call(http, "GET", f"{base_url}/files/{internal}/content")
    assert status == 403
    assert body["error"]["type"] == "permission_error"
    status, body, _ = await call(http, "GET", f"{base_url}/files/file_missing/content")
    assert status == 404
    assert body["error"] == {
        "type": "not_found_error",
        "message": "File 'file_missing' was not found.",
    }


async def test_content_needs_the_token(
    http: aiohttp.ClientSession, emulator: FilesEmulator, base_url: str
) -> None:
    async with http.get(f"{base_url}/files/{downloadable(emulator).file_id}/content") as r:
        assert r.status == 401


async def link(http: aiohttp.ClientSession, base_url: str, file_id: str) -> str:
    _, body, _ = await call(http, "GET", f"{base_url}/files/{file_id}/content")
    return str(body["url"])


async def test_download_refuses_an_authorization_header(
    http: aiohttp.ClientSession, emulator: FilesEmulator, base_url: str
) -> None:
    url = await link(http, base_url, downloadable(emulator).file_id)
    async with http.get(url, headers=AUTH) as r:
        assert r.status == 400
        assert r.content_type == "application/xml"
        assert "<Code>InvalidArgument</Code>" in await r.text()


async def test_download_refuses_expired_and_unknown_links(
    http: aiohttp.ClientSession, emulator: FilesEmulator, base_url: str
) -> None:
    emulator.download_ttl = 0
    url = await link(http, base_url, downloadable(emulator).file_id)
    async with http.get(url) as r:
        assert r.status == 403
        assert "Request has expired" in await r.text()
    async with http.get(f"{base_url}/files/_download/forged") as r:
        assert r.status == 403
        assert "<Code>SignatureDoesNotMatch</Code>" in await r.text()


async def test_download_of_a_deleted_file(
    http: aiohttp.ClientSession, emulator: FilesEmulator, base_url: str
) -> None:
    stored = downloadable(emulator)
    url = await link(http, base_url, stored.file_id)
    emulator.remove(stored.file_id)
    async with http.get(url) as r:
        assert r.status == 404
        assert "<Code>NoSuchKey</Code>" in await r.text()


# --- delete -------------------------------------------------------------------------------------


async def test_delete_in_both_generations(
    http: aiohttp.ClientSession, emulator: FilesEmulator, base_url: str, shape: str
) -> None:
    victim = emulator.ids()[3]
    status, body, _ = await call(http, "DELETE", f"{base_url}/files/{victim}")
    if shape == "g1":
        assert (status, body) == (204, None)
    else:
        assert (status, body) == (200, {"id": victim, "type": "file_deleted"})
    assert victim not in emulator.ids()
    status, _, _ = await call(http, "GET", f"{base_url}/files/{victim}")
    assert status == 404
    status, _, _ = await call(http, "DELETE", f"{base_url}/files/{victim}")
    assert status == 404


async def test_delete_replays_for_the_same_key(
    http: aiohttp.ClientSession, emulator: FilesEmulator, base_url: str
) -> None:
    victim = emulator.ids()[0]
    key = {"Idempotency-Key": "key-4"}
    first = await call(http, "DELETE", f"{base_url}/files/{victim}", headers=key)
    again = await call(http, "DELETE", f"{base_url}/files/{victim}", headers=key)
    assert first[:2] == again[:2]
    assert first[0] in (200, 204)
    assert again[2]["Idempotent-Replayed"] == "true"


# --- faults on the new routes -------------------------------------------------------------------


@pytest.mark.parametrize("route", ["upload", "content", "delete"])
async def test_status_faults_on_write_and_content_routes(
    http: aiohttp.ClientSession, emulator: FilesEmulator, base_url: str, route: str
) -> None:
    emulator.add_fault(Fault.error(503, retry_after=1), route=route, times=1)
    target = downloadable(emulator).file_id
    method, url, data = {
        "upload": ("POST", f"{base_url}/files", form()),
        "content": ("GET", f"{base_url}/files/{target}/content", None),
        "delete": ("DELETE", f"{base_url}/files/{target}", None),
    }[route]
    status, body, headers = await call(http, method, url, data=data)
    assert status == 503
    assert headers["Retry-After"] == "1"
    assert body["error"]["type"] == "api_error"
    assert target in emulator.files


async def test_reset_on_the_download_route(
    http: aiohttp.ClientSession, emulator: FilesEmulator, base_url: str
) -> None:
    stored = downloadable(emulator)
    url = await link(http, base_url, stored.file_id)
    # Twice: aiohttp itself re-sends a GET once after a reset.
    emulator.add_fault(Fault.reset(), route="download", times=2)
    with pytest.raises(aiohttp.ClientError):
        async with http.get(url) as r:
            await r.read()
    async with http.get(url) as r:
        assert await r.read() == stored.content


async def test_a_lost_response_still_did_the_work(
    http: aiohttp.ClientSession, emulator: FilesEmulator, base_url: str
) -> None:
    count = len(emulator.files)
    emulator.add_fault(Fault.lose_response(), route="upload", times=1)
    with pytest.raises(aiohttp.ClientError):
        await call(http, "POST", f"{base_url}/files", data=form())
    assert len(emulator.files) == count + 1


async def test_a_lost_delete_answer_is_replayed_to_the_resent_request(
    http: aiohttp.ClientSession, emulator: FilesEmulator, base_url: str, shape: str
) -> None:
    # aiohttp re-sends an idempotent DELETE once on a dropped connection, same headers.
    victim = emulator.ids()[0]
    emulator.add_fault(Fault.lose_response(), route="delete", times=1)
    status, _, headers = await call(
        http, "DELETE", f"{base_url}/files/{victim}", headers={"Idempotency-Key": "key-5"}
    )
    assert status == (204 if shape == "g1" else 200)
    assert headers["Idempotent-Replayed"] == "true"
    assert victim not in emulator.files
    assert [r.method for r in emulator.requests[-2:]] == ["DELETE", "DELETE"]
