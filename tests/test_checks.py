"""Every argument check: what passes, what is refused, and that the message names the argument."""

from __future__ import annotations

import sys
import unicodedata
from datetime import datetime
from typing import Any

import pytest

from qoder_files import Purpose
from qoder_files._checks import (
    check_base_url,
    check_chunk_size,
    check_concurrency,
    check_cursor,
    check_file_id,
    check_filename,
    check_headers,
    check_idempotency_key,
    check_limit,
    check_max_items,
    check_max_retries,
    check_metadata,
    check_purpose,
    check_purposes,
    check_rate_limit,
    check_scan_limit,
    check_timeout,
    check_token,
)
from qoder_files._wire import DEFAULT_BASE_URL

KEY = "4f9c2d2e-7f0e-4c43-9d43-2a1f8f3f5a11"


# --- listing ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, -1, 101, 1.5, "10", True])
def test_bad_limit(value: object) -> None:
    with pytest.raises(ValueError, match="limit"):
        check_limit(value)


def test_good_limits() -> None:
    assert [check_limit(v) for v in (None, 1, 100)] == [None, 1, 100]


@pytest.mark.parametrize("value", [0, -3, True, 2.0])
def test_bad_max_items(value: object) -> None:
    with pytest.raises(ValueError, match="max_items"):
        check_max_items(value)


@pytest.mark.parametrize("value", ["", "   ", 5, b"file_1"])
def test_bad_cursor(value: object) -> None:
    with pytest.raises(ValueError, match="after"):
        check_cursor(value, "after")


def test_purpose_check() -> None:
    assert check_purpose("tool_output") is Purpose.TOOL_OUTPUT
    assert check_purpose(None) is None
    with pytest.raises(ValueError, match=r"purpose must be one of .*'nonsense'"):
        check_purpose("nonsense")


@pytest.mark.parametrize("value", ["", "a/b", "../x", "x y", "a\tb", "..", ".", "a?b", 7, None])
def test_bad_file_id(value: object) -> None:
    with pytest.raises(ValueError, match="file_id"):
        check_file_id(value)


def test_good_file_id() -> None:
    assert check_file_id("file_019e3bb8c1387743bf4ef115aae5acb1").startswith("file_")


# --- one file -----------------------------------------------------------------------------------


def test_check_filename() -> None:
    assert check_filename(None) is None
    assert check_filename("notes.md") == "notes.md"
    for bad in ("", "   ", 3, "a\r\nX-Evil: 1", "a\x00b"):
        with pytest.raises(ValueError, match="filename"):
            check_filename(bad)


def test_check_metadata_returns_compact_json_text() -> None:
    assert check_metadata(None) is None
    text = check_metadata({"project": "démo", "n": [1, 2], "nested": {"ok": True}})
    assert text == '{"project":"démo","n":[1,2],"nested":{"ok":true}}'
    assert check_metadata({}) == "{}"


@pytest.mark.parametrize(
    "bad", [["a"], "x", 1, {"when": datetime(2026, 1, 1)}, {"n": float("nan")}, {"s": {1, 2}}]
)
def test_check_metadata_rejects_what_is_not_a_json_object(bad: Any) -> None:
    with pytest.raises(ValueError, match="metadata"):
        check_metadata(bad)


def test_check_idempotency_key() -> None:
    assert check_idempotency_key(None) is None
    assert check_idempotency_key(KEY) == KEY
    for bad in ("", "has space", "x" * 256, "caf\u00e9", "a\nb", 42):
        with pytest.raises(ValueError, match="idempotency_key"):
            check_idempotency_key(bad)


def test_check_chunk_size() -> None:
    assert check_chunk_size(1) == 1
    for bad in (0, -1, 1.5, True, "64"):
        with pytest.raises(ValueError, match="chunk_size"):
            check_chunk_size(bad)


# --- client settings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (DEFAULT_BASE_URL, "https://openapi.qoder.sh/api/v1/cloud"),
        ("https://api.qoder.com/api/v1/cloud/", "https://api.qoder.com/api/v1/cloud"),
        ("http://127.0.0.1:8080/api/v1/cloud", "http://127.0.0.1:8080/api/v1/cloud"),
        ("http://localhost:1/api/v1/cloud/", "http://localhost:1/api/v1/cloud"),
        ("http://[::1]:1/api/v1/cloud", "http://[::1]:1/api/v1/cloud"),
        ("http://127.0.0.2/api/v1/cloud", "http://127.0.0.2/api/v1/cloud"),
    ],
)
def test_base_url(given: str, expected: str) -> None:
    assert check_base_url(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        "",
        "   ",
        5,
        "ftp://x/y",
        "http://api.qoder.com/api/v1/cloud",
        "https://",
        "nohost",
        "http://127.attacker.example/api/v1/cloud",
        "http://127.0.0.1.nip.io/api/v1/cloud",
        "http://10.0.0.1/api/v1/cloud",
    ],
)
def test_bad_base_url(given: object) -> None:
    with pytest.raises(ValueError, match="base_url"):
        check_base_url(given)


