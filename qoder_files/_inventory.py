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
- Crash-safe: rows commit with the listing cursor of their last page in one transaction, a
  batch of pages at a time. A sync killed at any moment leaves a walk in progress that the
  next sync resumes from its cursor (then it walks from the top again for anything newer),
  with no gap and no duplicate.

The listing is the client's pager, read as the server's JSON objects (``json_batches()``);
each object becomes its row directly (``object_row``: the short way in ``_inventory_store``
for plain seed-shaped objects, through a ``File`` for any other). The SQL is the standard
library's ``sqlite3``; a big sync stores its rows from a writer process
(``_inventory_store``), so that listing and storing each have a core.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import json
import operator
import os
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from . import _inventory_store
from ._convert import format_timestamp, object_id, structure_file
from ._public import publish
from .errors import InvalidResponseError
from .models import File, Purpose

if TYPE_CHECKING:
    from .client import AsyncClient

__all__ = ["InventoryStats", "InventorySummary", "inventory_stats", "sync_inventory"]

_FIELDS = tuple(field.name for field in attrs.fields(File))
_TYPES = {"file_id": "TEXT PRIMARY KEY", "size_bytes": "INTEGER", "downloadable": "INTEGER"}
T = TypeVar("T")

_PAGE = 100
_BATCH = 1000
"""Rows stored per transaction at most, while a walk reads many pages quickly."""
_FLUSH_AFTER = 0.5
"""Seconds after which the rows read so far are stored, however few."""
_IN_FLIGHT = 4
"""Batches handed to the writer process ahead of its answers (the listing waits beyond)."""
_HANDED_BYTES = 64 << 20
"""Bytes handed to the writer process that it may leave unread before the listing waits
(``_IN_FLIGHT`` bounds them first): the listing never waits for a writer to start reading."""
_READY_WITHIN = 30.0
"""Seconds a writer process may take to say it runs; beyond, rows are stored here."""


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
    return "{}" if not value and isinstance(value, dict) else _inventory_store.dumps(value)


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


# The short way from objects to rows lives apart (the writer process loads only it): it must
# agree with ``Purpose`` and ``File``.
_SHORT_WAY_AGREES = {p.value for p in Purpose if p.downloadable} == _inventory_store.DOWNLOADABLE
_SHORT_WAY_AGREES &= _FIELDS[: len(_inventory_store.SEED_ORDER)] == _inventory_store.SEED_ORDER
if not _SHORT_WAY_AGREES:  # pragma: no cover - guards future changes to File or Purpose
    raise RuntimeError("the inventory's seed shape disagrees with File and Purpose")


def object_row(obj: Any, epoch: int) -> tuple[Any, ...]:
    """The row of one file object as the server sent it: equal to ``_row`` of its ``File``.

    Plain seed-shaped objects take the short way (``_inventory_store.seed_row``); any other
    (newer generations' objects, unknown keys, other spellings of times) is read into a
    ``File`` first.

    Raises:
        InvalidResponseError: the object does not match the documented shape.
    """
    row = _inventory_store.seed_row(obj, epoch)
    return _row(_read_file(obj), epoch) if row is None else row


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
        created = datetime.fromisoformat(obj["created_at"])
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
    connection = _inventory_store.connect(path)
    try:
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


COLUMN_NAMES = (*_FIELDS, "seen_epoch")
"""The columns a row holds values for, in order."""


