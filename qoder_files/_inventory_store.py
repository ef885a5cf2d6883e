"""Where inventory rows are stored: one transaction per batch, in this process or in a writer.

``Batches`` stores a batch of rows and the walk's new state in one transaction (each batch as
one multi-row statement). A big sync hands its batches to a writer process instead, this
module's ``main()`` in the same Python (``_inventory`` starts it): it turns the objects it reads
on stdin into rows and stores them, batch after batch, in order, and answers each with a line
on stdout. The listing process then spends its time listing, and the rows and SQLite theirs on
the other core.

The pipe speaks length-prefixed ``marshal`` frames ``(pages, epoch, changes)``: each page the
server's file objects as decoded, packed as they arrive (``pack``), then the walk's epoch and
its state after them. A frame cut short (the listing process was killed) is dropped, never
stored in part. The writer first says ``ready``, then answers ``ok`` per batch, or
``error Type: message`` and stops. It ignores Ctrl-C (the listing process decides) and ends
when its stdin closes, once every batch read is stored.

The writer runs this file alone (``python -c``, see ``_inventory._start_writer``), not the
package: it starts with the standard library only, and imports the rest of the package only
for an object that is not plainly seed-shaped.
"""

from __future__ import annotations

import functools
import gc
import itertools
import marshal
import operator
import sqlite3
import struct
import sys
from datetime import datetime

TYPE_CHECKING = False  # as ``typing.TYPE_CHECKING``, without importing ``typing``

if TYPE_CHECKING:  # the writer process starts without ``typing``
    from collections.abc import Callable
    from typing import IO, Any


@functools.cache
def _codec() -> Callable[[Any], str]:
    """The package's JSON text (``_convert.dumps``), its modules loaded on first use: most files
    carry no metadata. What orjson refuses (a lone surrogate, an integer beyond 64 bits), the
    standard library writes."""
    import json  # noqa: PLC0415

    def standard(value: Any) -> str:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    try:
        import orjson  # noqa: PLC0415
    except ImportError:  # pragma: no cover - depends on the installed extras
        return standard

    def fast(value: Any) -> str:
        try:
            return orjson.dumps(value).decode()
        except TypeError:  # orjson.JSONEncodeError
            return standard(value)

    return fast


def dumps(value: Any) -> str:
    """``value`` as the inventory's JSON text (metadata, extra fields)."""
    return _codec()(value)


__all__ = [
    "DOWNLOADABLE",
    "READY",
    "Batches",
    "Frame",
    "UnstorableText",
    "connect",
    "dumps",
    "frame",
    "main",
    "pack",
    "read_frame",
    "rows_of",
    "seed_row",
    "serve",
    "unpack",
]

