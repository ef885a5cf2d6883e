"""The fast path of ``structure_items`` builds exactly what ``structure_file`` builds."""

from __future__ import annotations

import pickle
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qoder_files import File, Purpose, _convert
from qoder_files._convert import structure_file, structure_items, structure_page, unstructure_file

SEED: dict[str, Any] = {
    "created_at": "2026-05-18T15:33:44Z",
    "file_id": "file_019e3bb8c1387743bf4ef115aae5acb1",
    "filename": "notes.md",
    "metadata": {"project": "demo"},
    "mime_type": "text/markdown",
    "purpose": "session_resource",
    "size_bytes": 1234,
    "status": "ready",
    "updated_at": "2026-05-18T15:33:44Z",
}


def outcome(build: Any, obj: Any) -> Any:
    """What building ``obj`` gives: the value, or the error's type and message."""
    try:
        return build(obj)
    except (KeyError, TypeError, ValueError) as exc:
        return type(exc), str(exc)


def same_as_structure_file(obj: Any) -> None:
    fast = outcome(lambda o: structure_items([o])[0], obj)
    slow = outcome(structure_file, obj)
    assert fast == slow
    if isinstance(slow, File):
        assert type(fast) is File
        # the same values down to the types: an enum purpose, aware datetimes, shared updated_at
        assert type(fast.purpose) is type(slow.purpose)
        assert fast.created_at.tzinfo == slow.created_at.tzinfo
        assert (fast.updated_at is fast.created_at) == (slow.updated_at is slow.created_at)
        assert type(fast.downloadable) is bool
        assert type(fast.scope) is type(slow.scope)


def test_seed_item_takes_the_fast_path_and_is_a_normal_file() -> None:
    [fast] = structure_items([dict(SEED)])
    slow = structure_file(dict(SEED))
    assert fast == slow
    assert hash(fast) == hash(slow)
    assert repr(fast) == repr(slow)
    assert fast.purpose is Purpose.SESSION_RESOURCE
    assert fast.updated_at is fast.created_at
    assert fast.downloadable is False
    assert fast.scope is None
    assert fast.extra == {}
    assert fast.extra is not structure_items([dict(SEED)])[0].extra  # never shared
    assert pickle.loads(pickle.dumps(fast)) == fast
    assert attrs.evolve(fast, filename="other.md").filename == "other.md"
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        fast.filename = "x"  # type: ignore[misc]


VARIANTS: list[dict[str, Any]] = [
    {},
    {"updated_at": "2026-05-19T01:02:03.456789+02:00"},
    {"created_at": "2026-05-18T15:33:44", "updated_at": "2026-05-18T15:33:44"},
    {"created_at": "2026-05-18T15:33:44.5Z", "updated_at": "2026-05-18T15:33:45"},
    {"updated_at": None},
    {"updated_at": 5},
    {"updated_at": "yesterday"},
    {"created_at": "not a time"},
    {"created_at": 1716046424},
    {"purpose": "future_purpose"},
    {"purpose": None},
    {"purpose": ["tool_output"]},
    {"status": None},
    {"status": 3},
    {"metadata": None},
    {"metadata": []},
    {"size_bytes": True},
    {"size_bytes": "12"},
    {"size_bytes": 1.5},
    {"filename": None},
    {"mime_type": 7},
    {"file_id": ""},
    {"file_id": None},
    {"file_id": 42},
    {"purpose": "tool_output"},
    {"purpose": "skill_output"},
    {"downloadable": True},
    {"downloadable": False, "purpose": "tool_output"},
    {"downloadable": None},
    {"downloadable": "yes"},
    {"scope": None},
    {"scope": {"id": "sess_1", "type": "session"}},
    {"scope": {"id": "sess_1"}},
    {"scope": "sess_1"},
    {"type": "file"},
    {"type": "other"},
]


@pytest.mark.parametrize("change", VARIANTS)
def test_variants_match_structure_file(change: dict[str, Any]) -> None:
    same_as_structure_file({**SEED, **change})


@pytest.mark.parametrize(
    "key",
    ["created_at", "file_id", "filename", "metadata", "mime_type", "purpose", "size_bytes"],
)
def test_missing_or_renamed_keys_match_structure_file(key: str) -> None:
    without = {k: v for k, v in SEED.items() if k != key}
    same_as_structure_file(without)
    same_as_structure_file({**without, "updated_at": SEED["updated_at"]})
    same_as_structure_file({**without, "unexpected": 1})
    same_as_structure_file({**without, "id": "file_x"})


