"""File content in and out: the upload body, and the streamed, retried download.

Owns the two places where a file's bytes cross between the caller and the network:

- ``open_upload`` turns the ``file`` argument of ``upload_file`` into a multipart body: bytes
  as they are, or a view of a binary file. aiohttp closes a request's file body once sent;
  the view absorbs that, so the caller's file stays open and a retry can rewind it.
- ``download`` fetches a presigned URL with the transport's retry budget and streams it into
  a sink: a buffer, the caller's binary file, or a temporary file beside the destination path
  that replaces the destination only once the body is complete.

Invariants: a presigned request never carries the API token (it is built with ``url=``, which
the transport sends bare); only body reads are translated into ``APIConnectionError``, so a
failing disk write surfaces as the ``OSError`` it is; a cut-off body is retried from the start
or raised, never kept as a short file.
"""

from __future__ import annotations

import contextlib
import io
import logging
import mimetypes
import os
import secrets
import stat
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import IO, Any, Protocol, TypeAlias

import attrs

from . import _wire, _wire_files
from ._seam import HTTPResponse
from ._sender import Follow, Retry, Sender, new_request_id
from ._wire import Request, Response
from .models import DownloadLink

__all__ = [
    "DEFAULT_UPLOAD_NAME",
    "MAX_REDIRECTS",
    "BinaryReader",
    "BinaryWriter",
    "DownloadTarget",
    "Upload",
    "UploadSource",
    "UploadView",
    "download",
    "guess_mime_type",
    "open_upload",
]

logger = logging.getLogger("qoder_files")


class BinaryReader(Protocol):
    """Anything to upload from: ``read(size)`` returning bytes, like a file opened ``"rb"``.

    ``seekable()``, ``tell()`` and ``seek()`` are used when present, to rewind for a retry.
    """

    def read(self, size: int = -1, /) -> bytes: ...


class BinaryWriter(Protocol):
    """Anything to download into: ``write(bytes)``, like a file opened ``"wb"``.

    ``seekable()``, ``tell()``, ``seek()`` and ``truncate()`` are used when present, to start
    over for a retry.
    """

    def write(self, data: bytes, /) -> object: ...


UploadSource: TypeAlias = "str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryReader"
"""What ``upload_file`` accepts: a path, the content itself, or a binary file object."""

DownloadTarget: TypeAlias = "str | os.PathLike[str] | BinaryWriter"
"""Where ``download_file`` can write: a path or a binary file object."""

DEFAULT_UPLOAD_NAME = "upload.bin"
MAX_REDIRECTS = 5
_ERROR_BODY_BYTES = 64 * 1024
# A temporary name is ".<name>.<8 hex>.part": 15 bytes around the name, within the 255 bytes
# most file systems allow for one name.
_TEMP_NAME_BYTES = 200

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


def _start_position(stream: object) -> int | None:
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
        self._start = _start_position(raw)
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

    def close(self) -> None:
        """Leave the underlying file open: it belongs to the caller (or to ``open_upload``)."""


@attrs.frozen(kw_only=True)
class Upload:
    """What ``open_upload`` hands back for one upload call.

    Attributes:
        body: The ``file`` form field's value: bytes, or an ``UploadView``.
        filename: The name sent with the content.
        resendable: Whether a retry can send the body again (a pipe cannot be rewound).
    """

    body: bytes | UploadView
    filename: str
    resendable: bool


def _name_of(stream: object) -> str:
    name = getattr(stream, "name", None)
    if isinstance(name, str) and os.path.basename(name):
        return os.path.basename(name)
    return DEFAULT_UPLOAD_NAME


@contextlib.contextmanager
def open_upload(file: object, filename: str | None) -> Iterator[Upload]:
    """Turn ``upload_file``'s ``file`` argument into a body, for the duration of one call.

    A path (``str`` or ``os.PathLike``) must name an existing regular file; it is opened here
    and closed on exit. Bytes-like content is sent as is. A binary file object is sent from
    its current position and left open.

    Raises:
        ValueError: ``file`` is not one of those, names no regular file, or is a text stream.
    """
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
            f"file must be a path, bytes or a binary file object, got {type(file).__name__}"
        )
    view = UploadView(file)  # type: ignore[arg-type]  # duck-typed: it has read()
    yield Upload(body=view, filename=filename or _name_of(file), resendable=view.seekable())


# --- download ----------------------------------------------------------------------------------


class _Sink:
    """Where downloaded bytes go, able to start over from its beginning for a retry."""

    def __init__(self, out: BinaryWriter) -> None:
        self._out: Any = out  # beyond write(), only used when it can seek
        self._start = _start_position(out)
        self._written = 0

    def write(self, chunk: bytes) -> None:
        self._out.write(chunk)
        self._written += len(chunk)

    def rewind(self) -> bool:
        """Drop what this attempt wrote; ``False`` when that is impossible (no retry then)."""
        if self._written == 0:
            return True
        if self._start is None:
            return False
        try:
            self._out.seek(self._start)
            self._out.truncate()
        except (OSError, ValueError):
            return False
        self._written = 0
        return True