class _Walk:
    """One walk's progress, written with its rows in the same transaction."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self.state = _state(connection)
        self._batches = _inventory_store.Batches(connection, COLUMN_NAMES)

    def count(self) -> int:
        """How many rows the table holds (deleted ones too)."""
        return int(self.connection.execute("SELECT count(*) FROM files").fetchone()[0])

    def commit(self, rows: list[tuple[Any, ...]], changes: dict[str, str]) -> None:
        """Store ``rows`` and the walk's new state at once (``state`` is the caller's to
        update: it may run ahead of the transactions stored elsewhere)."""
        try:
            self._batches.commit(rows, changes)
        except _inventory_store.UnstorableText as error:
            raise InvalidResponseError(str(error), status_code=200) from None

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

    Pages are stored together, up to ``_BATCH`` rows or ``_FLUSH_AFTER`` seconds. Smaller
    batches (a walk slower than its storage, or a short one) are stored by this process, one
    at a time on a worker thread. The first full batch starts a writer process
    (``_inventory_store``) that stores it and the rest, up to ``_IN_FLIGHT`` batches ahead
    of its answers: the listing and SQLite then each have a core, instead of taking turns
    under one GIL.

    The listing does not wait for the writer to start. Until a batch is answered it is kept:
    a writer that never says it is ready, or stops without a word, leaves its batches (and
    the rest of the walk) to this process, in order. Storing a batch twice is harmless, as
    rows are keyed by ``file_id`` and the cursor only moves on. A batch the writer refused
    (``error``) stops the sync.
    """

    def __init__(self, walk: _Walk, path: str) -> None:
        self._walk = walk
        self._path = path
        self._pages: list[bytes] = []  # each page's objects, packed (``_inventory_store.pack``)
        self._rows = 0  # objects in ``_pages``
        self._epoch = 0
        self._changes: dict[str, str] = {}
        self._since = time.monotonic()
        self._writer: asyncio.subprocess.Process | None = None
        self._ready = False  # the writer process said it runs
        self._in_process = False  # no writer process, for good: store here
        # batches handed to the writer process, not yet answered
        self._handed: collections.deque[_inventory_store.Frame] = collections.deque()

    async def add(self, objects: list[Any], epoch: int, changes: dict[str, str]) -> None:
        """Take one page's file objects and the walk's state after them; store when a batch
        is due."""
        if objects:
            self._pages.append(_inventory_store.pack(objects))
            self._rows += len(objects)
        self._epoch = epoch
        self._changes.update(changes)
        self._walk.state.update(changes)  # what the walk's next page reads
        if self._rows >= _BATCH or time.monotonic() - self._since >= _FLUSH_AFTER:
            await self.flush()

    async def flush(self) -> None:
        """Store (or hand to the writer process) what was taken."""
        if not (self._pages or self._changes):
            return
        batch: _inventory_store.Frame = (self._pages, self._epoch, self._changes)
        rows, self._rows = self._rows, 0
        self._pages, self._changes, self._since = [], {}, time.monotonic()
        if self._writer is None and rows >= _BATCH and not self._in_process:
            starting = asyncio.ensure_future(_start_writer(self._path))
            try:
                await _unstoppable(starting)
            finally:  # also when cancelled meanwhile: a started writer is settled
                self._writer = starting.result() if starting.done() else None
                self._in_process = self._writer is None
        writer = self._writer
        if writer is None:
            await self._store_here(batch)
            return
        assert writer.stdin is not None
        self._handed.append(batch)
        writer.stdin.write(_inventory_store.frame(*batch))
        with contextlib.suppress(ConnectionError):  # it stopped: its answers will say
            await writer.stdin.drain()
        while self._writer is not None and len(self._handed) > _IN_FLIGHT:
            await self._answer()

    async def _store_here(self, batch: _inventory_store.Frame) -> None:
        pages, epoch, changes = batch
        rows = _inventory_store.rows_of(_inventory_store.unpack(pages), epoch)
        await _unstoppable(asyncio.to_thread(self._walk.commit, rows, changes))

    async def _answer(self) -> None:
        """Read the writer's next line and act on it."""
        writer = self._writer
        assert writer is not None
        assert writer.stdout is not None
        try:
            if self._ready:
                line = await writer.stdout.readline()
            else:
                line = await asyncio.wait_for(writer.stdout.readline(), _READY_WITHIN)
        except (TimeoutError, ValueError):  # no line in time, or one beyond the limit
            line = b""
        if not self._ready and line == _inventory_store.READY:
            self._ready = True
        elif self._ready and line == b"ok\n":
            self._handed.popleft()
        elif self._ready and line.startswith(b"error "):
            self._handed.clear()
            message = line[6:].decode("utf-8", "replace").strip()
            kind, _, detail = message.partition(": ")
            if kind in (InvalidResponseError.__name__, _inventory_store.UnstorableText.__name__):
                raise InvalidResponseError(detail, status_code=200)  # a file the server sent
            error = getattr(sqlite3, kind, None)
            if isinstance(error, type) and issubclass(error, sqlite3.Error):
                raise error(detail)  # the same error the database gives in-process
            raise sqlite3.DatabaseError(f"storing the inventory failed: {message}")
        else:  # it could not start, or it stopped without a word: carry on here
            await self._stop_writer()
            self._in_process = True
            while self._handed:
                await self._store_here(self._handed.popleft())

    async def _stop_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        if writer.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                writer.kill()
        if writer.stdin is not None:
            writer.stdin.close()
        await _unstoppable(writer.wait())

    async def settle(self) -> None:
        """Wait until every batch handed to the writer process is stored, and raise its
        error. A cancellation waits too: what was handed over is stored."""
        writer = self._writer
        if writer is None:
            return
        assert writer.stdin is not None
        writer.stdin.close()
        try:
            while self._writer is not None and (self._handed or not self._ready):
                await _unstoppable(self._answer())
        finally:
            self._handed.clear()
            if self._writer is not None:
                self._writer = None
                await _unstoppable(writer.wait())

    async def abandon(self) -> None:
        """The walk failed or was cancelled: store the pages already read if the database
        still takes them, wait for the writer process, and raise nothing (the walk's own error
        is the one that counts)."""
        with contextlib.suppress(Exception):
            await self.flush()
        with contextlib.suppress(Exception):
            await self.settle()


