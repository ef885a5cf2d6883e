"""The local inventory: an account's files in a SQLite table that plain ``sqlite3`` can query.

Schema (created on first use; a column added to ``File`` later is added to old databases):

- ``files``: one row per file ever seen, ``file_id`` the primary key, one column per ``File``
  field (times as RFC 3339 UTC text, dicts and other values as JSON text, ``purpose`` as its
  string), plus ``seen_epoch`` (the last full sync that listed it) and ``deleted_at`` (when a
  full sync found it gone, else NULL).
- ``sync_state``: the walk in progress and the high-water mark, as key/value text.

How a sync walks, and what it keeps true:

- Incremental (the default): the newest-first listing is read until it reaches the files the
  last complete sync already covered (by creation time and id), so a re-run after a few
  uploads costs one or two list requests.
- Full: the whole listing is read, and afterwards every row the walk did not see is marked
  ``deleted_at``.
- Crash-safe: each page's rows and the listing cursor commit in one transaction. A sync
  killed at any moment leaves a walk in progress that the next sync resumes from its cursor
  (then it walks from the top again for anything newer), with no gap and no duplicate.

The SQL is the standard library's ``sqlite3``; the listing is the client's pager.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import json
import operator
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import attrs

from ._convert import dumps as _json_dumps
from ._convert import format_timestamp, object_id, structure_file
from ._public import publish
from .errors import InvalidResponseError
from .models import File, Purpose

if TYPE_CHECKING:
    from .client import AsyncClient

__all__ = ["InventoryStats", "InventorySummary", "inventory_stats", "sync_inventory"]

_FIELDS = tuple(field.name for field in attrs.fields(File))
_TYPES = {"file_id": "TEXT PRIMARY KEY", "size_bytes": "INTEGER", "downloadable": "INTEGER"}
_PAGE = 100
_BATCH = 1000
"""Rows stored per transaction at most, while a walk reads many pages quickly."""
_FLUSH_AFTER = 0.5
"""Seconds after which the rows read so far are stored, however few."""


@attrs.frozen(kw_only=True)
class InventorySummary:
    """What one inventory sync did.

    Attributes:
        listed: Files read from the listing in this run.
        added: Files stored for the first time.
        marked_deleted: Files a full sync found gone (``deleted_at`` set).
        resumed: Whether it finished a walk an earlier, interrupted sync had begun.
        full: Whether it was a full sync.
    """

    listed: int = 0
    added: int = 0
    marked_deleted: int = 0
    resumed: bool = False
    full: bool = False


@attrs.frozen(kw_only=True)
class InventoryStats:
    """Counts and bytes of the files present (not marked deleted), for reports.

    Attributes:
        files: How many files.
        bytes: Their total size.
        deleted: How many rows are marked deleted.
        by_purpose: ``(purpose or None, files, bytes)``, largest first.
        by_month: ``("YYYY-MM", files, bytes)`` by creation month, oldest first.
    """

    files: int
    bytes: int
    deleted: int
    by_purpose: tuple[tuple[str | None, int, int], ...]
    by_month: tuple[tuple[str, int, int], ...]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "files": self.files,
            "bytes": self.bytes,
            "deleted": self.deleted,
            "by_purpose": [{"purpose": p, "files": n, "bytes": b} for p, n, b in self.by_purpose],
            "by_month": [{"month": m, "files": n, "bytes": b} for m, n, b in self.by_month],
        }


def _sql_value(value: Any) -> Any:
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return format_timestamp(value)
    if attrs.has(type(value)):
        value = attrs.asdict(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _utc_text(value: datetime) -> str:
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else format_timestamp(value)


def _json_text(value: Any) -> str:
    return "{}" if not value and isinstance(value, dict) else _json_dumps(value)


def _purpose_text(value: Any) -> Any:
    return value if value is None or type(value) is str else str(value)


def _plain(value: Any) -> Any:
    # ``status`` is kept as sent: text as itself, anything else (an object...) as JSON text
    return value if value is None or type(value) is str else _sql_value(value)


# How each known field becomes an SQL value (``None``: stored as it is); any other field, such
# as one a later version adds, goes through the general ``_sql_value``. This runs for every file
# of a sync, so the common fields take no detour.
_KNOWN: dict[str, Callable[[Any], Any] | None] = {
    "file_id": None,
    "filename": None,
    "size_bytes": None,
    "mime_type": None,
    "status": _plain,
    "purpose": _purpose_text,
    "metadata": _json_text,
    "extra": _json_text,
    "created_at": _utc_text,
    "updated_at": None,  # below: most files reuse the creation time's text
}
_CONVERTERS = tuple(_KNOWN.get(name, _sql_value) for name in _FIELDS)
_VALUES = operator.attrgetter(*_FIELDS)
_CREATED = _FIELDS.index("created_at")
_UPDATED = _FIELDS.index("updated_at")


def _row(file: File, epoch: int) -> tuple[Any, ...]:
    values = [
        value if convert is None else convert(value)
        for value, convert in zip(_VALUES(file), _CONVERTERS, strict=True)
    ]
    updated = file.updated_at
    if updated is not None:
        same = updated is file.created_at or updated == file.created_at
        values[_UPDATED] = values[_CREATED] if same else _utc_text(updated)
    values.append(epoch)
    return tuple(values)


_DOWNLOADABLE = frozenset(p.value for p in Purpose if p.downloadable)
# The keys of a file object in the seed generation's shape, in the order of ``_FIELDS``.
_SEED_ORDER: tuple[str, ...] = (
    *("file_id", "filename", "size_bytes", "mime_type", "purpose", "status", "metadata"),
    *("created_at", "updated_at"),
)
_SEED_KEYS = frozenset(_SEED_ORDER)
_SEED_SIZE = len(_SEED_ORDER)
_SEED_VALUES = operator.itemgetter(*_SEED_ORDER)
_fromisoformat = datetime.fromisoformat


def _time_text(raw: str) -> tuple[datetime, str]:
    """A wire timestamp, parsed, and as the inventory's UTC text (what ``_utc_text`` gives)."""
    value = _fromisoformat(raw)  # ValueError for anything but ISO 8601 text
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC), _utc_text(value.replace(tzinfo=UTC))
    if len(raw) == 20 and raw[19] == "Z" and raw[10] == "T":  # already that text
        return value, raw
    return value, _utc_text(value)


