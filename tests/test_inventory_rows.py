"""The inventory's short way from a server's JSON object to its row, against the long way.

``object_row`` reads seed-shaped objects straight into rows; every other object goes through
``structure_file`` and ``_row``. Both must store the same row for any object, and refuse the
same objects with ``InvalidResponseError``. Pure: no event loop, no database.
"""

from __future__ import annotations

import contextlib
import io
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from qoder_files import InvalidResponseError, _inventory_store
from qoder_files._convert import structure_file
from qoder_files._inventory import COLUMN_NAMES, _key, _object_key, _prepare, _row, object_row

BASE: dict[str, Any] = {
    "file_id": "file_019e3bb8c1387743bf4ef115aae5acb1",
    "filename": "report [final].md",
    "size_bytes": 2048,
    "mime_type": "text/markdown",
    "purpose": "tool_output",
    "status": "ready",
    "metadata": {},
    "created_at": "2026-05-18T15:33:44Z",
    "updated_at": "2026-05-18T15:33:44Z",
}

SHAPES: dict[str, dict[str, Any]] = {
    "canonical": BASE,
    "later update": {**BASE, "updated_at": "2026-05-19T01:02:03Z"},
    "same instant, other offset": {**BASE, "updated_at": "2026-05-18T17:33:44+02:00"},
    "fractional seconds": {**BASE, "created_at": "2026-05-18T15:33:44.123Z"},
    "microseconds": {**BASE, "created_at": "2026-05-18T15:33:44.123456+00:00"},
    "an offset": {**BASE, "created_at": "2026-05-18T15:33:44-07:00", "updated_at": None},
    "naive time": {**BASE, "created_at": "2026-05-18T15:33:44", "updated_at": None},
    "space separator": {**BASE, "created_at": "2026-05-18 15:33:44Z"},
    "week date": {**BASE, "created_at": "2026-W21-1T15:33:44Z", "updated_at": None},
    "null file_id, an id": {**BASE, "file_id": None, "id": "file_019e3bb8c1387743bf4ef115aae5acb3"},
    "no optional keys": {
        k: BASE[k] for k in ("file_id", "filename", "size_bytes", "mime_type", "created_at")
    },
    "nulls": {**BASE, "purpose": None, "status": None, "metadata": None, "updated_at": None},
    "user upload": {**BASE, "purpose": "user_upload"},
    "unknown purpose": {**BASE, "purpose": "future_purpose"},
    "metadata": {**BASE, "metadata": {"run": 7, "tags": ["a", "ü"], "nested": {"x": None}}},
    "status object": {**BASE, "status": {"state": "ready", "progress": 1}},
    "status number": {**BASE, "status": 3},
    "unknown key": {**BASE, "session_id": "sess_1"},
    "newer generation": {
        "id": "file_019e3bb8c1387743bf4ef115aae5acb2",
        "type": "file",
        "filename": "out.csv",
        "size_bytes": 5,
        "mime_type": "text/csv",
        "downloadable": True,
        "scope": {"id": "sess_abc", "type": "session"},
        "created_at": "2026-05-18T15:33:44Z",
    },
    "control characters": {**BASE, "filename": "a\x1b[31mb\x07\nc"},
    "big size": {**BASE, "size_bytes": 2**62},
    "metadata beyond 64 bits": {**BASE, "metadata": {"n": 2**70}},  # orjson refuses to write it
}

BAD: dict[str, Any] = {
    "not an object": "file_1",
    "no id": {k: v for k, v in BASE.items() if k != "file_id"},
    "empty id": {**BASE, "file_id": ""},
    "id a number": {**BASE, "file_id": 7},
    "size as text": {**BASE, "size_bytes": "2048"},
    "size a boolean": {**BASE, "size_bytes": True},
    "bad time": {**BASE, "created_at": "yesterday"},
    "ordinal date": {**BASE, "updated_at": "2026-138T15:33:44Z"},
    "time a number": {**BASE, "created_at": 1716046424},
    "metadata a list": {**BASE, "metadata": [1]},
    "name a number": {**BASE, "filename": 12},
}


@pytest.mark.parametrize("obj", SHAPES.values(), ids=SHAPES.keys())
def test_both_ways_store_the_same_row(obj: dict[str, Any]) -> None:
    assert object_row(obj, 3) == _row(structure_file(obj), 3)
    assert _object_key(obj) == _key(structure_file(obj))


