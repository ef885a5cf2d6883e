"""The sans-I/O protocol layer: check arguments, build requests, decipher responses.

Everything that affects what goes on the wire or how a response is read lives here, as plain
functions over ``Request`` and ``Response`` values. Nothing here awaits, sleeps, opens a socket,
or imports asyncio or aiohttp; the transport carries these values, nothing more.

Invariants:
- every argument check runs before a ``Request`` exists, and raises ``ValueError`` naming the
  argument;
- every ``decipher_*`` function turns an error status into the matching ``APIError`` and a
  2xx body it cannot read into ``InvalidResponseError``; nothing else escapes.
"""

from __future__ import annotations

import http
import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import attrs

from . import _convert
from ._retry import parse_retry_after
from .errors import (
    APIError,
    FeatureNotAvailableError,
    InvalidResponseError,
    RateLimitError,
    error_class_for_status,
)
from .models import DownloadLink, File, Page, Purpose

__all__ = [
    "DEFAULT_BASE_URL",
    "MAX_LIMIT",
    "FormField",
    "Request",
    "Response",
    "check_base_url",
    "check_chunk_size",
    "check_cursor",
    "check_file_id",
    "check_filename",
    "check_idempotency_key",
    "check_limit",
    "check_max_items",
    "check_metadata",
    "check_purpose",
    "content_request",
    "decipher_delete",
    "decipher_download_link",
    "decipher_file",
    "decipher_page",
    "decode_json",
    "delete_request",
    "error_from_response",
    "file_request",
    "get_header",
    "is_expired_link_response",
    "link_expired",
    "list_request",
    "mask_token",
    "parse_retry_after",
    "presigned_redirect",
    "presigned_request",
    "response_request_id",
    "storage_error",
    "upload_request",
]

T = TypeVar("T")

MAX_LIMIT = 100
_PURPOSES = {p.value: p for p in Purpose}
_BODY_SNIPPET = 500


@attrs.frozen(kw_only=True)
class FormField:
    """One part of a multipart body."""

    name: str
    value: bytes | str | Any
    filename: str | None = None
    content_type: str | None = None


@attrs.frozen(kw_only=True)
class Request:
    """One logical API request (the same value is re-sent on every retry).

    ``path`` is relative to the client's base URL; ``url`` (absolute) replaces it for requests
    that leave the API, such as a presigned download, which are sent without credentials.
    """

    method: str
    path: str = ""
    params: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    form: tuple[FormField, ...] | None = None
    url: str | None = None
    idempotency_key: str | None = None

    @property
    def retry_safe(self) -> bool:
        """GETs may always be retried; writes only when they carry an idempotency key."""
        return self.method == "GET" or self.idempotency_key is not None


@attrs.frozen(kw_only=True)
class Response:
    """What came back for one attempt: status, headers and the complete body."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    request_id: str | None = None


def get_header(headers: Mapping[str, str], name: str) -> str | None:
    """Look a header up case-insensitively in any mapping."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None


# --- argument checks --------------------------------------------------------------------------


def check_limit(limit: object, name: str = "limit") -> int | None:
    """``limit`` must be ``None`` or an integer in 1..100."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise ValueError(f"{name} must be an integer from 1 to {MAX_LIMIT}, got {limit!r}")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"{name} must be from 1 to {MAX_LIMIT}, got {limit}")
    return limit


def check_max_items(max_items: object) -> int | None:
    """``max_items`` must be ``None`` or a positive integer."""
    if max_items is None:
        return None
    if isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 1:
        raise ValueError(f"max_items must be a positive integer, got {max_items!r}")
    return max_items


def check_cursor(value: object, name: str) -> str | None:
    """A cursor must be ``None`` or a non-empty string."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty file id string, got {value!r}")
    return value


def check_purpose(purpose: object, name: str = "purpose") -> Purpose | None:
    """``purpose`` must be ``None`` or one of the five documented values."""
    if purpose is None:
        return None
    if isinstance(purpose, str) and purpose in _PURPOSES:
        return _PURPOSES[purpose]
    allowed = ", ".join(_PURPOSES)
    raise ValueError(f"{name} must be one of {allowed}; got {purpose!r}")


_FILE_ID = re.compile(r"[^/\s?#%\\]+")


def check_file_id(file_id: object) -> str:
    """A file id must be a non-empty string that cannot escape its URL path segment."""
    if not isinstance(file_id, str) or not file_id:
        raise ValueError(f"file_id must be a non-empty string, got {file_id!r}")
    if not _FILE_ID.fullmatch(file_id) or file_id in (".", ".."):
        raise ValueError(
            f"file_id must not contain '/', '\\', '?', '#', '%' or whitespace, got {file_id!r}"
        )
    return file_id


