"""``AsyncClient``: every verb of the Files API, written once, asyncio-first.

Each method checks its arguments (``ValueError`` naming the argument, before any request),
builds a ``Request`` with ``_wire`` (``_wire_files`` for the one-file calls), and hands it to
the ``Transport`` with the matching ``decipher_*`` function. Paging rules live in ``_cursor``;
the sync ``Client`` forwards here.
"""

from __future__ import annotations

import logging
import os
import platform
import sys
import uuid
import weakref
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, overload

from . import _checks, _scan, _wire, _wire_files
from ._checks import (
    check_headers,
    check_max_retries,
    check_name_prefix,
    check_rate_limit,
    check_scope_id,
    check_timeout,
    check_token,
)
from ._cursor import CursorWalk
from ._generations import (
    G3,
    Dialect,
    check_generation,
    decipher_objects_page_generation,
    decipher_page_generation,
)
from ._public import publish
from ._retry import RetryPolicy
from ._seam import AsyncTransport
from ._sender import DEFAULT_MAX_RESPONSE_BYTES, Sender
from ._timeout import Timeout, TimeoutSetting, check_timeout_setting
from ._version import __version__
from ._wire import Request, Response
from .errors import APIConnectionError
from .models import DownloadLink, File, Page, Purpose
from .pager import AsyncPager, Fetch

if TYPE_CHECKING:
    import aiohttp

    from . import _stream
    from ._content import UploadSource
    from ._deletes import DeleteSummary
    from ._inventory import InventorySummary
    from ._mirror import MirrorEvent, MirrorSummary
    from ._stream import AsyncFileStream, Body, DownloadTarget

__all__ = ["AsyncClient"]

_log_handler: logging.Handler | None = None


def _configure_logging_from_env() -> None:
    """``QODER_LOG=debug|info`` sends the ``qoder_files`` logger to stderr (once per process)."""
    global _log_handler  # noqa: PLW0603 - one handler per process, however many clients
    level = os.environ.get("QODER_LOG", "").strip().upper()
    if level not in ("DEBUG", "INFO") or _log_handler is not None:
        return
    _log_handler = logging.StreamHandler(sys.stderr)
    _log_handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logger = logging.getLogger("qoder_files")
    logger.addHandler(_log_handler)
    logger.setLevel(level)