# --- the shared primitives, through every check built on them ------------------------------------

INTEGER_CHECKS: list[tuple[Any, str, int, int | None]] = [
    (check_limit, "limit", 1, 100),
    (check_scan_limit, "limit", 1, 100),
    (check_max_items, "max_items", 1, None),
    (check_concurrency, "concurrency", 1, None),
    (check_chunk_size, "chunk_size", 1, None),
    (check_max_retries, "max_retries", 0, None),
]


@pytest.mark.parametrize(("check", "name", "low", "high"), INTEGER_CHECKS)
def test_integer_checks_share_one_rule(check: Any, name: str, low: int, high: int | None) -> None:
    assert check(low) == low
    if high is not None:
        assert check(high) == high
    bad: list[object] = [low - 1, True, False, float(low), str(low), None]
    if high is not None:
        bad.append(high + 1)
    if check in (check_limit, check_max_items):
        bad.remove(None)  # None means "not set" for these
        assert check(None) is None
    for value in bad:
        with pytest.raises(ValueError, match=f"^{name} must be an integer"):
            check(value)


@pytest.mark.parametrize(
    ("check", "name"),
    [(check_timeout, "timeout"), (check_rate_limit, "rate_limit")],
)
def test_number_checks_share_one_rule(check: Any, name: str) -> None:
    assert check(0.5) == 0.5
    assert check(3) == 3
    for value in (0, -1, True, "5", None if check is check_timeout else "x"):
        with pytest.raises(ValueError, match=f"^{name} must be a positive number"):
            check(value)
    assert check_rate_limit(None) is None


def test_purposes_check() -> None:
    assert check_purposes(None) == tuple(Purpose)
    assert check_purposes(["tool_output", Purpose.SKILL_OUTPUT]) == (
        Purpose.TOOL_OUTPUT,
        Purpose.SKILL_OUTPUT,
    )
    for bad, message in [
        ("tool_output", "a list"),
        (3, "a list"),
        ([], "at least one"),
        ([None], "not contain None"),
        (["tool_output", "tool_output"], "repeat"),
        (["homework"], "one of"),
    ]:
        with pytest.raises(ValueError, match=f"^purposes must .*{message}"):
            check_purposes(bad)


# --- ids ----------------------------------------------------------------------------------------


def test_the_id_rule_leaves_out_every_space_control_and_format_character() -> None:
    # ``_identifier`` relies on ``str.isprintable()``: check, over every code point, that what it
    # lets through (bar the ASCII space, refused separately) is neither whitespace, nor a
    # control, format, surrogate or separator character.
    refused = {"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"}
    for point in range(sys.maxunicode + 1):
        char = chr(point)
        if char.isprintable() and char != " ":
            assert not char.isspace(), hex(point)
            assert unicodedata.category(char) not in refused, hex(point)


@pytest.mark.parametrize(
    "bad",
    [
        "file_abc\udcff",
        "\udcff",
        "file_\x00",
        "\x1b[0m",
        "a\x7f",
        "a\x85",
        "a\x9b",
        "file_\u202eabc",
        "\u2066file\u2069",
        "a\u200bb",
        "\ufefffile",
        "a\u00a0b",
        "a\u3000b",
        "a\u2028b",
        "a b",
        "a%2Fb",
        "a\\b",
        "a#b",
    ],
)
def test_ids_that_the_url_layer_would_rewrite_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match=r"^file_id must hold only printable"):
        check_file_id(bad)
    with pytest.raises(ValueError, match=r"^before must hold only printable"):
        check_cursor(bad, "before")


def test_ids_may_hold_any_other_printable_character() -> None:
    for good in ("file_019e3bb8c1387743bf4ef115aae5acb1", "a.b", "...", "ünïcode-名前", "a;b=c"):
        assert check_file_id(good) == good
        assert check_cursor(good, "after") == good
    assert check_cursor(None, "after") is None


def test_good_client_settings_come_back_ready_to_use() -> None:
    assert check_token("  pt-0123456789abcdef\n") == "pt-0123456789abcdef"
    given = {"X-Trace": "a\tb", "x-custom_tag.v2": "é", "Accept-Language": ""}
    checked = check_headers(given)
    assert checked == given
    assert checked is not given  # a copy: later changes by the caller do not reach the client
    assert check_headers(None) == {}
    assert check_timeout(1e-3) == 1e-3
