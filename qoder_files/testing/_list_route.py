"""The emulator's list route, ``GET files``: its query parameters and its page.

Where the published docs disagree, it picks: ``limit`` above 100 is capped at 100 (not
rejected); ``after``/``before`` and their ``after_id``/``before_id`` aliases are accepted, plus
``page`` (equivalent to ``after``) in ``g3``; any two cursors are a 400. Cursor ids that no
longer exist still work, because ids sort by creation time.

It reads the store and never changes it; auth, faults and the error envelope belong to
``FilesEmulator``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from ._protocol import ApiError, check_purpose
from ._store import FileStore

if TYPE_CHECKING:
    from ._emulator import FilesEmulator

__all__ = ["ListRoute"]

_CURSORS = ("after", "after_id", "before", "before_id", "page")


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
        limit = _int_param(request, "limit")
        if limit is None:
            limit = 20
        elif limit < 1:
            raise ApiError.invalid("Field 'limit' must be between 1 and 100.", "limit")
        limit = min(limit, 100)
        purpose = request.query.get("purpose")
        if purpose is not None:
            check_purpose(purpose)
        after, before = self._cursor(request)
        files, has_more = self._store.window(
            purpose=purpose,
            name=request.query.get("name"),
            after=after,
            before=before,
            limit=limit,
        )
        body = self._emulator.render_page(files, has_more)
        self.last_body = body
        return web.Response(body=body, content_type="application/json")

    def _cursor(self, request: web.Request) -> tuple[str | None, str | None]:
        query = request.query
        given = {
            name: query[name]
            for name in _CURSORS
            if name in query and (name != "page" or self._emulator.shape == "g3")
        }
        if len(given) > 1:
            names = " and ".join(sorted(given))
            raise ApiError.invalid(f"Parameters {names} are mutually exclusive.")
        after = given.get("after") or given.get("after_id") or given.get("page")
        before = given.get("before") or given.get("before_id")
        return after, before


def _int_param(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError.invalid(f"Field '{name}' must be an integer.", name) from None