def _seed_values(obj: dict[str, Any]) -> tuple[Any, ...]:
    """The nine values of a seed-shaped object, ``None`` for a key it leaves out.

    Raises:
        KeyError: the object has a key outside the seed shape.
    """
    if len(obj) == _SEED_SIZE:
        values: tuple[Any, ...] = _SEED_VALUES(obj)  # KeyError unless exactly these keys
        return values
    if not obj.keys() <= _SEED_KEYS:
        raise KeyError("not the seed shape")
    get = obj.get
    return tuple(get(key) for key in _SEED_ORDER)


def _object_row(obj: dict[str, Any], epoch: int) -> tuple[Any, ...]:
    """The row of one file object as the server sent it: equal to ``_row`` of its ``File``.

    Objects in the seed generation's shape with plain values take the short way; any other
    (newer generations' objects, unknown keys, unusual values) is read into a ``File`` first.

    Raises:
        InvalidResponseError: the object does not match the documented shape.
    """
    try:
        if type(obj) is dict:
            (
                file_id,
                filename,
                size_bytes,
                mime_type,
                purpose,
                status,
                metadata,
                created_raw,
                updated_raw,
            ) = _seed_values(obj)
            if (
                type(file_id) is str
                and file_id
                and type(filename) is str
                and type(size_bytes) is int
                and type(mime_type) is str
                and (purpose is None or type(purpose) is str)
                and (status is None or type(status) is str)
                and (metadata is None or type(metadata) is dict)
                and type(created_raw) is str
                and (updated_raw is None or type(updated_raw) is str)
            ):
                created, created_text = _time_text(created_raw)
                if updated_raw is None:
                    updated_text = None
                elif updated_raw == created_raw:
                    updated_text = created_text
                else:
                    updated, updated_text = _time_text(updated_raw)
                    if updated == created:
                        updated_text = created_text
                return (
                    file_id,
                    filename,
                    size_bytes,
                    mime_type,
                    purpose,
                    status,
                    _json_dumps(metadata) if metadata else "{}",
                    created_text,
                    updated_text,
                    int(purpose in _DOWNLOADABLE),
                    None,
                    "{}",
                    epoch,
                )
    except (KeyError, TypeError, ValueError):
        pass  # the general way decides, with its messages
    return _row(_read_file(obj), epoch)


