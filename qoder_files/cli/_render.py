"""How the command line shows what the server sent: as text, never as markup or a format string.

This module owns the safe text of the command line and its JSON encoding. ``visible`` turns any
string into one printable line: every character that ``str.isprintable()`` rejects (controls
such as ESC and BEL, line breaks, bidi overrides, zero-width characters) is written as a
visible escape, ``\\x1b``. Names, ids, metadata and error messages go through it before they
reach a terminal or the table; JSON, JSON lines and CSV written to a file or a pipe keep the
exact value (JSON escapes controls itself, and ``json_for_terminal`` escapes the rest).

``WireEncoder`` writes a page of the server's file objects as JSON (``encode_objects``): a
seed-generation server's objects exactly as sent, a newer server's in the seed shape. Its
``wire`` turns a ``File`` into that object (for the table, CSV and scans): a function generated
once from the converter's field list (``_convert.FIELDS``), equal to
``_convert.unstructure_file`` (a test compares them). orjson encodes when the ``speedups``
extra is installed, the standard library otherwise and for any value orjson refuses. Nothing
here does I/O except ``write_bytes``.
"""

from __future__ import annotations

import enum
import json
import re
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from qoder_files.models import File

__all__ = [
    "WireEncoder",
    "dumps_pretty",
    "is_terminal",
    "json_for_terminal",
    "one_line",
    "stdout_bytes",
    "visible",
    "write_bytes",
]

_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_SEED_ID = "file_id"  # the id key of the seed generation's file objects


def _is_terminal(stream: IO[Any]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False


def is_terminal(stream: IO[Any]) -> bool:
    """Whether ``stream`` is a terminal (through ``_is_terminal``, which tests replace)."""
    return _is_terminal(stream)


def _escape(char: str) -> str:
    short = _SHORT.get(char)
    if short is not None:
        return short
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def visible(text: str) -> str:
    """``text`` as one printable line: each non-printable character becomes an escape.

    Args:
        text: Any string, such as a file name from the server.

    Returns:
        ``text`` itself when every character is printable (the space included), else a copy
        with ``\\n``, ``\\t``, ``\\r``, ``\\xNN``, ``\\uNNNN`` or ``\\UNNNNNNNN`` in their place.
    """
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)


def one_line(error: BaseException, token: str | None) -> str:
    """An error as one visible line, ``Type: message``, with the token (if any) replaced."""
    line = " ".join(f"{type(error).__name__}: {error}".split())
    # The SDK never puts the token in a message; this only guards against a future slip.
    if token and len(token) >= 8:
        line = line.replace(token, "[token]")
    return visible(line)


# JSON text escapes every C0 control; these remain, and a terminal may act on some of them.
_TERMINAL_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")


def json_for_terminal(text: str) -> str:
    """JSON text with the characters a terminal may act on written as ``\\uNNNN`` escapes.

    The value stays exactly the same (JSON reads ``\\u009b`` as that character); only the
    bytes that reach the terminal change. Outside strings JSON text is plain ASCII.
    """
    return _TERMINAL_UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def dumps_pretty(value: Any) -> str:
    """``value`` as indented JSON text (two spaces), UTF-8 characters kept."""
    return json.dumps(value, ensure_ascii=False, indent=2)


def stdout_bytes() -> IO[bytes]:
    """The binary stream under ``sys.stdout`` (or one that encodes into it)."""
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is not None:
        return buffer  # type: ignore[no-any-return]
    return cast("IO[bytes]", _TextSink(sys.stdout))  # an in-memory text stream (tests)


class _TextSink:
    """A binary writer over a text stream."""

    def __init__(self, text: IO[str]) -> None:
        self._text = text

    def write(self, data: bytes) -> int:
        self._text.write(data.decode("utf-8", "replace"))
        return len(data)

    def flush(self) -> None:
        self._text.flush()


def write_bytes(out: IO[bytes], data: bytes) -> None:
    """Write and flush ``data``: every page reaches the reader as soon as it is written."""
    if data:
        out.write(data)
        out.flush()


# --- File to its API JSON object -----------------------------------------------------------


def _identity_write(write: Callable[[Any], Any]) -> bool:
    probe = object()
    try:
        return write(probe) is probe
    except Exception:
        return False


