"""The listing output formats: JSON lines, one JSON array, CSV, ids only, and the table.

Every writer takes a page of files at a time and makes one write per page, so output streams
as pages arrive, and ``finish()`` completes the document (the JSON array's ``]``, the table's
count): a listing that stops early still leaves a valid document of what was written. JSON,
JSON lines and CSV keep each value exactly as the API sent it when they go to a file or a
pipe; on a terminal, CSV cells and ids are ``visible`` text and JSON escapes what a terminal
could act on (the value read back is the same).
"""

from __future__ import annotations

import csv
import io
from typing import IO, TYPE_CHECKING, Any, Protocol

from ._render import WireEncoder, json_for_terminal, visible, write_bytes
from ._table import TableWriter

if TYPE_CHECKING:
    from qoder_files.models import File

__all__ = ["CSV_COLUMNS", "FORMATS", "Writer", "make_writer"]

FORMATS = ("table", "json", "jsonl", "csv")
CSV_COLUMNS = (
    "file_id",
    "filename",
    "purpose",
    "size_bytes",
    "mime_type",
    "status",
    "created_at",
    "updated_at",
    "metadata",
)


class Writer(Protocol):
    """One output format: ``page()`` per page (one write each), then ``finish()``.

    ``objects``: whether ``page()`` takes the server's JSON objects (from ``json_batches()``)
    rather than ``File`` values.
    """

    objects: bool

    def page(self, files: list[Any]) -> None:
        """Write one page of files."""

    def finish(self) -> None:
        """Complete the document; called once, also when the listing stopped early."""


class _JsonLines:
    """JSON lines of the server's own objects: passed through as sent, one write per page."""

    objects = True

    def __init__(self, out: IO[bytes], encoder: WireEncoder, terminal: bool) -> None:
        self._out = out
        self._encoder = encoder
        self._terminal = terminal

    def _bytes(self, data: bytes) -> bytes:
        if not self._terminal:
            return data
        return json_for_terminal(data.decode()).encode()

    def page(self, files: list[Any]) -> None:
        if files:
            lines = self._encoder.encode_objects(files)
            lines.append(b"")
            write_bytes(self._out, self._bytes(b"\n".join(lines)))

    def finish(self) -> None:
        pass


class _JsonArray(_JsonLines):
    _started = False

    def page(self, files: list[Any]) -> None:
        if not files:
            return
        head = b",\n  " if self._started else b"[\n  "
        self._started = True
        lines = self._encoder.encode_objects(files)
        write_bytes(self._out, self._bytes(head + b",\n  ".join(lines)))

    def finish(self) -> None:
        write_bytes(self._out, b"\n]\n" if self._started else b"[]\n")


def _csv_cell(value: Any, encoder: WireEncoder) -> Any:
    if value is None:
        return ""
    if isinstance(value, str | int) and not isinstance(value, bool):
        return value
    return encoder.encode_value(value)


class _Csv:
    objects = False

    def __init__(
        self, out: IO[bytes], encoder: WireEncoder, terminal: bool, fields: list[str] | None
    ) -> None:
        self._out = out
        self._encoder = encoder
        self._terminal = terminal
        self._columns = fields or list(CSV_COLUMNS)
        self._started = False

    def _header(self) -> list[str]:
        self._started = True
        return self._columns

    def page(self, files: list[File]) -> None:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        if not self._started:
            writer.writerow(self._header())
        wire = self._encoder.wire
        encoder = self._encoder
        columns = self._columns
        for file in files:
            obj = wire(file)
            row = [_csv_cell(obj.get(column), encoder) for column in columns]
            if self._terminal:
                row = [visible(str(cell)) for cell in row]
            writer.writerow(row)
        write_bytes(self._out, text.getvalue().encode("utf-8", "backslashreplace"))

    def finish(self) -> None:
        if not self._started:
            self.page([])


class _Ids:
    objects = False

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out

    def page(self, files: list[File]) -> None:
        if files:
            text = "".join(visible(file.file_id) + "\n" for file in files)
            write_bytes(self._out, text.encode())

    def finish(self) -> None:
        pass


def make_writer(
    output_format: str,
    out: IO[bytes],
    *,
    terminal: bool,
    fields: list[str] | None = None,
    quiet: bool = False,
) -> Writer:
    """The writer for ``output_format`` (``quiet``: ids only, whatever the format).

    Args:
        output_format: One of ``FORMATS``.
        out: The binary stream to write to.
        terminal: Whether ``out`` is a terminal.
        fields: The JSON keys or columns to keep, in order; ``None`` for all.
        quiet: Write the ids only, one per line.

    Returns:
        A ``Writer``.
    """
    if quiet:
        return _Ids(out)
    if output_format == "table":
        encoder = WireEncoder() if fields else None
        return TableWriter(out, terminal=terminal, encoder=encoder, fields=fields)
    encoder = WireEncoder(fields)
    if output_format == "csv":
        return _Csv(out, encoder, terminal, fields)
    if output_format == "json":
        return _JsonArray(out, encoder, terminal)
    return _JsonLines(out, encoder, terminal)