def _read_file(obj: Any) -> File:
    try:
        return structure_file(obj)
    except (KeyError, TypeError, ValueError) as exc:
        reason = exc.args[0] if exc.args else type(exc).__name__
        raise InvalidResponseError(
            f"the server sent a list response that does not match the documented shape: {reason}",
            status_code=200,
        ) from None


def _object_key(obj: dict[str, Any]) -> str:
    """``_key`` of one file object as the server sent it."""
    try:
        created = _fromisoformat(obj["created_at"])
        file_id = obj["file_id"]
        if type(file_id) is str and file_id:
            if created.tzinfo is None:
                created = created.replace(tzinfo=UTC)
            when = created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            return f"{when} {file_id}"
    except (KeyError, TypeError, ValueError):
        pass
    return _key(_read_file(obj))


@contextlib.contextmanager
def _connect(path: str) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        yield connection
    finally:
        connection.close()


def _prepare(connection: sqlite3.Connection) -> None:
    columns = ", ".join(f"{name} {_TYPES.get(name, '')}".strip() for name in _FIELDS)
    connection.execute(
        f"CREATE TABLE IF NOT EXISTS files ({columns}, "
        "seen_epoch INTEGER NOT NULL DEFAULT 0, deleted_at TEXT)"
    )
    present = {row[1] for row in connection.execute("PRAGMA table_info(files)")}
    for name in _FIELDS:
        if name not in present:  # a database made by an older version of the SDK
            connection.execute(f"ALTER TABLE files ADD COLUMN {name} {_TYPES.get(name, '')}")
    connection.execute("CREATE TABLE IF NOT EXISTS sync_state (key TEXT PRIMARY KEY, value TEXT)")


def _state(connection: sqlite3.Connection) -> dict[str, str]:
    return dict(connection.execute("SELECT key, value FROM sync_state").fetchall())


def _upsert_sql(rows: int) -> str:
    """One statement that stores ``rows`` rows: a page is one step, not one step per row."""
    names = (*_FIELDS, "seen_epoch")
    updates = ", ".join(f"{name} = excluded.{name}" for name in names if name != "file_id")
    values = ", ".join(["(" + ", ".join("?" * len(names)) + ")"] * rows)
    return (
        f"INSERT INTO files ({', '.join(names)}) VALUES {values} "
        f"ON CONFLICT (file_id) DO UPDATE SET {updates}, deleted_at = NULL"
    )


_COLUMNS = len(_FIELDS) + 1


