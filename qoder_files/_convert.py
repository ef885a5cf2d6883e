"""The one cattrs converter that turns wire JSON into models and back, plus the JSON codec.

Hook choices, in one place (the cattrs ``preconf`` habit):

- ``File`` crosses the wire as ``FIELDS`` says, the one list of its wire fields; the
  structuring hook, the fast loop of ``structure_items``, ``unstructure_file`` and the
  import-time checks all derive from it. Reading accepts ``file_id`` or, from newer servers,
  ``id``; parses each timestamp once with ``datetime.fromisoformat`` (``Z`` and any number of
  fractional digits are accepted; a naive time is taken as UTC; an ``updated_at`` equal to
  ``created_at`` reuses the parsed value); keeps an unknown ``purpose`` as a plain string;
  takes ``downloadable`` as sent, else derives it from ``purpose``; reads ``scope`` into a
  ``Scope`` (null is ``None``); consumes the newer shape's ``type`` when it is ``"file"`` and
  keeps any other value in ``File.extra``; and puts every field it does not model into
  ``File.extra`` instead of dropping it.
- ``File`` is unstructured to the seed (G1) wire shape: ``file_id``, RFC 3339 UTC times with
  ``Z``, ``None`` fields left out, ``extra`` merged back at the top level. A field the seed
  generation does not send is written only when it says more than the seed fields do:
  ``downloadable`` when it differs from what ``purpose`` implies (no purpose implies
  ``False``), ``scope`` when it is not ``None``. So a seed object comes back exactly, a newer
  one comes back in the seed shape with its ``downloadable``/``scope`` facts, and structuring
  the output always gives the same ``File``.
- ``Page[File]`` and ``DownloadLink`` have hooks of their own for the same reasons.
- JSON is decoded by orjson when the ``speedups`` extra is installed, else by the stdlib.

Malformed input raises ``ValueError``/``TypeError``/``KeyError`` here; ``_wire`` turns those
into ``InvalidResponseError``. This module is pure: no I/O, no asyncio, no aiohttp.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast, get_origin

import attrs

from .models import DownloadLink, File, Page, Purpose, Scope

if TYPE_CHECKING:
    import cattrs

T = TypeVar("T")

__all__ = [
    "FIELDS",
    "TAGS",
    "Derivation",
    "Field",
    "Kind",
    "converter",
    "dumps",
    "format_timestamp",
    "loads",
    "object_id",
    "parse_timestamp",
    "structure_download_link",
    "structure_file",
    "structure_items",
    "structure_objects_page",
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
# its values are read in a way no kind covers yet. A field only newer generations send is
# marked ``seed=False``: the fast loop (which reads the seed shape) gives it its empty value,
# or computes it by its ``Derivation`` from an earlier field, as ``downloadable`` follows from
# ``purpose``; objects that carry it take ``structure_file``. A ``File`` attribute without a
# ``Field`` stops the import, so the fast path can never be lost silently.


def _bad_type(name: str, expected: str, value: Any) -> TypeError:
    return TypeError(f"file field {name!r} must be {expected}, got {type(value).__name__}")


def _read_id(value: Any, name: str) -> Any:
    if type(value) is not str or not value:
        raise ValueError(f"file field {name!r} must be a non-empty string")
    return value


def _read_scope(value: dict[str, Any], name: str) -> Scope:
    # Only ``id`` and ``type`` are documented; other keys of the scope object are not kept.
    scope_id = value.get("id")
    scope_type = value.get("type")
    if type(scope_id) is not str or not scope_id:
        raise ValueError(f"file field {name!r} must have a non-empty string 'id'")
    if type(scope_type) is not str or not scope_type:
        raise ValueError(f"file field {name!r} must have a non-empty string 'type'")
    return Scope(id=scope_id, type=scope_type)


def _write_scope(scope: Scope) -> dict[str, str]:
    return {"id": scope.id, "type": scope.type}


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
FLAG = Kind(exact=bool, write=_same, sample=True)
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
SCOPE = Kind(
    # No ``fast``: no seed field is a scope, and only seed fields go through the fast loop.
    exact=dict,
    read=_read_scope,
    write=_write_scope,
    sample=Scope(id="sess_0", type="session"),
)


@attrs.frozen
class Derivation:
    """How an optional field's value follows from an earlier field when the wire leaves it out.

    Attributes:
        source: The earlier field whose attribute value it follows from.
        compute: Takes that attribute value (``None`` included) and returns this field's.
        fast: The same as one expression of the fast loop, with ``{source}`` for the source's
            attribute value; it may use the globals in ``names``.
        names: The globals ``fast`` uses.
    """

    source: str
    compute: Callable[[Any], Any]
    fast: str
    names: dict[str, Any] = attrs.field(factory=dict, eq=False)


_DOWNLOADABLE_PURPOSES = frozenset(p for p in Purpose if p.downloadable)
FROM_PURPOSE = Derivation(
    # A hashable purpose by then: an unhashable one has already been refused by PURPOSE.
    source="purpose",
    compute=lambda purpose: purpose in _DOWNLOADABLE_PURPOSES,
    fast="{source} in downloadable_purposes",
    names={"downloadable_purposes": _DOWNLOADABLE_PURPOSES},
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
        derive: For an optional field, how its value follows from an earlier field when the
            wire leaves it out or sends null (instead of ``empty``). ``unstructure_file``
            leaves it out when it is what the derivation gives.
        seed: Whether the seed generation sends it. The fast loop reads only seed fields;
            the others get their empty or derived value there, and an object that carries
            them takes ``structure_file``.
    """

    name: str
    kind: Kind
    keys: tuple[str, ...] = attrs.field()
    required: bool = False
    empty: Callable[[], Any] | None = None
    shares: str | None = None
    derive: Derivation | None = None
    seed: bool = True

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
    Field("downloadable", FLAG, derive=FROM_PURPOSE, seed=False),
    Field("scope", SCOPE, seed=False),
)
"""Every wire field of ``File``: the seed generation's, in the order it writes them, then the
newer generations'."""