def list_request(
    *,
    purpose: Purpose | None = None,
    limit: int | None = None,
    after: str | None = None,
    before: str | None = None,
) -> Request:
    """Build ``GET files`` with only the parameters that are set (at most one cursor)."""
    params: list[tuple[str, str]] = []
    if purpose is not None:
        params.append(("purpose", purpose.value))
    if limit is not None:
        params.append(("limit", str(limit)))
    if after is not None:
        params.append(("after", after))
    elif before is not None:
        params.append(("before", before))
    return Request(method="GET", path="files", params=tuple(params))


# --- response deciphering ---------------------------------------------------------------------


def _snippet(body: bytes) -> str:
    return body[:_BODY_SNIPPET].decode("utf-8", "replace")


def response_request_id(response: Response, body: Any = None) -> str | None:
    """The server's request id (header, then error body), else the one we sent."""
    server = get_header(response.headers, "x-request-id")
    if server:
        return server
    if isinstance(body, dict) and isinstance(body.get("request_id"), str):
        return str(body["request_id"])
    return response.request_id


def error_from_response(response: Response) -> APIError:
    """Map an error response to its ``APIError`` subclass, whatever the body looks like."""
    status = response.status
    try:
        body: Any = _convert.loads(response.body) if response.body else None
    except ValueError:
        body = _snippet(response.body)
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = body if isinstance(body, dict) else {}
    message = error.get("message")
    if not isinstance(message, str) or not message:
        message = error.get("error") if isinstance(error.get("error"), str) else None
    if not message:
        try:
            phrase = http.HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        detail = " (the body was not JSON)" if isinstance(body, str) else ""
        detail = " (empty body)" if body is None else detail
        message = f"{phrase}{detail}"
    kind = error.get("type") if isinstance(error.get("type"), str) else None
    if kind == "error":  # a flat envelope whose "type" is the envelope marker
        kind = None
    param = error.get("param") if isinstance(error.get("param"), str) else None
    kwargs: dict[str, Any] = {
        "status_code": status,
        "type": kind,
        "param": param,
        "request_id": response_request_id(response, body),
        "body": body,
    }
    cls = error_class_for_status(status)
    if cls is RateLimitError:
        return RateLimitError(message, retry_after=parse_retry_after(response.headers), **kwargs)
    if cls is FeatureNotAvailableError:
        return FeatureNotAvailableError(
            message,
            feature=error.get("feature"),
            available_from=error.get("available_from"),
            **kwargs,
        )
    return cls(message, **kwargs)


def decode_json(response: Response) -> Any:
    """Decode a success body as JSON, or raise ``InvalidResponseError``."""
    try:
        return _convert.loads(response.body)
    except ValueError as exc:
        raise InvalidResponseError(
            f"the server sent a {response.status} response whose body is not JSON ({exc})",
            status_code=response.status,
            request_id=response_request_id(response),
            body=_snippet(response.body),
        ) from None


def _decipher(response: Response, build: Callable[[Any, str | None], T], what: str) -> T:
    if response.status >= 400:
        raise error_from_response(response)
    payload = decode_json(response)
    request_id = response_request_id(response)
    try:
        return build(payload, request_id)
    except (KeyError, TypeError, ValueError) as exc:
        reason = exc.args[0] if exc.args else type(exc).__name__
        raise InvalidResponseError(
            f"the server sent a {what} that does not match the documented shape: {reason}",
            status_code=response.status,
            request_id=request_id,
            body=_snippet(response.body),
        ) from None


def decipher_page(response: Response) -> Page[File]:
    """Read a list response into a ``Page[File]``."""
    return _decipher(response, _convert.structure_page, "list response")


def decipher_file(response: Response) -> File:
    """Read a single-file response into a ``File``."""
    return _decipher(response, lambda obj, _: _convert.structure_file(obj), "file object")


def decipher_download_link(response: Response) -> DownloadLink:
    """Read a download link from a 302 (``Location`` + JSON body) or a 200 JSON response."""
    if response.status in (301, 302, 303, 307, 308):
        location = get_header(response.headers, "Location")
        try:
            payload = _convert.loads(response.body) if response.body else {}
        except ValueError:
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        if location and not payload.get("url"):
            payload = {**payload, "url": location}
        return _decipher(
            attrs.evolve(response, status=200, body=_convert.dumps(payload).encode()),
            lambda obj, _: _convert.structure_download_link(obj),
            "download link",
        )
    return _decipher(
        response, lambda obj, _: _convert.structure_download_link(obj), "download link"
    )


def decipher_delete(response: Response) -> None:
    """A delete succeeds with 204 (empty) or 200 ``{id, type: "file_deleted"}``."""
    if response.status >= 400:
        raise error_from_response(response)


# --- client configuration ---------------------------------------------------------------------

DEFAULT_BASE_URL = "https://openapi.qoder.sh/api/v1/cloud"
_LOOPBACK_HOSTS = frozenset({"localhost", "::1", "[::1]"})


