"""The paging state machine of one listing walk: which request comes next, and when to stop.

Pure: it takes pages and hands out requests, and never awaits. Rules it keeps:

- direction is data: a ``before`` cursor means backward (toward newer files), anything else
  forward; every request carries exactly one cursor after the first;
- forward continues from the envelope ``last_id``, backward from ``first_id``, each falling back
  to the last/first item's id when the envelope leaves it out; a forward page that carries the
  newer servers' opaque ``next_page`` continues with ``page=<next_page>`` instead, which those
  servers require (they ignore ``after``);
- items come back in the order of travel: forward pages as sent, backward pages reversed;
- ``max_items`` is exact: the last request asks only for the remainder and a longer page is cut;
- the walk never stops silently: ``has_more`` without a usable cursor, or a cursor this walk has
  already sent, raises ``PaginationError``;
- the walk never spins: more than ``MAX_EMPTY_PAGES`` empty pages in a row that still say
  ``has_more`` raise ``PaginationError`` (a server handing out fresh cursors forever).
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Callable
from typing import Any

import attrs

from ._convert import object_id
from ._generations import Dialect
from ._public import publish
from ._wire import Request, list_request
from .errors import PaginationError
from .models import Page, Purpose

__all__ = ["DEFAULT_LIMIT", "MAX_EMPTY_PAGES", "CursorWalk", "Direction"]

DEFAULT_LIMIT = 20
"""The server's page size when ``limit`` is not sent."""

MAX_EMPTY_PAGES = 100
"""Consecutive empty pages with ``has_more`` that a walk accepts before it gives up."""


_FILE_ID = operator.attrgetter("file_id")
_FILENAME = operator.attrgetter("filename")


def _object_name(obj: dict[str, Any]) -> str:
    name = obj.get("filename")
    return name if type(name) is str else ""


class Direction(enum.Enum):
    """Which way a walk travels through the newest-first listing."""

    FORWARD = "forward"  # toward older files, with ``after``
    BACKWARD = "backward"  # toward newer files, with ``before``


class CursorWalk:
    """State of one walk through a listing. Arguments must already be checked.

    Call ``next_request()`` for the request to send (``None`` when the walk is over), then
    ``accept(page)`` with the page it produced; ``accept`` returns that page's items in the
    order of travel, trimmed to ``max_items``.
    """

    __slots__ = (
        "_dialect",
        "_empty",
        "_folded",
        "_id_of",
        "_limit",
        "_name",
        "_name_of",
        "_next",
        "_next_page",
        "_purpose",
        "_remaining",
        "_scope_id",
        "_sent",
        "direction",
        "done",
        "start",
        "unbounded",
    )

    def __init__(
        self,
        *,
        purpose: Purpose | None = None,
        limit: int | None = None,
        after: str | None = None,
        before: str | None = None,
        max_items: int | None = None,
        name: str | None = None,
        scope_id: str | None = None,
        dialect: Dialect | None = None,
    ) -> None:
        self.direction = Direction.BACKWARD if before is not None else Direction.FORWARD
        self.start: str | None = before if before is not None else after
        self.done = False
        self._purpose = purpose
        self._name = name
        self._folded = None if name is None else name.casefold()
        self._scope_id = scope_id
        self._dialect = dialect
        self._limit = limit
        self._remaining = max_items
        self.unbounded = max_items is None
        self._next = self.start
        self._sent: set[str] = set()
        self._empty = 0  # empty pages in a row that said has_more
        self._next_page: str | None = None  # the newer servers' opaque forward cursor
        self._id_of: Callable[[Any], Any] = _FILE_ID
        self._name_of: Callable[[Any], Any] = _FILENAME

    def read_objects(self) -> None:
        """Take pages whose items are the server's JSON objects, not ``File`` values."""
        self._id_of = object_id
        self._name_of = _object_name

    def next_request(self) -> Request | None:
        """The next request to send, or ``None`` when the walk has ended."""
        if self.done:
            return None
        limit = self._limit
        if self._remaining is not None and self._name is None:
            # (with a name filter the SDK may apply itself, a page can hold fewer matches
            # than it has items: ask for whole pages and trim)
            limit = min(limit or DEFAULT_LIMIT, self._remaining)
        cursor = self._next
        if cursor is not None:
            self._sent.add(cursor)
        if self._next_page is not None:
            after, before, page = None, None, self._next_page
        elif self.direction is Direction.BACKWARD:
            after, before, page = None, cursor, None
        else:
            after, before, page = cursor, None, None
        return list_request(
            purpose=self._purpose,
            name=self._name,
            scope_id=self._scope_id,
            limit=limit,
            after=after,
            before=before,
            page=page,
        )

    def _filtering(self) -> bool:
        return self._folded is not None and (
            self._dialect is None or self._dialect.filters_names_itself()
        )

    def _matches(self, files: list[Any]) -> list[Any]:
        folded = self._folded
        assert folded is not None
        name_of = self._name_of
        return [file for file in files if name_of(file).casefold().startswith(folded)]

    def shown(self, page: Page[Any]) -> Page[Any]:
        """``page`` as handed to the caller: with only the files matching ``name`` when the
        SDK applies that filter itself (the server cannot), else exactly as sent."""
        if not self._filtering():
            return page
        return attrs.evolve(page, data=self._matches(page.data))

    def accept(self, page: Page[Any]) -> list[Any]:
        """Take the page the last request produced; return its items in the order of travel.

        Raises:
            PaginationError: the page says ``has_more`` but gives no usable cursor, or a cursor
                this walk has already sent (the server would loop).
        """
        data = page.data
        backward = self.direction is Direction.BACKWARD
        items = data[::-1] if backward else data
        if self._filtering():
            items = self._matches(items)
        if self._remaining is not None:
            if len(items) >= self._remaining:
                items = items[: self._remaining]
                self._remaining = 0
                self.done = True
                return items
            self._remaining -= len(items)
        if not page.has_more:
            self.done = True
            return items
        if data:
            self._empty = 0
        else:
            self._empty += 1
            if self._empty > MAX_EMPTY_PAGES:
                self.done = True
                raise PaginationError(
                    f"the server sent {self._empty} empty pages in a row, each saying has_more; "
                    f"giving up instead of looping (request id {page.request_id})"
                )
        if not backward and page.next_page is not None:
            token = "page:" + page.next_page  # kept apart from ids in the repeat guard
            if token in self._sent:
                self.done = True
                raise PaginationError(
                    f"the server sent next_page {page.next_page!r} again; following it would "
                    f"repeat pages (request id {page.request_id})"
                )
            self._sent.add(token)
            self._next_page = page.next_page
            self._next = page.last_id or (self._id_of(data[-1]) if data else self._next)
            return items
        if backward:
            cursor = page.first_id or (self._id_of(data[0]) if data else None)
        else:
            cursor = page.last_id or (self._id_of(data[-1]) if data else None)
        if cursor is None:
            self.done = True
            raise PaginationError(
                "the server said has_more but sent no cursor to continue from "
                f"(request id {page.request_id})"
            )
        if cursor in self._sent:
            self.done = True
            raise PaginationError(
                f"the server sent cursor {cursor!r} again; following it would repeat pages "
                f"(request id {page.request_id})"
            )
        self._next = cursor
        return items


# Exported from ``qoder_files``: tracebacks, reprs, pickles and the reference show that path.
publish("qoder_files", globals(), ["Direction"])