@contextlib.contextmanager
def _replacing(dest: str) -> Iterator[IO[bytes]]:
    """A new temporary file beside ``dest`` that replaces it on success and vanishes on error."""
    if os.path.isdir(dest):
        raise ValueError(f"dest must be a file path, not a directory: {dest!r}")
    directory, name = os.path.split(os.path.abspath(dest))
    # Bounded in bytes, not characters: a name of 3-byte characters is three times longer.
    stem = os.fsencode(name)[:_TEMP_NAME_BYTES].decode("utf-8", "ignore")
    temp = os.path.join(directory, f".{stem}.{secrets.token_hex(4)}.part")
    out = open(temp, "xb")  # noqa: SIM115 - closed below, before the rename
    try:
        try:
            mode = os.stat(dest).st_mode
        except FileNotFoundError:
            pass
        else:
            if stat.S_ISREG(mode):  # the replaced file keeps its permission bits
                os.chmod(temp, stat.S_IMODE(mode))
        with out:
            yield out
        os.replace(temp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


@contextlib.contextmanager
def _open_dest(dest: object) -> Iterator[BinaryWriter]:
    """The stream to write a download into, for a path or a binary file object."""
    if isinstance(dest, str | os.PathLike):
        path = os.fsdecode(os.fspath(dest))
        if not path:
            raise ValueError("dest must be a non-empty path, got ''")
        with _replacing(path) as out:
            yield out
        return
    if isinstance(dest, io.TextIOBase):
        raise ValueError("dest must be opened in binary mode ('wb'), got a text stream")
    if not callable(getattr(dest, "write", None)):
        raise ValueError(
            f"dest must be None, a path or a binary file object, got {type(dest).__name__}"
        )
    yield dest  # type: ignore[misc]  # duck-typed: it has write()


class _Download:
    """The retry loop's step for one presigned fetch: stream a 2xx body into the sink.

    A redirect from storage is followed (to a checked URL; no token travels), and a link that
    storage refuses as expired is replaced by a fresh one, once per download; neither counts
    as a retry. The policy's statuses are retried like any API request.
    """

    def __init__(
        self,
        fetch_link: Callable[[], Awaitable[DownloadLink]],
        write: Callable[[bytes], object],
        *,
        chunk_size: int,
        retry_statuses: frozenset[int],
        request_id: str,
        refreshed: bool,
    ) -> None:
        self._fetch_link = fetch_link
        self._write = write
        self._chunk_size = chunk_size
        self._retry_statuses = retry_statuses
        self._request_id = request_id
        self._refreshed = refreshed
        self._redirects = 0

    async def __call__(self, request: Request, response: HTTPResponse) -> Retry | Follow | None:
        if 200 <= response.status < 300:
            async for chunk in response.iter_bytes(self._chunk_size):
                self._write(chunk)
            return None
        # Storage error documents are short: keep the start of one, never all of it.
        body = (await response.read(_ERROR_BODY_BYTES))[:_ERROR_BODY_BYTES]
        failure = Response(
            status=response.status, headers=response.headers, body=body, request_id=self._request_id
        )
        follow = _wire_files.presigned_redirect(failure, request)
        if follow is not None and self._redirects < MAX_REDIRECTS:
            self._redirects += 1
            return Follow(follow)
        if not self._refreshed and _wire_files.is_expired_link_response(failure):
            self._refreshed = True
            link = await self._fetch_link()
            return Follow(_wire_files.presigned_request(link.url))
        error = _wire_files.storage_error(failure)
        if failure.status in self._retry_statuses:
            return Retry(
                error, f"status {failure.status}", _wire.parse_retry_after(failure.headers)
            )
        raise error


async def download(
    sender: Sender,
    fetch_link: Callable[[], Awaitable[DownloadLink]],
    dest: object,
    *,
    chunk_size: int,
    timeout: float | None = None,
    max_retries: int | None = None,
) -> bytes | None:
    """Download one file's content through its presigned URL into ``dest``.

    ``fetch_link`` asks the API for a (fresh) link. ``dest`` is ``None`` (the bytes are
    returned), a path (written through a temporary file, then renamed over it) or a binary
    file object (written from its current position). The destination is checked, and a
    temporary file created, before any request. The fetch goes through the sender's one
    retry loop: connection errors, timeouts, cut-off bodies and the policy's statuses are
    retried within ``max_retries``, each retry starting the content over.
    """
    buffer = io.BytesIO()  # where the content goes when there is no dest
    with contextlib.nullcontext(buffer) if dest is None else _open_dest(dest) as out:
        sink = _Sink(out)
        link = await fetch_link()
        refreshed = False
        if _wire_files.link_expired(link, datetime.now(UTC)):
            link, refreshed = await fetch_link(), True
        request_id = new_request_id()
        step = _Download(
            fetch_link,
            sink.write,
            chunk_size=chunk_size,
            retry_statuses=sender.retry.retry_statuses,
            request_id=request_id,
            refreshed=refreshed,
        )
        await sender.run(
            _wire_files.presigned_request(link.url),
            step,
            request_id=request_id,
            timeout=timeout,
            max_retries=max_retries,
            can_resend=sink.rewind,
        )
    return buffer.getvalue() if dest is None else None
