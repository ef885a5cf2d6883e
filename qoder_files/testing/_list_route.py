"""The emulator's list route, ``GET files``: its query parameters and its page, per generation.

``g1`` (the seed) is lenient where the published docs disagree: ``limit`` above 100 is capped
at 100; the cursors are ``after``/``before`` and their ``after_id``/``before_id`` aliases; the
one filter is ``purpose``; anything else (``page``, ``name``, ``scope_id``) is ignored, as a
seed-generation server does.

``g3`` follows the newest docs strictly: ``limit`` above 100 is a 400; the cursors are ``page``
(the previous ``next_page``), ``after_id`` and ``before_id``; the filters are ``name`` (a
case-insensitive filename prefix) and ``scope_id``. ``purpose``, ``after`` and ``before`` are a
400 naming the parameter: stricter than a real server, which would ignore them, so a test
catches a client that depends on them. ``next_page`` is an opaque cursor on a forward page with
more after it, and ``null`` on the last page and on every backward page.

In both, any two cursors are a 400, and a cursor id that no longer exists still works, because
ids sort by creation time. It reads the store and never changes it; auth, faults and the error
envelope belong to ``FilesEmulator``.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from aiohttp import web

from ._protocol import ApiError, check_purpose
from ._store import FileStore

if TYPE_CHECKING:
    from ._emulator import FilesEmulator

__all__ = ["ListRoute", "decode_page", "encode_page"]

_G1_CURSORS = ("after", "after_id", "before", "before_id")
_G3_CURSORS = ("after_id", "before_id", "page")
_G3_REFUSED = ("after", "before", "purpose")
MAX_LIMIT = 100


def encode_page(file_id: str) -> str:
    """The ``next_page`` cursor that continues after ``file_id`` (opaque to clients)."""
    return base64.urlsafe_b64encode(file_id.encode()).rstrip(b"=").decode()


def decode_page(page: str) -> str:
    """The file id a ``page`` cursor continues after, or a 400 naming ``page``."""
    try:
        raw = base64.urlsafe_b64decode(page + "=" * (-len(page) % 4))
        file_id = raw.decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        file_id = ""
    if not file_id.isprintable() or encode_page(file_id) != page:
        raise ApiError.invalid(
            "Parameter 'page' must be a 'next_page' value this server handed out.", "page"
        )
    return file_id


class ListRoute:
    """Answers ``GET files`` for one emulator, and remembers its last page.

    Attributes:
        last_body: The body of the last page it answered (the ``repeat_page`` fault sends it
            again), or ``None``.
    """

    def __init__(self, emulator: FilesEmulator, store: FileStore) -> None:
        self._emulator = emulator
        self._store = store
        self.last_body: bytes | None = None

    async def handle(self, request: web.Request) -> web.Response:
        """One page of the listing the query asks for."""
        g3 = self._emulator.shape == "g3"
        query = request.query
        if g3:
            for name in _G3_REFUSED:
                if name in query:
                    raise ApiError.invalid(
                        f"Parameter '{name}' is not supported by this version of the API.", name
                    )
        limit = _int_param(request, "limit")
        if limit is None:
            limit = 20
        elif limit < 1 or (g3 and limit > MAX_LIMIT):
            raise ApiError.invalid(f"Field 'limit' must be between 1 and {MAX_LIMIT}.", "limit")
        limit = min(limit, MAX_LIMIT)
        purpose = None if g3 else query.get("purpose")
        if purpose is not None:
            check_purpose(purpose)
        after, before = self._g3_cursor(request) if g3 else self._g1_cursor(request)
        files, has_more = self._store.window(
            purpose=purpose,
            name=query.get("name") if g3 else None,
            scope_id=query.get("scope_id") if g3 else None,
            after=after,
            before=before,
            limit=limit,
        )
        # Only forward pages continue by `page`: following one from a backward page would
        # send a client back over its own anchor.
        more = has_more and before is None and bool(files)
        next_page = encode_page(files[-1].file_id) if more else None
        body = self._emulator.render_page(files, has_more, next_page=next_page)
        self.last_body = body
        return web.Response(body=body, content_type="application/json")

    def _g1_cursor(self, request: web.Request) -> tuple[str | None, str | None]:
        given = _given(request, _G1_CURSORS)
        after = given.get("after") or given.get("after_id")
        before = given.get("before") or given.get("before_id")
        return after, before

    def _g3_cursor(self, request: web.Request) -> tuple[str | None, str | None]:
        given = _given(request, _G3_CURSORS)
        page = given.get("page")
        after = decode_page(page) if page else given.get("after_id")
        return after or None, given.get("before_id") or None


def _given(request: web.Request, names: tuple[str, ...]) -> dict[str, str]:
    given = {name: request.query[name] for name in names if name in request.query}
    if len(given) > 1:
        joined = " and ".join(sorted(given))
        raise ApiError.invalid(f"Parameters {joined} are mutually exclusive.")
    return given


def _int_param(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError.invalid(f"Field '{name}' must be an integer.", name) from None
