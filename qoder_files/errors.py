"""The one exception tree of ``qoder_files``.

Every error the SDK raises on purpose derives from ``QoderError``; no aiohttp or cattrs
exception escapes a public call. Bad arguments are the exception: they raise ``ValueError``
(naming the argument) before any request is sent.

```
QoderError
├── APIError              status_code, type, message, param, request_id, body
│   ├── RedirectError             3xx, never followed (location)
│   ├── BadRequestError           400
│   ├── AuthenticationError       401
│   ├── PermissionDeniedError     403
│   ├── NotFoundError             404
│   │   └── GoneError             410
│   ├── ConflictError             409
│   ├── RateLimitError            429 (retry_after)
│   ├── InternalServerError       500 and 502-599
│   └── FeatureNotAvailableError  501 (feature, available_from)
├── APIConnectionError    network failure, reset, DNS, a body cut off mid-read
│   ├── APITimeoutError
│   └── TransferInterruptedError  a stream cut off after bytes were handed out, or an
│                                 upload from a one-pass source cut off after it started
├── InvalidResponseError  a complete 2xx body that is not the documented JSON, a body
│                         over the size limit, an unexpected success status, an unsafe link
├── PaginationError       a repeated cursor, has_more without a cursor, endless empty pages
└── ClientClosedError     the client was closed while a call or listing was under way
                          (also a ``RuntimeError``)
```

Messages are one readable line and end with the request id when there is one. This module is
pure: it never does I/O and never sees the token.
"""

from __future__ import annotations

from typing import Any

from ._public import publish

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConflictError",
    "FeatureNotAvailableError",
    "GoneError",
    "InternalServerError",
    "InvalidResponseError",
    "NotFoundError",
    "PaginationError",
    "PermissionDeniedError",
    "QoderError",
    "RateLimitError",
    "RedirectError",
    "TransferInterruptedError",
    "error_class_for_status",
]


def _with_request_id(message: str, request_id: str | None) -> str:
    return f"{message} (request id {request_id})" if request_id else message


class QoderError(Exception):
    """Base class of every error raised by ``qoder_files``."""


class APIError(QoderError):
    """The server answered with an error status.

    Attributes:
        status_code: The HTTP status.
        type: The error type from the body (``not_found_error``...), or ``None``.
        message: The human-readable message from the body, or a status summary.
        param: The offending parameter, when the server names one.
        request_id: The server's request id, or the one this SDK sent.
        body: The decoded JSON body, or the raw text when it was not JSON.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        type: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
        body: Any = None,
    ) -> None:
        self.message = message
        self.status_code = status_code
        self.type = type
        self.param = param
        self.request_id = request_id
        self.body = body
        kind = f" {type}" if type else ""
        super().__init__(_with_request_id(f"{status_code}{kind}: {message}", request_id))


class RedirectError(APIError):
    """3xx: the API answered with a redirect. API calls never follow one: it would carry the
    token to wherever it points.

    Attributes:
        location: The ``Location`` header, or ``None`` when there was none.
    """

    def __init__(self, message: str, *, location: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.location = location


class BadRequestError(APIError):
    """400: the request was malformed or a parameter was invalid."""


class AuthenticationError(APIError):
    """401: the token is missing, malformed or not valid."""


class PermissionDeniedError(APIError):
    """403: the token is valid but may not do this (e.g. download an internal file)."""


class NotFoundError(APIError):
    """404: no such file."""


class GoneError(NotFoundError):
    """410: the file existed but was deleted."""


class ConflictError(APIError):
    """409: the file is not ready, still referenced, or an idempotency key was reused."""


class RateLimitError(APIError):
    """429: too many requests.

    Attributes:
        retry_after: Seconds the server asked us to wait, or ``None``.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class InternalServerError(APIError):
    """500 or 502-599: the server or a gateway failed."""


class FeatureNotAvailableError(APIError):
    """501: the feature is not available (yet) for this account.

    Attributes:
        feature: The feature's name, when sent.
        available_from: When it becomes available, when sent.
    """

    def __init__(
        self,
        message: str,
        *,
        feature: str | None = None,
        available_from: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.feature = feature
        self.available_from = available_from


class APIConnectionError(QoderError):
    """The request did not get a complete answer: refused, reset, DNS failure, cut-off body.

    Attributes:
        request_id: The request id this SDK sent.
    """

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        self.message = message
        self.request_id = request_id
        super().__init__(_with_request_id(message, request_id))


class APITimeoutError(APIConnectionError):
    """One attempt took longer than the configured timeout."""


class TransferInterruptedError(APIConnectionError):
    """A content transfer broke where starting over would be wrong, so it was not retried.

    Two cases: a stream (``stream_file``) cut off, stalled or past its deadline after some of
    its bytes were already handed out (the caller may have forwarded them; a second copy from
    the start would corrupt what the receiver sees), and an upload from a source that cannot
    be read again (an async iterator, a pipe) that failed after its first byte was taken (the
    server may or may not have stored it: look it up, or upload again with the same
    ``idempotency_key``, which a server that stored it answers with the original file).

    Attributes:
        transferred: Bytes handed out (a stream) or taken from the source (an upload) before
            the failure.
        timed_out: Whether the failure was a time limit (a stall or the deadline) rather than
            a broken connection.
        request_id: The request id this SDK sent.
    """

    def __init__(
        self,
        message: str,
        *,
        transferred: int,
        timed_out: bool = False,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, request_id=request_id)
        self.transferred = transferred
        self.timed_out = timed_out


class InvalidResponseError(QoderError):
    """A complete 2xx response whose body is not the documented JSON.

    Attributes:
        status_code: The HTTP status.
        request_id: The server's request id, or the one this SDK sent.
        body: The start of the raw body (at most 500 characters).
    """

    def __init__(
        self, message: str, *, status_code: int, request_id: str | None = None, body: str = ""
    ) -> None:
        self.message = message
        self.status_code = status_code
        self.request_id = request_id
        self.body = body
        super().__init__(_with_request_id(message, request_id))


class ClientClosedError(QoderError, RuntimeError):
    """The client was closed while this call or listing was under way.

    A listing cut off this way raises instead of ending as if it were complete; its pager's
    ``cursor`` is where a new listing can resume.
    """


class PaginationError(QoderError):
    """The server's cursors would make the listing loop or stop early.

    Raised when the server sends a cursor this walk already sent, or says ``has_more`` without
    giving a cursor to continue from. Nothing is silently dropped.
    """


_STATUS_CLASSES: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    410: GoneError,
    429: RateLimitError,
    500: InternalServerError,
    501: FeatureNotAvailableError,
}


def error_class_for_status(status: int) -> type[APIError]:
    """The ``APIError`` subclass for an HTTP status (``APIError`` itself when none fits)."""
    if status in _STATUS_CLASSES:
        return _STATUS_CLASSES[status]
    if 502 <= status <= 599:
        return InternalServerError
    return APIError


# Exported from ``qoder_files``: tracebacks, reprs, pickles and the reference show that path.
publish("qoder_files", globals(), [name for name in __all__ if name.endswith("Error")])