def test_other_shapes_match_structure_file() -> None:
    without_updated = {k: v for k, v in SEED.items() if k != "updated_at"}
    same_as_structure_file(without_updated)
    same_as_structure_file({**SEED, "session_id": "sess_1"})
    same_as_structure_file({**without_updated, "session_id": "sess_1"})
    g3 = {
        "id": SEED["file_id"],
        "type": "file",
        "filename": "a.txt",
        "mime_type": "text/plain",
        "size_bytes": 1,
        "downloadable": True,
        "scope": None,
        "metadata": {},
        "created_at": "2026-05-18T15:33:44.123456Z",
    }
    same_as_structure_file(g3)
    same_as_structure_file({**g3, "scope": {"id": "sess_1", "type": "session"}})
    same_as_structure_file({**g3, "downloadable": "no"})
    not_objects: list[Any] = [None, [], "file", 3]
    for not_an_object in not_objects:
        same_as_structure_file(not_an_object)


def test_a_page_mixes_both_paths_in_order() -> None:
    objects = [
        {**SEED, "file_id": f"file_{n:032x}", "purpose": p.value}
        for n, p in enumerate(list(Purpose) * 3)
    ]
    objects[4] = {**objects[4], "extra_field": True}
    objects[7] = {k: v for k, v in objects[7].items() if k != "status"}
    page = structure_page({"data": objects, "has_more": False})
    assert page.data == [structure_file(o) for o in objects]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=5,
)
timestamps = st.datetimes(timezones=st.none() | st.timezones()).map(lambda d: d.isoformat())


@given(
    changes=st.dictionaries(
        st.sampled_from([*SEED, "id", "other"]),
        json_values | timestamps | st.sampled_from([p.value for p in Purpose]),
        max_size=3,
    ),
    drop=st.sets(st.sampled_from(list(SEED)), max_size=2),
)
def test_property_fast_path_equals_structure_file(changes: dict[str, Any], drop: set[str]) -> None:
    obj = {k: v for k, v in {**SEED, **changes}.items() if k not in drop}
    same_as_structure_file(obj)


G3: dict[str, Any] = {
    "id": "file_019e3bb8c1387743bf4ef115aae5acb1",
    "type": "file",
    "filename": "notes.md",
    "mime_type": "text/markdown",
    "size_bytes": 1234,
    "downloadable": True,
    "scope": {"id": "sess_019e3bb8e6c47d18", "type": "session"},
    "metadata": {"project": "demo"},
    "created_at": "2026-05-18T15:33:44.61669Z",
}
scopes = st.none() | st.fixed_dictionaries(
    {"id": st.text(max_size=3) | st.integers(), "type": st.sampled_from(["session", ""])}
)


@given(
    changes=st.dictionaries(
        st.sampled_from([*G3, "file_id", "purpose", "status", "updated_at", "other"]),
        json_values | timestamps | scopes | st.sampled_from(["file", *(p.value for p in Purpose)]),
        max_size=3,
    ),
    drop=st.sets(st.sampled_from(list(G3)), max_size=2),
)
def test_property_fast_path_equals_structure_file_for_the_newer_shape(
    changes: dict[str, Any], drop: set[str]
) -> None:
    obj = {k: v for k, v in {**G3, **changes}.items() if k not in drop}
    same_as_structure_file(obj)


@given(
    purpose=st.none() | st.text(max_size=3) | st.sampled_from([p.value for p in Purpose]),
    drop=st.sets(st.sampled_from(["purpose", "status", "metadata", "updated_at"])),
)
def test_property_seed_objects_take_the_fast_path_with_a_derived_flag(
    purpose: str | None, drop: set[str]
) -> None:
    # a loop whose fallback refuses proves these objects never leave the fast path
    loop = _convert._compile_items(_convert._Unfrozen, _convert._refuse)
    obj = {k: v for k, v in {**SEED, "purpose": purpose}.items() if k not in drop}
    [fast] = loop([obj])
    assert fast == structure_file(obj)
    assert fast.downloadable is (obj.get("purpose") in ("tool_output", "skill_output"))
    assert fast.scope is None


def test_the_fast_path_is_on_and_hands_out_only_files() -> None:
    assert _convert._FAST  # this interpreter allows the class switch the fast path relies on
    built = structure_items([{**SEED, "file_id": f"file_{n:032x}"} for n in range(50)])
    assert {type(f) for f in built} == {File}
    assert not any(isinstance(f, _convert._Unfrozen) for f in built)
    # a fast-path File is as frozen, hashable and comparable as any other
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        del built[0].filename
    assert len(set(built)) == 50
    assert built[0] == structure_file({**SEED, "file_id": f"file_{0:032x}"})


def test_the_fast_path_turns_itself_off_when_the_class_switch_is_refused() -> None:
    class Elsewhere:  # the same fields, but not File's memory layout
        __slots__ = tuple(a.name for a in attrs.fields(File))

    assert not _convert._fast_path_works(Elsewhere)


