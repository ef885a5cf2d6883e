"""The one converter: both wire shapes in, seed shape out; malformed input is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qoder_files import DownloadLink, File, Page, Purpose, Scope, converter
from qoder_files._convert import (
    dumps,
    format_timestamp,
    loads,
    parse_timestamp,
    structure_download_link,
    structure_file,
    structure_page,
)

G1 = {
    "created_at": "2026-05-18T15:33:44Z",
    "file_id": "file_019e3bb8c1387743bf4ef115aae5acb1",
    "filename": "qoder-test-upload.txt",
    "metadata": {},
    "mime_type": "text/plain",
    "purpose": "session_resource",
    "size_bytes": 110,
    "status": "ready",
    "updated_at": "2026-05-18T15:33:44Z",
}
G3 = {
    "id": "file_019e3bb8c1387743bf4ef115aae5acb1",
    "type": "file",
    "filename": "qoder-test-upload.txt",
    "mime_type": "text/plain",
    "size_bytes": 110,
    "downloadable": True,
    "scope": {"id": "sess_019e3bb8e6c47d18", "type": "session"},
    "metadata": {"project": "demo"},
    "created_at": "2026-05-18T15:26:39.61669Z",
}


def test_seed_shape() -> None:
    f = structure_file(G1)
    assert f.file_id == G1["file_id"]
    assert f.purpose is Purpose.SESSION_RESOURCE
    assert f.status == "ready"
    assert f.created_at == datetime(2026, 5, 18, 15, 33, 44, tzinfo=UTC)
    assert f.updated_at is f.created_at  # parsed once
    assert f.downloadable is False  # derived: a session_resource is not downloadable
    assert f.scope is None
    assert f.extra == {}


def test_newer_shape_with_fractional_seconds_and_extra_fields() -> None:
    f = structure_file(G3)
    assert f.file_id == G3["id"]
    assert f.purpose is None
    assert f.status is None
    assert f.updated_at is None
    assert f.created_at == datetime(2026, 5, 18, 15, 26, 39, 616690, tzinfo=UTC)
    assert f.metadata == {"project": "demo"}
    assert f.downloadable is True
    assert f.scope == Scope(id="sess_019e3bb8e6c47d18", type="session")
    assert f.extra == {}  # ``type: "file"`` is consumed


@pytest.mark.parametrize(
    ("purpose", "downloadable"),
    [
        ("tool_output", True),
        ("skill_output", True),
        ("user_upload", False),
        ("session_resource", False),
        ("agent_output", False),
        ("future_purpose", False),
        (None, False),
    ],
)
def test_downloadable_is_derived_from_purpose_when_not_sent(
    purpose: str | None, downloadable: bool
) -> None:
    assert structure_file({**G1, "purpose": purpose}).downloadable is downloadable
    assert structure_file({**G1, "purpose": purpose, "downloadable": None}).downloadable is (
        downloadable
    )
    without = {k: v for k, v in G3.items() if k != "downloadable"}
    assert structure_file({**without, "purpose": purpose}).downloadable is downloadable


def test_a_sent_downloadable_wins_over_purpose() -> None:
    assert structure_file({**G1, "purpose": "tool_output", "downloadable": False}).downloadable is (
        False
    )
    assert structure_file({**G1, "purpose": "user_upload", "downloadable": True}).downloadable
    assert structure_file({**G3, "downloadable": False}).downloadable is False


def test_null_scope_is_none_and_extra_scope_keys_are_not_kept() -> None:
    assert structure_file({**G3, "scope": None}).scope is None
    f = structure_file({**G3, "scope": {"id": "sess_1", "type": "session", "name": "x"}})
    assert f.scope == Scope(id="sess_1", type="session")
    assert f.extra == {}


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("file", False),
        ("file_deleted", True),
        ("", True),
        (None, True),
        (1, True),
        (["file"], True),
    ],
)
def test_type_file_is_consumed_and_any_other_value_kept(value: Any, kept: bool) -> None:
    f = structure_file({**G3, "type": value})
    assert f.extra == ({"type": value} if kept else {})
    out = converter.unstructure(f)
    assert ("type" in out) is kept
    if kept:
        assert out["type"] == value


def test_unknown_purpose_is_kept_as_string() -> None:
    f = structure_file({**G1, "purpose": "future_purpose"})
    assert f.purpose == "future_purpose"
    assert not isinstance(f.purpose, Purpose)


def test_distinct_updated_at_and_null_metadata() -> None:
    f = structure_file({**G1, "updated_at": "2026-05-19T00:00:00+02:00", "metadata": None})
    assert f.updated_at == datetime(2026, 5, 18, 22, tzinfo=UTC)
    assert f.metadata == {}


def test_naive_timestamps_are_utc() -> None:
    assert parse_timestamp("2026-05-18T15:33:44") == datetime(2026, 5, 18, 15, 33, 44, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"file_id": None}, "file_id"),
        ({"file_id": 7}, "file_id"),
        ({"created_at": None}, "created_at"),
        ({"created_at": "yesterday"}, "created_at"),
        ({"updated_at": "nope"}, "updated_at"),
        ({"size_bytes": "110"}, "size_bytes"),
        ({"size_bytes": True}, "size_bytes"),
        ({"metadata": []}, "metadata"),
        ({"downloadable": "true"}, "downloadable"),
        ({"downloadable": 1}, "downloadable"),
        ({"scope": "sess_1"}, "scope"),
        ({"scope": []}, "scope"),
        ({"scope": {}}, "scope"),
        ({"scope": {"id": "sess_1"}}, "scope"),
        ({"scope": {"type": "session"}}, "scope"),
        ({"scope": {"id": "", "type": "session"}}, "scope"),
        ({"scope": {"id": 7, "type": "session"}}, "scope"),
        ({"scope": {"id": "sess_1", "type": None}}, "scope"),
    ],
)
def test_malformed_file(change: dict[str, Any], message: str) -> None:
    with pytest.raises((TypeError, ValueError, KeyError), match=message):
        structure_file({**G1, **change})


def test_missing_field_and_non_object() -> None:
    broken = dict(G1)
    del broken["filename"]
    with pytest.raises(KeyError, match="filename"):
        structure_file(broken)
    with pytest.raises(TypeError, match="JSON object"):
        structure_file([G1])


def test_page_envelope() -> None:
    page = structure_page(
        {"data": [G1], "first_id": "a", "last_id": "b", "has_more": True, "next_page": "b"},
        "req-1",
    )
    assert page.first_id == "a"
    assert page.last_id == "b"
    assert page.has_more is True
    assert page.next_page == "b"
    assert page.request_id == "req-1"
    empty = structure_page({"data": [], "first_id": None, "has_more": False, "last_id": None})
    assert empty == Page(data=[])


@pytest.mark.parametrize(
    "envelope",
    [
        [],
        {"data": {}},
        {"data": [], "has_more": "yes"},
        {"data": [], "first_id": 3},
    ],
)
def test_malformed_envelope(envelope: Any) -> None:
    with pytest.raises(TypeError):
        structure_page(envelope)


def test_converter_round_trip_to_seed_shape() -> None:
    f = converter.structure(G1, File)
    assert converter.unstructure(f) == G1  # derived downloadable and absent scope not written
    assert converter.structure(converter.unstructure(f), File) == f
    without_purpose = {k: v for k, v in G1.items() if k != "purpose"}
    for g1 in ({**G1, "purpose": "tool_output"}, without_purpose):  # derived either way
        assert converter.unstructure(converter.structure(g1, File)) == g1


def test_converter_round_trip_of_the_newer_shape() -> None:
    f = converter.structure(G3, File)
    g3 = converter.unstructure(f)
    # the seed shape, with the newer fields that say more than the seed fields do
    assert g3 == {
        "file_id": G3["id"],
        "filename": G3["filename"],
        "size_bytes": G3["size_bytes"],
        "mime_type": G3["mime_type"],
        "metadata": G3["metadata"],
        "created_at": "2026-05-18T15:26:39.616690Z",
        "downloadable": True,
        "scope": G3["scope"],
    }
    assert converter.structure(g3, File) == f
    # ``downloadable: false`` with no purpose, and a null scope, are what reading gives anyway
    plain = converter.structure({**G3, "downloadable": False, "scope": None}, File)
    out = converter.unstructure(plain)
    assert "downloadable" not in out
    assert "scope" not in out
    assert converter.structure(out, File) == plain
    # a flag that disagrees with the purpose is written, so it survives the trip
    odd = converter.structure({**G1, "downloadable": True}, File)
    assert converter.unstructure(odd) == {**G1, "downloadable": True}


def test_converter_pages_and_links() -> None:
    page = converter.structure({"data": [G1], "has_more": False}, Page[File])
    assert page.data[0].file_id == G1["file_id"]
    assert converter.unstructure(page) == {
        "data": [G1],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }
    with_next = converter.unstructure(Page(data=[], next_page="x"))
    assert with_next["next_page"] == "x"
    link = converter.structure(
        {"url": "https://s/x", "expires_at": "2026-05-18T16:34:52Z"}, DownloadLink
    )
    assert link.expires_at == datetime(2026, 5, 18, 16, 34, 52, tzinfo=UTC)
    assert converter.unstructure(link) == {
        "url": "https://s/x",
        "expires_at": "2026-05-18T16:34:52Z",
    }
    assert converter.unstructure(DownloadLink(url="u")) == {"url": "u", "expires_at": None}


@pytest.mark.parametrize("obj", [[], {"url": ""}, {"expires_at": "2026-05-18T16:34:52Z"}])
def test_malformed_link(obj: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        structure_download_link(obj)


def test_json_codec() -> None:
    assert loads(dumps({"a": [1, "é"]})) == {"a": [1, "é"]}
    with pytest.raises(ValueError):  # noqa: PT011 - the codec's own message varies by backend
        loads(b"{")


def test_format_timestamp_converts_to_utc() -> None:
    tz = timezone(timedelta(hours=2))
    assert format_timestamp(datetime(2026, 1, 1, 2, tzinfo=tz)) == "2026-01-01T00:00:00Z"


@st.composite
def files(draw: st.DrawFn) -> File:
    """Files of either generation: a flag that follows the purpose or not, a scope or none."""
    purpose = draw(st.sampled_from([*list(Purpose), "something_new", None]))
    tag = draw(st.sampled_from([None, "file", "other"]))
    file = File(
        file_id="file_0123",
        filename=draw(st.text(min_size=1, max_size=30)),
        size_bytes=draw(st.integers(min_value=0, max_value=2**40)),
        mime_type="text/plain",
        purpose=purpose,
        metadata=draw(st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=4)),
        created_at=draw(
            st.datetimes(
                min_value=datetime(2000, 1, 1),
                max_value=datetime(2100, 1, 1),
                timezones=st.just(UTC),
            )
        ),
        scope=draw(st.none() | st.builds(Scope, id=st.text(min_size=1), type=st.text(min_size=1))),
        extra={} if tag in (None, "file") else {"type": tag},
    )
    flag = draw(st.none() | st.booleans())  # None: the one the purpose implies
    return file if flag is None else attrs.evolve(file, downloadable=flag)


@given(file=files())
def test_round_trip_property(file: File) -> None:
    assert converter.structure(loads(dumps(converter.unstructure(file))), File) == file
