"""The one cattrs converter that turns wire JSON into models and back, plus the JSON codec.

Hook choices, in one place (the cattrs ``preconf`` habit):

- ``File`` crosses the wire as ``FIELDS`` says, the one list of its wire fields; the
  structuring hook, the fast loop of ``structure_items``, ``unstructure_file`` and the
  import-time checks all derive from it. Reading accepts ``file_id`` or, from newer servers,
  ``id``; parses each timestamp once with ``datetime.fromisoformat`` (``Z`` and any number of
  fractional digits are accepted; a naive time is taken as UTC; an ``updated_at`` equal to
  ``created_at`` reuses the parsed value); keeps an unknown ``purpose`` as a plain string; and
  puts every field it does not model into ``File.extra`` instead of dropping it.
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
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast, get_origin

import attrs
import cattrs
from cattrs.preconf.json import make_converter

from .models import DownloadLink, File, Page, Purpose

__all__ = [
    "FIELDS",
    "Field",
    "Kind",
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


# --- the field list ----------------------------------------------------------------------------
#
# ``FIELDS`` is the one place that says how each ``File`` attribute crosses the wire: its keys,
# what its value must be, and what it is when a file object leaves it out or sends null.
# Everything else is derived from it: ``structure_file`` and the fast loop of
# ``structure_items`` are generated from it at import time (as plain Python text, kept in
# ``_FILE_SOURCE`` and ``_ITEMS_SOURCE`` for reading), ``unstructure_file`` walks it,
# ``_KNOWN_KEYS`` lists its keys, and the import-time checks compare it with
# ``attrs.fields(File)``. Generated code, rather than loops over the list, because these
# functions decode every item of every page: a loop over fields would double their cost.
#
# Adding an attribute to ``File`` means one more ``Field`` here, and a new ``Kind`` only when
# its values are read in a way no kind covers yet. For example, ``downloadable: bool | None``
# would be ``Field("downloadable", Kind(exact=bool, write=_same, sample=True))``, and a nested
# ``scope`` a ``Kind`` whose ``read`` and ``fast`` call its own parser. A ``File`` attribute
# without a ``Field`` stops the import, so the fast path can never be lost silently.


def _bad_type(name: str, expected: str, value: Any) -> TypeError:
    return TypeError(f"file field {name!r} must be {expected}, got {type(value).__name__}")


def _read_id(value: Any, name: str) -> Any:
    if type(value) is not str or not value:
        raise ValueError(f"file field {name!r} must be a non-empty string")
    return value


@attrs.frozen
class Kind:
    """How values of one sort are read from and written to the wire.

    Attributes:
        exact: The type a wire value must have exactly (``bool`` is not an ``int`` here);
            checked inline by both paths, before ``read``/``fast``.
        read: ``structure_file``'s reader: takes a value that is not null and the attribute
            name, returns the attribute value or raises ``TypeError``/``ValueError`` with a
            message naming the field; ``None`` keeps any value as sent.
        fast: The same reading as statements of the fast loop, with ``{raw}`` for the wire
            value and ``{out}`` for the attribute value. They may only raise (any
            ``TypeError``/``ValueError``) where ``read`` raises: the loop then hands the
            object to ``structure_file``, which words the error.
        write: Attribute value to wire value, for ``unstructure_file``.
        sample: A valid attribute value, for the import-time check.
        converts: Whether ``fast`` assigns ``{out}`` (else the wire value is kept as is).
    """

    write: Callable[[Any], Any]
    sample: Any
    exact: type | None = None
    read: Callable[[Any, str], Any] | None = None
    fast: str = ""
    converts: bool = False

    @property
    def described(self) -> str:
        """How messages name ``exact``."""
        return "an object" if self.exact is dict else getattr(self.exact, "__name__", "")


def _same(value: Any) -> Any:
    return value


ID = Kind(
    read=_read_id,
    fast="if type({raw}) is not str or not {raw}:\n    raise TypeError",
    write=_same,
    sample="file_0",
)
TEXT = Kind(exact=str, write=_same, sample="a.txt")
INTEGER = Kind(exact=int, write=_same, sample=1)
ANY = Kind(write=_same, sample="ready")
PURPOSE = Kind(
    # an unknown purpose stays a plain string; an unhashable one raises TypeError in both paths
    read=lambda value, _: _PURPOSES.get(value, value),
    fast="{out} = purposes.get({raw}, {raw})",
    write=str,
    sample=Purpose.TOOL_OUTPUT,
    converts=True,
)
OBJECT = Kind(exact=dict, write=dict, sample={"k": "v"})
TIMESTAMP = Kind(
    read=parse_timestamp,
    fast=(
        "{out} = fromisoformat({raw})\n"
        "if {out}.tzinfo is None:\n"
        "    {out} = {out}.replace(tzinfo=utc)"
    ),
    write=format_timestamp,
    sample=datetime(2026, 1, 1, tzinfo=UTC),
    converts=True,
)


@attrs.frozen
class Field:
    """One ``File`` attribute on the wire.

    Attributes:
        name: The attribute of ``File``.
        kind: How its value is read and written.
        keys: Its wire keys: the seed (G1) key first, which is also the key written back, then
            the keys other generations use instead. Defaults to ``(name,)``.
        required: Whether a file object without it (or with null) is refused; otherwise the
            attribute gets ``empty``.
        empty: Makes the value a missing or null optional field gets, anew for each file
            (``dict`` for an empty object); ``None`` for the value ``None``.
        shares: The name of an earlier field of the same kind whose value is reused when the
            wire text is equal (``updated_at`` usually repeats ``created_at``: parsed once).
    """

    name: str
    kind: Kind
    keys: tuple[str, ...] = attrs.field()
    required: bool = False
    empty: Callable[[], Any] | None = None
    shares: str | None = None

    @keys.default
    def _name_as_key(self) -> tuple[str, ...]:
        return (self.name,)


FIELDS: tuple[Field, ...] = (
    Field("file_id", ID, keys=("file_id", "id"), required=True),
    Field("filename", TEXT, required=True),
    Field("size_bytes", INTEGER, required=True),
    Field("mime_type", TEXT, required=True),
    Field("purpose", PURPOSE),
    Field("status", ANY),
    Field("metadata", OBJECT, empty=dict),
    Field("created_at", TIMESTAMP, required=True),
    Field("updated_at", TIMESTAMP, shares="created_at"),
)
"""Every wire field of ``File``, in the order the seed generation writes them."""

# The one ``File`` attribute that is not a wire field: it holds the fields ``File`` does not model.
_EXTRA = "extra"
_KNOWN_KEYS = frozenset(key for field in FIELDS for key in field.keys)


def _check_field_list(fields: tuple[Field, ...] = FIELDS) -> None:
    """Refuse to import when ``FIELDS`` and ``File`` disagree: never a silently slower path."""
    declared = [field.name for field in fields]
    attributes = [f.name for f in attrs.fields(File)]
    if sorted([*declared, _EXTRA]) != sorted(attributes) or len(set(declared)) != len(declared):
        raise TypeError(
            f"qoder_files._convert.FIELDS {declared} does not match File's attributes "
            f"{attributes} (every attribute but {_EXTRA!r} needs exactly one Field)"
        )
    for field in fields:
        if field.shares is not None and field.shares not in declared[: declared.index(field.name)]:
            raise TypeError(f"field {field.name!r} shares {field.shares!r}, not an earlier field")


_check_field_list()


def _indent(text: str, level: int) -> list[str]:
    return [" " * (4 * level) + line for line in text.splitlines()]


def _file_source(fields: tuple[Field, ...] = FIELDS) -> str:
    """The text of ``structure_file`` for ``fields``: each field read in turn, then ``File(...)``.

    Generated rather than a loop over ``fields`` because it also decodes every item of the
    newer generation's pages, where walking the field list would cost as much as reading.
    """
    body = ["get = obj.get"]
    for f in fields:
        raw = f"{f.name}_raw"
        body.append(f"{raw} = get({f.keys[0]!r})")
        for alias in f.keys[1:]:
            body.append(f"if {raw} is None:\n    {raw} = get({alias!r})")
        if f.required:
            missing = " or ".join(map(repr, f.keys)).replace('"', "'")
            body.append(f'if {raw} is None:\n    raise KeyError("file object has no {missing}")')
        else:
            empty = "None" if f.empty is None else f"empty_{f.name}()"
            body.append(f"if {raw} is None:\n    {f.name} = {empty}")
        if f.shares is not None:
            body.append(f"elif {raw} == {f.shares}_raw:\n    {f.name} = {f.shares}")
        if f.kind.exact is not None:
            described = f"{f.name!r}, {f.kind.described!r}, {raw}"
            body.append(f"elif type({raw}) is not type_{f.name}:\n    raise bad_type({described})")
        read = raw if f.kind.read is None else f"read_{f.name}({raw}, {f.name!r})"
        body.append(f"else:\n    {f.name} = {read}")
    body += [
        "if obj.keys() <= known_keys:",
        f"    {_EXTRA} = {{}}",
        "else:",
        f"    {_EXTRA} = {{k: v for k, v in obj.items() if k not in known_keys}}",
        "return file_class(",
        *(f"    {f.name}={f.name}," for f in fields),
        f"    {_EXTRA}={_EXTRA},",
        ")",
    ]
    lines = [
        "def structure_file(obj, _=None):",
        '    """Build a ``File`` from one wire object (either generation)."""',
        "    if type(obj) is not dict:",
        '        raise TypeError(f"a file must be a JSON object, got {type(obj).__name__}")',
        *_indent("\n".join(body), 1),
    ]
    return "\n".join(lines) + "\n"


class _StructureFile(Protocol):
    """The signature of the generated ``structure_file`` (a cattrs structure hook)."""

    def __call__(self, obj: Any, _: Any = ..., /) -> File: ...


def _compile_file(fields: tuple[Field, ...] = FIELDS) -> _StructureFile:
    namespace: dict[str, Any] = {
        "file_class": File,
        "known_keys": frozenset(key for field in fields for key in field.keys),
        "bad_type": _bad_type,
        **{f"type_{f.name}": f.kind.exact for f in fields if f.kind.exact is not None},
        **{f"read_{f.name}": f.kind.read for f in fields if f.kind.read is not None},
        **{f"empty_{f.name}": f.empty for f in fields if f.empty is not None},
    }
    source = _FILE_SOURCE if fields is FIELDS else _file_source(fields)
    exec(compile(source, "<qoder_files._convert structure_file>", "exec"), namespace)
    return cast(_StructureFile, namespace["structure_file"])


_FILE_SOURCE = _file_source()
structure_file = _compile_file()


def unstructure_file(file: File) -> dict[str, Any]:
    """Turn a ``File`` back into its seed-generation wire object (``None`` fields left out)."""
    out: dict[str, Any] = {}
    for field in FIELDS:
        value = getattr(file, field.name)
        if value is not None:
            out[field.keys[0]] = field.kind.write(value)
    for key, value in file.extra.items():
        out.setdefault(key, value)
    return out


# --- the fast path for listing pages -----------------------------------------------------------
#
# Decoding items is where a listing spends its CPU, so ``structure_items`` runs a loop generated
# from ``FIELDS`` at import time (``_ITEMS_SOURCE`` holds its text). It takes objects in the seed
# shape: the first key of each field and no other key, each optional one possibly absent. Such
# an object is read with direct lookups and the kinds' ``fast`` statements, and its ``File`` is
# built without ``__init__``: an instance of ``_Unfrozen`` (a subclass of ``File`` that adds
# nothing but the ordinary ``__setattr__``) has its slots stored as plain attributes, which the
# interpreter does at the cost of a local variable store, and is then turned into a ``File`` by
# assigning ``__class__`` (allowed because the two classes have the same memory layout). That
# costs a fifth of attrs' keyword ``__init__``, which goes through ``object.__setattr__`` once
# per field. Anything else (the newer shape, unknown or mistyped fields, a bad timestamp) goes
# through ``structure_file``, which builds the same ``File`` or raises the same error.
# Skipping ``__init__`` is correct only while ``File`` has nothing for it to run besides storing
# the values, and the class switch only while CPython allows it: the import-time check runs the
# generated loop on a sample of every field and turns the fast path off unless it builds the
# same ``File`` as ``File(...)``.


class _Unfrozen(File):
    """``File`` with plain attribute stores: a ``File`` under construction, never handed out."""

    __slots__ = ()
    __setattr__ = object.__setattr__
    __delattr__ = object.__delattr__


def _items_source(fields: tuple[Field, ...] = FIELDS) -> str:
    """The text of the fast loop for ``fields`` (see the comment above)."""
    raw = {f.name: f"{f.name}_raw" if f.kind.converts else f.name for f in fields}
    optional = [f for f in fields if not f.required]
    every_key = [f"{raw[f.name]} = obj[{f.keys[0]!r}]" for f in fields]
    some_keys = [
        f"{raw[f.name]} = obj[{f.keys[0]!r}]"
        if f.required
        else f"{raw[f.name]} = get({f.keys[0]!r}, missing)"
        for f in fields
    ]
    present = " + ".join(f"({raw[f.name]} is not missing)" for f in optional) or "0"
    some_keys += [
        "# a key not counted here is one this loop does not model: structure_file keeps it",
        f"if size != {len(fields) - len(optional)} + {present}:",
        "    raise KeyError",
        *(f"if {raw[f.name]} is missing:\n    {raw[f.name]} = None" for f in optional),
    ]
    reads: list[str] = []
    for f in fields:
        names = {"raw": raw[f.name], "out": f.name}
        fast = f.kind.fast.format(**names)
        if f.kind.exact is not None:
            check = f"if type({names['raw']}) is not type_{f.name}:\n    raise TypeError"
            fast = f"{check}\n{fast}" if fast else check
        if f.shares is not None:
            shared = {"raw": raw[f.shares], "out": f.shares}
            fast = (
                f"if {names['raw']} == {shared['raw']}:\n    {f.name} = {shared['out']}\n"
                f"else:\n" + "\n".join(_indent(fast, 1))
            )
        if not f.required and fast:
            if f.empty is None and not f.kind.converts:
                fast = f"if {names['raw']} is not None:\n" + "\n".join(_indent(fast, 1))
            else:
                empty = "None" if f.empty is None else f"empty_{f.name}()"
                fast = f"if {names['raw']} is None:\n    {f.name} = {empty}\nelse:\n" + "\n".join(
                    _indent(fast, 1)
                )
        reads += fast.splitlines() if fast else [f"# {f.name}: any value, kept as sent"]
    stores = [f"file.{f.name} = {f.name}" for f in fields]
    lines = [
        "def structure_items(data):",
        "    files = []",
        "    append = files.append",
        "    for obj in data:",
        "        if type(obj) is dict:",
        "            size = len(obj)",
        "            try:",
        f"                if size == {len(fields)}:",
        *_indent("\n".join(every_key), 5),
        "                else:",
        "                    get = obj.get",
        *_indent("\n".join(some_keys), 5),
        *_indent("\n".join(reads), 4),
        "                file = new(unfrozen)",
        *_indent("\n".join(stores), 4),
        f"                file.{_EXTRA} = {{}}",
        "                file.__class__ = file_class",
        "                append(file)",
        "                continue",
        "            except (KeyError, TypeError, ValueError):",
        "                pass  # not the plain seed shape: fallback decides, with its messages",
        "        append(fallback(obj))",
        "    return files",
    ]
    return "\n".join(lines) + "\n"


_ITEMS_SOURCE = _items_source()


def _compile_items(
    unfrozen: type, fallback: Callable[[Any], File], fields: tuple[Field, ...] = FIELDS
) -> Callable[[list[Any]], list[File]]:
    """Compile the fast loop of ``fields`` with the names it uses bound as its globals."""
    source = _ITEMS_SOURCE if fields is FIELDS else _items_source(fields)
    namespace: dict[str, Any] = {
        "new": object.__new__,
        "unfrozen": unfrozen,
        "file_class": File,
        "fallback": fallback,
        "fromisoformat": _fromisoformat,
        "purposes": _PURPOSES,
        "utc": UTC,
        "missing": object(),
        **{f"empty_{f.name}": f.empty for f in fields if f.empty is not None},
        **{f"type_{f.name}": f.kind.exact for f in fields if f.kind.exact is not None},
    }
    exec(compile(source, "<qoder_files._convert fast loop>", "exec"), namespace)
    return cast(Callable[[list[Any]], list[File]], namespace["structure_items"])


def _refuse(obj: Any) -> File:
    raise LookupError("the fast loop handed a sample object to its fallback")


def _fast_path_works(unfrozen: type = _Unfrozen, fields: tuple[Field, ...] = FIELDS) -> bool:
    """Whether the loop generated from ``fields`` builds, with ``unfrozen``, exact ``File`` values.

    It runs on a sample with every field set, then on one per optional field left out and one
    per timestamp field set apart, so each field's fast statements run at least once.
    """
    if not (
        all(a.validator is None and a.converter is None for a in attrs.fields(File))
        and not hasattr(File, "__attrs_pre_init__")
        and not hasattr(File, "__attrs_post_init__")
        and "__slots__" in File.__dict__
    ):
        return False
    loop = _compile_items(unfrozen, _refuse, fields)
    values = {field.name: field.kind.sample for field in fields}
    samples = [File(**values, extra={})]
    for field in fields:  # every field once with its empty value, once with a later time
        if not field.required:
            empty = None if field.empty is None else field.empty()
            samples.append(File(**{**values, field.name: empty}, extra={}))
        if isinstance(field.kind.sample, datetime):
            later = field.kind.sample + timedelta(seconds=1)
            samples.append(File(**{**values, field.name: later}, extra={}))
    wire = [unstructure_file(sample) for sample in samples]
    try:
        built = loop(wire)
    except (LookupError, TypeError):  # a sample took the fallback, or the switch was refused
        return False
    return all(
        type(b) is File and attrs.astuple(b) == attrs.astuple(s)
        for b, s in zip(built, samples, strict=True)
    )


_FAST = _fast_path_works()
_structure_items = _compile_items(_Unfrozen, structure_file)


def structure_items(data: list[Any]) -> list[File]:
    """Build the ``File`` of every wire object of a page, exactly as ``structure_file`` would."""
    if not _FAST:  # pragma: no cover - guards future changes to File or the interpreter
        return [structure_file(item) for item in data]
    return _structure_items(data)


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