TAGS: dict[str, str] = {"type": "file"}
"""Wire keys that name what an object is rather than carry an attribute, with the value a file
object has: consumed when they have it, kept in ``File.extra`` when they have any other value."""

# The one ``File`` attribute that is not a wire field: it holds the fields ``File`` does not model.
_EXTRA = "extra"
_KNOWN_KEYS = frozenset([*(key for field in FIELDS for key in field.keys), *TAGS])


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
        earlier = declared[: declared.index(field.name)]
        if field.shares is not None and field.shares not in earlier:
            raise TypeError(f"field {field.name!r} shares {field.shares!r}, not an earlier field")
        if field.derive is not None and (
            field.derive.source not in earlier or field.required or field.empty is not None
        ):
            raise TypeError(
                f"field {field.name!r} must be optional, without an empty value, and derive "
                f"from an earlier field, not {field.derive.source!r}"
            )
        if field.seed and field.kind.read is not None and not field.kind.fast:
            raise TypeError(f"seed field {field.name!r} has a reader but no fast statements")


_check_field_list()


def _indent(text: str, level: int) -> list[str]:
    return [" " * (4 * level) + line for line in text.splitlines()]


def _empty_call(f: Field) -> str:
    """The value an optional field gets when the wire leaves it out, as structure_file's code."""
    if f.derive is not None:
        return f"derive_{f.name}({f.derive.source})"
    return "None" if f.empty is None else f"empty_{f.name}()"


