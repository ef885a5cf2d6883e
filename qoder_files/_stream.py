"""File content out: the presigned fetch, handed out chunk by chunk or copied into a sink.

Both ways to get a file's content share one path through the one retry loop (``Sender.run``):

- ``_Open`` is the loop's step for a presigned response. It follows storage redirects (no token
  travels), replaces a link that storage refuses as expired (once), retries the policy's
  statuses, and on success reads the first chunk before answering: a failure before any byte
  is handed out is still retried like any other.
- ``AsyncFileStream`` (``stream_file``) hands the content out as it arrives. Once a chunk is
  out, nothing is retried: a cut-off, a stall or the deadline raises
  ``TransferInterruptedError``, since starting over would repeat bytes the caller has already
  forwarded. Leaving its block, or a cancellation, releases the connection at once.
- ``download`` (``download_file``) copies the same stream into a sink inside the retry loop, so
  a cut-off is retried from the start as long as the sink can start over: a buffer, the
  caller's binary file, or a temporary file beside a destination path that replaces it only
  once the content is complete.

Invariants: a presigned request never carries the API token; only network reads become
``APIConnectionError``, so a failing disk write surfaces as the ``OSError`` it is; a short
file is never kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import secrets
import stat
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from types import TracebackType
from typing import IO, Any, Protocol, Self, TypeAlias

from . import _wire, _wire_files
from ._content import start_position
from ._public import publish
from ._seam import HTTPResponse
from ._sender import Follow, Held, Retry, Sender, deadline_scope, new_request_id
from ._timeout import TimeoutSetting
from ._wire import Request, Response
from .errors import APIConnectionError, APITimeoutError, TransferInterruptedError
from .models import DownloadLink

__all__ = [
    "MAX_REDIRECTS",
    "AsyncFileStream",
    "BinaryWriter",
    "Body",
    "DownloadTarget",
    "LinkFetcher",
    "download",
    "open_body",
]

MAX_REDIRECTS = 5
_ERROR_BODY_BYTES = 64 * 1024
# A temporary name is ".<name>.<8 hex>.part": 15 bytes around the name, within the 255 bytes
# most file systems allow for one name.
_TEMP_NAME_BYTES = 200

LinkFetcher = Callable[[float | None], Awaitable[DownloadLink]]
"""Asks the API for a (fresh) link; takes the loop time of the call's deadline, or ``None``."""


class BinaryWriter(Protocol):
    """Anything to download into: ``write(bytes)``, like a file opened ``"wb"``.

    ``seekable()``, ``tell()``, ``seek()`` and ``truncate()`` are used when present, to start
    over for a retry.
    """

    def write(self, data: bytes, /) -> object: ...


DownloadTarget: TypeAlias = "str | os.PathLike[str] | BinaryWriter"
"""Where ``download_file`` can write: a path or a binary file object."""


# --- the open content --------------------------------------------------------------------------


class Body(Held):
    """A presigned response whose headers are in and whose first chunk is read.

    It owns the response: ``aclose()`` releases it (idempotent).
    """

    __slots__ = ("_chunks", "_first", "_response", "content_type", "filename", "size")

    def __init__(self, response: HTTPResponse, chunks: AsyncIterator[bytes], first: bytes) -> None:
        self._response = response
        self._chunks = chunks
        self._first: bytes | None = first
        self.size, self.content_type, self.filename = _wire_files.content_headers(response.headers)

    async def next_chunk(self) -> bytes | None:
        """The next chunk of content, or ``None`` at its end."""
        first = self._first
        if first is not None:
            self._first = None
            return first or None
        return await anext(self._chunks, None)

    async def aclose(self) -> None:
        """Release the connection; an unread rest of the body is dropped, not read."""
        self._first = None
        close = getattr(self._chunks, "aclose", None)
        try:
            if close is not None:
                await close()
        finally:
            await self._response.aclose()