class AsyncClient:
    """Asynchronous client for the Files API.

    Args:
        token: A personal access token (``pt-…``). Defaults to the ``QODER_PAT`` environment
            variable.
        base_url: The API root. Defaults to ``QODER_BASE_URL``, then
            ``https://openapi.qoder.sh/api/v1/cloud``. Plain ``http`` only to loopback hosts.
        timeout: Time limits of one attempt of one request: seconds, or a ``Timeout``. Seconds
            bound an API call's whole attempt, and a content transfer's connecting and each
            wait for bytes (never the whole transfer).
        max_retries: How many times a failed request is retried (not counting the first try).
        rate_limit: Requests per second shared by everything this client sends, or ``None``.
        retry: Backoff and ``Retry-After`` settings; ``None`` for the defaults.
        default_headers: Extra headers sent with every API request (never to presigned URLs).
        session: A caller-owned ``aiohttp.ClientSession`` to use for API requests; it is
            never closed by us, and presigned downloads never go through it.
        proxy: A proxy URL (``http://host:port``) for every request, downloads included.
            ``None`` honours ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` from the environment.
        max_response_bytes: The largest API response body read into memory, after
            decompression (32 MiB by default); a larger one raises ``InvalidResponseError``.
            Downloads stream and are not bound by it.
        transport: Any object implementing ``AsyncTransport`` (such as
            ``qoder_files.testing.MockTransport``) to send every request through, instead of
            the built-in aiohttp transport. It also carries presigned downloads.
        api_generation: Which published generation of the API the server speaks: ``"g1"``
            (the seed: ``file_id``, ``purpose``, ``after``/``before``), ``"g3"`` (the newest:
            ``id``/``type``, ``page``/``next_page``, ``name``, ``scope_id``), or ``"auto"``
            (the default) to learn it from the server's first list response. See the "API
            generations" page.

    Raises:
        ValueError: the token is missing or blank, or another argument is invalid.

    A client may be used from one event loop after another (say, two ``asyncio.run()``
    calls): each loop gets its own connection pool, closed when that loop shuts down.

    Example::

        async with AsyncClient() as client:
            async for file in client.list_files(purpose="tool_output"):
                print(file.file_id, file.filename)
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | Timeout = 30.0,
        max_retries: int = 2,
        rate_limit: float | None = None,
        retry: RetryPolicy | None = None,
        default_headers: dict[str, str] | None = None,
        session: aiohttp.ClientSession | None = None,
        proxy: str | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        transport: AsyncTransport | None = None,
        api_generation: str = "auto",
    ) -> None:
        if token is None:
            token = os.environ.get("QODER_PAT")
        token = check_token(token)
        if base_url is None:
            base_url = os.environ.get("QODER_BASE_URL") or _wire.DEFAULT_BASE_URL
        base_url = _checks.check_base_url(base_url)
        checked_timeout = check_timeout_setting(timeout)
        check_max_retries(max_retries)
        check_rate_limit(rate_limit)
        default_headers = check_headers(default_headers)
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ValueError(f"retry must be a RetryPolicy or None, got {retry!r}")
        checked_proxy = _checks.check_proxy(proxy)
        self._dialect = Dialect(check_generation(api_generation))
        if (
            isinstance(max_response_bytes, bool)
            or not isinstance(max_response_bytes, int)
            or max_response_bytes < 1
        ):
            raise ValueError(
                f"max_response_bytes must be a positive integer, got {max_response_bytes!r}"
            )
        if transport is not None:
            if session is not None or proxy is not None:
                raise ValueError("transport cannot be combined with session or proxy")
            if not isinstance(transport, AsyncTransport):
                raise ValueError(
                    "transport must have async handle(request) and aclose() methods, "
                    f"got {type(transport).__name__}"
                )
        _configure_logging_from_env()
        self._masked_token = _wire.mask_token(token)
        user_agent = f"qoder-files/{__version__} python/{platform.python_version()}"
        content_transport: AsyncTransport | None = None
        if transport is None:
            from ._aiohttp import USER_AGENT_SUFFIX, AiohttpTransport  # noqa: PLC0415 - lazy

            user_agent = f"qoder-files/{__version__} {USER_AGENT_SUFFIX}"
            transport = AiohttpTransport(session=session, proxy=checked_proxy)
            if session is not None:
                # Presigned URLs never go through a borrowed session: its default headers or
                # cookies could carry credentials to the storage host.
                content_transport = AiohttpTransport(proxy=checked_proxy)
        self._sender = Sender(
            base_url=base_url,
            token=token,
            transport=transport,
            content_transport=content_transport,
            user_agent=user_agent,
            timeout=checked_timeout,
            max_retries=max_retries,
            retry=retry or RetryPolicy(),
            rate_limit=rate_limit,
            default_headers=default_headers,
            max_response_bytes=max_response_bytes,
        )
        self._pagers: weakref.WeakSet[AsyncPager | _scan.AsyncScan] = weakref.WeakSet()

    def __repr__(self) -> str:
        return f"<AsyncClient base_url={self.base_url!r} token={self._masked_token!r}>"

    @property
    def base_url(self) -> str:
        """The API root this client talks to."""
        return self._sender.base_url.rstrip("/")

    # --- lifecycle -----------------------------------------------------------------------

    async def aclose(self) -> None:
        """Cancel every open pager's read-ahead, then close the HTTP session. Idempotent."""
        for pager in list(self._pagers):
            await pager.aclose()
        await self._sender.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- listing -------------------------------------------------------------------------

    def list_files(
        self,
        *,
        purpose: Purpose | str | None = None,
        limit: int | None = None,
        after: str | None = None,
        before: str | None = None,
        max_items: int | None = None,
        name: str | None = None,
        scope_id: str | None = None,
        timeout: TimeoutSetting | None = None,
        max_retries: int | None = None,
    ) -> AsyncPager:
        """List the account's files, newest first, across as many pages as needed.

        Args:
            purpose: Only files with this purpose.
            limit: Page size sent to the server, 1 to 100 (server default 20).
            after: Start after this file id and travel toward older files.
            before: Start before this file id and travel toward newer files; items then come
                from the cursor toward the newest.
            max_items: Stop after exactly this many files; the last request asks only for the
                remainder.
            name: Only files whose name starts with this, ignoring case. Servers of the
                newest generation filter; for older ones the SDK filters the pages itself.
            scope_id: Only files of this scope (a session id, ``sess_…``); newest generation
                only.
            timeout: Per-attempt timeout for this listing's requests.
            max_retries: Retry budget for each of this listing's requests.

        Returns:
            An ``AsyncPager`` to use with ``async for``, ``.pages()`` or ``.collect()``.

        Raises:
            ValueError: an argument is invalid (checked before any request), or a filter the
                server's API generation cannot apply (``purpose`` on the newest, ``scope_id``
                on the seed generation), raised before any file is handed out.
        """
        walk = self._walk(purpose, limit, after, before, max_items, name=name, scope_id=scope_id)
        pager = AsyncPager(self._page_fetcher(timeout, max_retries), walk)
        self._pagers.add(pager)
        return pager

    async def get_page(
        self,
        *,
        purpose: Purpose | str | None = None,
        limit: int | None = None,
        after: str | None = None,
        before: str | None = None,
        name: str | None = None,
        scope_id: str | None = None,
        timeout: TimeoutSetting | None = None,
        max_retries: int | None = None,
    ) -> Page[File]:
        """Fetch one page, as the server sent it.

        On a client that does not know its server's generation yet, a page that starts from a
        cursor or filters is preceded by a one-time probe (``GET files?limit=1``).

        Args:
            purpose: Only files with this purpose.
            limit: Page size, 1 to 100 (server default 20).
            after: Files older than this id.
            before: Files newer than this id (``data`` is still newest first).
            name: Only files whose name starts with this, ignoring case. Servers of the
                newest generation filter; for older ones ``data`` holds only the matches.
            scope_id: Only files of this scope (a session id, ``sess_…``); newest generation
                only.
            timeout: Per-attempt timeout.
            max_retries: Retry budget for this request.

        Raises:
            ValueError: an argument is invalid (checked before the request), or a filter the
                server's API generation cannot apply.
        """
        walk = self._walk(purpose, limit, after, before, None, name=name, scope_id=scope_id)
        fetch = self._page_fetcher(timeout, max_retries)
        request = walk.next_request()
        assert request is not None  # a fresh walk always has a first request
        return walk.shown(await fetch(request))

    def scan_files(
        self,
        *,
        purposes: Iterable[Purpose | str] | None = None,
        limit: int = 100,
        concurrency: int = 5,
        max_items: int | None = None,
        name: str | None = None,
        scope_id: str | None = None,
        timeout: TimeoutSetting | None = None,
        max_retries: int | None = None,
    ) -> _scan.AsyncScan:
        """List every file fast: one cursor per purpose, run concurrently, merged newest first.

        Items come newest first by ``created_at``, then ``file_id`` (both descending, the
        server's documented order). When every file has one of the documented purposes, the
        result equals ``list_files()`` item for item; a file whose purpose is not among
        ``purposes`` (or not a documented one) is not listed. With per-page latency L it takes
        about (pages of the largest purpose) x L instead of (all pages) x L.

        A server of the newest API generation has no purposes: there the scan is one
        ``list_files()`` walk (with ``name`` and ``scope_id``), with the same result, and
        passing ``purposes`` raises ``ValueError`` before any file is handed out.

        Args:
            purposes: The purposes to list; ``None`` for all five documented ones.
            limit: Page size of each cursor's requests, 1 to 100.
            concurrency: Most requests in flight at once, across all cursors.
            max_items: Stop after exactly this many files in total.
            name: Only files whose name starts with this, ignoring case.
            scope_id: Only files of this scope (newest generation only).
            timeout: Per-attempt timeout for the scan's requests.
            max_retries: Retry budget for each of the scan's requests.

        Returns:
            An ``AsyncScan`` to use with ``async for``, ``.batches()`` or ``.collect()``.

        Raises:
            ValueError: an argument is invalid (checked before any request).

        Example::

            async with client.scan_files(concurrency=5) as scan:
                async for file in scan:
                    print(file.created_at, file.file_id)
        """
        checked = _checks.check_purposes(purposes)
        checked_limit = _checks.check_scan_limit(limit)
        fetch = self._page_fetcher(timeout, max_retries)
        walks = [
            self._walk(p, checked_limit, None, None, max_items, name=name, scope_id=scope_id)
            for p in checked
        ]
        shared = _scan.bounded(fetch, _checks.check_concurrency(concurrency))
        pagers = [AsyncPager(shared, walk) for walk in walks]
        self._pagers.update(pagers)
        options = self._options(timeout, max_retries)

        async def without_purposes() -> list[AsyncPager] | None:
            # One walk instead of one per purpose when the server has no purposes.
            if await self._generation(options) != G3:
                return None
            if purposes is not None:
                raise ValueError(
                    "purposes cannot filter this scan: the server speaks the newest API "
                    "generation (g3), whose files have no purpose"
                )
            walk = self._walk(
                None, checked_limit, None, None, max_items, name=name, scope_id=scope_id
            )
            single = AsyncPager(shared, walk)
            self._pagers.add(single)
            return [single]

        scan = _scan.AsyncScan(pagers, max_items=max_items, prepare=without_purposes)
        self._pagers.add(scan)  # its aclose() also stops a first page still in flight
        return scan

    def _page_fetcher(self, timeout: TimeoutSetting | None, max_retries: int | None) -> Fetch:
        """How every listing call fetches a page, with its overrides (checked here, once).

        ``objects=True`` keeps the page's items as the JSON objects the server sent.
        """
        options = self._options(timeout, max_retries)
        sender = self._sender
        dialect = self._dialect

        async def fetch(request: Request, *, objects: bool = False) -> Page[Any]:
            if dialect.generation is None and dialect.needs_probe(request):
                await self._generation(options)
            decipher: Callable[[Response], tuple[Page[Any], str]] = (
                decipher_objects_page_generation if objects else decipher_page_generation
            )
            page, generation = await sender.send(dialect.render(request), decipher, **options)
            dialect.learn(generation)
            return page

        return fetch

    async def _generation(self, options: dict[str, Any]) -> str:
        """The server's API generation, asking once (``GET files?limit=1``) when unknown."""
        dialect = self._dialect
        if dialect.generation is None:
            _, generation = await self._sender.send(
                _wire.list_request(limit=1), decipher_page_generation, **options
            )
            dialect.learn(generation)
        assert dialect.generation is not None
        return dialect.generation

    # --- one file ------------------------------------------------------------------------

    async def get_file(
        self,
        file_id: str,
        *,
        timeout: TimeoutSetting | None = None,
        max_retries: int | None = None,
        deadline: float | None = None,
    ) -> File:
        """Fetch one file's metadata.

        Args:
            file_id: The file's id (``file_…``).
            timeout: Per-attempt time limits (seconds or a ``Timeout``).
            max_retries: Retry budget for this request.
            deadline: Seconds the whole call may take, retries and their waits included;
                ``None`` for no bound beyond ``timeout`` and ``max_retries``.

        Returns:
            The ``File``, read from either API object shape.

        Raises:
            ValueError: ``file_id`` is empty or could leave its URL path segment (``/``,
                whitespace, ``?``...); checked before any request.
            NotFoundError: there is no such file (a deleted file is not found either).
            APIError: the server answered with another error status.
            APIConnectionError: no complete answer, after every retry.
        """
        request = _wire_files.file_request(_checks.check_file_id(file_id))
        return await self._sender.send(
            request, _wire.decipher_file, **self._options(timeout, max_retries, deadline)
        )

    async def upload_file(
        self,
        file: UploadSource,
        *,
        purpose: Purpose | str | None = None,
        filename: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        timeout: TimeoutSetting | None = None,
        max_retries: int | None = None,
        size: int | None = None,
        deadline: float | None = None,
    ) -> File:
        """Upload a file (``POST files``, multipart), its content streamed as it is read.

        The request carries an ``Idempotency-Key`` (a new UUID unless given), the same on every
        retry: that is what makes retrying an upload safe, since a server that already stored
        the file answers a repeat with the original result instead of storing it twice.

        Re-readable sources (bytes, a path, a file object that can seek) are retried like any
        request. A source that cannot be read twice (an async iterable, an async reader, a
        pipe) is sent once: it is retried only if the request failed before its first byte
        was taken, and a failure after that raises ``TransferInterruptedError``, since the
        upload may be incomplete (or may have been stored: repeat it with the same
        ``idempotency_key`` to find out without storing it twice).

        Args:
            file: What to upload: a path (``str`` or ``os.PathLike``; a ``str`` is always a
                path, never content), the content as ``bytes``/``bytearray``/``memoryview``,
                a binary file object (sent from its current position and left open), or an
                async source: an async iterable of ``bytes`` (an async generator, say) or an
                object with an async ``read(n)`` (a web framework's request body, an async
                file). A path is opened for the duration of the call. Content is read while it
                is sent, never gathered in memory.
            purpose: The file's purpose (a ``Purpose`` or its value); sent only when given,
                the server defaults to ``user_upload``.
            filename: The name to store; defaults to the path's or file object's name, else
                ``upload.bin``. Required for an async source. The part's media type is
                guessed from it.
            metadata: A JSON-serialisable dict, sent as a JSON string.
            idempotency_key: The key to send (1 to 255 visible ASCII characters); pass your
                own to make an upload safe to repeat across calls or processes.
            timeout: Per-attempt time limits (seconds or a ``Timeout``). Seconds bound
                connecting and each wait for the server (to take more of the body, or to
                answer), never the whole transfer.
            max_retries: Retry budget for this request.
            size: The length of an async source's content, when known: the request then
                carries a ``Content-Length`` instead of being sent in chunks. Only for async
                sources.
            deadline: Seconds the whole call may take, retries and their waits included;
                ``None`` for no bound beyond ``timeout`` and ``max_retries``.

        Returns:
            The stored ``File``.

        Raises:
            ValueError: an argument is invalid, ``file`` names no existing regular file, or an
                async source has no ``filename``; checked before any request. Also raised if
                an async source gives another number of bytes than ``size``.
            OSError: the file could not be opened or read.
            BadRequestError: the server refused the upload (type, size, purpose...).
            ConflictError: ``idempotency_key`` was already used for a different request.
            APIError: the server answered with another error status.
            TransferInterruptedError: a source that cannot be read twice was cut off after
                its first byte; the upload may be incomplete.
            APIConnectionError: no complete answer, after every retry.

        Whatever an async source raises while it is read is raised as it is.

        Example::

            file = await client.upload_file("notes.md", metadata={"project": "demo"})

            async def chunks():
                for part in (b"first ", b"second"):
                    yield part

            file = await client.upload_file(chunks(), filename="notes.txt")
        """
        checked_purpose = _checks.check_purpose(purpose)
        checked_filename = _checks.check_filename(filename)
        metadata_json = _checks.check_metadata(metadata)
        key = _checks.check_idempotency_key(idempotency_key) or str(uuid.uuid4())
        options = self._options(timeout, max_retries, deadline)
        if checked_purpose is not None and await self._generation(options) == G3:
            raise ValueError(
                "purpose cannot be set on this upload: the server speaks the newest API "
                "generation (g3), which has no purposes"
            )
        from . import _content  # noqa: PLC0415 - loaded on first use

        with _content.open_upload(file, checked_filename, size) as upload:
            request = _wire_files.upload_request(
                upload.body,
                filename=upload.filename,
                content_type=_content.guess_mime_type(upload.filename),
                purpose=checked_purpose,
                metadata=metadata_json,
                idempotency_key=key,
                # the stored name, a field the newest generation reads
                name=upload.filename if self._dialect.generation == G3 else None,
            )
            if not upload.resendable:
                options["can_resend"] = lambda: not upload.started()
            try:
                return await self._sender.send(request, _wire.decipher_upload, **options)
            except APIConnectionError as exc:
                failure = _content.upload_failure(upload, exc, key)
                if failure is exc:
                    raise
                raise failure from exc

    async def get_download_url(
        self,
        file_id: str,
        *,
        timeout: TimeoutSetting | None = None,
        max_retries: int | None = None,
        deadline: float | None = None,
    ) -> DownloadLink:
        """Ask for a short-lived presigned URL of a file's content.

        Older servers answer ``302 Found`` with the URL in ``Location`` and a JSON body, newer
        ones ``200`` with JSON; both are read, and the redirect is never followed (it would
        carry the token to the storage host).

        Args:
            file_id: The file's id.
            timeout: Per-attempt time limits (seconds or a ``Timeout``).
            max_retries: Retry budget for this request.
            deadline: Seconds the whole call may take, retries and their waits included;
                ``None`` for no bound beyond ``timeout`` and ``max_retries``.

        Returns:
            A ``DownloadLink`` with ``url`` and ``expires_at``. Fetch the URL without the API
            token; ask again after ``expires_at``.

        Raises:
            ValueError: ``file_id`` is not a plain id; checked before any request.
            PermissionDeniedError: the file is not downloadable (only ``tool_output`` and
                ``skill_output`` files are).
            NotFoundError: there is no such file.
            APIError: the server answered with another error status.
            APIConnectionError: no complete answer, after every retry.
        """
        request = _wire_files.content_request(_checks.check_file_id(file_id))
        return await self._sender.send(
            request, _wire.decipher_download_link, **self._options(timeout, max_retries, deadline)
        )

    @overload
    async def download_file(
        self,
        file_id: str,
        dest: None = None,
        *,
        chunk_size: int = ...,
        timeout: TimeoutSetting | None = ...,
        max_retries: int | None = ...,
        deadline: float | None = ...,
    ) -> bytes: ...

    @overload
    async def download_file(
        self,
        file_id: str,
        dest: DownloadTarget,
        *,
        chunk_size: int = ...,
        timeout: TimeoutSetting | None = ...,
        max_retries: int | None = ...,
        deadline: float | None = ...,
    ) -> None: ...

    async def download_file(
        self,
        file_id: str,
        dest: DownloadTarget | None = None,
        *,
        chunk_size: int = 65536,
        timeout: TimeoutSetting | None = None,
        max_retries: int | None = None,
        deadline: float | None = None,
    ) -> bytes | None:
        """Download a file's content: returned as bytes, or streamed into ``dest``.

        The content is opened as ``stream_file`` opens it: a download link, then the presigned
        URL, fetched without the Authorization header (and without the client's default
        headers). A link whose ``expires_at`` is already past, or that storage refuses as
        expired (a 403/400 saying so), is replaced by a fresh one, once. Unlike a stream, the
        whole transfer is retried like any API request (connection errors, stalls, a body cut
        off before its end, 429/5xx) within the same ``max_retries`` budget, each retry
        starting the content over, so the result is never short.

        Args:
            file_id: The file's id.
            dest: ``None`` to get the bytes back; a path to write to, through a temporary
                file in the same directory that replaces ``dest`` only once the download is
                complete (a failed download leaves ``dest`` as it was and no temporary file
                behind); or a binary file object to write into from its current position
                (rewound and truncated there for a retry when it can seek; after a failure it
                may hold part of the content).
            chunk_size: Bytes read from the network per step.
            timeout: Per-attempt time limits (seconds or a ``Timeout``). For the transfer,
                seconds bound connecting and each wait for bytes, not the whole transfer: a
                slow but steady download succeeds, a stalled one fails.
            max_retries: Retry budget for each request of the download.
            deadline: Seconds the whole download may take, links, retries and their waits
                included; ``None`` for no bound beyond ``timeout`` and ``max_retries``.

        Returns:
            The content when ``dest`` is ``None``, else ``None``.

        Raises:
            ValueError: an argument is invalid, or ``dest`` is a directory or a text stream;
                checked before any request.
            PermissionDeniedError: the file is not downloadable, or storage refused the URL.
            NotFoundError: there is no such file.
            APIError: the API or storage answered with another error status.
            APITimeoutError: a stall outlasted every retry, or the deadline passed.
            APIConnectionError: no complete content, after every retry.
            OSError: writing to ``dest`` failed.

        Example::

            await client.download_file("file_019e…", "report.md")
            data = await client.download_file("file_019e…")
        """
        checked_id = _checks.check_file_id(file_id)
        checked_chunk_size = _checks.check_chunk_size(chunk_size)
        options = self._options(timeout, max_retries, deadline)
        from . import _stream  # noqa: PLC0415 - loaded on first use

        return await _stream.download(
            self._sender,
            self._link_fetcher(checked_id, timeout, max_retries),
            dest,
            file_id=checked_id,
            chunk_size=checked_chunk_size,
            **options,
        )

    def stream_file(
        self,
        file_id: str,
        *,
        chunk_size: int = 65536,
        timeout: TimeoutSetting | None = None,
        max_retries: int | None = None,
        deadline: float | None = None,
    ) -> AsyncFileStream:
        """Stream a file's content as it arrives, without holding it: an async context manager.

        Entering the block gets a download link and opens the content, with retries and a
        link refresh as ``download_file`` has them, up to the first chunk. ``size``,
        ``content_type`` and ``filename`` are then known (from storage's headers, else from
        the file's metadata, which costs one more request). Once a chunk is handed out nothing
        is retried: a cut-off, a stall or the deadline raises ``TransferInterruptedError``,
        since starting over would repeat bytes the caller may already have forwarded. Leaving
        the block, early or not, or a cancellation, releases the connection at once.

        Args:
            file_id: The file's id.
            chunk_size: Most bytes per chunk handed out.
            timeout: Per-attempt time limits (seconds or a ``Timeout``). Seconds bound
                connecting and each wait for bytes, never the whole transfer.
            max_retries: Retry budget for each request made before the first chunk.
            deadline: Seconds from entering the block to the last chunk, retries included;
                ``None`` for no bound beyond ``timeout``.

        Returns:
            An ``AsyncFileStream``: use it with ``async with``, then ``async for``.

        Raises:
            ValueError: an argument is invalid; checked here, before any request.
            PermissionDeniedError: the file is not downloadable, or storage refused the URL
                (on entering the block).
            NotFoundError: there is no such file (on entering the block).
            APIError: the API or storage answered with another error status.
            APIConnectionError: the content could not be opened, after every retry.
            TransferInterruptedError: the content broke off after chunks were handed out.

        Example::

            async with client.stream_file("file_019e…") as stream:
                async for chunk in stream:
                    await response.write(chunk)
        """
        checked_id = _checks.check_file_id(file_id)
        checked_chunk_size = _checks.check_chunk_size(chunk_size)
        options = self._options(timeout, max_retries, deadline)
        sender = self._sender
        fetch_link = self._link_fetcher(checked_id, timeout, max_retries)
        from . import _stream  # noqa: PLC0415 - loaded on first use

        async def open_body(end: float | None) -> Body:
            body = await _stream.open_body(
                sender,
                fetch_link,
                chunk_size=checked_chunk_size,
                timeout=timeout,
                max_retries=max_retries,
                end=end,
            )
            try:
                if body.size is None or body.filename is None or body.content_type is None:
                    request = _wire_files.file_request(checked_id)
                    file = await sender.send(
                        request,
                        _wire.decipher_file,
                        timeout=timeout,
                        max_retries=max_retries,
                        end=end,
                    )
                    body.size = file.size_bytes if body.size is None else body.size
                    body.filename = body.filename or file.filename
                    body.content_type = body.content_type or file.mime_type
            except BaseException:
                await body.aclose()
                raise
            return body

        return _stream.AsyncFileStream(checked_id, open_body, deadline=options.get("deadline"))

    def _link_fetcher(
        self, file_id: str, timeout: TimeoutSetting | None, max_retries: int | None
    ) -> _stream.LinkFetcher:
        """How a download asks for a (fresh) link, within the deadline of the whole call."""
        request = _wire_files.content_request(file_id)
        sender = self._sender

        async def fetch_link(end: float | None) -> DownloadLink:
            return await sender.send(
                request,
                _wire.decipher_download_link,
                timeout=timeout,
                max_retries=max_retries,
                end=end,
            )

        return fetch_link

    async def delete_file(
        self,
        file_id: str,
        *,
        idempotency_key: str | None = None,
        timeout: TimeoutSetting | None = None,
        max_retries: int | None = None,
        deadline: float | None = None,
    ) -> None:
        """Delete a file for good (``DELETE files/{file_id}``).

        Both answers the API generations give, ``204`` with no body and ``200``
        ``{"id": ..., "type": "file_deleted"}``, are success. The request carries an
        ``Idempotency-Key`` (a new UUID unless given), the same on every retry, so a retry
        after a lost answer gets the original result instead of a 404.

        Args:
            file_id: The file's id.
            idempotency_key: The key to send (1 to 255 visible ASCII characters).
            timeout: Per-attempt time limits (seconds or a ``Timeout``).
            max_retries: Retry budget for this request.
            deadline: Seconds the whole call may take, retries and their waits included;
                ``None`` for no bound beyond ``timeout`` and ``max_retries``.

        Raises:
            ValueError: an argument is invalid; checked before any request.
            NotFoundError: there is no such file.
            ConflictError: the file is still referenced, or ``idempotency_key`` was already
                used for a different request.
            APIError: the server answered with another error status.
            APIConnectionError: no complete answer, after every retry.
        """
        checked_id = _checks.check_file_id(file_id)
        key = _checks.check_idempotency_key(idempotency_key) or str(uuid.uuid4())
        request = _wire_files.delete_request(checked_id, idempotency_key=key)
        await self._sender.send(
            request, _wire.decipher_delete, **self._options(timeout, max_retries, deadline)
        )

    # --- bulk jobs -----------------------------------------------------------------------

    async def mirror(
        self,
        dest_dir: str | os.PathLike[str],
        *,
        purposes: Iterable[Purpose | str] | None = None,
        name: str | None = None,
        scope_id: str | None = None,
        concurrency: int = 8,
        progress: Callable[[MirrorEvent], object] | None = None,
        timeout: TimeoutSetting | None = None,
        max_retries: int | None = None,
    ) -> MirrorSummary:
        """Download every downloadable file into ``dest_dir``, and keep it current on re-runs.

        Lists the files (one cursor per purpose where the server has purposes) and downloads
        those that are missing locally or changed on the server, at most ``concurrency`` at
        once, within the client's ``rate_limit``. Each file is written through a hidden
        temporary file and renamed into place, so a crash or ``kill -9`` never leaves a partial
        file under a final name; the next run removes stale temporary files and completes the
        mirror. A hidden manifest (``.qoder-mirror.json``) remembers which local name belongs
        to which file id. A complete re-run sends no download request. The mirror never
        deletes local files.

        Args:
            dest_dir: The directory (created when missing).
            purposes: Only these purposes (seed API generation); ``None`` for every
                downloadable file.
            name: Only files whose name starts with this, ignoring case.
            scope_id: Only files of this scope (newest API generation).
            concurrency: Most downloads at once.
            progress: Called with a ``MirrorEvent`` for every file downloaded, skipped or
                failed, on the client's event loop.
            timeout: Per-attempt timeout of every request.
            max_retries: Retry budget of every request.

        Returns:
            A ``MirrorSummary``: counts, bytes, and the files that kept failing with their
            reasons (a failing file does not stop the others).

        Raises:
            ValueError: an argument is invalid (checked before any request).
            APIError: the listing itself failed.
        """
        directory = os.fspath(dest_dir)
        if not directory:
            raise ValueError("dest_dir must be a non-empty path")
        checked_concurrency = _checks.check_concurrency(concurrency)
        options = self._options(timeout, max_retries)
        chosen: Iterable[Purpose | str] | None = purposes
        if purposes is None and await self._generation(options) != G3:
            chosen = [Purpose.TOOL_OUTPUT, Purpose.SKILL_OUTPUT]  # the only downloadable ones
        listing = self.scan_files(
            purposes=chosen, name=name, scope_id=scope_id, limit=100, **options
        )

        async def download(file_id: str, path: str) -> None:
            await self.download_file(file_id, path, **options)

        from . import _mirror  # noqa: PLC0415 - loaded on first use

        return await _mirror.mirror(
            listing, download, directory, concurrency=checked_concurrency, progress=progress
        )

    async def delete_files(
        self,
        file_ids: Iterable[str],
        *,
        concurrency: int = 8,
        progress: Callable[[str, str], object] | None = None,
        timeout: TimeoutSetting | None = None,
        max_retries: int | None = None,
    ) -> DeleteSummary:
        """Delete many files concurrently; a file already gone (404) counts as done.

        Run it again after an interruption: what was deleted is reported as already gone.

        Args:
            file_ids: The ids (repeats are deleted once); all are checked before any request.
            concurrency: Most deletes at once.
            progress: Called with ``(file_id, "deleted" | "gone" | "failed")`` per file.
            timeout: Per-attempt timeout of every request.
            max_retries: Retry budget of every request.

        Returns:
            A ``DeleteSummary`` with the deleted, already gone and failed ids.

        Raises:
            ValueError: an id or another argument is invalid (checked before any request).
        """
        if isinstance(file_ids, str):
            raise ValueError("file_ids must be a collection of ids, not one string")
        checked = [_checks.check_file_id(file_id) for file_id in file_ids]
        checked_concurrency = _checks.check_concurrency(concurrency)
        options = self._options(timeout, max_retries)

        async def delete(file_id: str) -> None:
            await self.delete_file(file_id, **options)

        from . import _deletes  # noqa: PLC0415 - loaded on first use

        return await _deletes.delete_files(
            checked, delete, concurrency=checked_concurrency, progress=progress
        )

    async def sync_inventory(
        self,
        path: str | os.PathLike[str],
        *,
        full: bool = False,
        progress: Callable[[int], object] | None = None,
        timeout: TimeoutSetting | None = None,
        max_retries: int | None = None,
    ) -> InventorySummary:
        """Bring a local SQLite inventory of the account's files up to date.

        The table ``files`` holds one row per file (``file_id`` the primary key, a column per
        ``File`` field, ``extra`` as JSON, and ``deleted_at``); see the "Bulk jobs" page for
        the schema. By default the sync is incremental: it reads the newest-first listing
        only down to what the last sync covered, so a re-run after a few uploads costs one or
        two list requests. Rows commit together with the listing cursor of their last page, a
        batch of pages at a time, so a sync killed at any moment is resumed by the next one
        with no gap and no duplicate. A big sync stores its rows from a writer process (the
        same Python), so that listing and storing each get a core.

        Args:
            path: The database file (created when missing).
            full: Re-list everything and set ``deleted_at`` on files no longer listed.
            progress: Called with the number of files of each page read (they are stored in
                batches, at the latest when the sync returns).
            timeout: Per-attempt timeout of every request.
            max_retries: Retry budget of every request.

        Returns:
            An ``InventorySummary``.

        Raises:
            ValueError: an argument is invalid (checked before any request).
            APIError: the listing failed (the pages read are stored, and the next sync
                resumes from them).
            InvalidResponseError: a file object does not match the documented shape.
            sqlite3.Error: the database refused a write (locked, full, read-only...).
        """
        location = os.fspath(path)
        if not location:
            raise ValueError("path must be a non-empty path")
        if not isinstance(full, bool):
            raise ValueError(f"full must be True or False, got {full!r}")
        options = self._options(timeout, max_retries)
        from . import _inventory  # noqa: PLC0415 - loaded on first use

        return await _inventory.sync_inventory(
            self, location, full=full, progress=progress, **options
        )

    # --- helpers -------------------------------------------------------------------------

    def _walk(
        self,
        purpose: object,
        limit: object,
        after: object,
        before: object,
        max_items: object,
        *,
        name: object = None,
        scope_id: object = None,
    ) -> CursorWalk:
        checked_purpose = _checks.check_purpose(purpose)
        checked_limit = _checks.check_limit(limit)
        checked_after = _checks.check_cursor(after, "after")
        checked_before = _checks.check_cursor(before, "before")
        if checked_after is not None and checked_before is not None:
            raise ValueError("after and before cannot be used together: pick one direction")
        return CursorWalk(
            purpose=checked_purpose,
            limit=checked_limit,
            after=checked_after,
            before=checked_before,
            max_items=_checks.check_max_items(max_items),
            name=check_name_prefix(name),
            scope_id=check_scope_id(scope_id),
            dialect=self._dialect,
        )

    @staticmethod
    def _options(
        timeout: TimeoutSetting | None, max_retries: int | None, deadline: float | None = None
    ) -> dict[str, Any]:
        """The per-call overrides, checked, as keyword arguments for ``Sender.send``."""
        if timeout is not None:
            check_timeout_setting(timeout)
        if max_retries is not None:
            check_max_retries(max_retries)
        options: dict[str, Any] = {"timeout": timeout, "max_retries": max_retries}
        if deadline is not None:
            options["deadline"] = check_timeout(deadline, "deadline")
        return options


# Exported from ``qoder_files``: tracebacks, reprs and the reference show that path.
publish("qoder_files", globals(), ["AsyncClient"])
