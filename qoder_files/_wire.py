"""The sans-I/O protocol layer: check arguments, build requests, decipher responses.

Everything that affects what goes on the wire or how a response is read lives here (and, for
the one-file calls and presigned downloads, in ``_wire_files``), as plain functions over
``Request`` and ``Response`` values. Nothing here awaits, sleeps, opens a socket, or imports
asyncio or aiohttp; the transport carries these values, nothing more.

Invariants:
- arguments are checked (by ``_checks``, where every argument check lives) before a
  ``Request`` exists; the checks the client calls through this module are re-exported here;
- every ``decipher_*`` function turns an error status into the matching ``APIError`` and a
  2xx body it cannot read into ``InvalidResponseError``; nothing else escapes.
"""

from __future__ import annotations

import http
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import attrs

from . import _convert
from ._checks import is_loopback_host
from ._retry import parse_retry_after
from .errors import (
    APIError,
    FeatureNotAvailableError,
    InvalidResponseError,
    RateLimitError,
    RedirectError,
    error_class_for_status,
)
from .models import DownloadLink, File, Page, Purpose

__all__ = [
    "DEFAULT_BASE_URL",
    "REDIRECT_STATUSES",
    "FormField",
    "Request",
    "Response",
    "check_presigned_url",
    "check_status",
    "decipher",
    "decipher_delete",
    "decipher_download_link",
    "decipher_file",
    "decipher_page",
    "decipher_upload",
    "decode_json",
    "error_from_response",
    "get_header",
    "list_request",
    "mask_token",
    "parse_retry_after",
    "redirect_error",
    "response_request_id",
]

T = TypeVar("T")

_BODY_SNIPPET = 500
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


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


def list_request(
    *,
    purpose: Purpose | None = None,
    limit: int | None = None,
    after: str | None = None,
    before: str | None = None,
    page: str | None = None,
    name: str | None = None,
    scope_id: str | None = None,
) -> Request:
    """Build ``GET files`` with only the parameters that are set (at most one cursor).

    ``page`` is the opaque forward cursor of newer servers (the previous ``next_page``).
    """
    params: list[tuple[str, str]] = []
    if purpose is not None:
        params.append(("purpose", purpose.value))
    if name is not None:
        params.append(("name", name))
    if scope_id is not None:
        params.append(("scope_id", scope_id))
    if limit is not None:
        params.append(("limit", str(limit)))
    if page is not None:
        params.append(("page", page))
    elif after is not None:
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


def redirect_error(response: Response) -> RedirectError:
    """A 3xx answer to an API call: never followed (it would carry the token elsewhere)."""
    location = get_header(response.headers, "Location")
    where = f" to {location}" if location else " without a Location"
    return RedirectError(
        f"the API answered with a redirect{where}, which API calls never follow",
        status_code=response.status,
        location=location,
        request_id=response_request_id(response),
    )


def check_status(response: Response, success: frozenset[int], what: str) -> None:
    """Raise unless ``response.status`` is one of the statuses that mean success for a verb.

    An error status maps to its ``APIError``, a redirect to ``RedirectError``, and any other
    status (an unexpected 2xx) to ``InvalidResponseError``.
    """
    status = response.status
    if status in success:
        return
    if status >= 400:
        raise error_from_response(response)
    if 300 <= status < 400:
        raise redirect_error(response)
    raise InvalidResponseError(
        f"the server answered a {what} request with status {status}, which it never sends "
        "for success",
        status_code=status,
        request_id=response_request_id(response),
        body=_snippet(response.body),
    )


_OK = frozenset({200})
_UPLOADED = frozenset({200, 201})
_DELETED = frozenset({200, 202, 204})


def decipher(
    response: Response,
    build: Callable[[Any, str | None], T],
    what: str,
    success: frozenset[int] = _OK,
) -> T:
    check_status(response, success, what)
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
    return decipher(response, _convert.structure_page, "list response")


def decipher_file(response: Response) -> File:
    """Read a single-file response (200) into a ``File``."""
    return decipher(response, lambda obj, _: _convert.structure_file(obj), "file object")


def decipher_upload(response: Response) -> File:
    """Read an upload's answer (201, or 200 from newer servers) into a ``File``."""
    return decipher(response, lambda obj, _: _convert.structure_file(obj), "file object", _UPLOADED)


def decipher_download_link(response: Response) -> DownloadLink:
    """Read a download link from a 302 (``Location`` + JSON body) or a 200 JSON response."""
    if response.status in REDIRECT_STATUSES:
        location = get_header(response.headers, "Location")
        try:
            payload = _convert.loads(response.body) if response.body else {}
        except ValueError:
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        if location and not payload.get("url"):
            payload = {**payload, "url": location}
        response = attrs.evolve(response, status=200, body=_convert.dumps(payload).encode())
    link = decipher(response, lambda obj, _: _convert.structure_download_link(obj), "download link")
    check_presigned_url(link.url, response)
    return link


def decipher_delete(response: Response) -> None:
    """A delete succeeds with 204 (empty), 202, or 200 (``{id, type: "file_deleted"}``)."""
    check_status(response, _DELETED, "delete")


def _without_secrets(url: str) -> str:
    """``url`` without its query, fragment and credentials (a presigned URL's signature)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(an unreadable URL)"
    return urlunsplit((parts.scheme, host + port, parts.path, "", "")) or "(an empty URL)"


def check_presigned_url(url: str, response: Response) -> None:
    """Refuse a download link that is not ``https`` (or ``http`` to loopback) with a host.

    Raises:
        InvalidResponseError: the link would send the content in clear text, or is not an
            absolute URL; the message shows the link without its query (the signature).
    """
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        parts, host = None, ""
    if (
        parts is not None
        and host
        and (parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(host)))
    ):
        return
    raise InvalidResponseError(
        "the server sent a download link that is not an https URL with a host "
        f"(plain http only to loopback): {_without_secrets(url)}",
        status_code=response.status,
        request_id=response_request_id(response),
    )


# --- client configuration ---------------------------------------------------------------------

DEFAULT_BASE_URL = "https://openapi.qoder.sh/api/v1/cloud"


def mask_token(token: str) -> str:
    """Show a token as ``pt-…abcd``: enough to tell tokens apart, never enough to use one."""
    prefix = token[:3] if token.startswith("pt-") else ""
    return f"{prefix}…{token[-4:]}" if len(token) >= 16 else f"{prefix}…"
