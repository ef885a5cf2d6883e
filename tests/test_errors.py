"""The error tree and its messages."""

from __future__ import annotations

import pytest

from qoder_files import errors
from qoder_files.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    InvalidResponseError,
    QoderError,
    error_class_for_status,
)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, errors.BadRequestError),
        (401, errors.AuthenticationError),
        (403, errors.PermissionDeniedError),
        (404, errors.NotFoundError),
        (409, errors.ConflictError),
        (410, errors.GoneError),
        (429, errors.RateLimitError),
        (500, errors.InternalServerError),
        (501, errors.FeatureNotAvailableError),
        (502, errors.InternalServerError),
        (503, errors.InternalServerError),
        (599, errors.InternalServerError),
        (418, APIError),
        (422, APIError),
    ],
)
def test_status_classes(status: int, cls: type[APIError]) -> None:
    assert error_class_for_status(status) is cls


def test_tree() -> None:
    assert issubclass(errors.GoneError, errors.NotFoundError)
    assert issubclass(APITimeoutError, APIConnectionError)
    for cls in (APIError, APIConnectionError, InvalidResponseError, errors.PaginationError):
        assert issubclass(cls, QoderError)


def test_messages_are_one_line_with_request_id() -> None:
    err = errors.NotFoundError(
        "File 'x' was not found.", status_code=404, type="not_found_error", request_id="r-1"
    )
    assert str(err) == "404 not_found_error: File 'x' was not found. (request id r-1)"
    assert "\n" not in str(err)
    assert str(APIError("Bad Gateway", status_code=502)) == "502: Bad Gateway"
    assert str(APIConnectionError("reset")) == "reset"
    assert str(APITimeoutError("slow", request_id="r")) == "slow (request id r)"
    bad = InvalidResponseError("not json", status_code=200, body="<html>")
    assert (bad.status_code, bad.body, bad.request_id) == (200, "<html>", None)


def test_rate_limit_and_feature_fields() -> None:
    rl = errors.RateLimitError("slow down", status_code=429, retry_after=1.5)
    assert rl.retry_after == 1.5
    fe = errors.FeatureNotAvailableError(
        "nope", status_code=501, feature="files", available_from="2027-01-01"
    )
    assert (fe.feature, fe.available_from) == ("files", "2027-01-01")
