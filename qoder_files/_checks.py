"""Every argument check of the SDK: constructor settings, per-call options, ids and payloads.

Each ``check_*`` function takes what the caller passed (typed ``object``, since callers do not
always honour the annotations), returns the value the rest of the SDK uses, and otherwise
raises ``ValueError`` whose message starts with the argument's name. They run before any
``Request`` exists, so a bad argument never sends anything.

Invariants:
- every argument check lives here, written once over the shared primitives at the top
  (``_integer``, ``_number``, ``_identifier``): a bool is never taken for a number, nor a
  float for an integer, and NaN or an infinity is never a valid number;
- a message never shows a token or a password: a token is not echoed at all, and a URL's
  credentials are masked before it is formatted;
- an id (a file id, a listing cursor) that passes cannot change the request path: it holds
  only printable, non-space characters other than ``/ \\ ? # %``, and is neither ``.`` nor
  ``..``.

Pure: no I/O, no asyncio, no aiohttp.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from .models import Purpose

__all__ = [
    "MAX_LIMIT",
    "check_backoff",
    "check_base_url",
    "check_chunk_size",
    "check_concurrency",
    "check_cursor",
    "check_file_id",
    "check_filename",
    "check_headers",
    "check_idempotency_key",
    "check_limit",
    "check_max_items",
    "check_max_retries",
    "check_metadata",
    "check_name_prefix",
    "check_proxy",
    "check_purpose",
    "check_purposes",
    "check_rate_limit",
    "check_retry_statuses",
    "check_scan_limit",
    "check_scope_id",
    "check_timeout",
    "check_token",
    "is_loopback_host",
]

MAX_LIMIT = 100
_PURPOSES = {p.value: p for p in Purpose}
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")
# Characters that would end or re-shape a path segment even when printable.
_ID_SEPARATORS = re.compile(r"[/\\?#%]")
# RFC 9110 ``token``: what a header name may be made of.
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# A header value may hold a horizontal tab, but no other C0 control, no DEL and no C1 control:
# CR and LF would end the header line, and the others are refused or rewritten on the way out.
_BAD_HEADER_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")
_USERINFO = re.compile(r"://[^@]*@")


# --- primitives ----------------------------------------------------------------------------


def _integer(value: object, name: str, *, minimum: int, maximum: int | None = None) -> int:
    """An ``int`` (never a bool) from ``minimum`` to ``maximum``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        bound = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"
        raise ValueError(f"{name} must be an integer {bound}, got {value!r}")
    return value


def _number(value: object, name: str, *, unit: str, zero: bool = False) -> float:
    """A finite real number (never a bool), greater than zero (or at least zero)."""
    sign = "non-negative" if zero else "positive"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a {sign} number of {unit}, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number of {unit}, got {value!r}")
    if value < 0 or (value == 0 and not zero):
        raise ValueError(f"{name} must be a {sign} number of {unit}, got {value!r}")
    return value


def _identifier(value: object, name: str) -> str:
    """A string that stays one path segment, whatever the URL layer does to it.

    ``str.isprintable()`` is false for every control (C0, DEL, C1), format (bidi overrides and
    isolates, zero-width characters), surrogate, private-use and unassigned character, and for
    every separator but the ASCII space: exactly the characters that an HTTP library may drop,
    re-encode or refuse. The space is the one printable whitespace character.
    """
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    if value in (".", ".."):
        raise ValueError(f"{name} must not be a path segment such as '.' or '..', got {value!r}")
    if not value.isprintable() or " " in value or _ID_SEPARATORS.search(value):
        raise ValueError(
            f"{name} must hold only printable characters other than whitespace and "
            f"'/', '\\', '?', '#', '%', got {value!r}"
        )
    return value


# --- listing -------------------------------------------------------------------------------


def check_limit(limit: object, name: str = "limit") -> int | None:
    """``limit`` must be ``None`` or an integer in 1..100."""
    if limit is None:
        return None
    return _integer(limit, name, minimum=1, maximum=MAX_LIMIT)


def check_scan_limit(limit: object) -> int:
    """A scan always sends its page size: ``limit`` must be an integer in 1..100."""
    return _integer(limit, "limit", minimum=1, maximum=MAX_LIMIT)


def check_max_items(max_items: object) -> int | None:
    """``max_items`` must be ``None`` or a positive integer."""
    if max_items is None:
        return None
    return _integer(max_items, "max_items", minimum=1)


def check_concurrency(concurrency: object) -> int:
    """``concurrency`` must be an integer of at least 1."""
    return _integer(concurrency, "concurrency", minimum=1)