async def _start_writer(path: str) -> asyncio.subprocess.Process | None:
    """A writer process for ``path``, or ``None`` where none can run (an in-memory database,
    no interpreter to start as in an embedded Python, an event loop without subprocesses...):
    batches are then stored in this process. Its first line says whether it runs."""
    executable = sys.executable
    if path in ("", ":memory:") or not executable:
        return None
    if not os.path.basename(executable).lower().startswith(("python", "pypy")):
        return None
    # The writer runs the store's file alone, with only the standard library at first, and
    # resolves any other import exactly as this process does. It never sees Ctrl-C meant for
    # this process (it also ignores SIGINT from its first statement on).
    code = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
        f"sys.path[:] = {[entry for entry in sys.path if isinstance(entry, str)]!r}; "
        "from importlib.util import module_from_spec, spec_from_file_location; "
        "spec = spec_from_file_location('_inventory_writer', sys.argv[1]); "
        "store = module_from_spec(spec); spec.loader.exec_module(store); "
        "sys.exit(store.main(sys.argv[2:]))"
    )
    arguments = (_inventory_store.__file__, path, ",".join(COLUMN_NAMES))
    try:
        writer = await asyncio.create_subprocess_exec(
            *(executable, "-I", "-c", code, *arguments),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            # A process group of its own, in this session: Ctrl-C at a terminal reaches this
            # process only, and the scheduler still sees one job (a new session would get a
            # share of the CPU of its own, taken from the listing).
            process_group=0,
        )
    except Exception:  # any reason it cannot start means: store here
        return None
    assert writer.stdin is not None
    writer.stdin.transport.set_write_buffer_limits(high=_HANDED_BYTES)
    return writer


async def _unstoppable(awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` to its end even when cancelled (then re-raise the cancellation):
    a transaction under way, or the writer process, must finish before the database closes."""
    task = asyncio.ensure_future(awaitable)
    cancelled: asyncio.CancelledError | None = None
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError as exc:
            if task.done():
                break
            cancelled = exc
    if cancelled is not None:
        raise cancelled
    return task.result()


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
        # The write-ahead log is copied into the database once, at the end, rather than every
        # thousand pages written: a big sync spends much of its SQLite time copying otherwise.
        connection.execute("PRAGMA wal_autocheckpoint=0")
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
            # (only a walk in progress has a cursor: one written after its walk had finished,
            # by the writer of a sync killed meanwhile, is stale)
            cursor = walk.state.get("walk_cursor") if pending else None
            pager = client.list_files(limit=_PAGE, after=cursor, **options)
            done = False
            writer = _Writer(walk, path)
            try:
                async with pager:
                    # The server's objects as decoded: each becomes its row without a
                    # ``File`` in between (``object_row``), most of the cost of a big sync.
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
                        await writer.add(objects, epoch, changes)
                        listed += len(objects)
                        if progress is not None:
                            progress(len(objects))
                        if done:
                            break
            except BaseException:
                await writer.abandon()
                raise
            await writer.flush()
            await writer.settle()
            marked += await asyncio.to_thread(walk.finish, epoch, walk_full)
            # A resumed walk covered only what was older than its start: walk once more from
            # the top for what arrived since.
            if not (pending and rounds == 1):
                break
            if walk_full:  # the resumed walk was the full one: what is left is incremental
                full = False
        added = walk.count() - before
        await asyncio.to_thread(connection.execute, "PRAGMA wal_checkpoint(PASSIVE)")
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
