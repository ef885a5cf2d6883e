"""``SyncFileStream``: blocking iteration over a file's content, streamed on a portal's loop.

``Client.stream_file()`` returns one. The ``AsyncFileStream`` it wraps runs on the client's
loop; its chunks cross to the iterating thread through the listing bridge's ``Pump``: one
crossing per chunk (at most ``chunk_size`` bytes), and at most one chunk waiting on the queue,
so memory stays bounded whatever the file's size and however slowly the caller consumes.

Rules this module keeps: entering the block opens the content (with the async stream's
retries); leaving it, early or not, ``close()`` and garbage collection stop the pump and
release the connection; a failure on the loop reaches the caller as the exception it is, after
the chunks before it; a stream is iterated once; a forked child never touches its parent's
stream. This module never speaks HTTP itself.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from types import TracebackType
from typing import Self

from ._bridge import Pump
from ._portal import Portal
from ._public import publish
from ._stream import AsyncFileStream

__all__ = ["SyncFileStream"]


def _release(portal: Portal, stream: AsyncFileStream) -> None:
    if portal.forked():  # a forked child: the stream belongs to the parent
        return
    if portal.in_loop_thread():
        portal.detach(stream.aclose())
        return
    with contextlib.suppress(RuntimeError):  # the client is closed: its streams are too
        portal.call(stream.aclose())


class SyncFileStream:
    """A file's content as it arrives, from ``Client.stream_file()``, for blocking code.

    Use it once, as a context manager, and iterate it inside the block::

        with client.stream_file(file_id) as stream:
            print(stream.filename, stream.size, stream.content_type)
            for chunk in stream:
                out.write(chunk)

    The same rules as ``AsyncFileStream``: retries happen only before the first chunk, a
    later cut-off raises ``TransferInterruptedError``, and leaving the block (also by
    ``break`` or an exception), ``close()`` or garbage collection release the connection.
    """

    def __init__(self, portal: Portal, stream: AsyncFileStream) -> None:
        self._portal = portal
        self._stream = stream
        self._started = False
        self._entered = False
        self._finalizer = weakref.finalize(self, _release, portal, stream)
        self._finalizer.atexit = False

    def __repr__(self) -> str:
        return repr(self._stream).replace("AsyncFileStream", "SyncFileStream", 1)

    @property
    def file_id(self) -> str:
        """The file being read."""
        return self._stream.file_id

    @property
    def size(self) -> int | None:
        """The content's length in bytes (from ``Content-Length``, else the file's metadata)."""
        return self._stream.size

    @property
    def content_type(self) -> str:
        """The content's media type (from storage's ``Content-Type``, else the metadata)."""
        return self._stream.content_type

    @property
    def filename(self) -> str | None:
        """The file's name (from storage's ``Content-Disposition``, else the metadata)."""
        return self._stream.filename

    @property
    def transferred(self) -> int:
        """Bytes handed out so far."""
        return self._stream.transferred

    def __enter__(self) -> Self:
        self._entered = True
        self._portal.call(self._stream.__aenter__())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the connection now (idempotent); the rest of the content is dropped."""
        self._finalizer()

    def __iter__(self) -> Iterator[bytes]:
        if self._started:
            raise RuntimeError("a stream can be iterated only once; call stream_file() again")
        self._started = True
        return self._chunks()

    def _chunks(self) -> Iterator[bytes]:
        stream = self._stream
        if not self._entered:
            raise RuntimeError(
                "the stream is not open: use it inside 'with client.stream_file(...)'"
            )
        pump: Pump[bytes] = Pump(self._portal, aiter(stream), None)
        try:
            self._portal.call(pump.start())
            while (chunk := pump.take()) is not None:
                yield chunk
        finally:
            self._finalizer.detach()
            pump.close(stream.aclose)


# Exported from ``qoder_files``: tracebacks, reprs and the reference show that path.
publish("qoder_files", globals(), ["SyncFileStream"])