class _Walk:
    """One walk's progress, written with its rows in the same transaction."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self.state = _state(connection)
        limit = connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        self._per_statement = max(1, min(_BATCH, limit // _COLUMNS))
        self._statements: dict[int, str] = {}

    def _store(self, rows: list[tuple[Any, ...]]) -> None:
        step = self._per_statement
        for start in range(0, len(rows), step):
            chunk = rows[start : start + step]
            sql = self._statements.get(len(chunk))
            if sql is None:
                sql = self._statements[len(chunk)] = _upsert_sql(len(chunk))
            self.connection.execute(sql, list(itertools.chain.from_iterable(chunk)))

    def count(self) -> int:
        """How many rows the table holds (deleted ones too)."""
        return int(self.connection.execute("SELECT count(*) FROM files").fetchone()[0])

    def commit(self, rows: list[tuple[Any, ...]], changes: dict[str, str]) -> None:
        """Store ``rows`` and the walk's new state at once (``state`` is the caller's to
        update: it may run ahead of the transactions while they run on a worker thread)."""
        connection = self.connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            if rows:
                self._store(rows)
            for key, value in changes.items():
                connection.execute(
                    "INSERT INTO sync_state (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def finish(self, epoch: int, full: bool) -> int:
        """End the walk: move the high-water mark, mark what a full walk missed."""
        connection = self.connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            marked = 0
            if full:
                now = format_timestamp(datetime.now(UTC))
                marked = connection.execute(
                    "UPDATE files SET deleted_at = ? WHERE seen_epoch < ? AND deleted_at IS NULL",
                    (now, epoch),
                ).rowcount
            top = self.state.get("walk_top")
            if top:
                connection.execute(
                    "INSERT INTO sync_state (key, value) VALUES ('high_water', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (top,),
                )
            connection.execute(
                "DELETE FROM sync_state WHERE key IN ('walk_top', 'walk_cursor', 'walk_full')"
            )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        self.state = _state(connection)
        return marked


class _Writer:
    """Stores a walk's pages in batches, each with the cursor of its last page, atomically.

    Pages are stored together, up to ``_BATCH`` rows or ``_FLUSH_AFTER`` seconds. A
    transaction runs on a worker thread while the next pages are fetched and their rows are
    built (SQLite releases the GIL while it stores); one is under way at most.
    """

    def __init__(self, walk: _Walk) -> None:
        self._walk = walk
        self._rows: list[tuple[Any, ...]] = []
        self._changes: dict[str, str] = {}
        self._since = time.monotonic()
        self._storing: asyncio.Future[None] | None = None

    async def add(self, rows: list[tuple[Any, ...]], changes: dict[str, str]) -> None:
        """Take one page's rows and the walk's state after it; store when a batch is due."""
        self._rows += rows
        self._changes.update(changes)
        self._walk.state.update(changes)  # what the walk's next page reads
        if len(self._rows) >= _BATCH or time.monotonic() - self._since >= _FLUSH_AFTER:
            await self.flush()

    async def flush(self) -> None:
        """Start storing what was taken, once the transaction under way has ended."""
        await self.settle()
        if not (self._rows or self._changes):
            return
        rows, changes = self._rows, self._changes
        self._rows, self._changes, self._since = [], {}, time.monotonic()
        self._storing = asyncio.ensure_future(asyncio.to_thread(self._walk.commit, rows, changes))

    async def settle(self) -> None:
        """Wait for the transaction under way, if any, and raise its error.

        A transaction on the worker thread cannot be stopped, so a cancellation waits for it
        to end (the connection must outlive it), then goes on.
        """
        storing, self._storing = self._storing, None
        if storing is None:
            return
        cancelled: asyncio.CancelledError | None = None
        while not storing.done():
            try:
                await asyncio.shield(storing)
            except asyncio.CancelledError as exc:
                if storing.done():
                    break
                cancelled = exc
        if cancelled is not None:
            raise cancelled
        storing.result()


def _key(file: File) -> str:
    """A file's place in the listing order, as sortable text: creation time, then id.

    The time has a fixed width (microseconds always written), so text order is time order.
    """
    when = file.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{when} {file.file_id}"


async def sync_inventory(
    client: AsyncClient,
    path: str,
    *,
    full: bool = False,
    progress: Callable[[int], object] | None = None,
    **options: Any,
) -> InventorySummary:
    """Bring the inventory at ``path`` up to date with the account (see the module doc)."""
    with _connect(path) as connection:
        _prepare(connection)
        walk = _Walk(connection)
        before = walk.count()
        listed = marked = 0
        resumed = "walk_cursor" in walk.state or "walk_top" in walk.state
        ran_full = full
        rounds = 0
        while True:
            rounds += 1
            state = walk.state
            pending = "walk_top" in state
            walk_full = state.get("walk_full") == "1" if pending else full
            ran_full = ran_full or walk_full
            epoch = int(state.get("epoch", "0"))
            if not pending:
                if walk_full:
                    epoch += 1
                begun = {"epoch": str(epoch), "walk_full": str(int(walk_full))}
                await asyncio.to_thread(walk.commit, [], begun)
                walk.state.update(begun)
            stop = None if walk_full else walk.state.get("high_water")
            cursor = walk.state.get("walk_cursor")
            pager = client.list_files(limit=_PAGE, after=cursor, **options)
            done = False
            writer = _Writer(walk)
            try:
                async with pager:
                    # The server's objects as decoded: each becomes its row without a
                    # ``File`` in between (``_object_row``), most of the cost of a big sync.
                    async for batch in pager.json_batches():
                        objects = batch
                        if stop is not None:
                            objects = [obj for obj in batch if _object_key(obj) > stop]
                            done = len(objects) < len(batch)
                        changes: dict[str, str] = {}
                        if objects:
                            changes["walk_cursor"] = object_id(objects[-1])
                            if "walk_top" not in walk.state:
                                changes["walk_top"] = _object_key(objects[0])
                        elif "walk_top" not in walk.state:
                            changes["walk_top"] = walk.state.get("high_water", "")
                        await writer.add([_object_row(obj, epoch) for obj in objects], changes)
                        listed += len(objects)
                        if progress is not None:
                            progress(len(objects))
                        if done:
                            break
                await writer.flush()
            finally:
                await writer.settle()
            marked += await asyncio.to_thread(walk.finish, epoch, walk_full)
            # A resumed walk covered only what was older than its start: walk once more from
            # the top for what arrived since.
            if not (pending and rounds == 1):
                break
            if walk_full:  # the resumed walk was the full one: what is left is incremental
                full = False
        added = walk.count() - before
    return InventorySummary(
        listed=listed, added=added, marked_deleted=marked, resumed=resumed, full=ran_full
    )


def inventory_stats(path: str | os.PathLike[str]) -> InventoryStats:
    """Counts and bytes per purpose and per creation month of the inventory at ``path``.

    Raises:
        ValueError: there is no inventory at ``path``.
    """
    location = os.fspath(path)
    if not os.path.isfile(location):
        raise ValueError(f"no inventory at {location!r}: run a sync first")
    with _connect(location) as connection:
        _prepare(connection)
        live = "FROM files WHERE deleted_at IS NULL"
        files, size = connection.execute(
            f"SELECT count(*), coalesce(sum(size_bytes), 0) {live}"
        ).fetchone()
        deleted = connection.execute(
            "SELECT count(*) FROM files WHERE deleted_at IS NOT NULL"
        ).fetchone()[0]
        by_purpose = connection.execute(
            f"SELECT purpose, count(*), coalesce(sum(size_bytes), 0) {live} "
            "GROUP BY purpose ORDER BY 3 DESC, 1"
        ).fetchall()
        by_month = connection.execute(
            f"SELECT substr(created_at, 1, 7), count(*), coalesce(sum(size_bytes), 0) {live} "
            "GROUP BY 1 ORDER BY 1"
        ).fetchall()
    return InventoryStats(
        files=files,
        bytes=size,
        deleted=deleted,
        by_purpose=tuple(tuple(row) for row in by_purpose),
        by_month=tuple(tuple(row) for row in by_month),
    )


# Exported from ``qoder_files``: tracebacks, reprs and the reference show that path.
publish("qoder_files", globals(), ["InventoryStats", "InventorySummary", "inventory_stats"])