def _fast_empty(f: Field) -> str:
    """The same as an expression of the fast loop (a derivation inlined)."""
    if f.derive is not None:
        return f.derive.fast.format(source=f.derive.source)
    return "None" if f.empty is None else f"empty_{f.name}()"


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
            body.append(f"if {raw} is None:\n    {f.name} = {_empty_call(f)}")
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
    ]
    for key, value in TAGS.items():
        # absent or the expected value: nothing to keep
        keep = f"{_EXTRA}[{key!r}] = obj[{key!r}]"
        body.append(f"if get({key!r}, {value!r}) != {value!r}:\n    {keep}")
    body += [
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
        "known_keys": frozenset([*(key for field in fields for key in field.keys), *TAGS]),
        "bad_type": _bad_type,
        **{f"type_{f.name}": f.kind.exact for f in fields if f.kind.exact is not None},
        **{f"read_{f.name}": f.kind.read for f in fields if f.kind.read is not None},
        **{f"empty_{f.name}": f.empty for f in fields if f.empty is not None},
        **{f"derive_{f.name}": f.derive.compute for f in fields if f.derive is not None},
    }
    source = _FILE_SOURCE if fields is FIELDS else _file_source(fields)
    exec(compile(source, "<qoder_files._convert structure_file>", "exec"), namespace)
    return cast(_StructureFile, namespace["structure_file"])


_FILE_SOURCE = _file_source()
structure_file = _compile_file()


def unstructure_file(file: File) -> dict[str, Any]:
    """Turn a ``File`` back into its seed-generation wire object.

    ``None`` fields are left out, and so is a derived field whose value is what its derivation
    gives (``downloadable`` equal to what ``purpose`` implies).
    """
    out: dict[str, Any] = {}
    for field in FIELDS:
        value = getattr(file, field.name)
        if value is None:
            continue
        if field.derive is not None and value == field.derive.compute(
            getattr(file, field.derive.source)
        ):
            continue
        out[field.keys[0]] = field.kind.write(value)
    for key, value in file.extra.items():
        out.setdefault(key, value)
    return out


# --- the fast path for listing pages -----------------------------------------------------------
#
# Decoding items is where a listing spends its CPU, so ``structure_items`` runs a loop generated
# from ``FIELDS`` at import time (``_ITEMS_SOURCE`` holds its text). It takes objects in the seed
# shape: the first key of each seed field and no other key, each optional one possibly absent;
# the fields only newer generations send get their empty or derived value (one set lookup for
# ``downloadable``, a constant for ``scope``), so a seed object costs two slot stores more than
# before they existed. Such
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


def _items_source(all_fields: tuple[Field, ...] = FIELDS) -> str:
    """The text of the fast loop for ``all_fields`` (see the comment above)."""
    fields = [f for f in all_fields if f.seed]
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
            if f.empty is None and f.derive is None and not f.kind.converts:
                fast = f"if {names['raw']} is not None:\n" + "\n".join(_indent(fast, 1))
            else:
                empty = _fast_empty(f)
                fast = f"if {names['raw']} is None:\n    {f.name} = {empty}\nelse:\n" + "\n".join(
                    _indent(fast, 1)
                )
        reads += fast.splitlines() if fast else [f"# {f.name}: any value, kept as sent"]
    # a field the seed shape does not have gets its empty or derived value, stored directly
    stores = [f"file.{f.name} = {f.name if f.seed else _fast_empty(f)}" for f in all_fields]
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
        **{
            name: value
            for f in fields
            if f.derive is not None
            for name, value in f.derive.names.items()
        },
    }
    exec(compile(source, "<qoder_files._convert fast loop>", "exec"), namespace)
    return cast(Callable[[list[Any]], list[File]], namespace["structure_items"])


def _refuse(obj: Any) -> File:
    raise LookupError("the fast loop handed a sample object to its fallback")