class _Open:
    """The retry loop's step for one presigned fetch: an open ``Body``, or what to do next.

    A redirect from storage is followed (to a checked URL; no token travels), and a link that
    storage refuses as expired is replaced by a fresh one, once; neither counts as a retry.
    The policy's statuses are retried like any API request.
    """

    def __init__(
        self,
        fetch_link: LinkFetcher,
        *,
        chunk_size: int,
        retry_statuses: frozenset[int],
        request_id: str,
        refreshed: bool,
        end: float | None,
    ) -> None:
        self._fetch_link = fetch_link
        self._chunk_size = chunk_size
        self._retry_statuses = retry_statuses
        self.request_id = request_id
        self._refreshed = refreshed
        self._end = end
        self._redirects = 0

    async def __call__(self, request: Request, response: HTTPResponse) -> Body | Retry | Follow:
        if 200 <= response.status < 300:
            chunks = response.iter_bytes(self._chunk_size)
            try:
                first = await anext(chunks, b"")
            except BaseException:
                close = getattr(chunks, "aclose", None)
                if close is not None:
                    await close()
                raise
            return Body(response, chunks, first)
        # Storage error documents are short: keep the start of one, never all of it.
        body = (await response.read(_ERROR_BODY_BYTES))[:_ERROR_BODY_BYTES]
        failure = Response(
            status=response.status, headers=response.headers, body=body, request_id=self.request_id
        )
        follow = _wire_files.presigned_redirect(failure, request)
        if follow is not None and self._redirects < MAX_REDIRECTS:
            self._redirects += 1
            return Follow(follow)
        if not self._refreshed and _wire_files.is_expired_link_response(failure):
            self._refreshed = True
            link = await self._fetch_link(self._end)
            return Follow(_wire_files.presigned_request(link.url))
        error = _wire_files.storage_error(failure)
        if failure.status in self._retry_statuses:
            return Retry(
                error, f"status {failure.status}", _wire.parse_retry_after(failure.headers)
            )
        raise error


class _Drain:
    """The retry loop's step for ``download_file``: open the content and copy all of it out."""

    def __init__(self, open_step: _Open, write: Callable[[bytes], object]) -> None:
        self._open = open_step
        self._write = write

    async def __call__(self, request: Request, response: HTTPResponse) -> Retry | Follow | None:
        opened = await self._open(request, response)
        if not isinstance(opened, Body):
            return opened
        try:
            while (chunk := await opened.next_chunk()) is not None:
                self._write(chunk)
        finally:
            await opened.aclose()
        return None


async def _prepare(
    sender: Sender, fetch_link: LinkFetcher, chunk_size: int, end: float | None
) -> tuple[Request, _Open]:
    """The first presigned request of a fetch, and the step that reads its answers."""
    link = await fetch_link(end)
    refreshed = False
    if _wire_files.link_expired(link, datetime.now(UTC)):
        link, refreshed = await fetch_link(end), True
    step = _Open(
        fetch_link,
        chunk_size=chunk_size,
        retry_statuses=sender.retry.retry_statuses,
        request_id=new_request_id(),
        refreshed=refreshed,
        end=end,
    )
    return _wire_files.presigned_request(link.url), step


async def open_body(
    sender: Sender,
    fetch_link: LinkFetcher,
    *,
    chunk_size: int,
    timeout: TimeoutSetting | None,
    max_retries: int | None,
    end: float | None,
) -> Body:
    """Get a link and open its content, with the retry loop, up to and with the first chunk."""
    request, step = await _prepare(sender, fetch_link, chunk_size, end)
    return await sender.run(
        request,
        step,
        request_id=step.request_id,
        timeout=timeout,
        max_retries=max_retries,
        end=end,
    )


# --- the stream handed out ---------------------------------------------------------------------


