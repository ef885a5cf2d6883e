"""The models are plain frozen values."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest

from qoder_files import DownloadLink, File, Page, Purpose, Scope


def make_file(**changes: object) -> File:
    fields: dict[str, object] = {
        "file_id": "file_019e3bb8c1387743bf4ef115aae5acb1",
        "filename": "a.txt",
        "size_bytes": 3,
        "mime_type": "text/plain",
        "created_at": datetime(2026, 5, 18, tzinfo=UTC),
    }
    fields.update(changes)
    return File(**fields)  # type: ignore[arg-type]


def test_file_is_frozen_and_defaults() -> None:
    f = make_file()
    assert f.purpose is None
    assert f.status is None
    assert f.metadata == {}
    assert f.extra == {}
    assert f.updated_at is None
    assert f.downloadable is False
    assert f.scope is None
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        f.filename = "b.txt"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("purpose", "downloadable"),
    [
        (Purpose.TOOL_OUTPUT, True),
        (Purpose.SKILL_OUTPUT, True),
        ("skill_output", True),  # a plain string equal to a purpose counts as that purpose
        (Purpose.USER_UPLOAD, False),
        ("future_purpose", False),
        (None, False),
    ],
)
def test_downloadable_follows_purpose_unless_given(purpose: object, downloadable: bool) -> None:
    assert make_file(purpose=purpose).downloadable is downloadable
    assert make_file(purpose=purpose, downloadable=not downloadable).downloadable is not (
        downloadable
    )


def test_scope_is_a_frozen_hashable_value() -> None:
    scope = Scope(id="sess_019e3bb8e6c47d18", type="session")
    assert scope == Scope("sess_019e3bb8e6c47d18", "session")
    assert hash(scope) == hash(Scope(id="sess_019e3bb8e6c47d18", type="session"))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        scope.id = "sess_other"  # type: ignore[misc, unused-ignore]
    assert make_file(scope=scope) != make_file()
    assert hash(make_file(scope=scope)) != hash(make_file())


def test_file_hash_ignores_dict_fields() -> None:
    assert hash(make_file(metadata={"a": 1})) == hash(make_file(metadata={"b": 2}))
    assert make_file() == make_file()
    assert make_file() != make_file(filename="other")


def test_purpose_is_a_string_enum() -> None:
    assert Purpose.TOOL_OUTPUT == "tool_output"  # type: ignore[comparison-overlap]
    assert [p.value for p in Purpose] == [
        "user_upload",
        "tool_output",
        "skill_output",
        "session_resource",
        "agent_output",
    ]
    assert Purpose.TOOL_OUTPUT.downloadable
    assert Purpose.SKILL_OUTPUT.downloadable
    assert not Purpose.USER_UPLOAD.downloadable


def test_page_and_link_defaults() -> None:
    page: Page[File] = Page(data=[])
    assert (page.first_id, page.last_id, page.has_more, page.next_page) == (
        None,
        None,
        False,
        None,
    )
    assert DownloadLink(url="https://x").expires_at is None