_HEADER = struct.Struct("<I")
_LONGEST = 2000  # characters of an error message sent back by the writer process
_COLLECT_AFTER = 200_000  # objects the writer process allocates and keeps before a collection
READY = b"ready\n"
"""The writer process's first line: it runs, and loaded this file."""
_STATE_SQL = (
    "INSERT INTO sync_state (key, value) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


def connect(path: str) -> sqlite3.Connection:
    """A connection in the inventory's modes: write-ahead log, autocommit (explicit BEGIN)."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


def _upsert_sql(columns: tuple[str, ...], rows: int) -> str:
    """One statement that stores ``rows`` rows: a batch is one step, not one step per row."""
    updates = ", ".join(f"{name} = excluded.{name}" for name in columns if name != "file_id")
    values = ", ".join(["(" + ", ".join("?" * len(columns)) + ")"] * rows)
    return (
        f"INSERT INTO files ({', '.join(columns)}) VALUES {values} "
        f"ON CONFLICT (file_id) DO UPDATE SET {updates}, deleted_at = NULL"
    )


class Batches:
    """Stores batches of rows (values in ``columns`` order) with the walk's state, atomically."""

    def __init__(self, connection: sqlite3.Connection, columns: tuple[str, ...]) -> None:
        self.connection = connection
        self._columns = columns
        limit = connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        self._per_statement = max(1, min(1000, limit // len(columns)))
        self._statements: dict[int, str] = {}

    def _store(self, rows: list[tuple[Any, ...]]) -> None:
        # Few statement sizes (each size is a statement SQLite compiles and keeps): as many
        # rows as one statement takes, then a page's worth, then what is left.
        start = 0
        for step in (self._per_statement, 100, 1):
            while len(rows) - start >= step:
                count = step if step > 1 else len(rows) - start
                chunk = rows[start : start + count]
                sql = self._statements.get(count)
                if sql is None:
                    sql = self._statements[count] = _upsert_sql(self._columns, count)
                self.connection.execute(sql, list(itertools.chain.from_iterable(chunk)))
                start += count

    def commit(self, rows: list[tuple[Any, ...]], changes: dict[str, str]) -> None:
        """Store ``rows`` and the walk's new state in one transaction.

        Raises:
            UnstorableText: a value is text SQLite cannot hold; nothing of the batch is stored.
        """
        connection = self.connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            try:
                if rows:
                    self._store(rows)
                for key, value in changes.items():
                    connection.execute(_STATE_SQL, (key, value))
            except UnicodeEncodeError as error:
                raise UnstorableText(
                    f"a file's text is not valid Unicode, so it cannot be stored ({error})"
                ) from None
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise


class UnstorableText(ValueError):
    """A file's text holds a lone surrogate: JSON can spell one (``"\\ud800"``), UTF-8 text,
    and so SQLite, cannot. (orjson refuses such a response already; the standard library's
    decoder lets it through.)"""


Frame = tuple[list[bytes], int, dict[str, str]]
"""A batch, as the listing process holds it and the writer process reads it: pages of file
objects (``pack``), the walk's epoch, its new state."""


def pack(objects: list[Any]) -> bytes:
    """One page's file objects, as a batch holds them until it is stored.

    Packed, a page waiting in the listing process is one ``bytes``, not objects that each
    garbage collection there would walk again (most of the cost, a batch of pages at a time).
    """
    return marshal.dumps(objects)


def unpack(pages: list[bytes]) -> list[Any]:
    """The file objects of ``pages`` (``pack``), in order."""
    objects: list[Any] = []
    for page in pages:
        objects += marshal.loads(page)
    return objects


# --- file objects to rows --------------------------------------------------------------------

DOWNLOADABLE = frozenset({"tool_output", "skill_output"})
"""The purposes whose files can be downloaded (``_inventory`` checks it against ``Purpose``)."""
# The keys of a file object in the seed generation's shape, in the order of the row's columns.
SEED_ORDER: tuple[str, ...] = (
    *("file_id", "filename", "size_bytes", "mime_type", "purpose", "status", "metadata"),
    *("created_at", "updated_at"),
)
_SEED_KEYS = frozenset(SEED_ORDER)
_SEED_VALUES = operator.itemgetter(*SEED_ORDER)
_SEED_SIZE = len(SEED_ORDER)
_fromisoformat = datetime.fromisoformat


def _is_utc_text(raw: Any) -> bool:
    """Whether ``raw`` is a time written as the inventory stores it: ``YYYY-MM-DDTHH:MM:SSZ``
    (other spellings of a time, such as week dates or offsets, take the long way)."""
    if (
        type(raw) is not str
        or len(raw) != 20
        or raw[19] != "Z"
        or raw[10] != "T"
        or raw[4] != "-"
        or raw[7] != "-"
        or raw[13] != ":"
        or raw[16] != ":"
    ):
        return False
    _fromisoformat(raw)  # ValueError unless the digits make a time
    return True


def seed_row(obj: Any, epoch: int) -> tuple[Any, ...] | None:
    """The row of a plain seed-shaped file object, or ``None`` for any other object.

    Plain: the seed generation's keys only, each value of its documented type, times in
    whole UTC seconds with ``Z``. Such a row equals the one ``_inventory`` builds from the
    object's ``File`` (a test compares them); ``None`` sends the object that long way.
    """
    try:
        if type(obj) is not dict:
            return None
        if len(obj) == _SEED_SIZE:
            values = _SEED_VALUES(obj)  # KeyError unless exactly these keys
        elif obj.keys() <= _SEED_KEYS:
            get = obj.get
            values = tuple(get(key) for key in SEED_ORDER)
        else:
            return None
        (file_id, filename, size, mime_type, purpose, status, metadata, created, updated) = values
        if (
            type(file_id) is str
            and file_id
            and type(filename) is str
            and type(size) is int
            and type(mime_type) is str
            and (purpose is None or type(purpose) is str)
            and (status is None or type(status) is str)
            and (metadata is None or type(metadata) is dict)
            and _is_utc_text(created)
            and (updated is None or updated == created or _is_utc_text(updated))
        ):
            downloadable = 1 if purpose in DOWNLOADABLE else 0
            metadata_text = dumps(metadata) if metadata else "{}"
            return (
                file_id,
                filename,
                size,
                mime_type,
                purpose,
                status,
                metadata_text,
                created,
                updated,
                downloadable,
                None,
                "{}",
                epoch,
            )
    except (KeyError, TypeError, ValueError):
        pass
    return None


def rows_of(objects: list[Any], epoch: int) -> list[tuple[Any, ...]]:
    """The rows of a page of file objects as the server sent them.

    Raises:
        InvalidResponseError: an object does not match the documented shape.
    """
    rows = [seed_row(obj, epoch) for obj in objects]
    if None not in rows:
        return rows  # type: ignore[return-value]
    from qoder_files._inventory import object_row  # noqa: PLC0415 - the long way, when needed

    return [
        object_row(obj, epoch) if row is None else row
        for obj, row in zip(objects, rows, strict=True)
    ]


# --- the writer process ------------------------------------------------------------------------


def frame(pages: list[bytes], epoch: int, changes: dict[str, str]) -> bytes:
    """One batch as the writer process reads it."""
    body = marshal.dumps((pages, epoch, changes))
    return _HEADER.pack(len(body)) + body


def read_frame(stream: IO[bytes]) -> Frame | None:
    """The next batch from ``stream``, or ``None`` at its end (or at a frame cut short)."""
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(head)
    body = stream.read(size)
    if len(body) < size:
        return None
    pages, epoch, changes = marshal.loads(body)
    return pages, epoch, changes


def serve(
    path: str,
    columns: tuple[str, ...],
    rows_of: Callable[[list[Any], int], list[tuple[Any, ...]]],
    source: IO[bytes],
    replies: IO[bytes],
) -> int:
    """Store every batch read from ``source`` (rows by ``rows_of``); answer each on
    ``replies``. Returns the exit status."""
    connection = connect(path)
    try:
        batches = Batches(connection, columns)
        while (batch := read_frame(source)) is not None:
            pages, epoch, changes = batch
            try:
                batches.commit(rows_of(unpack(pages), epoch), changes)
            except Exception as error:
                message = " ".join(f"{type(error).__name__}: {error}".split())[:_LONGEST]
                replies.write(f"error {message}\n".encode("utf-8", "backslashreplace"))
                replies.flush()
                return 1
            replies.write(b"ok\n")
            replies.flush()
        return 0
    finally:
        connection.close()


def main(argv: list[str]) -> int:  # pragma: no cover - the writer process (parts tested)
    """The writer process: store the batches read on stdin into the database ``argv[0]``,
    rows with the columns named in ``argv[1]`` (comma-separated)."""
    path, columns = argv[0], tuple(argv[1].split(","))
    # A batch's objects are freed as soon as it is stored: a collection every 700 of them
    # would only walk them again. Collect when objects pile up (cycles), not as batches pass.
    gc.freeze()
    gc.set_threshold(_COLLECT_AFTER)
    sys.stdout.buffer.write(READY)
    sys.stdout.buffer.flush()
    return serve(path, columns, rows_of, sys.stdin.buffer, sys.stdout.buffer)