class AsyncFileStream:
    """A file's content as it arrives, from ``AsyncClient.stream_file()``.

    Use it once, as an async context manager, and iterate it inside the block::

        async with client.stream_file(file_id) as stream:
            print(stream.filename, stream.size, stream.content_type)
            async for chunk in stream:
                await out.write(chunk)

    Entering the block gets a download link and opens the content, with the client's retries
    (and a fresh link if storage finds the first one expired), up to and including the first
    chunk. From then on nothing is retried: the caller may already have forwarded what it got,
    and a second copy from the start would corrupt it, so a cut-off, a stall longer than the
    read limit or the call's deadline raises ``TransferInterruptedError``.

    Leaving the block (also early, by ``break``, an exception or a cancellation) releases the
    connection at once; the rest of the content is not read.

    Attributes:
        file_id: The file being read.
    """

    def __init__(
        self,
        file_id: str,
        open_body: Callable[[float | None], Awaitable[Body]],
        *,
        deadline: float | None,
    ) -> None:
        self.file_id = file_id
        self._open_body = open_body
        self._deadline = deadline
        self._body: Body | None = None
        self._end: float | None = None
        self._state = "new"
        self._handed = 0
        self._opened_body: Body | None = None  # kept after closing, for its headers

    def __repr__(self) -> str:
        return f"<AsyncFileStream {self.file_id} {self._state}, {self._handed} bytes handed out>"

    def _opened(self) -> Body:
        if self._opened_body is None:
            raise RuntimeError(
                "the stream is not open: use it inside 'async with client.stream_file(...)'"
            )
        return self._opened_body

    @property
    def size(self) -> int | None:
        """The content's length in bytes (from ``Content-Length``, else the file's metadata).

        This and the other facts of the content stay readable after the block ends.
        """
        return self._opened().size

    @property
    def content_type(self) -> str:
        """The content's media type (from storage's ``Content-Type``, else the metadata)."""
        return self._opened().content_type or "application/octet-stream"

    @property
    def filename(self) -> str | None:
        """The file's name (from storage's ``Content-Disposition``, else the metadata)."""
        return self._opened().filename

    @property
    def transferred(self) -> int:
        """Bytes handed out so far."""
        return self._handed

    async def __aenter__(self) -> Self:
        if self._state != "new":
            raise RuntimeError("a stream can be opened only once; call stream_file() again")
        self._state = "opening"
        try:
            async with deadline_scope(self._deadline, f"stream of {self.file_id}") as end:
                self._body = self._opened_body = await self._open_body(end)
        except BaseException:
            await self.aclose()
            raise
        self._end = end
        self._state = "open"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Release the connection now (idempotent); the rest of the content is dropped."""
        self._state = "closed"
        body, self._body = self._body, None
        if body is not None:
            await body.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes:
        body = self._body
        if body is None:
            if self._state == "closed":
                raise StopAsyncIteration
            raise RuntimeError(
                "the stream is not open: use it inside 'async with client.stream_file(...)'"
            )
        try:
            if self._end is None:
                chunk = await body.next_chunk()
            else:
                async with asyncio.timeout_at(self._end):
                    chunk = await body.next_chunk()
        except APIConnectionError as exc:
            await self.aclose()
            raise self._interrupted(exc.message, isinstance(exc, APITimeoutError)) from exc
        except TimeoutError:
            await self.aclose()
            raise self._interrupted(f"the deadline of {self._deadline:g} s passed", True) from None
        if chunk is None:
            await self.aclose()
            raise StopAsyncIteration
        self._handed += len(chunk)
        return chunk

    def _interrupted(self, reason: str, timed_out: bool) -> TransferInterruptedError:
        return TransferInterruptedError(
            f"stream of {self.file_id} broke after {self._handed} bytes were handed out "
            f"({reason}); not retried, since starting over would repeat them",
            transferred=self._handed,
            timed_out=timed_out,
        )


# --- download_file: the stream copied into a sink ----------------------------------------------


class _Sink:
    """Where downloaded bytes go, able to start over from its beginning for a retry."""

    def __init__(self, out: BinaryWriter) -> None:
        self._out: Any = out  # beyond write(), only used when it can seek
        self._start = start_position(out)
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


async def download(
    sender: Sender,
    fetch_link: LinkFetcher,
    dest: object,
    *,
    file_id: str,
    chunk_size: int,
    timeout: TimeoutSetting | None = None,
    max_retries: int | None = None,
    deadline: float | None = None,
) -> bytes | None:
    """Download one file's content through its presigned URL into ``dest``.

    ``dest`` is ``None`` (the bytes are returned), a path (written through a temporary file,
    then renamed over it) or a binary file object (written from its current position). The
    destination is checked, and a temporary file created, before any request. The content is
    opened as ``stream_file`` opens it and copied out inside the retry loop: connection
    errors, stalls, cut-off bodies and the policy's statuses are retried within
    ``max_retries``, each retry starting the content over, for as long as the sink can.
    """
    buffer = io.BytesIO()  # where the content goes when there is no dest
    with contextlib.nullcontext(buffer) if dest is None else _open_dest(dest) as out:
        sink = _Sink(out)
        async with deadline_scope(deadline, f"download of {file_id}") as end:
            request, step = await _prepare(sender, fetch_link, chunk_size, end)
            await sender.run(
                request,
                _Drain(step, sink.write),
                request_id=step.request_id,
                timeout=timeout,
                max_retries=max_retries,
                can_resend=sink.rewind,
                end=end,
            )
    return buffer.getvalue() if dest is None else None


# Exported from ``qoder_files``: tracebacks, reprs and the reference show that path.
publish("qoder_files", globals(), ["AsyncFileStream"])