def check_base_url(base_url: object) -> str:
    """An ``https`` URL, or ``http`` to a loopback host; returned without a trailing slash."""
    if not isinstance(base_url, str) or not base_url.strip():
        raise ValueError(f"base_url must be a non-empty URL string, got {base_url!r}")
    parts = urlsplit(base_url.strip())
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError(f"base_url must be an http(s) URL with a host, got {base_url!r}")
    loopback = host in _LOOPBACK_HOSTS or host.startswith("127.")
    if parts.scheme == "http" and not loopback:
        raise ValueError(
            f"base_url must use https (plain http is allowed only to a loopback host), "
            f"got {base_url!r}"
        )
    return base_url.strip().rstrip("/")


def mask_token(token: str) -> str:
    """Show a token as ``pt-…abcd``: enough to tell tokens apart, never enough to use one."""
    prefix = token[:3] if token.startswith("pt-") else ""
    return f"{prefix}…{token[-4:]}" if len(token) >= 16 else f"{prefix}…"


# --- one file ---------------------------------------------------------------------------------

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")


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
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    return chunk_size


def file_request(file_id: str) -> Request:
    """Build ``GET files/{file_id}``."""
    return Request(method="GET", path=f"files/{check_file_id(file_id)}")


def content_request(file_id: str) -> Request:
    """Build ``GET files/{file_id}/content``, which answers with a download link."""
    return Request(method="GET", path=f"files/{check_file_id(file_id)}/content")


def delete_request(file_id: str, *, idempotency_key: str) -> Request:
    """Build ``DELETE files/{file_id}``, retry-safe through its idempotency key."""
    return Request(
        method="DELETE",
        path=f"files/{check_file_id(file_id)}",
        idempotency_key=check_idempotency_key(idempotency_key),
    )


def upload_request(
    body: Any,
    *,
    filename: str,
    content_type: str,
    purpose: Purpose | None,
    metadata: str | None,
    idempotency_key: str,
) -> Request:
    """Build the multipart ``POST files``: ``file``, then ``purpose`` and ``metadata`` if set.

    ``body`` is the file's content (bytes, or a binary stream the transport rewinds for a
    retry); ``metadata`` is the JSON text from ``check_metadata``, sent as a plain form value.
    """
    fields = [FormField(name="file", value=body, filename=filename, content_type=content_type)]
    if purpose is not None:
        fields.append(FormField(name="purpose", value=purpose.value))
    if metadata is not None:
        fields.append(FormField(name="metadata", value=metadata))
    return Request(
        method="POST",
        path="files",
        form=tuple(fields),
        idempotency_key=check_idempotency_key(idempotency_key),
    )


def presigned_request(url: str) -> Request:
    """Build the ``GET`` of a presigned URL (the transport sends it without credentials)."""
    return Request(method="GET", url=url)


def presigned_redirect(response: Response, request: Request) -> Request | None:
    """The next presigned request when storage answered with a redirect, else ``None``.

    Following is safe here, unlike on the API, because presigned requests carry no token.
    """
    if response.status not in _REDIRECT_STATUSES:
        return None
    location = get_header(response.headers, "Location")
    if not location:
        return None
    return presigned_request(urljoin(request.url or "", location))


def link_expired(link: DownloadLink, now: datetime) -> bool:
    """Whether a link's ``expires_at`` is already past (a link without one never expires)."""
    return link.expires_at is not None and link.expires_at <= now


def is_expired_link_response(response: Response) -> bool:
    """Whether storage refused a presigned URL because it expired.

    Storage services answer 403 (or 400) with an XML or text body that says so ("Request has
    expired", ``ExpiredToken``...), so this looks for "expired" in the body of those statuses.
    """
    return response.status in (400, 403) and b"expired" in response.body.lower()


_STORAGE_FIELD = re.compile(rb"<(Code|Message)>([^<]*)</\1>")


def storage_error(response: Response) -> APIError:
    """Map an error from object storage, reading its XML ``<Code>`` and ``<Message>``.

    Storage services (S3, OSS, GCS) answer in XML, not in the API's JSON envelope; without
    those fields this is ``error_from_response``.
    """
    error = error_from_response(response)
    fields = {
        match.group(1).decode(): match.group(2).decode("utf-8", "replace").strip()
        for match in _STORAGE_FIELD.finditer(response.body[: _BODY_SNIPPET * 8])
    }
    code, detail = fields.get("Code") or None, fields.get("Message") or None
    if code is None and detail is None:
        return error
    message = f"storage refused the download: {detail or code}"
    kwargs: dict[str, Any] = {
        "status_code": error.status_code,
        "type": code,
        "request_id": error.request_id,
        "body": error.body,
    }
    if isinstance(error, RateLimitError):
        return RateLimitError(message, retry_after=error.retry_after, **kwargs)
    return type(error)(message, **kwargs)