def _fast_path_works(unfrozen: type = _Unfrozen, fields: tuple[Field, ...] = FIELDS) -> bool:
    """Whether the loop generated from ``fields`` builds, with ``unfrozen``, exact ``File`` values.

    It runs on a sample with every seed field set, then on one per optional field left out and
    one per timestamp field set apart, so each field's fast statements run at least once, and
    each derivation gives both of its values when a sample's source implies it (a downloadable
    purpose, then none).
    """
    if not (
        all(a.validator is None and a.converter is None for a in attrs.fields(File))
        and not hasattr(File, "__attrs_pre_init__")
        and not hasattr(File, "__attrs_post_init__")
        and "__slots__" in File.__dict__
    ):
        return False
    loop = _compile_items(unfrozen, _refuse, fields)
    seed = [field for field in fields if field.seed]

    def empty(field: Field, values: dict[str, Any]) -> Any:
        if field.derive is not None:
            return field.derive.compute(values[field.derive.source])
        return None if field.empty is None else field.empty()

    def sample(values: dict[str, Any]) -> File:
        # the seed shape: every other field has the value the fast loop must give it
        for field in fields:
            if not field.seed:
                values[field.name] = empty(field, values)
        return File(**values, extra={})

    values = {field.name: field.kind.sample for field in seed}
    samples = [sample(dict(values))]
    for field in seed:  # every field once with its empty value, once with a later time
        if not field.required:
            samples.append(sample({**values, field.name: empty(field, values)}))
        if isinstance(field.kind.sample, datetime):
            later = field.kind.sample + timedelta(seconds=1)
            samples.append(sample({**values, field.name: later}))
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


def _envelope_data(obj: Any) -> list[Any]:
    if type(obj) is not dict:
        raise TypeError(f"a list response must be a JSON object, got {type(obj).__name__}")
    data = obj.get("data")
    if type(data) is not list:
        raise TypeError("a list response must have a 'data' array")
    return data


def _page(obj: dict[str, Any], items: list[T], request_id: str | None) -> Page[T]:
    has_more = obj.get("has_more", False)
    if type(has_more) is not bool:
        raise TypeError("envelope field 'has_more' must be a boolean")
    return Page(
        data=items,
        first_id=_optional_str(obj, "first_id"),
        last_id=_optional_str(obj, "last_id"),
        has_more=has_more,
        next_page=_optional_str(obj, "next_page"),
        request_id=request_id,
    )


def structure_page(obj: Any, request_id: str | None = None) -> Page[File]:
    """Build a ``Page[File]`` from a list envelope ``{data, first_id, last_id, has_more}``."""
    return _page(obj, structure_items(_envelope_data(obj)), request_id)


_ID_KEYS = FIELDS[0].keys  # ("file_id", "id"): the first one present is the id


def object_id(obj: dict[str, Any]) -> Any:
    """The id of a file's JSON object as the server sent it (``file_id``, or newer ``id``),
    read as ``structure_file`` reads it: the first of those keys that is not null."""
    for key in _ID_KEYS:
        value = obj.get(key)
        if value is not None:
            return value
    return None


def structure_objects_page(obj: Any, request_id: str | None = None) -> Page[dict[str, Any]]:
    """Like ``structure_page``, but the items stay the JSON objects the server sent.

    Each item must still be an object with a non-empty string id (``file_id``, or ``id`` from
    newer servers), the one field a walk needs; the other fields are not read.
    """
    data = _envelope_data(obj)
    key = _ID_KEYS[0]
    for item in data:
        if type(item) is not dict:
            raise TypeError(f"a file must be a JSON object, got {type(item).__name__}")
        file_id = item.get(key)
        if file_id is None:
            file_id = object_id(item)
        if type(file_id) is not str or not file_id:
            raise ValueError("file field 'file_id' must be a non-empty string")
    return _page(obj, data, request_id)


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
    from cattrs.preconf.json import make_converter  # noqa: PLC0415 - built on first use

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


if TYPE_CHECKING:
    converter: cattrs.Converter
    """The SDK's converter: ``converter.unstructure(file)`` gives the wire JSON object back."""


def __getattr__(name: str) -> Any:
    # ``converter`` is built on first use: listings never need it (their decoders are
    # generated from ``FIELDS``), and importing cattrs is a noticeable part of start-up.
    if name == "converter":
        built = globals()["converter"] = _make_converter()
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