def check_cursor(value: object, name: str) -> str | None:
    """A cursor (``after``/``before``) is ``None`` or a file id, checked as ``file_id`` is."""
    if value is None:
        return None
    return _identifier(value, name)


def check_purpose(purpose: object, name: str = "purpose") -> Purpose | None:
    """``purpose`` must be ``None`` or one of the five documented values."""
    if purpose is None:
        return None
    if isinstance(purpose, str) and purpose in _PURPOSES:
        return _PURPOSES[purpose]
    allowed = ", ".join(_PURPOSES)
    raise ValueError(f"{name} must be one of {allowed}; got {purpose!r}")


def check_purposes(purposes: object) -> tuple[Purpose, ...]:
    """``None`` (all five documented purposes) or a non-empty collection of distinct ones."""
    if purposes is None:
        return tuple(Purpose)
    if isinstance(purposes, str | bytes) or not isinstance(purposes, Iterable):
        raise ValueError(f"purposes must be a list of purposes (or None for all), got {purposes!r}")
    checked: list[Purpose] = []
    for value in purposes:
        purpose = check_purpose(value, "purposes")
        if purpose is None:
            raise ValueError("purposes must not contain None")
        if purpose in checked:
            raise ValueError(f"purposes must not repeat a purpose, got {purpose.value!r} twice")
        checked.append(purpose)
    if not checked:
        raise ValueError("purposes must name at least one purpose (or be None for all)")
    return tuple(checked)


# --- one file ------------------------------------------------------------------------------


def check_file_id(file_id: object) -> str:
    """A file id must be a non-empty string that cannot leave its URL path segment."""
    return _identifier(file_id, "file_id")


def check_name_prefix(name: object) -> str | None:
    """``name`` (a filename prefix filter) must be ``None`` or a non-empty printable string."""
    if name is None:
        return None
    if not isinstance(name, str) or not name or not name.isprintable():
        raise ValueError(f"name must be a non-empty, printable filename prefix, got {name!r}")
    return name


def check_scope_id(scope_id: object) -> str | None:
    """``scope_id`` must be ``None`` or a plain id such as ``sess_…``."""
    return None if scope_id is None else _identifier(scope_id, "scope_id")


def check_filename(filename: object) -> str | None:
    """``filename`` must be ``None`` or a non-empty string that fits in a header line."""
    if filename is None:
        return None
    if not isinstance(filename, str) or not filename.strip():
        raise ValueError(f"filename must be a non-empty string, got {filename!r}")
    if _CONTROL_CHARACTERS.search(filename):
        raise ValueError(f"filename must not contain control characters, got {filename!r}")
    return filename


def check_metadata(metadata: object) -> str | None:
    """``metadata`` must be ``None`` or a JSON-serialisable dict; returns its JSON text.

    The stdlib encoder is used on purpose: it refuses NaN and infinities (which are not JSON)
    instead of quietly writing ``null`` for them.
    """
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping):
        raise ValueError(f"metadata must be a dict, got {type(metadata).__name__}")
    try:
        return json.dumps(
            dict(metadata), ensure_ascii=False, separators=(",", ":"), allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"metadata must be JSON-serialisable: {exc}") from None


def check_idempotency_key(key: object) -> str | None:
    """``idempotency_key`` must be ``None`` or 1 to 255 visible ASCII characters."""
    if key is None:
        return None
    if not isinstance(key, str) or not _IDEMPOTENCY_KEY.fullmatch(key):
        raise ValueError(
            f"idempotency_key must be 1 to 255 visible ASCII characters (a UUID is ideal), "
            f"got {key!r}"
        )
    return key


def check_chunk_size(chunk_size: object) -> int:
    """``chunk_size`` must be a positive integer (bytes read per step of a download)."""
    return _integer(chunk_size, "chunk_size", minimum=1)


# --- client settings and per-call options --------------------------------------------------


def check_timeout(timeout: object, name: str = "timeout") -> float:
    """A timeout is a finite number of seconds greater than zero."""
    return _number(timeout, name, unit="seconds")


def check_max_retries(max_retries: object) -> int:
    """``max_retries`` must be an integer of at least 0."""
    return _integer(max_retries, "max_retries", minimum=0)


def check_rate_limit(rate_limit: object) -> float | None:
    """``rate_limit`` is ``None`` or a finite number of requests per second above zero."""
    if rate_limit is None:
        return None
    return _number(rate_limit, "rate_limit", unit="requests per second")


