"""Bulk jobs against the emulator: mirror, inventory and delete, with faults and ``kill -9``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from strict_servers import StrictG1Server, StrictG3Server

from qoder_files import (
    AsyncClient,
    Client,
    HTTPRequest,
    InternalServerError,
    InvalidResponseError,
    InventoryStats,
    MirrorEvent,
    RetryPolicy,
    _convert,
    _inventory,
    _inventory_store,
    inventory_stats,
)
from qoder_files._inventory import _FIELDS, COLUMN_NAMES, _row, object_row
from qoder_files._mirror import MANIFEST, local_name
from qoder_files.testing import Fault, FilesEmulator, MockResponse, MockTransport

INSTANT = RetryPolicy(backoff_base=0.0)


def downloadable_ids(emulator: FilesEmulator) -> list[str]:
    return [
        i for i in emulator.ids() if emulator.files[i].purpose in ("tool_output", "skill_output")
    ]


def visible(directory: Path) -> list[str]:
    return sorted(name for name in os.listdir(directory) if not name.startswith("."))


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.02)


def downloads(emulator: FilesEmulator) -> int:
    return sum("/_download/" in r.path for r in emulator.requests)


# --- mirror ---------------------------------------------------------------------------------------


@pytest.fixture
def served() -> Iterator[tuple[FilesEmulator, str]]:
    emulator = FilesEmulator()
    emulator.seed(300)
    with emulator.serve_in_thread() as url:
        yield emulator, url


def test_mirror_through_faults_then_a_rerun_changes_nothing(
    served: tuple[FilesEmulator, str], tmp_path: Path
) -> None:
    emulator, url = served
    emulator.add_fault(Fault.error(503), route="download", every=5)
    events: list[MirrorEvent] = []
    with Client(emulator.token, base_url=url, retry=INSTANT, max_retries=3) as client:
        summary = client.mirror(tmp_path, progress=events.append)
        assert summary.ok
        wanted = downloadable_ids(emulator)
        assert summary.downloaded == len(wanted)
        assert summary.skipped == 0
        names = {emulator.files[i].filename for i in wanted}
        assert set(visible(tmp_path)) == {local_name(n, "") for n in names}
        for file_id in wanted:
            stored = emulator.files[file_id]
            assert (tmp_path / local_name(stored.filename, file_id)).read_bytes() == stored.content
        assert {e.kind for e in events} == {"downloaded"}
        mtimes = {name: os.stat(tmp_path / name).st_mtime_ns for name in visible(tmp_path)}
        before = downloads(emulator)
        again = client.mirror(tmp_path)
    assert (again.downloaded, again.skipped, again.failed) == (0, len(wanted), ())
    assert downloads(emulator) == before  # no download request at all
    assert {name: os.stat(tmp_path / name).st_mtime_ns for name in visible(tmp_path)} == mtimes


def test_a_file_that_keeps_failing_is_reported_and_the_rest_complete(
    served: tuple[FilesEmulator, str], tmp_path: Path
) -> None:
    emulator, url = served
    wanted = downloadable_ids(emulator)
    blocked = emulator.files[wanted[3]]
    (tmp_path / local_name(blocked.filename, blocked.file_id)).mkdir()  # never writable
    with Client(emulator.token, base_url=url, retry=INSTANT) as client:
        summary = client.mirror(tmp_path)
    assert summary.downloaded == len(wanted) - 1
    assert [f.file_id for f in summary.failed] == [blocked.file_id]
    assert "directory" in summary.failed[0].reason
    assert not summary.ok


def test_collisions_and_changes(tmp_path: Path) -> None:
    emulator = FilesEmulator()
    emulator.seed(40)
    twins = [emulator.files[i] for i in downloadable_ids(emulator)[:2]]
    for twin in twins:
        object.__setattr__(twin, "filename", "../same name.txt")
        twin._rendered.clear()
    with emulator.serve_in_thread() as url, Client(emulator.token, base_url=url) as client:
        client.mirror(tmp_path)
        older, newer = sorted(twins, key=lambda f: f.file_id)
        names = visible(tmp_path)
        assert "same name.txt" in names  # the first to claim it keeps it, for good
        assert any(name.endswith(".txt") and "file_" in name for name in names)
        first = (tmp_path / "same name.txt").read_bytes()
        assert first in (older.content, newer.content)
        changed = emulator.files[downloadable_ids(emulator)[5]]
        object.__setattr__(changed, "content", b"changed content\n")
        object.__setattr__(changed, "updated_at", changed.updated_at.replace(year=2027))
        changed._rendered.clear()
        summary = client.mirror(tmp_path)
    assert summary.downloaded == 1
    assert (tmp_path / local_name(changed.filename, changed.file_id)).read_bytes() == (
        b"changed content\n"
    )


def test_kill_9_mid_mirror_then_a_rerun_completes(tmp_path: Path) -> None:
    emulator = FilesEmulator()
    emulator.seed(300)
    emulator.add_fault(Fault.latency(0.15), route="download")
    with emulator.serve_in_thread() as url:
        script = textwrap.dedent(
            f"""
            from qoder_files import Client
            with Client({emulator.token!r}, base_url={url!r}) as client:
                client.mirror({str(tmp_path)!r}, concurrency=3)
            """
        )
        with subprocess.Popen([sys.executable, "-c", script]) as child:
            wait_until(lambda: len(visible(tmp_path)) >= 20)  # mid-way: some files in place
            child.send_signal(signal.SIGKILL)
            child.wait()
        partial = visible(tmp_path)
        wanted = downloadable_ids(emulator)
        assert 0 < len(partial) < len(wanted)
        for name in partial:  # whatever is visible is complete
            owner = next(i for i in wanted if local_name(emulator.files[i].filename, i) == name)
            assert (tmp_path / name).read_bytes() == emulator.files[owner].content
        emulator.clear_faults()
        with Client(emulator.token, base_url=url) as client:
            summary = client.mirror(tmp_path)
    assert summary.ok
    assert summary.downloaded + summary.skipped == len(wanted)
    assert len(visible(tmp_path)) == len(wanted)
    assert [n for n in os.listdir(tmp_path) if n.startswith(".")] == [MANIFEST]


def test_local_names_are_safe() -> None:
    assert local_name("../../etc/passwd", "file_1") == "passwd"
    assert local_name(".hidden", "file_1") == "hidden"
    assert local_name("a\x1b[31mred\x07.txt", "file_1") == "a_[31mred_.txt"
    assert local_name("..", "file_1") == "file_1"
    long = local_name("é" * 300 + ".md", "file_1")
    assert long.endswith(".md")
    assert len(long.encode()) <= 200


# --- inventory ---------------------------------------------------------------------------------


def ids_in(db: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(db)) as connection:
        try:
            return [row[0] for row in connection.execute("SELECT file_id FROM files")]
        except sqlite3.OperationalError:  # not created yet by the process writing it
            return []


@pytest.mark.parametrize(
    "make_server",
    # the emulator, and servers written from the fact sheet rather than from it
    [FilesEmulator, StrictG1Server, StrictG3Server],
    ids=["emulator", "strict g1", "strict g3"],
)
async def test_inventory_sync_incremental_and_full(
    make_server: Callable[[], FilesEmulator | StrictG1Server | StrictG3Server], tmp_path: Path
) -> None:
    server = make_server()
    server.seed(2000)
    db = tmp_path / "inventory.db"
    async with server.serve() as url, AsyncClient(server.token, base_url=url) as client:
        first = await client.sync_inventory(db)  # most of it through the writer process
        assert first.added == 2000
        assert sorted(ids_in(db)) == sorted(server.ids())
        for n in range(10):
            await client.upload_file(f"note {n}\n".encode(), filename=f"note-{n}.md")
        gone = server.ids()[100:105]
        for file_id in gone:
            await client.delete_file(file_id)
        before = len(server.requests)
        incremental = await client.sync_inventory(db)
        lists = [r for r in server.requests[before:] if r.path.endswith("/files")]
        assert incremental.added == 10
        assert len(lists) <= 2
        full = await client.sync_inventory(db, full=True)
    assert (full.listed, full.added, full.marked_deleted) == (2005, 0, 5)
    assert sorted(ids_in(db)) == sorted([*server.ids(), *gone])
    with contextlib.closing(sqlite3.connect(db)) as connection:
        marked = [
            r[0]
            for r in connection.execute("SELECT file_id FROM files WHERE deleted_at IS NOT NULL")
        ]
        columns = {row[1] for row in connection.execute("PRAGMA table_info(files)")}
    assert sorted(marked) == sorted(gone)
    assert {"file_id", "filename", "purpose", "metadata", "extra", "deleted_at"} <= columns
    stats = inventory_stats(db)
    assert isinstance(stats, InventoryStats)
    assert stats.files == 2005
    assert stats.deleted == 5
    assert sum(n for _, n, _ in stats.by_purpose) == 2005
    assert sum(n for _, n, _ in stats.by_month) == 2005


@pytest.mark.parametrize("shape", ["g1", "g3"])
async def test_inventory_rows_equal_the_files_the_sdk_reads(shape: str, tmp_path: Path) -> None:
    """Rows are built from the server's objects without models; they must be the rows of the
    files the typed listing reads, on either generation (and the counts must hold in batches
    that span pages)."""
    emulator = FilesEmulator(shape=shape)
    emulator.seed(1234)
    db = tmp_path / "inventory.db"
    async with emulator.serve() as url, AsyncClient(emulator.token, base_url=url) as client:
        summary = await client.sync_inventory(db)
        files = await client.list_files(limit=100).collect(unbounded=True)
        again = await client.sync_inventory(db, full=True)
    assert (summary.listed, summary.added) == (1234, 1234)
    assert (again.listed, again.added, again.marked_deleted) == (1234, 0, 0)
    expected = {row[0]: row[:-1] for row in (_row(f, 0) for f in files)}
    with contextlib.closing(sqlite3.connect(db)) as connection:
        names = ", ".join(_FIELDS)
        stored = {row[0]: row for row in connection.execute(f"SELECT {names} FROM files")}
    assert stored == expected


def test_inventory_survives_three_kill_9s(tmp_path: Path) -> None:
    emulator = FilesEmulator()
    emulator.seed(6000)
    emulator.add_fault(Fault.latency(0.1), route="list")
    db = tmp_path / "inventory.db"
    with emulator.serve_in_thread() as url:
        script = textwrap.dedent(
            f"""
            from qoder_files import Client
            with Client({emulator.token!r}, base_url={url!r}) as client:
                client.sync_inventory({str(db)!r})
            """
        )
        for stored_at_least in (500, 1500, 2500):

            def progressed(n: int = stored_at_least) -> bool:
                return db.exists() and len(ids_in(db)) >= n

            with subprocess.Popen([sys.executable, "-c", script]) as child:
                wait_until(progressed)
                child.send_signal(signal.SIGKILL)
                child.wait()
        stored = ids_in(db) if db.exists() else []
        assert len(stored) < 6000  # each run was cut off
        emulator.clear_faults()
        with Client(emulator.token, base_url=url) as client:
            summary = client.sync_inventory(db)
    assert summary.resumed
    final = ids_in(db)
    assert len(final) == len(set(final)) == 6000
    assert set(final) == set(emulator.ids())


def test_inventory_stats_needs_a_database(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no inventory"):
        inventory_stats(tmp_path / "missing.db")


# --- bulk delete ---------------------------------------------------------------------------------


async def test_delete_files_is_idempotent() -> None:
    emulator = FilesEmulator()
    emulator.seed(50)
    targets = emulator.ids()[:12]
    outcomes: list[tuple[str, str]] = []
    async with emulator.serve() as url, AsyncClient(emulator.token, base_url=url) as client:
        first = await client.delete_files(
            targets[:7], progress=lambda i, o: outcomes.append((i, o))
        )
        second = await client.delete_files(targets)
        with pytest.raises(ValueError, match="file_id"):
            await client.delete_files(["file_ok", "bad/id"])
        with pytest.raises(ValueError, match="not one string"):
            await client.delete_files("file_abc")
    assert sorted(first.deleted) == sorted(targets[:7])
    assert sorted(second.already_gone) == sorted(targets[:7])
    assert sorted(second.deleted) == sorted(targets[7:])
    assert second.ok
    assert not second.failed
    assert {o for _, o in outcomes} == {"deleted"}
    assert not set(targets) & set(emulator.ids())


def _paged_listing(objects: list[dict[str, Any]]) -> Callable[[HTTPRequest], MockResponse]:
    """A seed-generation list route over ``objects`` (newest first), paging forward."""
    ids = [obj["file_id"] for obj in objects]

    def listing(request: HTTPRequest) -> MockResponse:
        query = request.query
        limit = int(query.get("limit", "20"))
        start = ids.index(query["after"]) + 1 if "after" in query else 0
        chunk = objects[start : start + limit]
        return MockResponse(
            json={
                "data": chunk,
                "first_id": chunk[0]["file_id"] if chunk else None,
                "last_id": chunk[-1]["file_id"] if chunk else None,
                "has_more": start + limit < len(ids),
            }
        )

    return listing


def _mock_client(route: Callable[[HTTPRequest], MockResponse], **options: Any) -> AsyncClient:
    return AsyncClient(
        "pt-mock-token-0123",
        base_url="https://api.example.test/api/v1/cloud",
        transport=MockTransport(route),
        **options,
    )


def _seed_objects(count: int) -> list[dict[str, Any]]:
    return [
        {
            "file_id": f"file_{n:032x}",
            "filename": f"f{n}.txt",
            "size_bytes": n,
            "mime_type": "text/plain",
            "purpose": "tool_output",
            "status": "ready",
            "metadata": {},
            "created_at": f"2026-05-{1 + n // 86400:02d}T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:"
            f"{n % 60:02d}Z",
            "updated_at": None,
        }
        for n in range(count, 0, -1)
    ]


async def test_a_bad_object_met_by_the_writer_process_stops_the_sync_cleanly(
    tmp_path: Path,
) -> None:
    objects = _seed_objects(4500)
    objects[3210] = {**objects[3210], "size_bytes": "many"}  # in the writer's fourth batch
    db = tmp_path / "inventory.db"
    client = _mock_client(_paged_listing(objects))
    async with client:
        with pytest.raises(InvalidResponseError, match="size_bytes"):
            await client.sync_inventory(db)
    with contextlib.closing(sqlite3.connect(db)) as connection:
        stored = [r[0] for r in connection.execute("SELECT file_id FROM files")]
        cursor = connection.execute(
            "SELECT value FROM sync_state WHERE key = 'walk_cursor'"
        ).fetchone()[0]
    ids = [obj["file_id"] for obj in objects]
    # every row before the cursor is stored, nothing after the batch that failed
    assert sorted(stored) == sorted(ids[: ids.index(cursor) + 1])
    assert len(stored) >= 2000
    assert ids[3210] not in stored


async def test_a_writer_process_stores_a_big_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[asyncio.subprocess.Process | None] = []
    here: list[int] = []
    real_start, real_store_here = _inventory._start_writer, _inventory._Writer._store_here

    async def start_writer(path: str) -> asyncio.subprocess.Process | None:
        started.append(await real_start(path))
        return started[-1]

    async def store_here(self: _inventory._Writer, batch: Any) -> None:
        here.append(len(_inventory_store.unpack(batch[0])))
        await real_store_here(self, batch)

    monkeypatch.setattr(_inventory, "_start_writer", start_writer)
    monkeypatch.setattr(_inventory._Writer, "_store_here", store_here)
    objects = _seed_objects(4321)
    objects[3000] = {**objects[3000], "metadata": {"k": "v é"}, "extra_key": [1]}  # long way
    db = tmp_path / "inventory.db"
    async with _mock_client(_paged_listing(objects)) as client:
        summary = await client.sync_inventory(db)
    assert (summary.listed, summary.added) == (4321, 4321)
    [writer] = started
    assert writer is not None
    assert writer.returncode == 0  # it ran to the end, storing every batch
    assert here == []
    with contextlib.closing(sqlite3.connect(db)) as connection:
        rows = {
            row[0]: row
            for row in connection.execute(f"SELECT {', '.join(COLUMN_NAMES)} FROM files")
        }
    assert rows == {row[0]: row for row in (object_row(obj, 0) for obj in objects)}


@pytest.mark.parametrize(
    ("count", "field", "value"),
    [
        (50, "filename", "bad\ud800name"),  # a small sync: stored in this process
        (1500, "filename", "bad\ud800name"),  # in the writer process's second batch
        (1500, "metadata", {"k": "\udc80"}),
    ],
    ids=["in-process", "writer", "writer, metadata"],
)
async def test_text_sqlite_cannot_hold_stops_the_sync_with_a_typed_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count: int, field: str, value: Any
) -> None:
    """A lone surrogate, spelled as JSON allows (``"\\ud800"``): the standard library's
    decoder (no ``speedups`` extra) lets it through, and SQLite text cannot hold it."""
    monkeypatch.setattr(_convert, "loads", json.loads)
    objects = _seed_objects(count)
    bad = count * 4 // 5
    objects[bad] = {**objects[bad], field: value}
    db = tmp_path / "inventory.db"
    async with _mock_client(_paged_listing(objects)) as client:
        with pytest.raises(InvalidResponseError, match="not valid Unicode") as raised:
            await client.sync_inventory(db)
    assert "pt-mock-token" not in str(raised.value)
    stored = ids_in(db)
    ids = [obj["file_id"] for obj in objects]
    assert ids[bad] not in stored
    assert sorted(stored) == sorted(ids[: len(stored)])  # what came before, without a gap
    assert len(stored) == bad // 1000 * 1000  # every batch before the one that failed


@pytest.mark.parametrize(
    ("target", "name", "value"),
    [
        (sys, "executable", "/usr/bin/embedded-host"),  # no interpreter to start
        # the writer says the real "ready"; this process now expects something else
        (_inventory_store, "READY", b"something else\n"),
        # the writer cannot load its file (a package in a zip, say): it ends without a word
        (_inventory_store, "__file__", "/nonexistent/_inventory_store.py"),
    ],
    ids=["no interpreter", "never ready", "no store file"],
)
async def test_without_a_writer_process_the_rows_are_stored_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: object, name: str, value: object
) -> None:
    monkeypatch.setattr(target, name, value)
    objects = _seed_objects(3300)
    db = tmp_path / "inventory.db"
    async with _mock_client(_paged_listing(objects)) as client:
        summary = await client.sync_inventory(db)
    assert (summary.listed, summary.added) == (3300, 3300)
    assert sorted(ids_in(db)) == sorted(obj["file_id"] for obj in objects)


async def test_a_cursor_left_without_a_walk_in_progress_is_not_followed(tmp_path: Path) -> None:
    """A writer of a sync killed by ``kill -9`` may commit its last batch after the next sync
    finished its walk: the cursor it writes back must not make a later sync skip new files."""
    emulator = FilesEmulator()
    emulator.seed(300)
    db = tmp_path / "inventory.db"
    async with emulator.serve() as url, AsyncClient(emulator.token, base_url=url) as client:
        await client.sync_inventory(db)
        with contextlib.closing(sqlite3.connect(db)) as connection, connection:
            connection.execute(
                "INSERT INTO sync_state (key, value) VALUES ('walk_cursor', ?)",
                (emulator.ids()[10],),
            )
        for n in range(3):
            await client.upload_file(f"new {n}\n".encode(), filename=f"new-{n}.md")
        summary = await client.sync_inventory(db)
    assert summary.added == 3
    assert sorted(ids_in(db)) == sorted(emulator.ids())


async def test_pages_read_before_an_api_error_are_stored(tmp_path: Path) -> None:
    objects = _seed_objects(2000)
    listing = _paged_listing(objects)
    failing_after = objects[1399]["file_id"]  # the 15th page fails

    def route(request: HTTPRequest) -> MockResponse:
        if request.query.get("after") == failing_after:
            return MockResponse(500, json={"error": {"message": "down"}})
        return listing(request)

    db = tmp_path / "inventory.db"
    client = _mock_client(route, max_retries=0)
    async with client:
        with pytest.raises(InternalServerError):
            await client.sync_inventory(db)
    stored = ids_in(db)
    assert sorted(stored) == sorted(obj["file_id"] for obj in objects[:1400])
    with contextlib.closing(sqlite3.connect(db)) as connection:
        cursor = connection.execute(
            "SELECT value FROM sync_state WHERE key = 'walk_cursor'"
        ).fetchone()[0]
    assert cursor == failing_after


async def test_a_writer_that_stops_without_a_word_leaves_its_batches_to_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_frame = _inventory_store.frame
    sent: list[int] = []

    def frame(pages: list[bytes], epoch: int, changes: dict[str, str]) -> bytes:
        sent.append(len(pages))
        if len(sent) == 2:  # a frame the writer cannot read: it dies, answering nothing
            return b"\x05\x00\x00\x00junk!"
        return real_frame(pages, epoch, changes)

    monkeypatch.setattr(_inventory_store, "frame", frame)
    objects = _seed_objects(5600)
    db = tmp_path / "inventory.db"
    client = _mock_client(_paged_listing(objects))
    async with client:
        summary = await client.sync_inventory(db)
    assert len(sent) >= 2
    assert (summary.listed, summary.added) == (5600, 5600)
    assert sorted(ids_in(db)) == sorted(obj["file_id"] for obj in objects)
