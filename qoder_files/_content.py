"""File content in: what ``upload_file`` accepts, turned into the body of one upload call.

``open_upload`` takes the ``file`` argument and gives an ``Upload``:

- re-readable sources (bytes, a path, a seekable binary file) become a view of a binary file.
  aiohttp closes a request's file body once sent; the view absorbs that, so the caller's file
  stays open and a retry can rewind it to where it was;
- one-pass sources (an async iterable of bytes, an object with an async ``read(n)``, a pipe)
  are read while the request is sent, never gathered in memory, and can be sent once: the
  client retries them only before their first byte is taken, and ``upload_failure`` names a
  failure after that for what it is, an upload that may be incomplete.

The other direction, content out, is ``_stream``. This module does no network I/O itself.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import mimetypes
import os
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from typing import Any, Protocol, TypeAlias

import attrs

from ._seam import AsyncBody
from .errors import APIConnectionError, APITimeoutError, TransferInterruptedError

__all__ = [
    "DEFAULT_UPLOAD_NAME",
    "AsyncReader",
    "BinaryReader",
    "Upload",
    "UploadSource",
    "UploadView",
    "guess_mime_type",
    "open_upload",
    "start_position",
    "upload_failure",
]


class BinaryReader(Protocol):
    """Anything to upload from: ``read(size)`` returning bytes, like a file opened ``"rb"``.

    ``seekable()``, ``tell()`` and ``seek()`` are used when present, to rewind for a retry.
    """

    def read(self, size: int = -1, /) -> bytes: ...


class AsyncReader(Protocol):
    """Anything with an async ``read(n)`` returning bytes (``b""`` at the end).

    An aiohttp request's ``content``, an async file object, an ``asyncio.StreamReader``...
    """

    async def read(self, size: int, /) -> bytes: ...


UploadSource: TypeAlias = (
    "str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryReader"
    " | AsyncReader | AsyncIterable[bytes]"
)
"""What ``upload_file`` accepts: a path, the content itself, a binary file, or an async source."""

DEFAULT_UPLOAD_NAME = "upload.bin"
_READ_SIZE = 64 * 1024  # bytes asked of an async reader at a time

# Documented text types first, so common names get the same type on every machine (the
# system's mime.types disagrees across hosts, e.g. on ``.md`` and ``.ts``).
_TEXT_TYPES = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".log": "text/plain",
    ".csv": "text/csv",
    ".json": "application/json",
    ".xml": "application/xml",
    ".yaml": "application/x-yaml",
    ".yml": "application/x-yaml",
    ".toml": "application/x-toml",
    ".js": "application/javascript",
    ".py": "text/x-python",
    ".html": "text/html",
    ".htm": "text/html",
}


def guess_mime_type(filename: str) -> str:
    """The media type sent for ``filename``: documented text types, then the system's table."""
    suffix = os.path.splitext(filename)[1].lower()
    known = _TEXT_TYPES.get(suffix)
    if known is not None:
        return known
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    return guessed or "application/octet-stream"


# --- upload ------------------------------------------------------------------------------------


def start_position(stream: object) -> int | None:
    """Where ``stream`` can be rewound to, or ``None`` when it cannot seek."""
    seekable = getattr(stream, "seekable", None)
    tell = getattr(stream, "tell", None)
    try:
        if callable(seekable) and callable(tell) and seekable():
            return int(tell())
    except (OSError, ValueError):
        pass
    return None


class UploadView(io.RawIOBase):
    """A read-only view of the caller's binary file, from the position it had when given.

    aiohttp closes a file body after sending it; ``close`` here does nothing, so the caller's
    file stays open (and ours is closed by ``open_upload``). ``seek(0)`` rewinds to the start
    position, so a retry re-sends exactly the same bytes. A stream that cannot seek is sent
    once: it may be "rewound" only before anything was read.
    """

    def __init__(self, raw: BinaryReader) -> None:
        super().__init__()
        self._raw: Any = raw  # beyond read(), only used when it can seek
        self._start = start_position(raw)
        self._consumed = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._start is not None

    def read(self, size: int = -1, /) -> bytes:
        data: bytes = self._raw.read(size)
        self._consumed += len(data)
        return data

    def tell(self) -> int:
        if self._start is None:
            return self._consumed
        position: int = self._raw.tell()
        return position - self._start

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int:
        if self._start is None:
            if offset == 0 and whence == io.SEEK_SET and self._consumed == 0:
                return 0
            raise io.UnsupportedOperation("this stream cannot be rewound")
        if whence == io.SEEK_SET:
            self._raw.seek(self._start + offset)
        else:
            self._raw.seek(offset, whence)
        return self.tell()

    def fileno(self) -> int:
        # aiohttp sizes a file body as fstat(fileno).st_size minus its position; that is only
        # right when the view starts at offset 0. Otherwise the body is sent chunked.
        if self._start == 0:
            descriptor: int = self._raw.fileno()
            return descriptor
        raise io.UnsupportedOperation("fileno")

    @property
    def consumed(self) -> int:
        """Bytes read through this view so far (across attempts, for one that can seek)."""
        return self._consumed

    def close(self) -> None:
        """Leave the underlying file open: it belongs to the caller (or to ``open_upload``)."""


