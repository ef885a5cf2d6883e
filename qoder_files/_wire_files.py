"""The pure side of one-file calls: their request builders and presigned-link helpers.

Owns what ``get_file``, ``upload_file``, ``get_download_url``, ``download_file`` and
``delete_file`` put on the wire (the paths built from ids, the multipart body)
and the presigned download's side of the protocol: its request, the redirects it may follow,
when a link has expired, and how storage's XML errors read. Like ``_wire``, on which it
builds, it never awaits, opens a socket, or imports asyncio or aiohttp; reading API responses
(``decipher_*``) stays in ``_wire``, and their argument checks live in ``_checks``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urljoin

from ._checks import check_file_id, check_idempotency_key
from ._wire import (
    REDIRECT_STATUSES,
    FormField,
    Request,
    Response,
    check_presigned_url,
    error_from_response,
    get_header,
)
from .errors import APIError, RateLimitError
from .models import DownloadLink, Purpose

__all__ = [
    "content_headers",
    "content_request",
    "delete_request",
    "disposition_filename",
    "file_request",
    "is_expired_link_response",
    "link_expired",
    "presigned_redirect",
    "presigned_request",
    "storage_error",
    "upload_request",
]

# ``filename*=UTF-8''<percent-encoded>`` (RFC 6266 / 8187) wins over a plain ``filename=``.
_EXTENDED_NAME = re.compile(r"""filename\*\s*=\s*([\w!#$&+.^`|~-]+)'[^']*'([^;\s]+)""", re.I)
_PLAIN_NAME = re.compile(r"""(?:^|;)\s*filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))""", re.I)
_STORAGE_FIELD = re.compile(rb"<(Code|Message)>([^<]*)</\1>")
_STORAGE_SCAN_BYTES = 4000  # storage error documents are short; never scan a whole body


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
    name: str | None = None,
) -> Request:
    """Build the multipart ``POST files``: ``file``, then ``purpose`` and ``metadata`` if set.

    ``body`` is the file's content (bytes, or a binary stream the transport rewinds for a
    retry); ``metadata`` is the JSON text from ``check_metadata``, sent as a plain form value.
    """
    fields = [FormField(name="file", value=body, filename=filename, content_type=content_type)]
    if purpose is not None:
        fields.append(FormField(name="purpose", value=purpose.value))
    if name is not None:
        fields.append(FormField(name="name", value=name))
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
    if response.status not in REDIRECT_STATUSES:
        return None
    location = get_header(response.headers, "Location")
    if not location:
        return None
    target = urljoin(request.url or "", location)
    check_presigned_url(target, response)
    return presigned_request(target)


def content_headers(headers: Mapping[str, str]) -> tuple[int | None, str | None, str | None]:
    """What storage's answer says of the content: size, media type and file name.

    The size is ``Content-Length`` unless the body is encoded (it is decoded on the way in,
    so the length on the wire is not the content's); the name comes from
    ``Content-Disposition``. Each is ``None`` when not given or not readable.
    """
    size: int | None = None
    length = get_header(headers, "Content-Length")
    if (
        length is not None
        and length.strip().isdigit()
        and not get_header(headers, "Content-Encoding")
    ):
        size = int(length)
    media = get_header(headers, "Content-Type") or None
    return size, media, disposition_filename(get_header(headers, "Content-Disposition") or "")


def disposition_filename(value: str) -> str | None:
    """The file name a ``Content-Disposition`` value gives, or ``None``."""
    extended = _EXTENDED_NAME.search(value)
    if extended is not None:
        charset = extended.group(1).lower()
        try:
            name = unquote(extended.group(2), encoding=charset, errors="strict")
        except (LookupError, UnicodeDecodeError):
            name = ""
        if name:
            return name
    plain = _PLAIN_NAME.search(value)
    if plain is None:
        return None
    if plain.group(1) is not None:
        return re.sub(r"\\(.)", r"\1", plain.group(1)) or None
    return plain.group(2)


def link_expired(link: DownloadLink, now: datetime) -> bool:
    """Whether a link's ``expires_at`` is already past (a link without one never expires)."""
    return link.expires_at is not None and link.expires_at <= now


def is_expired_link_response(response: Response) -> bool:
    """Whether storage refused a presigned URL because it expired.

    Storage services answer 403 (or 400) with an XML or text body that says so ("Request has
    expired", ``ExpiredToken``...), so this looks for "expired" in the body of those statuses.
    """
    return response.status in (400, 403) and b"expired" in response.body.lower()


def storage_error(response: Response) -> APIError:
    """Map an error from object storage, reading its XML ``<Code>`` and ``<Message>``.

    Storage services (S3, OSS, GCS) answer in XML, not in the API's JSON envelope; without
    those fields this is ``error_from_response``.
    """
    error = error_from_response(response)
    fields = {
        match.group(1).decode(): match.group(2).decode("utf-8", "replace").strip()
        for match in _STORAGE_FIELD.finditer(response.body[:_STORAGE_SCAN_BYTES])
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
