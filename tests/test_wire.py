"""The sans-I/O layer: argument checks, request building, response deciphering."""

from __future__ import annotations

from typing import Any

import pytest

from qoder_files import (
    APIError,
    AuthenticationError,
    FeatureNotAvailableError,
    GoneError,
    InternalServerError,
    InvalidResponseError,
    NotFoundError,
    Purpose,
    RateLimitError,
)
from qoder_files._convert import dumps
from qoder_files._wire import (
    Request,
    Response,
    decipher_delete,
    decipher_download_link,
    decipher_file,
    decipher_page,
    error_from_response,
    get_header,
    list_request,
    mask_token,
)

FILE = {
    "created_at": "2026-05-18T15:33:44Z",
    "file_id": "file_019e3bb8c1387743bf4ef115aae5acb1",
    "filename": "a.txt",
    "metadata": {},
    "mime_type": "text/plain",
    "purpose": "session_resource",
    "size_bytes": 110,
    "status": "ready",
    "updated_at": "2026-05-18T15:33:44Z",
}


def response(
    status: int, body: Any = b"", headers: dict[str, str] | None = None, request_id: str = "ours"
) -> Response:
    raw = body if isinstance(body, bytes) else dumps(body).encode()
    return Response(status=status, headers=headers or {}, body=raw, request_id=request_id)


def test_list_request_sends_one_cursor() -> None:
    request = list_request(purpose=Purpose.USER_UPLOAD, limit=10, after="file_a")
    assert request == Request(
        method="GET",
        path="files",
        params=(("purpose", "user_upload"), ("limit", "10"), ("after", "file_a")),
    )
    assert list_request(before="file_b").params == (("before", "file_b"),)
    assert list_request().params == ()
    assert request.retry_safe
    assert not Request(method="POST").retry_safe
    assert Request(method="POST", idempotency_key="k").retry_safe


def test_get_header_is_case_insensitive() -> None:
    headers = {"X-Request-Id": "abc"}
    assert get_header(headers, "x-request-id") == "abc"
    assert get_header(headers, "X-Request-Id") == "abc"
    assert get_header(headers, "missing") is None


def test_documented_error_envelope() -> None:
    body = {
        "type": "error",
        "error": {
            "type": "not_found_error",
            "message": "File 'file_nonexistent123' was not found.",
            "param": "file_id",
        },
    }
    err = error_from_response(response(404, body, {"x-request-id": "srv-1"}))
    assert isinstance(err, NotFoundError)
    assert err.status_code == 404
    assert err.type == "not_found_error"
    assert err.message == "File 'file_nonexistent123' was not found."
    assert err.param == "file_id"
    assert err.request_id == "srv-1"
    assert err.body == body


def test_request_id_from_body_then_ours() -> None:
    body = {"type": "error", "error": {"type": "api_error", "message": "x"}, "request_id": "b-1"}
    assert error_from_response(response(500, body)).request_id == "b-1"
    assert error_from_response(response(500, {"error": {"message": "m"}})).request_id == "ours"


def test_error_without_type_and_flat_envelopes() -> None:
    err = error_from_response(response(401, {"error": {"message": "Invalid API key or token."}}))
    assert isinstance(err, AuthenticationError)
    assert err.type is None
    flat = error_from_response(response(400, {"type": "error", "message": "bad"}))
    assert (flat.type, flat.message) == (None, "bad")
    string_error = error_from_response(response(400, {"error": "nope"}))
    assert string_error.message == "nope"


@pytest.mark.parametrize(
    ("status", "body", "cls", "fragment"),
    [
        (502, b"<html><h1>502 Bad Gateway</h1></html>", InternalServerError, "not JSON"),
        (503, b"", InternalServerError, "empty body"),
        (410, b"gone", GoneError, "Gone"),
        (599, b"", InternalServerError, "Error"),
        (404, b"[1, 2]", NotFoundError, "Not Found"),
    ],
)
def test_non_json_errors_map_by_status(
    status: int, body: bytes, cls: type[APIError], fragment: str
) -> None:
    err = error_from_response(response(status, body))
    assert type(err) is cls
    assert fragment in err.message
    assert err.status_code == status


def test_rate_limit_and_feature_errors() -> None:
    err = error_from_response(
        response(429, {"error": {"type": "rate_limit_error", "message": "x"}}, {"Retry-After": "2"})
    )
    assert isinstance(err, RateLimitError)
    assert err.retry_after == 2.0
    feature = error_from_response(
        response(
            501,
            {
                "type": "error",
                "error": {
                    "type": "feature_not_available",
                    "message": "Not yet.",
                    "feature": "files",
                    "available_from": "2027-01-01",
                },
            },
        )
    )
    assert isinstance(feature, FeatureNotAvailableError)
    assert (feature.feature, feature.available_from) == ("files", "2027-01-01")


def test_decipher_page() -> None:
    page = decipher_page(
        response(
            200,
            {"data": [FILE], "first_id": FILE["file_id"], "has_more": False, "last_id": "x"},
            {"x-request-id": "srv"},
        )
    )
    assert page.data[0].file_id == FILE["file_id"]
    assert page.request_id == "srv"
    assert decipher_page(response(200, {"data": []})).request_id == "ours"


@pytest.mark.parametrize(
    "body", [b"<html>proxy</html>", b'{"data": [', b"[]", b'{"data": [{"file_id": 1}]}']
)
def test_undecodable_success_raises_invalid_response(body: bytes) -> None:
    with pytest.raises(InvalidResponseError) as info:
        decipher_page(response(200, body))
    assert info.value.status_code == 200
    assert info.value.request_id == "ours"
    assert "\n" not in str(info.value)


def test_decipher_page_raises_for_error_status() -> None:
    with pytest.raises(AuthenticationError):
        decipher_page(response(401, {"error": {"type": "authentication_error", "message": "x"}}))


def test_decipher_file() -> None:
    assert decipher_file(response(200, FILE)).filename == "a.txt"
    with pytest.raises(NotFoundError):
        decipher_file(response(404, b""))


def test_download_link_generations() -> None:
    body = {"expires_at": "2026-05-18T16:34:52Z", "url": "https://storage/x"}
    g1 = decipher_download_link(response(302, body, {"Location": "https://storage/x"}))
    assert g1.url == "https://storage/x"
    assert g1.expires_at is not None
    only_location = decipher_download_link(response(302, b"", {"Location": "https://s/y"}))
    assert (only_location.url, only_location.expires_at) == ("https://s/y", None)
    html_body = decipher_download_link(response(302, b"<a>moved</a>", {"Location": "https://s/z"}))
    assert html_body.url == "https://s/z"
    list_body = decipher_download_link(response(302, b"[]", {"Location": "https://s/w"}))
    assert list_body.url == "https://s/w"
    g3 = decipher_download_link(response(200, body))
    assert g3 == g1
    with pytest.raises(InvalidResponseError):
        decipher_download_link(response(302, b""))
    with pytest.raises(InvalidResponseError):
        decipher_download_link(response(200, {"expires_at": None}))


def test_decipher_delete() -> None:
    decipher_delete(response(204))
    decipher_delete(response(200, {"id": "file_1", "type": "file_deleted"}))
    with pytest.raises(NotFoundError):
        decipher_delete(response(404, b""))


def test_mask_token() -> None:
    assert mask_token("pt-0123456789abcdef") == "pt-…cdef"
    assert mask_token("pt-short") == "pt-…"
    assert mask_token("secretsecretsecret") == "…cret"