@attrs.frozen(kw_only=True)
class Upload:
    """What ``open_upload`` hands back for one upload call.

    Attributes:
        body: The ``file`` form field's value: an ``UploadView`` or an ``AsyncBody``.
        filename: The name sent with the content.
        resendable: Whether a retry can send the body again (a pipe or an async source
            cannot be read twice).
    """

    body: UploadView | AsyncBody
    filename: str
    resendable: bool

    def started(self) -> bool:
        """Whether any byte was taken from the source (a one-pass source is then spent)."""
        body = self.body
        if isinstance(body, AsyncBody):
            return body.started
        return body.consumed > 0

    def taken(self) -> int:
        """Bytes taken from the source so far."""
        body = self.body
        return body.taken if isinstance(body, AsyncBody) else body.consumed


def _name_of(stream: object) -> str:
    name = getattr(stream, "name", None)
    if isinstance(name, str) and os.path.basename(name):
        return os.path.basename(name)
    return DEFAULT_UPLOAD_NAME


async def _read_chunks(reader: Any) -> AsyncIterator[bytes]:
    while chunk := await reader.read(_READ_SIZE):
        yield chunk


def _async_source(file: object) -> AsyncIterable[bytes] | None:
    """The chunks of an async source, or ``None`` when ``file`` is not one."""
    read = getattr(file, "read", None)
    if read is not None and inspect.iscoroutinefunction(read):
        # Checked before ``__aiter__``: a reader that also iterates (an aiohttp
        # StreamReader) iterates by lines, which binary content does not have.
        return _read_chunks(file)
    if callable(getattr(file, "__aiter__", None)):
        return file  # type: ignore[return-value]  # duck-typed: it has __aiter__()
    return None


def _check_size(size: object) -> int | None:
    if size is None:
        return None
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError(f"size must be None or an integer of at least 0, got {size!r}")
    return size


@contextlib.contextmanager
def open_upload(file: object, filename: str | None, size: object = None) -> Iterator[Upload]:
    """Turn ``upload_file``'s ``file`` argument into a body, for the duration of one call.

    A path (``str`` or ``os.PathLike``) must name an existing regular file; it is opened here
    and closed on exit. Bytes-like content is sent as is. A binary file object is sent from
    its current position and left open. An async source (an object with an async
    ``read(n)``, or an async iterable of bytes) needs ``filename``, and may announce its
    length with ``size``.

    Raises:
        ValueError: ``file`` is not one of those, names no regular file, or is a text
            stream; an async source has no ``filename``; ``size`` is not a length, or is
            given for a source whose length is known anyway.
    """
    checked_size = _check_size(size)
    chunks = None if isinstance(file, str | bytes | bytearray) else _async_source(file)
    if chunks is not None:
        if filename is None:
            raise ValueError(
                "filename is required when file is an async source: it has no name to send"
            )
        yield Upload(body=AsyncBody(chunks, size=checked_size), filename=filename, resendable=False)
        return
    if checked_size is not None:
        raise ValueError(
            "size applies only to async sources; the length of bytes, paths and files is known"
        )
    if isinstance(file, bytes | bytearray | memoryview):
        # Streamed like a file: aiohttp warns about (and, as an error, refuses) large raw bytes.
        content = UploadView(io.BytesIO(bytes(file)))
        yield Upload(body=content, filename=filename or DEFAULT_UPLOAD_NAME, resendable=True)
        return
    if isinstance(file, str | os.PathLike):
        path = os.fsdecode(os.fspath(file))
        if not os.path.isfile(path):
            raise ValueError(f"file must be the path of an existing regular file, got {path!r}")
        with open(path, "rb") as raw:
            yield Upload(
                body=UploadView(raw),
                filename=filename or os.path.basename(path),
                resendable=True,
            )
        return
    if isinstance(file, io.TextIOBase):
        raise ValueError("file must be opened in binary mode ('rb'), got a text stream")
    if not callable(getattr(file, "read", None)):
        raise ValueError(
            "file must be a path, bytes, a binary file object or an async source, "
            f"got {type(file).__name__}"
        )
    view = UploadView(file)  # type: ignore[arg-type]  # duck-typed: it has read()
    yield Upload(body=view, filename=filename or _name_of(file), resendable=view.seekable())


def upload_failure(upload: Upload, error: APIConnectionError, idempotency_key: str) -> Exception:
    """What to raise when an upload's request failed with ``error``.

    The source's own exception when reading it failed; ``TransferInterruptedError`` when a
    one-pass source had started (nothing was retried, and the server may hold all, part or
    none of it); else ``error`` itself.
    """
    if isinstance(upload.body, AsyncBody) and upload.body.failure is not None:
        return upload.body.failure
    if upload.resendable or not upload.started():
        return error
    return TransferInterruptedError(
        f"the upload of {upload.filename!r} may be incomplete: it failed after "
        f"{upload.taken()} bytes were taken from a source that cannot be read again, so it "
        f"was not retried ({error.message}). Check whether the file was stored, or upload "
        f"it again with idempotency_key={idempotency_key!r}",
        transferred=upload.taken(),
        timed_out=isinstance(error, APITimeoutError),
        request_id=error.request_id,
    )
