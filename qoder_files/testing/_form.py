"""What an upload request may hold: the multipart body, the metadata, the stored name and type.

Everything here turns a malformed or hostile request into ``ApiError`` (a 400 in the error
envelope), never into an exception aiohttp would answer with a 500: a part header with a
control character, a body whose ``Content-Encoding`` does not decode, text fields that are not
UTF-8, metadata nested too deep or holding ``NaN``/``Infinity`` (which would make every later
page holding the file invalid JSON). It reads the request and stores nothing.
"""

from __future__ import annotations

import json
import mimetypes
import re
import warnings
from typing import Any, NoReturn

import attrs
from aiohttp import (
    BadContentDispositionHeader,
    BadContentDispositionParam,
    BodyPartReader,
    MultipartReader,
    web,
)
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from ._protocol import ApiError
from ._store import SEED_TYPES

__all__ = [
    "MAX_METADATA_DEPTH",
    "Part",
    "check_text_type",
    "clean_name",
    "guess_type",
    "parse_metadata",
    "read_form",
]

_MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # per file (B6); nothing bigger is kept in memory
_MAX_METADATA_BYTES = 8 * 1024
MAX_METADATA_DEPTH = 64
"""How deeply metadata may nest (objects and arrays); deeper is a 400.

Not documented by the API. It keeps every page the emulator renders decodable by any JSON
parser, whose recursion limits are usually a few hundred levels.
"""
_KNOWN_TYPES = dict(SEED_TYPES) | {".yml": "application/x-yaml", ".toml": "application/x-toml"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# The text-only upload list of the newest docs (B5, C6, F6), kept as the docs print it.
# fmt: off
_TEXT_SUFFIXES = frozenset((
    ".txt", ".md", ".csv", ".json", ".xml", ".yaml", ".yml", ".toml", ".ini", ".conf", ".cfg",
    ".env", ".log", ".html", ".htm", ".css", ".scss", ".less", ".js", ".jsx", ".ts", ".tsx",
    ".vue", ".svelte", ".py", ".go", ".rs", ".java", ".kt", ".scala", ".c", ".cpp", ".cc", ".h",
    ".hpp", ".rb", ".php", ".swift", ".r", ".lua", ".pl", ".sh", ".bash", ".zsh", ".fish",
    ".ps1", ".sql", ".graphql", ".gql", ".proto", ".dockerfile", ".makefile", ".gitignore",
    ".editorconfig", ".eslintrc", ".prettierrc", ".tex", ".rst", ".adoc", ".org", ".svg",
))
_TEXT_NAMES = frozenset((
    "dockerfile", "makefile", "gemfile", "rakefile", "procfile", "vagrantfile", "justfile",
    "brewfile",
))
# fmt: on
_TEXT_MEDIA_TYPES = frozenset(
    (
        "application/json",
        "application/xml",
        "application/javascript",
        "application/x-yaml",
        "application/x-toml",
    )
)


@attrs.frozen(kw_only=True)
class Part:
    """One part of a multipart request body."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes

    def text(self) -> str:
        """The part as a UTF-8 text field, or a 400 naming the field."""
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError.invalid(f"Field '{self.name}' must be UTF-8 text.", self.name) from None


def _unreadable(detail: str) -> NoReturn:
    raise ApiError.invalid(f"Request body must be valid multipart/form-data: {detail}.")


async def _read_chunk(part: BodyPartReader) -> bytes:
    # aiohttp's multipart reader calls its own deprecated unread_data() when a network read
    # straddles a part boundary; silence exactly that message so a test run with warnings as
    # errors does not turn a large upload into a 500.
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"unread_data\(\) is deprecated", category=DeprecationWarning
        )
        return await part.read_chunk()


async def _next_part(reader: MultipartReader) -> BodyPartReader | MultipartReader | None:
    # aiohttp warns about, then drops, a Content-Disposition it cannot parse: under warnings
    # as errors that is a 500, and otherwise a made-up name gets stored. Make it an error
    # here, so it becomes a 400.
    with warnings.catch_warnings():
        warnings.simplefilter("error", BadContentDispositionHeader)
        warnings.simplefilter("error", BadContentDispositionParam)
        part = await reader.next()
        if isinstance(part, BodyPartReader):
            _ = part.name, part.filename  # parsed (and cached) here, under the same filter
        return part


async def read_form(request: web.Request) -> list[Part]:
    """Every part of a multipart request body, or a 400 saying why it cannot be read."""
    if not request.content_type.startswith("multipart/"):
        raise ApiError.invalid("Field 'file' is required.", "file")
    parts: list[Part] = []
    total = 0
    try:
        reader = await request.multipart()
        while (part := await _next_part(reader)) is not None:
            if not isinstance(part, BodyPartReader):
                raise ApiError.invalid("Nested multipart bodies are not accepted.")
            data = bytearray()
            while chunk := await _read_chunk(part):
                total += len(chunk)
                if total > _MAX_UPLOAD_BYTES:
                    raise ApiError.invalid("File exceeds the 50 MB limit.", "file")
                data += chunk
            parts.append(
                Part(
                    name=part.name or "",
                    filename=part.filename,
                    content_type=part.headers.get("Content-Type"),
                    data=bytes(data),
                )
            )
    except HttpProcessingError:  # a bad part header line (a control character, say)
        _unreadable("a part header is invalid")
    except (BadContentDispositionHeader, BadContentDispositionParam):
        _unreadable("a part's Content-Disposition header is malformed")
    except RequestPayloadError:  # the body does not decode as its Content-Encoding says
        raise ApiError.invalid(
            "Request body could not be decoded as its Content-Encoding says."
        ) from None
    except ValueError:
        _unreadable("the body is cut short or has no boundary")
    return parts


def _reject_constant(name: str) -> NoReturn:
    raise ApiError.invalid(
        f"Field 'metadata' must be valid JSON: {name} is not a JSON number.", "metadata"
    )


def _depth(value: Any) -> int:
    """How deeply ``value`` nests objects and arrays (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in item)
    return deepest


def parse_metadata(raw: str | None) -> dict[str, Any]:
    """The metadata field: a JSON object of at most 8 KB that renders back as valid JSON.

    Raises:
        ApiError: 400 for anything else: not JSON, not an object, ``NaN`` or ``Infinity``,
            nested deeper than ``MAX_METADATA_DEPTH``, or strings that are not valid Unicode.
    """
    if raw is None:
        return {}
    if len(raw.encode("utf-8", "surrogatepass")) > _MAX_METADATA_BYTES:
        raise ApiError.invalid("Field 'metadata' must be at most 8 KB.", "metadata")
    try:
        metadata = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        metadata = None  # deeper than the parser goes: far past the depth limit
        depth = MAX_METADATA_DEPTH + 1
    except ValueError:
        metadata = depth = None
    else:
        depth = _depth(metadata)
    if depth is not None and depth > MAX_METADATA_DEPTH:
        raise ApiError.invalid(
            f"Field 'metadata' must nest at most {MAX_METADATA_DEPTH} levels deep.", "metadata"
        )
    if not isinstance(metadata, dict):
        raise ApiError.invalid("Field 'metadata' must be a JSON object string.", "metadata")
    try:  # a "\udcff" escape parses, but is no character: no UTF-8 page could carry it
        json.dumps(metadata, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError.invalid(
            "Field 'metadata' must hold valid Unicode strings only.", "metadata"
        ) from None
    return metadata


def clean_name(name: str) -> str | None:
    """The stored name: the last path component without control characters, 1 to 255 bytes,
    not ``.`` or ``..``; ``None`` when nothing acceptable is left.
    """
    cleaned = _CONTROL.sub("", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    try:
        size = len(cleaned.encode("utf-8"))
    except UnicodeEncodeError:  # undecodable bytes in a header arrive as lone surrogates
        return None
    if cleaned in ("", ".", "..") or size > 255:
        return None
    return cleaned


def check_text_type(filename: str, content_type: str | None) -> None:
    """Refuse, with a 400 naming ``file``, what the text-only upload list does not allow.

    The docs do not say how name and media type combine; the emulator lets the name decide
    when it has an extension (on the list, or refused), and otherwise accepts a name on the
    list of extension-less names, or a part declared as a text type (or declared as nothing).
    """
    lowered = filename.lower()
    if "." in lowered:
        allowed = lowered[lowered.rfind(".") :] in _TEXT_SUFFIXES
    elif lowered in _TEXT_NAMES or content_type is None:
        allowed = True
    else:
        media = content_type.split(";", 1)[0].strip().lower()
        allowed = media.startswith("text/") or media in _TEXT_MEDIA_TYPES
    if not allowed:
        raise ApiError.invalid(
            f"Field 'file' must be a text-based file; '{filename}' is not a supported type.",
            "file",
        )


def guess_type(filename: str) -> str:
    """The media type the emulator records for ``filename``."""
    suffix = filename[filename.rfind(".") :].lower() if "." in filename else ""
    known = _KNOWN_TYPES.get(suffix)
    if known is not None:
        return known
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    return guessed or "text/plain"
