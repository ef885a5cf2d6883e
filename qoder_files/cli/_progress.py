"""One progress line on stderr, redrawn with a carriage return: no escape sequences at all.

Used for long listings written to a file or a pipe, and for a large download to a file. The
label is ``visible`` text cut to the terminal's width, so a file name is shown, never
interpreted. The line is redrawn at most ten times a second and erased when the work ends.
"""

from __future__ import annotations

import shutil
import time
from typing import IO, Any

from ._render import visible
from ._table import cell_width, human_size, truncate

__all__ = ["ProgressLine"]

REDRAW_EVERY = 0.1
"""Seconds between two redraws."""


class ProgressLine:
    """A progress line: ``label  45%  1.2 MB / 2.6 MB  3.4 MB/s`` or ``label  12,300 files``.

    Args:
        stream: The terminal to draw on (stderr).
        label: What is in progress, such as a file name (shown as visible text).
        total: The expected total, or ``None`` when unknown.
        unit: ``"bytes"`` or ``"files"``.
    """

    def __init__(
        self, stream: IO[str], label: str, *, total: int | None = None, unit: str = "files"
    ) -> None:
        self._stream = stream
        self._label = visible(label)
        self._total = total
        self._unit = unit
        self._started = time.monotonic()
        self._drawn = 0.0
        self._shown = 0  # cells on screen
        self.done = 0

    def _text(self) -> str:
        done, total = self.done, self._total
        if self._unit == "bytes":
            parts = [human_size(done) + (f" / {human_size(total)}" if total else "")]
            elapsed = time.monotonic() - self._started
            if elapsed > 0.2:
                parts.append(f"{human_size(int(done / elapsed))}/s")
        else:
            parts = [f"{done:,} files"]
        if total:
            parts.insert(0, f"{min(done * 100 // total, 100):3d}%")
        status = "  ".join(parts)
        room = shutil.get_terminal_size().columns - cell_width(status) - 3
        label = truncate(self._label, room) if room > 3 else ""
        return f"{label}  {status}" if label else status

    def update(self, done: int, *, force: bool = False) -> None:
        """Record progress; redraw when enough time has passed (or ``force``)."""
        self.done = done
        now = time.monotonic()
        if not force and now - self._drawn < REDRAW_EVERY:
            return
        self._drawn = now
        text = self._text()
        width = cell_width(text)
        self._stream.write("\r" + text + " " * max(self._shown - width, 0))
        self._stream.flush()
        self._shown = width

    def close(self) -> None:
        """Erase the line."""
        if self._shown:
            self._stream.write("\r" + " " * self._shown + "\r")
            self._stream.flush()
            self._shown = 0

    def __enter__(self) -> ProgressLine:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
