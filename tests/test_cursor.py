"""The paging state machine, with no event loop."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from qoder_files import File, Page, PaginationError, Purpose
from qoder_files._cursor import CursorWalk, Direction


def f(n: int) -> File:
    return File(
        file_id=f"file_{n:04d}",
        filename="x",
        size_bytes=1,
        mime_type="text/plain",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def page(ids: list[int], *, has_more: bool, envelope: bool = True) -> Page[File]:
    data = [f(n) for n in ids]
    return Page(
        data=data,
        first_id=data[0].file_id if data and envelope else None,
        last_id=data[-1].file_id if data and envelope else None,
        has_more=has_more,
    )


def params(walk: CursorWalk) -> dict[str, str] | None:
    request = walk.next_request()
    return None if request is None else dict(request.params)


def test_forward_walk() -> None:
    walk = CursorWalk(limit=2, purpose=Purpose.TOOL_OUTPUT)
    assert walk.direction is Direction.FORWARD
    assert params(walk) == {"purpose": "tool_output", "limit": "2"}
    assert [x.file_id for x in walk.accept(page([9, 8], has_more=True))] == [
        "file_0009",
        "file_0008",
    ]
    assert params(walk) == {"purpose": "tool_output", "limit": "2", "after": "file_0008"}
    walk.accept(page([7], has_more=False))
    assert walk.done
    assert params(walk) is None


def test_backward_walk_reverses_each_page_and_uses_first_id() -> None:
    walk = CursorWalk(before="file_0003")
    assert walk.direction is Direction.BACKWARD
    assert params(walk) == {"before": "file_0003"}
    items = walk.accept(page([5, 4], has_more=True))
    assert [x.file_id for x in items] == ["file_0004", "file_0005"]
    assert params(walk) == {"before": "file_0005"}


def test_item_id_fallback_when_envelope_ids_missing() -> None:
    walk = CursorWalk()
    walk.next_request()
    walk.accept(page([9, 8], has_more=True, envelope=False))
    assert params(walk) == {"after": "file_0008"}
    back = CursorWalk(before="file_0001")
    back.next_request()
    back.accept(page([3, 2], has_more=True, envelope=False))
    assert params(back) == {"before": "file_0003"}


def test_max_items_asks_for_the_remainder_and_trims() -> None:
    walk = CursorWalk(limit=100, max_items=250)
    sizes = []
    start = 1000
    while (request := walk.next_request()) is not None:
        size = int(dict(request.params)["limit"])
        sizes.append(size)
        walk.accept(page(list(range(start, start - size, -1)), has_more=True))
        start -= size
    assert sizes == [100, 100, 50]


def test_max_items_without_limit_uses_server_default() -> None:
    walk = CursorWalk(max_items=5)
    assert params(walk) == {"limit": "5"}
    walk2 = CursorWalk(max_items=45)
    assert params(walk2) == {"limit": "20"}
    # A server that sends more than asked is cut to max_items.
    walk3 = CursorWalk(max_items=3)
    walk3.next_request()
    assert len(walk3.accept(page([9, 8, 7, 6], has_more=True))) == 3
    assert walk3.done


def test_has_more_without_cursor_raises() -> None:
    walk = CursorWalk()
    walk.next_request()
    with pytest.raises(PaginationError, match="no cursor"):
        walk.accept(page([], has_more=True))
    assert walk.done


def test_repeated_cursor_raises_even_if_not_the_last() -> None:
    walk = CursorWalk(after="file_0100")
    walk.next_request()
    walk.accept(page([99, 98], has_more=True))
    walk.next_request()
    walk.accept(page([97, 96], has_more=True))
    walk.next_request()
    with pytest.raises(PaginationError, match="file_0098"):
        walk.accept(page([99, 98], has_more=True))


def test_starting_cursor_counts_as_sent() -> None:
    walk = CursorWalk(after="file_0008")
    walk.next_request()
    with pytest.raises(PaginationError):
        walk.accept(page([9, 8], has_more=True))


def test_empty_last_page_is_a_clean_end() -> None:
    walk = CursorWalk()
    walk.next_request()
    assert walk.accept(page([], has_more=False)) == []
    assert walk.done


def test_forward_pages_with_next_page_continue_with_page() -> None:
    import attrs

    walk = CursorWalk(limit=2)
    assert params(walk) == {"limit": "2"}
    walk.accept(attrs.evolve(page([9, 8], has_more=True), next_page="opaque-1"))
    assert params(walk) == {"limit": "2", "page": "opaque-1"}
    with pytest.raises(PaginationError, match="next_page 'opaque-1' again"):
        walk.accept(attrs.evolve(page([7], has_more=True), next_page="opaque-1"))