def test_one_field_list_covers_every_attribute_of_file() -> None:
    declared = [field.name for field in _convert.FIELDS]
    assert sorted([*declared, "extra"]) == sorted(a.name for a in attrs.fields(File))
    keys = {key for field in _convert.FIELDS for key in field.keys}
    assert keys | set(_convert.TAGS) == _convert._KNOWN_KEYS
    assert _convert._FAST
    # every seed field is read and stored by the generated loop; the others get their value
    for field in _convert.FIELDS:
        stored = field.name if field.seed else ""
        assert f"file.{field.name} = {stored}" in _convert._ITEMS_SOURCE
    assert "file.downloadable = purpose in downloadable_purposes" in _convert._ITEMS_SOURCE
    assert "file.scope = None" in _convert._ITEMS_SOURCE


@pytest.mark.parametrize("name", [a.name for a in attrs.fields(File) if a.name != "extra"])
def test_a_field_list_that_misses_an_attribute_refuses_to_load(name: str) -> None:
    fields = tuple(field for field in _convert.FIELDS if field.name != name)
    with pytest.raises(TypeError, match=name):
        _convert._check_field_list(fields)


@pytest.mark.parametrize("name", [field.name for field in _convert.FIELDS if field.seed])
def test_the_self_check_runs_every_field_through_the_fast_loop(name: str) -> None:
    # Give one field fast statements that build a wrong value: the import-time check must see
    # it, so a field the loop mishandles can only turn the fast path off, never slip through.
    fields = tuple(
        attrs.evolve(f, kind=attrs.evolve(f.kind, fast="{out} = 'wrong'", converts=True))
        if f.name == name
        else f
        for f in _convert.FIELDS
    )
    assert _convert._fast_path_works(_convert._Unfrozen, _convert.FIELDS)
    assert not _convert._fast_path_works(_convert._Unfrozen, fields)


@pytest.mark.parametrize("wrong", ["True", "False", "not ({source} in downloadable_purposes)"])
def test_the_self_check_sees_a_wrong_derivation(wrong: str) -> None:
    fields = tuple(
        attrs.evolve(f, derive=attrs.evolve(f.derive, fast=wrong)) if f.derive is not None else f
        for f in _convert.FIELDS
    )
    assert not _convert._fast_path_works(_convert._Unfrozen, fields)


def test_unstructure_writes_the_seed_shape_back() -> None:
    [file] = structure_items([dict(SEED)])
    assert unstructure_file(file) == SEED
    assert list(unstructure_file(file)) == [
        "file_id",
        "filename",
        "size_bytes",
        "mime_type",
        "purpose",
        "status",
        "metadata",
        "created_at",
        "updated_at",
    ]


def test_field_lists_of_other_shapes_generate_working_code() -> None:
    # an optional field of a checked kind (how ``downloadable: bool | None`` would be declared)
    fields = tuple(
        attrs.evolve(f, kind=_convert.TEXT) if f.name == "status" else f for f in _convert.FIELDS
    )
    assert "if status is not None:" in _convert._items_source(fields)
    assert _convert._fast_path_works(_convert._Unfrozen, fields)
    # a field may only share the value of one declared before it
    backwards = tuple(
        attrs.evolve(f, shares="updated_at") if f.name == "created_at" else f
        for f in _convert.FIELDS
    )
    with pytest.raises(TypeError, match="not an earlier field"):
        _convert._check_field_list(backwards)
    # a derivation may only follow an earlier field, on an optional field without an empty value
    derived = next(f for f in _convert.FIELDS if f.derive is not None)
    assert derived.derive is not None
    for bad in (
        attrs.evolve(derived, derive=attrs.evolve(derived.derive, source="scope")),
        attrs.evolve(derived, required=True),
        attrs.evolve(derived, empty=bool),
    ):
        changed = tuple(bad if f.name == derived.name else f for f in _convert.FIELDS)
        with pytest.raises(TypeError, match="derive"):
            _convert._check_field_list(changed)
    # a seed field of a kind that the fast loop cannot read (no fast statements) is refused
    unread = tuple(
        attrs.evolve(f, kind=_convert.SCOPE) if f.name == "metadata" else f for f in _convert.FIELDS
    )
    with pytest.raises(TypeError, match="no fast statements"):
        _convert._check_field_list(unread)
    # a newer field of a checked kind given a seed key is read by the loop like any other
    flagged = tuple(
        attrs.evolve(f, seed=True) if f.derive is not None else f for f in _convert.FIELDS
    )
    assert "file.downloadable = downloadable" in _convert._items_source(flagged)
    assert _convert._fast_path_works(_convert._Unfrozen, flagged)
