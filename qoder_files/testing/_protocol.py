"""What every emulator route shares: the URL layout and the ways of saying no.

Owns ``API_PREFIX`` and the presigned download path, ``ApiError`` (raised by a handler and
turned into the API's JSON error envelope by ``FilesEmulator``), the error type for each status
the routing layer answers itself, the purpose check that more than one route makes, and object
storage's XML error. It holds no state and handles no request.
"""

from __future__ import annotations

from aiohttp import web

from ._store import PURPOSE_VALUES

__all__ = [
    "API_PREFIX",
    "DOWNLOAD_PREFIX",
    "ApiError",
    "check_purpose",
    "error_type_for",
    "storage_error",
]

API_PREFIX = "/api/v1/cloud"
DOWNLOAD_PREFIX = f"{API_PREFIX}/files/_download/"
"""Where presigned download links point (the stand-in for object storage)."""


class ApiError(Exception):
    """Raised inside handlers to answer with the documented error envelope."""

    def __init__(self, status: int, kind: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.param = param

    @classmethod
    def invalid(cls, message: str, param: str | None = None) -> ApiError:
        """A 400 ``invalid_request_error``, naming the field at fault when there is one."""
        return cls(400, "invalid_request_error", message, param)


_ERROR_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    410: "not_found_error",
    429: "rate_limit_error",
}


def error_type_for(status: int) -> str:
    """The documented error type for a status the routing layer answers with.

    A 405 (a method the route does not have) and any other 4xx without a type of its own is
    ``invalid_request_error``: the API documents no type for them, and that is the type it
    gives every request it cannot accept as sent. A 5xx is ``api_error``.
    """
    if status >= 500:
        return "api_error"
    return _ERROR_TYPES.get(status, "invalid_request_error")


def check_purpose(purpose: str) -> str:
    """``purpose`` if it is one of the documented values, else a 400 naming the field."""
    if purpose not in PURPOSE_VALUES:
        raise ApiError.invalid(
            f"Field 'purpose' must be one of {', '.join(PURPOSE_VALUES)}.", "purpose"
        )
    return purpose


def storage_error(status: int, code: str, message: str) -> web.Response:
    """An error as object storage words it: XML, not the API's JSON envelope."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return web.Response(status=status, text=body, content_type="application/xml")