@pytest.mark.parametrize("obj", BAD.values(), ids=BAD.keys())
def test_both_ways_refuse_the_same_objects(obj: Any) -> None:
    with pytest.raises((TypeError, ValueError, KeyError)):
        structure_file(obj)
    with pytest.raises(InvalidResponseError, match="documented shape"):
        object_row(obj, 1)


def test_rows_hold_only_values_sqlite_stores() -> None:
    for obj in SHAPES.values():
        for value in object_row(obj, 1):
            assert value is None or type(value) in (str, int, float)


# --- the writer process's parts, in this process ---------------------------------------------


def _frames(*batches: tuple[list[Any], int, dict[str, str]]) -> bytes:
    """Batches as the listing process sends them, each object a page of its own."""
    return b"".join(
        _inventory_store.frame([_inventory_store.pack([obj]) for obj in objects], epoch, changes)
        for objects, epoch, changes in batches
    )


def test_the_writer_stores_each_batch_and_answers(tmp_path: Path) -> None:
    db = str(tmp_path / "inventory.db")
    with contextlib.closing(_inventory_store.connect(db)) as connection:
        _prepare(connection)
    first = [{**BASE, "file_id": f"file_{n:032x}"} for n in range(3)]
    second = [SHAPES["newer generation"], SHAPES["later update"]]
    source = io.BytesIO(
        _frames((first, 1, {"walk_cursor": "a"}), (second, 1, {"walk_cursor": "b"}))
    )
    replies = io.BytesIO()
    status = _inventory_store.serve(db, COLUMN_NAMES, _inventory_store.rows_of, source, replies)
    assert (status, replies.getvalue()) == (0, b"ok\nok\n")
    with contextlib.closing(sqlite3.connect(db)) as connection:
        stored = {row[0]: row for row in connection.execute("SELECT * FROM files")}
        cursor = connection.execute("SELECT value FROM sync_state").fetchone()[0]
    assert cursor == "b"
    for obj in first + second:
        row = object_row(obj, 1)
        assert stored[row[0]][: len(row)] == row


def test_a_frame_cut_short_is_never_stored(tmp_path: Path) -> None:
    db = str(tmp_path / "inventory.db")
    with contextlib.closing(_inventory_store.connect(db)) as connection:
        _prepare(connection)
    whole = _frames(([BASE], 1, {"walk_cursor": "a"}))
    cut = _frames(([{**BASE, "file_id": "file_b"}], 1, {"walk_cursor": "b"}))[:-5]
    replies = io.BytesIO()
    status = _inventory_store.serve(
        db, COLUMN_NAMES, _inventory_store.rows_of, io.BytesIO(whole + cut), replies
    )
    assert (status, replies.getvalue()) == (0, b"ok\n")
    with contextlib.closing(sqlite3.connect(db)) as connection:
        assert connection.execute("SELECT file_id FROM files").fetchall() == [(BASE["file_id"],)]
        assert connection.execute("SELECT value FROM sync_state").fetchone()[0] == "a"


@pytest.mark.parametrize(
    ("obj", "reply"),
    [
        (BAD["size as text"], b"error InvalidResponseError: "),
        # JSON can spell a lone surrogate, which the standard library's decoder lets through
        ({**BASE, "filename": "bad\ud800name"}, b"error UnstorableText: a file's text is not"),
        ({**BASE, "metadata": {"k": "\udc80"}}, b"error UnstorableText: a file's text is not"),
        ({**BASE, "mime_type": "text/\udfff"}, b"error UnstorableText: a file's text is not"),
    ],
    ids=["bad object", "surrogate in filename", "surrogate in metadata", "surrogate in mime type"],
)
def test_the_writer_reports_what_it_cannot_store_and_stores_nothing_of_its_batch(
    tmp_path: Path, obj: Any, reply: bytes
) -> None:
    db = str(tmp_path / "inventory.db")
    with contextlib.closing(_inventory_store.connect(db)) as connection:
        _prepare(connection)
    source = io.BytesIO(_frames(([BASE, obj], 1, {"walk_cursor": "x"})))
    replies = io.BytesIO()
    status = _inventory_store.serve(db, COLUMN_NAMES, _inventory_store.rows_of, source, replies)
    assert status == 1
    assert replies.getvalue().startswith(reply)
    with contextlib.closing(sqlite3.connect(db)) as connection:
        assert connection.execute("SELECT count(*) FROM files").fetchone()[0] == 0
        assert connection.execute("SELECT count(*) FROM sync_state").fetchone()[0] == 0
