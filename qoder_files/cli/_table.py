"""The listing table, written a page at a time: rows appear as pages arrive.

A table that waits for its last row to size its columns leaves the screen blank for as long as
the listing takes. This one fixes its columns when the first page arrives (known widths for the
default columns, the first page's widths for ``--fields``), writes each page's rows in one
write, and puts the one column of unbounded width, the name, last: on a terminal it folds onto
continuation lines within the terminal's width, through a pipe it is written whole. Every cell
is ``visible`` text: no markup, no escape sequence, one line per cell. No colour either, so the
table reads the same under ``NO_COLOR`` and in a log file.
"""

from __future__ import annotations

import shutil
import unicodedata
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from ._render import visible, write_bytes

if TYPE_CHECKING:
    from qoder_files.models import File

    from ._render import WireEncoder

__all__ = ["TableWriter", "cell_width", "human_size", "truncate"]

GAP = "  "
MAX_COLUMN = 40
"""The widest a ``--fields`` column other than the last grows (longer cells end in ``…``)."""
MIN_LAST = 12
"""The narrowest the last column gets on a terminal before lines simply run over."""
WIDE_TERMINAL = 100
"""Below this many columns, the default table leaves out the creation time."""


def cell_width(text: str) -> int:
    """How many terminal cells ``text`` takes (wide East Asian characters take two)."""
    if text.isascii():
        return len(text)
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in "WF" else 1
    return width


def _cut(text: str, width: int) -> tuple[str, str]:
    """The longest head of ``text`` that fits ``width`` cells, and the rest."""
    if cell_width(text) <= width:
        return text, ""
    used = 0
    for index, char in enumerate(text):
        used += cell_width(char)
        if used > width:
            return text[:index], text[index:]
    return text, ""  # pragma: no cover - cell_width said it does not fit


def truncate(text: str, width: int) -> str:
    """``text`` cut to ``width`` cells, ending in ``…`` when it was cut."""
    head, rest = _cut(text, width)
    if not rest:
        return head
    return _cut(text, width - 1)[0] + "…"


def _pad(text: str, width: int, *, right: bool = False) -> str:
    room = " " * max(width - cell_width(text), 0)
    return room + text if right else text + room


def human_size(size: int) -> str:
    """A byte count for people: ``512 B``, ``1.5 kB``, ``2.0 MB`` (powers of 1000)."""
    amount = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if amount < 1000 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


class _Column:
    __slots__ = ("cell", "header", "right", "width")

    def __init__(
        self, header: str, cell: Callable[[Any], str], width: int = 0, right: bool = False
    ) -> None:
        self.header = header
        self.cell = cell
        self.width = max(width, cell_width(header))
        self.right = right


def _default_columns(wide: bool) -> list[_Column]:
    columns = [
        _Column("FILE ID", lambda f: visible(f.file_id), 37),
        _Column("PURPOSE", lambda f: visible(str(f.purpose or "")), 16),
        _Column("SIZE", lambda f: human_size(f.size_bytes), 8, right=True),
    ]
    if wide:
        columns.append(
            _Column("CREATED (UTC)", lambda f: f.created_at.strftime("%Y-%m-%d %H:%M"), 16)
        )
    columns.append(_Column("NAME", lambda f: visible(f.filename)))
    return columns


def _field_text(value: Any) -> str:
    if isinstance(value, str):
        return visible(value)
    if value is None:
        return ""
    import json  # noqa: PLC0415 - objects and lists are rare in a table

    return visible(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def _field_cell(key: str) -> Callable[[dict[str, Any]], str]:
    return lambda wire: _field_text(wire.get(key))


class TableWriter:
    """Writes files as a table to ``out``, one write per page.

    Args:
        out: Where the table goes.
        terminal: Whether ``out`` is a terminal (fit its width, fold the last column).
        encoder: Builds the wire objects that ``fields`` select from; unused without fields.
        fields: The wire keys to show, one column each; ``None`` for the default columns.
    """

    objects = False

    def __init__(
        self,
        out: IO[bytes],
        *,
        terminal: bool,
        encoder: WireEncoder | None = None,
        fields: list[str] | None = None,
    ) -> None:
        self._out = out
        self._width = shutil.get_terminal_size().columns if terminal else None
        self._encoder = encoder
        self._fields = fields
        self._columns: list[_Column] | None = None
        self.count = 0

    def _fix_columns(self, files: list[File]) -> list[_Column]:
        if self._fields is None:
            wide = self._width is None or self._width >= WIDE_TERMINAL
            return _default_columns(wide)
        assert self._encoder is not None
        columns = [_Column(key.upper(), _field_cell(key)) for key in self._fields]
        wires = [self._encoder.wire(file) for file in files]
        for column in columns[:-1]:
            longest = max((cell_width(column.cell(w)) for w in wires), default=0)
            column.width = min(max(column.width, longest), MAX_COLUMN)
        return columns

    def _last_width(self, columns: list[_Column]) -> int | None:
        if self._width is None:
            return None
        used = sum(c.width for c in columns[:-1]) + len(GAP) * (len(columns) - 1)
        return max(self._width - used - 1, MIN_LAST)

    def _lines(self, cells: list[str], columns: list[_Column], last: int | None) -> list[str]:
        head = GAP.join(
            _pad(truncate(cell, column.width), column.width, right=column.right)
            for cell, column in zip(cells[:-1], columns[:-1], strict=True)
        )
        indent = " " * (cell_width(head) + len(GAP)) if head else ""
        prefix = head + GAP if head else ""
        text = cells[-1]
        if last is None:
            return [prefix + text]
        lines = []
        while True:
            piece, text = _cut(text, last)
            lines.append(prefix + piece)
            if not text:
                return lines
            prefix = indent

    def page(self, files: list[File]) -> None:
        """Write the rows of one page (and the header before the first)."""
        if not files:
            return
        text: list[str] = []
        columns = self._columns
        if columns is None:
            columns = self._columns = self._fix_columns(files)
            text.append(self._header(columns))
        last = self._last_width(columns)
        rows: list[Any] = files
        if self._fields is not None:
            assert self._encoder is not None
            rows = [self._encoder.wire(file) for file in files]
        for row in rows:
            text.extend(self._lines([c.cell(row) for c in columns], columns, last))
        self.count += len(files)
        write_bytes(self._out, ("\n".join(text) + "\n").encode("utf-8", "backslashreplace"))

    def _header(self, columns: list[_Column]) -> str:
        cells = [_pad(c.header, c.width, right=c.right) for c in columns[:-1]]
        return GAP.join([*cells, columns[-1].header])

    def finish(self) -> None:
        """Write the header if no page came, and the count of files."""
        text = ""
        if self._columns is None:
            self._columns = self._fix_columns([])
            text = self._header(self._columns) + "\n"
        text += f"{self.count} file{'' if self.count == 1 else 's'}\n"
        write_bytes(self._out, text.encode())