def check_token(token: object) -> str:
    """A token is visible ASCII (surrounding whitespace is dropped); it is never echoed.

    Anything else (a line break, a control character, an inner space, a non-ASCII letter)
    would make every request fail or be refused, so it fails here instead.
    """
    if not isinstance(token, str) or not token.strip():
        raise ValueError("token is missing or blank: pass token= or set QODER_PAT")
    token = token.strip()
    if not _VISIBLE_ASCII.fullmatch(token):
        raise ValueError(
            "token must be visible ASCII characters only (no spaces, line breaks or "
            "control characters); check how it was pasted or set"
        )
    return token


def check_headers(headers: object, name: str = "default_headers") -> dict[str, str]:
    """Extra headers: a mapping of token names to string values without line breaks.

    Returns:
        A copy, so that later changes to the caller's mapping do not reach the client.
    """
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise ValueError(
            f"{name} must be a dict of header names to values, got {type(headers).__name__}"
        )
    checked: dict[str, str] = {}
    for key, value in headers.items():
        if not isinstance(key, str) or not _HEADER_NAME.fullmatch(key):
            raise ValueError(
                f"{name} has an invalid header name {key!r}: letters, digits and "
                f"!#$%&'*+-.^_`|~ only"
            )
        if not isinstance(value, str):
            raise ValueError(f"{name}[{key!r}] must be a string, got {type(value).__name__}")
        if _BAD_HEADER_VALUE.search(value):
            # The value itself is not shown: extra headers often carry credentials.
            raise ValueError(f"{name}[{key!r}] must not contain line breaks or control characters")
        checked[key] = value
    return checked


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (lower-case, without brackets) is ``localhost`` or a loopback address.

    An address, not a name that merely starts like one: ``127.evil.example`` is not loopback.
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _masked_url(url: str) -> str:
    """``url`` with everything between ``://`` and the first ``@`` replaced by ``***``.

    That covers a ``user:password@`` part whatever it holds (even a ``/`` that would make a
    parser see the password as a path); at worst it hides more than the credentials.
    """
    return _USERINFO.sub("://***@", url, count=1)


def check_base_url(base_url: object) -> str:
    """An ``https`` URL (or ``http`` to a loopback host) with nothing but a host and a path.

    Credentials, a query or a fragment are refused: the client appends paths to the base URL,
    so any of them would misdirect every request (a fragment would cut its path off).

    Returns:
        The URL without surrounding whitespace and without a trailing slash.
    """
    if not isinstance(base_url, str) or not base_url.strip():
        raise ValueError(f"base_url must be a non-empty URL string, got {base_url!r}")
    url = base_url.strip()
    shown = repr(_masked_url(url))
    if not url.isprintable() or " " in url:
        raise ValueError(f"base_url must not contain whitespace or control characters: {shown}")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - a malformed port raises here, not on the first request
    except ValueError:
        raise ValueError(f"base_url is not a valid URL: {shown}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError(f"base_url must be an http(s) URL with a host, got {shown}")
    if "@" in parts.netloc:
        raise ValueError(
            f"base_url must not hold credentials (user:password@): pass the token instead, "
            f"got {shown}"
        )
    if "?" in url or "#" in url:
        raise ValueError(f"base_url must not have a query or a fragment, got {shown}")
    if parts.scheme == "http" and not is_loopback_host(host):
        raise ValueError(
            f"base_url must use https (plain http is allowed only to a loopback host), got {shown}"
        )
    return url.rstrip("/")


# --- retry policy fields -------------------------------------------------------------------


def check_proxy(proxy: object) -> str | None:
    """``proxy`` must be ``None`` or an ``http``/``https`` URL with a host.

    The message of a refusal never shows the URL's credentials.
    """
    if proxy is None:
        return None
    if not isinstance(proxy, str) or not proxy.strip():
        raise ValueError(
            f"proxy must be a proxy URL string such as http://host:3128, got {proxy!r}"
        )
    try:
        parts = urlsplit(proxy.strip())
        host = parts.hostname
    except ValueError:
        parts, host = None, None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise ValueError(f"proxy must be an http(s) URL with a host, got {_masked_url(proxy)!r}")
    return proxy.strip()


def check_backoff(value: object, name: str) -> float:
    """A ``RetryPolicy`` duration: a finite number of seconds, zero or more."""
    return _number(value, name, unit="seconds", zero=True)


def check_retry_statuses(values: object) -> frozenset[int]:
    """``retry_statuses``: a collection of HTTP status codes (integers from 100 to 599)."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ValueError(f"retry_statuses must be a collection of status codes, got {values!r}")
    return frozenset(
        _integer(status, "retry_statuses", minimum=100, maximum=599) for status in values
    )