def _wire_source(fields: Iterable[Any], native_times: bool) -> tuple[str, dict[str, Any]]:
    """The text of a ``wire(file)`` function for ``fields`` and what it refers to.

    A derived field is left out when it is what its derivation gives, as ``unstructure_file``
    does. Each field's value is taken as is when its kind writes values unchanged (or when the
    encoder writes them the same way: orjson writes a ``Purpose`` as its value, an object as
    it is, and a UTC time with ``Z``), else through the kind's own ``write``.
    """
    from qoder_files._convert import format_timestamp  # noqa: PLC0415 - loaded with the client

    namespace: dict[str, Any] = {"utc": UTC, "format_timestamp": format_timestamp}
    lines = ["def wire(file):", "    out = {}"]
    for index, field in enumerate(fields):
        write = field.kind.write
        key = field.keys[0]
        lines.append(f"    value = file.{field.name}")
        if field.derive is not None:  # left out when it is what its derivation gives
            namespace[f"derive_{index}"] = field.derive.compute
            source = f"derive_{index}(file.{field.derive.source})"
            lines.append(f"    if value is not None and value != {source}:")
        else:
            lines.append("    if value is not None:")
        if _identity_write(write) or write is dict or (native_times and write is str):
            lines.append(f"        out[{key!r}] = value")
        elif write is format_timestamp and native_times:
            lines.append(f"        out[{key!r}] = value if value.tzinfo is utc else")
            lines[-1] += " format_timestamp(value)"
        else:
            namespace[f"write_{index}"] = write
            lines.append(f"        out[{key!r}] = write_{index}(value)")
    lines += [
        "    extra = file.extra",
        "    if extra:",
        "        for key, value in extra.items():",
        "            out.setdefault(key, value)",
        "    return out",
    ]
    return "\n".join(lines) + "\n", namespace


class WireEncoder:
    """Encodes ``File`` values as their API JSON objects, a page at a time.

    Args:
        fields: The JSON keys to keep, in order (``--fields``); ``None`` for every key.
        use_orjson: Use orjson when it is installed (the ``speedups`` extra).
    """

    def __init__(self, fields: list[str] | None = None, *, use_orjson: bool = True) -> None:
        from qoder_files import _convert  # noqa: PLC0415 - loaded with the client

        self._orjson: Any = None
        if use_orjson:
            try:
                import orjson  # noqa: PLC0415 - optional

                self._orjson = orjson
            except ImportError:  # pragma: no cover - depends on the installed extras
                pass
        source, namespace = _wire_source(_convert.FIELDS, self._orjson is not None)
        exec(compile(source, "<qoder_files.cli wire>", "exec"), namespace)
        self.wire: Callable[[File], dict[str, Any]] = namespace["wire"]
        self.fields = fields
        if self._orjson is not None:
            option = self._orjson.OPT_UTC_Z
            orjson_dumps = self._orjson.dumps
            self._dumps: Callable[[Any], bytes] = lambda value: orjson_dumps(value, option=option)
        else:
            self._dumps = self._stdlib_dumps

    def _stdlib_dumps(self, value: Any, *, ascii_only: bool = False) -> bytes:
        text = json.dumps(
            value, ensure_ascii=ascii_only, separators=(",", ":"), default=self._native
        )
        return text.encode()

    @staticmethod
    def _native(value: Any) -> Any:
        # what ``wire`` leaves for the encoder: times (orjson writes them itself) and purposes
        from qoder_files._convert import format_timestamp  # noqa: PLC0415 - loaded already

        if isinstance(value, datetime):
            return format_timestamp(value)
        if isinstance(value, enum.Enum):
            return value.value
        raise TypeError(f"{type(value).__name__} is not JSON")

    def select(self, wire: dict[str, Any]) -> dict[str, Any]:
        """``wire`` with only the selected keys, in their order (``None`` for a missing key)."""
        if self.fields is None:
            return wire
        return {key: wire.get(key) for key in self.fields}

    def seed_shape(self, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The server's JSON objects in the seed generation's shape, the one output speaks.

        A seed-generation server's objects already are (each has ``file_id``) and are kept
        exactly as sent; newer servers' (``id``, ``type``...) are read into files and written
        back the way ``wire`` writes every file.

        Raises:
            InvalidResponseError: a newer server's object does not match the documented shape.
        """
        if all(_SEED_ID in obj for obj in objects):
            return objects
        from qoder_files import _convert  # noqa: PLC0415 - loaded with the client
        from qoder_files.errors import InvalidResponseError  # noqa: PLC0415

        try:
            files = _convert.structure_items(objects)
        except (KeyError, TypeError, ValueError) as exc:
            reason = exc.args[0] if exc.args else type(exc).__name__
            raise InvalidResponseError(
                f"the server sent a list response that does not match the documented shape: "
                f"{reason}",
                status_code=200,
            ) from None
        wire = self.wire
        return [wire(file) for file in files]

    def encode_objects(self, objects: list[dict[str, Any]]) -> list[bytes]:
        """The server's JSON objects of one page, each as compact JSON (selected keys only)."""
        objects = self.seed_shape(objects)
        if self.fields is not None:
            select = self.select
            objects = [select(obj) for obj in objects]
        dumps = self._dumps
        try:
            return [dumps(obj) for obj in objects]
        except (TypeError, ValueError):  # an integer beyond 64 bits, a lone surrogate...
            return [self._exact_value(obj) for obj in objects]

    def _exact_value(self, value: Any) -> bytes:
        """One object through the stdlib: exact for any value orjson refuses."""
        try:
            return self._dumps(value)
        except (TypeError, ValueError):
            pass
        try:
            return self._stdlib_dumps(value)
        except UnicodeEncodeError:  # a lone surrogate: keep it as an escape
            return self._stdlib_dumps(value, ascii_only=True)

    def encode_value(self, value: Any) -> str:
        """One value (an object, a list...) as compact JSON text."""
        try:
            return self._dumps(value).decode()
        except (TypeError, ValueError):
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
