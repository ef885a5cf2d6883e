"""The one cattrs converter that turns wire JSON into models and back, plus the JSON codec.

Hook choices, in one place (the cattrs ``preconf`` habit):

- ``File`` is structured by a hand-tuned hook, because decoding items is where a listing spends
  its CPU. It reads ``file_id`` or, from newer servers, ``id``; parses each timestamp once with
  ``datetime.fromisoformat`` (``Z`` and any number of fractional digits are accepted; a naive
  time is taken as UTC; an ``updated_at`` equal to ``created_at`` reuses the parsed value);
  keeps an unknown ``purpose`` as a plain string; and puts every field it does not model into
  ``File.extra`` instead of dropping it.
- ``File`` is unstructured to the seed (G1) wire shape: ``file_id``, RFC 3339 UTC times with
  ``Z``, ``None`` fields left out, ``extra`` merged back at the top level.
- ``Page[File]`` and ``DownloadLink`` have hooks of their own for the same reasons.
- JSON is decoded by orjson when the ``speedups`` extra is installed, else by the stdlib.

Malformed input raises ``ValueError``/``TypeError``/``KeyError`` here; ``_wire`` turns those
into ``InvalidResponseError``. This module is pure: no I/O, no asyncio, no aiohttp.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast, get_origin

import attrs
import cattrs
from cattrs.preconf.json import make_converter

from .models import DownloadLink, File, Page, Purpose

__all__ = [
    "converter",
    "dumps",
    "format_timestamp",
    "loads",
    "parse_timestamp",
    "structure_download_link",
    "structure_file",
    "structure_items",
    "structure_page",
    "unstructure_file",
]

try:  # pragma: no cover - exercised by whichever of the two is installed
    import orjson

    loads: Callable[[bytes | str], Any] = orjson.loads

    def dumps(obj: Any) -> str:
        """Encode ``obj`` as compact JSON text."""
        return orjson.dumps(obj).decode()

except ImportError:  # pragma: no cover
    loads = json.loads

    def dumps(obj: Any) -> str:
        """Encode ``obj`` as compact JSON text."""
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


_PURPOSES: dict[str, Purpose] = {p.value: p for p in Purpose}
_KNOWN_KEYS = frozenset(
    {
        "file_id",
        "id",
        "filename",
        "size_bytes",
        "mime_type",
        "purpose",
        "status",
        "metadata",
        "created_at",
        "updated_at",
    }
)
_fromisoformat = datetime.fromisoformat


def parse_timestamp(value: Any, field: str = "timestamp") -> datetime:
    """Parse an RFC 3339 timestamp into an aware ``datetime`` (naive input is taken as UTC)."""
    if type(value) is not str:
        raise TypeError(f"{field} must be a string, got {type(value).__name__}")
    try:
        parsed = _fromisoformat(value)
    except ValueError:
        raise ValueError(f"{field} is not an RFC 3339 timestamp: {value!r}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def format_timestamp(value: datetime) -> str:
    """Format an aware ``datetime`` the way the API does: UTC with a ``Z``."""
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _require(obj: dict[str, Any], key: str, kind: type) -> Any:
    try:
        value = obj[key]
    except KeyError:
        raise KeyError(f"file object has no {key!r}") from None
    if type(value) is not kind:
        raise TypeError(f"file field {key!r} must be {kind.__name__}, got {type(value).__name__}")
    return value


def structure_file(obj: Any, _: Any = File) -> File:
    """Build a ``File`` from one wire object (either generation)."""
    if type(obj) is not dict:
        raise TypeError(f"a file must be a JSON object, got {type(obj).__name__}")
    file_id = obj.get("file_id")
    if file_id is None:
        file_id = obj.get("id")
    if type(file_id) is not str or not file_id:
        raise ValueError("file object has no string 'file_id' or 'id'")
    created_raw = obj.get("created_at")
    created_at = parse_timestamp(created_raw, "created_at")
    updated_raw = obj.get("updated_at")
    if updated_raw is None:
        updated_at = None
    elif updated_raw == created_raw:
        updated_at = created_at
    else:
        updated_at = parse_timestamp(updated_raw, "updated_at")
    purpose = obj.get("purpose")
    if purpose is not None:
        purpose = _PURPOSES.get(purpose, purpose)
    metadata = obj.get("metadata")
    if metadata is None:
        metadata = {}
    elif type(metadata) is not dict:
        raise TypeError(f"file field 'metadata' must be an object, got {type(metadata).__name__}")
    if obj.keys() <= _KNOWN_KEYS:
        extra: dict[str, Any] = {}
    else:
        extra = {k: v for k, v in obj.items() if k not in _KNOWN_KEYS}
    return File(
        file_id=file_id,
        filename=_require(obj, "filename", str),
        size_bytes=_require(obj, "size_bytes", int),
        mime_type=_require(obj, "mime_type", str),
        purpose=purpose,
        status=obj.get("status"),
        metadata=metadata,
        created_at=created_at,
        updated_at=updated_at,
        extra=extra,
    )


# --- the fast path for listing pages -----------------------------------------------------------
#
# Decoding items is where a listing spends its CPU, so a page's items skip ``structure_file``
# when they have the seed shape: exactly the nine seed keys (or eight, without ``updated_at``),
# each of the expected type. Such an object is read with direct lookups, and its ``File`` is
# built without ``__init__``: an instance of ``_Unfrozen`` (a subclass of ``File`` that adds
# nothing but the ordinary ``__setattr__``) has its slots stored as plain attributes, which the
# interpreter does at the cost of a local variable store, and is then turned into a ``File`` by
# assigning ``__class__`` (allowed because the two classes have the same memory layout). That
# costs a fifth of attrs' keyword ``__init__``, which goes through ``object.__setattr__`` once
# per field. Anything else (the newer shape, missing, extra or mistyped fields, a bad timestamp)
# goes through ``structure_file``, which builds the same ``File`` or raises the same error.
# Skipping ``__init__`` is correct only while ``File`` has nothing for it to run besides storing
# the values, and the class switch only while CPython allows it: the import-time check below
# builds a ``File`` both ways and turns the fast path off unless they match.

_FIELD_ORDER = (
    "file_id",
    "filename",
    "size_bytes",
    "mime_type",
    "purpose",
    "status",
    "metadata",
    "created_at",
    "updated_at",
    "extra",
)
_SEED_KEYS = len(_FIELD_ORDER) - 1  # every field is a wire key, except ``extra``


class _Unfrozen(File):
    """``File`` with plain attribute stores: a ``File`` under construction, never handed out."""

    __slots__ = ()
    __setattr__ = object.__setattr__
    __delattr__ = object.__delattr__


def _build_fast(values: dict[str, Any]) -> File:
    """Build a ``File`` the way ``structure_items`` does (used by the import-time check)."""
    file: Any = object.__new__(_Unfrozen)
    for name in _FIELD_ORDER:
        setattr(file, name, values[name])
    file.__class__ = File
    return cast(File, file)


def _fast_path_works() -> bool:
    fields = attrs.fields(File)
    if not (
        sorted(f.name for f in fields) == sorted(_FIELD_ORDER)
        and all(f.validator is None and f.converter is None for f in fields)
        and not hasattr(File, "__attrs_pre_init__")
        and not hasattr(File, "__attrs_post_init__")
        and "__slots__" in File.__dict__
    ):
        return False
    values: dict[str, Any] = {
        "file_id": "file_0",
        "filename": "a.txt",
        "size_bytes": 1,
        "mime_type": "text/plain",
        "purpose": Purpose.TOOL_OUTPUT,
        "status": "ready",
        "metadata": {"k": "v"},
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        "updated_at": None,
        "extra": {},
    }
    try:
        built = _build_fast(values)
    except TypeError:  # the class switch is refused: the layouts differ
        return False
    return type(built) is File and attrs.astuple(built) == attrs.astuple(File(**values))


_FAST = _fast_path_works()


def structure_items(data: list[Any]) -> list[File]:
    """Build the ``File`` of every wire object of a page, exactly as ``structure_file`` would."""
    if not _FAST:  # pragma: no cover - guards future changes to File
        return [structure_file(item) for item in data]
    new = object.__new__
    unfrozen = _Unfrozen
    file_class = File
    fromisoformat = _fromisoformat
    purposes = _PURPOSES
    utc = UTC
    seed_keys = _SEED_KEYS
    files: list[File] = []
    append = files.append
    file: Any
    for obj in data:
        if type(obj) is dict and seed_keys - 1 <= (size := len(obj)) <= seed_keys:
            try:
                file_id = obj["file_id"]
                filename = obj["filename"]
                size_bytes = obj["size_bytes"]
                mime_type = obj["mime_type"]
                purpose = obj["purpose"]
                status = obj["status"]
                metadata = obj["metadata"]
                created_raw = obj["created_at"]
                # eight keys found and eight in all: the ninth, ``updated_at``, is absent
                updated_raw = obj["updated_at"] if size == seed_keys else None
                if (
                    type(file_id) is str
                    and file_id
                    and type(filename) is str
                    and type(size_bytes) is int
                    and type(mime_type) is str
                    and type(metadata) is dict
                    and type(created_raw) is str
                ):
                    created_at = fromisoformat(created_raw)
                    if created_at.tzinfo is None:
                        created_at = created_at.replace(tzinfo=utc)
                    if updated_raw is None:
                        updated_at = None
                    elif updated_raw == created_raw:
                        updated_at = created_at
                    elif type(updated_raw) is str:
                        updated_at = fromisoformat(updated_raw)
                        if updated_at.tzinfo is None:
                            updated_at = updated_at.replace(tzinfo=utc)
                    else:
                        raise TypeError  # structure_file words the message
                    if purpose is not None:
                        purpose = purposes.get(purpose, purpose)
                    file = new(unfrozen)
                    file.file_id = file_id
                    file.filename = filename
                    file.size_bytes = size_bytes
                    file.mime_type = mime_type
                    file.purpose = purpose
                    file.status = status
                    file.metadata = metadata
                    file.created_at = created_at
                    file.updated_at = updated_at
                    file.extra = {}
                    file.__class__ = file_class
                    append(file)
                    continue
            except (KeyError, TypeError, ValueError):
                pass  # not the plain seed shape: structure_file decides, with its messages
        append(structure_file(obj))
    return files


def unstructure_file(file: File) -> dict[str, Any]:
    """Turn a ``File`` back into its seed-generation wire object."""
    out: dict[str, Any] = {
        "file_id": file.file_id,
        "filename": file.filename,
        "size_bytes": file.size_bytes,
        "mime_type": file.mime_type,
    }
    if file.purpose is not None:
        out["purpose"] = str(file.purpose)
    if file.status is not None:
        out["status"] = file.status
    out["metadata"] = dict(file.metadata)
    out["created_at"] = format_timestamp(file.created_at)
    if file.updated_at is not None:
        out["updated_at"] = format_timestamp(file.updated_at)
    for key, value in file.extra.items():
        out.setdefault(key, value)
    return out


def _optional_str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is not None and type(value) is not str:
        raise TypeError(f"envelope field {key!r} must be a string or null")
    return value


def structure_page(obj: Any, request_id: str | None = None) -> Page[File]:
    """Build a ``Page[File]`` from a list envelope ``{data, first_id, last_id, has_more}``."""
    if type(obj) is not dict:
        raise TypeError(f"a list response must be a JSON object, got {type(obj).__name__}")
    data = obj.get("data")
    if type(data) is not list:
        raise TypeError("a list response must have a 'data' array")
    has_more = obj.get("has_more", False)
    if type(has_more) is not bool:
        raise TypeError("envelope field 'has_more' must be a boolean")
    return Page(
        data=structure_items(data),
        first_id=_optional_str(obj, "first_id"),
        last_id=_optional_str(obj, "last_id"),
        has_more=has_more,
        next_page=_optional_str(obj, "next_page"),
        request_id=request_id,
    )


def structure_download_link(obj: Any, _: Any = DownloadLink) -> DownloadLink:
    """Build a ``DownloadLink`` from ``{url, expires_at}``."""
    if type(obj) is not dict:
        raise TypeError("a download link must be a JSON object")
    url = obj.get("url")
    if type(url) is not str or not url:
        raise ValueError("download link has no 'url'")
    expires = obj.get("expires_at")
    return DownloadLink(
        url=url, expires_at=None if expires is None else parse_timestamp(expires, "expires_at")
    )


def _is_page(cls: Any) -> bool:
    return cls is Page or get_origin(cls) is Page


def _make_converter() -> cattrs.Converter:
    conv = make_converter()
    conv.register_structure_hook(File, structure_file)
    conv.register_unstructure_hook(File, unstructure_file)
    conv.register_structure_hook(DownloadLink, structure_download_link)
    conv.register_unstructure_hook(
        DownloadLink,
        lambda link: {
            "url": link.url,
            "expires_at": None if link.expires_at is None else format_timestamp(link.expires_at),
        },
    )
    conv.register_structure_hook_func(_is_page, lambda obj, _: structure_page(obj))
    conv.register_unstructure_hook_func(
        _is_page,
        lambda page: {
            "data": [conv.unstructure(item) for item in page.data],
            "first_id": page.first_id,
            "last_id": page.last_id,
            "has_more": page.has_more,
            **({"next_page": page.next_page} if page.next_page is not None else {}),
        },
    )
    return conv


converter: cattrs.Converter = _make_converter()
"""The SDK's converter: ``converter.unstructure(file)`` gives the wire JSON object back."""
