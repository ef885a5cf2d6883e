"""The vendor's Python SDK (``qca-sdk``, imported as ``qca``) against the emulator's g3 shape.

A client we did not write is the best independent check of the emulator's fidelity: it pages
with ``page`` (the previous ``next_page``) forward and ``before_id`` backward, reads ``id`` and
``type``, expects 200 from upload and delete, and fetches download links without the token.
It also reads every file's ``downloadable`` and ``scope`` as this SDK does.

Run by ``nox -s interop``, which installs the SDK; the default test run does not collect this
folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import qca

from qoder_files import Client
from qoder_files.testing import FilesEmulator


@pytest.fixture
def emulator() -> FilesEmulator:
    em = FilesEmulator(shape="g3")
    em.seed(250)
    return em


@pytest.fixture
def base_url(emulator: FilesEmulator) -> Iterator[str]:
    with emulator.serve_in_thread() as url:
        yield url


@pytest.fixture
def client(emulator: FilesEmulator, base_url: str) -> Iterator[Any]:
    with qca.Managed(pat=emulator.token, base_url=base_url, max_retries=0) as c:
        yield c


def list_queries(emulator: FilesEmulator) -> list[dict[str, str]]:
    return [r.query for r in emulator.requests if r.method == "GET" and r.path.endswith("/files")]


@pytest.mark.parametrize("limit", [1, 7, 100])
def test_pages_forward_by_next_page(emulator: FilesEmulator, client: Any, limit: int) -> None:
    ids = [f.id for f in client.files.list(limit=limit)]
    assert ids == emulator.ids()
    queries = list_queries(emulator)
    assert queries[0] == {"limit": str(limit)}
    assert all(set(q) == {"limit", "page"} for q in queries[1:])
    assert len(queries) == -(-250 // limit)


async def test_async_client_pages_forward(emulator: FilesEmulator, base_url: str) -> None:
    async with qca.AsyncManaged(pat=emulator.token, base_url=base_url, max_retries=0) as c:
        ids = [f.id async for f in c.files.list(limit=30)]
    assert ids == emulator.ids()


def test_pages_backward_by_first_id(emulator: FilesEmulator, client: Any) -> None:
    expected = emulator.ids()
    collected: list[str] = []
    cursor = expected[-1]
    while True:
        page = client.files.list(before_id=cursor, limit=7)
        collected = [f.id for f in page.data] + collected
        if not page.has_more:
            break
        cursor = page.first_id
    assert collected == expected[:-1]


def test_backward_listing_never_wanders_past_its_anchor(
    emulator: FilesEmulator, client: Any
) -> None:
    # The SDK follows `next_page` whatever the direction; the docs make it null on backward
    # pages, so iterating a `before_id` listing yields that one page and nothing older.
    expected = emulator.ids()
    anchor = expected[50]
    ids = [f.id for f in client.files.list(before_id=anchor, limit=7)]
    assert ids == expected[43:50]


def test_name_and_scope_filters(emulator: FilesEmulator, client: Any) -> None:
    prefix = emulator.files[emulator.ids()[0]].filename[:4].upper()
    ids = [f.id for f in client.files.list(name=prefix, limit=50)]
    expected = [i for i in emulator.ids() if emulator.files[i].filename.upper().startswith(prefix)]
    assert ids == expected
    assert [f.id for f in client.files.list(scope_id="sess_019e3bb8e6c47d18")] == []


def test_limit_over_100_is_refused(client: Any) -> None:
    with pytest.raises(qca.BadRequestError):
        client.files.list(limit=101)


def test_retrieve(emulator: FilesEmulator, client: Any) -> None:
    stored = emulator.files[emulator.ids()[3]]
    meta = client.files.retrieve_metadata(stored.file_id)
    assert (meta.id, meta.type, meta.filename, meta.size_bytes) == (
        stored.file_id,
        "file",
        stored.filename,
        stored.size_bytes,
    )
    assert meta.created_at == stored.created_at
    if stored.scope is None:
        assert meta.scope is None
    else:
        assert (meta.scope.id, meta.scope.type) == (stored.scope["id"], stored.scope["type"])
    assert meta.downloadable == stored.downloadable
    with pytest.raises(qca.NotFoundError):
        client.files.retrieve_metadata("file_" + "0" * 32)


def test_upload_download_delete(emulator: FilesEmulator, client: Any) -> None:
    uploaded = client.files.upload(
        file=("notes.md", b"# notes\n", "text/markdown"),
        name="kept-notes.md",
        metadata={"project": "demo"},
    )
    assert (uploaded.type, uploaded.filename, uploaded.size_bytes) == ("file", "kept-notes.md", 8)
    assert uploaded.metadata == {"project": "demo"}
    assert uploaded.downloadable is False
    assert emulator.ids()[0] == uploaded.id
    upload_request = next(r for r in emulator.requests if r.method == "POST")
    assert upload_request.headers["Content-Type"].startswith("multipart/form-data")
    # Uploads are not downloadable (no purpose in G3): the link is refused.
    with pytest.raises(qca.PermissionDeniedError):
        client.files.download(uploaded.id)
    deleted = client.files.delete(uploaded.id)
    assert (deleted.id, deleted.type) == (uploaded.id, "file_deleted")
    with pytest.raises(qca.NotFoundError):
        client.files.retrieve_metadata(uploaded.id)


def test_download(emulator: FilesEmulator, client: Any) -> None:
    wire = (emulator.files[i] for i in emulator.ids())
    stored = next(f for f in wire if f.wire("g3")["downloadable"])
    response = client.files.download(stored.file_id)
    assert response.read() == stored.content
    storage = emulator.requests[-1]
    assert "Authorization" not in storage.headers


def test_both_sdks_read_the_same_flag_and_scope(
    emulator: FilesEmulator, base_url: str, client: Any
) -> None:
    theirs = {f.id: f for f in client.files.list(limit=100)}
    with Client(emulator.token, base_url=base_url) as ours:
        files = ours.list_files(limit=100).collect(unbounded=True)
    assert [f.file_id for f in files] == list(theirs)
    for file in files:
        other = theirs[file.file_id]
        assert file.downloadable == other.downloadable
        assert (file.scope and (file.scope.id, file.scope.type)) == (
            other.scope and (other.scope.id, other.scope.type)
        )
    assert {f.downloadable for f in files} == {True, False}
    assert len({f.scope for f in files}) > 2
