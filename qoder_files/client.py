"""``AsyncClient``: every verb of the Files API, written once, asyncio-first.

Each method checks its arguments (``ValueError`` naming the argument, before any request),
builds a ``Request`` with ``_wire``, and hands it to the ``Transport`` with the matching
``decipher_*`` function. Paging rules live in ``_cursor``; the sync ``Client`` forwards here.
"""

from __future__ import annotations

import logging
import os
import sys
import weakref
from types import TracebackType
from typing import Any

import aiohttp

from . import _wire
from ._cursor import CursorWalk
from ._retry import RetryPolicy
from ._transport import Transport
from ._wire import Request
from .models import File, Page, Purpose
from .pager import AsyncPager

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


def _check_positive_number(value: object, name: str, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")


def _check_retries(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"max_retries must be a non-negative integer, got {value!r}")


class AsyncClient:
    """Asynchronous client for the Files API.

    Args:
        token: A personal access token (``pt-…``). Defaults to the ``QODER_PAT`` environment
            variable.
        base_url: The API root. Defaults to ``QODER_BASE_URL``, then
            ``https://openapi.qoder.sh/api/v1/cloud``. Plain ``http`` only to loopback hosts.
        timeout: Seconds allowed for one attempt of one request.
        max_retries: How many times a failed request is retried (not counting the first try).
        rate_limit: Requests per second shared by everything this client sends, or ``None``.
        retry: Backoff and ``Retry-After`` settings; ``None`` for the defaults.
        default_headers: Extra headers sent with every API request (never to presigned URLs).
        session: A caller-owned ``aiohttp.ClientSession`` to use; it is never closed by us.

    Raises:
        ValueError: the token is missing or blank, or another argument is invalid.

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
        timeout: float = 30.0,
        max_retries: int = 2,
        rate_limit: float | None = None,
        retry: RetryPolicy | None = None,
        default_headers: dict[str, str] | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        if token is None:
            token = os.environ.get("QODER_PAT")
        if not isinstance(token, str) or not token.strip():
            raise ValueError("token is missing or blank: pass token= or set QODER_PAT")
        token = token.strip()
        if base_url is None:
            base_url = os.environ.get("QODER_BASE_URL") or _wire.DEFAULT_BASE_URL
        base_url = _wire.check_base_url(base_url)
        _check_positive_number(timeout, "timeout")
        _check_retries(max_retries)
        _check_positive_number(rate_limit, "rate_limit", allow_none=True)
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ValueError(f"retry must be a RetryPolicy or None, got {retry!r}")
        _configure_logging_from_env()
        self._masked_token = _wire.mask_token(token)
        self._transport = Transport(
            base_url=base_url,
            token=token,
            timeout=float(timeout),
            max_retries=max_retries,
            retry=retry or RetryPolicy(),
            rate_limit=rate_limit,
            default_headers=default_headers,
            session=session,
        )
        self._pagers: weakref.WeakSet[AsyncPager] = weakref.WeakSet()

    def __repr__(self) -> str:
        return f"<AsyncClient base_url={self.base_url!r} token={self._masked_token!r}>"

    @property
    def base_url(self) -> str:
        """The API root this client talks to."""
        return self._transport.base_url.rstrip("/")

    # --- lifecycle -----------------------------------------------------------------------

    async def aclose(self) -> None:
        """Cancel every open pager's read-ahead, then close the HTTP session. Idempotent."""
        for pager in list(self._pagers):
            await pager.aclose()
        await self._transport.aclose()

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
        timeout: float | None = None,
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
            timeout: Per-attempt timeout for this listing's requests.
            max_retries: Retry budget for each of this listing's requests.

        Returns:
            An ``AsyncPager`` to use with ``async for``, ``.pages()`` or ``.collect()``.

        Raises:
            ValueError: an argument is invalid (checked before any request).
        """
        walk = self._walk(purpose, limit, after, before, max_items)
        self._check_overrides(timeout, max_retries)
        transport = self._transport

        async def fetch(request: Request) -> Page[File]:
            return await transport.send(
                request, _wire.decipher_page, timeout=timeout, max_retries=max_retries
            )

        pager = AsyncPager(fetch, walk)
        self._pagers.add(pager)
        return pager

    async def get_page(
        self,
        *,
        purpose: Purpose | str | None = None,
        limit: int | None = None,
        after: str | None = None,
        before: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> Page[File]:
        """Fetch exactly one page, as the server sent it.

        Args:
            purpose: Only files with this purpose.
            limit: Page size, 1 to 100 (server default 20).
            after: Files older than this id.
            before: Files newer than this id (``data`` is still newest first).
            timeout: Per-attempt timeout.
            max_retries: Retry budget for this request.

        Raises:
            ValueError: an argument is invalid (checked before the request).
        """
        walk = self._walk(purpose, limit, after, before, None)
        self._check_overrides(timeout, max_retries)
        request = walk.next_request()
        assert request is not None  # a fresh walk always has a first request
        return await self._transport.send(
            request, _wire.decipher_page, timeout=timeout, max_retries=max_retries
        )

    # --- helpers -------------------------------------------------------------------------

    @staticmethod
    def _walk(
        purpose: object, limit: object, after: object, before: object, max_items: object
    ) -> CursorWalk:
        checked_purpose = _wire.check_purpose(purpose)
        checked_limit = _wire.check_limit(limit)
        checked_after = _wire.check_cursor(after, "after")
        checked_before = _wire.check_cursor(before, "before")
        if checked_after is not None and checked_before is not None:
            raise ValueError("after and before cannot be used together: pick one direction")
        return CursorWalk(
            purpose=checked_purpose,
            limit=checked_limit,
            after=checked_after,
            before=checked_before,
            max_items=_wire.check_max_items(max_items),
        )

    @staticmethod
    def _check_overrides(timeout: object, max_retries: object) -> None:
        _check_positive_number(timeout, "timeout", allow_none=True)
        if max_retries is not None:
            _check_retries(max_retries)

    def _options(self, timeout: float | None, max_retries: int | None) -> dict[str, Any]:
        self._check_overrides(timeout, max_retries)
        return {"timeout": timeout, "max_retries": max_retries}
