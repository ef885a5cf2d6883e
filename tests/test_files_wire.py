"""The pure side of one-file calls: request builders and presigned-link helpers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from qoder_files import DownloadLink, Purpose
from qoder_files._wire import Response, decipher_delete, decipher_download_link
from qoder_files._wire_files import (
    content_request,
    delete_request,
    file_request,
    is_expired_link_response,
    link_expired,
    presigned_redirect,
    presigned_request,
    storage_error,
    upload_request,
)
from qoder_files.errors import (
    APIError,
    InternalServerError,
    InvalidResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)

FILE_ID = "file_019e3bb8c1387743bf4ef115aae5acb1"
KEY = "4f9c2d2e-7f0e-4c43-9d43-2a1f8f3f5a11"


def response(status: int, body: bytes = b"", **headers: str) -> Response:
    return Response(status=status, headers=headers, body=body)


# --- builders -----------------------------------------------------------------------------------


def test_one_file_requests() -> None:
    get = file_request(FILE_ID)
    assert (get.method, get.path, get.retry_safe) == ("GET", f"files/{FILE_ID}", True)
    content = content_request(FILE_ID)
    assert (content.method, content.path) == ("GET", f"files/{FILE_ID}/content")
    delete = delete_request(FILE_ID, idempotency_key=KEY)
    assert (delete.method, delete.path, delete.idempotency_key) == (
        "DELETE",
        f"files/{FILE_ID}",
        KEY,
    )
    assert delete.retry_safe


@pytest.mark.parametrize("bad", ["../x", "a/b", "x y", "", ".", "..", "a?b", "a#b", "a%2F"])
def test_builders_refuse_ids_that_leave_their_path_segment(bad: str) -> None:
    for build in (file_request, content_request):
        with pytest.raises(ValueError, match="file_id"):
            build(bad)
    with pytest.raises(ValueError, match="file_id"):
        delete_request(bad, idempotency_key=KEY)


def test_upload_request_sends_only_the_fields_that_are_set() -> None:
    bare = upload_request(
        b"abc",
        filename="a.txt",
        content_type="text/plain",
        purpose=None,
        metadata=None,
        idempotency_key=KEY,
    )
    assert (bare.method, bare.path, bare.idempotency_key) == ("POST", "files", KEY)
    assert bare.retry_safe
    assert bare.form is not None
    (part,) = bare.form
    assert (part.name, part.value, part.filename, part.content_type) == (
        "file",
        b"abc",
        "a.txt",
        "text/plain",
    )
    full = upload_request(
        b"abc",
        filename="a.md",
        content_type="text/markdown",
        purpose=Purpose.TOOL_OUTPUT,
        metadata='{"project":"demo"}',
        idempotency_key=KEY,
    )
    assert full.form is not None
    assert [(f.name, f.value) for f in full.form[1:]] == [
        ("purpose", "tool_output"),
        ("metadata", '{"project":"demo"}'),
    ]
    assert json.loads(full.form[2].value) == {"project": "demo"}


def test_presigned_request_leaves_the_api() -> None:
    request = presigned_request("https://storage.example/files/x?sig=1")
    assert (request.method, request.url, request.path) == (
        "GET",
        "https://storage.example/files/x?sig=1",
        "",
    )
    assert request.idempotency_key is None


def test_presigned_redirect() -> None:
    current = presigned_request("https://storage.example/a/b?sig=1")
    moved = presigned_redirect(response(307, Location="https://eu.storage.example/b"), current)
    assert moved is not None
    assert moved.url == "https://eu.storage.example/b"
    relative = presigned_redirect(response(302, location="/c?sig=2"), current)
    assert relative is not None
    assert relative.url == "https://storage.example/c?sig=2"
    assert presigned_redirect(response(302), current) is None  # no Location
    assert presigned_redirect(response(403), current) is None


# --- links --------------------------------------------------------------------------------------


def test_link_expired() -> None:
    now = datetime(2026, 5, 18, 16, 0, tzinfo=UTC)
    assert not link_expired(DownloadLink(url="u"), now)
    assert not link_expired(DownloadLink(url="u", expires_at=now + timedelta(seconds=1)), now)
    assert link_expired(DownloadLink(url="u", expires_at=now), now)
    assert link_expired(DownloadLink(url="u", expires_at=now - timedelta(hours=1)), now)


@pytest.mark.parametrize(
    ("status", "body", "expired"),
    [
        (
            403,
            b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
            True,
        ),
        (400, b"<Error><Code>ExpiredToken</Code><Message>Token EXPIRED.</Message></Error>", True),
        (403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>", False),
        (404, b"<Error><Message>Request has expired</Message></Error>", False),
        (500, b"expired", False),
    ],
)
def test_is_expired_link_response(status: int, body: bytes, expired: bool) -> None:
    assert is_expired_link_response(response(status, body)) is expired


def test_decipher_download_link_both_generations() -> None:
    body = b'{"expires_at":"2026-05-18T16:34:52Z","url":"https://storage.example/files/x"}'
    g1 = decipher_download_link(response(302, body, Location="https://storage.example/files/x"))
    g3 = decipher_download_link(response(200, body))
    assert (
        g1
        == g3
        == DownloadLink(
            url="https://storage.example/files/x",
            expires_at=datetime(2026, 5, 18, 16, 34, 52, tzinfo=UTC),
        )
    )
    only_location = decipher_download_link(response(302, Location="https://s.example/y"))
    assert only_location == DownloadLink(url="https://s.example/y")
    not_json = decipher_download_link(response(302, b"<html>", Location="https://s.example/z"))
    assert not_json.url == "https://s.example/z"
    with pytest.raises(InvalidResponseError):
        decipher_download_link(response(302))
    with pytest.raises(PermissionDeniedError):
        decipher_download_link(
            response(403, b'{"type":"error","error":{"type":"permission_error","message":"no"}}')
        )


def test_decipher_delete_accepts_both_generations() -> None:
    decipher_delete(response(204))
    decipher_delete(response(200, b'{"id":"file_x","type":"file_deleted"}'))
    with pytest.raises(NotFoundError):
        decipher_delete(response(404, b'{"type":"error","error":{"type":"not_found_error"}}'))


def test_storage_error_reads_the_xml_code_and_message() -> None:
    xml = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
        b"<Message>Request has expired.</Message><RequestId>abc</RequestId></Error>"
    )
    error = storage_error(Response(status=403, headers={}, body=xml, request_id="ours"))
    assert isinstance(error, PermissionDeniedError)
    assert (error.type, error.message, error.request_id) == (
        "AccessDenied",
        "storage refused the download: Request has expired.",
        "ours",
    )
    code_only = storage_error(response(500, b"<Error><Code>InternalError</Code></Error>"))
    assert isinstance(code_only, InternalServerError)
    assert code_only.message == "storage refused the download: InternalError"


def test_storage_error_keeps_retry_after_and_falls_back() -> None:
    slow = storage_error(
        response(429, b"<Error><Code>SlowDown</Code></Error>", **{"Retry-After": "7"})
    )
    assert isinstance(slow, RateLimitError)
    assert slow.retry_after == 7
    plain = storage_error(response(418, b"I'm a teapot"))
    assert type(plain) is APIError
    assert plain.status_code == 418
    assert plain.type is None
